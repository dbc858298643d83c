"""edgeface.history: visits from recognitions and sightings, the SQLite file, retention, filters."""

from __future__ import annotations

import json
import time
from types import SimpleNamespace

import cv2
import numpy as np
import pytest

from edgeface.events import RecognitionEvent, Sighting
from edgeface.geometry import inside
from edgeface.history import EventQuery, History
from edgeface.history.cameras import CameraOptions, CameraSettingsError, CameraSettingsStore, parse_changes
from edgeface.history.store import decode_cursor
from edgeface.images import encode_jpeg
from edgeface.matcher import UNKNOWN

RNG = np.random.default_rng(7)


def frame(blur: bool = False) -> SimpleNamespace:
    """A camera frame: pixels (noise: sharp; flat: blurred) and no JPEG, as OpenCV sources give."""
    bgr = RNG.integers(0, 255, (120, 160, 3), dtype=np.uint8)
    if blur:
        bgr[:] = 128
    return SimpleNamespace(bgr=bgr, jpeg=None)


def event(camera: str, name: str, t: float, track: int = 1, *, embedding=None, distance: float = 0.4,
          blur: bool = False) -> RecognitionEvent:
    f = frame(blur)
    box = [20, 80, 80, 20]
    return RecognitionEvent(camera, name, distance, box, t, track=track, model_version="v1",
                            snapshot=encode_jpeg(f.bgr[20:80, 20:80].copy()), frame=f,
                            embedding=np.full(128, 0.0 if embedding is None else embedding, np.float32))


@pytest.fixture
def history(tmp_path):
    opened = []

    def make(**kwargs):
        h = History(tmp_path / "events", **kwargs).start()
        opened.append(h)
        return h

    yield make
    for h in opened:
        h.close()


def test_recognitions_become_visits_with_snapshots_that_survive_a_restart(history, tmp_path):
    h = history(gap_s=30)
    now = time.time()
    h.record(event("door", "Ada", now - 20, track=1, blur=True))
    h.record(event("door", "Ada", now - 10, track=2, distance=0.3))        # same visit: within the gap
    h.record(event("yard", "Ada", now - 9, track=1))                          # another camera: another visit
    h.record(event("door", "Bob", now - 100, track=3))                        # another person
    h.record(event("door", UNKNOWN, now - 5, track=4, embedding=0.0))
    h.record(event("door", UNKNOWN, now - 4, track=5, embedding=0.01))        # the same stranger again
    h.record(event("door", UNKNOWN, now - 3, track=6, embedding=1.0))         # someone else
    assert h.flush()
    visits = h.query(EventQuery(limit=100)).events
    assert [(v.camera, v.name, v.tracks) for v in visits] == [
        ("door", UNKNOWN, [6]), ("door", UNKNOWN, [4, 5]), ("yard", "Ada", [1]), ("door", "Ada", [1, 2]),
        ("door", "Bob", [3])]
    ada = visits[3]
    assert (ada.started_at, ada.last_seen, ada.best_distance) == (pytest.approx(now - 20), pytest.approx(now - 10),
                                                                  pytest.approx(0.3))
    face, whole = h.image(ada.id, "snapshot"), h.image(ada.id, "frame")
    assert face[:2] == b"\xff\xd8" and whole[:2] == b"\xff\xd8" and len(whole) > len(face)
    assert h.counts == {("door", True): 3, ("yard", True): 1, ("door", False): 3}
    h.close()
    reopened = History(tmp_path / "events")
    try:
        again = reopened.query(EventQuery(limit=100)).events
        assert [v.id for v in again] == [v.id for v in visits] and all(v.ended for v in again)
        assert reopened.image(ada.id, "snapshot") == face
    finally:
        reopened.close()


def test_the_sharpest_largest_face_is_the_snapshot_and_sightings_extend_the_visit(history):
    h = history(gap_s=30)
    now = time.time()
    h.record(event("door", "Ada", now - 5, track=1, blur=True))
    assert h.flush()
    visit = h.query(EventQuery()).events[0]
    blurred = h.image(visit.id, "snapshot")
    sharp = frame()
    h.seen([Sighting("door", 1, "Ada", 0.35, (10, 90, 90, 10), now - 1, sharp)])
    h.seen([Sighting("door", 1, "Bob", 0.2, (10, 90, 90, 10), now, sharp)])   # not this visit's name: ignored
    assert h.flush()
    after = h.get(visit.id)
    assert after.last_seen == pytest.approx(now - 1) and after.best_distance == pytest.approx(0.35)
    assert after.box == [10, 90, 90, 10] and h.image(visit.id, "snapshot") != blurred


def test_unknown_then_named_track_moves_its_visit_to_the_name(history):
    h = history(gap_s=30)
    now = time.time()
    h.record(event("door", UNKNOWN, now - 3, track=9))
    h.record(event("door", "Ada", now - 2, track=9))
    assert h.flush()
    visits = h.query(EventQuery()).events
    assert [(v.name, v.unknown, v.tracks) for v in visits] == [("Ada", False, [9])]


def test_visits_end_after_the_gap(history):
    ended = []
    h = history(gap_s=0.2)
    h.subscribe(lambda kind, visit: ended.append(visit.id) if kind == "end" else None)
    h.record(event("door", "Ada", time.time()))
    assert h.flush()
    deadline = time.time() + 5
    while not ended and time.time() < deadline:
        time.sleep(0.1)
    visit = h.query(EventQuery()).events[0]
    assert ended == [visit.id] and h.get(visit.id).ended


def test_filters_and_keyset_pagination(history):
    h = history(gap_s=0)
    base = time.time() - 1000
    for i in range(60):
        h.record(event("door" if i % 3 else "yard", UNKNOWN if i % 5 == 0 else f"P{i % 4}", base + i, track=i,
                       embedding=float(i)))
    assert h.flush()
    everything = h.query(EventQuery(limit=1000)).events
    assert len(everything) == 60
    expected = [v.id for v in everything if v.camera == "door" and not v.unknown and v.started_at >= base + 10]
    got, cursor = [], None
    while True:
        page = h.query(EventQuery(camera="door", unknown=False, since=base + 10, limit=7, cursor=cursor))
        got += [v.id for v in page.events]
        assert len(page.events) <= 7
        cursor = page.next_cursor
        if cursor is None:
            break
    assert got == expected and len(set(got)) == len(got)
    assert [v.name for v in h.query(EventQuery(name="P1", limit=100)).events] == ["P1"] * 12
    assert all(v.unknown for v in h.query(EventQuery(unknown=True, limit=100)).events)
    assert h.query(EventQuery(model_version="v2")).events == []
    assert h.query(EventQuery(until=base + 2, limit=100)).events[0].started_at == pytest.approx(base + 2)
    with pytest.raises(ValueError, match="not a cursor"):
        decode_cursor("bm90LWEtY3Vyc29y")


def test_retention_by_days_size_and_count(history, tmp_path):
    h = history(gap_s=0, retention_days=1, max_events=10, max_mb=1000)
    now = time.time()
    h.record(event("door", "Old", now - 3 * 86400, track=1))
    for i in range(15):
        h.record(event("door", f"P{i}", now - 100 + i, track=10 + i))
    assert h.flush()
    h.enforce_retention()
    names = [v.name for v in h.query(EventQuery(limit=100)).events]
    assert names == [f"P{i}" for i in range(14, 4, -1)]      # the old one and the 5 oldest went
    files = sorted(p.name for p in (tmp_path / "events" / "snapshots").rglob("*.jpg"))
    assert len(files) == 20                                   # face + frame of the 10 left
    h.max_bytes = h.size_bytes() // 2
    h.enforce_retention()
    assert h.size_bytes() <= h.max_bytes and 0 < len(h.query(EventQuery(limit=100)).events) < 10


def test_deleting_a_persons_history_removes_rows_and_files(history, tmp_path):
    h = history(gap_s=30)
    h.record(event("door", "Ada", time.time(), track=1))
    h.record(event("door", UNKNOWN, time.time(), track=2))
    assert h.flush()
    unknown = h.query(EventQuery(unknown=True)).events[0]
    h.label(unknown.id, "Ada", "admin")
    assert h.get(unknown.id).label == "Ada"
    assert h.delete_person("Ada") == 2
    assert h.query(EventQuery()).events == [] and not list((tmp_path / "events" / "snapshots").rglob("*.jpg"))


def test_a_broken_disk_costs_writes_not_the_writer(history, tmp_path):
    h = history(gap_s=30)
    snapshots = tmp_path / "events" / "snapshots"
    snapshots.write_text("not a folder")                       # every snapshot write now fails
    h.record(event("door", "Ada", time.time(), track=1))
    assert h.flush()
    assert h.write_errors == 1 and h.is_alive()
    snapshots.unlink()
    h.record(event("door", "Bob", time.time(), track=2))
    assert h.flush()
    assert [v.name for v in h.query(EventQuery()).events] == ["Bob"]


def test_camera_settings_are_checked_and_persisted(history):
    h = history()
    store = CameraSettingsStore(h.engine)
    assert store.own("door") == CameraOptions()
    changes = parse_changes({"name": " Front door ", "min_face_px": 40, "zone": [[0, 0], [1, 0], [0, 1]]})
    store.change("door", changes)
    store.change("door", parse_changes({"recognition": False}))
    assert store.own("door") == CameraOptions(name="Front door", recognition=False, min_face_px=40,
                                              zone=[[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    for bad, words in (({"zone": [[0, 0], [2, 0], [0, 1]]}, "'zone'"), ({"enabled": "yes"}, "'enabled'"),
                       ({"min_face_px": -1}, "'min_face_px'"), ({"colour": 1}, "unknown setting"), ([], "JSON")):
        with pytest.raises(CameraSettingsError, match=words):
            parse_changes(bad)
    assert inside([[0, 0], [1, 0], [0, 1]], 0.2, 0.2) and not inside([[0, 0], [1, 0], [0, 1]], 0.8, 0.8)


def test_a_cameras_announced_name_is_kept_for_the_console():
    import ipaddress

    from edgeface.cameras.registry import CameraRegistry

    registry = CameraRegistry([ipaddress.ip_network("127.0.0.0/8")])
    try:
        plain = registry.register_device("127.0.0.1", None, 9)               # /register: no name
        assert registry.announced_name(plain) is None
        assert registry.register_device("127.0.0.1", None, 9, name="Front Door") == plain   # then mDNS
        assert registry.announced_name(plain) == "Front Door"
        named = registry.register_device("127.0.0.2", None, 9, name="Yard cam")
        assert named == "yard-cam" and registry.announced_name(named) == "Yard cam"
        registry.remove(named)
        assert registry.announced_name(named) is None
    finally:
        registry.close()


def test_an_older_pods_event_store_is_imported_once(tmp_path):
    folder = tmp_path / "events"
    folder.mkdir()
    lines = [json.dumps({"camera": "door", "name": "Ada", "distance": 0.41, "box": [1, 2, 3, 4], "time": 1000.0 + i,
                         "track": i, "model_version": "v0", "id": f"{i:032x}"}) for i in range(3)]
    (folder / "events.jsonl").write_text("\n".join([*lines, '{"torn": '] ) + "\n")
    (folder / f"{2:032x}.jpg").write_bytes(b"\xff\xd8old-jpeg")
    h = History(folder)
    try:
        visits = h.query(EventQuery()).events
        assert [(v.id, v.name, v.started_at, v.tracks) for v in visits] == [
            (f"{i:032x}", "Ada", 1000.0 + i, [i]) for i in (2, 1, 0)]
        assert h.image(f"{2:032x}", "snapshot") == b"\xff\xd8old-jpeg" and h.image(f"{1:032x}", "snapshot") is None
    finally:
        h.close()
    assert not (folder / "events.jsonl").exists() and (folder / "events.jsonl.imported").exists()
    again = History(folder)
    try:
        assert len(again.query(EventQuery()).events) == 3
    finally:
        again.close()


def test_a_cameras_own_retention_beside_the_history_age_limit(history):
    h = history(gap_s=0, retention_days=30)
    store = CameraSettingsStore(h.engine)
    store.change("lobby", parse_changes({"retention_days": 1}))       # shorter than the site's
    store.change("vault", parse_changes({"retention_days": 90}))      # longer: kept under the size budget still
    now, day = time.time(), 86400
    seen = {("lobby", 2): "gone", ("lobby", 0.5): "kept", ("door", 2): "kept", ("door", 40): "gone",
            ("vault", 40): "kept", ("vault", 100): "gone"}
    for track, (camera, days) in enumerate(seen):
        h.record(event(camera, f"{camera}-{days}", now - days * day, track=track))
    assert h.flush()
    h.enforce_retention()
    left = {v.name for v in h.query(EventQuery(limit=100)).events}
    assert left == {f"{camera}-{days}" for (camera, days), fate in seen.items() if fate == "kept"}
    store.change("lobby", parse_changes({"retention_days": None}))    # back to the history's 30 days
    assert store.own("lobby").retention_days is None


def test_privacy_settings_follow_the_site_unless_the_camera_sets_its_own(history):
    from edgeface.settings import CameraSettings

    h = history()
    site = CameraSettings(privacy="blur-all-but-watchlist", watchlist=["Ada"], captures="allowed")
    store = CameraSettingsStore(h.engine, site)
    door = store.get("door")
    assert (door.privacy, door.watchlist, door.captures, door.unblurred) == \
        ("blur-all-but-watchlist", ["Ada"], "allowed", "denied")
    assert door.hides("Bob") and not door.hides("Ada") and door.hides(None) and door.captures_allowed
    changed = store.change("door", parse_changes({"privacy": "off", "captures": "denied",
                                                  "watchlist": [" Bob ", "Bob"]}))
    assert (changed.privacy, changed.captures, changed.watchlist) == ("off", "denied", ["Bob"])
    assert not changed.hides(UNKNOWN) and not changed.captures_allowed
    store.change("door", parse_changes({"name": "Front door"}))        # another change keeps them
    assert store.get("door").privacy == "off"
    store.change("door", parse_changes({"privacy": None, "captures": None}))   # the site's again
    assert (store.get("door").privacy, store.get("door").captures) == ("blur-all-but-watchlist", "allowed")
    assert CameraSettingsStore(h.engine).get("yard").privacy == "blur-unknown"    # the default site: blur
    for bad, words in (({"privacy": "blurry"}, "'privacy'"), ({"captures": "yes"}, "'captures'"),
                       ({"unblurred": None}, "'unblurred'"), ({"watchlist": ["x" * 101]}, "'watchlist'"),
                       ({"retention_days": -1}, "'retention_days'"), ({"retention_days": True}, "'retention_days'")):
        with pytest.raises(CameraSettingsError, match=words):
            parse_changes(bad)


def test_the_best_shot_is_large_frontal_and_from_the_identify_stream(history, media_dir):
    """A visit's snapshot is replaced by a better look while it lasts: the same face cropped from
    the identify stream (more pixels) beats the detect stream's; a turned face never beats a
    frontal one of the same size and sharpness."""
    from edgeface.engine import FaceEngine
    from edgeface.history.shots import frontal

    portrait = cv2.imread(str(media_dir / "faces" / "Lin-Manuel Miranda" / "lin-manuel-miranda.png"))
    [(top, right, bottom, left)] = FaceEngine().detect(cv2.cvtColor(portrait, cv2.COLOR_BGR2RGB))
    face = portrait[max(0, top - 40):bottom + 40, max(0, left - 40):right + 40]
    turned = np.roll(face, face.shape[1] // 3, axis=1)      # the same pixels, the face off its centre
    assert frontal(face) > frontal(turned)
    small = cv2.resize(face, None, fx=1 / 3, fy=1 / 3, interpolation=cv2.INTER_AREA)   # the detect stream's
    sub = SimpleNamespace(bgr=np.zeros((360, 640, 3), np.uint8), jpeg=None)
    sub.bgr[100:100 + small.shape[0], 200:200 + small.shape[1]] = small
    box = (100, 200 + small.shape[1], 100 + small.shape[0], 200)
    h = history(gap_s=30)
    now = time.time()
    h.record(RecognitionEvent("door", "Lin", 0.3, list(box), now - 5, track=1, snapshot=encode_jpeg(small),
                              frame=sub, embedding=np.zeros(128, np.float32)))
    assert h.flush()
    visit = h.query(EventQuery()).events[0]
    h.seen([Sighting("door", 1, "Lin", 0.3, box, now - 4, sub, shot=face)])
    assert h.flush()
    best = h.image(visit.id, "snapshot")
    shown = cv2.imdecode(np.frombuffer(best, np.uint8), cv2.IMREAD_COLOR)
    assert shown.shape[:2] == face.shape[:2], "the identify stream's crop did not replace the detect stream's"
    h.seen([Sighting("door", 1, "Lin", 0.3, box, now - 3, sub, shot=turned)])    # turned: not better
    h.seen([Sighting("door", 1, "Lin", 0.3, box, now - 2, sub)])     # the detect stream's look again
    assert h.flush() and h.image(visit.id, "snapshot") == best and h.get(visit.id).last_seen == pytest.approx(now - 2)

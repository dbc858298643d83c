"""edgeface.history.review and the visit rules it relies on: a visit keeps the model version that
named it, name search (case, prefix, labels), reviewed, bulk delete and export, who is here now,
a labelled person, since when a camera is in its state. Real SQLite in a temporary folder."""

from __future__ import annotations

import csv
import io
import time
import zipfile

from test_history import event, history  # noqa: F401 - history is a fixture

from edgeface.history import Archive, EventQuery
from edgeface.matcher import UNKNOWN


def test_a_visit_keeps_the_model_version_that_named_it_and_records_a_reload(history):  # noqa: F811 - the fixture
    h = history(gap_s=30)
    now = time.time()
    first = event("door", "Ada", now - 5, track=1)
    later = event("door", "Ada", now - 2, track=1)
    later.model_version = "v2"                          # a hot reload during the visit
    h.record(first)
    h.record(later)
    assert h.flush()
    [visit] = h.query(EventQuery()).events
    assert visit.model_version == "v1" and visit.model_versions == ("v1", "v2")
    assert visit.as_json()["model_versions"] == ["v1", "v2"]
    assert [v.id for v in h.query(EventQuery(model_version="v1")).events] == [visit.id]
    assert h.query(EventQuery(model_version="v2")).events == []


def test_names_are_found_by_their_start_or_a_word_in_any_case_labels_included(history):  # noqa: F811 - the fixture
    h = history(gap_s=30)
    now = time.time()
    h.record(event("door", "Lin-Manuel Miranda", now - 50, track=1))
    h.record(event("door", "Barack Obama", now - 40, track=2))
    stranger = event("yard", UNKNOWN, now - 30, track=3)
    h.record(stranger)
    assert h.flush()
    h.label(stranger.id, "Jane Doe", "admin")

    def found(text: str) -> set[str]:
        return {v.label or v.name for v in h.query(EventQuery(name=text)).events}

    assert found("lin") == found("LIN-man") == found("miranda") == found("manuel") == {"Lin-Manuel Miranda"}
    assert found("jane") == found("doe") == {"Jane Doe"}
    assert found("obama") == {"Barack Obama"}
    assert found("in") == set() and found("%") == set() and found("_") == set()   # no middle-of-word, no wildcards
    archive = Archive(h)
    assert archive.person("jane doe") == {"name": "Jane Doe", "visits": 1, "last_seen": stranger.time,
                                          "known_to_model": False}
    assert archive.person("nobody at all") is None
    assert archive.person("unknown") is None, "Unknown faces are not a person"
    assert [c["camera"] for c in h.person_cameras("Jane Doe")] == ["yard"]


def test_reviewed_delete_and_export_act_on_the_ids_given(history):  # noqa: F811 - the fixture
    h = history(gap_s=30)
    now = time.time()
    ada, bob = event("door", "Ada", now - 50, track=1), event("yard", "=cmd|' /C calc'!A0", now - 40, track=2)
    h.record(ada)
    h.record(bob)
    assert h.flush()
    archive = Archive(h)
    assert archive.mark([ada.id, "no-such-id"], True, "admin") == 1
    assert [v.id for v in h.query(EventQuery(reviewed=True)).events] == [ada.id]
    assert [v.id for v in h.query(EventQuery(reviewed=False)).events] == [bob.id]
    assert h.get(ada.id).reviewed_by_role == "admin"
    archive.mark([ada.id], False, "admin")
    assert h.query(EventQuery(reviewed=True)).events == []

    zipped = zipfile.ZipFile(io.BytesIO(archive.export(archive.visits([ada.id, bob.id]), str.upper)))
    rows = list(csv.DictReader(io.StringIO(zipped.read("visits.csv").decode())))
    assert [r["id"] for r in rows] == [bob.id, ada.id]                      # newest first
    assert rows[1]["camera_name"] == "DOOR" and rows[1]["match"] == "close match"
    assert rows[0]["who"].startswith("'="), "a name a spreadsheet would run as a formula"
    assert rows[1]["snapshot"] == f"snapshots/{ada.id}.jpg"
    assert zipped.read(rows[1]["snapshot"])[:2] == b"\xff\xd8"

    assert archive.delete([ada.id]) == 1
    assert h.get(ada.id) is None and h.image(ada.id, "snapshot") is None
    assert [v.id for v in h.query(EventQuery()).events] == [bob.id]


def test_a_deleted_open_visit_is_not_written_again(history):  # noqa: F811 - the fixture
    h = history(gap_s=30)
    now = time.time()
    first = event("door", "Ada", now - 2, track=1)
    h.record(first)
    assert h.flush()
    Archive(h).delete([first.id])
    h.record(event("door", "Ada", now - 1, track=1))     # the same person, still there
    assert h.flush()
    assert h.get(first.id) is None


def test_who_is_here_now_with_their_last_sightings_elsewhere(history):  # noqa: F811 - the fixture
    h = history(gap_s=3)
    now = time.time()
    h.record(event("lobby", "Ada", now - 100, track=1))   # an old visit elsewhere (ends at once)
    h.record(event("door", "Ada", now - 1, track=2))
    h.record(event("door", UNKNOWN, now - 1.5, track=3, embedding=0.0))   # here longer: listed first
    h.record(event("yard", UNKNOWN, now - 1, track=4, embedding=1.0))
    assert h.flush()
    archive = Archive(h)
    present = archive.present()
    assert [(p.name, p.unknown, [v.camera for v in p.here]) for p in present] == [
        ("Ada", False, ["door"]), (UNKNOWN, True, ["door"]), (UNKNOWN, True, ["yard"])]
    assert [camera for camera, _ in present[0].elsewhere] == ["lobby"]
    assert all(v.still_here for p in present for v in p.here)
    # Nobody seen for longer than the gap: they left (the board and "still here" agree).
    deadline = time.time() + 30
    while archive.present() and time.time() < deadline:
        h.flush()
        time.sleep(0.2)
    assert archive.present() == []
    assert not any(v.still_here for v in h.query(EventQuery()).events)


def test_a_camera_is_in_its_state_since_it_changed_and_offline_since_its_last_picture(history):  # noqa: F811 - the fixture
    archive = Archive(history())
    t0 = time.time()
    online = archive.camera_since("door", "online", 0.1)
    assert t0 <= online <= time.time()
    assert archive.camera_since("door", "online", 0.1) == online        # unchanged: the same since
    offline = archive.camera_since("door", "offline", 14.0)
    assert offline <= time.time() - 14.0 + 0.5, "offline since the last picture, not since it was noticed"
    assert archive.camera_since("door", "offline", 20.0) == offline     # the age grows; the since does not
    assert archive.camera_since("new", "offline", None) >= t0             # never a picture: since first seen


def test_an_older_database_is_upgraded_in_place_its_visits_unreviewed(tmp_path):
    """A file at 0003 (before reviewed, model_versions and camera groups) opens with its rows kept."""
    from helpers import history_at

    from edgeface.history import History
    from edgeface.history.cameras import CameraSettingsStore

    folder = tmp_path / "events"
    history_at(folder, "0003_audit",
               "INSERT INTO events (id, camera, name, unknown, started_at, last_seen, ended, tracks, model_version, "
               "score, bytes) VALUES ('old', 'door', 'Ada', 0, 1, 2, 1, '[1]', 'v0', 0, 0)",
               "INSERT INTO cameras (id, name, enabled, recognition, min_face_px, updated_at) "
               "VALUES ('door', 'Front door', 1, 1, 0, 1)")
    h = History(folder)
    try:
        [old] = h.query(EventQuery()).events
        assert (old.id, old.model_version, old.model_versions, old.reviewed_at) == ("old", "v0", (), None)
        assert old.as_json()["model_versions"] == ["v0"] and old.as_json()["reviewed"] is False
        options = CameraSettingsStore(h.engine).get("door")
        assert options.name == "Front door" and options.group is None
    finally:
        h.close()

"""The audit trail: what the web app records (who, what, where; never a token), the hash chain
``edgeface audit verify`` checks — and how it names a row edited, deleted or swapped directly in
the SQLite file — retention with its anchor, and appends from several processes at once."""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import REPO, run_cli

from edgeface.history.audit import AuditQuery, AuditTrail, Entry, token_id
from edgeface.history.db import DB_NAME, open_database
from edgeface.modelfile import FaceModel
from edgeface.settings import EventSettings, HttpSettings, ModelSettings, Settings
from webapp import create_app

ADMIN = "audit-admin-token-0123456789"
VIEWER = "audit-viewer-token-9876543210"


def bearer(token: str) -> dict:
    return {"Authorization": "Bearer " + token}


@pytest.fixture
def events_dir(tmp_path) -> Path:
    return tmp_path / "events"


@pytest.fixture
def make_app(events_dir):
    """Web apps on a real history (not started: no cameras, no model watcher; requests work).
    Two of them on one folder are two gunicorn workers."""
    made = []

    def make():
        made.append(create_app(Settings(http=HttpSettings(api_token=ADMIN, viewer_token=VIEWER),
                                        model=ModelSettings(file="/nonexistent/model.data"),
                                        events=EventSettings(dir=str(events_dir))), start=False))
        return made[-1]

    yield make
    for app in made:
        app.extensions["edgeface"].history.close()


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def trail(events_dir):
    events_dir.mkdir(parents=True)
    engine = open_database(events_dir)
    yield AuditTrail(engine)
    engine.dispose()


def rows(app_or_trail, **filters) -> list:
    trail = app_or_trail.extensions["edgeface.audit"].trail if hasattr(app_or_trail, "extensions") else app_or_trail
    found, _ = trail.query(AuditQuery(limit=500, **filters))
    return list(reversed(found))        # oldest first


def a_real_run(app) -> None:
    """What an admin and a viewer do in a session, through the real views."""
    client = app.test_client()
    assert client.post("/login", data={"token": "wrong-guess-123"}).status_code == 401
    assert client.post("/login", data={"token": VIEWER, "next": "/"}).status_code == 302
    assert client.get("/api/v1/events?name=Ada&limit=5").status_code == 200
    assert client.get("/api/v1/events/nope/snapshot.jpg").status_code == 404
    admin = bearer(ADMIN)
    assert client.post("/api/v1/cameras", json={"url": "rtsp://user:pw@127.0.0.1:9/x", "id": "door"},
                       headers=bearer(VIEWER)).status_code == 403
    assert client.post("/api/v1/cameras", json={"url": "rtsp://user:pw@127.0.0.1:9/x", "id": "door"},
                       headers=admin).status_code == 201
    assert client.patch("/api/v1/cameras/door", json={"name": "Front door"}, headers=admin).status_code in (200, 404)
    assert client.get("/api/v1/cameras/export.yaml", headers=admin).status_code == 200
    assert client.post("/api/v1/events/e1/label", json={"name": "Jane Doe"}, headers=admin).status_code == 404
    assert client.delete("/api/v1/people/Jane Doe/history", headers=admin).status_code == 200
    assert client.delete("/api/v1/cameras/door", headers=admin).status_code == 200
    client.post("/logout")


def test_a_session_is_recorded_who_what_where_and_no_token_is_stored(app, events_dir):
    a_real_run(app)
    got = [(r.action, r.role, r.target, r.status) for r in rows(app)]
    assert got == [("login.failed", None, None, 401), ("login", "viewer", None, 302),
                   ("search", "viewer", None, 200), ("snapshot.view", "viewer", "nope", 404),
                   ("camera.add", "viewer", None, 403), ("camera.add", "admin", "door", 201),
                   ("camera.change", "admin", "door", got[6][3]), ("export", "admin", "cameras.yaml", 200),
                   ("label", "admin", "e1", 404), ("person.delete", "admin", "Jane Doe", 200),
                   ("camera.remove", "admin", "door", 200), ("logout", "viewer", None, 302)]
    by_action = {r.action: r for r in rows(app)}
    assert by_action["login"].token_id == token_id(VIEWER) and by_action["login"].auth == "session"
    assert by_action["camera.remove"].token_id == token_id(ADMIN) and by_action["camera.remove"].auth == "bearer"
    assert by_action["login.failed"].token_id is None          # a wrong guess leaves no trace of itself
    assert by_action["search"].address == "127.0.0.1"
    assert json.loads(by_action["search"].detail) == {"name": "Ada"}
    assert json.loads(by_action["label"].detail) == {"name": "Jane Doe"}
    app.extensions["edgeface"].history.engine.dispose()      # everything on disk: the file and its WAL
    stored = b"".join(p.read_bytes() for p in events_dir.glob(DB_NAME + "*"))
    for secret in (ADMIN, VIEWER, "wrong-guess-123", "pw@"):
        assert secret.encode() not in stored, f"{secret!r} reached the database"


def test_a_camera_change_says_which_fields_changed_never_a_url(app, events_dir):
    client, admin = app.test_client(), bearer(ADMIN)
    assert client.post("/api/v1/cameras", json={"url": "rtsp://127.0.0.1:9/sub", "id": "door"},
                       headers=admin).status_code == 201
    main = "rtsp://user:main-secret@127.0.0.1:9/main?token=tok-secret"
    bodies = ({"identify_url": main, "group": "Entrances"}, {"identify_url": None}, {"name": "Door", "min_face_px": 40},
              {"identify_url": ""}, {"nonsense": main})
    # Not started: the camera may not be running, so the answer is 200 or 404; the row is the same.
    answered = [client.patch("/api/v1/cameras/door", json=body, headers=admin).status_code for body in bodies]
    changes = [(json.loads(r.detail), r.status) for r in rows(app, action="camera.change")]
    assert changes == list(zip([{"identify_url": "set", "group": "Entrances"}, {"identify_url": "removed"},
                                {"name": "Door", "min_face_px": 40}, {"identify_url": "removed"}, {}], answered))
    app.extensions["edgeface"].history.engine.dispose()
    stored = b"".join(p.read_bytes() for p in events_dir.glob(DB_NAME + "*"))
    assert b"main-secret" not in stored and b"tok-secret" not in stored


def test_the_page_shows_the_trail_to_an_admin_only(app):
    a_real_run(app)
    client = app.test_client()
    assert client.get("/audit").status_code == 302, "the page was not sent to the login form"
    viewer = client.get("/audit", headers=bearer(VIEWER))
    assert viewer.status_code == 403 and "Only an admin" in viewer.text and "camera.remove" not in viewer.text
    assert client.get("/api/v1/audit", headers=bearer(VIEWER)).status_code == 403
    page = client.get("/audit?action=camera.&role=admin", headers=bearer(ADMIN))
    shown = re.findall(r'<td data-label="Action">([^<]+)</td>', page.text)
    assert page.status_code == 200 and set(shown) == {"camera.add", "camera.change", "camera.remove"}
    assert ADMIN not in page.text and token_id(ADMIN) in page.text
    first = client.get("/audit?action=camera.&limit=2", headers=bearer(ADMIN)).text
    older = re.search(r'id="older" href="([^"]+)"', first)
    assert older and "action=camera." in older.group(1), "no link to the older rows"
    second = client.get(older.group(1).replace("&amp;", "&"), headers=bearer(ADMIN)).text
    seqs = [[int(n) for n in re.findall(r'<tr data-seq="(\d+)"', text)] for text in (first, second)]
    assert len(seqs[0]) == 2 and seqs[1] and max(seqs[1]) < min(seqs[0])
    listed = client.get("/api/v1/audit?action=login", headers=bearer(ADMIN)).json["rows"]
    assert [r["role"] for r in listed] == ["viewer"]
    bad = client.get("/api/v1/audit?since=yesterday", headers=bearer(ADMIN))
    assert bad.status_code == 400 and "since" in bad.json["error"] and "ISO 8601" in bad.json["hint"]
    assert client.get("/audit?limit=0", headers=bearer(ADMIN)).status_code == 400
    assert client.get("/api/v1/audit/verify", headers=bearer(ADMIN)).json["ok"] is True
    seen = [r for r in rows(app) if r.action == "audit.view"]    # the older page is the same search: one row
    assert [(r.role, r.status) for r in seen] == [(None, 302), *[("viewer", 403)] * 2, *[("admin", 200)] * 3,
                                                  *[("admin", 400)] * 2]


def test_polled_reads_and_anonymous_refusals_are_one_row_a_minute_failed_logins_each_time(app):
    client = app.test_client()
    for _ in range(5):
        assert client.get("/api/v1/events").status_code == 401
        assert client.post("/login", data={"token": "nope-nope-nope"}).status_code == 401
        assert client.get("/api/v1/events?limit=12", headers=bearer(VIEWER)).status_code == 200   # the live page
    assert client.get("/api/v1/events?name=Ada", headers=bearer(VIEWER)).status_code == 200
    assert client.get("/api/v1/events?limit=12", headers=bearer(ADMIN)).status_code == 200
    got = [(r.action, r.role, r.status, r.detail) for r in rows(app)]
    assert got.count(("search", None, 401, "{}")) == 1 and got.count(("login.failed", None, 401, "{}")) == 5
    assert [g for g in got if g[0] == "search" and g[1]] == [
        ("search", "viewer", 200, "{}"), ("search", "viewer", 200, '{"name":"Ada"}'), ("search", "admin", 200, "{}")]


def test_a_new_model_is_recorded_once_whichever_worker_sees_it(make_app, sample_model):
    workers = [make_app(), make_app()]
    model = FaceModel.load(sample_model)
    for version in ("v1", "v1", "v2"):        # v1 loaded again (a restart) is no change
        for worker in workers:
            worker.extensions["edgeface"].models.swap(model, str(sample_model), version)
            assert worker.test_client().get("/healthz").status_code == 200
    changes = [(r.target, r.role, json.loads(r.detail)["source"]) for r in rows(workers[0])
               if r.action == "model.change"]
    assert changes == [("v1", "system", str(sample_model)), ("v2", "system", str(sample_model))]


def test_a_read_that_cannot_be_recorded_is_refused_a_change_is_logged(app, events_dir, caplog):
    tamper(events_dir, "DROP TABLE audit")           # the trail cannot be written any more
    client = app.test_client()
    refused = client.get("/api/v1/events", headers=bearer(VIEWER))
    assert refused.status_code == 503 and "audit trail" in refused.json["error"] and refused.json["hint"]
    body = {"url": "rtsp://127.0.0.1:9/x", "id": "door"}
    assert client.post("/api/v1/cameras", json=body, headers=bearer(ADMIN)).status_code == 201
    assert client.delete("/api/v1/cameras/door", headers=bearer(ADMIN)).status_code == 200
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "audit: cannot record camera.add door by admin" in logged and ADMIN not in logged


def verify(events_dir: Path, *extra: str) -> subprocess.CompletedProcess:
    return run_cli("audit", "verify", "--dir", str(events_dir), *extra, check=False)


def tamper(events_dir: Path, *sql: str) -> None:
    """Change the database behind the app's back, as someone with the file would."""
    with sqlite3.connect(events_dir / DB_NAME) as db:
        for statement in sql:
            db.execute(statement)


@pytest.fixture
def recorded(app, events_dir) -> Path:
    """A real run's trail, the app closed; 12 rows."""
    a_real_run(app)
    assert len(rows(app)) == 12
    app.extensions["edgeface"].history.close()
    return events_dir


def test_verify_passes_on_a_real_run(recorded):
    done = verify(recorded)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "12 rows (rows 1..12)" in done.stdout and "chain intact" in done.stdout
    print(done.stdout)


def test_verify_names_an_edited_row(recorded):
    tamper(recorded, "UPDATE audit SET role = 'viewer' WHERE seq = 6")
    done = verify(recorded)
    print(done.stdout)
    assert done.returncode == 1
    assert "TAMPERED: row 6 (camera.add at " in done.stdout and "edited" in done.stdout
    assert done.stdout.count("TAMPERED") == 1


def test_verify_names_a_row_edited_with_its_hash_recomputed(recorded):
    # A careful forger recomputes the edited row's hash: the next row no longer follows it.
    from edgeface.history.audit import row_hash

    with sqlite3.connect(recorded / DB_NAME) as db:
        db.row_factory = sqlite3.Row
        row = dict(db.execute("SELECT * FROM audit WHERE seq = 9").fetchone())
        row["target"] = "someone-else"
        db.execute("UPDATE audit SET target = ?, hash = ? WHERE seq = 9", (row["target"], row_hash(row)))
    done = verify(recorded)
    print(done.stdout)
    assert done.returncode == 1 and "TAMPERED: row 10 (person.delete" in done.stdout
    assert "row 9 was replaced or rewritten" in done.stdout


def test_verify_names_a_deleted_row(recorded):
    tamper(recorded, "DELETE FROM audit WHERE seq = 8")
    done = verify(recorded)
    print(done.stdout)
    assert done.returncode == 1
    assert "TAMPERED: row 8 missing: deleted (the chain jumps to row 9)" in done.stdout
    assert done.stdout.count("TAMPERED") == 1


def test_verify_names_swapped_rows(recorded):
    tamper(recorded, "UPDATE audit SET seq = -1 WHERE seq = 4", "UPDATE audit SET seq = 4 WHERE seq = 5",
           "UPDATE audit SET seq = 5 WHERE seq = -1")
    done = verify(recorded)
    print(done.stdout)
    assert done.returncode == 1
    assert "TAMPERED: row 4 (camera.add at " in done.stdout and "written right after row 5" in done.stdout
    assert "TAMPERED: row 5 (snapshot.view at " in done.stdout and "written right after row 3" in done.stdout
    assert done.stdout.count("TAMPERED") == 2


def test_verify_finds_rows_cut_from_the_end_against_the_cores_copy(recorded):
    with sqlite3.connect(recorded / DB_NAME) as db:
        head = db.execute("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
    assert verify(recorded, "--head", f"{head[0]}:{head[1]}").returncode == 0
    tamper(recorded, "DELETE FROM audit WHERE seq >= 11")
    assert verify(recorded).returncode == 0, "a cut end cannot show without a copy"
    done = verify(recorded, "--head", f"{head[0]}:{head[1]}")
    print(done.stdout)
    assert done.returncode == 1 and "TAMPERED: rows 11..12 missing from the end" in done.stdout
    done = verify(recorded, "--head", f"3:{head[1]}")
    assert done.returncode == 1 and "TAMPERED: row 3 (" in done.stdout and "not the copy given" in done.stdout
    wrong = verify(recorded, "--head", "12:beef")
    assert wrong.returncode == 2 and "is not SEQ:HASH" in wrong.stderr and "Traceback" not in wrong.stderr


def test_verify_says_what_is_wrong_without_a_traceback(tmp_path):
    done = run_cli("audit", "verify", "--dir", str(tmp_path / "nowhere"), check=False)
    assert done.returncode == 2 and "no event history" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "nowhere").exists(), "verify created a database"


def test_retention_keeps_the_chain_checkable_from_its_anchor(trail):
    trail.max_rows = 20
    for i in range(50):
        trail.append(Entry("search", role="viewer", target=str(i)))
    verdict = trail.verify()
    assert verdict.ok, verdict.report()
    assert verdict.anchor is not None and verdict.rows <= 21
    trims = [r for r in rows(trail) if r.action == "audit.trim"]
    assert trims and json.loads(trims[-1].detail)["through"] == verdict.anchor[0]
    # Old rows go by age too (the history's retention days), the newest always stays.
    trail.append(Entry("search", target="late"), now=10 ** 10)
    kept = rows(trail)
    assert [r.target for r in kept][:1] == ["late"] and [r.action for r in kept][1:] == ["audit.trim"]
    assert trail.verify().ok


def test_a_row_removed_after_the_anchor_or_an_anchor_moved_by_hand_is_found(trail, events_dir):
    trail.max_rows = 20
    for i in range(30):
        trail.append(Entry("search", target=str(i)))
    anchor = trail.verify().anchor
    assert anchor is not None
    first = anchor[0] + 1
    tamper(events_dir, f"DELETE FROM audit WHERE seq = {first}")
    assert f"row {first} missing" in trail.verify().report()
    tamper(events_dir, f"UPDATE audit_anchor SET seq = {first}, hash = 'x'")
    report = trail.verify().report()
    assert "the anchor" in report and "removed from the start by hand" in report


APPENDER = """
import sys
from edgeface.history.audit import AuditTrail, Entry
from edgeface.history.db import open_database
from pathlib import Path
from concurrent.futures import ThreadPoolExecutor
trail = AuditTrail(open_database(Path(sys.argv[1])))
with ThreadPoolExecutor(4) as pool:
    list(pool.map(lambda i: trail.append(Entry("search", target=f"{sys.argv[2]}-{i}")), range(40)))
"""


def test_appends_from_several_processes_and_threads_stay_one_chain(trail, events_dir):
    procs = [subprocess.Popen([sys.executable, "-c", APPENDER, str(events_dir), f"p{n}"], cwd=REPO)
             for n in range(3)]
    assert [p.wait(120) for p in procs] == [0, 0, 0]
    got = rows(trail)
    assert [r.seq for r in got] == list(range(1, 121))
    assert len({r.target for r in got}) == 120
    verdict = trail.verify()
    assert verdict.ok, verdict.report()

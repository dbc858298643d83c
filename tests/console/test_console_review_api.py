"""The review endpoints and what the pages ask of them, on the real app (LiveService, SQLite):
bulk reviewed/delete for the admin only, export for both roles, who is here now, name search,
a labelled person's page data, an offline camera's state and feed, and operator words."""

from __future__ import annotations

import csv
import io
import time
import zipfile

from console_helpers import ADMIN, VIEWER
from console_helpers import recognition as event

from edgeface.matcher import UNKNOWN

ADMIN_H = {"Authorization": "Bearer " + ADMIN}
VIEWER_H = {"Authorization": "Bearer " + VIEWER}


def recorded(app, *events):
    history = app.extensions["edgeface"].history
    for ev in events:
        history.record(ev)
    assert history.flush()
    return events


def test_bulk_review_delete_and_export(make_app):
    app = make_app()
    client = app.test_client()
    now = time.time()
    lin, obama = recorded(app, event("door", "Lin-Manuel Miranda", now - 60, track=1),
                          event("door", "Barack Obama", now - 50, track=2))
    ids = [lin.id, obama.id]
    for body in (None, {"ids": []}, {"ids": "x"}, {"ids": [1]}, {"ids": ids, "reviewed": "yes"}):
        refused = client.post("/api/v1/events/review", json=body, headers=ADMIN_H)
        assert refused.status_code == 400 and "ids" in refused.json["error"], body
    assert client.post("/api/v1/events/review", json={"ids": ids}, headers=VIEWER_H).status_code == 403
    assert client.post("/api/v1/events/delete", json={"ids": ids}, headers=VIEWER_H).status_code == 403
    marked = client.post("/api/v1/events/review", json={"ids": ids, "reviewed": True}, headers=ADMIN_H)
    assert marked.json == {"marked": 2, "reviewed": True}
    assert len(client.get("/api/v1/events?reviewed=true", headers=VIEWER_H).json["events"]) == 2
    assert client.get("/api/v1/events?reviewed=maybe", headers=VIEWER_H).status_code == 400

    exported = client.get(f"/api/v1/events/export.zip?ids={lin.id},{obama.id}", headers=VIEWER_H)
    assert exported.status_code == 200 and exported.mimetype == "application/zip"
    assert "attachment" in exported.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(zipfile.ZipFile(io.BytesIO(exported.data)).read("visits.csv").decode())))
    assert {r["id"] for r in rows} == set(ids) and {r["reviewed"] for r in rows} == {"yes"}
    assert client.get("/api/v1/events/export.zip?ids=", headers=VIEWER_H).status_code == 400
    assert client.get("/api/v1/events/export.zip?ids=gone", headers=VIEWER_H).status_code == 404

    assert client.post("/api/v1/events/delete", json={"ids": [lin.id]}, headers=ADMIN_H).json == {"deleted": 1}
    assert client.get(f"/api/v1/events/{lin.id}", headers=VIEWER_H).status_code == 404


def test_names_are_searched_by_start_in_any_case_and_a_labelled_name_is_a_person(make_app):
    app = make_app()
    client = app.test_client()
    now = time.time()
    lin, stranger = recorded(app, event("door", "Lin-Manuel Miranda", now - 60, track=1),
                             event("door", UNKNOWN, now - 50, track=2))
    assert [e["id"] for e in client.get("/api/v1/events?name=lin", headers=VIEWER_H).json["events"]] == [lin.id]
    labelled = client.post(f"/api/v1/events/{stranger.id}/label", json={"name": "Jane Doe"}, headers=ADMIN_H)
    assert labelled.status_code == 200
    assert [e["id"] for e in client.get("/api/v1/events?name=jane", headers=VIEWER_H).json["events"]] == [stranger.id]
    jane = client.get("/api/v1/people/jane doe", headers=VIEWER_H)
    assert jane.status_code == 200 and jane.json["name"] == "Jane Doe" and jane.json["known_to_model"] is False
    assert [c["camera"] for c in jane.json["cameras"]] == ["door"]
    known = client.get("/api/v1/people/lin-manuel miranda", headers=VIEWER_H).json
    assert known["known_to_model"] is True and known["name"] == "Lin-Manuel Miranda"
    nobody = client.get("/api/v1/people/Nobody", headers=VIEWER_H)
    assert nobody.status_code == 404 and "/api/" not in nobody.json["hint"]


def test_who_is_here_now(make_app):
    app = make_app()
    client = app.test_client()
    now = time.time()
    recorded(app, event("lobby", "Lin-Manuel Miranda", now - 3600, track=1),
             event("door", "Lin-Manuel Miranda", now - 1, track=2))
    [lin] = client.get("/api/v1/present", headers=VIEWER_H).json["present"]
    assert lin["name"] == "Lin-Manuel Miranda" and [v["camera"] for v in lin["here"]] == ["door"]
    assert lin["here"][0]["still_here"] is True
    assert [e["camera"] for e in lin["elsewhere"]] == ["lobby"]


def test_an_offline_camera_says_since_when_and_its_feed_does_not_hang(make_app):
    app = make_app()
    client = app.test_client()
    added = client.post("/api/v1/cameras", json={"url": "rtsp://127.0.0.1:9/door", "id": "door"}, headers=ADMIN_H)
    assert added.status_code == 201
    cam = client.get("/api/v1/cameras/door", headers=VIEWER_H).json
    assert cam["state"] == "offline" and cam["state_since"] <= time.time() and cam["analysis_lag_s"] is None
    feed = client.get("/video_feed/door", headers=VIEWER_H)
    assert feed.status_code == 503 and "offline" in feed.json["error"] and feed.headers["Retry-After"]


def test_operator_pages_say_no_api_paths(make_app):
    client = make_app().test_client()
    for path in ("/", "/present", "/events", "/events/x", "/people", "/people/x", "/unknown"):
        page = client.get(path, headers=VIEWER_H)
        assert page.status_code == 200, path
        shown = page.text.split("<script")[0]
        assert "/api/v1" not in shown and "GET " not in shown, path
    assert client.get("/api/v1/events/gone", headers=VIEWER_H).json["hint"].find("/api/") == -1


def test_camera_groups_are_set_shown_and_searched(make_app):
    app = make_app()
    client = app.test_client()
    for camera_id in ("door", "gate", "yard"):
        added = client.post("/api/v1/cameras", json={"url": f"rtsp://127.0.0.1:9/{camera_id}", "id": camera_id},
                            headers=ADMIN_H)
        assert added.status_code == 201
    for camera_id in ("door", "gate"):
        changed = client.patch(f"/api/v1/cameras/{camera_id}", json={"group": " Entrances "}, headers=ADMIN_H)
        assert changed.status_code == 200 and changed.json["group"] == "Entrances"
    assert client.patch("/api/v1/cameras/yard", json={"group": "x" * 101}, headers=ADMIN_H).status_code == 400
    assert client.patch("/api/v1/cameras/yard", json={"group": "Yard"}, headers=VIEWER_H).status_code == 403
    groups = {c["id"]: c["group"] for c in client.get("/api/v1/cameras", headers=VIEWER_H).json["cameras"]}
    assert groups == {"door": "Entrances", "gate": "Entrances", "yard": None}
    now = time.time()
    at_door, at_gate, _ = recorded(app, event("door", "Ada", now - 30, track=1),
                                   event("gate", "Bob", now - 20, track=2), event("yard", "Cy", now - 10, track=3))
    found = client.get("/api/v1/events?group=Entrances", headers=VIEWER_H).json["events"]
    assert [e["id"] for e in found] == [at_gate.id, at_door.id]
    assert client.get("/api/v1/events?group=Nowhere", headers=VIEWER_H).json["events"] == []
    assert client.patch("/api/v1/cameras/door", json={"group": None}, headers=ADMIN_H).json["group"] is None

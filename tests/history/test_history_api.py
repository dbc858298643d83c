"""The console's JSON API over the real history: /api/v1/events, /people, camera settings, roles."""

from __future__ import annotations

import time

import numpy as np
import pytest
from test_history import event

from edgeface.matcher import UNKNOWN
from edgeface.settings import CameraSettings, EventSettings, HttpSettings, ModelSettings, Settings, UplinkSettings
from webapp import create_app

ADMIN = {"Authorization": "Bearer admin-token-0123456789"}
VIEWER = {"Authorization": "Bearer viewer-token-0123456789"}


@pytest.fixture
def app(sample_model, tmp_path):
    settings = Settings(http=HttpSettings(api_token="admin-token-0123456789", viewer_token="viewer-token-0123456789"),
                        model=ModelSettings(file=str(sample_model)),
                        events=EventSettings(dir=str(tmp_path / "ev"), visit_gap_s=30))
    made = create_app(settings)
    made.extensions["edgeface"].watcher.wait_loaded(30)
    yield made
    made.extensions["edgeface"].close()


def test_events_filters_pages_images_and_labels(app):
    svc, client = app.extensions["edgeface"], app.test_client()
    known = svc.models.current().model.names[0]
    now = time.time()
    for i in range(12):
        svc.history.record(event("door" if i % 2 else "yard", known if i % 3 else UNKNOWN, now - 600 + i * 40,
                                 track=i, embedding=float(i)))
    assert svc.history.flush()
    everything = client.get("/api/v1/events?limit=1000", headers=ADMIN).json
    assert len(everything["events"]) == 12 and everything["next_cursor"] is None
    first = everything["events"][0]
    assert {"id", "camera", "camera_name", "name", "distance", "box", "time", "track", "model_version", "unknown",
            "started_at", "last_seen", "duration_s", "tracks", "snapshot_url", "frame_url", "label",
            "labelled_by_role"} <= set(first)
    page = client.get("/api/v1/events?camera=door&unknown=false&limit=2", headers=ADMIN).json
    expected = [e["id"] for e in everything["events"] if e["camera"] == "door" and not e["unknown"]]
    got = [e["id"] for e in page["events"]]
    while page["next_cursor"]:
        page = client.get(f"/api/v1/events?camera=door&unknown=false&limit=2&cursor={page['next_cursor']}",
                          headers=ADMIN).json
        got += [e["id"] for e in page["events"]]
    assert got == expected
    iso = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 300))
    recent = client.get(f"/api/v1/events?since={iso}", headers=ADMIN).json["events"]
    assert recent and all(e["started_at"] >= now - 300 for e in recent)
    for bad in ("limit=0", "unknown=maybe", "since=yesterday", "cursor=zzz", "colour=red", "since=20&until=10"):
        response = client.get(f"/api/v1/events?{bad}", headers=ADMIN)
        assert response.status_code == 400 and response.json["error"] and response.json["hint"], bad
    one = client.get(f"/api/v1/events/{first['id']}", headers=ADMIN).json
    assert one == {**first, "clips": []}         # one event also lists its clips (none recorded here)
    for url in (first["snapshot_url"], first["frame_url"]):
        image = client.get(url, headers=ADMIN)
        assert image.status_code == 200 and image.mimetype == "image/jpeg" and image.data[:2] == b"\xff\xd8"
    assert client.get("/api/v1/events/nope", headers=ADMIN).status_code == 404
    unknown = next(e for e in everything["events"] if e["unknown"])
    labelled = client.post(f"/api/v1/events/{unknown['id']}/label", json={"name": "Jane Doe"}, headers=ADMIN)
    assert labelled.status_code == 200 and labelled.json["label"] == "Jane Doe"
    assert labelled.json["labelled_by_role"] == "admin" and labelled.json["training_candidate"] == "local"
    assert client.post(f"/api/v1/events/{unknown['id']}/label", json={"name": ""}, headers=ADMIN).status_code == 400
    assert client.post(f"/api/v1/events/{unknown['id']}/label", json={"name": "X"}).status_code == 401
    assert client.post(f"/api/v1/events/{unknown['id']}/label", json={"name": "X"}, headers=VIEWER).status_code == 403
    assert client.get("/api/v1/events", headers=VIEWER).json["events"]                 # viewers search


def test_people_and_deleting_their_history(app):
    svc, client = app.extensions["edgeface"], app.test_client()
    names = svc.models.current().model.names
    now = time.time()
    svc.history.record(event("door", names[0], now - 50, track=1))
    svc.history.record(event("yard", names[0], now - 40, track=2))
    assert svc.history.flush()
    people = client.get("/api/v1/people", headers=ADMIN).json
    assert [p["name"] for p in people] == names
    person = next(p for p in people if p["name"] == names[0])
    assert person["visits"] == 2 and person["last_seen"] == pytest.approx(now - 40) and person["image_count"] >= 1
    detail = client.get(f"/api/v1/people/{names[0]}", headers=ADMIN).json
    assert [(c["camera"], c["visits"]) for c in detail["cameras"]] == [("yard", 1), ("door", 1)]
    assert client.get("/api/v1/people/Nobody%20Known", headers=ADMIN).status_code == 404
    assert client.delete(f"/api/v1/people/{names[0]}/history", headers=VIEWER).status_code == 403
    deleted = client.delete(f"/api/v1/people/{names[0]}/history", headers=ADMIN)
    assert deleted.status_code == 200 and deleted.json["deleted"] == 2
    assert client.get(f"/api/v1/events?name={names[0]}", headers=ADMIN).json["events"] == []


def test_camera_settings_are_persisted_and_checked(app, media_dir):
    svc, client = app.extensions["edgeface"], app.test_client()
    camera = svc.add_camera("rtsp://127.0.0.1:9/none", "door")
    shown = client.get("/api/v1/cameras", headers=ADMIN).json["cameras"][0]
    assert (shown["name"], shown["enabled"], shown["recognition"], shown["zone"]) == ("door", True, True, None)
    assert {"fps_in", "fps_out", "analysis_lag_s", "people_now", "min_face_px"} <= set(shown)
    changed = client.patch(f"/api/v1/cameras/{camera}", json={"name": "Front door", "recognition": False,
                                                             "zone": [[0, 0], [1, 0], [1, 1]]}, headers=ADMIN)
    assert changed.status_code == 200 and changed.json["name"] == "Front door" and changed.json["recognition"] is False
    assert svc.workers.worker(camera).pipeline.options.recognition is False            # applied live
    assert client.patch(f"/api/v1/cameras/{camera}", json={"min_face_px": "big"}, headers=ADMIN).status_code == 400
    assert client.patch("/api/v1/cameras/nope", json={"name": "x"}, headers=ADMIN).status_code == 404
    assert client.patch(f"/api/v1/cameras/{camera}", json={"name": "x"}).status_code == 401
    assert client.patch(f"/api/v1/cameras/{camera}", json={"name": "x"}, headers=VIEWER).status_code == 403
    assert svc.camera_settings.get(camera).name == "Front door"                   # in the database


def test_a_label_sends_face_frame_and_embedding_to_the_outbox(sample_model, tmp_path, s3_env):
    import json

    import boto3
    from helpers import wait_until


    settings = Settings(http=HttpSettings(api_token="admin-token-0123456789"),
                        model=ModelSettings(file=str(sample_model)), events=EventSettings(dir=str(tmp_path / "ev")),
                        uplink=UplinkSettings(outbox_dir=str(tmp_path / "outbox"), site="lab"),
                        # The site lets captures leave and shows faces (a blurred one would not be sent).
                        cameras=CameraSettings(captures="allowed", privacy="off"))
    app = create_app(settings)
    svc, client = app.extensions["edgeface"], app.test_client()
    try:
        svc.history.record(event("door", UNKNOWN, time.time(), track=1, embedding=0.25))
        assert svc.history.flush()
        unknown = client.get("/api/v1/events?unknown=true", headers=ADMIN).json["events"][0]
        labelled = client.post(f"/api/v1/events/{unknown['id']}/label", json={"name": "Jane Doe"}, headers=ADMIN)
        assert labelled.status_code == 200 and labelled.json["training_candidate"] == "outbox"
        s3 = boto3.client("s3", endpoint_url=s3_env["AWS_S3_ENDPOINT"], region_name="us-east-1")

        def keys():
            listing = s3.list_objects_v2(Bucket=s3_env["AWS_S3_BUCKET"])
            return [o["Key"] for o in listing.get("Contents", [])]

        shipped = wait_until(lambda: [k for k in keys() if k.endswith(".json")], 60, "the capture in S3")
        sidecar = json.loads(s3.get_object(Bucket=s3_env["AWS_S3_BUCKET"], Key=shipped[0])["Body"].read())
        assert (sidecar["id"], sidecar["label"], sidecar["reason"]) == (unknown["id"], "Jane Doe", "labelled")
        assert sidecar["embedding"] == [0.25] * 128 and sidecar["camera"] == "door"
        assert any(k.endswith(".frame.jpg") for k in keys())
        # Privacy: deleting the person's history reaches the captures at the core too.
        gone = client.delete("/api/v1/people/Jane Doe/history", headers=ADMIN)
        assert gone.status_code == 200 and gone.json["captures"]["bucket"] == 1, gone.json
        assert not keys(), "the person's capture is still in the bucket"
    finally:
        svc.close()


def test_corrections_through_the_api_take_effect_and_are_listed(app):
    """"This is X" (the label) and "this is not X" change what the model in use names at once."""
    svc, client = app.extensions["edgeface"], app.test_client()
    model = svc.models.current().model
    known, known_face = model.names[0], model.embeddings[model.labels == 0][0]
    face = (np.random.default_rng(5).normal(size=128) / 23).astype(np.float32)
    assert [m.name for m in svc.models.current().matcher.match(np.stack([face, known_face]))] == [UNKNOWN, known]
    svc.history.record(event("door", UNKNOWN, time.time(), track=1, embedding=face))
    svc.history.record(event("yard", known, time.time(), track=2, embedding=known_face))
    assert svc.history.flush()
    visits = {v["name"]: v for v in client.get("/api/v1/events", headers=ADMIN).json["events"]}
    before = svc.models.current().generation
    assert client.post(f"/api/v1/events/{visits[UNKNOWN]['id']}/label", json={"name": "Newcomer"},
                       headers=ADMIN).status_code == 200
    assert svc.models.current().matcher.match(face[None])[0].name == "Newcomer"      # at once, here
    assert svc.models.current().generation == before + 1
    people = {p["name"]: p for p in client.get("/api/v1/people", headers=VIEWER).json}
    assert people["Newcomer"]["local"] == 1 and people["Newcomer"]["image_count"] == 0
    named = visits[known]
    assert client.post(f"/api/v1/events/{named['id']}/not", headers=VIEWER).status_code == 403
    assert client.post(f"/api/v1/events/{named['id']}/not", json={"name": "a\nb"}, headers=ADMIN).status_code == 400
    assert client.post("/api/v1/events/nope/not", headers=ADMIN).status_code == 404
    made = client.post(f"/api/v1/events/{named['id']}/not", headers=ADMIN)
    assert made.status_code == 201 and made.json["kind"] == "not" and made.json["name"] == known
    assert svc.models.current().matcher.match(known_face[None])[0].name == UNKNOWN
    listed = client.get("/api/v1/corrections", headers=VIEWER).json
    assert [c["kind"] for c in listed["corrections"]] == ["is", "not"]
    assert listed["model"]["local"] == {"is": 1, "not": 1, "drop": 0} and "embedding" not in listed["corrections"][0]
    assert client.delete(f"/api/v1/corrections/{made.json['id']}", headers=VIEWER).status_code == 403
    assert client.delete(f"/api/v1/corrections/{made.json['id']}", headers=ADMIN).status_code == 204
    assert client.delete(f"/api/v1/corrections/{made.json['id']}", headers=ADMIN).status_code == 404
    assert svc.model_status().local == {"is": 1, "not": 0, "drop": 0}


def test_repeat_strangers_are_listed_merged_and_named_as_a_group(app):
    """Unknown faces seen again share a group; the admin merges two groups and names the whole group:
    its visits are labelled, its faces name the person here at once, shown as local."""
    svc, client = app.extensions["edgeface"], app.test_client()
    rng = np.random.default_rng(17)
    face, other = ((rng.normal(size=128) / 23).astype(np.float32) for _ in range(2))
    now = time.time()
    for i, (camera, f) in enumerate([("door", face), ("yard", face + 0.005), ("door", other)]):
        svc.history.record(event(camera, UNKNOWN, now - 100 + i * 40, track=i, embedding=f))
    assert svc.history.flush()
    groups = client.get("/api/v1/strangers", headers=VIEWER).json["strangers"]
    assert sorted(g["visits"] for g in groups) == [1, 2]
    two = next(g for g in groups if g["visits"] == 2)
    one = next(g for g in groups if g["visits"] == 1)
    assert two["label"] == f"Unknown {two['id']}" and sorted(two["cameras"]) == ["door", "yard"]
    assert len(two["faces"]) == 2 and all(f["snapshot_url"] and f["stranger"] == two["id"] for f in two["faces"])
    assert client.get(f"/api/v1/strangers/{two['id']}", headers=VIEWER).json["visits"] == 2
    for bad in ({"into": "x"}, {"into": one["id"]}, {}):
        assert client.post(f"/api/v1/strangers/{one['id']}/merge", json=bad, headers=ADMIN).status_code == 400, bad
    assert client.post(f"/api/v1/strangers/{one['id']}/merge", json={"into": two["id"]},
                       headers=VIEWER).status_code == 403
    assert client.post(f"/api/v1/strangers/{one['id']}/merge", json={"into": 9999}, headers=ADMIN).status_code == 404
    assert client.post(f"/api/v1/strangers/{one['id']}/merge", json={"into": two["id"]},
                       headers=ADMIN).json == {"merged": one["id"], "into": two["id"]}
    assert client.get(f"/api/v1/strangers/{one['id']}", headers=VIEWER).status_code == 404
    assert client.get(f"/api/v1/strangers/{two['id']}", headers=VIEWER).json["visits"] == 3

    assert client.post(f"/api/v1/strangers/{two['id']}/label", json={"name": ""}, headers=ADMIN).status_code == 400
    named = client.post(f"/api/v1/strangers/{two['id']}/label", json={"name": "Newcomer"}, headers=ADMIN)
    assert named.status_code == 200 and named.json["labelled"] == 3, named.json
    assert client.get(f"/api/v1/strangers/{two['id']}", headers=VIEWER).json["name"] == "Newcomer"
    from edgeface.history.audit import AuditQuery
    trail, _ = app.extensions["edgeface.audit"].trail.query(AuditQuery(limit=100))
    said = [(r.action, r.target, r.status) for r in reversed(trail) if r.action in ("stranger.merge", "label")]
    assert ("stranger.merge", str(one["id"]), 200) in said and ("label", str(two["id"]), 200) in said, said
    in_use = svc.models.current().matcher
    assert [m.name for m in in_use.match(np.stack([face, other]))] == ["Newcomer", "Newcomer"]
    assert all(e["label"] == "Newcomer" for e in client.get("/api/v1/events", headers=VIEWER).json["events"])

    # The next sighting is named by the corrections: "local" until a model version knows the name.
    svc.history.record(event("gate", "Newcomer", now, track=9, embedding=face))
    assert svc.history.flush()
    [seen] = client.get("/api/v1/events?camera=gate", headers=VIEWER).json["events"]
    assert seen["local"] is True and seen["stranger"] is None
    assert client.get(f"/api/v1/events/{seen['id']}", headers=VIEWER).json["local"] is True
    present = client.get("/api/v1/present", headers=VIEWER).json["present"]
    assert [p["local"] for p in present if not p["unknown"]] == [True]
    assert [p["stranger"] for p in present if p["unknown"]] == [two["id"]], "one card for the stranger's visits"


def test_a_visit_named_with_the_help_of_an_example_the_site_added_is_local(app):
    """A person the model knows, with a face the site added to them: a visit whose face is nearest that
    example is "local"; one nearest the model's own photos is not; the names are the model's either way."""
    svc, client = app.extensions["edgeface"], app.test_client()
    model = svc.models.current().model
    known = model.names[0]
    own = model.embeddings[model.labels == 0][0]
    rng = np.random.default_rng(8)
    step = rng.normal(size=128)
    added = (own + step / np.linalg.norm(step) * 0.7).astype(np.float32)     # theirs, but far from their photos
    assert svc.models.current().matcher.match(added[None])[0].name == UNKNOWN
    now = time.time()
    svc.history.record(event("door", UNKNOWN, now - 300, track=1, embedding=added))
    assert svc.history.flush()
    [first] = client.get("/api/v1/events", headers=ADMIN).json["events"]
    assert client.post(f"/api/v1/events/{first['id']}/label", json={"name": known}, headers=ADMIN).status_code == 200
    assert svc.models.current().matcher.match(added[None])[0].name == known
    svc.history.record(event("gate", known, now, track=2, embedding=(added + 0.001).astype(np.float32)))
    svc.history.record(event("yard", known, now, track=3, embedding=own))
    assert svc.history.flush()
    seen = {e["camera"]: e for e in client.get("/api/v1/events?name=" + known, headers=VIEWER).json["events"]}
    assert {c: e["name"] for c, e in seen.items()} == {"door": UNKNOWN, "gate": known, "yard": known}
    assert {c: e["local"] for c, e in seen.items()} == {"door": False, "gate": True, "yard": False}
    assert client.get(f"/api/v1/events/{seen['gate']['id']}", headers=VIEWER).json["local"] is True
    assert (svc.local_now("gate", [known]), svc.local_now("yard", [known])) == ([known], []), "who is here now"
    present = client.get("/api/v1/present", headers=VIEWER).json["present"]
    assert [(p["name"], p["local"]) for p in present if not p["unknown"]] == [(known, True)], "here at the gate"
    # Undone, the example no longer names anyone here: the tag goes with it.
    [said] = client.get("/api/v1/corrections", headers=VIEWER).json["corrections"]
    assert client.delete(f"/api/v1/corrections/{said['id']}", headers=ADMIN).status_code == 204
    assert client.get(f"/api/v1/events/{seen['gate']['id']}", headers=VIEWER).json["local"] is False


def test_an_enrolment_photo_left_out_here_and_its_image_when_the_site_has_it(app, tmp_path):
    svc, client = app.extensions["edgeface"], app.test_client()
    model = svc.models.current().model
    person = model.names[0]
    listed = client.get(f"/api/v1/people/{person}/photos", headers=VIEWER).json
    rows = [p["row"] for p in listed["photos"]]
    assert rows and all(p["dropped"] is None for p in listed["photos"]) and listed["model"]
    assert client.get("/api/v1/people/Nobody/photos", headers=VIEWER).status_code == 404
    assert client.get(f"/api/v1/people/{person}/photos/{rows[0]}.jpg", headers=VIEWER).status_code == 404
    assert client.delete(f"/api/v1/people/{person}/photos/{rows[0]}", headers=VIEWER).status_code == 403
    assert client.delete(f"/api/v1/people/{person}/photos/99999", headers=ADMIN).status_code == 404
    made = client.delete(f"/api/v1/people/{person}/photos/{rows[0]}", headers=ADMIN)
    assert made.status_code == 201 and made.json["kind"] == "drop" and made.json["name"] == person
    after = client.get(f"/api/v1/people/{person}/photos", headers=VIEWER).json["photos"]
    assert after[0]["dropped"] == made.json["id"] and all(p["dropped"] is None for p in after[1:])
    from edgeface.history.audit import AuditQuery
    trail, _ = app.extensions["edgeface.audit"].trail.query(AuditQuery(limit=100, action="correction"))
    assert (trail[0].target, trail[0].status) == (person, 201), "the newest correction row"
    assert len(svc.models.current().matcher) == len(model.labels) - 1
    assert svc.model_status().local["drop"] == 1


def test_the_enrolment_photos_are_shown_from_the_sites_training_folder(sample_model, media_dir, tmp_path):
    """Only files inside the person's folder whose SHA-256 is the model's source's are served."""
    import hashlib
    import shutil

    from edgeface.settings import TrainingSettings

    faces = tmp_path / "faces"
    shutil.copytree(media_dir / "faces", faces)
    settings = Settings(http=HttpSettings(api_token="admin-token-0123456789", viewer_token="viewer-token-0123456789"),
                        model=ModelSettings(file=str(sample_model)), events=EventSettings(dir=str(tmp_path / "ev")),
                        training=TrainingSettings(images=faces))
    made = create_app(settings)
    try:
        made.extensions["edgeface"].watcher.wait_loaded(30)
        client = made.test_client()
        photos = client.get("/api/v1/people/Barack Obama/photos", headers=VIEWER).json["photos"]
        assert len(photos) == 2 and all(p["has_image"] and p["image_url"] for p in photos)
        shown = client.get(photos[0]["image_url"], headers=VIEWER)
        assert shown.status_code == 200 and hashlib.sha256(shown.data).hexdigest() == photos[0]["sha256"]
        (faces / photos[1]["file"]).write_bytes(b"changed since training")      # not the photo the model holds
        assert client.get(photos[1]["image_url"], headers=VIEWER).status_code == 404
        assert client.get("/api/v1/people/Barack Obama/photos", headers=VIEWER).json["photos"][1]["image_url"] is None
    finally:
        made.extensions["edgeface"].close()

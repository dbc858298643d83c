"""Deleting a person reaches every copy of their data, measured: the test puts the person in each
place a site keeps them (visits and their snapshot files, the retained MQTT state on a real
mosquitto, a capture waiting here and one in the core's bucket on a real S3 server, the site's
correction), deletes them through the API, and shows each place empty afterwards, the counts in
the answer and in the audit trail. Their training photos are listed with the retrain command."""

from __future__ import annotations

import json
import time
from types import SimpleNamespace

import boto3
import numpy as np
from helpers import wait_until

from edgeface.events import RecognitionEvent
from edgeface.history.clips import Segment
from edgeface.images import encode_jpeg
from edgeface.matcher import UNKNOWN
from edgeface.settings import CameraSettings, EventSettings, HttpSettings, ModelSettings, Settings, UplinkSettings
from edgeface.uplink.outbox import Capture
from webapp import create_app

ADMIN = {"Authorization": "Bearer admin-token-0123456789"}


def retained(port: int, topic: str, recorder_factory) -> dict[str, bytes]:
    """What a consumer subscribing now is told: the retained messages (right after subscribing)."""
    rec = recorder_factory(port, topic)
    time.sleep(0.3)
    return {t: p for t, p, was_retained in rec.all() if was_retained}


def seen(camera: str, name: str, track: int, embedding: float) -> RecognitionEvent:
    bgr = np.random.default_rng(track).integers(0, 255, (120, 160, 3), dtype=np.uint8)
    return RecognitionEvent(camera, name, 0.3, [20, 80, 80, 20], time.time(), track=track, model_version="v1",
                            snapshot=encode_jpeg(bgr[20:80, 20:80].copy()), frame=SimpleNamespace(bgr=bgr, jpeg=None),
                            embedding=np.full(128, embedding, np.float32))


def test_deleting_a_person_empties_every_place_their_data_lived(sample_model, tmp_path, s3_env, broker,
                                                                recorder_factory):
    settings = Settings(http=HttpSettings(api_token="admin-token-0123456789"),
                        model=ModelSettings(file=str(sample_model)), events=EventSettings(dir=str(tmp_path / "ev")),
                        uplink=UplinkSettings(mqtt_url=broker.url, outbox_dir=str(tmp_path / "outbox"), site="lab"),
                        cameras=CameraSettings(captures="allowed", privacy="off"))   # an Unknown face's label goes
    app = create_app(settings)
    svc, client = app.extensions["edgeface"], app.test_client()
    s3 = boto3.client("s3", endpoint_url=s3_env["AWS_S3_ENDPOINT"], region_name="us-east-1")
    bucket = s3_env["AWS_S3_BUCKET"]

    def bucket_names() -> list[str]:
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", []) if o["Key"].endswith(".json")]
        return [n for k in keys for n in (json.loads(s3.get_object(Bucket=bucket, Key=k)["Body"].read()).get(f)
                                          for f in ("name", "label")) if n]

    try:
        svc.watcher.wait_loaded(30)
        person = svc.models.current().model.names[0]
        # 1. Seen on two cameras (visits, snapshots, retained "present" state) and once as Unknown.
        seen_at = time.time()
        for camera, track in (("door", 1), ("yard", 2)):
            svc._on_event(seen(camera, person, track, 0.1 * track))
        svc._on_event(seen("door", UNKNOWN, 3, 0.5))
        assert svc.history.flush()

        def states() -> list[bytes]:
            """The person's retained states a consumer connecting now is told (empty: cleared)."""
            return [p for p in retained(broker.port, f"edgeface/lab/+/person/{person}", recorder_factory).values() if p]

        wait_until(lambda: len(states()) == 2, 20, "retained states")
        # 2. An operator says the Unknown face is them: a correction here, a capture to the core.
        unknown = client.get("/api/v1/events?unknown=true", headers=ADMIN).json["events"][0]
        labelled = client.post(f"/api/v1/events/{unknown['id']}/label", json={"name": person}, headers=ADMIN)
        assert labelled.json["training_candidate"] == "outbox"
        wait_until(lambda: person in bucket_names(), 60, "the labelled capture in the core's bucket")
        # 3. One more capture of them waits here (the outbox stopped shipping: the core is away).
        svc.uplink.outbox.close()
        svc.uplink.outbox.add(Capture(camera="door", face_jpeg=b"\xff\xd8face", frame_jpeg=None, seen_at=time.time(),
                                      name=person, distance=0.3, model_version="v1", box=[20, 80, 80, 20],
                                      reason="sample", id="waiting-one"))
        # 4. Their visits' clips: one per camera, and one of the door after they left (someone else's).
        frame = encode_jpeg(np.zeros((48, 64, 3), np.uint8))
        kept = [svc.history.clips.save(Segment(camera, [(start + k / 4, frame) for k in range(33)], 4.0))
                for camera, start in (("door", seen_at - 3), ("yard", seen_at - 3), ("door", time.time() + 600))]
        clips = [svc.history.directory / c.path for c in kept if c]
        files = [p for p in (svc.history.directory / "snapshots").rglob("*.jpg")]
        assert len(clips) == 3 and all(c.exists() for c in clips)
        before = {
            "visits": len(client.get(f"/api/v1/events?name={person}", headers=ADMIN).json["events"]),
            "snapshot files": len(files),
            "retained MQTT states": len(states()),
            "captures here": svc.uplink.outbox.status()["pending"],
            "captures at the core": bucket_names().count(person),
            "corrections": sum(c["name"] == person for c in client.get("/api/v1/corrections", headers=ADMIN).json
                               ["corrections"]),
        }
        assert all(before.values()), before

        gone = client.delete(f"/api/v1/people/{person}/history", headers=ADMIN)
        assert gone.status_code == 200, gone.json
        removed = gone.json["removed"]
        assert (removed["visits"], removed["snapshots"]) == (3, 6)     # two seen, one labelled; face + frame each
        assert (removed["mqtt_retained"], removed["local"], removed["bucket"], removed["corrections"]) == (2, 1, 1, 1)
        assert removed["clips"] == 2                                   # the clips showing their visits
        assert [c.exists() for c in clips] == [False, False, True]     # the later one showed only others
        photos = [f for f in gone.json["face_images"]]
        assert photos and all(p.startswith(f"{person}/") for p in photos)
        assert "edgeface train --images face-images" in gone.json["retrain"] and person in gone.json["retrain"]

        wait_until(lambda: not states(), 20, "the retained states cleared")
        after = {
            "visits": len(client.get(f"/api/v1/events?name={person}", headers=ADMIN).json["events"]),
            "snapshot files": len([p for p in files if p.exists()]),
            "retained MQTT states": len(states()),
            "captures here": svc.uplink.outbox.status()["pending"],
            "captures at the core": bucket_names().count(person),
            "corrections": sum(c["name"] == person for c in client.get("/api/v1/corrections", headers=ADMIN).json
                               ["corrections"]),
        }
        assert after == dict.fromkeys(before, 0), after
        assert client.get("/api/v1/events?unknown=true", headers=ADMIN).json["events"] == []   # the labelled one
        rows = client.get("/api/v1/audit?action=person.delete", headers=ADMIN).json["rows"]
        assert rows[0]["target"] == person and json.loads(rows[0]["detail"])["removed"]["bucket"] == 1
    finally:
        svc.close()

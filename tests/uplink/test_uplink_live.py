"""The live service with the uplink on: a real camera (the sample clip), the sample model, a real
broker, a real S3. Its recognitions and its camera's arrival and departure reach MQTT; its Unknown
and doubtful faces reach the bucket as captures."""

from __future__ import annotations

import json

import boto3
from helpers import wait_until

from edgeface.live.service import LiveService
from edgeface.settings import CameraSettings, ModelSettings, Settings, UplinkSettings
from edgeface.uplink.mqtt import Topics


def test_the_live_service_publishes_what_it_sees(broker, recorder_factory, sample_model, media_dir, tmp_path,
                                                 s3_env):
    rec = recorder_factory(broker.port)
    clip = media_dir / "video" / "short_hamilton_clip.mp4"
    uplink = UplinkSettings(mqtt_url=broker.url, site="lab", mqtt_queue_dir=str(tmp_path / "queue"),
                            outbox_dir=str(tmp_path / "outbox"))
    service = LiveService(Settings(model=ModelSettings(file=str(sample_model)),
                                   cameras=CameraSettings(initial=[str(clip)], captures="allowed"),
                                   uplink=uplink)).start()
    try:
        events = rec.wait_events(1, timeout=120)
        camera = service.camera_ids()[0]
        topics = Topics("lab")
        assert events[0]["type"] == "start" and events[0]["camera"] == camera
        assert events[0]["name"] in {*service.models.current().matcher.names, "Unknown"}
        assert rec.all(topics.camera(camera))[0][1] == b"online"
        # The clip has faces the model does not know (or barely): some pass the quality gate.
        wait_until(lambda: service.uplink.status()["outbox"]["shipped"] >= 1, 120, "a capture in S3")
    finally:
        service.close()
    wait_until(lambda: rec.all(topics.availability)[-1][1] == b"offline", 10, "the app's goodbye")
    assert rec.all(topics.camera(camera))[-1][1] == b"offline"
    last = max((e for e in rec.events() if e["event_id"] == events[0]["event_id"]), key=lambda e: e["seq"])
    assert last["type"] == "end"                          # camera_offline or shutdown, not left open
    s3 = boto3.client("s3", endpoint_url=s3_env["AWS_S3_ENDPOINT"], region_name="us-east-1")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=s3_env["AWS_S3_BUCKET"])["Contents"]]
    sidecars = [k for k in keys if k.endswith(".json")]
    assert sidecars and all(k.startswith(f"captures/lab/{camera}/") for k in keys)
    sidecar = json.loads(s3.get_object(Bucket=s3_env["AWS_S3_BUCKET"], Key=sidecars[0])["Body"].read())
    assert sidecar["id"] in {e["recognition_id"] for e in rec.events()}     # the capture of a published event
    assert len(sidecar["embedding"]) == 128
    # Which capture ships first is the order events come (a named face's daily sample may).
    assert sidecar["reason"] in ("unknown", "doubtful", "sample") and sidecar["quality"]["size"] >= 60

"""The live service with the uplink on: a real camera (the sample clip), the sample model, a real
broker. Its recognitions and its camera's arrival and departure reach MQTT."""

from __future__ import annotations

from helpers import wait_until

from edgeface.live.service import LiveService, ServiceConfig
from edgeface.uplink.mqtt import Topics
from edgeface.uplink.settings import UplinkSettings


def test_the_live_service_publishes_what_it_sees(broker, recorder_factory, sample_model, media_dir, tmp_path):
    rec = recorder_factory(broker.port)
    clip = media_dir / "video" / "short_hamilton_clip.mp4"
    uplink = UplinkSettings(mqtt_url=broker.url, site="lab", mqtt_queue_dir=str(tmp_path / "queue"))
    service = LiveService(ServiceConfig(model_path=str(sample_model), cameras=[str(clip)], uplink=uplink)).start()
    try:
        events = rec.wait_events(1, timeout=120)
        camera = service.camera_ids()[0]
        topics = Topics("lab")
        assert events[0]["type"] == "start" and events[0]["camera"] == camera
        assert events[0]["name"] in {*service.models.current().matcher.names, "Unknown"}
        assert rec.all(topics.camera(camera))[0][1] == b"online"
        recorded = {ev.id for ev in service.events.query(limit=1000)}
        assert events[0]["recognition_id"] in recorded        # the same recognition as /api/v1/events
    finally:
        service.close()
    wait_until(lambda: rec.all(topics.availability)[-1][1] == b"offline", 10, "the app's goodbye")
    assert rec.all(topics.camera(camera))[-1][1] == b"offline"
    last = max((e for e in rec.events() if e["event_id"] == events[0]["event_id"]), key=lambda e: e["seq"])
    assert last["type"] == "end"                          # camera_offline or shutdown, not left open

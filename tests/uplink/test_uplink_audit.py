"""The audit trail goes to the core over MQTT like events (real mosquitto): one message per row on
``edgeface/<site>/audit``, carrying its hash and the previous row's, so the core holds a copy it
can check by itself — and that shows rows later removed from the end of the edge's trail."""

from __future__ import annotations

import json

from helpers import wait_until

from edgeface.history.audit import GENESIS, row_hash
from edgeface.settings import EventSettings, HttpSettings, ModelSettings, Settings, UplinkSettings
from webapp import create_app

ADMIN = "uplink-audit-admin-token-01234"


def test_rows_reach_the_core_and_chain_there(broker, recorder_factory, tmp_path):
    rec = recorder_factory(broker.port, "edgeface/lab/audit")
    app = create_app(Settings(http=HttpSettings(api_token=ADMIN), model=ModelSettings(file="/nonexistent/model.data"),
                              events=EventSettings(dir=str(tmp_path / "events")),
                              uplink=UplinkSettings(mqtt_url=broker.url, site="lab")), start=False)
    service = app.extensions["edgeface"]
    service.uplink.start()           # only the uplink: no cameras or model needed to record requests
    try:
        client = app.test_client()
        assert client.post("/login", data={"token": "not-it"}).status_code == 401
        assert client.post("/login", data={"token": ADMIN}).status_code == 302
        assert client.get("/api/v1/events?camera=door").status_code == 200
        got = wait_until(lambda: [json.loads(p) for _, p, _ in rec.all()] if len(rec.all()) >= 3 else None,
                         30, "3 audit rows at the broker")
    finally:
        service.uplink.close()
        service.history.close()
    rows = sorted({m["message_id"]: m for m in got}.values(), key=lambda m: m["seq"])
    assert [(m["type"], m["site"], m["action"], m["role"]) for m in rows] == [
        ("audit", "lab", "login.failed", None), ("audit", "lab", "login", "admin"), ("audit", "lab", "search", "admin")]
    prev = GENESIS
    for m in rows:            # the core checks the chain with the same canonical hash
        assert m["prev_hash"] == prev and row_hash(m) == m["hash"]
        prev = m["hash"]
    assert ADMIN not in json.dumps(got) and "not-it" not in json.dumps(got)

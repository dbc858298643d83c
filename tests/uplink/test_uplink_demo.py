"""``edgeface demo`` with mosquitto installed: an edge broker on 127.0.0.1 beside the app and the
camera, the app's events on it (what ``mosquitto_sub -t 'edgeface/#' -v`` shows a newcomer), and
Ctrl-C stops the broker too."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import REPO, free_port, require_tool, wait_until
from mqtt_helpers import Recorder

pytestmark = pytest.mark.slow


def test_the_demo_publishes_its_events_on_an_edge_broker(sample_model, tmp_path):
    require_tool("mosquitto")
    log = tmp_path / "demo.log"
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache"), "PYTHONUNBUFFERED": "1"}
    env.pop("EDGEFACE_MQTT_URL", None)
    with open(log, "wb") as out:
        demo = subprocess.Popen([sys.executable, "-m", "edgeface", "demo", "--port", str(free_port()),
                                 "--model", str(sample_model)], stdout=out, stderr=subprocess.STDOUT, cwd=REPO,
                                env=env)
    rec = None
    try:
        port = int(wait_until(lambda: (m := re.search(r"MQTT broker on 127\.0\.0\.1:(\d+)", log.read_text()))
                              and m.group(1), 120, f"the demo's broker:\n{log.read_text()}"))
        rec = Recorder(port)
        wait_until(lambda: "mosquitto_sub" in log.read_text(), 240, f"the demo's hint:\n{log.read_text()}")
        hint = re.findall(r"mosquitto_sub.*", log.read_text())[0]
        assert "'edgeface/#'" in hint and (port == 1883 or f"-p {port}" in hint)
        events = rec.wait_events(1, timeout=120)
        assert events[0]["site"] == "demo" and events[0]["camera"] and events[0]["seen_at"]
        online = wait_until(lambda: rec.all("edgeface/demo/availability"), 10, "the app's availability")
        assert online[0][1] == b"online"
        broker_pids = [pid for pid in _children(demo.pid) if b"mosquitto" in _read(Path(f"/proc/{pid}/cmdline"))]
    finally:
        if rec is not None:
            rec.close()
        demo.send_signal(signal.SIGINT)
        code = demo.wait(60)
    assert code == 0, log.read_text()[-3000:]
    assert len(broker_pids) == 1
    stat = _read(Path(f"/proc/{broker_pids[0]}/stat"))
    assert not stat or stat.rsplit(b")", 1)[1].split()[0] == b"Z", "Ctrl-C left the demo's broker running"


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        fields = _read(stat).rsplit(b")", 1)[-1].split()
        if len(fields) > 1 and int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError:
        return b""

"""``edgeface demo`` as a user runs it: trains the sample model, starts the app and a simulated
camera (separate processes, real mDNS on 127.0.0.1), prints the URL and an admin and a viewer
token; Ctrl-C stops everything, the app before the broker."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time

import pytest
import requests
from helpers import alive_process, children_of, descendants, free_port
from webapp_helpers import REPO, wait_until

pytestmark = pytest.mark.slow


def test_demo_runs_the_whole_system_and_stops_cleanly_on_ctrl_c(tmp_path):
    port = free_port()
    model = tmp_path / "demo-model.data"
    log = tmp_path / "demo.log"
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache"), "PYTHONUNBUFFERED": "1"}
    for var in ("EDGEFACE_API_TOKEN", "EDGEFACE_VIEWER_TOKEN"):
        env.pop(var, None)
    with open(log, "wb") as out:
        # The shipped sample media, as the README's demo command uses them.
        demo = subprocess.Popen([sys.executable, "-m", "edgeface", "demo", "--port", str(port), "--model", str(model)],
                                stdout=out, stderr=subprocess.STDOUT, cwd=REPO, env=env)
    try:
        url = wait_until(lambda: (m := re.search(r"open (http://\S+) in a browser", log.read_text())) and m.group(1),
                         timeout=240, what=f"the demo's URL:\n{log.read_text()}")
        assert url == f"http://127.0.0.1:{port}/"
        assert model.is_file(), "the demo did not train the sample model"
        tokens = dict(re.findall(r"log in as (admin|viewer) \(.*\) with: (\S+)", log.read_text()))
        assert set(tokens) == {"admin", "viewer"} and tokens["admin"] != tokens["viewer"], log.read_text()
        admin, viewer = ({"Authorization": f"Bearer {tokens[role]}"} for role in ("admin", "viewer"))
        assert requests.get(url + "api/v1/cameras", timeout=10).status_code == 401, "the demo runs without login"
        refused = requests.post(url + "api/v1/cameras", json={"url": "rtsp://127.0.0.1:9/x"}, headers=viewer,
                                timeout=10)
        assert refused.status_code == 403, "the viewer token may change things"
        children = children_of(demo.pid)
        # + the edge MQTT broker where mosquitto is installed (tests/uplink/test_uplink_demo.py)
        assert len(children) == 2 + bool(shutil.which("mosquitto")), f"expected the app and a camera: {children}"
        everything = descendants(demo.pid)       # + gunicorn's worker and its face engine processes
        camera_port = re.search(r"camera demo-camera-1: .* on http://127.0.0.1:(\d+)/stream", log.read_text()).group(1)
        cams = requests.get(url + "api/v1/cameras", headers=viewer, timeout=10).json()["cameras"]
        demo_cams = [c for c in cams if f":{camera_port}/" in c["url"] and c["online"]]
        assert demo_cams, cams
        for person in ("Lin-Manuel Miranda", "Alex Lacamoire"):   # Alex: ~26 px, 0.6 s of each 9 s loop
            wait_until(lambda: requests.get(url + "api/v1/events", params={"camera": demo_cams[0]["id"],
                                            "name": person}, headers=admin, timeout=10).json()["events"],
                       timeout=180, what=f"the demo to name {person}")
        assert requests.get(url, timeout=10, allow_redirects=False).status_code == 302    # to the login page
        assert requests.get(url + "login", timeout=10).status_code == 200
    finally:
        demo.send_signal(signal.SIGINT)         # what Ctrl-C in the terminal sends
        code = demo.wait(60)
    assert code == 0, log.read_text()[-3000:]
    time.sleep(0.5)
    alive = [pid for pid in everything if alive_process(pid)]
    assert not alive, f"demo left processes running: {alive}"
    with pytest.raises(requests.ConnectionError):
        requests.get(url + "healthz", timeout=5)


STOPS = """
import signal, sys, time
log, label, linger = sys.argv[1], sys.argv[2], float(sys.argv[3])
def stop(*_):
    time.sleep(linger)              # the app sends what it still holds before it exits
    open(log, "a").write(label + " stopped\\n")
    sys.exit(0)
signal.signal(signal.SIGTERM, stop)
open(log, "a").write(label + " ready\\n")
while True:
    time.sleep(1)
"""


def test_the_demo_stops_the_app_before_the_broker(tmp_path):
    """Real processes standing in for the broker and the app: the broker is asked to stop only once
    the app, which takes a while to send its last events, has exited."""
    from edgeface.lifecycle import ChildProcess
    from edgeface.tools.demo import Demo

    log = tmp_path / "order.log"
    demo = Demo(port=free_port())
    demo.broker = ChildProcess("broker", [sys.executable, "-c", STOPS, str(log), "broker", "0"]).start()
    app = ChildProcess("app", [sys.executable, "-c", STOPS, str(log), "app", "1.0"]).start()
    demo.procs = [demo.broker, app]
    wait_until(lambda: log.is_file() and log.read_text().count("ready") == 2, 30, "both stand-ins to start")
    demo.stop_all()
    stopped = [line for line in log.read_text().splitlines() if line.endswith("stopped")]
    assert stopped == ["app stopped", "broker stopped"], "the broker stopped before the app had sent its last events"

"""/healthz and /readyz answer while every request thread is busy (round 3, "what to build" 1): the
server's worker (``webapp.server.HeadBufferingWorker``) under gunicorn, 2 threads, with a small
Flask app whose /slow holds a thread for a minute. Probes run on threads of their own."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import requests
from helpers import free_port
from webapp_helpers import wait_until

APP = '''
import time
from flask import Flask
app = Flask(__name__)

@app.get("/slow")
def slow():
    time.sleep(60)
    return "late"

@app.get("/healthz")
def healthz():
    return "ok"

@app.get("/readyz")
def readyz():
    return "ready"
'''


def test_probes_answer_while_every_thread_is_busy(tmp_path: Path):
    (tmp_path / "busyapp.py").write_text(APP)
    port = free_port()
    repo = str(Path(__file__).resolve().parents[2])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [repo, os.environ.get("PYTHONPATH")]))}
    server = subprocess.Popen([sys.executable, "-m", "gunicorn", "-k", "webapp.server.HeadBufferingWorker",
                               "--threads", "2", "-w", "1", "-b", f"127.0.0.1:{port}", "--chdir", str(tmp_path),
                               "--graceful-timeout", "1", "busyapp:app"],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: requests.get(base + "/healthz", timeout=5).ok, what="gunicorn to answer")
        hogs = [threading.Thread(target=_quietly_get, args=(base + "/slow",), daemon=True) for _ in range(4)]
        for hog in hogs:
            hog.start()
        wait_until(lambda: _threads_busy(base), what="every request thread to be busy")
        for path in ("/healthz", "/readyz", "/healthz"):
            reply = requests.get(base + path, timeout=10)
            assert reply.status_code == 200, (path, reply.status_code)
    finally:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()


def _quietly_get(url: str) -> None:
    try:
        requests.get(url, timeout=90)
    except requests.RequestException:
        pass


def _threads_busy(base: str) -> bool:
    """True once an ordinary request gets no answer within 2 s (no thread free to run it)."""
    try:
        requests.get(base + "/nothing-here", timeout=2)
    except requests.Timeout:
        return True
    return False

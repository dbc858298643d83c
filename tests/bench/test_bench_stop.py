"""``edgeface bench`` stopped by SIGTERM (``kill``, a job's timeout) as by Ctrl-C: the servers and
cameras it started stop with it, none is left running."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from helpers import REPO, alive_process, descendants, wait_until


def _command(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def test_sigterm_stops_the_bench_and_what_it_started(tmp_path):
    log = tmp_path / "bench.log"
    with open(log, "wb") as out:      # the decode suite: an RTSP server first, a camera simulator later
        bench = subprocess.Popen([sys.executable, "-m", "edgeface", "bench", "--suite", "decode"],
                                 stdout=out, stderr=subprocess.STDOUT, cwd=REPO)
    try:
        started = wait_until(lambda: [p for p in descendants(bench.pid) if "rtsp_server.py" in _command(p)]
                             and descendants(bench.pid), timeout=120, what="the bench's RTSP server")
        bench.send_signal(signal.SIGTERM)
        code = bench.wait(60)
    finally:
        bench.kill()
    assert code == 130, log.read_text()[-3000:]
    assert "Traceback" not in log.read_text()
    wait_until(lambda: not [p for p in started if alive_process(p)], timeout=15,
               what=f"the bench's children {started} to stop")

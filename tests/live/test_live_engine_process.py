"""ProcessEngine with real child processes: a child that dies is replaced, the call it was
serving fails with a clear error, and children that keep dying make the engine give up."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from edgeface.engine import EngineSettings
from edgeface.live.engine_process import EngineProcessError, ProcessEngine


def _cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])          # utime + stime


def _kill(pid: int) -> None:
    os.kill(pid, signal.SIGKILL)


@pytest.fixture
def engine():
    engine = ProcessEngine(EngineSettings(), processes=1)
    yield engine
    engine.close()
    engine.close()                      # idempotent


def test_a_child_that_dies_mid_call_is_replaced_and_that_call_fails_cleanly(engine):
    blank = np.zeros((120, 160, 3), np.uint8)
    assert engine.detect(blank) == []                  # the child is up and answering
    (first,) = engine.pids()
    # A call that keeps the child busy for seconds: many faces to encode on a large frame.
    frame = np.random.default_rng(0).integers(0, 255, (1080, 1920, 3), dtype=np.uint8)
    boxes = [(y, x + 150, y + 150, x) for y in range(0, 900, 150) for x in range(0, 1700, 150)]
    outcome: dict = {}

    def call():
        try:
            outcome["value"] = engine.encode(frame, boxes)
        except Exception as err:  # noqa: BLE001 - the test looks at what came out
            outcome["error"] = err

    before = _cpu_ticks(first)
    caller = threading.Thread(target=call)
    caller.start()
    deadline = time.monotonic() + 30
    while _cpu_ticks(first) < before + 5:              # the child is working on our call
        assert time.monotonic() < deadline, "the child never started on the call"
        time.sleep(0.01)
    _kill(first)
    caller.join(30)
    assert not caller.is_alive(), "the call in flight hung when its child died"
    assert "value" not in outcome
    assert isinstance(outcome["error"], EngineProcessError) and f"process {first} died" in str(outcome["error"])
    (second,) = engine.pids()
    assert second != first and engine.failed is None
    assert engine.detect(blank) == [], "the replacement child does not answer"


def test_children_that_keep_dying_at_start_make_the_engine_give_up(engine):
    blank = np.zeros((120, 160, 3), np.uint8)
    for _ in range(3):                                  # MAX_QUICK_DEATHS, each soon after its start
        (pid,) = engine.pids()
        _kill(pid)
        with pytest.raises(EngineProcessError, match="died"):
            engine.detect(blank)
    assert engine.pids() == [] and "keep dying at start" in (engine.failed or "")
    with pytest.raises(EngineProcessError, match="EDGEFACE_LIVE_ANALYSIS_PROCESSES=0"):
        engine.detect(blank)

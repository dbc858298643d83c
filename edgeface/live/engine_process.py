"""The face engine in child processes, so dlib cannot starve the camera threads of the GIL.

Measured with 4 cameras x 30 fps on 2 cores: with detection and encoding in threads of the app
process, dlib holds the GIL long enough that output fell to ~19 fps per camera while the
process used under one core; with the same work in child processes every camera kept 30 fps.

``ProcessEngine`` has ``detect``/``encode`` like ``FaceEngine``. Each call goes to an idle child
(a frame travels through a socket pair: ~0.7 MB, well under a millisecond). Children are plain
``python -m edgeface.live.engine_process`` processes — nothing of the parent (threads, sockets,
its ``__main__``) is inherited or re-run. A child that dies is replaced; one that keeps dying at
start makes the engine give up with a clear error instead of restarting forever.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import signal
import socket
import sys
import threading
import time
from dataclasses import asdict
from multiprocessing.connection import Connection
from pathlib import Path
from typing import cast

import numpy as np

from edgeface.engine import Box, EngineSettings, FaceEngine
from edgeface.lifecycle import ChildProcess
from edgeface.live.metrics import StageTimes

log = logging.getLogger(__name__)

QUICK_DEATH_S = 10.0    # a child that dies sooner than this after starting counts as failing to start
MAX_QUICK_DEATHS = 3


class EngineProcessError(RuntimeError):
    """The face engine's child processes cannot run."""


class _Child:
    def __init__(self, settings: EngineSettings):
        parent_end, child_end = socket.socketpair()
        package_root = str(Path(__file__).resolve().parents[2])
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")]))}
        with child_end:
            self.process = ChildProcess(
                "face engine", [sys.executable, "-m", "edgeface.live.engine_process", str(child_end.fileno()),
                                json.dumps(asdict(settings))],
                env=env, pass_fds=[child_end.fileno()]).start()
        self.conn = Connection(parent_end.detach())

    @property
    def pid(self) -> int:
        return self.process.pid

    def call(self, op: str, rgb, boxes=None) -> tuple[object, float]:
        """The result and the seconds the child spent on it."""
        self.conn.send((op, rgb, boxes))     # our own child: pickle between trusted processes
        ok, value, seconds = self.conn.recv()
        if not ok:
            raise RuntimeError(f"face engine: {value}")
        return value, seconds

    def stop(self, timeout: float = 5.0) -> None:
        try:
            self.conn.send(None)             # asked to stop this way, it exits cleanly
        except OSError:
            pass
        self.process.stop(timeout, terminate=False)
        self.conn.close()


class ProcessEngine:
    """``processes`` FaceEngines in child processes; thread-safe, one call per child at a time."""

    def __init__(self, settings: EngineSettings, processes: int = 2, stages: StageTimes | None = None):
        self.settings = settings
        self.stages = stages
        self._idle: queue.Queue[_Child] = queue.Queue()
        self._children: list[_Child] = []
        self._lock = threading.Lock()
        self._quick_deaths = 0
        self.failed: str | None = None
        for _ in range(max(1, processes)):
            self._add_child()

    def _add_child(self) -> None:
        child = _Child(self.settings)
        with self._lock:
            self._children.append(child)
        self._idle.put(child)

    def _call(self, op: str, rgb, boxes=None):
        if self.failed:
            raise EngineProcessError(self.failed)
        child = self._idle.get()
        try:
            result, seconds = child.call(op, rgb, boxes)
        except (EOFError, OSError) as err:
            self._replace(child, err)
            raise EngineProcessError(f"face engine process {child.pid} died ({err.__class__.__name__})") \
                from None
        self._idle.put(child)
        if self.stages is not None:
            self.stages.add(op, seconds)
        return result

    def _replace(self, child: _Child, err: Exception) -> None:
        with self._lock:
            if child in self._children:
                self._children.remove(child)
        child.stop(timeout=1)
        quick = time.monotonic() - child.process.started_at < QUICK_DEATH_S
        self._quick_deaths = self._quick_deaths + 1 if quick else 0
        if self._quick_deaths >= MAX_QUICK_DEATHS:
            self.failed = (f"face engine processes keep dying at start (exit {child.process.returncode}); "
                           "set EDGEFACE_LIVE_ANALYSIS_PROCESSES=0 to run the engine in threads, and check the log")
            log.error("%s", self.failed)
            return
        log.error("face engine process %d died (%s); starting a new one", child.pid, err)
        self._add_child()

    def detect(self, rgb: np.ndarray) -> list[Box]:
        return cast(list[Box], self._call("detect", rgb))

    def encode(self, rgb: np.ndarray, boxes: list[Box]) -> np.ndarray:
        return cast(np.ndarray, self._call("encode", rgb, boxes))

    def detect_turned(self, rgb: np.ndarray) -> list[Box]:
        return cast(list[Box], self._call("turned", rgb))

    def pids(self) -> list[int]:
        with self._lock:
            return [c.pid for c in self._children]

    def close(self) -> None:
        """Stop the children (idempotent)."""
        with self._lock:
            children, self._children = list(self._children), []
        for child in children:
            child.stop()


def _serve(conn: Connection, settings: EngineSettings) -> None:
    """Child: answer ("detect", rgb, None), ("turned", rgb, None) and ("encode", rgb, boxes) until
    told to stop or orphaned."""
    engine = FaceEngine(settings)
    ops = {"detect": lambda rgb, _: engine.detect(rgb), "turned": lambda rgb, _: engine.detect_turned(rgb),
           "encode": engine.encode}
    while True:
        try:
            request = conn.recv()
        except (EOFError, OSError):          # the parent is gone
            return
        if request is None:
            return
        started = time.process_time()       # CPU, not wall: a busy machine must not inflate the cost
        try:
            op, rgb, boxes = request
            result = ops[op](rgb, boxes)
            reply: tuple[bool, object, float] = (True, result, time.process_time() - started)
        except Exception as err:  # noqa: BLE001 - report to the caller, keep serving
            reply = (False, f"{err.__class__.__name__}: {err}", 0.0)
        try:
            conn.send(reply)
        except OSError:                      # the parent is gone
            return


if __name__ == "__main__":
    # Ctrl-C in a terminal reaches the whole process group: the parent decides when we stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _serve(Connection(int(sys.argv[1])), EngineSettings(**json.loads(sys.argv[2])))

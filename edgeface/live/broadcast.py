"""The latest annotated JPEG of one camera, handed to any number of viewers.

The worker encodes each output frame once; every MJPEG client waits on the same ``Latest`` and
sends the same bytes. Viewers that fall behind skip frames, they never queue them. The worker
asks ``wanted()`` so it can skip annotation entirely while nobody watches.
"""

from __future__ import annotations

import threading
import time

from edgeface.cameras.latest import Latest

DEMAND_HOLD_S = 3.0   # a single-frame request keeps rendering on this long (polling grid tiles)


class FrameBroadcaster:
    def __init__(self):
        self._frames: Latest[bytes] = Latest()
        self._lock = threading.Lock()
        self._viewers = 0
        self._demand_until = 0.0

    def publish(self, jpeg: bytes) -> None:
        self._frames.publish(jpeg)

    def latest(self) -> tuple[int, bytes | None]:
        return self._frames.seq, self._frames.get()

    def wait(self, after_seq: int, timeout: float) -> tuple[int, bytes] | None:
        """The next frame newer than ``after_seq``, or None on timeout or close."""
        return self._frames.wait(after_seq, timeout)

    def touch(self) -> None:
        """Someone asked for a single frame: keep rendering for a while."""
        self._demand_until = time.monotonic() + DEMAND_HOLD_S

    def wanted(self) -> bool:
        return self._viewers > 0 or time.monotonic() < self._demand_until

    @property
    def viewers(self) -> int:
        return self._viewers

    @property
    def closed(self) -> bool:
        return self._frames.closed

    def __enter__(self) -> FrameBroadcaster:
        with self._lock:
            self._viewers += 1
        return self

    def __exit__(self, *exc) -> None:
        with self._lock:
            self._viewers -= 1

    def close(self) -> None:
        self._frames.close()

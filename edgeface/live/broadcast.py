"""The latest annotated JPEG of one camera, handed to any number of viewers.

The worker encodes each output frame once; every MJPEG client waits on the same condition and
sends the same bytes. Viewers that fall behind skip frames, they never queue them. The worker
asks ``wanted()`` so it can skip annotation entirely while nobody watches.
"""

from __future__ import annotations

import threading
import time

DEMAND_HOLD_S = 3.0   # a single-frame request keeps rendering on this long (polling grid tiles)


class FrameBroadcaster:
    def __init__(self):
        self._cond = threading.Condition()
        self._seq = 0
        self._jpeg: bytes | None = None
        self._viewers = 0
        self._demand_until = 0.0
        self._closed = False

    def publish(self, jpeg: bytes) -> None:
        with self._cond:
            self._seq += 1
            self._jpeg = jpeg
            self._cond.notify_all()

    def latest(self) -> tuple[int, bytes | None]:
        return self._seq, self._jpeg

    def wait(self, after_seq: int, timeout: float) -> tuple[int, bytes] | None:
        """The next frame newer than ``after_seq``, or None on timeout or close."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not self._closed:
                if self._seq > after_seq and self._jpeg is not None:
                    return self._seq, self._jpeg
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._cond.wait(left)
        return None

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
        return self._closed

    def __enter__(self) -> "FrameBroadcaster":
        with self._cond:
            self._viewers += 1
        return self

    def __exit__(self, *exc) -> None:
        with self._cond:
            self._viewers -= 1

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

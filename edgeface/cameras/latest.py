"""The one hand-off used between frame producers and consumers: only the newest value is kept."""

from __future__ import annotations

import threading
import time
from typing import Generic, TypeVar

T = TypeVar("T")


class Latest(Generic[T]):
    """The newest value of a stream with its sequence number (1, 2, ...); readers wait for newer.

    A slow reader skips values instead of building a backlog. ``close()`` wakes every waiter.
    Written to by one producer thread; read by any number of threads.
    """

    def __init__(self):
        self._cond = threading.Condition()
        self._seq = 0
        self._value: T | None = None
        self._closed = False

    @property
    def seq(self) -> int:
        return self._seq

    @property
    def closed(self) -> bool:
        return self._closed

    def get(self) -> T | None:
        return self._value

    def publish(self, value: T) -> int:
        with self._cond:
            self._seq += 1
            self._value = value
            self._cond.notify_all()
            return self._seq

    def wait(self, after_seq: int = 0, timeout: float = 1.0) -> tuple[int, T] | None:
        """``(seq, value)`` once ``seq > after_seq``; None on timeout or when closed."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not self._closed:
                if self._seq > after_seq and self._value is not None:   # publish() set it
                    return self._seq, self._value
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._cond.wait(left)
        return None

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

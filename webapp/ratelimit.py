"""Per-client limits on failed secret guesses (API token, login form, camera token).

A token bucket per client address: each failure takes a token, tokens come back at
``failures / per_s``; with the bucket empty, every attempt from that address is answered 429 with
``Retry-After`` — including one with the right secret, or a guesser could keep guessing and learn
which guess succeeded. Successes cost nothing, and other addresses are unaffected.
Memory is bounded: only the ``max_clients`` most recently failing addresses are remembered.

Clients are told apart by the TCP peer address. Behind a reverse proxy all clients share the
proxy's address (and would share one bucket); ``X-Forwarded-For`` is not trusted, as anyone can
send it.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

#: Defaults until they move into the settings tree: 10 failures a minute per client address.
FAILURES_PER_WINDOW = 10
WINDOW_S = 60.0
MAX_CLIENTS = 10_000


class FailureLimiter:
    """``retry_after(client)`` before checking a secret, ``failed(client)`` when it was wrong."""

    def __init__(self, failures: int = FAILURES_PER_WINDOW, per_s: float = WINDOW_S, *,
                 max_clients: int = MAX_CLIENTS, clock: Callable[[], float] = time.monotonic):
        if failures < 1 or per_s <= 0 or max_clients < 1:
            raise ValueError("a failure limit needs failures >= 1, per_s > 0 and max_clients >= 1")
        self.capacity = float(failures)
        self.refill_per_s = failures / per_s
        self.max_clients = max_clients
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # client -> (tokens, at)

    def retry_after(self, client: str) -> int | None:
        """Whole seconds until ``client`` may try again, or None if it may try now."""
        with self._lock:
            tokens = self._tokens(client, self._clock())
        if tokens >= 1.0:
            return None
        return max(1, math.ceil((1.0 - tokens) / self.refill_per_s))

    def failed(self, client: str) -> None:
        """Count one wrong secret from ``client``."""
        with self._lock:
            now = self._clock()
            self._buckets[client] = (max(0.0, self._tokens(client, now) - 1.0), now)
            self._buckets.move_to_end(client)
            while len(self._buckets) > self.max_clients:
                self._buckets.popitem(last=False)  # the client that failed longest ago

    def clients(self) -> int:
        """How many addresses are remembered (bounded by ``max_clients``)."""
        return len(self._buckets)

    def _tokens(self, client: str, now: float) -> float:
        tokens, at = self._buckets.get(client, (self.capacity, now))
        return min(self.capacity, tokens + (now - at) * self.refill_per_s)

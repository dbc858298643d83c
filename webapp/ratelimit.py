"""Limits on failed secret guesses (API token, login form, camera token).

A token bucket per client: each failure takes a token, tokens come back at ``failures / per_s``;
with the bucket empty, every attempt from that client is answered 429 with ``Retry-After`` —
including one with the right secret, or a guesser could keep guessing and learn which guess
succeeded. Successes cost nothing, and other clients are unaffected. Memory is bounded: only the
``max_clients`` most recently failing clients are remembered.

A guesser with many addresses gets a bucket per address, so there is also one bucket for all
clients together (``global_per_s`` failures a second, bursts of ``global_burst``): with it empty,
only clients that gave a right secret in the last day may try; everyone else gets 429. Operators
keep working through a distributed guess flood; a new client waits it out.

Clients are told apart by address (``request.remote_addr``: the TCP peer, or the address a
trusted proxy forwarded, see ``webapp.proxies``); IPv6 clients by their /64, which one host
usually holds whole. Guessing is hopeless anyway with tokens of 128 bits or more (docs/security.md):
these limits keep logs and CPU calm, and make an attack visible.
"""

from __future__ import annotations

import ipaddress
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

#: Defaults until they move into the settings tree: 10 failures a minute per client; 5 a second
#: (bursts of 100) from all clients together.
FAILURES_PER_WINDOW = 10
WINDOW_S = 60.0
MAX_CLIENTS = 10_000
GLOBAL_FAILURES_PER_S = 5.0
GLOBAL_BURST = 100
#: How long a client that gave a right secret may still try while the global bucket is empty.
KNOWN_FOR_S = 86_400.0


def client_key(address: str) -> str:
    """The bucket a client address counts in: IPv4 (and IPv4-mapped) by address, IPv6 by /64."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


class FailureLimiter:
    """``retry_after(client)`` before checking a secret, ``failed(client)`` when it was wrong,
    ``succeeded(client)`` when it was right."""

    def __init__(self, failures: int = FAILURES_PER_WINDOW, per_s: float = WINDOW_S, *,
                 max_clients: int = MAX_CLIENTS, global_per_s: float = GLOBAL_FAILURES_PER_S,
                 global_burst: int = GLOBAL_BURST, clock: Callable[[], float] = time.monotonic):
        if failures < 1 or per_s <= 0 or max_clients < 1 or global_per_s <= 0 or global_burst < 1:
            raise ValueError("a failure limit needs failures >= 1, per_s > 0, max_clients >= 1 and a global limit")
        self.capacity = float(failures)
        self.refill_per_s = failures / per_s
        self.max_clients = max_clients
        self.global_capacity = float(global_burst)
        self.global_per_s = global_per_s
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # client -> (tokens, at)
        self._global = (self.global_capacity, clock())
        self._known: OrderedDict[str, float] = OrderedDict()                  # client -> last success

    def retry_after(self, client: str) -> int | None:
        """Whole seconds until ``client`` may try again, or None if it may try now."""
        key = client_key(client)
        with self._lock:
            now = self._clock()
            tokens = self._tokens(key, now)
            shared = self._global_tokens(now)
            known = now - self._known.get(key, -math.inf) < KNOWN_FOR_S
        if tokens < 1.0:
            return max(1, math.ceil((1.0 - tokens) / self.refill_per_s))
        if shared < 1.0 and not known:
            return max(1, math.ceil((1.0 - shared) / self.global_per_s))
        return None

    def failed(self, client: str) -> None:
        """Count one wrong secret from ``client``."""
        key = client_key(client)
        with self._lock:
            now = self._clock()
            self._buckets[key] = (max(0.0, self._tokens(key, now) - 1.0), now)
            self._buckets.move_to_end(key)
            while len(self._buckets) > self.max_clients:
                self._buckets.popitem(last=False)  # the client that failed longest ago
            self._global = (max(0.0, self._global_tokens(now) - 1.0), now)

    def succeeded(self, client: str) -> None:
        """``client`` gave a right secret: it may try while strangers are held off."""
        key = client_key(client)
        with self._lock:
            self._known[key] = self._clock()
            self._known.move_to_end(key)
            while len(self._known) > self.max_clients:
                self._known.popitem(last=False)

    def clients(self) -> int:
        """How many clients are remembered (bounded by ``max_clients``)."""
        return len(self._buckets)

    def _tokens(self, client: str, now: float) -> float:
        tokens, at = self._buckets.get(client, (self.capacity, now))
        return min(self.capacity, tokens + (now - at) * self.refill_per_s)

    def _global_tokens(self, now: float) -> float:
        tokens, at = self._global
        return min(self.global_capacity, tokens + (now - at) * self.global_per_s)

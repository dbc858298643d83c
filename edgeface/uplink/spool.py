"""A bounded first-in-first-out spool of entries, on disk (surviving restarts) or in memory.

Both uplink queues use it: MQTT events waiting for the broker and face captures waiting for S3.
An entry is a few named parts (``.json`` plus e.g. ``.jpg``) sharing one stem, written to
temporary names and renamed into place with the ``.json`` part last: an entry exists once its
``.json`` exists, so a crash mid-write leaves no half entry (the orphans are swept at start).
Past ``max_entries`` or ``max_bytes`` the oldest entries go first, and are counted in ``dropped``.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections import OrderedDict
from pathlib import Path

log = logging.getLogger(__name__)

MAIN = ".json"      # the part whose presence makes an entry exist
_TMP = ".tmp-"
_SAFE = re.compile(r"[^A-Za-z0-9_-]")     # a stem has no '.' (it separates the parts) and no '/'


class Spool:
    def __init__(self, directory: str | os.PathLike | None, max_entries: int | None = None,
                 max_bytes: int | None = None):
        self.directory = Path(directory) if directory else None
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.dropped = 0                    # entries evicted to stay within the limits, since start
        self._lock = threading.Lock()
        # stem -> (bytes, part suffixes), oldest first; the parts are known, never globbed for
        self._entries: OrderedDict[str, tuple[int, tuple[str, ...]]] = OrderedDict()
        self._memory: dict[str, dict[str, bytes]] = {}              # parts when there is no directory
        self._bytes = 0
        self._last_stem = 0
        if self.directory:
            self.directory.mkdir(parents=True, exist_ok=True)
            self._scan()

    # -- writing -----------------------------------------------------------------------------
    def put(self, parts: dict[str, bytes], key: str) -> str:
        """Store an entry; returns its stem (``<time ns>-<key>``: sorts oldest first)."""
        if MAIN not in parts:
            raise ValueError(f"an entry needs a {MAIN} part")
        key = _SAFE.sub("_", key)[:64]
        with self._lock:
            # Strictly increasing, also when the clock steps back or two puts share a nanosecond.
            self._last_stem = max(time.time_ns(), self._last_stem + 1)
            stem = f"{self._last_stem:020d}-{key}"
        size = sum(len(v) for v in parts.values())
        if self.directory:
            # Other parts first, the main part last: its rename is the commit.
            for suffix in sorted(parts, key=lambda s: s == MAIN):
                tmp = self.directory / f"{_TMP}{stem}{suffix}"
                with open(tmp, "wb") as f:
                    f.write(parts[suffix])
                    f.flush()
                    os.fsync(f.fileno())
                os.replace(tmp, self.directory / f"{stem}{suffix}")
        evicted: list[tuple[str, tuple[str, ...]]] = []
        with self._lock:
            if not self.directory:
                self._memory[stem] = dict(parts)
            self._entries[stem] = (size, tuple(parts))
            self._bytes += size
            while len(self._entries) > 1 and self._over_limits():
                old, (old_size, old_parts) = self._entries.popitem(last=False)
                self._bytes -= old_size
                self._memory.pop(old, None)
                self.dropped += 1
                evicted.append((old, old_parts))
        for old, old_parts in evicted:
            self._unlink(old, old_parts)
        if evicted:
            log.warning("spool %s full: dropped %d oldest entr%s (%d since start)", self.directory or "(memory)",
                        len(evicted), "y" if len(evicted) == 1 else "ies", self.dropped)
        return stem

    def remove(self, stem: str) -> bool:
        with self._lock:
            entry = self._entries.pop(stem, None)
            if entry is None:
                return False
            self._bytes -= entry[0]
            self._memory.pop(stem, None)
        self._unlink(stem, entry[1])
        return True

    def _over_limits(self) -> bool:
        return bool((self.max_entries is not None and len(self._entries) > self.max_entries)
                    or (self.max_bytes is not None and self._bytes > self.max_bytes))

    def _unlink(self, stem: str, suffixes: tuple[str, ...]) -> None:
        if not self.directory:
            return
        # The main part first: once it is gone the entry no longer exists, even if we stop here.
        for suffix in sorted(suffixes, key=lambda s: s != MAIN):
            (self.directory / f"{stem}{suffix}").unlink(missing_ok=True)

    # -- reading -----------------------------------------------------------------------------
    def stems(self, limit: int | None = None) -> list[str]:
        """Entries, oldest first."""
        with self._lock:
            stems = list(self._entries)
        return stems[:limit] if limit is not None else stems

    def read(self, stem: str, suffix: str = MAIN) -> bytes | None:
        if not self.directory:
            with self._lock:
                return self._memory.get(stem, {}).get(suffix)
        try:
            return (self.directory / f"{stem}{suffix}").read_bytes()
        except FileNotFoundError:
            return None

    def suffixes(self, stem: str) -> list[str]:
        """The parts an entry has (``.json`` last)."""
        with self._lock:
            entry = self._entries.get(stem)
        return sorted(entry[1] if entry else (), key=lambda s: (s == MAIN, s))

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    @property
    def bytes(self) -> int:
        with self._lock:
            return self._bytes

    # -- start -------------------------------------------------------------------------------
    def _scan(self) -> None:
        assert self.directory is not None
        sizes: dict[str, int] = {}
        parts: dict[str, list[str]] = {}
        for path in self.directory.iterdir():
            name = path.name
            if name.startswith(_TMP):
                path.unlink(missing_ok=True)       # torn write before a crash
                continue
            stem, dot, rest = name.partition(".")
            if not dot:
                continue
            sizes[stem] = sizes.get(stem, 0) + path.stat().st_size
            parts.setdefault(stem, []).append(dot + rest)
        for stem in sorted(sizes):
            if MAIN in parts[stem]:
                self._entries[stem] = (sizes[stem], tuple(parts[stem]))
                self._bytes += sizes[stem]
            else:
                self._unlink(stem, tuple(parts[stem]))     # parts whose entry was never committed
        if self._entries:
            self._last_stem = int(next(reversed(self._entries)).split("-", 1)[0])
            log.info("spool %s: %d entries waiting from before", self.directory, len(self._entries))

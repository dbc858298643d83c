"""The audit trail: who (role, token id), did what, to what, when and from where — append-only,
hash-chained rows in the history database.

Each row carries ``prev_hash``, the hash of the row before it, and ``hash``, the SHA-256 of its
own fields (``HASHED``) as sorted-key compact ASCII JSON: editing a row breaks its hash,
deleting one leaves a gap in ``seq``, moving one breaks the links around it. ``verify`` walks
the chain and names each row where it breaks.

Appends from every gunicorn worker and thread stay one line: each runs in one ``BEGIN IMMEDIATE``
transaction (SQLite's write lock, taken before the head is read), so no two appends see the
same head.

Retention keeps the trail within ``max_rows`` and ``retention_days``: the oldest rows go, and
the anchor (``audit_anchor``: the last removed row's seq and hash) keeps the rest checkable; the
trim itself is a row (``audit.trim``) naming the anchor, so an anchor moved by hand is caught.
Rows removed from the *end* leave no trace here: compare the head with the core's copy (every
row is shipped over MQTT, see ``webapp.audit``).
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    Engine,
    Index,
    Integer,
    String,
    Table,
    Text,
    and_,
    delete,
    func,
    insert,
    select,
)

from edgeface.history.schema import metadata

GENESIS = "0" * 64           # the prev_hash of the first row ever written
TOKEN_ID_CHARS = 12
TRIM_CHECK_S = 60.0          # the age limit is looked at this often (per process)
TRIM_TO = 0.9                # over max_rows, trim to this share of it: one trim per many appends
MAX_TEXT = 200               # longest target / detail string kept
TRIM_ACTION = "audit.trim"
SYSTEM = "system"            # the role of rows no request made (a trim, a model change)

audit = Table(
    "audit", metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False),   # 1, 2, 3 ... never reused
    Column("at_ms", Integer, nullable=False),          # epoch milliseconds
    Column("action", String(64), nullable=False),
    Column("role", String(16), nullable=True),         # admin, viewer, system, or None (no credentials)
    Column("auth", String(16), nullable=True),         # bearer, session, open
    Column("token_id", String(16), nullable=True),     # token_id() of the token used, never the token
    Column("address", String(64), nullable=True),
    Column("target", Text, nullable=True),             # camera id, event id, person, ...
    Column("status", Integer, nullable=True),          # the HTTP status answered
    Column("detail", Text, nullable=False),            # compact JSON object
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
)
Index("ix_audit_at", audit.c.at_ms)
Index("ix_audit_action", audit.c.action, audit.c.seq)

#: One row at most (id 1): where the chain starts once old rows were trimmed.
audit_anchor = Table(
    "audit_anchor", metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", Integer, nullable=False),
    Column("hash", String(64), nullable=False),
)

HASHED = ("seq", "at_ms", "action", "role", "auth", "token_id", "address", "target", "status", "detail",
          "prev_hash")


def token_id(token: str) -> str:
    """A short, non-reversible name of a token: tells tokens apart in the trail, reveals nothing."""
    return hashlib.sha256(b"edgeface-audit-token:" + token.encode()).hexdigest()[:TOKEN_ID_CHARS]


def row_hash(fields: dict[str, Any]) -> str:
    canonical = json.dumps({k: fields[k] for k in HASHED}, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _short(value: Any) -> Any:
    if isinstance(value, str):
        return value[:MAX_TEXT]
    if isinstance(value, dict):
        return {str(k)[:MAX_TEXT]: _short(v) for k, v in list(value.items())[:20]}
    if isinstance(value, list | tuple):
        return [_short(v) for v in value[:20]]
    return value if value is None or isinstance(value, bool | int) or (
        isinstance(value, float) and math.isfinite(value)) else str(value)[:MAX_TEXT]


@dataclass(frozen=True)
class Entry:
    """What a caller records; the trail adds seq, time and the hashes."""
    action: str
    role: str | None = None
    auth: str | None = None
    token_id: str | None = None
    address: str | None = None
    target: str | None = None
    status: int | None = None
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Row:
    seq: int
    at_ms: int
    action: str
    role: str | None
    auth: str | None
    token_id: str | None
    address: str | None
    target: str | None
    status: int | None
    detail: str
    prev_hash: str
    hash: str

    @property
    def time_iso(self) -> str:
        return datetime.fromtimestamp(self.at_ms / 1000, timezone.utc).isoformat(timespec="milliseconds")

    def describe(self) -> str:
        return f"row {self.seq} ({self.action} at {self.time_iso})"

    @property
    def details(self) -> dict[str, Any]:
        """``detail`` parsed ({} if it is not a JSON object: verify says whether it was edited)."""
        try:
            parsed = json.loads(self.detail)
        except ValueError:
            return {}
        return parsed if isinstance(parsed, dict) else {}

    def as_json(self) -> dict[str, Any]:
        """The stored fields (what the hash covers, as stored) and, for reading, the time and detail parsed."""
        return {**asdict(self), "time_iso": self.time_iso, "detail_json": self.details}


@dataclass(frozen=True)
class AuditQuery:
    action: str | None = None        # exact, or a prefix ending in "." ("camera." = every camera action)
    role: str | None = None
    token_id: str | None = None
    address: str | None = None
    target: str | None = None
    since_ms: int | None = None
    until_ms: int | None = None
    before_seq: int | None = None    # the page's cursor: rows older than this
    limit: int = 100


@dataclass
class Verdict:
    rows: int = 0
    first: int | None = None
    head: Row | None = None
    anchor: tuple[int, str] | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "rows": self.rows, "first": self.first, "anchor": self.anchor,
                "head": self.head.as_json() if self.head else None, "problems": self.problems}

    def report(self) -> str:
        span = f"rows {self.first}..{self.head.seq}" if self.head and self.first is not None else "no rows"
        start = f"after the anchor at row {self.anchor[0]}" if self.anchor else "from the start"
        lines = [f"audit trail: {self.rows} rows ({span}), checked {start}"]
        if self.head:
            lines.append(f"head: row {self.head.seq} hash {self.head.hash} (compare with the core's copy)")
        lines += [f"TAMPERED: {p}" for p in self.problems]
        lines.append("chain intact" if self.ok else f"chain broken: {len(self.problems)} problem(s)")
        return "\n".join(lines)


class AuditTrail:
    """Appends, lists, trims and verifies the trail in ``engine``'s database (see the module doc).
    ``on_append(row)`` is called after each committed append (shipping); its errors are the caller's."""

    def __init__(self, engine: Engine, *, max_rows: int = 200_000, retention_days: float = 30.0,
                 on_append: Callable[[Row], object] | None = None):
        self.engine = engine
        self.max_rows, self.retention_days = max_rows, retention_days
        self.on_append = on_append
        self._next_age_check_ms = 0

    # -- writing ----------------------------------------------------------------------------------
    def append(self, entry: Entry, *, unless_same_target: bool = False, now: float | None = None) -> Row | None:
        """Write ``entry`` as the new head. ``unless_same_target``: skip it (None) when the newest row
        of its action already has its target (a state seen by several workers, recorded once)."""
        written: list[Row] = []
        with self._immediate() as conn:
            if unless_same_target:
                last = conn.execute(select(audit.c.target).where(audit.c.action == entry.action)
                                    .order_by(audit.c.seq.desc()).limit(1)).first()
                if last is not None and last.target == entry.target:
                    return None
            at_ms = int((time.time() if now is None else now) * 1000)
            written.append(self._insert(conn, entry, at_ms))
            trim = self._trim(conn, written[-1].seq, at_ms)
            if trim is not None:
                written.append(self._insert(conn, trim, at_ms))
        for row in written:
            if self.on_append is not None:
                self.on_append(row)
        return written[0]

    @contextmanager
    def _immediate(self) -> Iterator[Connection]:
        """A transaction holding SQLite's write lock from its first statement (waits busy_timeout for it)."""
        with self.engine.begin() as conn:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
            yield conn

    @staticmethod
    def _head(conn: Connection) -> tuple[int, str]:
        row = conn.execute(select(audit.c.seq, audit.c.hash).order_by(audit.c.seq.desc()).limit(1)).first()
        if row is None:
            row = conn.execute(select(audit_anchor.c.seq, audit_anchor.c.hash)).first()
        return (row.seq, row.hash) if row is not None else (0, GENESIS)

    def _insert(self, conn: Connection, entry: Entry, at_ms: int) -> Row:
        seq, prev = self._head(conn)
        values: dict[str, Any] = {
            "seq": seq + 1, "at_ms": at_ms, "action": entry.action[:64], "role": entry.role, "auth": entry.auth,
            "token_id": entry.token_id, "address": (entry.address or None) and entry.address[:64],
            "target": None if entry.target is None else str(entry.target)[:MAX_TEXT], "status": entry.status,
            "detail": json.dumps(_short(entry.detail), sort_keys=True, separators=(",", ":"), ensure_ascii=True),
            "prev_hash": prev}
        values["hash"] = row_hash(values)
        conn.execute(insert(audit).values(**values))
        return Row(**values)

    def _trim(self, conn: Connection, head_seq: int, at_ms: int) -> Entry | None:
        """Remove rows past the limits, move the anchor; the ``audit.trim`` entry to append, or None."""
        anchor = conn.execute(select(audit_anchor.c.seq)).scalar_one_or_none() or 0
        through = anchor
        if head_seq - anchor > self.max_rows:
            through = head_seq - int(self.max_rows * TRIM_TO)
        if at_ms >= self._next_age_check_ms:
            self._next_age_check_ms = at_ms + int(TRIM_CHECK_S * 1000)
            cutoff = at_ms - int(self.retention_days * 86_400_000)
            old = conn.execute(select(func.max(audit.c.seq)).where(audit.c.at_ms < cutoff)).scalar_one_or_none()
            through = max(through, min(old or 0, head_seq - 1))     # the newest row always stays
        if through <= anchor:
            return None
        last = conn.execute(select(audit.c.hash).where(audit.c.seq == through)).scalar_one_or_none()
        if last is None:          # a gap where the cut falls (tampering): leave it for verify to report
            return None
        removed = conn.execute(delete(audit).where(audit.c.seq <= through)).rowcount
        conn.execute(delete(audit_anchor))
        conn.execute(insert(audit_anchor).values(id=1, seq=through, hash=last))
        return Entry(TRIM_ACTION, role=SYSTEM, target=str(through),
                     detail={"through": through, "hash": last, "removed": removed})

    # -- reading ----------------------------------------------------------------------------------
    def query(self, q: AuditQuery) -> tuple[list[Row], int | None]:
        """Newest first, ``q.limit`` at most; the ``before_seq`` of the next page, or None."""
        conds = [c for c, v in ((audit.c.role == q.role, q.role), (audit.c.token_id == q.token_id, q.token_id),
                                (audit.c.address == q.address, q.address), (audit.c.target == q.target, q.target))
                 if v is not None]
        if q.action is not None:
            conds.append(audit.c.action.startswith(q.action, autoescape=True) if q.action.endswith(".")
                         else audit.c.action == q.action)
        if q.since_ms is not None:
            conds.append(audit.c.at_ms >= q.since_ms)
        if q.until_ms is not None:
            conds.append(audit.c.at_ms <= q.until_ms)
        if q.before_seq is not None:
            conds.append(audit.c.seq < q.before_seq)
        stmt = select(audit).where(and_(True, *conds)).order_by(audit.c.seq.desc()).limit(q.limit + 1)
        with self.engine.connect() as conn:
            rows = [Row(**r._mapping) for r in conn.execute(stmt)]
        more = len(rows) > q.limit
        return rows[:q.limit], rows[q.limit - 1].seq if more else None

    def actions(self) -> list[str]:
        with self.engine.connect() as conn:
            return list(conn.execute(select(audit.c.action).distinct().order_by(audit.c.action)).scalars())

    # -- checking ---------------------------------------------------------------------------------
    def verify(self, known: tuple[int, str] | None = None) -> Verdict:
        """Walk the chain from the anchor; every edited, missing or moved row is a problem naming it.
        ``known``: (seq, hash) of a row kept elsewhere (the core's newest): rows cut from the end show."""
        with self.engine.connect() as conn:
            anchor = conn.execute(select(audit_anchor.c.seq, audit_anchor.c.hash)).first()
            rows = [Row(**r._mapping) for r in conn.execute(select(audit).order_by(audit.c.seq))]
        verdict = Verdict(rows=len(rows), first=rows[0].seq if rows else None, head=rows[-1] if rows else None,
                          anchor=(anchor.seq, anchor.hash) if anchor else None)
        position = {row.hash: row.seq for row in rows}       # to tell a moved row from an edited one
        expected, prev = verdict.anchor or (0, GENESIS)
        expected += 1
        before_reported = False         # a row after a reported one is not blamed for its break again
        for row in rows:
            found = len(verdict.problems)
            gap = row.seq != expected
            if gap:
                missing = f"row {expected}" if row.seq == expected + 1 else f"rows {expected}..{row.seq - 1}"
                verdict.problems.append(f"{missing} missing: deleted (the chain jumps to row {row.seq})")
            sealed = row_hash(asdict(row)) == row.hash
            linked = row.prev_hash == prev
            came_after = position.get(row.prev_hash)
            if not sealed and not linked and came_after is not None and came_after != row.seq - 1:
                verdict.problems.append(f"{row.describe()} out of place: it was written right after row "
                                        f"{came_after}, not after row {row.seq - 1} (rows swapped or moved)")
            elif not sealed:
                verdict.problems.append(f"{row.describe()} edited: its content no longer matches its hash")
            elif not linked and not gap and not before_reported:
                verdict.problems.append(f"{row.describe()} does not follow row {row.seq - 1}: row {row.seq - 1} "
                                        f"was replaced or rewritten")
            expected, prev = row.seq + 1, row.hash
            before_reported = len(verdict.problems) > found
        if verdict.anchor is not None:
            self._check_anchor(verdict, rows)
        if known is not None:
            self._check_known(verdict, rows, *known)
        return verdict

    @staticmethod
    def _check_known(verdict: Verdict, rows: list[Row], seq: int, hash_: str) -> None:
        head = verdict.head.seq if verdict.head else (verdict.anchor or (0, ""))[0]
        here = next((r for r in rows if r.seq == seq), None)
        if seq > head:
            missing = f"row {seq}" if seq == head + 1 else f"rows {head + 1}..{seq}"
            verdict.problems.append(f"{missing} missing from the end: deleted (the copy given has row {seq})")
        elif here is not None and here.hash != hash_:
            verdict.problems.append(f"{here.describe()} is not the copy given: its hash differs")

    @staticmethod
    def _check_anchor(verdict: Verdict, rows: list[Row]) -> None:
        """The anchor must be the one the newest ``audit.trim`` row set: else it was moved by hand."""
        assert verdict.anchor is not None
        trims = [r for r in rows if r.action == TRIM_ACTION]
        said = (trims[-1].details.get("through"), trims[-1].details.get("hash")) if trims else None
        if said != verdict.anchor:
            verdict.problems.append(f"the anchor (rows up to {verdict.anchor[0]} trimmed) is not the one the "
                                    f"last {TRIM_ACTION} row set: rows were removed from the start by hand")

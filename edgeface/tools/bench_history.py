"""``edgeface bench --suite history``: filtered pages of a large event history, through the JSON
API (Flask's test client: the view, filters, JSON and the query, no network) and straight from
the database. Goal (issue 12): a filtered page of 100 000 stored events in <= 50 ms."""

from __future__ import annotations

import json
import random
import statistics
import tempfile
import time
from typing import Any

from sqlalchemy import func, insert, select

from edgeface.history import EventQuery, History
from edgeface.history.schema import events
from edgeface.history.store import Visit, encode_cursor, filter_conditions
from edgeface.matcher import UNKNOWN

CAMERAS = [f"cam-{i}" for i in range(8)]
NAMES = [f"Person {i:02d}" for i in range(20)]
MODELS = ["20261101T000000Z", "20261115T000000Z", "20261201T000000Z"]
DAY = 86400.0


def fill(history: History, count: int, seed: int = 1, now: float | None = None) -> list[dict[str, Any]]:
    """``count`` visits over the last 30 days (30 % Unknown), inserted in bulk; the rows."""
    rng = random.Random(seed)
    now = time.time() if now is None else now
    rows = []
    for i in range(count):
        unknown = rng.random() < 0.3
        started = now - rng.random() * 30 * DAY
        rows.append({"id": f"{i:08d}{rng.getrandbits(96):024x}", "camera": rng.choice(CAMERAS),
                     "name": UNKNOWN if unknown else rng.choice(NAMES), "unknown": unknown,
                     "started_at": started, "last_seen": started + rng.random() * 60, "ended": True,
                     "best_distance": rng.random(), "box": "[10, 60, 60, 10]", "tracks": f"[{i}]",
                     "model_version": rng.choice(MODELS), "score": 0.0, "bytes": 0})
    with history.engine.begin() as conn:
        for start in range(0, count, 5000):
            conn.execute(insert(events), rows[start:start + 5000])
    return rows


def cases(now: float) -> dict[str, dict[str, Any]]:
    """Filters as the API takes them (query parameters)."""
    return {
        "newest": {},
        "camera": {"camera": CAMERAS[3]},
        "name": {"name": NAMES[7]},
        "unknown": {"unknown": "true"},
        "model_version": {"model_version": MODELS[1]},
        "last_day": {"since": now - DAY},
        "camera+unknown+week": {"camera": CAMERAS[5], "unknown": "true", "since": now - 7 * DAY},
        "name+camera+range": {"name": NAMES[2], "camera": CAMERAS[1], "since": now - 20 * DAY,
                              "until": now - 10 * DAY},
    }


def to_query(params: dict[str, Any], limit: int = 50, cursor: str | None = None) -> EventQuery:
    unknown = params.get("unknown")
    return EventQuery(camera=params.get("camera"), name=params.get("name"),
                      unknown=None if unknown is None else unknown == "true", since=params.get("since"),
                      until=params.get("until"), model_version=params.get("model_version"), limit=limit, cursor=cursor)


def count_matches(history: History, params: dict[str, Any]) -> int:
    with history.engine.connect() as conn:
        stmt = select(func.count()).select_from(events).where(*filter_conditions(to_query(params)))
        return conn.execute(stmt).scalar_one()


def deep_cursor(history: History, params: dict[str, Any], offset: int) -> str | None:
    """The cursor a client holds after paging ``offset`` events into these filters."""
    q = to_query(params, limit=1)
    stmt = (select(events).where(*filter_conditions(q)).order_by(events.c.started_at.desc(), events.c.id.desc())
            .offset(offset).limit(1))
    with history.engine.connect() as conn:
        row = conn.execute(stmt).first()
    return None if row is None else encode_cursor(Visit.from_row(row))


def _timed(fn, repeats: int) -> dict[str, float]:
    fn()                                            # warm the page cache
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    return {"median_ms": round(statistics.median(times), 2), "p95_ms": round(times[int(0.95 * (len(times) - 1))], 2),
            "max_ms": round(times[-1], 2)}


def run(count: int = 100_000, repeats: int = 20, deep_offset: int = 5000) -> dict[str, Any]:
    from edgeface.settings import EventSettings, Settings
    from webapp import create_app

    with tempfile.TemporaryDirectory(prefix="edgeface-bench-history-") as tmp:
        now = time.time()
        app = create_app(Settings(events=EventSettings(dir=tmp, max_events=count)), start=False)
        svc = app.extensions["edgeface"]
        try:
            t0 = time.perf_counter()
            fill(svc.history, count, now=now)
            filled_s = time.perf_counter() - t0
            client = app.test_client()
            results: dict[str, dict[str, Any]] = {}
            for label, params in cases(now).items():
                matches = count_matches(svc.history, params)
                # Deep: after ``deep_offset`` events, or half of what matches when fewer match.
                cursor = deep_cursor(svc.history, params, min(deep_offset, matches // 2))
                api_first = _timed(lambda p=params: _get(client, p), repeats)
                api_deep = _timed(lambda p=params, c=cursor: _get(client, {**p, "cursor": c}), repeats) \
                    if cursor else None
                db_first = _timed(lambda p=params: svc.history.query(to_query(p)), repeats)
                db_deep = _timed(lambda p=params, c=cursor: svc.history.query(to_query(p, cursor=c)), repeats) \
                    if cursor else None
                results[label] = {"params": params, "api_first_page": api_first, "api_deep_page": api_deep,
                                  "db_first_page": db_first, "db_deep_page": db_deep,
                                  "matches": matches}
            size = svc.history.size_bytes()
        finally:
            svc.close()
    worst = max(max(r["api_first_page"]["median_ms"], (r["api_deep_page"] or {"median_ms": 0})["median_ms"])
                for r in results.values())
    return {"events": count, "fill_s": round(filled_s, 2), "history_mb": round(size / (1 << 20), 1),
            "page": 50, "deep_offset": deep_offset, "repeats": repeats, "cases": results,
            "worst_api_median_ms": worst, "goal_ms": 50.0, "goal_met": worst <= 50.0}


def _get(client, params: dict[str, Any]) -> dict:
    response = client.get("/api/v1/events", query_string={**params, "limit": 50})
    if response.status_code != 200:
        raise RuntimeError(f"/api/v1/events answered {response.status_code}: {response.get_data(as_text=True)}")
    return response.json


def format_table(result: dict[str, Any]) -> str:
    lines = [f"history: {result['events']} events ({result['history_mb']} MiB, filled in {result['fill_s']} s); "
             f"pages of {result['page']}, deep = after {result['deep_offset']} (or half the matches); "
             f"median/p95 of {result['repeats']} (ms)",
             f"{'filter':22} {'matches':>8} {'API first':>12} {'API deep':>12} {'DB first':>12} {'DB deep':>12}"]
    for label, r in result["cases"].items():
        cells = ["—" if part is None else f"{part['median_ms']:.1f}/{part['p95_ms']:.1f}"
                 for part in (r["api_first_page"], r["api_deep_page"], r["db_first_page"], r["db_deep_page"])]
        lines.append(f"{label:22} {r['matches']:>8} " + " ".join(f"{c:>12}" for c in cells))
    lines.append(f"worst API median {result['worst_api_median_ms']} ms (goal {result['goal_ms']} ms: "
                 f"{'met' if result['goal_met'] else 'NOT met'})")
    return "\n".join(lines)


def main(args) -> int:
    result = run()
    print(json.dumps(result) if args.json else format_table(result))
    return 0


if __name__ == "__main__":      # python -m edgeface.tools.bench_history
    print(format_table(run()))

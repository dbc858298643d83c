"""The history benchmark's data and the API it times: every filter and page is right (no timing here)."""

from __future__ import annotations

import time

from edgeface.settings import EventSettings, Settings
from edgeface.tools import bench_history
from webapp import create_app


def test_filtered_pages_of_the_benchmark_history_are_exact(tmp_path):
    now = time.time()
    app = create_app(Settings(events=EventSettings(dir=str(tmp_path))), start=False)
    svc = app.extensions["edgeface"]
    try:
        rows = bench_history.fill(svc.history, 3000, seed=3, now=now)
        client = app.test_client()
        for label, params in bench_history.cases(now).items():
            def wanted(row, p=params):
                return ((p.get("camera") in (None, row["camera"])) and (p.get("name") in (None, row["name"]))
                        and (p.get("model_version") in (None, row["model_version"]))
                        and (p.get("unknown") is None or row["unknown"] == (p["unknown"] == "true"))
                        and row["started_at"] >= p.get("since", -1) and row["started_at"] <= p.get("until", 1e12))
            expected = [r["id"] for r in sorted(rows, key=lambda r: (r["started_at"], r["id"]), reverse=True)
                        if wanted(r)]
            got, cursor, pages = [], None, 0
            while True:
                body = bench_history._get(client, {**params, **({"cursor": cursor} if cursor else {})})
                got += [e["id"] for e in body["events"]]
                pages += 1
                cursor = body["next_cursor"]
                if cursor is None:
                    break
            assert got == expected, label
            assert pages == max(1, -(-len(expected) // 50)) and expected, label
            assert bench_history.count_matches(svc.history, params) == len(expected), label
    finally:
        svc.close()


def test_the_benchmark_reports_every_case(tmp_path):
    result = bench_history.run(count=500, repeats=2, deep_offset=100)
    assert result["events"] == 500 and set(result["cases"]) == set(bench_history.cases(time.time()))
    newest = result["cases"]["newest"]
    assert newest["matches"] == 500 and newest["api_deep_page"]["median_ms"] > 0
    assert "worst API median" in bench_history.format_table(result)

"""Benchmark of the foundation: enrolment throughput, matching and model loading at scale.

Figures come with a reference measured in the same run (one worker; face_recognition's
per-probe ``np.linalg.norm(known - probe, axis=1)``), so ratios hold on a noisy shared machine.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from edgeface.matcher import EMBEDDING_DIM, Matcher
from edgeface.modelfile import FaceModel

GALLERY_SIZES = (1_000, 10_000, 100_000)


def _median_ms(fn, repeat: int) -> float:
    fn()  # warm-up: first-touch page faults and BLAS thread start are not part of the steady state
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1e3


def synthetic_gallery(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """``n`` identities with one embedding each, spread like dlib's (~0.9 apart on average)."""
    rng = np.random.default_rng(seed)
    emb = rng.normal(scale=0.9 / np.sqrt(2 * EMBEDDING_DIM), size=(n, EMBEDDING_DIM)).astype(np.float32)
    return emb, np.arange(n, dtype=np.int32), [f"person {i:06d}" for i in range(n)]


def bench_matching(sizes=GALLERY_SIZES, repeat: int = 50) -> list[dict]:
    rows = []
    for n in sizes:
        emb, labels, names = synthetic_gallery(n)
        matcher = Matcher(emb, labels, names)
        probe = emb[n // 3] + np.float32(0.01)
        ours = _median_ms(lambda m=matcher, p=probe: m.match(p[None, :]), repeat)
        reference = _median_ms(lambda e=emb, p=probe: int(np.argmin(np.linalg.norm(e - p, axis=1))),
                               max(5, repeat // 5))
        rows.append({"identities": n, "match_ms": round(ours, 3), "reference_ms": round(reference, 3),
                     "speedup": round(reference / ours, 1)})
    return rows


def bench_loading(n: int = 100_000, repeat: int = 5) -> dict:
    emb, labels, names = synthetic_gallery(n)
    with tempfile.TemporaryDirectory() as tmp:
        path = FaceModel(emb, labels, names, {"created": "bench"}).save(Path(tmp) / "model.data")
        load = _median_ms(lambda: FaceModel.load(path), repeat)
        ready = _median_ms(lambda: FaceModel.load(path).matcher(), repeat)
        size = path.stat().st_size
    return {"identities": n, "file_mb": round(size / 1e6, 1), "load_ms": round(load, 1),
            "load_and_index_ms": round(ready, 1)}


def bench_enrolment(images_dir: str | Path, workers: int | None = None) -> dict:
    from edgeface.engine import default_threads
    from edgeface.training import train

    workers = workers or default_threads()
    runs = {}
    for w in sorted({1, workers}):
        best = float("inf")
        for _ in range(3):  # best of 3: other load on a shared machine only ever adds time
            t = time.perf_counter()
            _, report = train(images_dir, workers=w, progress=False)
            best = min(best, time.perf_counter() - t)
        runs[w] = (best, report["images"])
    per_s = {w: n / s for w, (s, n) in runs.items()}
    return {"images": runs[workers][1], "workers": workers,
            "images_per_s": round(per_s[workers], 2), "images_per_s_one_worker": round(per_s[1], 2),
            "parallel_speedup": round(per_s[workers] / per_s[1], 2)}


def run(images_dir: str | Path | None) -> dict:
    out = {"matching": bench_matching(), "loading": bench_loading()}
    if images_dir:
        out["enrolment"] = bench_enrolment(images_dir)
    return out


def format_table(result: dict) -> str:
    lines = []
    if "enrolment" in result:
        e = result["enrolment"]
        lines += [f"enrolment: {e['images']} images, {e['images_per_s']} images/s on {e['workers']} workers "
                  f"({e['images_per_s_one_worker']} on 1; x{e['parallel_speedup']})"]
    lines += ["", f"{'identities':>10}  {'match ms':>9}  {'reference ms':>12}  {'speed-up':>8}"]
    for r in result["matching"]:
        lines.append(f"{r['identities']:>10}  {r['match_ms']:>9.3f}  {r['reference_ms']:>12.3f}  {r['speedup']:>7.1f}x")
    lo = result["loading"]
    lines += ["", f"loading a {lo['identities']}-identity model ({lo['file_mb']} MB): {lo['load_ms']} ms; "
                  f"with the match index: {lo['load_and_index_ms']} ms"]
    return "\n".join(lines)

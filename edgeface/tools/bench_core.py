"""Benchmark of the foundation: enrolment throughput, matching and model loading at scale.

Figures come with a reference measured in the same run (one worker; face_recognition's
per-probe ``np.linalg.norm(known - probe, axis=1)``; the float32 product path beside the 8-bit
scan), so ratios hold on a noisy shared machine.
"""

from __future__ import annotations

import os
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
    """Per gallery size: one probe through ``Matcher.match`` (the path the size selects; also with
    the live pipeline's margin 0.05; and the float32 product path beside it), face_recognition's
    per-probe norm, and the agreement with an exhaustive float64 search."""
    rows = []
    for n in sizes:
        emb, labels, names = synthetic_gallery(n)
        matcher = Matcher(emb, labels, names)
        product = Matcher(emb, labels, names, coarse=False)
        probe = emb[n // 3] + np.float32(0.01)
        ours = _median_ms(lambda m=matcher, p=probe: m.match(p[None, :]), repeat)
        margin = _median_ms(lambda m=matcher, p=probe: m.match(p[None, :], margin=0.05), repeat)
        plain = _median_ms(lambda m=product, p=probe: m.match(p[None, :]), repeat)
        reference = _median_ms(lambda e=emb, p=probe: int(np.argmin(np.linalg.norm(e - p, axis=1))),
                               max(5, repeat // 5))
        # Shadow evaluation: a face's two probes (its encoding, its track's mean) by a candidate
        # gallery of the same size, with the live margin — what a candidate adds per encoded face.
        candidate = Matcher(*synthetic_gallery(n, seed=7))
        shadow = _median_ms(lambda m=candidate, p=probe: (m.match(p[None, :], margin=0.05),
                                                          m.match(p[None, :], margin=0.05)), repeat)
        rows.append({"identities": n, "path": matcher.path, "match_ms": round(ours, 3),
                     "match_margin_ms": round(margin, 3), "shadow_ms_per_face": round(shadow, 3),
                     "product_ms": round(plain, 3),
                     "reference_ms": round(reference, 3), "speedup": round(reference / ours, 1),
                     "recall_vs_exact": agreement_with_exhaustive(matcher, emb)})
    return rows


def agreement_with_exhaustive(matcher: Matcher, emb: np.ndarray, probes: int = 40, seed: int = 1) -> float:
    """Share of probes (half beside an enrolled embedding, half strangers) whose nearest embedding
    and distance (to 1e-6) are those of an exhaustive float64 search."""
    rng = np.random.default_rng(seed)
    near = emb[rng.integers(0, len(emb), probes // 2)] + rng.normal(scale=0.02, size=(probes // 2, emb.shape[1]))
    strangers = rng.normal(scale=0.9 / np.sqrt(2 * EMBEDDING_DIM), size=(probes - probes // 2, emb.shape[1]))
    sample = np.vstack([near, strangers]).astype(np.float32)
    best, dist = matcher.nearest(sample)
    same = 0
    for p, b, d in zip(sample, best, dist):
        exact = np.sqrt(np.square(emb.astype(np.float64) - p.astype(np.float64)).sum(axis=1))
        same += int(exact.argmin()) == b and abs(exact.min() - d) < 1e-6
    return round(same / len(sample), 4)


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
    """``train`` on a folder, best of 3 per worker count, after a first (cold) call that also
    loads the models; plus where one image's time goes (``enrolment_stages``)."""
    from edgeface.engine import default_threads
    from edgeface.training import train

    workers = workers or default_threads()
    t = time.perf_counter()
    _, report = train(images_dir, workers=workers, progress=False)
    first = time.perf_counter() - t
    runs, cpu_s = {}, 0.0
    for w in sorted({1, workers}):
        best = float("inf")
        for _ in range(3):  # best of 3: other load on a shared machine only ever adds time
            t, c = time.perf_counter(), _cpu_s()
            _, report = train(images_dir, workers=w, progress=False)
            best = min(best, time.perf_counter() - t)
            cpu_s += _cpu_s() - c if w == workers else 0.0
        runs[w] = (best, report["images"])
    per_s = {w: n / s for w, (s, n) in runs.items()}
    cpu_ms = cpu_s / 3 / runs[workers][1] * 1e3
    return {"images": runs[workers][1], "workers": workers,
            "images_per_s": round(per_s[workers], 2), "images_per_s_one_worker": round(per_s[1], 2),
            "parallel_speedup": round(per_s[workers] / per_s[1], 2),
            "first_call_images_per_s": round(runs[workers][1] / first, 2),
            # Whatever else runs on the machine: CPU per image, this process and its workers.
            "cpu_ms_per_image": round(cpu_ms, 1),
            "images_per_s_if_cores_free": round(workers * 1e3 / cpu_ms, 1),
            "stages": enrolment_stages(images_dir)}


def _cpu_s() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def enrolment_stages(images_dir: str | Path) -> dict:
    """CPU milliseconds per image on one thread, by stage, and of loading the models once."""
    from edgeface.engine import FaceEngine
    from edgeface.images import load_image
    from edgeface.training import TRAINING_SETTINGS, detect_enrolment_faces, discover

    t = time.thread_time()
    engine = FaceEngine(TRAINING_SETTINGS).warm()
    load_ms = (time.thread_time() - t) * 1e3
    spent = {"read_and_decode": 0.0, "detect": 0.0, "encode": 0.0}
    samples, _ = discover(images_dir)
    for sample in samples:
        t = time.thread_time()
        try:
            rgb = load_image(sample.path.read_bytes(), name=str(sample.path))
        except Exception:  # noqa: BLE001 - unusable files are the training report's business
            continue
        t2 = time.thread_time()
        boxes = detect_enrolment_faces(engine, rgb)
        t3 = time.thread_time()
        if len(boxes) == 1:
            engine.encode(rgb, boxes)
        t4 = time.thread_time()
        for stage, a, b in (("read_and_decode", t, t2), ("detect", t2, t3), ("encode", t3, t4)):
            spent[stage] += (b - a) * 1e3
    per_image = {k: round(v / max(len(samples), 1), 1) for k, v in spent.items()}
    return {"load_models_ms": round(load_ms), **{f"{k}_ms": v for k, v in per_image.items()},
            "total_ms_per_image": round(sum(per_image.values()), 1)}


def run(images_dir: str | Path | None) -> dict:
    out = {"matching": bench_matching(), "loading": bench_loading()}
    if images_dir:
        out["enrolment"] = bench_enrolment(images_dir)
    return out


def format_table(result: dict) -> str:
    lines = []
    if "enrolment" in result:
        e, st = result["enrolment"], result["enrolment"]["stages"]
        lines += [f"enrolment: {e['images']} images, {e['images_per_s']} images/s on {e['workers']} workers "
                  f"({e['images_per_s_one_worker']} on 1; x{e['parallel_speedup']}); "
                  f"first call, loading the models too: {e['first_call_images_per_s']} images/s",
                  f"  {e['cpu_ms_per_image']} ms of CPU per image: {e['images_per_s_if_cores_free']} images/s "
                  f"if {e['workers']} cores were free",
                  f"  CPU per image: decode {st['read_and_decode_ms']} ms, detect {st['detect_ms']} ms, "
                  f"encode {st['encode_ms']} ms; loading the models {st['load_models_ms']} ms once"]
    lines += ["", f"{'identities':>10}  {'match ms':>9}  {'margin ms':>9}  {'shadow ms':>9}  {'product ms':>10}  "
                  f"{'reference ms':>12}  {'speed-up':>8}  {'recall':>6}  path"]
    for r in result["matching"]:
        lines.append(f"{r['identities']:>10}  {r['match_ms']:>9.3f}  {r['match_margin_ms']:>9.3f}  "
                     f"{r['shadow_ms_per_face']:>9.3f}  "
                     f"{r['product_ms']:>10.3f}  {r['reference_ms']:>12.3f}  {r['speedup']:>7.1f}x  "
                     f"{r['recall_vs_exact']:>6}  {r['path']}")
    lo = result["loading"]
    lines += ["", f"loading a {lo['identities']}-identity model ({lo['file_mb']} MB): {lo['load_ms']} ms; "
                  f"with the match index: {lo['load_and_index_ms']} ms"]
    return "\n".join(lines)

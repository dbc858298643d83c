"""``edgeface bench`` (``--suite live``): N simulated cameras into the real web app, watched over HTTP.

One run measures, on the same machine at the same moment:

1. the **reference loop** (``reference.py``): full-resolution detect + encode + match on every
   frame of the clip, one thread — its frame rate is ``reference_fps`` and its per-frame names
   are the truth;
2. the **live system** (``system.py``): ``edgeface serve`` under gunicorn with N ``edgeface
   camera`` simulators added through the API; one viewer per camera reads ``/video_feed/<camera>``
   and, as the console does, one reader takes every camera's faces from ``/live/marks``
   (``--overlay browser``, the default) — or the viewers read the frames with the faces drawn in
   by the app (``--overlay drawn``, ``?boxes=drawn``: the console before issue 21); ``--overlay
   both`` measures the two back to back in one run (``viewer.py``), while the app's ``/metrics`` (per-stage costs) and
   its processes' CPU time and memory (/proc) are sampled. With ``--app-url`` the app is one that
   runs already (the pod's): the same cameras and viewers, its processes given by ``--app-pids``.

Frames are matched to the source by a JPEG comment the cameras stamp and the app forwards; the
faces on them by the event stream's ``camera_frame`` (browser) or the app's own comment (drawn).
With ``--transport rtsp`` the cameras are RTSP servers sending H.264 (``rtsp.py``; with
``--main-streams`` a 1920x1080 main stream too, the camera's ``identify_url``): the frame number is
drawn into the pixels (``barcode.py``) and the event stream's faces are matched by the app's frame
``seq`` (``MarksViewer.seq_offset``). See docs/performance.md for the method and figures.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

from edgeface.errors import ConfigError, EdgefaceError
from edgeface.tools.bench_live import cctv, procstats, rtsp, scoring
from edgeface.tools.bench_live.metrics import STAGES, counter_rates, parse_metrics, stage_costs
from edgeface.tools.bench_live.reference import run_reference, source_jpegs
from edgeface.tools.bench_live.system import LiveSystem, RunningApp, attach_to
from edgeface.tools.bench_live.viewer import FeedViewer, MarksViewer

#: The issue's goal, reported beside the figures.
GOAL = {"fps_per_camera": 29.0, "named_frame_recall": 0.97, "first_name_latency_ms": 500.0, "rss_mb": 600.0}
SAMPLE_INTERVAL_S = 1.0
OVERLAYS = ("drawn", "browser")     # --overlay both: in this order, back to back
#: What ``overlay_compare`` reports of each.
COMPARED = ("fps_per_camera", "named_frame_recall", "named_frame_precision", "first_name_latency_ms",
            "cpu_ms_per_frame", "cpu_cores_used", "stages")


def log(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


def main(args) -> int:
    result = run(args)
    print(json.dumps(result) if args.json else format_table(result))
    return 0


def main_inline(args) -> int:
    """``--scene cctv --inline`` (``inline.py``)."""
    from edgeface.tools.bench_live import inline

    if args.scene != "cctv" or args.source:
        raise ConfigError("--inline plays the CCTV scene only", "add --scene cctv (and no --source)")
    result = inline.run(args, log)
    print(json.dumps(result) if args.json else inline.format_table(result))
    return 0


def _app_env(pairs: list[str] | None) -> dict:
    env = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.startswith("EDGEFACE_LIVE_"):
            raise ConfigError(f"--app-env {pair!r} is not EDGEFACE_LIVE_NAME=VALUE",
                              "e.g. --app-env EDGEFACE_LIVE_DETECT_SCALE=1.0 (see docs/performance.md)")
        env[key] = value
    return env


def _sample_model(workdir: Path) -> Path:
    from edgeface.tools.samples import SAMPLE_FACES
    from edgeface.training import train

    log(f"training the sample model from {SAMPLE_FACES}")
    model, _ = train(SAMPLE_FACES, progress=False)
    return model.save(workdir / "model.data")


def run(args) -> dict:
    from edgeface.cameras.playback import Playback
    from edgeface.modelfile import FaceModel
    from edgeface.tools.samples import SAMPLE_VIDEO

    scene = cctv.for_bench(args, log)        # --scene cctv: generated, or from the cache; --source overrides
    video = scene[0] if scene else Path(args.source or SAMPLE_VIDEO)
    if not video.is_file():
        raise ConfigError(f"video {video} not found", "pass --source VIDEO (the sample clip is in sample-media/video)")
    if not 1 <= args.cameras <= 16:
        raise ConfigError(f"--cameras {args.cameras} is out of range", "use 1-16")
    transport, main_streams = _transport(args)
    app_env = _app_env(args.app_env)
    attach = attach_to(args.app_url, args.app_pids, app_env)   # a running app (the pod's), else None
    with tempfile.TemporaryDirectory(prefix="edgeface-bench-") as tmp:
        workdir = Path(args.logs) if args.logs else Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        if args.model:
            model_path = Path(args.model)
        else:   # the scene's enrolled people (not its strangers), or the sample faces
            model_path = cctv.scene_model(args.media, workdir) if scene else _sample_model(workdir)
        matcher = FaceModel.load(model_path).matcher()
        clip = source_jpegs(str(video))
        fps = Playback(video).fps
        files = rtsp.camera_files(video, fps, main_streams, scene, args.media, log) if transport == "rtsp" else None
        load_before = procstats.loadavg()
        log(f"reference loop over {args.reference_frames or len(clip)} of {len(clip)} frames (one thread)")
        ref = run_reference(clip[:args.reference_frames or None], matcher)
        modes = OVERLAYS if args.overlay == "both" else (args.overlay,)
        lives = {}
        for mode in modes:
            log(f"reference: {ref.fps:.2f} fps; starting the app and {args.cameras} camera(s), overlay {mode}")
            lives[mode] = measure_live(model_path, video, args.cameras, workdir, app_env, args.warmup,
                                       args.duration, attach, overlay=mode, files=files, clip_frames=len(clip))
        live = lives[modes[-1]]
        load_after = procstats.loadavg()
        if args.logs:
            _dump_frames(workdir / "frames.jsonl", live, ref, len(clip))
    result = {**assemble(args, video, fps, len(clip), ref, live, app_env, load_before, load_after),
              "overlay": modes[-1], "scene": cctv.bench_json(args, scene), "transport": transport,
              "main_streams": main_streams, "main_stream_size": files.main_size if files else None,
              "frame_matching": live["matching"]}
    if len(lives) > 1:     # the same figures of each, measured one after the other
        result["overlay_compare"] = {mode: {k: v for k, v in assemble(args, video, fps, len(clip), ref, got, app_env,
                                                                       load_before, load_after).items()
                                            if k in COMPARED} for mode, got in lives.items()}
    return result


def _transport(args) -> tuple[str, bool]:
    """``--transport``, ``--main-streams``: checked before anything starts."""
    transport, main_streams = getattr(args, "transport", "mjpeg"), bool(getattr(args, "main_streams", False))
    if main_streams and transport != "rtsp":
        raise ConfigError("--main-streams needs --transport rtsp",
                          "add --transport rtsp (MJPEG cameras have one stream)")
    if transport == "rtsp":
        rtsp.check_tools()
    return transport, main_streams


def measure_live(model: Path, video: Path, cameras: int, workdir: Path, app_env: dict, warmup: float,
                 duration: float, attach: RunningApp | None = None, overlay: str = "browser",
                 files: rtsp.CameraFiles | None = None, clip_frames: int = 0) -> dict:
    """``overlay``: "browser" (the camera's frames and the faces as events) or "drawn" (drawn in).
    ``files``: the cameras are RTSP servers playing those (frames numbered in their pixels, the
    numbers starting again every ``clip_frames``)."""
    system = LiveSystem(model, video, cameras, workdir, app_env, attach, files)
    viewers: list[FeedViewer] = []
    marks: MarksViewer | None = None
    try:
        system.start()
        if overlay == "browser":
            marks = MarksViewer(system.port, system.api_token).start()
        viewers = [FeedViewer(system.port, cid, system.api_token, drawn=overlay == "drawn",
                              period=clip_frames if files else None).start() for cid in system.camera_ids]
        deadline = time.monotonic() + warmup + 60
        time.sleep(warmup)
        # Warm means every camera's frames arrive and its analysis has run once: a cold engine (its
        # children still loading dlib on a busy machine) would be measured as misses.
        while not all(v.frames for v in viewers) or not _analysed(system):
            _check(system, viewers, marks)
            if time.monotonic() > deadline:
                raise EdgefaceError("no frames, or no analysis, from every camera within the warm-up and 60 s",
                                    f"see the logs in {workdir}")
            time.sleep(0.5)
        log(f"measuring for {duration:g} s")
        start, before, metrics_before = time.monotonic(), system.usage(), system.get("/metrics")
        peak_rss = peak_pss = 0.0
        while time.monotonic() - start < duration:
            time.sleep(min(SAMPLE_INTERVAL_S, max(0.0, duration - (time.monotonic() - start))))
            _check(system, viewers, marks)
            usage = system.usage()
            peak_rss, peak_pss = max(peak_rss, usage.rss_mb), max(peak_pss, usage.pss_mb)
        end, after, metrics_after = time.monotonic(), system.usage(), system.get("/metrics")
        return {"start": start, "end": end, "cpu_s": after.cpu_s - before.cpu_s, "rss_mb": peak_rss,
                "pss_mb": peak_pss, "processes": after.processes,
                "metrics": (parse_metrics(metrics_before or ""), parse_metrics(metrics_after or "")),
                "frames": {cid: marks.onto(cid, v.frames) if marks else list(v.frames)
                           for cid, v in zip(system.camera_ids, viewers)},
                "matching": _matching(system.camera_ids, viewers, marks) if files else None}
    finally:
        for v in viewers:
            v.close()
        if marks is not None:
            marks.close()
        system.close()


def _matching(camera_ids: list[str], viewers: list[FeedViewer], marks: MarksViewer | None) -> dict:
    """Per camera: frames whose barcode did not read, and (browser overlay) the seq offset its
    marks were matched by and the share of marks whose nearest frame agreed with it."""
    out = {}
    for cid, v in zip(camera_ids, viewers):
        offset, agree = marks.seq_offset(cid, v.frames) if marks else (None, None)
        out[cid] = {"frames": len(v.frames), "unreadable": v.unreadable, "seq_offset": offset,
                    "marks_agreeing": None if agree is None else round(agree, 3)}
    return out


def _analysed(system: LiveSystem) -> bool:
    """Whether the app analysed a frame of each of the bench's cameras."""
    listed = system.get("/api/v1/cameras")
    lags = {c["id"]: c.get("analysis_lag_s") for c in listed["cameras"]} if isinstance(listed, dict) else {}
    return all(lags.get(cid) is not None for cid in system.camera_ids)


def _dump_frames(path: Path, live: dict, ref, clip_frames: int) -> None:
    """Every frame the viewers received, with the reference's names: for looking into misses."""
    with open(path, "w", encoding="utf-8") as out:
        for cid, frames in live["frames"].items():
            for f in frames:
                k = None if f.counter is None else f.counter % clip_frames
                truth = sorted(ref.names[k]) if k is not None and k < len(ref.names) else None
                out.write(json.dumps({"camera": cid, "at": round(f.at - live["start"], 4), "counter": f.counter,
                                      "frame": k, "drawn": sorted(f.names), "faces": f.faces,
                                      "reference": truth}) + "\n")


def _check(system: LiveSystem, viewers: list[FeedViewer], marks: MarksViewer | None = None) -> None:
    system.check_running()
    for v in [*viewers, *([marks] if marks else [])]:
        if v.error:
            raise EdgefaceError(f"{v.name} failed: {v.error}", f"the app's output:\n{system.app_log()}")


def assemble(args, video: Path, fps: float, clip_frames: int, ref, live: dict, app_env: dict,
             load_before: list[float], load_after: list[float]) -> dict:
    start, end = live["start"], live["end"]
    per_camera, hits, wanted, drawn, latencies = {}, 0, 0, 0, []
    for cid, frames in live["frames"].items():
        window = scoring.in_window(frames, start, end)
        per_camera[cid] = round(scoring.output_fps(frames, start, end), 2)
        h, w, d = scoring.recall_counts(window, ref.names, clip_frames)
        hits, wanted, drawn = hits + h, wanted + w, drawn + d
        latencies += scoring.first_name_latencies(window, ref.names, clip_frames, fps)
    out_frames = sum(len(scoring.in_window(f, start, end)) for f in live["frames"].values())
    p95 = scoring.percentile(latencies, 95)
    before, after = live["metrics"]
    stages = stage_costs(before, after, seconds=end - start, frames=out_frames)
    slowest = min(per_camera.values()) if per_camera else 0.0
    result = {
        "cameras": args.cameras,
        "source": str(video),
        "source_fps": round(fps, 2),
        "duration_s": round(end - start, 1),
        "fps_per_camera": slowest,
        "fps_by_camera": per_camera,
        "named_frame_recall": round(hits / wanted, 4) if wanted else None,
        "named_frame_precision": round(hits / drawn, 4) if drawn else None,
        "first_name_latency_ms": _ms(p95),
        "first_name_latency_ms_median": _ms(scoring.percentile(latencies, 50)),
        "appearances": len(latencies),
        "appearances_never_named": sum(1 for v in latencies if v == float("inf")),
        "cpu_ms_per_frame": round(live["cpu_s"] * 1e3 / out_frames, 2) if out_frames else None,
        "cpu_cores_used": round(live["cpu_s"] / (end - start), 2),
        "rss_mb": round(live["rss_mb"], 1),
        "pss_mb": round(live["pss_mb"], 1),
        "app_processes": live["processes"],
        "reference_fps": round(ref.fps, 2),
        "speedup_vs_reference": round(slowest * args.cameras / ref.fps, 1) if ref.fps else None,
        "stages": stages,
        "analysis": counter_rates(before, after, seconds=end - start),
        "reference": ref.as_json(),
        # an attached app's settings are its own (the pod's ConfigMap), not this shell's
        "settings": None if args.app_url else _effective_settings(app_env),
        "app_url": args.app_url,
        "machine": _machine(load_before, load_after),
    }
    result["goal"] = {k: {"target": v, "met": _met(k, result[k], v)} for k, v in GOAL.items()}
    return result


def _ms(seconds: float | None):
    if seconds is None:
        return None
    return None if seconds == float("inf") else round(seconds * 1e3, 1)


def _met(key: str, value, target: float) -> bool:
    if value is None:
        return False
    return value >= target if key in ("fps_per_camera", "named_frame_recall") else value <= target


def _effective_settings(app_env: dict) -> dict:
    from edgeface.settings import LiveSettings

    env = {**{k: v for k, v in os.environ.items() if k.startswith("EDGEFACE_LIVE_")}, **app_env}
    return LiveSettings.from_env(env).model_dump()


def _machine(load_before: list[float], load_after: list[float]) -> dict:
    import dlib

    from edgeface.engine import cuda_available, default_threads

    model = ""
    try:
        model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                      if line.startswith("model name")), "")
    except OSError:
        pass
    return {"cpu": model or platform.processor(), "cpus": default_threads(), "loadavg_before": load_before,
            "loadavg_after": load_after, "python": platform.python_version(), "dlib": dlib.__version__,
            "dlib_blas": bool(getattr(dlib, "DLIB_USE_BLAS", False)), "cuda": cuda_available()}


def format_table(r: dict) -> str:
    def goal(key: str) -> str:
        g = r["goal"].get(key)
        return "" if g is None else f"(goal {g['target']:g}: {'met' if g['met'] else 'NOT met'})"

    m = r["machine"]
    lines = [
        f"edgeface bench: {r['cameras']} camera(s) x {r['source_fps']:g} fps of {Path(r['source']).name}, "
        f"{r['duration_s']} s measured, over {_transport_label(r)}",
        f"machine: {m['cpus']} CPUs ({m['cpu']}), load {m['loadavg_before'][0]:.2f} -> {m['loadavg_after'][0]:.2f}, "
        f"dlib {m['dlib']} (BLAS {'yes' if m['dlib_blas'] else 'no'}, CUDA {'yes' if m['cuda'] else 'no'})",
        "",
        f"  {'output fps, slowest camera':34} {r['fps_per_camera']:>8}  {goal('fps_per_camera')}",
        f"  {'named-frame recall':34} {_show(r['named_frame_recall']):>8}  {goal('named_frame_recall')}",
        f"  {'named-frame precision':34} {_show(r['named_frame_precision']):>8}",
        f"  {'first-name latency p95 (ms)':34} {_show(r['first_name_latency_ms']):>8}  "
        f"{goal('first_name_latency_ms')}  median {_show(r['first_name_latency_ms_median'])}, "
        f"{r['appearances_never_named']}/{r['appearances']} never named",
        f"  {'app memory RSS / PSS (MB)':34} {r['rss_mb']:>8}  {goal('rss_mb')}  PSS {r['pss_mb']}",
        f"  {'CPU ms per output frame':34} {_show(r['cpu_ms_per_frame']):>8}  ({r['cpu_cores_used']} cores busy)",
        f"  {'reference fps (full-res, 1 thread)':34} {r['reference_fps']:>8}  "
        f"live is x{r['speedup_vs_reference']} its throughput",
        f"  {'analysis, all cameras (per s)':34} "
        + ", ".join(f"{k.removesuffix('_per_s').replace('_', ' ')} {v:g}" for k, v in r.get("analysis", {}).items()),
        *_matching_line(r.get("frame_matching")),
        "",
        f"  {'stage (CPU)':11} {'live ms/call':>12} {'calls/s':>8} {'ms/frame':>9} {'reference ms/frame':>19}",
    ]
    ref_ms = r["reference"]["stage_ms"]
    for stage in STAGES:
        s = r["stages"].get(stage, {})
        lines.append(f"  {stage:10} {_show(s.get('ms_per_call')):>13} {_show(s.get('calls_per_s')):>8} "
                     f"{_show(s.get('ms_per_frame')):>9} {_show(ref_ms.get(stage)):>19}")
    compare = r.get("overlay_compare")
    if compare:
        lines += ["", f"  {'overlay, back to back':34} " + "".join(f"{mode:>12}" for mode in compare)]
        for key, label in (("cpu_ms_per_frame", "CPU ms per output frame"), ("cpu_cores_used", "cores busy"),
                           ("fps_per_camera", "output fps, slowest camera"),
                           ("named_frame_recall", "named-frame recall")):
            lines.append(f"  {label:34} " + "".join(f"{_show(c.get(key)):>12}" for c in compare.values()))
        for stage in ("annotate", "jpeg_out"):
            cells = (_show(c["stages"].get(stage, {}).get("ms_per_frame")) for c in compare.values())
            lines.append(f"  {stage + ' ms/frame':34} " + "".join(f"{cell:>12}" for cell in cells))
    return "\n".join(lines)


def _matching_line(matching: dict | None) -> list[str]:
    """RTSP: how the frames were numbered (barcode) and the marks matched (seq offset)."""
    if not matching:
        return []
    agree = [m["marks_agreeing"] for m in matching.values() if m["marks_agreeing"] is not None]
    return [f"  {'frames matched (barcode, marks)':34} "
            f"{sum(m['unreadable'] for m in matching.values())} of {sum(m['frames'] for m in matching.values())} "
            f"unreadable; marks agreeing with the seq offset {min(agree) if agree else '-'} (lowest camera)"]


def _transport_label(r: dict) -> str:
    if r.get("transport") != "rtsp":
        return "MJPEG"
    size = "x".join(map(str, r.get("main_stream_size") or ()))
    main = f"main stream {size} as identify stream" if r["main_streams"] else "no main stream"
    return f"RTSP/H.264 (sub-stream, {main})"


def _show(value) -> str:
    return "-" if value is None else f"{value:g}" if isinstance(value, (int, float)) else str(value)

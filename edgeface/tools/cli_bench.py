"""``edgeface bench``: benchmarks (never timed tests). ``--suite core`` measures the foundation."""

from __future__ import annotations

import json
import signal
from pathlib import Path


def register(sub) -> None:
    p = sub.add_parser("bench", help="measure speed; figures come with a same-run reference")
    p.add_argument("--suite", choices=("core", "live", "identity", "decode", "history", "soak"), default="live",
                   help="core: enrolment, matching, model loading; live: the camera pipeline (default); "
                        "identity: right names on generated scenes (docs/performance.md); "
                        "decode: CPU per camera, H.264 over RTSP vs MJPEG at 360p/720p/1080p, and a main "
                        "(identify) stream decoded only or converted too; "
                        "history: filtered pages of 100 000 stored events (API and database); "
                        "soak: the app for --minutes under chaos, leaks and crashes reported")
    p.add_argument("--images", default=None, help="core: enrolment images (default: the sample face-images)")
    p.add_argument("--json", action="store_true", help="one JSON object instead of a table")
    live = p.add_argument_group("live suite")
    live.add_argument("--cameras", type=int, default=4, help="simulated cameras streaming into the app (default 4)")
    live.add_argument("--source", default=None, metavar="VIDEO",
                      help="video every camera loops (default: the sample clip; overrides --scene)")
    live.add_argument("--scene", choices=("clip", "cctv"), default="clip",
                      help="clip: the sample clip (default); cctv: a generated fixed-camera scene, people walking "
                           "in and out (--media, --seed; cached in ~/.cache/edgeface/scenes; docs/performance.md)")
    live.add_argument("--scene-seconds", type=float, default=None, metavar="S",
                      help="cctv: length of the generated scene (default 40)")
    live.add_argument("--inline", action="store_true",
                      help="cctv: no app and no cameras: the scene through one camera's pipeline, every look at "
                           "once, scored against the scene's truth (deterministic; walk-in delays, detector work)")
    live.add_argument("--transport", choices=("mjpeg", "rtsp"), default="mjpeg",
                      help="mjpeg: each camera is the MJPEG simulator (default); rtsp: a real RTSP server sending "
                           "H.264, as IP cameras do (needs Debian's GStreamer RTSP server; docs/performance.md)")
    live.add_argument("--main-streams", action="store_true",
                      help="rtsp: each camera also sends a 1920x1080 main stream, added as its identify stream "
                           "(the CCTV scene is drawn at that size; the sub-stream stays 640x360)")
    live.add_argument("--duration", type=float, default=40.0, metavar="S", help="measured seconds (default 40)")
    live.add_argument("--overlay", choices=("browser", "drawn", "both"), default="browser",
                      help="browser: the camera's frames and the faces as events, as the console draws them "
                           "(default); drawn: the faces drawn into the frames by the app (?boxes=drawn); "
                           "both: the two back to back, compared (overlay_compare)")
    live.add_argument("--warmup", type=float, default=10.0, metavar="S",
                      help="seconds of streaming before measuring, and on until each camera was analysed once "
                           "(default 10)")
    live.add_argument("--reference-frames", type=int, default=None, metavar="N",
                      help="run the reference loop on the first N frames only (default: the whole clip)")
    live.add_argument("--model", default=None, help="model file (default: trained from the sample faces)")
    live.add_argument("--app-env", action="append", default=None, metavar="EDGEFACE_LIVE_X=V",
                      help="live tuning for the app under test (repeatable; see docs/performance.md)")
    live.add_argument("--logs", default=None, metavar="DIR", help="keep the app's and cameras' logs here")
    live.add_argument("--app-url", default=None, metavar="URL",
                      help="measure the app running at http://127.0.0.1:PORT (a pod: run the bench in its network "
                           "namespace) instead of starting one; its API token in EDGEFACE_API_TOKEN")
    live.add_argument("--app-pids", default=None, metavar="PID,...",
                      help="with --app-url: the app's processes (children included) for CPU and memory")
    identity = p.add_argument_group("identity suite")
    identity.add_argument("--quick", action="store_true",
                          help="identity: shorter scenes, fewer segments; soak: ~1 minute, short cycles (for tests)")
    p.add_argument("--minutes", type=float, default=None, help="soak: how long (default 10)")
    identity.add_argument("--media", default=None, metavar="DIR",
                          help="faces/ and probes/ to build scenes from (default: $EDGEFACE_MEDIA or ../shared/media)")
    identity.add_argument("--seed", type=int, default=None, help="scene generator seed (default: a fixed one)")
    identity.add_argument("--scenario", action="append", default=None, metavar="NAME",
                          help="identity: only this scenario (repeatable), e.g. lookalike; the figures are the "
                               "full suite's (each scenario draws from its own generator)")
    p.set_defaults(handler=cmd_bench)


def _interrupted(*_) -> None:
    raise KeyboardInterrupt


def cmd_bench(args) -> int:
    # SIGTERM (kill, a job's timeout) as Ctrl-C: the suites' ``finally`` blocks then stop the
    # servers, cameras and app they started instead of leaving them running.
    signal.signal(signal.SIGTERM, _interrupted)
    if args.suite == "core":
        from edgeface.tools import bench_core
        from edgeface.tools.samples import SAMPLE_FACES

        result = bench_core.run(args.images or SAMPLE_FACES)
        print(json.dumps(result) if args.json else bench_core.format_table(result))
        return 0
    if args.suite == "decode":
        from edgeface.tools import bench_decode
        from edgeface.tools.samples import SAMPLE_VIDEO

        result = bench_decode.run(Path(args.source or SAMPLE_VIDEO))  # ~3 min: 15 cases of 8 s
        print(json.dumps(result) if args.json else bench_decode.format_table(result))
        return 0
    if args.suite == "history":
        from edgeface.tools import bench_history

        return bench_history.main(args)
    if args.suite == "soak":
        from edgeface.tools import bench_soak

        return bench_soak.main(args)
    if args.suite == "identity":
        from edgeface.tools import bench_identity

        return bench_identity.main(args)
    from edgeface.tools import bench_live

    if args.inline:
        return bench_live.main_inline(args)
    return bench_live.main(args)

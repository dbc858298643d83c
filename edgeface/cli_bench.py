"""``edgeface bench``: benchmarks (never timed tests). ``--suite core`` measures the foundation."""

from __future__ import annotations

import json


def register(sub) -> None:
    p = sub.add_parser("bench", help="measure speed; figures come with a same-run reference")
    p.add_argument("--suite", choices=("core", "live"), default="live",
                   help="core: enrolment, matching, model loading; live: the camera pipeline (default)")
    p.add_argument("--images", default=None, help="core: enrolment images (default: the sample face-images)")
    p.add_argument("--json", action="store_true", help="one JSON object instead of a table")
    p.set_defaults(handler=cmd_bench)


def cmd_bench(args) -> int:
    if args.suite == "core":
        from edgeface import bench_core
        from edgeface.samples import SAMPLE_FACES

        result = bench_core.run(args.images or SAMPLE_FACES)
        print(json.dumps(result) if args.json else bench_core.format_table(result))
        return 0
    from edgeface import bench_live

    return bench_live.main(args)

"""``edgeface demo``: the sample model, the web app and simulated cameras on 127.0.0.1."""

from __future__ import annotations

from edgeface.cli_core import port


def register(sub) -> None:
    p = sub.add_parser(
        "demo", help="train the sample model if needed, start the app and simulated cameras, open the page",
        description="Everything on 127.0.0.1 with real mDNS registration. Ctrl-C stops it all.")
    p.add_argument("--port", type=port, default=5000, help="web app port (default 5000)")
    p.add_argument("--cameras", type=int, default=1, help="number of simulated cameras (default 1)")
    p.add_argument("--video", default=None, help="video each camera loops (default: the sample clip)")
    p.add_argument("--faces", default=None, help="face-images folder to train from (default: the samples)")
    p.add_argument("--model", default=None, help="model file to use or create (default: in ~/.cache/edgeface/demo)")
    p.set_defaults(handler=cmd_demo)


def cmd_demo(args) -> int:
    from edgeface.tools.demo import Demo

    return Demo(port=args.port, cameras=args.cameras, video=args.video, faces=args.faces, model=args.model).run()

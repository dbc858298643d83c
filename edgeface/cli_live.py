"""``edgeface serve``: the web app under gunicorn."""

from __future__ import annotations

from edgeface.cli_core import port_or_zero, whole_number


def register(sub) -> None:
    p = sub.add_parser(
        "serve", help="run the web app (operator page, API, camera registration) under gunicorn",
        description="Settings default to the environment variables listed in docs/settings.md "
                    "(MODEL_FILENAME, EDGEFACE_*); flags override them.")
    source = p.add_mutually_exclusive_group()
    source.add_argument("--model", metavar="FILE", help="model file, reloaded when it changes "
                        "(default $MODEL_FILENAME or /model/model.data)")
    source.add_argument("--store", metavar="URL", help="follow a model store (s3://BUCKET/PREFIX or a directory) "
                        "instead of a file (default $EDGEFACE_STORE)")
    p.add_argument("--model-version", default=None, help="store version to use (default latest: follows promotions)")
    p.add_argument("--host", default=None, help="listen address (default $EDGEFACE_HOST or 127.0.0.1)")
    p.add_argument("--port", type=port_or_zero, default=None, help="listen port (default $EDGEFACE_PORT or 5000)")
    p.add_argument("--mdns-interface", default=None, metavar="IP",
                   help="interface IP for mDNS announce/browse (default $EDGEFACE_MDNS_INTERFACE; unset = no mDNS)")
    p.add_argument("--register-host", default=None, help="mDNS host name cameras register at "
                   "(default microshift-cam-reg.local)")
    p.add_argument("--camera", action="append", default=None, metavar="URL",
                   help="camera URL or video file to read from the start (repeatable)")
    p.add_argument("--allowed-networks", default=None, metavar="CIDRS",
                   help="networks registering cameras may be in (default $EDGEFACE_ALLOWED_NETWORKS or private ranges)")
    p.add_argument("--threads", type=whole_number(1), default=None,
                   help="HTTP threads (default $EDGEFACE_HTTP_THREADS or 32)")
    p.set_defaults(handler=cmd_serve)


def cmd_serve(args) -> int:
    if args.store:   # a mistyped URL stops here with exit 2, not later in the gunicorn worker
        from edgeface.store import open_store
        open_store(args.store, args.settings, origin="--store")
    if args.settings.cameras.file:   # likewise a wrong cameras file or a missing Secret variable
        from edgeface.cameras.config import load_cameras_file
        load_cameras_file(args.settings.cameras.file)
    if args.settings.cameras.discovery_interface:
        from edgeface.cameras.discovery import interface_address
        interface_address(args.settings.cameras.discovery_interface, check_bind=True)
    from edgeface.cameras.netpolicy import parse_networks
    from webapp.server import EdgefaceServer

    s = args.settings
    model, http, cameras = s.model, s.http, s.cameras
    if args.model:
        model = model.model_copy(update={"file": args.model, "store": None})
    if args.store:
        model = model.model_copy(update={"store": args.store})
    if args.model_version:
        model = model.model_copy(update={"version": args.model_version})
    http = http.model_copy(update={k: v for k, v in (("host", args.host), ("port", args.port),
                                                     ("threads", args.threads)) if v})
    if args.port is not None:
        http = http.model_copy(update={"port": args.port})    # announced too, unless EDGEFACE_ANNOUNCE_PORT says
    camera_changes = {k: v for k, v in (("mdns_interface", args.mdns_interface),
                                        ("register_host", args.register_host)) if v}
    if args.camera:
        camera_changes["initial"] = list(cameras.initial) + args.camera
    if args.allowed_networks:
        camera_changes["allowed_networks"] = parse_networks(args.allowed_networks)
    cameras = cameras.model_copy(update=camera_changes)
    EdgefaceServer(s.model_copy(update={"model": model, "http": http, "cameras": cameras})).run()
    return 0

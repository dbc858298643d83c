"""``edgeface camera``: a simulated ESP32-CAM that streams a video file or an image folder."""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from edgeface.cli_core import port, port_or_zero
from edgeface.settings import REGISTRATION_HOST


def register(sub) -> None:
    p = sub.add_parser(
        "camera", help="simulate an ESP32-CAM: stream a video or image folder, register with the app",
        description="Serves /stream (MJPEG) and /capture like ESP32-CAM firmware, advertises _edgecam._tcp "
                    "over mDNS, and registers with the app found at --register-host. With --sub-size, a camera "
                    "with two streams: /stream scaled to that size, /main at the source's (announced as its "
                    "main stream). Stop with Ctrl-C.")
    p.add_argument("--source", required=True, metavar="VIDEO_OR_IMAGE_DIR",
                   help="video file (looped at its own frame rate) or folder of images (a slideshow)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1; 0.0.0.0 for all)")
    p.add_argument("--port", type=port_or_zero, default=8081, help="HTTP port (default 8081; 0 picks a free one)")
    p.add_argument("--mdns-interface", default="127.0.0.1", metavar="IP",
                   help="interface IP for mDNS (default 127.0.0.1; 0.0.0.0 for all)")
    p.add_argument("--token", default=None,
                   help="stream token (default $EDGEFACE_CAMERA_TOKEN, else a random one)")
    p.add_argument("--name", default=None, help="mDNS instance name (default edgecam-HOST-PORT)")
    p.add_argument("--register-host", default=REGISTRATION_HOST,
                   help=f"the app's mDNS registration host name (default {REGISTRATION_HOST})")
    p.add_argument("--register-port", type=port, default=None,
                   help="the app's port (default: from its _edgeface._tcp service, else 80)")
    p.add_argument("--no-register", action="store_true", help="do not call the app's /register")
    p.add_argument("--no-advertise", action="store_true", help="do not advertise _edgecam._tcp")
    p.add_argument("--advertise-ip", default=None, metavar="IP",
                   help="IP to give the app (default: --host, else --mdns-interface, else this host's)")
    p.add_argument("--fps", type=float, default=None, help="frame rate (default: the video's; 2 for images)")
    p.add_argument("--quality", type=int, default=80, help="JPEG quality 1-100 (default 80)")
    p.add_argument("--sub-size", type=_size, default=None, metavar="WxH",
                   help="send /stream at this size (a sub-stream, e.g. 640x360) and the source's own at /main "
                        "(the main stream the app crops faces from)")
    p.add_argument("--reregister-after", type=float, default=5.0, metavar="SECONDS",
                   help="register again when the app has not pulled the stream this long (default 5)")
    p.set_defaults(handler=cmd_camera)


def _size(text: str) -> tuple[int, int]:
    """argparse type: WIDTHxHEIGHT, each 16 to 8192 pixels."""
    width, _, height = text.lower().partition("x")
    if not (width.isdigit() and height.isdigit() and 16 <= int(width) <= 8192 and 16 <= int(height) <= 8192):
        raise argparse.ArgumentTypeError(f"{text!r} is not a size WIDTHxHEIGHT such as 640x360 (16 to 8192 each)")
    return int(width), int(height)


def cmd_camera(args) -> int:
    from edgeface import images
    from edgeface.tools.simulator import CameraSimulator, SimulatorConfig

    images.configure(args.settings.images.max_pixels)   # an image-folder source is read with it
    env_token = args.settings.cameras.token
    config = SimulatorConfig(
        source=args.source, host=args.host, port=args.port, mdns_interface=args.mdns_interface,
        token=args.token or (env_token.get_secret_value() if env_token else None), name=args.name,
        register_host=None if args.no_register else args.register_host,
        register_port=args.register_port, advertise=not args.no_advertise, advertise_ip=args.advertise_ip,
        fps=args.fps, quality=args.quality, reregister_after_s=args.reregister_after, sub_size=args.sub_size,
    )
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    sim = CameraSimulator(config)
    playback = sim.playback
    # Tests and scripts read this line for the port (--port 0); the token is never printed.
    print(f"camera {sim.name}: {playback.path} at {playback.fps:g} fps on "
          f"http://{sim.ip}:{sim.port}/stream?token=***" + (" (main stream: /main)" if args.sub_size else ""),
          flush=True)
    sim.start()
    print("ready", flush=True)
    try:
        while not stop.wait(1.0):
            pass
    finally:
        sim.stop()
    print("stopped", file=sys.stderr, flush=True)
    return 0


"""A real RTSP server (GStreamer's gst-rtsp-server) on 127.0.0.1, as an IP camera is.

Run with Debian's ``/usr/bin/python3`` (it imports Debian's ``gi``; the project's Python cannot):

    RTSP_USER=u RTSP_PASSWORD=p /usr/bin/python3 rtsp_server.py --port 8554 --clip CLIP.ts [--auth digest]

It serves ``rtsp://127.0.0.1:PORT/cam``: the H.264 stream of an MPEG-TS file, in real time,
payloaded as RTP without re-encoding, over TCP (interleaved) or UDP as the client asks. (A file
rather than a live feed: GStreamer paces a file exactly, while an MPEG-TS feed over UDP came out
at a few frames a second; ``streamserve.h264_clip`` makes the file long enough to look looped.)
It prints ``ready`` once listening and ``client connected`` for every connection, and runs until
SIGTERM. The password comes from the environment, never the command line (which ``ps`` shows).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtsp", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtsp, GstRtspServer  # noqa: E402

ROLE = "camera-user"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--clip", required=True, help="MPEG-TS file holding H.264")
    parser.add_argument("--path", default="/cam")
    parser.add_argument("--auth", choices=("basic", "digest", "none"), default="basic")
    parser.add_argument("--rtp-ports", default="40000-40999", help="range for the server's RTP/RTCP UDP ports")
    args = parser.parse_args()
    Gst.init(None)

    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(args.port))

    factory = GstRtspServer.RTSPMediaFactory()
    clip = args.clip.replace("\\", "\\\\").replace('"', '\\"')
    factory.set_launch(f'( filesrc location="{clip}" ! tsdemux ! h264parse config-interval=-1 '
                       "! rtph264pay name=pay0 pt=96 config-interval=-1 )")
    factory.set_shared(True)  # one pipeline for every client, as a camera has one encoder
    factory.set_protocols(GstRtsp.RTSPLowerTrans.TCP | GstRtsp.RTSPLowerTrans.UDP)
    # Unicast UDP ports from a loopback pool: nothing this server opens listens beyond 127.0.0.1.
    low, high = (int(p) for p in args.rtp_ports.split("-"))
    pool = GstRtspServer.RTSPAddressPool()
    pool.add_range("127.0.0.1", "127.0.0.1", low, high, 0)
    factory.set_address_pool(pool)

    if args.auth != "none":
        user, password = os.environ["RTSP_USER"], os.environ["RTSP_PASSWORD"]
        auth = GstRtspServer.RTSPAuth()
        token = GstRtspServer.RTSPToken()
        token.set_string(GstRtspServer.RTSP_TOKEN_MEDIA_FACTORY_ROLE, ROLE)
        if args.auth == "digest":
            auth.add_digest(user, password, token)
            auth.set_supported_methods(GstRtsp.RTSPAuthMethod.DIGEST)
        else:
            auth.add_basic(GstRtspServer.RTSPAuth.make_basic(user, password), token)
            auth.set_supported_methods(GstRtsp.RTSPAuthMethod.BASIC)
        server.set_auth(auth)
        factory.add_role_from_structure(Gst.Structure.new_from_string(
            f"{ROLE}, media.factory.access=(boolean)true, media.factory.construct=(boolean)true"))

    server.get_mount_points().add_factory(args.path, factory)
    # One line per TCP connection: the tests count a client's connection attempts with it.
    server.connect("client-connected", lambda *_: print("client connected", flush=True))
    if server.attach(None) == 0:
        print(f"cannot listen on 127.0.0.1:{args.port}", file=sys.stderr)
        return 1
    loop = GLib.MainLoop()
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, loop.quit)
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGINT, loop.quit)
    print("ready", flush=True)
    loop.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())

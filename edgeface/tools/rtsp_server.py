"""A real RTSP server (GStreamer's gst-rtsp-server) on 127.0.0.1, as an IP camera is.

Run with Debian's ``/usr/bin/python3`` (it imports Debian's ``gi``; the project's Python cannot):

    RTSP_USER=u RTSP_PASSWORD=p /usr/bin/python3 rtsp_server.py --port 8554 --clip CLIP.ts [--auth digest]

It serves ``rtsp://127.0.0.1:PORT/cam``: the H.264 stream of an MPEG-TS file, in real time,
payloaded as RTP without re-encoding, over TCP (interleaved) or UDP as the client asks; each
client from the file's start, in a pipeline of its own (see ``media_factory``). (A file
rather than a live feed: GStreamer paces a file exactly, while an MPEG-TS feed over UDP came out
at a few frames a second; ``streamserve.h264_clip`` makes the file long enough to look looped.)
With ``--split MAIN_WxH,SUB_WxH`` it is a camera with two streams, as IP cameras have: the clip
is decoded once, in real time, and sent to ``/main`` and ``/sub`` at the two sizes, each encoded
live (x264, no B-frames), so the same moment leaves both streams together. ``--main-delay-ms``
holds the main stream back (a camera whose streams drift apart).
With ``--play MOUNT=FILE`` (repeatable; ``--clip`` is then unused) it serves files already encoded
(MPEG-TS H.264, the same length), each at its mount, played together by one pipeline in real time
and looped for ever: a camera with one or two streams that costs next to no CPU (no decode, no
encode), so a benchmark of many cameras measures the app, not the cameras.

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
    parser.add_argument("--clip", help="MPEG-TS file holding H.264")
    parser.add_argument("--play", action="append", metavar="MOUNT=FILE",
                        help="serve FILE (MPEG-TS H.264) at MOUNT, looped; all --play files in step")
    parser.add_argument("--path", default="/cam")
    parser.add_argument("--auth", choices=("basic", "digest", "none"), default="basic")
    parser.add_argument("--split", help="MAIN_WxH,SUB_WxH: serve /main and /sub from one decode of the clip")
    parser.add_argument("--main-delay-ms", type=int, default=0, help="with --split: hold /main back this long")
    parser.add_argument("--rtp-ports", default="40000-40999", help="range for the server's RTP/RTCP UDP ports")
    args = parser.parse_args()
    Gst.init(None)

    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(args.port))

    if not args.clip and not args.play:
        parser.error("give --clip FILE or --play MOUNT=FILE")
    clip = (args.clip or "").replace("\\", "\\\\").replace('"', '\\"')
    if args.play:
        camera, factories = looped_files(dict(item.split("=", 1) for item in args.play))
    elif args.split:
        camera = split_camera(clip, args.split, args.main_delay_ms)
        factories = {"/main": live_factory("main"), "/sub": live_factory("sub")}
    else:
        camera = None
        factories = {args.path: media_factory(f'( filesrc location="{clip}" ! tsdemux ! h264parse config-interval=-1 '
                                              "! rtph264pay name=pay0 pt=96 config-interval=-1 )")}
    # Unicast UDP ports from a loopback pool: nothing this server opens listens beyond 127.0.0.1.
    low, high = (int(p) for p in args.rtp_ports.split("-"))
    pool = GstRtspServer.RTSPAddressPool()
    pool.add_range("127.0.0.1", "127.0.0.1", low, high, 0)
    for factory in factories.values():
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
        for factory in factories.values():
            factory.add_role_from_structure(Gst.Structure.new_from_string(
                f"{ROLE}, media.factory.access=(boolean)true, media.factory.construct=(boolean)true"))

    for path, factory in factories.items():
        server.get_mount_points().add_factory(path, factory)
    # One line per TCP connection: the tests count a client's connection attempts with it.
    server.connect("client-connected", lambda *_: print("client connected", flush=True))
    if server.attach(None) == 0:
        print(f"cannot listen on 127.0.0.1:{args.port}", file=sys.stderr)
        return 1
    if camera is not None:
        camera.set_state(Gst.State.PLAYING)
    loop = GLib.MainLoop()
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, loop.quit)
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGINT, loop.quit)
    print("ready", flush=True)
    loop.run()
    if camera is not None:
        camera.set_state(Gst.State.NULL)
    return 0


def media_factory(launch: str, *, shared: bool = False):
    """``shared``: one pipeline for every client, as a camera has one encoder. Otherwise each
    client gets a pipeline of its own: gst-rtsp-server 1.22 answers 503, or aborts in
    ``gst_rtsp_media_get_rates``, when clients set up and tear down one shared media at once."""
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(launch)
    factory.set_shared(shared)
    factory.set_protocols(GstRtsp.RTSPLowerTrans.TCP | GstRtsp.RTSPLowerTrans.UDP)
    return factory


def split_camera(clip: str, sizes: str, main_delay_ms: int):
    """The camera's sensor: the clip decoded once in real time, scaled to both streams' sizes."""
    (mw, mh), (sw, sh) = (tuple(int(n) for n in size.split("x")) for size in sizes.split(","))
    # The main sink shows each frame that much later; its queue holds the frames meanwhile.
    return Gst.parse_launch(
        f'filesrc location="{clip}" ! decodebin ! videoconvert ! tee name=t '
        "t. ! queue max-size-buffers=0 max-size-bytes=0 max-size-time=3000000000 ! videoscale add-borders=false "
        f"! video/x-raw,width={mw},height={mh},pixel-aspect-ratio=1/1 "
        f"! intervideosink channel=main ts-offset={main_delay_ms * 1_000_000} "
        f"t. ! queue ! videoscale add-borders=false ! video/x-raw,width={sw},height={sh},pixel-aspect-ratio=1/1 "
        "! intervideosink channel=sub")


def live_factory(channel: str):
    """One stream of the split camera, encoded live as a camera's encoder does (one encoder
    whoever watches: shared)."""
    return media_factory(f"( intervideosrc channel={channel} ! video/x-raw,framerate=30/1 ! videoconvert "
                         "! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=30 bframes=0 threads=1 "
                         "! h264parse config-interval=-1 ! rtph264pay name=pay0 pt=96 config-interval=-1 )",
                         shared=True)


class _Fanout:
    """Each played stream's access units, pushed to the ``appsrc`` of every client pipeline of its
    mount (each client has its own); stamped there with that pipeline's clock."""

    def __init__(self) -> None:
        self.sources: list = []

    def configure(self, _factory, media) -> None:
        src = media.get_element().get_by_name("src")
        self.sources.append(src)
        media.connect("unprepared", lambda *_: self.sources.remove(src))

    def sample(self, sink) -> Gst.FlowReturn:
        data = sink.emit("pull-sample").get_buffer().extract_dup(0, 2**31 - 1)
        for src in list(self.sources):
            src.emit("push-buffer", Gst.Buffer.new_wrapped(data))
        return Gst.FlowReturn.OK


def looped_files(files: dict[str, str]):
    """One pipeline plays every file in real time (the sinks sync to its clock), looping at the
    end; each mount's clients get its stream as it plays, so the streams of a camera stay in step."""
    branches = []
    for k, path in enumerate(files.values()):
        location = path.replace("\\", "\\\\").replace('"', '\\"')
        branches.append(f'filesrc location="{location}" ! tsdemux ! h264parse config-interval=-1 '
                        f"! video/x-h264,stream-format=byte-stream,alignment=au "
                        f"! appsink name=s{k} sync=true emit-signals=true max-buffers=4")
    player = Gst.parse_launch(" ".join(branches))
    factories = {}
    for k, mount in enumerate(files):
        fanout = _Fanout()
        player.get_by_name(f"s{k}").connect("new-sample", fanout.sample)
        factory = media_factory("( appsrc name=src is-live=true do-timestamp=true format=time "
                                "caps=video/x-h264,stream-format=byte-stream,alignment=au "
                                "! h264parse config-interval=-1 ! rtph264pay name=pay0 pt=96 config-interval=-1 )")
        factory.connect("media-configure", fanout.configure)
        factories[mount] = factory

    def at_end(_bus, message) -> None:
        if message.type == Gst.MessageType.EOS:
            player.seek_simple(Gst.Format.TIME, Gst.SeekFlags.FLUSH | Gst.SeekFlags.KEY_UNIT, 0)
        elif message.type == Gst.MessageType.ERROR:
            print(f"player: {message.parse_error()[0].message}", file=sys.stderr, flush=True)

    bus = player.get_bus()
    bus.add_signal_watch()
    bus.connect("message", at_end)
    return player, factories


if __name__ == "__main__":
    sys.exit(main())

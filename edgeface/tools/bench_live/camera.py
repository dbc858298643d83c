"""A benchmark camera: the real simulator (``edgeface camera``), with each frame's number stamped.

Every JPEG it sends carries a COM segment ``edgeface-frame:<n>`` — ``n`` counts frames sent since
start, so ``n % frames_in_clip`` is the source frame and ``n // frames_in_clip`` the loop. The app
forwards the camera's comments into its annotated frames, which is how the benchmark maps what a
viewer received back to the source frame it shows. Run as
``python -m edgeface.tools.bench_live.camera SOURCE PORT`` with the token in ``EDGEFACE_CAMERA_TOKEN``.
"""

from __future__ import annotations

import itertools
import os
import signal
import sys
import threading

from edgeface.jpegmeta import FRAME_STAMP, add_comment
from edgeface.tools.simulator import CameraSimulator, FrameFeed, SimulatorConfig


class StampedFeed(FrameFeed):
    """The simulator's feed (same pacing, caching and sharing), numbering the frames it sends."""

    def jpegs(self):
        for n, (jpeg, main) in zip(itertools.count(), super().jpegs()):
            stamp = FRAME_STAMP + str(n).encode()
            yield add_comment(jpeg, stamp), None if main is None else add_comment(main, stamp)


def stamped_simulator(source: str, port: int, token: str) -> CameraSimulator:
    """No mDNS: the benchmark adds the camera through the app's API, the way an operator does."""
    sim = CameraSimulator(SimulatorConfig(source=source, host="127.0.0.1", port=port, mdns_interface=None,
                                          token=token, register_host=None, advertise=False))
    sim.feed = sim.server.feed = StampedFeed(sim.playback, sim.config.quality)
    return sim


def main(argv: list[str]) -> int:
    source, port = argv[0], int(argv[1])
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    sim = stamped_simulator(source, port, os.environ["EDGEFACE_CAMERA_TOKEN"]).start()
    print(f"ready {sim.port}", flush=True)
    try:
        while not stop.wait(1.0):
            pass
    finally:
        sim.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

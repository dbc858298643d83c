"""A camera's identify stream: its main stream, read beside the detect (sub) stream, decoded sparsely.

Detection and tracking run on the detect stream, every frame; faces are cropped from this one
(3–6× the pixels) at the moment a track was seen. An RTSP/H.264 stream has to be decoded frame
by frame (a P-frame needs the one before), so FFmpeg keeps decoding every frame (``grab``), but
the frame is converted to BGR (``retrieve``, another ~2.7 ms a frame at 1080p) only while the
camera's pipeline ``want``s it: while faces are tracked. An MJPEG stream's JPEGs are kept as bytes
and decoded only when a search with a face due an encoding asks for the frames around its time.
The last few frames are kept with their arrival time (``time.monotonic()``, the clock detect
frames carry), and ``hold(t)`` collects those around a detect frame's time for its analysis.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterator

import numpy as np

from edgeface.cameras.source import CameraSource, Frame, open_capture_checked

#: Frames kept (~0.1 s at 30 fps): those that arrived before a detect frame's ``hold``.
KEEP = 4
#: A want lasts this long (the pipeline renews it at each detection while faces are around).
WANT_S = 2.0


class Held:
    """The identify frames of one detect frame's moment: those that arrived within ``span_s`` of
    ``t``; complete once a later one arrived."""

    def __init__(self, t: float, span_s: float):
        self.t, self.span_s = t, span_s
        self.frames: list[Frame] = []
        self.complete = threading.Event()

    def offer(self, frame: Frame) -> None:
        if frame.time > self.t + self.span_s:
            self.complete.set()
        elif frame.time >= self.t - self.span_s and not self.complete.is_set():
            self.frames.append(frame)

    def wait(self, seconds: float) -> tuple[Frame, ...]:
        """The frames, once complete or after ``seconds`` (a stream that stalled gives what it has)."""
        self.complete.wait(seconds)
        return tuple(self.frames)


class IdentifyStream(CameraSource):
    """The identify stream of camera ``camera_id``: ``start()``, ``want()``, ``hold()``,
    ``close()``; ``status()`` as a ``CameraSource``'s."""

    def __init__(self, camera_id: str, url: str, *, stall_timeout: float = 3.0, keep: int = KEEP):
        super().__init__(f"{camera_id}-identify", url, stall_timeout=stall_timeout, origin="identify")
        self._kept: deque[Frame] = deque(maxlen=keep)
        self._arrived = threading.Lock()
        self._holds: list[Held] = []
        self._wanted_until = -1.0
        self.converted = 0          # frames converted to BGR (the rest were only decoded)

    def want(self, seconds: float = WANT_S) -> None:
        """Keep frames' pixels for the next ``seconds`` (faces may need crops)."""
        self._wanted_until = time.monotonic() + seconds

    @property
    def wanted(self) -> bool:
        return time.monotonic() < self._wanted_until

    def hold(self, t: float, span_s: float) -> Held:
        """The frames that arrive within ``span_s`` of ``t`` (a detect frame's time), kept for
        one analysis however late it runs; the stream is wanted meanwhile."""
        self.want()
        held = Held(t, span_s)
        with self._arrived:
            for frame in self._kept:
                held.offer(frame)
            if not held.complete.is_set():
                self._holds.append(held)
        return held

    def _publish(self, jpeg: bytes | None, bgr: np.ndarray | None) -> None:
        super()._publish(jpeg, bgr)
        frame = self.latest()
        if frame is None or (bgr is None and (jpeg is None or not self.wanted)):
            return
        with self._arrived:
            self._kept.append(frame)
            for held in self._holds:
                held.offer(frame)
            self._holds = [held for held in self._holds if not held.complete.is_set()]

    def _opencv_frames(self, url: str) -> Iterator[tuple[None, np.ndarray | None]]:
        """Every frame decoded (the next depends on it), converted only while wanted."""
        with open_capture_checked(url, self.stall_timeout, self._open_capture) as cap:
            while not self.stopping and not self.paused:
                if not cap.grab():
                    raise self._stopped(url)
                if not self.wanted:
                    yield None, None
                    continue
                ok, bgr = cap.retrieve()
                if not ok or bgr is None:
                    raise self._stopped(url)
                self.converted += 1
                yield None, bgr

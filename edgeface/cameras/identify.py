"""A camera's identify stream: its main stream, read beside the detect (sub) stream, decoded sparsely.

Detection and tracking run on the detect stream, every frame; faces are cropped from this one
(3–6× the pixels) at the moment a track was seen. An RTSP/RTMP (H.264/H.265) stream is read with
PyAV as packets, which cost almost nothing to keep, and decoded only when a search with a face due
an encoding asks for a moment: from the keyframe before it, or from where the decoder stopped
(``edgeface.cameras.gop``). OpenCV cannot do this: its ``grab`` decodes every frame. An MJPEG
stream's JPEGs are kept as bytes while faces are tracked (``want``) and decoded only when asked.
Frames carry their arrival time (``time.monotonic()``, the clock detect frames carry), and
``hold(t)`` gives those around a detect frame's time for its analysis.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator

import av
import numpy as np

from edgeface.cameras import rtsp
from edgeface.cameras.gop import DecodeCounts, PacketLog
from edgeface.cameras.mjpeg import StreamError
from edgeface.cameras.source import CameraSource, Frame
from edgeface.cameras.urls import redact

#: MJPEG frames kept (~0.1 s at 30 fps): those that arrived before a detect frame's ``hold``.
KEEP = 4
#: A want lasts this long (the pipeline renews it at each detection while faces are around).
WANT_S = 2.0


class Held:
    """The identify frames of one detect frame's moment: those that arrived within ``span_s`` of
    ``t``; complete once a later one arrived. ``decode(t0, t1)``, where given, decodes them when
    asked (packets); else the frames offered with ``keep`` are the ones (JPEGs)."""

    def __init__(self, t: float, span_s: float, decode: Callable[[float, float], list[Frame]] | None = None):
        self.t, self.span_s = t, span_s
        self.frames: list[Frame] = []
        self.complete = threading.Event()
        self._decode = decode

    def offer(self, frame: Frame, keep: bool = True) -> None:
        if frame.time > self.t + self.span_s:
            self.complete.set()
        elif keep and frame.time >= self.t - self.span_s and not self.complete.is_set():
            self.frames.append(frame)

    def wait(self, seconds: float) -> tuple[Frame, ...]:
        """The frames, once complete or after ``seconds`` (a stream that stalled gives what it has)."""
        self.complete.wait(seconds)
        if self._decode is not None:
            return tuple(self._decode(self.t - self.span_s, self.t + self.span_s))
        return tuple(self.frames)


class IdentifyStream(CameraSource):
    """The identify stream of camera ``camera_id``: ``start()``, ``want()``, ``hold()``,
    ``close()``; ``status()`` as a ``CameraSource``'s."""

    def __init__(self, camera_id: str, url: str, *, stall_timeout: float = 3.0, keep: int = KEEP):
        super().__init__(f"{camera_id}-identify", url, stall_timeout=stall_timeout, origin="identify")
        self._kept: deque[Frame] = deque(maxlen=keep)
        self._arrived = threading.Lock()
        self._holds: list[Held] = []
        self._offered = 0
        self._wanted_until = -1.0
        self._packets: PacketLog | None = None     # the current connection's, for RTSP/RTMP
        self.counts = DecodeCounts()

    def want(self, seconds: float = WANT_S) -> None:
        """Keep JPEGs for the next ``seconds`` (faces may need crops)."""
        self._wanted_until = time.monotonic() + seconds

    @property
    def wanted(self) -> bool:
        return time.monotonic() < self._wanted_until

    def hold(self, t: float, span_s: float) -> Held:
        """The frames that arrive within ``span_s`` of ``t`` (a detect frame's time), kept for
        one analysis however late it runs; the stream is wanted meanwhile."""
        self.want()
        packets = self._packets
        held = Held(t, span_s, None if packets is None else packets.frames)
        with self._arrived:
            for frame in self._kept if packets is None else ():
                held.offer(frame)
            if (latest := self.latest()) is not None:
                held.offer(latest, keep=False)
            if not held.complete.is_set():
                self._holds.append(held)
        return held

    def _publish(self, jpeg: bytes | None, bgr: np.ndarray | None) -> None:
        super()._publish(jpeg, bgr)
        frame = self.latest()
        if frame is None or frame.seq == self._offered:
            return                          # not published (a JPEG that does not decode)
        self._offered = frame.seq
        keep = bgr is not None or (jpeg is not None and self.wanted)     # packets: kept in the log
        with self._arrived:
            if keep:
                self._kept.append(frame)
            for held in self._holds:
                held.offer(frame, keep)
            self._holds = [held for held in self._holds if not held.complete.is_set()]

    def _frames(self, url: str) -> Iterator[tuple[bytes | None, np.ndarray | None]]:
        if rtsp.is_stream_url(url):
            yield from self._packet_frames(url)
        else:
            yield from super()._frames(url)

    def _packet_frames(self, url: str) -> Iterator[tuple[None, None]]:
        """Every packet kept, none decoded here (``hold`` decodes what a search asks for)."""
        url, transport = rtsp.checked(url, self.stall_timeout)
        is_rtsp = url.lower().startswith("rtsp")
        try:
            container = av.open(url, options={"rtsp_transport": transport or "tcp"} if is_rtsp else {},
                                timeout=(self.stall_timeout, self.stall_timeout))
        except (av.FFmpegError, OSError) as err:
            raise (rtsp.diagnose(url, self.stall_timeout) if is_rtsp else
                   StreamError(f"{redact(url)}: FFmpeg cannot open this stream ({err.__class__.__name__})",
                               "check the address, credentials and that the stream is running")) from None
        try:
            if not container.streams.video:
                raise StreamError(f"{redact(url)}: the stream has no video", "give the camera's video stream")
            stream = container.streams.video[0]
            packets = self._packets = PacketLog(stream.codec_context.name, stream.codec_context.extradata,
                                                self.counts)
            for packet in container.demux(stream):
                if self.stopping or self.paused:
                    return
                if packet.size == 0:
                    continue
                yield None, None
                frame = self.latest()
                if frame is not None:
                    packets.add(packet, frame.seq, frame.time)
        except (av.FFmpegError, OSError):
            raise self._stopped(url) from None
        finally:
            container.close()

"""An H.264/H.265 stream kept as packets and decoded only where asked: a camera's identify stream.

A P-frame needs every frame back to its keyframe, so decoding only some frames means keeping the
packets since the last keyframes (a 1080p group of pictures is a few hundred kB) and decoding
forward from a keyframe when a moment is asked for. The decoder remembers where it stopped: a
later moment of the same group continues from there, so while asks follow each other no frame is
decoded twice, and a group nobody asks about is never decoded. The asked moment's frames are
given as decoded pictures, converted to BGR as far as they are used (``edgeface.cameras.picture``):
scaled down first for a thumbnail (``Frame.small``), only a face's region (``Frame.region``).
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass

import av
from av.video.codeccontext import VideoCodecContext

from edgeface.cameras.source import Frame

#: Packets kept at most (about 20 s at 30 fps): a stream without keyframes cannot grow without end.
MAX_PACKETS = 600
#: ... and bytes kept at most.
MAX_BYTES = 32 * 1024 * 1024
#: Decoded frames kept for the next ask (the newest of the last one: a detection's moments
#: overlap the one before); few, as a 1080p picture is 3 MB.
KEEP_GIVEN = 4
#: The decoder and the pictures kept are let go once packets arrive this long after the last
#: asked moment: a 1080p decoder holds ~25 MB of pictures, worth it only while asks follow.
IDLE_S = 2.0


@dataclass
class DecodeCounts:
    """Frames decoded, and frames given to asks (each once), over every connection of one stream."""
    decoded: int = 0
    asked: int = 0


@dataclass(frozen=True, eq=False)
class Logged:
    seq: int            # the stream's frame number (``Frame.seq``)
    time: float         # when it arrived (``time.monotonic()``, as ``Frame.time``)
    packet: av.Packet
    key: bool


class PacketLog:
    """The packets of one connection from the last-but-one keyframe on; ``add`` from the reading
    thread, ``frames(t0, t1)`` from any other (decoding is serialised)."""

    def __init__(self, codec: str, extradata: bytes | None, counts: DecodeCounts | None = None,
                 max_packets: int = MAX_PACKETS, max_bytes: int = MAX_BYTES):
        self.codec, self.extradata = codec, extradata
        self.counts = counts if counts is not None else DecodeCounts()
        self.max_packets, self.max_bytes = max_packets, max_bytes
        self._kept: deque[Logged] = deque()
        self._bytes = 0
        self._lock = threading.Lock()           # the deque
        self._decoding = threading.Lock()       # the decoder and where it stopped
        self._decoder: VideoCodecContext | None = None
        self._next_seq = -1                     # the packet the decoder is ready for
        self._given: dict[int, Frame] = {}  # the last asks' frames, by seq
        self._asked_until = float("-inf")       # the last asked moment's end (the packets' clock)

    def add(self, packet: av.Packet, seq: int, time: float) -> None:
        """Keep ``packet`` (frame ``seq``, arrived at ``time``); a keyframe lets go of the group
        before the previous one, and ``IDLE_S`` without an ask of the decoder."""
        logged = Logged(seq, time, packet, bool(packet.is_keyframe))
        with self._lock:
            if logged.key:
                keys = [i for i, p in enumerate(self._kept) if p.key]
                for _ in range(keys[-1] if keys else 0):
                    self._drop()
            self._kept.append(logged)
            self._bytes += packet.size
            while len(self._kept) > self.max_packets or self._bytes > self.max_bytes:
                self._drop()
        if time - self._asked_until > IDLE_S and (self._decoder is not None or self._given) \
                and self._decoding.acquire(blocking=False):     # an ask decoding now keeps them
            try:
                self._decoder, self._next_seq, self._given = None, -1, {}
            finally:
                self._decoding.release()

    def _drop(self) -> None:
        self._bytes -= self._kept.popleft().packet.size

    def __len__(self) -> int:
        return len(self._kept)

    def frames(self, t0: float, t1: float) -> list[Frame]:
        """The frames that arrived between ``t0`` and ``t1``, decoded now (or by the ask before);
        those whose keyframe is no longer kept, or that do not decode, are left out."""
        with self._lock:
            kept = list(self._kept)
        wanted = {p.seq for p in kept if t0 <= p.time <= t1}
        with self._decoding:
            known = [self._given[seq] for seq in wanted if seq in self._given]
            missing = wanted - {f.seq for f in known}
            new = self._decode_from_key(kept, missing) if missing else []
            for frame in new:
                self._given[frame.seq] = frame
            for seq in sorted(self._given)[:max(0, len(self._given) - KEEP_GIVEN)]:
                del self._given[seq]
            self._asked_until = max(self._asked_until, t1)
        return sorted(known + new, key=lambda f: f.seq)

    def _decode_from_key(self, kept: list[Logged], wanted: set[int]) -> list[Frame]:
        """Decode the ``wanted`` frames: on from where the decoder stopped if that is before them
        in the same group, else from their keyframe (none kept: nothing)."""
        first = min(wanted)
        keys = [i for i, p in enumerate(kept) if p.key and p.seq <= first]
        if not keys:
            return []
        start = keys[-1]
        going_on = next((i for i, p in enumerate(kept) if p.seq == self._next_seq), None) \
            if self._decoder is not None and kept[start].seq <= self._next_seq <= first else None
        if going_on is None:
            self._decoder = self._new_decoder()
        return self._decode(kept[start if going_on is None else going_on:], wanted)

    def _new_decoder(self) -> VideoCodecContext:
        decoder = av.CodecContext.create(self.codec, "r")
        if not isinstance(decoder, VideoCodecContext):
            raise TypeError(f"{self.codec} is not a video codec")
        if self.extradata:
            decoder.extradata = self.extradata
        decoder.thread_count = 1      # frame threads would hold frames back: the asked one comes out late
        return decoder

    def _decode(self, packets: list[Logged], wanted: set[int]) -> list[Frame]:
        """Feed ``packets`` until every wanted frame came out (B-frames come out reordered)."""
        decoder = self._decoder
        assert decoder is not None
        by_pts = {p.packet.pts: p for p in packets if p.packet.pts is not None}
        fed: deque[Logged] = deque()
        out: list[Frame] = []
        left = set(wanted)
        for logged in packets:
            if not left:
                break
            fed.append(logged)
            self._next_seq = logged.seq + 1
            try:
                decoded = decoder.decode(logged.packet)
            except av.FFmpegError:
                self._decoder, self._next_seq = None, -1    # a broken packet: start again at a keyframe
                break
            for picture in decoded:
                self.counts.decoded += 1
                source = by_pts.get(picture.pts) if picture.pts is not None else None
                source = source if source is not None and source in fed else (fed[0] if fed else None)
                if source is None:
                    continue
                fed.remove(source)
                if source.seq in left:
                    left.discard(source.seq)
                    self.counts.asked += 1
                    out.append(Frame(source.seq, source.time, _picture=picture))
        return out

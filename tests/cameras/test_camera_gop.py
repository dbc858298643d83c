"""A main stream kept as packets and decoded only where asked (``edgeface.cameras.gop``).

The packets come from a real H.264 file (the numbered clip: ``frame_counter`` reads each frame's
number back), demuxed by PyAV as the identify stream demuxes RTSP, with arrival times of 30 fps.
"""

from __future__ import annotations

import itertools
import subprocess
from pathlib import Path

import av
import numpy as np
import pytest
from stream_servers import counter_h264  # noqa: F401  (fixture)

from edgeface.cameras.gop import IDLE_S, PacketLog
from edgeface.tools.streamserve import frame_counter

FPS = 30.0


def _packets(path: Path) -> list[av.Packet]:
    with av.open(str(path)) as container:
        return [p for p in container.demux(container.streams.video[0]) if p.size]


def _log(path: Path, count: int, **limits) -> PacketLog:
    """The first ``count`` packets of ``path`` in a log: packet n is frame n + 1, arrived at n / FPS."""
    with av.open(str(path)) as container:
        context = container.streams.video[0].codec_context
        log = PacketLog(context.name, context.extradata, **limits)
    for n, packet in enumerate(_packets(path)[:count]):
        log.add(packet, n + 1, n / FPS)
    return log


def _group(path: Path) -> tuple[int, int]:
    """A group of pictures of 25 frames or more, after another: its keyframe and the next one
    (x264 puts keyframes at scene cuts too, so groups vary)."""
    keys = [n for n, p in enumerate(_packets(path)) if p.is_keyframe]
    return next((a, b) for a, b in itertools.pairwise(keys[1:]) if b - a >= 25)


def _numbers(frames) -> list[int]:
    return [frame_counter(f.bgr) for f in frames]


def _same_pixels(regions, whole, boxes) -> bool:
    for region, (top, right, bottom, left) in zip(regions, boxes, strict=True):
        expected = whole[top:bottom, left:right].astype(int)
        if region.shape != expected.shape or np.abs(region.astype(int) - expected).max() > 4:
            return False
    return True


def test_a_moment_is_decoded_from_its_keyframe_and_the_next_goes_on_from_there(counter_h264):  # noqa: F811
    key, next_key = _group(counter_h264)
    log = _log(counter_h264, next_key)     # up to the end of the group
    frames = log.frames((key + 10) / FPS, (key + 12) / FPS)
    # Given as pictures: scaled down before conversion for a thumbnail, converted only if used whole.
    assert not any(f.decoded for f in frames)
    assert frames[0].small((64, 36)).shape == (36, 64, 3) and not frames[0].decoded
    assert frames[0].size == (720, 1280) and not frames[0].decoded
    # A face's region is converted alone (odd edges too: 4:2:0 chroma covers two pixels), the
    # same pixels as the whole picture's, to rounding; the picture stays unconverted.
    regions = [frames[1].region(*box) for box in ((101, 640, 400, 333), (0, 1280, 720, 0), (-4, 5000, 3, 1277))]
    assert not frames[1].decoded
    assert _same_pixels(regions, frames[1].bgr, ((101, 640, 400, 333), (0, 1280, 720, 0), (0, 1280, 3, 1277)))
    assert frames[0].bgr.shape == (720, 1280, 3) and frames[0].decoded
    assert _numbers(frames) == [key + 10, key + 11, key + 12]
    assert [f.seq for f in frames] == [key + 11, key + 12, key + 13]
    assert [f.time for f in frames] == [(key + 10) / FPS, (key + 11) / FPS, (key + 12) / FPS]
    assert (log.counts.decoded, log.counts.asked) == (13, 3)        # from the keyframe; 3 given
    # The next detection's moment overlaps this one: only the frames not seen yet are decoded.
    assert _numbers(log.frames((key + 11) / FPS, (key + 14) / FPS)) == [key + 11, key + 12, key + 13, key + 14]
    assert (log.counts.decoded, log.counts.asked) == (15, 5)
    # A later moment in the same group: decoding goes on from where it stopped, nothing twice.
    assert _numbers(log.frames((key + 20) / FPS, (key + 21) / FPS)) == [key + 20, key + 21]
    assert log.counts.decoded == 13 + 9
    # An earlier one starts again at its keyframe.
    assert _numbers(log.frames((key + 1) / FPS, (key + 1) / FPS)) == [key + 1]
    assert log.counts.decoded == 13 + 9 + 2
    # Nothing beyond the log; the frames nobody asked about were never decoded.
    assert log.frames(1000 / FPS, 1001 / FPS) == []
    assert log.counts.decoded == 24 < next_key


def test_a_decoder_nobody_asks_is_let_go_and_the_next_ask_starts_at_its_keyframe(counter_h264):  # noqa: F811
    key, next_key = _group(counter_h264)
    packets = _packets(counter_h264)
    with av.open(str(counter_h264)) as container:
        context = container.streams.video[0].codec_context
    busy, idle = (PacketLog(context.name, context.extradata) for _ in range(2))
    for log, gap in ((busy, IDLE_S / 2), (idle, IDLE_S * 2)):
        for n, packet in enumerate(packets[:key + 15]):
            log.add(packet, n + 1, n / FPS)
        assert _numbers(log.frames((key + 10) / FPS, (key + 12) / FPS)) == [key + 10, key + 11, key + 12]
        # The next packets arrive after a pause in the asks: short, or long enough to let go.
        for n, packet in enumerate(packets[key + 15:next_key], start=key + 15):
            log.add(packet, n + 1, n / FPS + gap)
        assert log.counts.decoded == 13
        assert _numbers(log.frames((key + 13) / FPS, (key + 14) / FPS)) == [key + 13, key + 14]
    assert busy.counts.decoded == 13 + 2, "the decoder did not go on from where it stopped"
    assert idle.counts.decoded == 13 + 15, "the decoder was kept while nobody asked"


def test_only_the_last_two_groups_are_kept_and_the_log_is_bounded(counter_h264):  # noqa: F811
    key, next_key = _group(counter_h264)
    log = _log(counter_h264, next_key + 1)      # the next group has begun: the one before goes
    assert len(log) == next_key + 1 - key
    assert log.frames((key - 2) / FPS, (key - 1) / FPS) == []
    assert _numbers(log.frames((key + 1) / FPS, (key + 1) / FPS)) == [key + 1]
    small = _log(counter_h264, key + 20, max_packets=10)     # ten packets, none a keyframe
    assert len(small) == 10
    assert small.frames((key + 12) / FPS, (key + 14) / FPS) == [], "decoded without a keyframe"


def test_reordered_frames_come_out_at_their_own_moment(counter_h264, tmp_path):  # noqa: F811
    """A main stream with B-frames: the decoder gives pictures in another order than the packets
    arrive; each is matched to its own packet by its timestamp."""
    bframes = tmp_path / "bframes.ts"
    subprocess.run(["ffmpeg", "-loglevel", "error", "-i", str(counter_h264), "-t", "3", "-c:v", "libx264",
                    "-preset", "veryfast", "-g", "30", "-bf", "2", str(bframes)], check=True, timeout=120)
    log = _log(bframes, 60)
    # Packets arrive in decoding order: the arrival time of the packet whose picture is frame n.
    frames = log.frames(35 / FPS, 45 / FPS)
    assert len(frames) == 11
    with av.open(str(bframes)) as container:
        order = [p.pts for p in container.demux(container.streams.video[0]) if p.size][:60]
    shown = sorted(order)
    for frame in frames:
        assert frame_counter(frame.bgr) == shown.index(order[frame.seq - 1]), "a picture given another moment"


@pytest.mark.parametrize("damage", ["truncated", "garbage"])
def test_a_damaged_packet_loses_its_group_not_the_stream(counter_h264, damage):  # noqa: F811
    """A packet cut short or replaced by garbage (a camera's network hiccup): asking for its
    moment raises nothing (what the decoder makes of it is checked by the face's correlation
    downstream), and the next group decodes as it should."""
    key, next_key = _group(counter_h264)
    with av.open(str(counter_h264)) as container:
        context = container.streams.video[0].codec_context
        log = PacketLog(context.name, context.extradata)
    good = _packets(counter_h264)[:next_key + 5]
    for n, packet in enumerate(good):
        if n == key + 5:
            data = bytes(packet)
            packet = av.Packet(data[: len(data) // 3] if damage == "truncated" else b"\x00\x00\x01\xff" * 64)
            packet.pts, packet.dts = good[n].pts, good[n].dts
        log.add(packet, n + 1, n / FPS)
    assert isinstance(log.frames((key + 3) / FPS, (key + 8) / FPS), list)
    assert _numbers(log.frames((next_key + 1) / FPS, (next_key + 2) / FPS)) == [next_key + 1, next_key + 2]

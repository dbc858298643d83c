"""``edgeface bench --transport rtsp [--main-streams]``: cameras that are real RTSP servers sending
H.264, as IP cameras do. Frames carry their number as a barcode in the pixels (H.264 has no JPEG
comment): it must survive the encoder and the app's JPEG; the server plays a camera's two files in
a loop; the CCTV scene drawn at 1080p is the 640x360 one scaled; and the bench runs end to end with
a main stream, its frames matched and names scored. Never timings."""

from __future__ import annotations

import itertools
import json
import threading
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
from helpers import missing_test_tool, run_cli

from edgeface.cameras.playback import Playback
from edgeface.errors import ConfigError
from edgeface.images import encode_jpeg
from edgeface.live.scenecut import moved, thumbnail
from edgeface.tools.bench_identity import scenes as sc
from edgeface.tools.bench_live import barcode, cctv, format_table, rtsp
from edgeface.tools.bench_live.viewer import MarksViewer, Received, Unwrap
from edgeface.tools.streamserve import RtspServer, encode_h264

CLIP_FRAMES = 275        # the sample clip


def require_stream_tools() -> None:
    """Fail under CI (skip elsewhere) without the RTSP server's GStreamer or ffmpeg."""
    try:
        rtsp.check_tools()
    except ConfigError as err:
        missing_test_tool(f"{err}; scripts/run-tests.sh installs them")


def _clip_frames(media_dir: Path, count: int, size: tuple[int, int] | None = None) -> list[np.ndarray]:
    frames = list(itertools.islice(Playback(media_dir / "video" / "short_hamilton_clip.mp4").one_pass(), count))
    return [cv2.resize(f, size, interpolation=cv2.INTER_CUBIC) for f in frames] if size else frames


def _numbers(count: int) -> list[int]:
    """Numbers that set every bit somewhere, the largest included."""
    return [(k * 2731 + 5) % barcode.LIMIT for k in range(count - 1)] + [barcode.LIMIT - 1]


def test_the_barcode_survives_h264_at_640x360_and_the_apps_jpeg(media_dir, tmp_path):
    require_stream_tools()
    numbers = _numbers(60)
    frames = _clip_frames(media_dir, len(numbers))
    for bgr, n in zip(frames, numbers):
        barcode.draw(bgr, n)
    out = tmp_path / "numbered.ts"
    encode_h264(iter(frames), (640, 360), 30.0, out)
    decoded = list(Playback(out).one_pass())
    assert len(decoded) == len(numbers) and decoded[0].shape == (360, 640, 3)
    # The app re-encodes what it shows at its JPEG quality (a lower one too: still read).
    for quality in (80, 50):
        read = [barcode.read(encode_jpeg(bgr, quality)) for bgr in decoded]
        assert read == numbers, f"quality {quality}: {[(a, b) for a, b in zip(read, numbers) if a != b][:5]}"
    # Invisible to the app's still-scene check: only the numbers change between these two frames.
    still = [_clip_frames(media_dir, 1)[0] for _ in range(2)]
    for bgr, n in zip(still, (0, barcode.LIMIT - 1)):
        barcode.draw(bgr, n)
    encode_h264(iter(still), (640, 360), 30.0, tmp_path / "still.ts")
    shown = [encode_jpeg(bgr, 80) for bgr in Playback(tmp_path / "still.ts").one_pass()]
    assert [barcode.read(jpeg) for jpeg in shown] == [0, barcode.LIMIT - 1]
    thumbs = [thumbnail(SimpleNamespace(jpeg=jpeg)) for jpeg in shown]
    assert not moved(thumbs[0], thumbs[1]), "the barcode made a still scene move"


def test_the_barcode_reads_at_any_size_and_refuses_a_flipped_block(media_dir):
    bgr = _clip_frames(media_dir, 1, (1920, 1080))[0]
    barcode.draw(bgr, 4242)
    assert barcode.value(bgr) == 4242
    assert barcode.value(cv2.resize(bgr, (640, 360), interpolation=cv2.INTER_AREA)) == 4242
    # One value bit flipped: a parity bit disagrees, so no number rather than a wrong one.
    h, w = bgr.shape[:2]
    bgr[: h // 24, : w // 40] = barcode.ONE          # bit 0 of 4242 is a 0
    assert barcode.value(bgr) is None
    with pytest.raises(ValueError):
        barcode.draw(bgr, barcode.LIMIT)


def test_numbers_count_on_across_the_clips_loops():
    unwrap = Unwrap(100)
    assert [unwrap(k) for k in (97, 98, None, 99, 1, 2, 60, 99, 0)] == [97, 98, None, 99, 101, 102, 160, 199, 200]


def test_marks_that_carry_only_the_apps_seq_are_matched_by_one_offset():
    """An RTSP camera's marks say ``seq``; the frames say their number: each mark came within
    milliseconds of its frame, so the offset is found and every mark lands on its frame."""
    marks = MarksViewer(port=1, token="t")
    frames = [Received(at=10 + k / 30, counter=500 + k, arrived=None, names=frozenset(), faces=0) for k in range(90)]
    for k in range(0, 90, 3):        # a mark every third frame, received 4 ms before its frame
        marks.by_seq[("cam", 20 + k)] = (frozenset({f"p{k}"}), 1, 9.0 + k, frames[k].at - 0.004)
    marks.by_seq[("cam", 20 + 1)] = (frozenset({"late"}), 1, 9.0, frames[40].at)     # one received late
    offset, agree = marks.seq_offset("cam", frames)
    assert offset == 480 and agree is not None and 0.9 < agree < 1.0
    got = marks.onto("cam", frames)
    assert all(f.names == {f"p{k}"} for k, f in enumerate(got) if k % 3 == 0)
    assert got[1].names == {"late"} and got[2].names == frozenset()
    assert marks.seq_offset("other", frames) == (None, None)


def test_the_server_plays_both_files_in_a_loop(media_dir, tmp_path):
    require_stream_tools()
    files = {}
    for name, size in (("sub", (640, 360)), ("main", (1280, 720))):
        frames = _clip_frames(media_dir, 30, size)
        for n, bgr in enumerate(frames):
            barcode.draw(bgr, n)
        files[name] = tmp_path / f"{name}.ts"
        encode_h264(iter(frames), size, 30.0, files[name])
    server = RtspServer(files["sub"], tmp_path, auth="none", play={f"/{k}": v for k, v in files.items()}).start()
    try:
        seen: dict[str, list[int | None]] = {}

        def read(mount: str) -> None:
            capture = cv2.VideoCapture(server.url(path=f"/{mount}"), cv2.CAP_FFMPEG)
            got = []
            for _ in range(75):          # 2.5 s of a 1 s file
                ok, bgr = capture.read()
                if not ok:
                    break
                got.append(barcode.value(bgr))
            capture.release()
            seen[mount] = got

        readers = [threading.Thread(target=read, args=(m,)) for m in files]
        for t in readers:
            t.start()
        for t in readers:
            t.join(60)
    finally:
        server.close()
    for mount, got in seen.items():
        assert len(got) == 75, f"/{mount} ended after {len(got)} frames: the file must loop"
        assert None not in got and set(got) == set(range(30)), (mount, got)
        assert any(b < a for a, b in itertools.pairwise(got)), f"/{mount} never started the file again"


def test_the_cctv_scene_at_1080p_is_the_640x360_scene_scaled(media_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    video, info = cctv.scene_file(media_dir, seconds=cctv.MIN_SECONDS)
    small = list(Playback(video).one_pass())
    visits = cctv.plan(sc.load_portraits(media_dir), info["seed"], info["seconds"])
    busy = [i for i, faces in enumerate(info["truth"]) if faces][::40][:4]
    assert busy
    big = cctv.render(visits, info["seed"], info["seconds"], (1920, 1080))
    for i, (bgr, faces, anyone) in enumerate(itertools.islice(big, busy[-1] + 1)):
        if i not in busy:
            continue
        assert bgr.shape == (1080, 1920, 3) and anyone and faces == []
        down = cv2.resize(bgr, (cctv.WIDTH, cctv.HEIGHT), interpolation=cv2.INTER_AREA).astype(float)
        for _actor, (top, right, bottom, left), _identity, _person in info["truth"][i]:
            face = np.s_[top:bottom, left:right]
            same = np.abs(down[face] - small[i][face]).mean()
            moved = np.abs(down[face] - small[0][face]).mean()   # the empty room there
            assert same < 12 and moved > 2 * same, (i, same, moved)
    with pytest.raises(Exception, match="16:9"):
        next(cctv.render(visits, info["seed"], info["seconds"], (1000, 1000)))


@pytest.mark.slow
def test_bench_over_rtsp_with_a_main_stream(media_dir, tmp_path):
    require_stream_tools()
    logs = tmp_path / "logs"
    proc = run_cli("bench", "--transport", "rtsp", "--main-streams", "--cameras", "1",
                   "--source", str(media_dir / "video" / "short_hamilton_clip.mp4"), "--reference-frames", "12",
                   "--warmup", "2", "--duration", "10", "--logs", str(logs), "--json",
                   env={"XDG_CACHE_HOME": str(tmp_path / "cache")}, timeout=500)
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    assert len(lines) == 1, f"--json must print exactly one line:\n{proc.stdout}"
    result = json.loads(lines[0])
    assert result["transport"] == "rtsp" and result["main_streams"] is True
    assert "RTSP/H.264" in format_table(result) and "main stream 1920x1080" in format_table(result)
    assert result["main_stream_size"] == [1920, 1080]
    # The camera served its sub-stream and its main stream (the app's identify stream) to the app.
    assert (logs / "camera-1.log").read_text().count("client connected") >= 2
    frames = [json.loads(line) for line in (logs / "frames.jsonl").read_text().splitlines()]
    numbered = [f for f in frames if f["counter"] is not None]
    matching = result["frame_matching"]["bench-1"]
    assert matching["frames"] == len(frames) and len(numbered) == len(frames) - matching["unreadable"]
    assert len(numbered) > 0.9 * len(frames), matching
    assert all(0 <= f["frame"] < CLIP_FRAMES for f in numbered)
    counters = [f["counter"] for f in numbered]
    assert counters == sorted(counters), "the clip's loops are counted on, in order"
    # The marks (seq only) were matched onto the frames: names drawn, and scored against the reference.
    assert matching["seq_offset"] is not None and matching["marks_agreeing"] > 0.5
    assert any(f["faces"] for f in numbered) and any(f["drawn"] for f in numbered)
    assert any(f["reference"] for f in numbered)
    assert result["named_frame_recall"] is not None and 0.0 <= result["named_frame_recall"] <= 1.0


def test_bench_refuses_main_streams_without_rtsp():
    proc = run_cli("bench", "--main-streams", check=False)
    assert proc.returncode == 2 and "--transport rtsp" in proc.stderr and "Traceback" not in proc.stderr

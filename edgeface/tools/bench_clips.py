"""What a camera's clip recorder costs (docs/performance.md): ``python -m edgeface.tools.bench_clips VIDEO``.

The video's frames as the camera's JPEGs, a minute of them offered to a ``ClipRecorder`` at the
camera's frame rate with a face on every frame (the worker's ``due`` check on each, ``add`` on the
sampled ones), then the minute's segment encoded to WebM/VP8 as the clip store does. CPU time of the
process (the encoder's threads included)."""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import cv2

from edgeface.history.clips import Segment, encode_webm
from edgeface.images import encode_jpeg
from edgeface.live.recorder import ClipRecorder

SECONDS = 60.0


def main(video: str, fps: float = 4.0) -> None:
    capture = cv2.VideoCapture(video)
    camera_fps = capture.get(cv2.CAP_PROP_FPS) or 25.0
    jpegs: list[bytes] = []
    size = (0, 0)
    while len(jpegs) < 600:
        ok, bgr = capture.read()
        if not ok:
            break
        size = (bgr.shape[1], bgr.shape[0])
        jpegs.append(encode_jpeg(bgr, 85))
    if not jpegs:
        raise SystemExit(f"{video}: no frames")
    segments: list[Segment] = []
    recorder = ClipRecorder("bench", segments.append, fps=fps, max_s=SECONDS + 10)
    frames, sampled = round(SECONDS * camera_fps), 0
    start = time.process_time()
    for i in range(frames):
        now = i / camera_fps
        if recorder.due(now):
            recorder.add(now, jpegs[i % len(jpegs)], True)
            sampled += 1
    recorder.flush()
    sampling = time.process_time() - start
    segment = segments[0]
    seconds = segment.frames[-1][0] - segment.frames[0][0]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "clip.webm"
        start = time.process_time()
        written = encode_webm(segment.frames, segment.fps, path)
        encoding = time.process_time() - start
        size_bytes = path.stat().st_size
    print(f"{size[0]}x{size[1]} at {camera_fps:.0f} fps, clips at {fps:g} fps: {frames} frames offered, "
          f"{sampled} sampled in {sampling * 1000:.1f} ms CPU")
    print(f"encode: {written} frames ({seconds:.1f} s of clip) in {encoding:.2f} s CPU = "
          f"{encoding / seconds * 100:.1f}% of a core while a camera records; "
          f"{size_bytes / seconds / 1024:.0f} KiB per second of clip")


if __name__ == "__main__":
    main(sys.argv[1], *(float(a) for a in sys.argv[2:3]))

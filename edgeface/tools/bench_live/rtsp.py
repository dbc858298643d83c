"""``edgeface bench --transport rtsp``: each camera is a real RTSP server sending H.264, as IP
cameras do, optionally with a main stream (``--main-streams``).

The server (``edgeface.tools.rtsp_server``, GStreamer, run with Debian's Python) plays files made
once here: the video every camera loops, as H.264 at its own size (the sub-stream, 640x360 for
the clip and the CCTV scene) and, with main streams, 1080 px high (1920x1080 for them) — the CCTV
scene rendered again at that size (its faces three times the pixels, the same places), another
source upscaled, its aspect kept. Both
streams of a camera leave in step. Every frame carries its number in the clip as a barcode
(``barcode``): H.264 has no JPEG comment to carry it. The files are cached beside the CCTV scenes
(``~/.cache/edgeface/scenes/h264``), keyed by what makes them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from edgeface.errors import ConfigError, EdgefaceError
from edgeface.tools.bench_live import barcode, cctv
from edgeface.tools.streamserve import encode_h264, missing_tools

#: Main streams' height: the common 1080p of IP cameras; sub-streams keep the video's size (640x360).
MAIN_HEIGHT = 1080
#: Bump when the files' making changes: cached files are keyed by it.
VERSION = 2


@dataclass(frozen=True)
class CameraFiles:
    """What every RTSP camera of a run plays: ``sub`` (the detect stream) and ``main`` or None."""

    sub: Path
    main: Path | None
    sub_size: tuple[int, int]
    main_size: tuple[int, int] | None

    def play_args(self) -> list[str]:
        """``rtsp_server.py`` arguments serving them at ``/sub`` and ``/main``."""
        return ["--play", f"/sub={self.sub}", *(["--play", f"/main={self.main}"] if self.main else [])]


def check_tools() -> None:
    """The RTSP server's GStreamer (Debian's Python) and ffmpeg, or a clear error."""
    missing = missing_tools(rtmp=False)
    if missing:
        raise ConfigError(f"--transport rtsp needs {', '.join(missing)}",
                          "install the Debian packages (scripts/run-tests.sh does), or use --transport mjpeg")


def camera_files(video: Path, fps: float, main_streams: bool, scene: tuple[Path, dict] | None,
                 media: str | None, say) -> CameraFiles:
    """The H.264 files for ``video`` (``scene``: it is the CCTV scene of that description)."""
    folder = cctv.cache_dir() / "h264"
    folder.mkdir(parents=True, exist_ok=True)
    stat = video.stat()
    key = _key(str(video.resolve()), stat.st_size, stat.st_mtime_ns)
    frames = _video_frames(video)
    first = next(frames, None)
    if first is None:
        raise ConfigError(f"video {video} has no frames", "pass --source a video OpenCV can read")
    size = (first.shape[1], first.shape[0])
    sub = folder / f"{video.stem}-{size[0]}x{size[1]}-{key}.ts"
    if not sub.is_file():
        say(f"encoding {video.name} as H.264 with frame numbers (once, cached in {folder})")
        encode_h264(_numbered(_chain(first, frames)), size, fps, sub)
    if not main_streams:
        return CameraFiles(sub, None, size, None)
    main_size = (2 * round(size[0] * MAIN_HEIGHT / size[1] / 2), MAIN_HEIGHT)
    main = folder / f"{video.stem}-{main_size[0]}x{main_size[1]}-{key}.ts"
    if not main.is_file():
        say(f"making the {main_size[0]}x{main_size[1]} main stream of {video.name} (once, cached; minutes)")
        encode_h264(_numbered(_main_frames(video, scene, media, main_size)), main_size, fps, main)
    return CameraFiles(sub, main, size, main_size)


def _key(*parts) -> str:
    return hashlib.sha256(json.dumps([VERSION, barcode.VALUE_BITS, *parts]).encode()).hexdigest()[:12]


def _video_frames(video: Path) -> Iterator[np.ndarray]:
    from edgeface.cameras.playback import Playback

    yield from Playback(video).one_pass()


def _chain(first: np.ndarray, rest: Iterator[np.ndarray]) -> Iterator[np.ndarray]:
    yield first
    yield from rest


def _main_frames(video: Path, scene: tuple[Path, dict] | None, media: str | None,
                 size: tuple[int, int]) -> Iterator[np.ndarray]:
    """The main stream's pictures: the CCTV scene drawn at ``size``, else the video upscaled."""
    if scene is None:
        for bgr in _video_frames(video):
            yield cv2.resize(bgr, size, interpolation=cv2.INTER_CUBIC)
        return
    from edgeface.tools.bench_identity import default_media
    from edgeface.tools.bench_identity import scenes as sc

    info = scene[1]
    visits = cctv.plan(sc.load_portraits(Path(media) if media else default_media()), info["seed"], info["seconds"])
    if [v.as_json() for v in visits] != info["visits"]:
        raise EdgefaceError("the CCTV scene drawn again differs from the cached one", f"delete {scene[0]} and rerun")
    for bgr, _, _ in cctv.render(visits, info["seed"], info["seconds"], size):
        yield bgr


def _numbered(frames: Iterator[np.ndarray]) -> Iterator[np.ndarray]:
    for n, bgr in enumerate(frames):
        if n >= barcode.LIMIT:
            raise ConfigError(f"the video has more than {barcode.LIMIT} frames", "use a shorter --source")
        barcode.draw(bgr, n)
        yield bgr

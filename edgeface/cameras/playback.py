"""Local media as a camera: a video file or a folder of images, looped at a steady frame rate.

Used by the camera simulator and by ``CameraSource`` for file sources.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from edgeface.cameras.mjpeg import StreamError
from edgeface.errors import ImageError
from edgeface.images import image_files, load_image, rgb_to_bgr

#: Frame rate of an image folder (a slideshow) unless told otherwise.
IMAGE_FOLDER_FPS = 2.0
#: Used when a video file does not say its frame rate (some MJPEG .avi files report 0).
FALLBACK_FPS = 25.0


class Playback:
    """Frames (BGR uint8) of a video file or an image folder; ``fps`` is the native rate."""

    def __init__(self, path: str | os.PathLike, fps: float | None = None):
        self.path = Path(path)
        if not self.path.exists():
            raise StreamError(f"{self.path}: no such file or folder",
                              "give a video file (mp4, avi, ...) or a folder of images")
        self._images: list[np.ndarray] | None
        if self.path.is_dir():
            self._images = self._load_folder()
            native = IMAGE_FOLDER_FPS
        else:
            self._images = None
            native = self._probe_video()
        if fps is not None and not 0 < fps <= 240:
            raise StreamError(f"frame rate {fps:g} is out of range", "use a value between 0 and 240")
        self.fps = float(fps or native)

    def one_pass(self) -> Iterator[np.ndarray]:
        """Every frame once, in order."""
        if self._images is not None:
            yield from self._images
            return
        cap = cv2.VideoCapture(str(self.path))
        try:
            while True:
                ok, frame = cap.read()
                if not ok:
                    return
                yield frame
        finally:
            cap.release()

    def forever(self) -> Iterator[np.ndarray]:
        """The frames in a loop, without pacing (see ``Pacer``)."""
        while True:
            count = 0
            for frame in self.one_pass():
                count += 1
                yield frame
            if count == 0:
                raise StreamError(f"{self.path}: no frame could be decoded", "the video may be damaged")

    def _probe_video(self) -> float:
        cap = cv2.VideoCapture(str(self.path))
        try:
            ok, _ = cap.read()
            if not cap.isOpened() or not ok:
                raise StreamError(f"{self.path}: not a video OpenCV can decode",
                                  "use an mp4/avi/mkv file, or a folder of images")
            fps = cap.get(cv2.CAP_PROP_FPS)
        finally:
            cap.release()
        return fps if 0 < fps <= 240 else FALLBACK_FPS

    def _load_folder(self) -> list[np.ndarray]:
        frames = []
        for file in image_files(self.path):
            try:
                frames.append(rgb_to_bgr(load_image(file)))
            except ImageError:
                continue  # one unreadable image should not stop a slideshow
        if not frames:
            raise StreamError(f"{self.path}: no readable images in this folder",
                              "put JPEG or PNG files in it, or give a video file")
        return frames


class Pacer:
    """Releases a caller ``fps`` times a second on a fixed schedule.

    Falling behind (a loaded machine) skips ahead instead of bursting frames to catch up, as a
    real camera would.
    """

    def __init__(self, fps: float):
        self.interval = 1.0 / fps
        self._next = time.monotonic()

    def wait(self, stop: threading.Event) -> bool:
        """Sleep until the next frame is due; False if ``stop`` was set meanwhile."""
        delay = self._next - time.monotonic()
        if delay > 0 and stop.wait(delay):
            return False
        now = time.monotonic()
        self._next += self.interval
        if self._next < now - self.interval:
            self._next = now + self.interval
        return not stop.is_set()

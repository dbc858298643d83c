"""One camera: a thread that keeps reading its stream and holds only the latest frame.

Consumers call ``wait_frame(after_seq)`` and always get the newest frame, so a slow consumer
(face recognition at 5 fps on a 30 fps camera) skips frames instead of building a backlog.
The thread reconnects on its own with exponential backoff; a camera that comes back resumes. A
camera that refuses us (wrong password, no such stream) is retried slowly: asking again at once
cannot help and would flood its log.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import cv2
import numpy as np

from edgeface.cameras import picture, rtsp
from edgeface.cameras.latest import Latest
from edgeface.cameras.mjpeg import MjpegStream, StreamClosed, StreamError, StreamRejected
from edgeface.cameras.playback import Pacer, Playback
from edgeface.cameras.urls import redact
from edgeface.images import decode_jpeg, encode_jpeg
from edgeface.jpegmeta import dimensions
from edgeface.lifecycle import LogOnChange, RateCounter, Service

log = logging.getLogger(__name__)

BACKOFF_MIN_S = 0.5
BACKOFF_MAX_S = 10.0
#: After a refusal (401, 404): the camera answered, and asking again soon gives the same answer.
REJECTED_BACKOFF_S = 60.0
FPS_WINDOW_S = 2.0
#: A camera's JPEG is fully decoded this often to check it (cheaper checks run on every frame).
DECODE_CHECK_S = 1.0
UNDECODABLE = "the camera sends frames that do not decode (empty or corrupt JPEGs)"


@dataclass(eq=False)
class Frame:
    """One camera frame. MJPEG sources fill ``jpeg``; OpenCV sources fill the decoded image; a
    packet stream (``edgeface.cameras.gop``) the decoded picture (``_picture``, a PyAV frame),
    converted to BGR only if asked for it whole."""

    seq: int
    time: float  # time.monotonic() when it arrived
    jpeg: bytes | None = None
    _bgr: np.ndarray | None = field(default=None, repr=False)
    _decoded: bool = field(default=False, repr=False)
    _picture: Any = field(default=None, repr=False)

    @property
    def decoded(self) -> bool:
        """True once the pixels exist (decoded, or given by an OpenCV source): ``bgr`` is then free."""
        return self._decoded

    @property
    def bgr(self) -> np.ndarray | None:
        """The frame as BGR uint8 HxWx3, decoded on first use; None if the JPEG is corrupt."""
        if not self._decoded:
            if self._bgr is None and self.jpeg is not None:
                self._bgr = decode_jpeg(self.jpeg)
            elif self._bgr is None and self._picture is not None:
                self._bgr, self._picture = picture.whole(self._picture), None
            self._decoded = True
        return self._bgr

    def small(self, size: tuple[int, int]) -> np.ndarray | None:
        """The frame scaled down to ``size`` (w, h), BGR; a picture not yet converted is scaled
        before it is converted (~20x cheaper at 1080p than converting it whole)."""
        if not self._decoded and self._picture is not None:
            return picture.scaled(self._picture, size)
        bgr = self.bgr
        return None if bgr is None else cv2.resize(bgr, size, interpolation=cv2.INTER_AREA)

    @property
    def size(self) -> tuple[int, int] | None:
        """(height, width); None if the JPEG is corrupt."""
        if not self._decoded and self._picture is not None:
            return self._picture.height, self._picture.width
        bgr = self.bgr
        return None if bgr is None else (bgr.shape[0], bgr.shape[1])

    def region(self, top: int, right: int, bottom: int, left: int) -> np.ndarray | None:
        """Part of the frame, BGR; a picture not yet converted has only that part converted
        (and stays unconverted); None if the JPEG is corrupt."""
        if not self._decoded and self._picture is not None:
            return picture.region(self._picture, top, right, bottom, left)
        bgr = self.bgr
        return None if bgr is None else bgr[top:bottom, left:right]

    def jpeg_bytes(self, quality: int = 80) -> bytes | None:
        """The frame as JPEG: the camera's own bytes when it sent JPEG, else encoded once."""
        if self.jpeg is None and self._bgr is not None:
            self.jpeg = encode_jpeg(self._bgr, quality)
        return self.jpeg


@contextmanager
def open_capture_checked(url: str, stall_timeout: float, opener: Callable[[str], cv2.VideoCapture]
                         ) -> Iterator[cv2.VideoCapture]:
    """``opener(url)``, released after; an error saying why when it did not open."""
    cap = opener(url)
    try:
        if not cap.isOpened():
            if rtsp.is_stream_url(url):
                raise rtsp.diagnose(rtsp.split_transport(url)[0], stall_timeout)
            raise StreamError(f"{redact(url)}: OpenCV/FFmpeg cannot open this URL",
                              "check the address, credentials and that the stream is running")
        yield cap
    finally:
        cap.release()


def is_http(url: str) -> bool:
    return url.lower().startswith(("http://", "https://"))


def is_device(url: str) -> bool:
    """A local capture device: an index (``0``) or a V4L2 node (``/dev/video0``)."""
    return url.isdigit() or url.startswith("/dev/video")


def local_path(url: str) -> str | None:
    """The file or folder a URL names (``file://`` or a plain path), or None for network URLs."""
    if url.lower().startswith("file://"):
        return urlsplit(url).path
    if "://" not in url and not is_device(url):
        return url
    return None


class CameraSource(Service):
    """Reads one camera in a background thread. ``start()``, ``wait_frame()``, ``close()``."""

    def __init__(self, camera_id: str, url: str, *, stall_timeout: float = 3.0, origin: str = "api",
                 max_frame_bytes: int = 8_000_000):
        super().__init__(f"camera-{camera_id}")
        self.id = camera_id
        self.origin = origin
        self.stall_timeout = stall_timeout
        self.max_frame_bytes = max_frame_bytes
        self._url = url
        self._latest: Latest[Frame] = Latest()
        self._rate = RateCounter(FPS_WINDOW_S)
        self._connected = False
        self._error: str | None = None
        self._errors = LogOnChange()
        self._undecodable = 0  # JPEGs refused by the header check or the sampled decode
        self._next_decode_check = 0.0
        self._suspect = False  # the last decode check failed: check every frame until one decodes
        self._woken = threading.Event()  # cuts a backoff sleep short
        self._paused = False  # disabled by the operator: no connection until resumed
        self._reader: MjpegStream | None = None
        self._corrupt_before = 0  # corrupt frames of earlier connections
        self.started_at = time.monotonic()
        # The camera's identify (main) stream, if it has one (``edgeface.cameras.identify``):
        # set by the registry, started, paused and closed with this one.
        self.identify: CameraSource | None = None

    def __repr__(self) -> str:
        return f"CameraSource({self.id!r}, {redact(self._url)!r})"

    @property
    def url(self) -> str:
        return self._url

    def pause(self) -> None:
        """Stop reading (the connection is closed) until ``resume()``; the thread stays, idle."""
        if self.identify is not None:
            self.identify.pause()
        self._paused = True
        self._abort_reader()
        self._woken.set()

    def resume(self) -> None:
        """Read again after ``pause()``, connecting now."""
        if self.identify is not None:
            self.identify.resume()
        self._paused = False
        self._woken.set()

    @property
    def paused(self) -> bool:
        return self._paused

    def _wake(self) -> None:
        """On ``close``: the reader and every consumer blocked in ``wait_frame`` return now."""
        self._woken.set()
        self._abort_reader()
        self._latest.close()

    def _closed(self) -> None:
        if self.identify is not None:
            self.identify.close()

    def set_identify(self, stream: CameraSource | None) -> None:
        """Read ``stream`` as this camera's identify stream (None: none), stopping the one before."""
        old, self.identify = self.identify, stream
        if stream is not None:
            if self._paused:
                stream.pause()
            stream.start()
        if old is not None:
            old.close()

    @property
    def corrupt_frames(self) -> int:
        """Malformed, cut-off, empty or undecodable JPEGs skipped so far (MJPEG sources)."""
        reader = self._reader
        return self._corrupt_before + self._undecodable + (reader.stats.corrupt if reader is not None else 0)

    @property
    def stopped(self) -> bool:
        return self.stopping

    def set_url(self, url: str) -> None:
        """Switch to a new URL (a camera re-registered with a new token) and reconnect now."""
        if url != self._url:
            self._url = url
            self._abort_reader()
        self.reconnect_now()

    def reconnect_now(self) -> None:
        """Skip the rest of a backoff wait (the camera has announced it is back)."""
        self._woken.set()

    def latest(self) -> Frame | None:
        return self._latest.get()

    def wait_frame(self, after_seq: int = 0, timeout: float = 1.0) -> Frame | None:
        """The latest frame if newer than ``after_seq``, waiting up to ``timeout`` s for one."""
        item = self._latest.wait(after_seq, timeout)
        return item[1] if item else None

    def status(self) -> dict:
        frame, now = self._latest.get(), time.monotonic()
        age = None if frame is None else now - frame.time
        online = not self._paused and self._connected and age is not None and age < self.stall_timeout
        return {
            "id": self.id,
            "url": redact(self._url),
            "origin": self.origin,
            "enabled": not self._paused,
            "online": online,
            "fps": round(self._rate.rate(now), 2) if online else 0.0,
            "last_frame_age_s": None if age is None else round(age, 3),
            "error": None if online or self._paused else self._offline_reason(age),
            "frames": self._latest.seq,
            "corrupt_frames": self.corrupt_frames,
            **self._identify_status(),
        }

    def _identify_status(self) -> dict:
        """The identify stream's URL (redacted) and whether it is read; nothing for a source
        without one, or one that is itself an identify stream."""
        if self.identify is None:
            return {"identify_url": None, "identify_online": None, "identify_error": None} \
                if self.origin != "identify" else {}
        status = self.identify.status()
        return {"identify_url": status["url"], "identify_online": status["online"],
                "identify_error": status["error"]}

    def _offline_reason(self, age: float | None) -> str | None:
        """Why an offline camera is offline: the last error, else what is known; None only while
        the first connection is still being made."""
        if self._error:
            return self._error
        if age is not None:
            return f"no frame for {age:.0f} s"
        corrupt = self.corrupt_frames
        return f"{corrupt} corrupt frames and no good one yet" if corrupt else None

    # -- reading thread --------------------------------------------------------------------

    def run(self) -> None:
        backoff = BACKOFF_MIN_S
        while not self.stopping:
            if self._paused:
                self._woken.wait()              # resume() or stop() sets it
                self._woken.clear()
                continue
            url = self._url
            seq_before = self._latest.seq
            try:
                for jpeg, bgr in self._frames(url):
                    self._publish(jpeg, bgr)
                    if self.stopping or url != self._url or self._paused:
                        break
                else:
                    raise StreamClosed(f"{redact(url)}: the stream ended")
            except StreamError as err:
                if not self.stopping and url == self._url and not self._paused:  # else we closed it
                    self._set_error(str(err))
                if isinstance(err, StreamRejected):
                    backoff = max(backoff, REJECTED_BACKOFF_S)
            except Exception as err:  # a bug or an OpenCV surprise must not kill the thread
                log.exception("camera %s: unexpected error reading %s", self.id, redact(url))
                self._set_error(f"unexpected error: {err.__class__.__name__}")
            if self._connected and not self.stopping:
                log.info("camera %s: %s", self.id, "disabled" if self._paused else f"offline ({self._error})")
            self._connected = False
            if self.stopping:
                break
            if url != self._url or self._paused:
                backoff = BACKOFF_MIN_S
                continue
            if self._latest.seq > seq_before:
                backoff = BACKOFF_MIN_S
            self._woken.wait(backoff)
            self._woken.clear()
            backoff = min(backoff * 2, max(backoff, BACKOFF_MAX_S))

    def _set_error(self, message: str) -> None:
        if self._errors.fresh(message):  # a camera failing the same way is logged once a minute
            log.warning("camera %s: %s", self.id, message)
        self._error = message

    def _publish(self, jpeg: bytes | None, bgr: np.ndarray | None) -> None:
        now = time.monotonic()
        decoded = bgr is not None
        if jpeg is not None and not decoded:
            ok, bgr = self._check_jpeg(jpeg, now)
            if not ok:
                self._undecodable += 1
                last = self._latest.get()
                # An odd bad frame among good ones is only counted; no good frame for a while is an error.
                if last is None or now - last.time >= self.stall_timeout:
                    self._set_error(UNDECODABLE)
                return
            decoded = bgr is not None
        self._rate.tick(now)
        if not self._connected:
            log.info("camera %s: online", self.id)
        self._connected = True
        self._error = None
        self._errors.clear()
        # Only this thread publishes, so seq + 1 is the number publish() assigns.
        self._latest.publish(Frame(self._latest.seq + 1, now, jpeg, bgr, _decoded=decoded))

    def _check_jpeg(self, jpeg: bytes, now: float) -> tuple[bool, np.ndarray | None]:
        """Whether a camera's JPEG holds a picture, and its pixels when this check decoded it.

        Every frame's header must give a size (an empty JPEG has none); once a second, and on
        every frame after a failure, the whole frame is decoded (~1 ms at 640x360), so a camera
        of garbage goes offline while a good one costs one decode a second, reused by consumers.
        """
        size = dimensions(jpeg)
        if size is None or 0 in size:
            return False, None
        if not self._suspect and now < self._next_decode_check:
            return True, None
        self._next_decode_check = now + DECODE_CHECK_S
        bgr = decode_jpeg(jpeg)
        self._suspect = bgr is None
        return bgr is not None, bgr

    def _frames(self, url: str) -> Iterator[tuple[bytes | None, np.ndarray | None]]:
        if is_http(url):
            yield from self._mjpeg_frames(url)
        elif (path := local_path(url)) is not None:
            yield from self._file_frames(path)
        else:
            yield from self._opencv_frames(url)

    def _mjpeg_frames(self, url: str) -> Iterator[tuple[bytes, None]]:
        reader = MjpegStream(url, timeout=self.stall_timeout, max_frame_bytes=self.max_frame_bytes)
        self._reader = reader
        if self.stopping or self._paused:   # stopped or paused while it was being made
            return
        try:
            for jpeg in reader:
                yield jpeg, None
        finally:
            self._reader = None
            self._corrupt_before += reader.stats.corrupt
            reader.close()

    def _file_frames(self, path: str) -> Iterator[tuple[None, np.ndarray]]:
        playback = Playback(path)
        pacer = Pacer(playback.fps)
        for bgr in playback.forever():
            if not pacer.wait(self._stop_event) or self._paused:
                return
            yield None, bgr

    def _opencv_frames(self, url: str) -> Iterator[tuple[None, np.ndarray | None]]:
        """RTSP, RTMP, webcams and anything else OpenCV opens; timeouts keep a dead server from hanging us."""
        with open_capture_checked(url, self.stall_timeout, self._open_capture) as cap:
            while not self.stopping and not self._paused:
                ok, bgr = cap.read()
                if not ok or bgr is None:
                    raise self._stopped(url)
                yield None, bgr

    def _stopped(self, url: str) -> StreamClosed:
        return StreamClosed(f"{redact(url)}: the stream stopped (no frame within {self.stall_timeout:g} s)",
                            "it will be retried")

    def _open_capture(self, url: str) -> cv2.VideoCapture:
        """A device as it is; anything else with FFmpeg, bounded by ``stall_timeout``. An RTSP
        URL's ``?transport=tcp|udp`` is taken out and given to FFmpeg as ``rtsp_transport``."""
        if is_device(url):
            return cv2.VideoCapture(int(url) if url.isdigit() else url)
        ms = int(self.stall_timeout * 1000)
        url, transport = rtsp.checked(url, self.stall_timeout)
        with rtsp.ffmpeg_open(transport):
            return cv2.VideoCapture(url, cv2.CAP_FFMPEG,
                                    [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, ms, cv2.CAP_PROP_READ_TIMEOUT_MSEC, ms])

    def _abort_reader(self) -> None:
        reader = self._reader
        if reader is not None:
            reader.close()

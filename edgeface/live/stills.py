"""Faces in uploaded still images (``POST /api/v1/recognize``), off the request threads.

Uploads are decoded and searched one at a time on their own engine, which starts with the first
upload (most edge sites never get one, and its child process costs ~110 MB) and stops after
``recognize_idle_s`` without one (a burst of big photos left it 300 MB larger for good); ``queue``
bounds the uploads running or waiting, and one more is refused at once (HTTP 503). JPEGs are
decoded at the scale detection needs (``images.load_image_scaled``), boxes given in the upload's
pixels.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from edgeface.engine import EngineSettings, FaceEngine
from edgeface.errors import EdgefaceError
from edgeface.images import load_image_scaled
from edgeface.live.engine_process import ProcessEngine
from edgeface.live.modelwatch import ModelHolder
from edgeface.recognize import STILL_SETTINGS, recognize_faces
from edgeface.settings import LiveSettings


class RecognizerBusy(EdgefaceError):
    """Every still-recognition slot is taken (or the service is stopping): retry later (HTTP 503)."""

    retry_after_s = 2


class StillRecognizer:
    """``recognize(data, name)`` from any thread; ``close()`` stops the pool and the engine."""

    def __init__(self, models: ModelHolder, live: LiveSettings):
        self._models = models
        self._idle_s = live.recognize_idle_s
        self._last_use = 0.0
        self._idle_timer: threading.Timer | None = None
        self._queue = live.recognize_queue
        self._processes = live.analysis_processes
        # Like the cameras' engine, in a child process: dlib here would starve camera threads of
        # the GIL. Scaled down first: a 16 MP photo at full size took minutes and gigabytes.
        self._settings = EngineSettings(detector=live.detector, upsample=STILL_SETTINGS.upsample,
                                        max_side=live.recognize_max_side)
        self._slots = threading.BoundedSemaphore(live.recognize_queue)
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="still")
        self.engine: FaceEngine | ProcessEngine | None = None

    def recognize(self, data: bytes, name: str) -> list[dict]:
        """Faces in an uploaded image (its bytes), like ``edgeface recognize`` but detected on a copy
        at most ``recognize_max_side`` across. When ``recognize_queue`` uploads are already running
        or waiting, RecognizerBusy at once. Ask once a model is loaded: a loaded model is swapped,
        never dropped."""
        if not self._slots.acquire(blocking=False):
            raise RecognizerBusy(f"{self._queue} images are already being recognized",
                                 f"retry after {RecognizerBusy.retry_after_s} s")
        try:
            future = self._pool.submit(self._recognize, data, name)
        except RuntimeError:          # the pool is shut down: the service is stopping
            self._slots.release()
            raise RecognizerBusy("the service is stopping", "retry once it is back") from None
        future.add_done_callback(lambda _: self._slots.release())
        return future.result()

    def _recognize(self, data: bytes, name: str) -> list[dict]:
        loaded = self._models.current()
        if loaded is None:
            raise EdgefaceError("no model is loaded yet", "see /readyz; check the model file or store")
        try:
            rgb, scale = load_image_scaled(data, name=name, min_side=self._settings.max_side)
            faces = recognize_faces(self._engine(), loaded.matcher, rgb)
        finally:
            del data
            self._last_use = time.monotonic()
            self._schedule_retire()
            _trim_heap()
        for face in faces:
            face["box"] = [round(v * scale) for v in face["box"]]
        return faces

    def _schedule_retire(self) -> None:
        if self._idle_timer is not None:
            self._idle_timer.cancel()
        self._idle_timer = threading.Timer(self._idle_s, self._retire_soon)
        self._idle_timer.daemon = True
        self._idle_timer.start()

    def _retire_soon(self) -> None:
        """On the pool's thread, so it never overlaps an upload."""
        try:
            self._pool.submit(self._retire)
        except RuntimeError:          # closing
            pass

    def _retire(self) -> None:
        if self.engine is not None and time.monotonic() - self._last_use >= self._idle_s:
            engine, self.engine = self.engine, None
            engine.close()
            _trim_heap()

    def _engine(self) -> FaceEngine | ProcessEngine:
        """Started on first use (only the pool's one thread calls this)."""
        if self.engine is None:
            self.engine = ProcessEngine(self._settings, 1) if self._processes else FaceEngine(self._settings)
        return self.engine

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        if self._idle_timer is not None:
            self._idle_timer.cancel()
        if self.engine is not None:
            self.engine.close()


_LIBC = ctypes.CDLL(ctypes.util.find_library("c") or None)


def _trim_heap() -> None:
    """Give freed heap back to the OS after a still (glibc keeps it otherwise: a decoded photo's
    buffers left the worker hundreds of MB bigger). A no-op where malloc_trim does not exist."""
    trim = getattr(_LIBC, "malloc_trim", None)
    if trim is not None:
        trim(0)

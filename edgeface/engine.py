"""The face engine: find faces (HOG on CPU, CNN when dlib has CUDA) and turn them into 128-D embeddings.

It calls dlib directly with the model files of the ``face_recognition_models`` package, exactly
as ``face_recognition`` does (5-point landmarks, ResNet v1 descriptor, 1 jitter), so embeddings are
interchangeable with that library's; going direct keeps the models loaded once per thread and
lets detection run on a scaled copy while encoding uses full-resolution pixels.
"""

from __future__ import annotations

import importlib.util
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import cv2
import dlib
import numpy as np

from edgeface.matcher import EMBEDDING_DIM

#: (top, right, bottom, left) in pixels of the image given to the engine — face_recognition's order.
Box = tuple[int, int, int, int]


class Engine(Protocol):
    """What live analysis needs of an engine: ``FaceEngine`` in this thread, ``TimedEngine``
    (the same, timed) or ``ProcessEngine`` (in child processes) — interchangeable."""

    def detect(self, rgb: np.ndarray) -> list[Box]:
        """Face boxes in ``rgb``'s coordinates, largest first."""
        ...

    def encode(self, rgb: np.ndarray, boxes: list[Box]) -> np.ndarray:
        """One 128-D float32 embedding per box."""
        ...

    def detect_turned(self, rgb: np.ndarray) -> list[Box]:
        """Faces dlib's CNN finds in ``rgb`` (a small region: ~2.5 ms of CPU per 1000 pixels),
        turned ones too, which HOG misses; [] where the CNN is the detector already."""
        ...

    def close(self) -> None:
        """Release what the engine holds (child processes); idempotent."""
        ...


def _models_dir() -> Path:
    # Locate the data without importing face_recognition_models: its __init__ needs pkg_resources,
    # which recent setuptools no longer ships.
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("face_recognition_models is not installed: pip install face_recognition_models")
    return Path(next(iter(spec.submodule_search_locations))) / "models"


MODEL_FILES = {
    "landmarks": "shape_predictor_5_face_landmarks.dat",
    "descriptor": "dlib_face_recognition_resnet_model_v1.dat",
    "cnn": "mmod_human_face_detector.dat",
}


def cuda_available() -> bool:
    """True when this dlib was built with CUDA and sees a GPU."""
    try:
        return bool(dlib.DLIB_USE_CUDA) and dlib.cuda.get_num_devices() > 0
    except Exception:  # noqa: BLE001 - a broken CUDA runtime means "no CUDA", not a crash
        return False


@dataclass(frozen=True)
class EngineSettings:
    """How faces are found and encoded; recorded in every model file's metadata."""

    detector: str = "auto"   # "hog", "cnn" or "auto" (cnn when CUDA is available)
    upsample: int = 1        # dlib's number_of_times_to_upsample: 1 finds faces down to ~40 px
    scale: float = 1.0       # detect on a copy scaled by this factor (boxes are mapped back)
    max_side: int = 0        # also scale down so the longer side is at most this (0 = no limit)
    jitters: int = 1         # descriptor re-sampling; >1 is slower and barely more accurate

    def resolved_detector(self) -> str:
        if self.detector == "auto":
            return "cnn" if cuda_available() else "hog"
        if self.detector not in ("hog", "cnn"):
            raise ValueError(f"unknown detector {self.detector!r}: use hog, cnn or auto")
        return self.detector


class FaceEngine:
    """Detects and encodes faces in RGB uint8 images. Safe to share between threads."""

    def __init__(self, settings: EngineSettings | None = None, **overrides):
        base = settings or EngineSettings()
        self.settings = EngineSettings(**{**base.__dict__, **overrides})
        self.detector_kind = self.settings.resolved_detector()
        self._models = _models_dir()
        # dlib's DNN keeps per-call state inside the network object, so each thread gets its own.
        self._local = threading.local()

    def _get(self, name: str):
        obj = getattr(self._local, name, None)
        if obj is None:
            if name == "hog":
                obj = dlib.get_frontal_face_detector()
            elif name == "cnn":
                obj = dlib.cnn_face_detection_model_v1(str(self._models / MODEL_FILES["cnn"]))
            elif name == "landmarks":
                obj = dlib.shape_predictor(str(self._models / MODEL_FILES["landmarks"]))
            else:
                obj = dlib.face_recognition_model_v1(str(self._models / MODEL_FILES["descriptor"]))
            setattr(self._local, name, obj)
        return obj

    def warm(self) -> FaceEngine:
        """Load this thread's models now (they load lazily otherwise); returns self."""
        self._get(self.detector_kind)
        self._get("landmarks")
        self._get("descriptor")
        return self

    def detection_scale(self, shape: tuple[int, ...]) -> float:
        s = self.settings.scale
        longest = max(shape[0], shape[1]) * s
        if self.settings.max_side and longest > self.settings.max_side:
            s *= self.settings.max_side / longest
        return s

    def detect(self, rgb: np.ndarray, upsample: int | None = None) -> list[Box]:
        """Face boxes in ``rgb``'s coordinates, largest first."""
        s = self.detection_scale(rgb.shape)
        small = rgb if s == 1.0 else cv2.resize(rgb, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
        up = self.settings.upsample if upsample is None else upsample
        if self.detector_kind == "cnn":
            rects = [d.rect for d in self._get("cnn")(small, up)]
        else:
            rects = list(self._get("hog")(small, up))
        return _largest_first([_to_box(r, s, rgb.shape) for r in rects])

    def detect_turned(self, rgb: np.ndarray) -> list[Box]:
        """See ``Engine.detect_turned``. Without upsampling: the CNN finds faces from ~64 px
        there, so a region is scaled for it first (``edgeface.live.regions.turned``)."""
        if self.detector_kind == "cnn":
            return []
        return _largest_first([_to_box(d.rect, 1.0, rgb.shape) for d in self._get("cnn")(rgb, 0)])

    def encode(self, rgb: np.ndarray, boxes: list[Box]) -> np.ndarray:
        """One 128-D float32 embedding per box, computed on the full-resolution pixels."""
        if not boxes:
            return np.empty((0, EMBEDDING_DIM), dtype=np.float32)
        predictor = self._get("landmarks")
        shapes = dlib.full_object_detections()
        for top, right, bottom, left in boxes:
            shapes.append(predictor(rgb, dlib.rectangle(left, top, right, bottom)))
        # One batched call: the network runs once over all face chips.
        vectors = self._get("descriptor").compute_face_descriptor(rgb, shapes, self.settings.jitters)
        return np.asarray([np.asarray(v) for v in vectors], dtype=np.float32).reshape(-1, EMBEDDING_DIM)

    def close(self) -> None:
        """Nothing to release (dlib's models go with the object); engines in child processes stop
        theirs, so every engine shuts down the same way."""

    def detect_and_encode(self, rgb: np.ndarray) -> tuple[list[Box], np.ndarray]:
        boxes = self.detect(rgb)
        return boxes, self.encode(rgb, boxes)

    def describe(self) -> dict:
        """Settings plus the detector actually used, for model metadata and the UI."""
        return {**self.settings.__dict__, "detector": self.detector_kind,
                "landmarks": MODEL_FILES["landmarks"], "descriptor": MODEL_FILES["descriptor"]}


def _largest_first(boxes: list[Box]) -> list[Box]:
    return sorted(boxes, key=lambda b: (b[2] - b[0]) * (b[1] - b[3]), reverse=True)


def _to_box(rect, scale: float, shape: tuple[int, ...]) -> Box:
    h, w = shape[0], shape[1]
    inv = 1.0 / scale
    return (max(round(rect.top() * inv), 0), min(round(rect.right() * inv), w - 1),
            min(round(rect.bottom() * inv), h - 1), max(round(rect.left() * inv), 0))


def library_versions() -> dict:
    """Versions that decide what an embedding means; stored in model metadata."""
    from importlib.metadata import PackageNotFoundError, version

    out = {"dlib": dlib.__version__, "opencv": cv2.__version__, "numpy": np.__version__}
    for dist in ("edgeface", "face_recognition_models"):
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:
            out[dist] = None
    out["dlib_cuda"] = bool(getattr(dlib, "DLIB_USE_CUDA", False))
    out["dlib_blas"] = bool(getattr(dlib, "DLIB_USE_BLAS", False))
    return out


def default_threads() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))

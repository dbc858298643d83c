"""Recognising the faces in one still image: the JSON shape shared by the CLI and the HTTP API."""

from __future__ import annotations

import numpy as np

from edgeface.engine import Engine, EngineSettings
from edgeface.matcher import Matcher

#: Stills: accuracy over speed (face_recognition's defaults: upsample once, no downscaling).
STILL_SETTINGS = EngineSettings(detector="auto", upsample=1)


def recognize_faces(engine: Engine, matcher: Matcher, rgb: np.ndarray) -> list[dict]:
    """``[{"name", "distance", "box": [top, right, bottom, left]}]``, largest face first."""
    boxes = engine.detect(rgb)
    encodings = engine.encode(rgb, boxes)
    return [{"name": m.name, "distance": round(m.distance, 4), "box": list(box)}
            for box, m in zip(boxes, matcher.match(encodings))]


def result_json(image: str, faces: list[dict]) -> dict:
    return {"image": image, "faces": faces}

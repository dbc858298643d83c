"""What the live tests share: a frame as a camera source hands it to a pipeline."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Frame:
    seq: int
    time: float                    # monotonic seconds
    jpeg: bytes | None = None
    bgr: np.ndarray | None = None

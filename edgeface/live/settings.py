"""Tuning of per-camera recognition: how often to look for faces, how often to re-check them.

The defaults come from measurements on a 2-core machine with the 640x360 sample clip: HOG
detection at 0.75 scale with one upsample costs ~47 ms and still finds the ~50 px faces that
full resolution finds (0.5 scale misses some, 0.25 none); one encoding costs ~75 ms with the
dlib-bin wheel, ~17 ms with the OpenBLAS build (scripts/build-dlib.sh). So each camera is searched
for faces four times a second — at once after a scene cut, not at all while nothing moves — and
faces are encoded only when a track is new or due a re-check, never on every frame.
``edgeface bench`` measured the interval: 0.15 s → 0.25 s kept recall (0.99 → 1.00) and cut the
app's CPU by 15 % with four cameras (docs/performance.md).

``output_delay_s`` trades latency for labels: output frames lag the camera by that much, and a
face is labelled on every frame from its appearance, not only from when analysis caught up
(analysis of a new face takes a detection interval plus ~150 ms here).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields

from edgeface.errors import ConfigError


@dataclass(frozen=True)
class LiveSettings:
    detector: str = "auto"            # hog, cnn (CUDA) or auto
    detect_scale: float = 0.75        # detection runs on a copy scaled by this
    upsample: int = 1                 # dlib upsampling during detection (finds smaller faces)
    detect_interval_s: float = 0.25   # per camera: at least this long between two periodic detections
    analysis_threads: int = 2         # detections/encodings running at once, shared by all cameras
    analysis_processes: bool = True   # run them in child processes (dlib would starve camera threads of the GIL)
    max_jump: float = 0.8             # a detection continues a track whose centre is this many face widths away
    track_ttl_s: float = 1.0          # a track not confirmed by detection for this long is dropped
    unknown_recheck_s: float = 0.4    # re-encode an Unknown face this often (it may turn)
    settle_s: float = 1.0             # ... and at every detection while its track is younger than this
    named_recheck_s: float = 3.0      # re-encode a named face this often (someone else may stand there)
    unknown_confirmations: int = 2    # Unknown results in a row before a named track turns Unknown
    tolerance: float = 0.6            # match distance threshold
    jpeg_quality: int = 80            # annotated output frames
    output_delay_s: float = 0.3       # show frames this much later, with the faces found up to then
    snapshot_margin: float = 0.4      # event snapshot: face box grown by this fraction each side

    @classmethod
    def from_env(cls, environ=os.environ, prefix: str = "EDGEFACE_LIVE_") -> LiveSettings:
        """Override any field with ``EDGEFACE_LIVE_<FIELD>`` (e.g. ``EDGEFACE_LIVE_DETECT_SCALE=1``)."""
        values = {}
        for f in fields(cls):
            raw = environ.get(prefix + f.name.upper())
            if raw is None or raw == "":
                continue
            kind = type(f.default)
            try:
                values[f.name] = _parse_bool(raw) if kind is bool else kind(raw)
            except ValueError:
                raise ConfigError(f"{prefix}{f.name.upper()}={raw!r} is not a valid {kind.__name__}",
                                  f"set it like the default, {f.default!r}") from None
        return cls(**values).validated()

    def validated(self) -> LiveSettings:
        if self.detector not in ("auto", "hog", "cnn"):
            raise ConfigError(f"detector {self.detector!r} is unknown", "use hog, cnn or auto")
        if not 0.1 <= self.detect_scale <= 2.0:
            raise ConfigError(f"detect_scale {self.detect_scale} is out of range", "use 0.1 … 2.0")
        if self.analysis_threads < 0 or self.upsample < 0:
            raise ConfigError("analysis_threads and upsample must not be negative", "use 0 or more")
        if not 0 <= self.output_delay_s <= 2.0:
            raise ConfigError(f"output_delay_s {self.output_delay_s} is out of range", "use 0 … 2 seconds")
        if not 1 <= self.jpeg_quality <= 100:
            raise ConfigError(f"jpeg_quality {self.jpeg_quality} is out of range", "use 1 … 100")
        return self


def _parse_bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError(text)

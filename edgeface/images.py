"""Reading images into the one pixel layout the face engine uses: RGB, uint8, HxWx3, contiguous.

All colour-order and orientation handling lives here so no other module has to think about it:
OpenCV hands out BGR, dlib wants RGB; phone photos carry their rotation in EXIF; PNGs may be
grey, palette, 16-bit or have an alpha channel.
"""

from __future__ import annotations

import io
import math
import os
import warnings
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from edgeface import jpegmeta
from edgeface.errors import ImageError
from edgeface.settings import ImageSettings

#: Larger images are refused: decoding a 100-megapixel upload would take seconds and ~300 MB.
#: The process-wide limit, set once by the entry point from its settings (``configure``).
MAX_PIXELS: int = ImageSettings().max_pixels


#: A whole JPEG spends at least a bit on each 8x8 block (a blank 4096x4096 one, optimized: 256
#: pixels a byte): one claiming more pixels per byte than this is truncated, and libjpeg would
#: fill in the rest at the full cost (a 629-byte upload claiming 4096x4096 cost 2.3 s).
JPEG_PIXELS_PER_BYTE = 1024


def configure(max_pixels: int) -> None:
    """Set the limit for this process (and the training workers it forks): ``images.max_pixels``."""
    global MAX_PIXELS
    MAX_PIXELS = max_pixels


def load_image(source: str | os.PathLike | bytes, *, name: str | None = None) -> np.ndarray:
    """Decode a file path or the bytes of an image into an RGB uint8 array, EXIF-upright.

    ``name`` is used in error messages when ``source`` is bytes (e.g. an upload's file name).
    Images over ``MAX_PIXELS`` are refused.
    """
    return load_image_scaled(source, name=name)[0]


def load_image_scaled(source: str | os.PathLike | bytes, *, name: str | None = None,
                      min_side: int | None = None) -> tuple[np.ndarray, float]:
    """``load_image``, but a JPEG is decoded straight at 1/2, 1/4 or 1/8 of its size (libjpeg's
    DCT scaling) as long as its longer side stays at least ``min_side``; and how much smaller the
    array is than the image (multiply its coordinates by this to get the image's).

    What a decode costs is set by the pixels the header claims, not by the bytes sent, so the
    header is judged first: over ``MAX_PIXELS``, or a JPEG claiming more than
    ``JPEG_PIXELS_PER_BYTE`` pixels per byte, is refused undecoded. A big JPEG decoded at half
    size costs a quarter of the time and memory.
    """
    label = name or (str(source) if not isinstance(source, bytes) else "uploaded image")
    try:
        stream = io.BytesIO(source) if isinstance(source, bytes) else open(source, "rb")  # noqa: SIM115 - with below
    except OSError as err:
        raise ImageError(f"{label}: cannot open ({err.strerror})", "check the path and permissions") from None
    try:
        with stream, warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(stream)
            width, height = img.size
            if width * height > MAX_PIXELS:
                raise ImageError(
                    f"{label}: {width}x{height} pixels is larger than the limit of {MAX_PIXELS}",
                    "scale the image down (faces need only ~100 px across)",
                )
            if img.format == "JPEG" and width * height > JPEG_PIXELS_PER_BYTE * _size(stream):
                raise ImageError(f"{label}: {_size(stream)} bytes cannot hold a whole {width}x{height} JPEG "
                                 "(image data is truncated)", "re-export or re-copy the file")
            if min_side and max(width, height) > 2 * min_side:
                factor = min_side / max(width, height)
                img.draft(None, (max(1, math.ceil(width * factor)), max(1, math.ceil(height * factor))))
            scale = width / img.size[0]
            return to_rgb_array(ImageOps.exif_transpose(img)), scale
    except ImageError:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
        raise ImageError(f"{label}: not a readable image ({err.__class__.__name__})",
                         "use a JPEG or PNG file") from None
    except (OSError, ValueError, SyntaxError) as err:  # truncated or corrupt data
        raise ImageError(f"{label}: image data is corrupt or truncated ({err})",
                         "re-export or re-copy the file") from None


def _size(stream) -> int:
    return stream.getbuffer().nbytes if isinstance(stream, io.BytesIO) else os.fstat(stream.fileno()).st_size


def to_rgb_array(img: Image.Image) -> np.ndarray:
    """Any Pillow mode (grey, palette, 16-bit, CMYK, with alpha) to contiguous RGB uint8."""
    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        # 16/32-bit grey: scale to 8 bits by the real range rather than clipping to white.
        arr = np.asarray(img, dtype=np.float64)
        hi = arr.max() or 1.0
        img = Image.fromarray((arr * (255.0 / hi)).clip(0, 255).astype(np.uint8))
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        # Put transparent areas on white: their hidden RGB is often black or garbage.
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, rgba)
    return np.ascontiguousarray(np.asarray(img.convert("RGB"), dtype=np.uint8))


def bgr_to_rgb(bgr: np.ndarray) -> np.ndarray:
    """OpenCV frame (BGR, or grey) to the engine's RGB layout."""
    if bgr.ndim == 2:
        return cv2.cvtColor(bgr, cv2.COLOR_GRAY2RGB)
    if bgr.shape[2] == 4:
        return cv2.cvtColor(bgr, cv2.COLOR_BGRA2RGB)
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def rgb_to_bgr(rgb: np.ndarray) -> np.ndarray:
    """Engine RGB back to OpenCV's BGR (for drawing and JPEG encoding)."""
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)


def decode_jpeg(data: bytes) -> np.ndarray | None:
    """JPEG bytes to a BGR frame, or None when the data does not decode (corrupt camera frame)
    or its header declares more than ``jpegmeta.MAX_PIXELS`` pixels (checked before decoding)."""
    if not data:
        return None
    size = jpegmeta.dimensions(data)
    if size is not None and jpegmeta.too_large(*size):
        return None
    frame = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
    return frame if frame is not None and frame.size else None


def encode_jpeg(bgr: np.ndarray, quality: int = 80) -> bytes:
    """BGR frame to JPEG bytes."""
    ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ImageError("JPEG encoding failed", "check the frame is a HxWx3 uint8 array")
    return buf.tobytes()


def image_files(folder: Path) -> list[Path]:
    """Image files directly in ``folder``, sorted by name (hidden files ignored)."""
    return sorted(p for p in folder.iterdir()
                  if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in IMAGE_SUFFIXES)


IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".pgm", ".ppm"})


def sharpness(bgr: np.ndarray) -> float:
    """Variance of the Laplacian of the grey image: high for crisp edges, low for blur."""
    grey = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY) if bgr.ndim == 3 else bgr
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())

"""Metadata carried inside JPEG frames as COM (comment, FF FE) segments.

A comment travels with the frame through every hop that forwards JPEG bytes (camera → app →
viewer) and is ignored by decoders and browsers, so it is how a frame says where it came from
(the benchmark's simulated cameras stamp the source frame number) and what was drawn on it (the
web app's annotated frames list their faces). Reading stops at the first scan: cost is a few
header segments, not the image data.

The frame header (SOFn) is read the same way for the frame's size, so a frame can be refused
before anything decodes it: a 6 MB JPEG can claim 20000x20000 pixels, 1.2 GB once decoded.
"""

from __future__ import annotations

from collections.abc import Iterator

SOI, APP0, COM, SOS, EOI = 0xD8, 0xE0, 0xFE, 0xDA, 0xD9
#: ``edgeface-frame:<n>``: the n-th frame a (benchmark) camera sent since it started.
FRAME_STAMP = b"edgeface-frame:"
#: ``edgeface:<JSON>``: what the web app drew on an annotated frame (see docs/performance.md).
ANNOTATION = b"edgeface:"
MAX_COMMENT = 65533          # a segment length is 16 bits and counts its own two bytes
#: Frame headers: SOF0-SOF15 except DHT (C4), JPG (C8) and DAC (CC), which share the range.
SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
#: Largest frame (width x height) the app decodes: 4096x4096, ~50 MB as BGR. Cameras send at
#: most 4K (8.3 MP); more is a mistake or an attack. Until it moves into the settings tree.
MAX_PIXELS = 4096 * 4096


def add_comment(jpeg: bytes, text: bytes) -> bytes:
    """``jpeg`` with a COM segment holding ``text``, placed after the JFIF header (APP0) if any."""
    if len(text) > MAX_COMMENT:
        raise ValueError(f"JPEG comment of {len(text)} bytes is too long (at most {MAX_COMMENT})")
    if jpeg[:2] != b"\xff\xd8":
        raise ValueError("not a JPEG (no SOI marker)")
    at = 2
    if jpeg[2:4] == b"\xff\xe0":      # JFIF wants APP0 right after SOI
        at = 4 + int.from_bytes(jpeg[4:6], "big")
    segment = b"\xff\xfe" + (len(text) + 2).to_bytes(2, "big") + text
    return jpeg[:at] + segment + jpeg[at:]


def _segments(jpeg: bytes) -> Iterator[tuple[int, bytes]]:
    """(marker code, payload) of each header segment before the first scan; stops quietly at
    anything malformed."""
    pos, n = 2, len(jpeg)
    if jpeg[:2] != b"\xff\xd8":
        return
    while pos + 4 <= n and jpeg[pos] == 0xFF:
        code = jpeg[pos + 1]
        if code == 0xFF:              # fill byte
            pos += 1
            continue
        if code in (SOS, EOI):
            return
        length = int.from_bytes(jpeg[pos + 2:pos + 4], "big")
        if length < 2:
            return
        yield code, jpeg[pos + 4:pos + 2 + length]
        pos += 2 + length


def comments(jpeg: bytes) -> list[bytes]:
    """The payloads of the COM segments before the first scan (empty for a malformed header)."""
    return [payload for code, payload in _segments(jpeg) if code == COM]


def sof_size(payload: bytes) -> tuple[int, int] | None:
    """(width, height) from a SOFn segment's payload (precision, height, width, ...), or None."""
    if len(payload) < 5:
        return None
    return int.from_bytes(payload[3:5], "big"), int.from_bytes(payload[1:3], "big")


def dimensions(jpeg: bytes) -> tuple[int, int] | None:
    """(width, height) the JPEG's frame header declares, or None if it has none before its scan."""
    for code, payload in _segments(jpeg):
        if code in SOF_MARKERS:
            return sof_size(payload)
    return None


def too_large(width: int, height: int, max_pixels: int = MAX_PIXELS) -> str | None:
    """Why a ``width`` x ``height`` frame is refused, or None if it is within ``max_pixels``."""
    if width * height <= max_pixels:
        return None
    return f"a frame of {width}x{height} pixels is larger than the limit of {max_pixels} pixels"


def comment_with_prefix(jpeg: bytes, prefix: bytes) -> bytes | None:
    """The payload after ``prefix`` of the first comment that starts with it, or None."""
    for text in comments(jpeg):
        if text.startswith(prefix):
            return text[len(prefix):]
    return None

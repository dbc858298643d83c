"""Metadata carried inside JPEG frames as COM (comment, FF FE) segments.

A comment travels with the frame through every hop that forwards JPEG bytes (camera → app →
viewer) and is ignored by decoders and browsers, so it is how a frame says where it came from
(the benchmark's simulated cameras stamp the source frame number) and what was drawn on it (the
web app's annotated frames list their faces). Reading stops at the first scan: cost is a few
header segments, not the image data.
"""

from __future__ import annotations

SOI, APP0, COM, SOS, EOI = 0xD8, 0xE0, 0xFE, 0xDA, 0xD9
#: ``edgeface-frame:<n>``: the n-th frame a (benchmark) camera sent since it started.
FRAME_STAMP = b"edgeface-frame:"
#: ``edgeface:<JSON>``: what the web app drew on an annotated frame (see docs/performance.md).
ANNOTATION = b"edgeface:"
MAX_COMMENT = 65533          # a segment length is 16 bits and counts its own two bytes


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


def comments(jpeg: bytes) -> list[bytes]:
    """The payloads of the COM segments before the first scan (empty for a malformed header)."""
    found, pos, n = [], 2, len(jpeg)
    if jpeg[:2] != b"\xff\xd8":
        return found
    while pos + 4 <= n and jpeg[pos] == 0xFF:
        code = jpeg[pos + 1]
        if code == 0xFF:              # fill byte
            pos += 1
            continue
        if code in (SOS, EOI):
            break
        length = int.from_bytes(jpeg[pos + 2:pos + 4], "big")
        if length < 2:
            break
        if code == COM:
            found.append(jpeg[pos + 4:pos + 2 + length])
        pos += 2 + length
    return found


def comment_with_prefix(jpeg: bytes, prefix: bytes) -> bytes | None:
    """The payload after ``prefix`` of the first comment that starts with it, or None."""
    for text in comments(jpeg):
        if text.startswith(prefix):
            return text[len(prefix):]
    return None

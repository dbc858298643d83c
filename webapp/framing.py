"""Where a request ends, found from its bytes as they arrive (no blocking reads): the head's
framing headers and the end of a chunked body. ``webapp.server`` uses it to read whole requests
in its event loop; gunicorn's parser still parses them (in a thread, from memory).

Only what framing needs is read here, and anything ambiguous is refused (400): two different
``Content-Length``s, ``Content-Length`` with ``Transfer-Encoding``, a coding other than
``chunked``, folded header lines — the ways one request is read as two (request smuggling).
"""

from __future__ import annotations

from dataclasses import dataclass, field

MAX_CHUNK_SIZE_LINE = 1024     # hex size plus extensions; real ones are a few bytes
_HEX = frozenset(b"0123456789abcdefABCDEF")


class BadFraming(ValueError):
    """The request cannot be framed unambiguously (answered 400, or ``status``)."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


@dataclass
class RequestHead:
    method: str
    path: str                                   # without the query string
    headers: dict[str, list[str]] = field(default_factory=dict)   # lower-case names
    length: int = 0                             # Content-Length, 0 when absent
    chunked: bool = False
    expects_continue: bool = False

    def header(self, name: str) -> str | None:
        values = self.headers.get(name)
        return values[-1] if values else None

    @property
    def has_body(self) -> bool:
        return self.chunked or self.length > 0


def parse_head(head: bytes) -> RequestHead:
    """The framing of one request head (request line and headers, without the final CRLF CRLF)."""
    lines = head.split(b"\r\n")
    parts = lines[0].split(b" ")
    if len(parts) != 3 or not parts[2].startswith(b"HTTP/"):
        raise BadFraming("malformed request line")
    method, target, version = (p.decode("latin-1") for p in parts)
    headers: dict[str, list[str]] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(b":")
        if not sep or not name or name != name.strip() or line[:1] in (b" ", b"\t"):
            raise BadFraming("malformed header line")
        headers.setdefault(name.decode("latin-1").lower(), []).append(value.strip().decode("latin-1"))
    parsed = RequestHead(method, target.split("?", 1)[0], headers)
    lengths = {v for value in headers.get("content-length", []) for v in value.split(",")}
    codings = [c.strip().lower() for value in headers.get("transfer-encoding", []) for c in value.split(",")]
    if codings:
        if lengths:
            raise BadFraming("both Content-Length and Transfer-Encoding")
        if codings != ["chunked"]:
            raise BadFraming(f"Transfer-Encoding {','.join(codings)[:40]!r} is not supported", 501)
        parsed.chunked = True
    elif lengths:
        text = {v.strip() for v in lengths}
        if len(text) != 1 or not next(iter(text)).isdigit() or len(next(iter(text))) > 18:
            raise BadFraming("invalid Content-Length")
        parsed.length = int(next(iter(text)))
    expect = parsed.header("expect")
    if expect is not None and version != "HTTP/1.0":
        if expect.lower() != "100-continue":
            raise BadFraming(f"expectation {expect[:40]!r} is not supported", 417)
        parsed.expects_continue = True
    return parsed


def without_expect(head: bytes) -> bytes:
    """``head`` without its ``Expect`` lines: the 100 Continue was sent already, gunicorn must
    not send a second one after the body has arrived."""
    lines = head.split(b"\r\n")
    return b"\r\n".join(line for line in lines if not line.lower().startswith(b"expect:"))


def chunked_end(buf: bytes | bytearray, pos: int) -> tuple[int | None, int]:
    """``(end, resume)``: the offset just past a chunked body that starts at ``pos`` in ``buf``
    (None while more data is needed), and where to resume the scan once more has arrived."""
    while True:
        eol = buf.find(b"\r\n", pos)
        if eol < 0:
            if len(buf) - pos > MAX_CHUNK_SIZE_LINE:
                raise BadFraming("chunk size line too long")
            return None, pos
        if eol - pos > MAX_CHUNK_SIZE_LINE:
            raise BadFraming("chunk size line too long")
        size_text = bytes(buf[pos:eol]).split(b";", 1)[0].strip()
        if not size_text or len(size_text) > 15 or not set(size_text) <= _HEX:
            raise BadFraming("invalid chunk size")
        size = int(size_text, 16)
        if size == 0:                          # the last chunk; trailers end with an empty line
            end = buf.find(b"\r\n\r\n", eol)
            if end < 0:
                if len(buf) - eol > MAX_CHUNK_SIZE_LINE * 8:
                    raise BadFraming("trailers too long")
                return None, pos
            return end + 4, pos
        following = eol + 2 + size + 2
        if len(buf) < following:
            return None, pos
        if buf[following - 2:following] != b"\r\n":
            raise BadFraming("chunk not followed by CRLF")
        pos = following

"""Reading MJPEG (``multipart/x-mixed-replace``) streams the way real cameras send them.

Cheap cameras get the multipart framing wrong in every possible way: no Content-Length, a
boundary that differs from the one declared (or none at all), garbage between parts, frames cut
short when Wi-Fi drops. So frames are not cut out by boundary or length: the parser walks the
JPEG structure itself (SOI, length-prefixed segments, entropy-coded data, EOI). Whatever is not
inside a well-formed JPEG — part headers, boundaries, junk — is skipped, and a frame cut short by
the next frame's SOI is dropped and counted. Walking segments rather than searching for the
first FFD9 also keeps EXIF thumbnails (a whole JPEG inside APP1) from ending a frame early.

The walk also reads each frame's header (SOFn) as it passes: a frame declaring more pixels than
``jpegmeta.MAX_PIXELS``, or longer than ``max_frame_bytes``, is dropped right there, before its
image data is even buffered, and counted as corrupt. A camera that sends nothing else is
disconnected with an error saying so (and retried with backoff, like any failing camera).
"""

from __future__ import annotations

import base64
import http.client
import socket
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from edgeface.cameras.urls import redact
from edgeface.errors import EdgefaceError
from edgeface.jpegmeta import MAX_PIXELS, SOF_MARKERS, sof_size, too_large

SOI = b"\xff\xd8\xff"  # start of image, followed by the first marker's FF
READ_CHUNK = 64 * 1024
#: Oversized frames in a row (no good one between) after which the camera is disconnected.
OVERSIZED_BEFORE_GIVING_UP = 3
#: Bytes outside any JPEG (part headers, boundaries, junk) in a row after which it is disconnected.
JUNK_BEFORE_GIVING_UP = 16 * 2**20
#: Interim (1xx) answers skipped before the real one: http.client would skip them without end.
MAX_INTERIM_RESPONSES = 8


class _BoundedResponse(http.client.HTTPResponse):
    """``http.client``'s response, but an endless run of ``100 Continue`` answers is an error."""

    def _read_status(self):
        self._interim = getattr(self, "_interim", 0) + 1
        if self._interim > MAX_INTERIM_RESPONSES + 1:
            raise http.client.HTTPException(f"more than {MAX_INTERIM_RESPONSES} interim answers")
        return super()._read_status()   # type: ignore[misc]


class StreamError(EdgefaceError):
    """A camera stream cannot be opened or read."""


class StreamStalled(StreamError):
    """No data arrived for longer than the timeout."""


class StreamClosed(StreamError):
    """The camera closed the connection (or it was closed by ``MjpegStream.close``)."""


class StreamRejected(StreamError):
    """The camera answered, but not with a stream (HTTP error status such as 401)."""


@dataclass
class ParserStats:
    frames: int = 0
    corrupt: int = 0  # started JPEGs that were cut short, malformed or too large
    skipped_bytes: int = 0  # bytes outside any JPEG: headers, boundaries, garbage
    oversized: int = 0  # of ``corrupt``: frames over the pixel or byte limit
    oversized_in_a_row: int = 0  # since the last good frame
    refusal: str | None = None  # why the last oversized frame was refused


class JpegStreamParser:
    """Incremental parser: ``feed(bytes)`` returns the complete JPEGs found so far.

    Keeps only the unfinished tail between calls, and resumes walking where it stopped, so a
    frame arriving in many small reads is not rescanned from its start each time.
    """

    def __init__(self, max_frame_bytes: int = 8_000_000, max_pixels: int = MAX_PIXELS):
        self.max_frame_bytes = max_frame_bytes
        self.max_pixels = max_pixels
        self.stats = ParserStats()
        self._buf = bytearray()
        self._pos = -1  # -1: looking for SOI; else parse position inside the frame at buf[0]
        self._in_scan = False  # inside entropy-coded data (after SOS)
        self._refusal: str | None = None  # set by _walk for an oversized frame

    def feed(self, data: bytes) -> list[bytes]:
        self._buf += data
        frames: list[bytes] = []
        while True:
            if self._pos < 0 and not self._find_start():
                return frames
            end = self._walk()
            if end is None:
                if len(self._buf) > self.max_frame_bytes:
                    self._refuse(self._too_long())
                    continue
                return frames
            if end < 0:  # malformed or oversized: drop it, resume searching after its SOI
                why, self._refusal = self._refusal, None
                if why:
                    self._refuse(why)
                else:
                    self._drop_frame(resync_from=-end)
                continue
            if end > self.max_frame_bytes:  # arrived whole in one read, past the checks above
                self._refuse(self._too_long())
                continue
            with memoryview(self._buf) as view:  # one copy of the frame, not two (slice + bytes)
                frames.append(view[:end].tobytes())
            del self._buf[:end]
            self.stats.frames += 1
            self.stats.oversized_in_a_row = 0
            self._pos = -1

    def _find_start(self) -> bool:
        start = self._buf.find(SOI)
        if start < 0:
            keep = 2  # a SOI split across reads
            self.stats.skipped_bytes += max(0, len(self._buf) - keep)
            del self._buf[:-keep]
            return False
        self.stats.skipped_bytes += start
        del self._buf[:start]
        self._pos, self._in_scan = 2, False
        return True

    def _too_long(self) -> str:
        return f"a frame is longer than the limit of {self.max_frame_bytes} bytes"

    def _refuse(self, why: str) -> None:
        """Drop the frame at buf[0] as oversized; its data is then skipped while looking for
        the next SOI, a read at a time, never buffered."""
        self.stats.oversized += 1
        self.stats.oversized_in_a_row += 1
        self.stats.refusal = why
        self._drop_frame(resync_from=2)

    def _drop_frame(self, resync_from: int) -> None:
        self.stats.corrupt += 1
        self.stats.skipped_bytes += resync_from
        del self._buf[:resync_from]
        self._pos = -1

    def _walk(self) -> int | None:
        """End offset of the JPEG at buf[0]; None if more data is needed; -offset if malformed
        (offset: where the search for the next frame resumes)."""
        buf, pos, n = self._buf, self._pos, len(self._buf)
        while True:
            if self._in_scan:
                # Entropy-coded data: FF is escaped as FF00; RSTn markers and FF fill bytes
                # belong to the scan too. Any other marker ends it.
                while True:
                    pos = buf.find(b"\xff", pos)
                    if pos < 0 or pos + 1 >= n:
                        self._pos = n - 1 if pos >= 0 else n
                        return None
                    code = buf[pos + 1]
                    if code == 0x00 or 0xD0 <= code <= 0xD7:
                        pos += 2
                    elif code == 0xFF:
                        pos += 1
                    else:
                        break
                self._in_scan = False
            # At a marker.
            if pos + 2 > n:
                self._pos = pos
                return None
            if buf[pos] != 0xFF:
                return -2
            code = buf[pos + 1]
            if code == 0xFF:  # fill byte before a marker
                pos += 1
                continue
            if code == 0xD9:  # EOI
                return pos + 2
            if code == 0xD8:  # another SOI: this frame was cut short; restart there
                return -pos
            if 0xD0 <= code <= 0xD7 or code == 0x01:  # markers without a length
                pos += 2
                continue
            if code == 0x00:
                return -2
            if pos + 4 > n:
                self._pos = pos
                return None
            length = (buf[pos + 2] << 8) | buf[pos + 3]
            if length < 2:
                return -2
            if code in SOF_MARKERS:
                if pos + 9 > n:  # height and width not here yet
                    self._pos = pos
                    return None
                size = sof_size(bytes(buf[pos + 4:pos + 9]))
                why = too_large(*size, self.max_pixels) if size else None
                if why:
                    self._refusal = why
                    return -2
            pos += 2 + length
            if pos > self.max_frame_bytes:
                self._refusal = self._too_long()
                return -2
            if code == 0xDA:  # SOS: its header is followed by entropy-coded data
                self._in_scan = True
            if pos > n:
                self._pos = pos  # resume after the segment once it has arrived
                return None


class MjpegStream:
    """One HTTP connection to an MJPEG camera; iterate it for JPEG bytes.

    ``close()`` may be called from another thread and ends the iteration promptly (it shuts the
    socket down), which is how ``CameraSource.stop()`` avoids waiting out a read timeout.
    """

    def __init__(self, url: str, *, timeout: float = 5.0, max_frame_bytes: int = 8_000_000):
        self.url = url
        self.timeout = timeout
        self.parser = JpegStreamParser(max_frame_bytes)
        self._conn: http.client.HTTPConnection | None = None
        self._sock: socket.socket | None = None  # kept: http.client drops conn.sock on Connection: close
        self._closed = threading.Event()
        self._lock = threading.Lock()

    @property
    def stats(self) -> ParserStats:
        return self.parser.stats

    def __iter__(self) -> Iterator[bytes]:
        response = self._open()
        frames, skipped = 0, 0      # at the last frame: bytes skipped since, part headers and junk
        try:
            while True:
                try:
                    data = response.read1(READ_CHUNK)
                except TimeoutError:
                    raise StreamStalled(f"{redact(self.url)}: no data for {self.timeout:g} s",
                                        "the camera stalled; it will be retried") from None
                except (OSError, http.client.HTTPException) as err:
                    raise self._closed_error(f"connection lost ({err.__class__.__name__})") from None
                if not data:
                    raise self._closed_error("the camera closed the stream")
                yield from self.parser.feed(data)
                stats = self.parser.stats
                if stats.frames != frames:
                    frames, skipped = stats.frames, stats.skipped_bytes
                elif stats.skipped_bytes - skipped > JUNK_BEFORE_GIVING_UP:
                    raise StreamRejected(f"{redact(self.url)}: {stats.skipped_bytes - skipped} bytes without a JPEG "
                                         "frame (endless part headers or junk)", "check the camera's stream URL")
                if self.parser.stats.oversized_in_a_row >= OVERSIZED_BEFORE_GIVING_UP:
                    raise StreamRejected(f"{redact(self.url)}: {self.parser.stats.refusal}",
                                         "lower the camera's resolution or JPEG quality setting")
        finally:
            self.close()

    def close(self) -> None:
        with self._lock:
            self._closed.set()
            conn, sock = self._conn, self._sock
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)  # wakes a recv blocked in another thread
            except OSError:
                pass
        if conn is not None:
            conn.close()

    def _closed_error(self, why: str) -> StreamClosed:
        if self._closed.is_set():
            return StreamClosed(f"{redact(self.url)}: stream closed by the reader")
        return StreamClosed(f"{redact(self.url)}: {why}", "it will be retried")

    def _open(self) -> http.client.HTTPResponse:
        try:
            parts = urlsplit(self.url)
            port = parts.port
        except ValueError:  # a bad IPv6 literal or port: a clear error, not a traceback per retry
            raise StreamError(f"{redact(self.url)}: malformed URL",
                              "check the host and port of the camera URL") from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise StreamError(f"{redact(self.url)}: not an http(s) URL", "MJPEG streams are served over HTTP")
        conn_cls = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        conn = conn_cls(parts.hostname, port, timeout=self.timeout)
        conn.response_class = _BoundedResponse
        with self._lock:
            if self._closed.is_set():
                raise StreamClosed(f"{redact(self.url)}: stream closed by the reader")
            self._conn = conn
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        headers = {"Accept": "multipart/x-mixed-replace, image/jpeg, */*", "User-Agent": "edgeface"}
        if parts.username is not None:  # http://user:pass@camera/ — common on IP cameras
            cred = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(cred).decode()
        try:
            conn.connect()
            with self._lock:
                self._sock = conn.sock
            if self._closed.is_set():  # closed while connecting
                conn.close()
                raise StreamClosed(f"{redact(self.url)}: stream closed by the reader")
            conn.request("GET", path, headers=headers)
            response = conn.getresponse()
        except TimeoutError:
            self.close()
            raise StreamStalled(f"{redact(self.url)}: no answer within {self.timeout:g} s",
                                "check the camera is on and reachable") from None
        except (OSError, ssl.SSLError) as err:
            self.close()
            raise StreamError(f"{redact(self.url)}: cannot connect ({err.__class__.__name__}: {err})",
                              "check the camera is on and the address and port are right") from None
        except http.client.HTTPException as err:
            self.close()
            # Only the class name: http.client quotes the whole request URL, token included, in
            # some of these messages (InvalidURL for a path with spaces or control characters).
            raise StreamError(f"{redact(self.url)}: cannot request the stream ({err.__class__.__name__})",
                              "check the camera URL and that it serves HTTP") from None
        if response.status != 200:
            self.close()
            hint = ("the token is wrong or missing" if response.status in (401, 403)
                    else "check the stream path")
            raise StreamRejected(f"{redact(self.url)}: HTTP {response.status} {response.reason}", hint)
        return response


def iter_mjpeg(url: str, *, timeout: float = 5.0, max_frame_bytes: int = 8_000_000) -> Iterator[bytes]:
    """Yield complete JPEGs from an MJPEG-over-HTTP URL until it stalls or closes (then raises)."""
    yield from MjpegStream(url, timeout=timeout, max_frame_bytes=max_frame_bytes)

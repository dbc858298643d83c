"""RTSP and RTMP details OpenCV does not give: the transport per camera, and why an open failed.

OpenCV's FFmpeg backend says only "not opened". Before FFmpeg opens an RTSP camera,
:func:`check` asks it once itself (``DESCRIBE``, with basic or digest authentication as the
camera demands) and turns an answer other than 200 into an error an operator can act on, e.g.
``401 Unauthorized: check the camera's user name and password``; a redirect is refused there
(FFmpeg would follow it without end). What the server sends is bounded (line length, header
count, SDP size); an answer that is not RTSP is a clear error, never a traceback.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import secrets
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

from edgeface.cameras.mjpeg import StreamClosed, StreamError, StreamRejected, StreamStalled

#: The query parameter that chooses RTP's transport for one camera; removed before FFmpeg sees the URL.
TRANSPORT_PARAM = "transport"
TRANSPORTS = ("tcp", "udp")
FFMPEG_OPTIONS_VAR = "OPENCV_FFMPEG_CAPTURE_OPTIONS"
# OpenCV runs every FFmpeg open behind one process-wide mutex unless told FFmpeg is thread-safe
# (it is since FFmpeg 4; the wheel bundles FFmpeg 8): without this, one unplugged camera's open
# timeout delays every other camera's connection. Set before any capture opens (read on open).
os.environ.setdefault("OPENCV_FFMPEG_IS_THREAD_SAFE", "1")
_AUTH_PARAM_RE = re.compile(r'(\w+)=(?:"([^"]*)"|([^,\s]+))')


def is_stream_url(url: str) -> bool:
    return url.lower().startswith(("rtsp://", "rtsps://", "rtmp://", "rtmps://"))


def split_transport(url: str) -> tuple[str, str | None]:
    """``(url without ?transport=..., "tcp" | "udp" | None)`` for an RTSP URL; others unchanged."""
    parts = urlsplit(url)
    if not parts.scheme.lower().startswith("rtsp") or not parts.query:
        return url, None
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    chosen = [v.lower() for k, v in pairs if k.lower() == TRANSPORT_PARAM]
    if not chosen:
        return url, None
    if chosen[-1] not in TRANSPORTS:
        raise StreamError(f"transport={chosen[-1]!r} is not an RTSP transport", "use transport=tcp or transport=udp")
    rest = urlencode([(k, v) for k, v in pairs if k.lower() != TRANSPORT_PARAM])
    return urlunsplit(parts._replace(query=rest)), chosen[-1]


def checked(url: str, timeout: float) -> tuple[str, str | None]:
    """``split_transport(url)`` once a plain RTSP server answered ``DESCRIBE`` with 200 (see
    ``check``: FFmpeg must see only such servers); raises why not."""
    url, transport = split_transport(url)
    if url.lower().startswith("rtsp://") and (refused := check(url, timeout)) is not None:
        raise refused
    return url, transport


def ffmpeg_options(transport: str | None) -> str | None:
    """The ``OPENCV_FFMPEG_CAPTURE_OPTIONS`` value for one open (None: OpenCV's default, which
    prefers TCP). Options the operator set in the environment are kept."""
    base = os.environ.get(FFMPEG_OPTIONS_VAR)
    if transport is None:
        return base
    kept = [o for o in (base or "").split("|") if o and not o.startswith("rtsp_transport;")]
    return "|".join([f"rtsp_transport;{transport}", *kept])


class _OptionsGate:
    """OpenCV reads its FFmpeg options from one process-wide variable while a capture opens. Opens
    that leave it as it is run together; one that sets it (a chosen transport) runs alone, so a
    camera that takes its whole open timeout (unplugged) delays only opens that change options."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._sharing = 0        # opens running with the variable as it is
        self._exclusive = False  # an open with its own options is running
        self._waiting = 0        # opens with their own options waiting (they go first)

    @contextmanager
    def opening(self, transport: str | None) -> Iterator[None]:
        if transport is None:
            with self._cond:
                self._cond.wait_for(lambda: not self._exclusive and not self._waiting)
                self._sharing += 1
            try:
                yield
            finally:
                with self._cond:
                    self._sharing -= 1
                    self._cond.notify_all()
            return
        with self._cond:
            self._waiting += 1
            self._cond.wait_for(lambda: not self._exclusive and not self._sharing)
            self._waiting -= 1
            self._exclusive = True
        before = os.environ.get(FFMPEG_OPTIONS_VAR)
        try:
            os.environ[FFMPEG_OPTIONS_VAR] = ffmpeg_options(transport) or ""
            yield
        finally:
            if before is None:
                os.environ.pop(FFMPEG_OPTIONS_VAR, None)
            else:
                os.environ[FFMPEG_OPTIONS_VAR] = before
            with self._cond:
                self._exclusive = False
                self._cond.notify_all()


#: ``with ffmpeg_open(transport): cv2.VideoCapture(...)``: the transport applies to that open only.
ffmpeg_open = _OptionsGate().opening


DEFAULT_PORTS = {"rtsp": 554, "rtsps": 322, "rtmp": 1935, "rtmps": 443}
#: Bounds on what an RTSP server may send us: a camera added by an admin (or anything it redirects
#: to) can be hostile. Real answers are a dozen short headers and an SDP of a few kB.
MAX_LINE = 4096
MAX_HEADERS = 64
MAX_SDP = 64 * 1024
_STATUS_RE = re.compile(rb"RTSP/\d\.\d (\d{3})(?:[ \t][^\r\n]*)?\r?\n\Z")
_KEPT_HEADERS = ("www-authenticate",)


class NotRtsp(StreamRejected):
    """The server's answer breaks RTSP, or one of the bounds above."""


def check(url: str, timeout: float) -> StreamError | None:
    """None when the RTSP server answers ``DESCRIBE`` with 200, else why not (as ``diagnose``).

    Asked before FFmpeg opens the URL: FFmpeg follows redirects without end (a server answering
    302 to itself got 24 188 connections in 25 s), so a redirecting server is refused here, with
    what to do, and FFmpeg never sees it. Never raises.
    """
    return _ask(url, timeout, None)


def diagnose(url: str, timeout: float) -> StreamError:
    """Why ``url`` cannot be played, asked of the server itself; never raises. Plain RTSP gets a
    ``DESCRIBE``; RTMP and the TLS schemes only a connection (their handshakes are FFmpeg's job)."""
    where = _where(urlsplit(url))
    playable = StreamError(f"{where}: the camera answers but the stream cannot be played",
                           "check its codec (H.264 or H.265) and the transport (transport=tcp or udp)")
    return _ask(url, timeout, playable) or playable


def _where(parts) -> str:
    try:
        port = parts.port or DEFAULT_PORTS.get(parts.scheme.lower(), 554)
    except ValueError:
        port = "?"
    return f"{parts.hostname or ''}:{port}"


def _ask(url: str, timeout: float, if_ok: StreamError | None) -> StreamError | None:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    where = _where(parts)
    try:
        host, port = parts.hostname or "", parts.port or DEFAULT_PORTS.get(scheme, 554)
        if scheme != "rtsp":
            socket.create_connection((host, port), timeout=timeout).close()
            return if_ok and StreamError(f"{where}: the server answers but FFmpeg cannot play {parts.path or '/'}",
                                         "check the stream path (is something publishing to it?) and credentials")
        status = _describe(parts, timeout)
    except StreamError as err:
        return err
    except ConnectionRefusedError:
        return StreamClosed(f"{where}: connection refused", "check the address and port, and that the server is on")
    except TimeoutError:
        return StreamStalled(f"{where}: no answer within {timeout:g} s", "check the address and the network")
    except OSError as err:
        return StreamClosed(f"{where}: {err.strerror or err.__class__.__name__}", "check the address and the network")
    except ValueError:      # a port out of range: the URL check lets none through, but never a traceback
        return StreamError(f"{where}: malformed URL", "check the host and port of the camera URL")
    if status == 200:
        return if_ok
    if status == 401:
        return StreamRejected("401 Unauthorized: check the camera's user name and password",
                              "give them in the URL as rtsp://USER:PASSWORD@HOST/PATH")
    if status == 404:
        return StreamRejected(f"404 Not Found: {where} has no stream at {parts.path or '/'}",
                              "check the stream path in the camera's manual")
    if 300 <= status < 400:
        return StreamRejected(f"{where}: the camera redirects (RTSP status {status}); redirects are not followed",
                              "add the camera with the URL it redirects to (see its Location header)")
    return StreamError(f"{where}: RTSP status {status}", "check the camera's address and settings")


def _describe(parts, timeout: float) -> int:
    """The status of DESCRIBE, authenticating once if the server asks."""
    target = urlunsplit((parts.scheme, parts.netloc.rsplit("@", 1)[-1], parts.path or "/", parts.query, ""))
    user, password = unquote(parts.username or ""), unquote(parts.password or "")
    with socket.create_connection((parts.hostname, parts.port or 554), timeout=timeout) as sock:
        reader = sock.makefile("rb")
        status, headers = _request(sock, reader, target, 1, None, _where(parts))
        if status != 401 or not user:
            return status
        challenges = [v for k, v in headers if k == "www-authenticate"]
        authorization = _authorization(challenges, user, password, target)
        if authorization is None:
            return status
        status, _ = _request(sock, reader, target, 2, authorization, _where(parts))
        return status


def _request(sock: socket.socket, reader, target: str, cseq: int, authorization: str | None, where: str
             ) -> tuple[int, list[tuple[str, str]]]:
    lines = [f"DESCRIBE {target} RTSP/1.0", f"CSeq: {cseq}", "Accept: application/sdp",
             "User-Agent: edgeface"]
    if authorization:
        lines.append(f"Authorization: {authorization}")
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    return _read_answer(reader, where)


def _read_answer(reader, where: str) -> tuple[int, list[tuple[str, str]]]:
    """Status and the headers we use of one RTSP answer, its body (an SDP) read past, all bounded."""
    match = _STATUS_RE.match(reader.readline(MAX_LINE))
    if not match:
        raise NotRtsp(f"{where}: not an RTSP server (its answer does not start with an RTSP status line)",
                      "check the address and port: is this the camera's RTSP port?")
    headers: list[tuple[str, str]] = []
    length = 0
    for _ in range(MAX_HEADERS + 1):
        line = reader.readline(MAX_LINE)
        if not line.endswith(b"\n"):
            raise NotRtsp(f"{where}: the server's answer ended early or has a header line over {MAX_LINE} bytes",
                          "check the address and port: is this a camera?")
        text = line.decode("latin-1").strip()
        if not text:
            break
        name, _, value = text.partition(":")
        name, value = name.strip().lower(), value.strip()
        if name == "content-length":
            if not value.isdigit() or int(value) > MAX_SDP:
                raise NotRtsp(f"{where}: the server announces a body of {value[:20]!r} bytes (at most {MAX_SDP})",
                              "check the address and port: is this a camera?")
            length = int(value)
        elif name in _KEPT_HEADERS and len(headers) < 16:
            headers.append((name, value[:MAX_LINE]))
    else:
        raise NotRtsp(f"{where}: the server sends more than {MAX_HEADERS} header lines",
                      "check the address and port: is this a camera?")
    reader.read(length)  # the body (an SDP), so a second request reads its own answer
    return int(match.group(1)), headers


def _authorization(challenges: list[str], user: str, password: str, uri: str) -> str | None:
    for challenge in challenges:
        scheme, _, rest = challenge.partition(" ")
        params = {m[0].lower(): m[1] or m[2] for m in _AUTH_PARAM_RE.findall(rest)}
        if scheme.lower() == "digest":
            realm, nonce = params.get("realm", ""), params.get("nonce", "")
            ha1 = _md5(f"{user}:{realm}:{password}")
            ha2 = _md5(f"DESCRIBE:{uri}")
            fields = f'username="{user}", realm="{realm}", nonce="{nonce}", uri="{uri}"'
            if "auth" in params.get("qop", "").split(","):
                cnonce = secrets.token_hex(8)
                response = _md5(f"{ha1}:{nonce}:00000001:{cnonce}:auth:{ha2}")
                return f'Digest {fields}, qop=auth, nc=00000001, cnonce="{cnonce}", response="{response}"'
            # Most cameras (and gst-rtsp-server) use RFC 2069 digest, without qop.
            response = _md5(f"{ha1}:{nonce}:{ha2}")
            return f'Digest {fields}, response="{response}"'
    for challenge in challenges:
        if challenge.lower().startswith("basic"):
            return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
    return None


def _md5(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()

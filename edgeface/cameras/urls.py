"""Camera URLs: building them, naming cameras after them, and hiding their secrets in logs."""

from __future__ import annotations

import hashlib
import ipaddress
import re
from collections.abc import Iterable
from urllib.parse import SplitResult, parse_qsl, quote, urlencode, urlsplit, urlunsplit

from edgeface.cameras.netpolicy import Address, TargetRefused
from edgeface.errors import ConfigError

#: Parts of query parameter names whose values are secrets (ESP32-CAM firmware uses ``token``;
#: signed URLs use ``sig``/``signature``, cloud cameras ``apikey``/``api_key``/``access_token``).
#: Matched inside the lower-cased name without ``-``/``_``, so ``X-Api-Key`` and ``authToken``
#: count too: showing a harmless parameter as ``***`` costs nothing, leaking a key does.
SECRET_NAME_PARTS = ("token", "key", "secret", "pass", "pwd", "auth", "sig", "credential", "session",
                     "cookie", "jwt", "bearer")
#: Longer camera URLs are refused: real ones are < 300 characters, and each URL is kept,
#: listed by ``/api/v1/cameras`` and logged.
MAX_URL_LENGTH = 2048

_ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
#: [USER[:PASSWORD]@]HOST[:PORT], RFC 3986 characters only: a name or IPv4, or a bracketed IPv6
#: literal (no zone id), so what ``urlsplit`` takes as the host is what the URL plainly says.
_NETLOC_RE = re.compile(r"^([A-Za-z0-9._~!$&'()*+,;=%:-]*@)?"
                        r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._~!$&'()*+,;=%-]*)(:[0-9]*)?$")


def is_secret_name(name: str) -> bool:
    """Whether a query parameter called ``name`` probably carries a secret."""
    folded = name.lower().replace("-", "").replace("_", "")
    return any(part in folded for part in SECRET_NAME_PARTS)


def redact(url: str) -> str:
    """The URL with its secrets replaced by ``***``, safe to log or show: the password in the
    user info, values of secret-looking query parameters, and the fragment."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparsable url>"
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}:***@{host}" if ":" in userinfo else f"{user}@{host}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode([(k, "***" if is_secret_name(k) else v) for k, v in pairs], safe="*")
    fragment = "***" if parts.fragment else ""  # fragments carry tokens in some camera apps
    return urlunsplit((parts.scheme, netloc, parts.path, query, fragment))


def parse_camera_url(url: str, schemes: Iterable[str]) -> SplitResult:
    """The one check for camera URLs given by people (API, configuration): ``ConfigError``
    saying what is wrong, or the parsed URL.

    Refuses over-long URLs, anything but printable ASCII without spaces, unknown schemes, bad
    IPv6 literals, ports outside 1-65535 and network URLs without a host. Messages never quote
    the URL itself: it may hold a secret, or be megabytes long.
    """
    if len(url) > MAX_URL_LENGTH:
        raise ConfigError(f"camera URL is {len(url)} characters long, more than the limit of {MAX_URL_LENGTH}",
                          "give the camera's stream URL itself")
    if not url.isascii() or not url.isprintable() or " " in url:
        raise ConfigError("camera URL contains spaces, control characters or non-ASCII characters",
                          "percent-encode them (e.g. %20 for a space)")
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    allowed = tuple(schemes)
    if scheme not in allowed:
        raise ConfigError(f"camera URL scheme {scheme[:20]!r} is not supported", f"use one of {', '.join(allowed)}")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as err:  # "Invalid IPv6 URL", "Port out of range 0-65535", ...
        # Never urllib's own words: they quote parts of the URL ("'admin:hunter2@cam' does not
        # appear to be an IPv4 or IPv6 address"), password included.
        what = "its port is not a number from 1 to 65535" if "port" in str(err).lower() else \
            "its host is not a host name or IP address"
        raise ConfigError(f"camera URL is malformed: {what}",
                          "write it as SCHEME://HOST[:PORT]/PATH, IPv6 hosts in brackets, ports 1-65535") from None
    if not _NETLOC_RE.match(parts.netloc):
        raise ConfigError("camera URL is malformed: its host part is not a host name or IP address",
                          "write it as SCHEME://HOST[:PORT]/PATH, IPv6 hosts in brackets")
    if port == 0:
        raise ConfigError("camera URL has port 0", "use a TCP/UDP port between 1 and 65535")
    if scheme != "file" and not parts.hostname:
        raise ConfigError("camera URL has no host", "write it as SCHEME://HOST[:PORT]/PATH")
    return parts


def stream_url(ip: Address, port: int = 80, path: str = "/stream", token: str | None = None) -> str:
    """``http://IP[:PORT]/PATH?token=TOKEN`` as ESP32-CAM firmware serves it (IPv6 bracketed).

    Takes a parsed IP (``netpolicy.allowed_address``), never text, so the host of the URL is the
    address that passed the network check; the result is checked to parse back to it.
    """
    if not isinstance(ip, ipaddress.IPv4Address | ipaddress.IPv6Address):
        raise TypeError(f"stream_url needs an ipaddress IP, not {type(ip).__name__}")
    if not isinstance(port, int) or not 0 < port < 65536:
        raise ConfigError(f"camera port {port!r} is not valid", "use a TCP port between 1 and 65535")
    host = f"[{ip}]" if ip.version == 6 else str(ip)
    netloc = host if port == 80 else f"{host}:{port}"
    # Anything outside the URL path alphabet (spaces, '#', non-ASCII) is percent-encoded.
    path = quote(path if path.startswith("/") else "/" + path, safe="/?&=:@!$'()*+,;-._~%")
    url = f"http://{netloc}{path}"
    if token:
        url += ("&" if "?" in path else "?") + "token=" + quote(token, safe="")
    parsed = urlsplit(url)
    if parsed.hostname != str(ip).lower() or (parsed.port or 80) != port:  # belt and braces
        raise TargetRefused(f"camera URL for {ip} does not point at it", "advertise a plain path such as /stream")
    return url


def slugify(text: str, max_len: int = 48) -> str:
    """Lower-case ``a-z0-9-`` form of ``text`` (camera ids, mDNS host labels)."""
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug[:max_len].rstrip("-") or "camera"


def camera_id_for(url: str) -> str:
    """A readable id that is the same for the same URL: host, port and path, plus a short hash.

    The hash covers the URL without its secrets, so a camera that re-registers with a new token
    keeps its id; it keeps two paths on one host (``/cam1``, ``/cam2``) apart after truncation.
    """
    safe = redact(url)
    parts = urlsplit(safe)
    readable = parts.netloc.rsplit("@", 1)[-1] + parts.path if parts.netloc else parts.path.rsplit("/", 1)[-1]
    digest = hashlib.sha256(safe.encode()).hexdigest()[:6]
    return f"{slugify(readable, 40)}-{digest}"


def is_valid_camera_id(camera_id: str) -> bool:
    """Ids appear in URLs (``/video_feed/<id>``) and metric labels: keep them to ``a-z0-9-``."""
    return bool(_ID_RE.match(camera_id))

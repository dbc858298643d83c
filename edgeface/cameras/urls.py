"""Camera URLs: building them, naming cameras after them, and hiding their secrets in logs."""

from __future__ import annotations

import hashlib
import re
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

#: Query parameters whose values are secrets (ESP32-CAM firmware uses ``token``).
SECRET_PARAMS = frozenset({"token", "key", "password", "pass", "pwd", "auth", "secret", "access_token"})

_ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


def redact(url: str) -> str:
    """The URL with passwords and token values replaced by ``***``, safe to log or show."""
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
        query = urlencode([(k, "***" if k.lower() in SECRET_PARAMS else v) for k, v in pairs], safe="*")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def stream_url(ip: str, port: int = 80, path: str = "/stream", token: str | None = None) -> str:
    """``http://IP[:PORT]/PATH?token=TOKEN`` as ESP32-CAM firmware serves it (IPv6 bracketed)."""
    host = f"[{ip}]" if ":" in ip else ip
    netloc = host if port == 80 else f"{host}:{port}"
    if not path.startswith("/"):
        path = "/" + path
    url = f"http://{netloc}{path}"
    if token:
        url += ("&" if "?" in path else "?") + "token=" + quote(token, safe="")
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

"""All cameras the app reads, however they arrived: added by API, registered, or found over mDNS.

A camera that both calls ``/register`` and advertises ``_edgecam._tcp`` (the simulator does,
some firmware does) is one device: device cameras are keyed by their IP and port, so the second
arrival updates the first instead of adding a duplicate.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from enum import Enum

from edgeface.cameras.identify import IdentifyStream
from edgeface.cameras.netpolicy import DEFAULT_ALLOWED_NETWORKS, Address, Network, allowed_address
from edgeface.cameras.origin import CameraOrigin
from edgeface.cameras.source import CameraSource
from edgeface.cameras.urls import camera_id_for, is_valid_camera_id, parse_camera_url, redact, slugify, stream_url
from edgeface.errors import ConfigError
from edgeface.settings import DEFAULT_MAX_CAMERAS

log = logging.getLogger(__name__)

Callback = Callable[[CameraSource], None]


class Unchanged(Enum):
    """``register_device(identify_path=KEEP)``: leave the identify stream as it is. ``/register``
    says nothing of a main stream, an mDNS announcement does (its TXT ``identify_path`` or none):
    a camera that does both must not lose its main stream at each ``/register``."""
    KEEP = "keep"


KEEP = Unchanged.KEEP

#: URL schemes OpenCV/FFmpeg (or our MJPEG reader) can open; plain paths are files.
URL_SCHEMES = ("http", "https", "rtsp", "rtsps", "rtmp", "rtmps", "file", "udp", "tcp", "srt", "rtp")


class CameraRegistry:
    """Thread-safe set of running ``CameraSource`` objects with add/remove notifications.

    ``forget_offline_after_s``: self-registered and mDNS cameras that stay offline that long are
    removed (a camera that got a new DHCP address would otherwise linger); cameras added by API
    or configuration stay.
    """

    def __init__(self, allowed_networks: Iterable[Network] = DEFAULT_ALLOWED_NETWORKS, *,
                 stall_timeout: float = 3.0, max_cameras: int = DEFAULT_MAX_CAMERAS,
                 forget_offline_after_s: float = 600.0):
        self.allowed_networks = list(allowed_networks)
        self.stall_timeout = stall_timeout
        self.max_cameras = max_cameras
        self.forget_offline_after_s = forget_offline_after_s
        self._lock = threading.RLock()
        self._cameras: dict[str, CameraSource] = {}
        self._by_device: dict[tuple[str, int], str] = {}
        self._names: dict[str, str] = {}       # camera id -> the name it announced (mDNS instance name)
        self._announced: dict[str, tuple[str, str]] = {}   # camera id -> its announced identify path, and URL
        self._subscribers: list[tuple[Callback | None, Callback | None]] = []
        self._closed = False
        # Whether the operator disabled a camera (persisted setting): such a camera starts paused.
        self.disabled: Callable[[str], bool] | None = None

    # -- adding ------------------------------------------------------------------------------

    def add(self, url: str, *, camera_id: str | None = None, origin: CameraOrigin = CameraOrigin.API,
            identify_url: str | None = None) -> str:
        """Start reading ``url`` (any URL OpenCV opens, or an MJPEG http URL); return its id.
        ``identify_url``: the camera's main stream, faces are cropped from (see ``set_identify``).

        Adding the same URL again returns the existing id. API URLs are not checked against the
        allowed networks: adding them needs the API token, and RTSP servers may live anywhere.
        """
        url = validate_url(url)
        identify_url = validate_identify_url(identify_url)
        if camera_id is not None and not is_valid_camera_id(camera_id):
            raise ConfigError(f"camera id {camera_id!r} is not valid",
                              "use 1-63 characters a-z, 0-9 and '-', starting with a letter or digit")
        with self._lock:
            for cam in self._cameras.values():
                if cam.url == url and camera_id in (None, cam.id):
                    return cam.id
            if camera_id is not None and camera_id in self._cameras:
                raise ConfigError(f"camera id {camera_id!r} is already used by {redact(self._cameras[camera_id].url)}",
                                  "remove that camera first or choose another id")
            cam = self._start(camera_id or self._unique_id(camera_id_for(url)), url, origin)
            if identify_url:
                cam.set_identify(IdentifyStream(cam.id, identify_url, stall_timeout=self.stall_timeout))
        self._announce(cam)
        return cam.id

    def set_identify(self, camera_id: str, identify_url: str | None) -> bool:
        """Read ``identify_url`` as the camera's identify (main) stream from now on; None or "":
        none (faces are cropped from the detect stream). False when there is no such camera."""
        identify_url = validate_identify_url(identify_url)
        with self._lock:
            cam = self._cameras.get(camera_id)
            if cam is None:
                return False
            current = cam.identify.url if cam.identify is not None else None
            if identify_url != current:
                cam.set_identify(IdentifyStream(camera_id, identify_url, stall_timeout=self.stall_timeout)
                                 if identify_url else None)
        return True

    def register_device(self, ip: str | Address, token: str | None, port: int = 80, *, path: str = "/stream",
                        origin: CameraOrigin = CameraOrigin.REGISTER, name: str | None = None,
                        identify_path: str | Unchanged | None = KEEP) -> str:
        """ESP32-CAM protocol: read ``http://IP[:PORT]/stream?token=TOKEN``; return the camera id.

        The IP is checked against the allowed networks before anything connects to it. The same
        IP and port registering again (new token, or after a reboot) updates the camera.
        ``identify_path``: the camera's main stream on the same address, port and token (None:
        none; ``KEEP``: as it is, with the new token if the camera announced it), applied as
        ``set_identify`` applies an API's identify URL.
        """
        addr = allowed_address(ip, self.allowed_networks)  # the URL below is built from this object
        if token is not None and not _printable(token):
            raise ConfigError("camera token contains control characters", "use a plain text token")
        if name is not None and not _printable(name):  # an mDNS instance name is anyone's text too
            raise ConfigError("camera name contains control characters", "announce a printable name")
        url = stream_url(addr, port, _checked_path(path), token)
        identify_url = identify_path if isinstance(identify_path, Unchanged) or identify_path is None else \
            stream_url(addr, port, _checked_path(identify_path, "identify"), token)
        ip = str(addr)
        self._forget_stale()
        with self._lock:
            existing = self._cameras.get(self._by_device.get((ip, port), ""))
            if existing is not None:
                existing.set_url(url)  # also cuts a reconnect backoff short: the camera is back
                if name:               # mDNS after /register: the id stays, the name is learnt
                    self._names[existing.id] = name
                if isinstance(identify_url, Unchanged):
                    identify_path, identify_url = self._announced_with(existing, addr, port, token)
                self._set_announced(existing.id, identify_path, identify_url)
                return existing.id
            base = slugify(name) if name else slugify(f"cam-{ip}" + ("" if port == 80 else f"-{port}"))
            cam = self._start(self._unique_id(base), url, origin)
            self._by_device[(ip, port)] = cam.id
            if name:
                self._names[cam.id] = name
            if isinstance(identify_url, str):
                self._set_announced(cam.id, identify_path, identify_url)
        self._announce(cam)
        return cam.id

    def _announced_with(self, cam: CameraSource, addr: Address, port: int,
                        token: str | None) -> tuple[str | Unchanged, str | Unchanged]:
        """The main stream a camera announced, rebuilt with the token it registers with now (a
        camera that re-registers with a new token); ``KEEP`` when it announced none, or when the
        operator has set another since."""
        announced = self._announced.get(cam.id)
        if announced is None or cam.identify is None or cam.identify.url != announced[1]:
            return KEEP, KEEP
        return announced[0], stream_url(addr, port, announced[0], token)

    def _set_announced(self, camera_id: str, path: str | Unchanged | None, url: str | Unchanged | None) -> None:
        if isinstance(path, Unchanged) or isinstance(url, Unchanged):
            return
        self.set_identify(camera_id, url)
        if path is None or url is None:
            self._announced.pop(camera_id, None)
        else:
            self._announced[camera_id] = (path, url)

    # -- removing and looking up -------------------------------------------------------------

    def remove(self, camera_id: str) -> bool:
        with self._lock:
            cam = self._cameras.pop(camera_id, None)
            if cam is None:
                return False
            self._by_device = {k: v for k, v in self._by_device.items() if v != camera_id}
            self._names.pop(camera_id, None)
            self._announced.pop(camera_id, None)
            subscribers = list(self._subscribers)
        cam.close()
        log.info("camera %s removed", camera_id)
        for _, on_removed in subscribers:
            if on_removed is not None:
                _notify(on_removed, cam)
        return True

    def announced_name(self, camera_id: str) -> str | None:
        """The name the camera announced itself with (``edgeface camera --name``), if any."""
        return self._names.get(camera_id)

    def get(self, camera_id: str) -> CameraSource | None:
        return self._cameras.get(camera_id)

    def list(self) -> list[CameraSource]:
        self._forget_stale()
        with self._lock:
            return list(self._cameras.values())

    def subscribe(self, on_added: Callback | None = None, on_removed: Callback | None = None) -> None:
        """Call ``on_added(source)`` / ``on_removed(source)`` (from the thread that made the change).

        Cameras present now are reported to ``on_added`` at once, so no camera is missed.
        """
        with self._lock:
            self._subscribers.append((on_added, on_removed))
            present = list(self._cameras.values())
        if on_added is not None:
            for cam in present:
                _notify(on_added, cam)

    def close(self) -> None:
        """Stop every camera (joins their threads)."""
        with self._lock:
            self._closed = True
            ids = list(self._cameras)
        for camera_id in ids:
            self.remove(camera_id)

    # -- internals ---------------------------------------------------------------------------

    def _start(self, camera_id: str, url: str, origin: CameraOrigin) -> CameraSource:
        """Create and start a camera (call with the lock held, then ``_announce`` without it)."""
        if self._closed:
            raise ConfigError("the camera registry is closed", "the app is shutting down")
        if len(self._cameras) >= self.max_cameras:
            raise ConfigError(f"already {len(self._cameras)} cameras, the limit",
                              "remove a camera first, or raise the camera limit")
        cam = CameraSource(camera_id, url, stall_timeout=self.stall_timeout, origin=origin)
        self._cameras[camera_id] = cam
        if self.disabled is not None and self.disabled(camera_id):
            cam.pause()                # the operator disabled it before: never connect
        cam.start()
        log.info("camera %s added (%s): %s", camera_id, origin, redact(url))
        return cam

    def _announce(self, cam: CameraSource) -> None:
        with self._lock:
            subscribers = list(self._subscribers)
        for on_added, _ in subscribers:
            if on_added is not None:
                _notify(on_added, cam)

    def _unique_id(self, base: str) -> str:
        camera_id, n = base, 2
        while camera_id in self._cameras:
            camera_id, n = f"{base}-{n}", n + 1
        return camera_id

    def _forget_stale(self) -> None:
        """Drop long-offline device cameras; called on ``list()`` and registrations, not by a timer."""
        now = time.monotonic()
        with self._lock:
            cameras = list(self._cameras.values())
        for cam in cameras:
            frame = cam.latest()
            age = now - (frame.time if frame else cam.started_at)
            if CameraOrigin(cam.origin).announced and age > self.forget_offline_after_s and not cam.status()["online"] \
                    and not cam.paused:
                log.info("camera %s offline for %.0f s: forgotten", cam.id, age)
                self.remove(cam.id)


def validate_url(url: str) -> str:
    """A camera URL or file path, stripped; ``ConfigError`` saying what is wrong otherwise."""
    url = (url or "").strip() if isinstance(url, str) else ""
    if not url:
        raise ConfigError("camera URL is empty", "give an rtsp://, http:// or rtmp:// URL, or a video file path")
    if "://" in url:
        parse_camera_url(url, URL_SCHEMES)
    elif not _printable(url) or " " in url:
        raise ConfigError("camera file path contains spaces or control characters", "rename the file")
    return url


def validate_identify_url(url: str | None) -> str | None:
    """An identify stream's URL as ``validate_url`` checks it (None or blank: none)."""
    if url is None or (isinstance(url, str) and not url.strip()):
        return None
    try:
        return validate_url(url)
    except ConfigError as err:
        raise ConfigError(f"identify stream: {err.message}", err.hint) from None


def _checked_path(path: str, stream: str = "stream") -> str:
    """An announced stream path (an mDNS TXT value is anyone's text), or ``ConfigError``."""
    if not _printable(path) or " " in path or "#" in path:
        key = "identify_path" if stream == "identify" else "path"
        raise ConfigError(f"camera {stream} path {path[:60]!r} is not a URL path",
                          f"advertise a plain {key} such as /stream")
    return path


def _printable(text: str) -> bool:
    return all(ch.isprintable() for ch in text)


def _notify(callback: Callback, cam: CameraSource) -> None:
    try:
        callback(cam)
    except Exception:  # one broken subscriber must not break registration for the others
        log.exception("camera subscriber %r failed for %s", callback, cam.id)

"""What a camera does to join the app: find it over mDNS, call ``/register``, and call again
whenever the app stops pulling the stream (it restarted and forgot the camera)."""

from __future__ import annotations

import logging
import urllib.error
import urllib.request
from collections.abc import Callable
from urllib.parse import urlencode

from edgeface.cameras.mdns import ServiceWatcher, open_zeroconf, resolve_host
from edgeface.errors import EdgefaceError
from edgeface.lifecycle import LogOnChange, Service

log = logging.getLogger(__name__)

#: The app is on the camera's own network: never send the registration (and its token) through
#: an HTTP proxy from the environment.
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class Registrar(Service):
    """Finds the app over mDNS and calls its ``/register`` until the app pulls the stream."""

    def __init__(self, register_host: str, register_port: int | None, mdns_interface: str | None, *,
                 token: str, camera_ip: str, camera_port: int, pulled_within: Callable[[float, str], bool],
                 interval: float = 5.0, name: str | None = None):
        super().__init__("camera-registrar")
        self.register_host = register_host
        self.register_port = register_port
        self.interval = interval
        self.token = token
        self.camera_ip = camera_ip
        self.camera_port = camera_port
        self.camera_name = name         # sent as &name=, shown by the app as the camera's name
        self.pulled_within = pulled_within
        self.registrations = 0
        self.app_ip: str | None = None  # where the last registration went
        self._zc = open_zeroconf(mdns_interface)
        self._apps = ServiceWatcher(self._zc)
        self._errors = LogOnChange(repeat_s=None)   # retried every few seconds: say it once

    def _closed(self) -> None:
        self._apps.close()
        self._zc.close()

    def register_once(self) -> str:
        """One registration attempt; returns the app address; raises ``EdgefaceError``."""
        host = self.register_host
        ip = resolve_host(host, timeout=2.0, zc=self._zc)
        if ip is None:
            raise EdgefaceError(f"{host} does not resolve over mDNS", "is the edgeface app running?")
        port = self.register_port or self._apps.port_of(host) or 80
        params: dict[str, object] = {"ip": self.camera_ip, "token": self.token, "port": self.camera_port}
        if self.camera_name:
            params["name"] = self.camera_name
        query = urlencode(params)
        app = f"{ip}:{port}"
        try:
            with _DIRECT.open(f"http://{app}/register?{query}", timeout=5) as response:
                response.read(4096)
        except urllib.error.HTTPError as err:
            body = err.read(300).decode(errors="replace").strip()
            raise EdgefaceError(f"the app at {app} refused the registration: HTTP {err.code} {body}",
                                "check the app's camera token (--token) and allowed camera networks") from None
        except OSError as err:
            raise EdgefaceError(f"cannot reach the app at {app} ({err})", "is the app listening there?") from None
        self.registrations += 1
        self.app_ip = ip
        return app

    def run(self) -> None:
        interval = self.interval
        delay = 0.0
        while not self.wait(delay):
            # The app pulling the stream means it knows us; a browser watching directly does not.
            if self.app_ip is not None and self.pulled_within(interval, self.app_ip):
                delay = interval
                continue
            try:
                app = self.register_once()
            except EdgefaceError as err:
                if self._errors.fresh(str(err)):
                    log.warning("registration: %s", err)
                delay = interval
                continue
            if self._errors.clear() or self.registrations == 1:
                log.info("registered with the app at %s", app)
            delay = interval

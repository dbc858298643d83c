"""Real mDNS on 127.0.0.1: the app's announcement, camera registration, discovery and goodbye.

Names are unique per test: other test runs on this machine may share loopback multicast, so
assertions look only at this test's own hosts, services and ports.
"""

from __future__ import annotations

import signal
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
from camera_helpers import DEADLINE_S, SimulatorProcess, unique, wait_until

from edgeface.cameras.mdns import (
    CameraAnnouncer,
    CameraBrowser,
    RegistrationAnnouncer,
    ServiceWatcher,
    open_zeroconf,
    resolve_host,
)
from edgeface.cameras.registry import CameraRegistry
from edgeface.cameras.urls import slugify
from edgeface.errors import EdgefaceError
from edgeface.ports import free_port

pytestmark = pytest.mark.slow

TOKEN = "mdns-token-77aa"


class RegisterEndpoint:
    """The smallest stand-in for the app's ``GET /register``: records calls, optionally forwards
    them to a real ``CameraRegistry`` as the app does."""

    def __init__(self, registry: CameraRegistry | None = None):
        self.calls: list[dict[str, str]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                url = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                if url.path != "/register":
                    self.send_error(404)
                    return
                outer.calls.append(query)
                try:
                    if registry is not None:
                        registry.register_device(query["ip"], query.get("token"), int(query.get("port", 80)))
                except EdgefaceError as err:
                    self.send_error(403, str(err))
                    return
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def cleanup():
    items = []
    yield items.append
    for item in reversed(items):
        item.terminate() if isinstance(item, SimulatorProcess) else item.close()


def test_announced_host_resolves_with_its_port_and_goes_away(cleanup):
    host = unique("reg-host") + ".local"
    announcer = RegistrationAnnouncer(host, 18765, "127.0.0.1", service_name=unique("edgeface"))
    cleanup(announcer)
    assert resolve_host(host, "127.0.0.1", timeout=DEADLINE_S / 4) == "127.0.0.1"
    zc = open_zeroconf("127.0.0.1")
    cleanup(zc)
    watcher = ServiceWatcher(zc)
    cleanup(watcher)
    assert wait_until(lambda: watcher.port_of(host), what="the _edgeface._tcp port") == 18765
    announcer.close()  # goodbye
    assert resolve_host(host, "127.0.0.1", timeout=1.5) is None


def test_simulator_registers_and_registers_again_after_the_app_restarts(video_path, cleanup):
    host = unique("reg-host") + ".local"
    app = RegisterEndpoint()
    cleanup(app)
    announcer = RegistrationAnnouncer(host, app.port, "127.0.0.1", service_name=unique("edgeface"))
    cleanup(announcer)
    sim = SimulatorProcess("--source", str(video_path), "--port", "0", "--token", TOKEN, "--no-advertise",
                           "--register-host", host, "--mdns-interface", "127.0.0.1", "--reregister-after", "1")
    cleanup(sim)
    sim.wait_ready()
    call = wait_until(lambda: app.calls and app.calls[0], what="a /register call")
    assert call == {"ip": "127.0.0.1", "token": TOKEN, "port": str(sim.port), "name": f"edgecam-{call['name'][8:]}"}
    assert call["name"].endswith(f"-{sim.port}")       # the default name, as mDNS would announce it

    # The app restarts (new process, new port, same host name) and knows no cameras.
    announcer.close()
    app.close()
    app2 = RegisterEndpoint()
    cleanup(app2)
    cleanup(RegistrationAnnouncer(host, app2.port, "127.0.0.1", service_name=unique("edgeface")))
    call = wait_until(lambda: app2.calls and app2.calls[0], what="a /register call to the restarted app")
    assert call["port"] == str(sim.port) and call["token"] == TOKEN


def test_browser_adds_an_advertised_camera_and_removes_it_on_goodbye(video_path, cleanup):
    registry = CameraRegistry()
    cleanup(registry)
    cleanup(CameraBrowser(registry, "127.0.0.1"))
    name = unique("edgecam-test")
    sim = SimulatorProcess("--source", str(video_path), "--port", "0", "--token", TOKEN, "--no-register",
                           "--name", name, "--mdns-interface", "127.0.0.1")
    cleanup(sim)
    sim.wait_ready()

    def ours():
        return [c for c in registry.list() if f":{sim.port}/" in c.url]

    cam = wait_until(ours, what="the advertised camera in the registry")[0]
    assert cam.id == name and cam.origin == "mdns"
    frame = cam.wait_frame(0, timeout=DEADLINE_S)  # the token came from TXT
    assert frame is not None and frame.bgr.shape == (360, 640, 3)
    assert sim.terminate() == 0  # sends the goodbye
    wait_until(lambda: not ours(), what="the camera removed after its goodbye")
    assert cam.stopped


def test_a_simulated_camera_with_two_streams_announces_its_main_stream(video_path, cleanup):
    """``edgeface camera --sub-size``: /stream scaled down, /main at the source's size, announced
    as TXT identify_path, so the app reads both."""
    registry = CameraRegistry()
    cleanup(registry)
    cleanup(CameraBrowser(registry, "127.0.0.1"))
    name = unique("edgecam-two")
    sim = SimulatorProcess("--source", str(video_path), "--port", "0", "--token", TOKEN, "--no-register",
                           "--name", name, "--mdns-interface", "127.0.0.1", "--sub-size", "320x180")
    cleanup(sim)
    sim.wait_ready()
    cam = wait_until(lambda: registry.get(name), what="the advertised camera")
    assert cam.identify is not None and cam.identify.url == f"http://127.0.0.1:{sim.port}/main?token={TOKEN}"
    detect, identify = cam.wait_frame(0, timeout=DEADLINE_S), cam.identify.wait_frame(0, timeout=DEADLINE_S)
    assert detect is not None and detect.bgr.shape == (180, 320, 3)
    assert identify is not None and identify.bgr.shape == (360, 640, 3)


def test_an_announced_main_stream_is_the_cameras_identify_stream_and_follows_its_announcements(cleanup):
    """TXT identify_path: the main stream on the camera's address, port and token. A camera that
    announces again without it, or with another path, changes the camera's identify stream."""
    registry = CameraRegistry()
    cleanup(registry)
    cleanup(CameraBrowser(registry, "127.0.0.1"))
    name, port = unique("edgecam-two"), free_port()
    announcer = CameraAnnouncer(name, port, token=TOKEN, path="/sub", identify_path="/main",
                                interface_ip="127.0.0.1")
    cleanup(announcer)

    def identify_url():
        cam = registry.get(slugify(name))
        return cam.identify.url if cam is not None and cam.identify is not None else None

    wait_until(lambda: identify_url() == f"http://127.0.0.1:{port}/main?token={TOKEN}", what="the main stream")
    assert registry.get(slugify(name)).url == f"http://127.0.0.1:{port}/sub?token={TOKEN}"
    announcer.announce_identify_path("/hd")
    wait_until(lambda: identify_url() == f"http://127.0.0.1:{port}/hd?token={TOKEN}", what="the changed path")
    announcer.announce_identify_path(None)
    wait_until(lambda: identify_url() is None and registry.get(slugify(name)), what="the main stream dropped")


def test_registration_and_advertisement_give_one_camera(video_path, cleanup):
    """The simulator both calls /register and advertises: the app must see one camera."""
    registry = CameraRegistry()
    cleanup(registry)
    app = RegisterEndpoint(registry)
    cleanup(app)
    host = unique("reg-host") + ".local"
    cleanup(RegistrationAnnouncer(host, app.port, "127.0.0.1", service_name=unique("edgeface")))
    browser = CameraBrowser(registry, "127.0.0.1")
    cleanup(browser)
    name = unique("edgecam-both")
    sim = SimulatorProcess("--source", str(video_path), "--port", "0", "--token", TOKEN, "--name", name,
                           "--register-host", host, "--mdns-interface", "127.0.0.1")
    cleanup(sim)
    sim.wait_ready()
    wait_until(lambda: app.calls, what="the /register call")
    wait_until(lambda: any(n.startswith(name) for n in browser.cameras()), what="the mDNS discovery")
    ours = [c for c in registry.list() if f":{sim.port}/" in c.url]
    assert len(ours) == 1
    assert ours[0].wait_frame(0, timeout=DEADLINE_S) is not None


def test_killed_camera_goes_offline_and_resumes_when_it_comes_back(video_path, cleanup):
    """SIGKILL sends no goodbye: liveness marks the camera offline; the rebooted camera registers
    again and the same camera resumes, without restarting the app."""
    registry = CameraRegistry(stall_timeout=1.0)
    cleanup(registry)
    app = RegisterEndpoint(registry)
    cleanup(app)
    host = unique("reg-host") + ".local"
    cleanup(RegistrationAnnouncer(host, app.port, "127.0.0.1", service_name=unique("edgeface")))
    args = ["--source", str(video_path), "--token", TOKEN, "--no-advertise", "--register-host", host,
            "--mdns-interface", "127.0.0.1", "--reregister-after", "1"]
    sim = SimulatorProcess(*args, "--port", "0")
    cleanup(sim)
    sim.wait_ready()
    cam = wait_until(lambda: [c for c in registry.list() if f":{sim.port}/" in c.url], what="registration")[0]
    seq = cam.wait_frame(0, timeout=DEADLINE_S).seq
    sim.terminate(signal.SIGKILL)
    wait_until(lambda: not cam.status()["online"], what="offline after the kill")
    assert registry.get(cam.id) is cam  # kept: it may come back

    reborn = SimulatorProcess(*args, "--port", str(sim.port))
    cleanup(reborn)
    reborn.wait_ready()
    assert cam.wait_frame(seq, timeout=DEADLINE_S) is not None
    wait_until(lambda: cam.status()["online"], what="online again")
    assert [c.id for c in registry.list() if f":{sim.port}/" in c.url] == [cam.id]

"""Network policy and the camera registry (real sources reading real local cameras)."""

from __future__ import annotations

import ipaddress
import socket
import threading

import pytest
from camera_helpers import DEADLINE_S, wait_until

from edgeface.cameras.netpolicy import DEFAULT_ALLOWED_NETWORKS, TargetRefused, check_target, parse_networks
from edgeface.cameras.registry import CameraRegistry
from edgeface.errors import ConfigError, EdgefaceError


@pytest.mark.parametrize("ip", ["8.8.8.8", "1.1.1.1", "100.64.0.1", "169.254.169.254", "::ffff:8.8.8.8",
                                "2001:4860:4860::8888", "0.0.0.0", "224.0.0.251", "255.255.255.255"])
def test_public_and_special_addresses_are_refused(ip):
    with pytest.raises(TargetRefused) as err:
        check_target(ip)
    assert isinstance(err.value, EdgefaceError)
    assert err.value.hint  # says what to do


@pytest.mark.parametrize("ip", ["example.com", "localhost", "", "192.168.1.1:80", "10.0.0.1/8"])
def test_host_names_are_refused(ip):
    with pytest.raises(TargetRefused, match="not an IP address"):
        check_target(ip)


@pytest.mark.parametrize("ip,normal", [("10.1.2.3", "10.1.2.3"), ("172.16.5.4", "172.16.5.4"),
                                       ("172.31.255.254", "172.31.255.254"), ("192.168.1.50", "192.168.1.50"),
                                       ("127.0.0.1", "127.0.0.1"), ("::1", "::1"), ("[fd00::1]", "fd00::1"),
                                       ("::ffff:192.168.0.9", "192.168.0.9")])
def test_private_and_loopback_addresses_are_accepted(ip, normal):
    assert check_target(ip) == normal


def test_parse_networks():
    assert parse_networks("") == list(DEFAULT_ALLOWED_NETWORKS)
    nets = parse_networks("192.168.7.0/24; 100.64.0.0/10")
    assert nets == [ipaddress.ip_network("192.168.7.0/24"), ipaddress.ip_network("100.64.0.0/10")]
    assert check_target("100.64.1.2", nets) == "100.64.1.2"
    with pytest.raises(TargetRefused, match="outside the allowed networks"):
        check_target("10.0.0.1", nets)
    assert len(parse_networks("default, 100.64.0.0/10")) == len(DEFAULT_ALLOWED_NETWORKS) + 1
    assert parse_networks(["10.9.9.9"]) == [ipaddress.ip_network("10.9.9.9/32")]
    with pytest.raises(ConfigError, match=r"'10\.0\.0\.0/33' is not a network"):
        parse_networks("10.0.0.0/8, 10.0.0.0/33")


@pytest.fixture
def registry():
    reg = CameraRegistry()
    yield reg
    reg.close()


def test_refused_registration_makes_no_connection():
    """A camera on loopback, but loopback not allowed: refused before anything connects."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.settimeout(2.0)
    reg = CameraRegistry(parse_networks("192.168.0.0/16"))
    try:
        with pytest.raises(TargetRefused):
            reg.register_device("127.0.0.1", "tok", listener.getsockname()[1])
        assert reg.list() == []
        with pytest.raises(socket.timeout):
            listener.accept()  # nobody ever knocked
    finally:
        reg.close()
        listener.close()


def test_add_is_idempotent_and_ids_are_slugs(registry, live_camera_factory):
    camera = live_camera_factory()
    first = registry.add(camera.url())
    assert registry.add(camera.url()) == first
    assert first.startswith("127-0-0-1-") and first == first.lower()
    assert [c.id for c in registry.list()] == [first]
    assert registry.get(first).wait_frame(0, timeout=DEADLINE_S) is not None
    named = registry.add(camera.url(), camera_id="front-door")
    assert named == "front-door" and len(registry.list()) == 2


@pytest.mark.parametrize("url,message", [("", "empty"), ("gopher://x/1", "not supported"),
                                         ("http://a b/", "spaces"), ("rtsp://x/\x00", "control")])
def test_bad_urls_are_refused_clearly(registry, url, message):
    with pytest.raises(ConfigError, match=message):
        registry.add(url)
    assert registry.list() == []


def test_bad_and_taken_ids(registry, live_camera_factory):
    camera = live_camera_factory()
    with pytest.raises(ConfigError, match="not valid"):
        registry.add(camera.url(), camera_id="../etc")
    registry.add(camera.url(), camera_id="one")
    with pytest.raises(ConfigError, match="already used"):
        registry.add("rtsp://127.0.0.1:1/other", camera_id="one")


def test_register_device_twice_updates_instead_of_duplicating(registry, live_camera_factory):
    camera = live_camera_factory(token="new-token")
    added, removed = [], []
    registry.subscribe(added.append, removed.append)
    first = registry.register_device("127.0.0.1", "old-token", camera.port)
    src = registry.get(first)
    status = {}
    wait_until(lambda: status.update(src.status()) or status["error"], what="401 with the old token")
    assert "401" in status["error"] and "old-token" not in status["error"]
    # The camera rebooted with a new token and registers again: same camera, now streaming.
    assert registry.register_device("127.0.0.1", "new-token", camera.port) == first
    assert [c.id for c in registry.list()] == [first] and [c.id for c in added] == [first]
    assert src.wait_frame(0, timeout=DEADLINE_S) is not None
    assert src.origin == "register" and first == f"cam-127-0-0-1-{camera.port}"
    assert registry.remove(first) and not registry.remove(first)
    assert removed == [src] and src.stopped


def test_register_device_validates_port_and_token(registry):
    with pytest.raises(ConfigError, match="port"):
        registry.register_device("127.0.0.1", "t", 70000)
    with pytest.raises(ConfigError, match="control"):
        registry.register_device("127.0.0.1", "t\r\nX-Injected: 1", 80)
    for path in ("/str eam", "/stream\r\nX-Injected: 1", "/stream#x"):  # mDNS TXT paths are anyone's text
        with pytest.raises(ConfigError, match="not a URL path"):
            registry.register_device("127.0.0.1", "t", 80, path=path)
    assert registry.list() == []


def test_register_device_gives_the_announced_main_stream_and_keeps_it_across_register_calls(registry):
    """mDNS says which main stream a camera has (TXT identify_path, or none); /register says nothing
    of it, so a camera that does both keeps it."""
    camera_id = registry.register_device("127.0.0.1", "tok", 8099, identify_path="/main")
    cam = registry.get(camera_id)
    assert cam.identify is not None and cam.identify.url == "http://127.0.0.1:8099/main?token=tok"
    assert registry.register_device("127.0.0.1", "tok", 8099) == camera_id     # /register: kept
    assert cam.identify.url == "http://127.0.0.1:8099/main?token=tok"
    registry.register_device("127.0.0.1", "tok2", 8099, identify_path="/hd")   # changed
    assert cam.identify.url == "http://127.0.0.1:8099/hd?token=tok2"
    registry.register_device("127.0.0.1", "tok3", 8099)                        # /register, a new token
    assert cam.url == "http://127.0.0.1:8099/stream?token=tok3"
    assert cam.identify.url == "http://127.0.0.1:8099/hd?token=tok3", "the main stream with the new token too"
    registry.register_device("127.0.0.1", "tok2", 8099, identify_path=None)    # dropped
    assert cam.identify is None
    registry.register_device("127.0.0.1", "tok2", 8099, identify_path="/hd")
    registry.set_identify(camera_id, "rtsp://127.0.0.1:8554/main")             # the operator's own
    registry.register_device("127.0.0.1", "tok4", 8099)
    assert cam.identify.url == "rtsp://127.0.0.1:8554/main", "the operator's main stream is kept"
    with pytest.raises(ConfigError, match=r"identify path .* not a URL path"):
        registry.register_device("127.0.0.1", "t", 8098, identify_path="/main\r\nX-Injected: 1")
    assert [c.id for c in registry.list()] == [camera_id], "a refused main stream path added a camera"


def test_camera_limit(live_camera_factory):
    reg = CameraRegistry(max_cameras=2)
    try:
        camera = live_camera_factory()
        reg.register_device("127.0.0.1", None, camera.port)
        reg.add(camera.url(), camera_id="second")
        with pytest.raises(ConfigError, match="limit"):
            reg.add(camera.url(), camera_id="third")
    finally:
        reg.close()


def test_subscriber_sees_existing_cameras_and_a_broken_one_is_isolated(registry, live_camera_factory):
    camera = live_camera_factory()
    existing = registry.add(camera.url())

    def broken(_):
        raise RuntimeError("subscriber bug")

    seen = []
    registry.subscribe(broken, broken)
    registry.subscribe(seen.append)
    assert [c.id for c in seen] == [existing]
    registry.add(camera.url(), camera_id="later")  # the broken subscriber does not stop this
    assert [c.id for c in seen] == [existing, "later"]


def test_close_stops_every_thread(live_camera_factory):
    reg = CameraRegistry()
    for _ in range(3):
        reg.add(live_camera_factory().url())
    names = {f"camera-{c.id}" for c in reg.list()}
    assert names <= {t.name for t in threading.enumerate()}
    reg.close()
    assert not names & {t.name for t in threading.enumerate() if t.is_alive()}
    with pytest.raises(ConfigError, match="closed"):
        reg.add("rtsp://127.0.0.1:1/x")


def test_long_offline_device_cameras_are_forgotten_but_api_cameras_stay():
    reg = CameraRegistry(forget_offline_after_s=0.5, stall_timeout=0.5)
    try:
        api = reg.add("http://127.0.0.1:9/api-cam")
        reg.register_device("127.0.0.1", None, 9)  # nothing listens on port 9
        wait_until(lambda: [c.id for c in reg.list()] == [api], what="the device camera forgotten")
    finally:
        reg.close()

"""ONVIF WS-Discovery on loopback: a real announcer (the WSDiscovery library's Hello, Bye and
ProbeMatch messages over multicast on 127.0.0.1) and the app's listener. A device that announced
itself is listed and gets no connection until an admin adds it with credentials."""

from __future__ import annotations

import secrets
import socket
import sys
import time

import pytest
from camera_helpers import REPO
from onvif_helpers import LOOPBACK, PRINTER, Announcer, CountingPort
from stream_servers import PASSWORD, USER

from edgeface.cameras.discovery import GROUP, PORT, OnvifDiscovery
from edgeface.errors import ConfigError
from edgeface.ports import free_port

sys.path.insert(0, str(REPO / "tests" / "webapp"))  # a folder of helpers, not a package
from webapp_helpers import App, wait_until


@pytest.fixture
def discovery():
    found = OnvifDiscovery(LOOPBACK, probe_interval_s=1.0).start()
    yield found
    found.close()


def test_hello_lists_a_camera_bye_removes_it_and_nothing_connects(discovery):
    device = CountingPort()
    cam = Announcer(device.port, answer_probes=False)
    printer = Announcer(device.port, types=(PRINTER,), answer_probes=False)
    try:
        cam.hello()
        printer.hello()
        listed = wait_until(lambda: discovery.get(cam.id), timeout=10, what="the camera's Hello listed")
        assert listed.address == LOOPBACK and listed.epr == cam.epr and listed.name == "Test Cam"
        assert listed.xaddrs == [f"http://{LOOPBACK}:{device.port}/onvif/device_service"]
        assert "onvif://www.onvif.org/hardware/edgeface-test" in listed.scopes
        assert listed.types == ["http://www.onvif.org/ver10/network/wsdl#NetworkVideoTransmitter"]
        time.sleep(1.5)       # a probe cycle more: still listed only
        assert discovery.get(printer.id) is None, "a printer's Hello was listed as a camera"
        cam.bye()
        wait_until(lambda: discovery.get(cam.id) is None, timeout=10, what="the camera's Bye")
        assert device.connections == 0, "the listener connected to a device that only announced itself"
    finally:
        cam.close()
        printer.close()
        device.close()


def test_a_probe_finds_cameras_that_announced_before_the_app_started():
    cam = Announcer(free_port())         # answers probes; no Hello at all
    found = OnvifDiscovery(LOOPBACK).start()   # probes once at start
    try:
        wait_until(lambda: found.get(cam.id), timeout=10, what="the camera's ProbeMatch listed")
        assert cam.probes >= 1
    finally:
        found.close()
        cam.close()


def test_garbage_and_a_bad_interface_are_refused(discovery):
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sender.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(LOOPBACK))
    for junk in (b"", b"<not xml", b"\x00" * 2000, b"<?xml version='1.0'?><a/>"):
        sender.sendto(junk, (GROUP, PORT))
    sender.close()
    cam = Announcer(free_port(), answer_probes=False)
    try:
        cam.hello()   # the listener is still alive after the junk
        wait_until(lambda: discovery.get(cam.id), timeout=10, what="a Hello after junk")
    finally:
        cam.close()
    with pytest.raises(ConfigError, match="is not an IPv4 address"):
        OnvifDiscovery("eth0")
    with pytest.raises(ConfigError, match=r"cannot listen for ONVIF WS-Discovery on 192\.0\.2\.1"):
        OnvifDiscovery("192.0.2.1").start()   # not an address of this host


def test_serve_refuses_an_interface_of_another_host_in_one_line(tmp_path, sample_model):
    app = App(free_port(), {"EDGEFACE_DISCOVERY_INTERFACE": "192.0.2.1"}, tmp_path / "app.log",
              "--model", str(sample_model))
    assert app.proc.wait(60) == 2
    assert "cannot listen for ONVIF WS-Discovery on 192.0.2.1" in app.log() and "Traceback" not in app.log()


@pytest.mark.slow
def test_app_lists_discovered_cameras_and_adds_one_only_when_an_admin_confirms(rtsp_factory, sample_model,
                                                                              tmp_path):
    server = rtsp_factory()
    token = secrets.token_urlsafe(16)
    app = App(free_port(), {"EDGEFACE_API_TOKEN": token, "EDGEFACE_DISCOVERY_INTERFACE": LOOPBACK,
                            "EDGEFACE_EVENTS_DIR": str(tmp_path / "events")},
              tmp_path / "app.log", "--model", str(sample_model))
    cam = Announcer(server.port, answer_probes=False, name="Porch")
    shown = {}
    try:
        app.wait_ready()
        cam.hello()
        listed = wait_until(lambda: [d for d in app.get("/api/v1/discovered").json()["discovered"]
                                     if d["id"] == cam.id], what="the announced camera listed")[0]
        assert listed["address"] == LOOPBACK and listed["camera"] is None and listed["name"] == "Porch"
        assert listed["xaddrs"] == [f"http://{LOOPBACK}:{server.port}/onvif/device_service"]
        time.sleep(3)
        assert server.connections() == 0, "the app connected to a device nobody confirmed"
        assert app.camera("porch") is None

        add = f"/api/v1/discovered/{cam.id}/add"
        body = {"url": f"rtsp://{LOOPBACK}:{server.port}{server.path}", "username": USER, "password": PASSWORD}
        assert app.request("POST", add, auth=False, json=body).status_code == 401
        bad = app.request("POST", add, json={"username": 5})
        assert bad.status_code == 400 and "hint" in bad.json()
        creds_in_url = app.request("POST", add, json={**body, "url": server.url()})
        assert creds_in_url.status_code == 400 and "without credentials" in creds_in_url.json()["error"]
        bad_main = app.request("POST", add, json={**body, "identify_url": "http://x/main"})
        assert bad_main.status_code == 400 and "'identify_url'" in bad_main.json()["error"]
        assert app.request("POST", "/api/v1/discovered/onvif-000000000000/add", json=body).status_code == 404
        assert server.connections() == 0

        # The device's main stream beside it (the same stream stands in for it here).
        added = app.request("POST", add, json={**body, "identify_url": body["url"] + "?transport=tcp"})
        assert added.status_code == 201, added.text
        shown["added"] = added.text
        porch = wait_until(lambda: (c := app.camera("porch")) and c["online"] and c, what="the confirmed camera")
        assert porch["name"] == "Porch" and f"{USER}:***@" in porch["url"]
        assert f"{USER}:***@" in porch["identify_url"]
        assert server.connections() >= 1
        listed = next(d for d in app.get("/api/v1/discovered").json()["discovered"] if d["id"] == cam.id)
        assert listed["camera"] == "porch"
        for path in ("/api/v1/discovered", "/api/v1/cameras", "/api/v1/cameras/export.yaml"):
            shown[path] = app.get(path).text
    finally:
        cam.close()
        app.stop()
    shown["log"] = app.log()
    for where, text in shown.items():
        assert "Pa55" not in text, f"the camera password appears in {where}"

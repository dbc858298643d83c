"""A discovered ONVIF camera's streams, asked of its media service (GetCapabilities, GetProfiles,
GetStreamUri with a WS-Security UsernameToken) when an admin adds it without giving URLs.

The device is ``onvif_device.OnvifDevice``, a stand-in on 127.0.0.1: no real ONVIF camera runs
here (its docstring says why no packaged ONVIF server is used). Discovery is real: the device's
Hello goes over WS-Discovery multicast on loopback to a real ``edgeface serve``.
"""

from __future__ import annotations

import secrets
import sys
from datetime import timedelta

import pytest
from camera_helpers import REPO
from onvif_device import OnvifDevice
from onvif_helpers import LOOPBACK, Announcer

from edgeface.cameras.netpolicy import TargetRefused, parse_networks
from edgeface.cameras.onvif_media import OnvifError, camera_streams
from edgeface.ports import free_port

sys.path.insert(0, str(REPO / "tests" / "webapp"))  # a folder of helpers, not a package
from webapp_helpers import App, wait_until

USER, PASSWORD = "onvif-admin", "Pa55:w@rd/x"
NETWORKS = parse_networks("default")
SUB = ("sub", "H264", 640, 360, f"rtsp://{LOOPBACK}:8554/sub")
MAIN = ("main", "H265", 1920, 1080, f"rtsp://{LOOPBACK}:8554/main")
MJPEG = ("mjpeg", "JPEG", 320, 240, f"rtsp://{LOOPBACK}:8554/mjpeg")


@pytest.fixture
def devices():
    made = []

    def make(*profiles, **options) -> OnvifDevice:
        made.append(OnvifDevice(USER, PASSWORD, list(profiles), **options))
        return made[-1]

    yield make
    for device in made:
        device.close()


def test_the_smallest_profile_is_detected_the_largest_identifies(devices):
    device = devices(MAIN, MJPEG, SUB)
    streams = camera_streams([device.xaddr], USER, PASSWORD, NETWORKS)
    assert (streams.detect, streams.identify) == (SUB[4], MAIN[4])   # MJPEG is no video profile
    assert device.requests == ["GetSystemDateAndTime", "GetCapabilities", "GetProfiles", "GetStreamUri",
                               "GetStreamUri"]
    one = devices(SUB)
    assert camera_streams([one.xaddr], USER, PASSWORD, NETWORKS).identify is None


def test_passwords_are_signed_on_the_cameras_clock(devices):
    """A camera without NTP, hours or years off: the digest's timestamp is the camera's time, as
    its GetSystemDateAndTime tells it. One that will not tell gets ours (refused when far off)."""
    for off in (timedelta(hours=3), timedelta(days=-2000)):
        device = devices(SUB, MAIN, clock=off)
        assert camera_streams([device.xaddr], USER, PASSWORD, NETWORKS).identify == MAIN[4]
    silent = devices(SUB, MAIN, clock=timedelta(hours=3), tells_time=False)
    with pytest.raises(OnvifError, match="refused the user name and password") as refused:
        camera_streams([silent.xaddr], USER, PASSWORD, NETWORKS)
    assert "clock" in (refused.value.hint or "")
    assert camera_streams([devices(SUB, MAIN, tells_time=False).xaddr], USER, PASSWORD, NETWORKS).identify == MAIN[4]


def test_what_the_device_cannot_give_is_a_clear_error(devices):
    good = devices(SUB, MAIN)
    with pytest.raises(OnvifError, match="refused the user name and password") as refused:
        camera_streams([good.xaddr], USER, "wrong", NETWORKS)
    assert refused.value.status == 400 and "clock" in (refused.value.hint or "")
    with pytest.raises(OnvifError, match=r"not SOAP XML \(HTTP 200\)") as garbage:
        camera_streams([devices(SUB, garbage=True).xaddr], USER, PASSWORD, NETWORKS)
    assert garbage.value.status == 502
    with pytest.raises(OnvifError, match=r"no H\.264/H\.265 media profile"):
        camera_streams([devices(MJPEG).xaddr], USER, PASSWORD, NETWORKS)
    with pytest.raises(OnvifError, match=r"cannot reach the camera's ONVIF service .*connection refused"):
        camera_streams([f"http://{LOOPBACK}:{free_port()}/onvif/device_service"], USER, PASSWORD, NETWORKS)
    with pytest.raises(OnvifError, match="announced no ONVIF service address"):
        camera_streams([], USER, PASSWORD, NETWORKS)


def test_addresses_outside_the_allowed_networks_are_refused_before_connecting(devices):
    outside = devices(SUB, ("main", "H264", 1920, 1080, "rtsp://203.0.113.7:554/main"))
    with pytest.raises(TargetRefused, match=r"stream URI for profile 'main'.*203\.0\.113\.7 is outside"):
        camera_streams([outside.xaddr], USER, PASSWORD, NETWORKS)
    named = devices(("sub", "H264", 640, 360, "rtsp://camera.example/sub"))
    with pytest.raises(TargetRefused, match="not an IP address in plain form"):
        camera_streams([named.xaddr], USER, PASSWORD, NETWORKS)
    with pytest.raises(TargetRefused, match=r"ONVIF service address: .*203\.0\.113\.9 is outside"):
        camera_streams(["http://203.0.113.9/onvif/device_service"], USER, PASSWORD, NETWORKS)
    # A refused XAddr is skipped when the device announces another one that may be reached.
    good = devices(SUB, MAIN)
    assert camera_streams(["http://203.0.113.9/onvif/device_service", good.xaddr], USER, PASSWORD,
                          NETWORKS).identify == MAIN[4]


@pytest.mark.slow
def test_an_admin_adds_a_discovered_camera_with_the_streams_its_profiles_give(devices, sample_model, tmp_path):
    token = secrets.token_urlsafe(16)
    app = App(free_port(), {"EDGEFACE_API_TOKEN": token, "EDGEFACE_DISCOVERY_INTERFACE": LOOPBACK,
                            "EDGEFACE_EVENTS_DIR": str(tmp_path / "events")},
              tmp_path / "app.log", "--model", str(sample_model))
    two, one = devices(SUB, MAIN), devices(SUB)
    outside = devices(SUB, ("main", "H264", 1920, 1080, "rtsp://203.0.113.7:554/main"))
    announcers = {name: Announcer(0, answer_probes=False, name=name, xaddr=xaddr) for name, xaddr in (
        ("Two", two.xaddr), ("One", one.xaddr), ("Outside", outside.xaddr),
        ("Gone", f"http://{LOOPBACK}:{free_port()}/onvif/device_service"))}
    answers = {}
    try:
        app.wait_ready()
        for announcer in announcers.values():
            announcer.hello()
        wait_until(lambda: {a.id for a in announcers.values()} <= {d["id"] for d in
                                                                    app.get("/api/v1/discovered").json()["discovered"]},
                   what="the four devices listed")

        def add(device, **body):
            answer = app.request("POST", f"/api/v1/discovered/{announcers[device].id}/add",
                                 json={"username": USER, "password": PASSWORD, **body})
            answers[f"{device} {len(answers)}"] = answer
            return answer

        wrong = add("Two", password="wrong")
        assert wrong.status_code == 400 and "refused the user name and password" in wrong.json()["error"]
        gone = add("Gone")
        assert gone.status_code == 502 and "connection refused" in gone.json()["error"] and gone.json()["hint"]
        refused = add("Outside")
        assert refused.status_code == 403 and "203.0.113.7 is outside the allowed networks" in refused.json()["error"]
        assert app.get("/api/v1/cameras").json()["cameras"] == [], "a refused add left a camera"

        added = add("Two")
        assert added.status_code == 201, added.text
        assert added.json()["url"] == f"rtsp://{USER}:***@{LOOPBACK}:8554/sub"
        assert added.json()["identify_url"] == f"rtsp://{USER}:***@{LOOPBACK}:8554/main"
        single = add("One", name="Single")
        assert single.status_code == 201 and single.json()["identify_url"] is None
        asked = list(one.requests)
        explicit = add("One", name="Explicit", url=f"rtsp://{LOOPBACK}:8554/given")
        assert explicit.status_code == 201 and explicit.json()["url"].endswith("@127.0.0.1:8554/given")
        assert one.requests == asked, "the device was asked for streams the admin gave"
        answers["cameras"] = app.get("/api/v1/cameras")
    finally:
        for announcer in announcers.values():
            announcer.close()
        app.stop()
    for where, text in [*((k, v.text) for k, v in answers.items()), ("log", app.log())]:
        assert PASSWORD not in text and "Traceback" not in text, f"the password or a traceback in {where}"

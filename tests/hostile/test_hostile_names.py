"""Control characters in names, whichever way they come in (round 3, row 8): a discovered
device's announced name (percent-encoded in its ONVIF scope) and the name an admin gives when
adding it are checked like a PATCH's, a name given at /register or announced over mDNS by the
registry; none is stored with a line break, NUL or escape."""

from __future__ import annotations

import pytest
from test_camera_discovery import Announcer
from webapp_helpers import wait_until

from edgeface.cameras.registry import CameraRegistry
from edgeface.errors import ConfigError

CONTROL = "%0A%0D%00%1B"


def test_a_discovered_name_with_control_characters_is_never_stored(router_app):
    app = router_app
    cam = Announcer(9, answer_probes=False, name=f"Evil{CONTROL}[31mCam")
    try:
        cam.hello()
        listed = wait_until(lambda: [d for d in app.get("/api/v1/discovered").json()["discovered"]
                                     if d["id"] == cam.id], what="the announced camera listed")[0]
        assert listed["name"] == "Evil[31mCam", listed
        add = f"/api/v1/discovered/{cam.id}/add"
        for name in ("a\nb", "a\rb", "a\x00b", "a\x1b[31mb", "x" * 500):
            refused = app.request("POST", add, json={"url": "rtsp://127.0.0.1:9/", "name": name})
            assert refused.status_code == 400 and "printable" in refused.json()["error"], refused.text
        added = app.request("POST", add, json={"url": "rtsp://127.0.0.1:9/"})
        assert added.status_code == 201, added.text
        camera_id = added.json()["id"]
        try:
            assert app.camera(camera_id)["name"] == "Evil[31mCam"
            assert all(ch.isprintable() for cam_ in app.get("/api/v1/cameras").json()["cameras"]
                       for ch in cam_["name"] or "")
        finally:
            app.request("DELETE", f"/api/v1/cameras/{camera_id}")
    finally:
        cam.close()


def test_a_name_announced_over_mdns_or_register_with_control_characters_is_refused():
    """The registry's own check, under /register's and the mDNS browser's (an instance name is
    anyone's text): the camera is refused, never stored with such a name."""
    registry = CameraRegistry()
    try:
        for name in ("Door\n", "a\rb", "a\x00b", "\x1b[31mred"):
            with pytest.raises(ConfigError, match="control characters"):
                registry.register_device("127.0.0.1", None, 9, name=name)
        assert registry.list() == []
    finally:
        registry.close()

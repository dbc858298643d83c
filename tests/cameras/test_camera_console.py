"""The console's camera settings on a real app and a simulated camera: a disabled camera is not
read at all (the simulator sees its stream closed), also after a restart, and is read again when
enabled; a camera's ``/register`` call can name it, and the simulator sends its ``--name``."""

from __future__ import annotations

import time

import pytest
from camera_helpers import DEADLINE_S, unique, wait_until
from test_camera_mdns import RegisterEndpoint

from edgeface.cameras.mdns import RegistrationAnnouncer
from edgeface.cameras.source import CameraSource
from edgeface.settings import EventSettings, HttpSettings, ModelSettings, Settings
from edgeface.tools.simulator import CameraSimulator, SimulatorConfig
from webapp import create_app

ADMIN = {"Authorization": "Bearer admin-token-0123456789"}


@pytest.fixture
def simulator(video_path):
    sim = CameraSimulator(SimulatorConfig(source=str(video_path), port=0, register_host=None, advertise=False)).start()
    yield sim
    sim.stop()


@pytest.fixture
def make_app(sample_model, tmp_path):
    apps = []

    def make():
        settings = Settings(http=HttpSettings(api_token=ADMIN["Authorization"].split()[1]),
                            model=ModelSettings(file=str(sample_model)), events=EventSettings(dir=str(tmp_path / "ev")))
        app = create_app(settings)
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.extensions["edgeface"].close()


def camera(client, camera_id: str) -> dict:
    return next(c for c in client.get("/api/v1/cameras", headers=ADMIN).json["cameras"] if c["id"] == camera_id)


def register(client, sim: CameraSimulator, name: str | None = "Front door"):
    query = f"/register?ip=127.0.0.1&port={sim.port}&token={sim.token}" + (f"&name={name}" if name else "")
    return client.get(query)


def test_a_disabled_camera_is_not_read_until_enabled_again_also_after_a_restart(make_app, simulator):
    app = make_app()
    client = app.test_client()
    camera_id = register(client, simulator).json["camera"]
    wait_until(lambda: simulator.server.streams == 1 and camera(client, camera_id)["online"], what="streaming")

    changed = client.patch(f"/api/v1/cameras/{camera_id}", json={"enabled": False}, headers=ADMIN)
    assert changed.status_code == 200
    wait_until(lambda: simulator.server.streams == 0, what="the stream closed after disabling")
    status = camera(client, camera_id)
    assert status["enabled"] is False and status["online"] is False and status["error"] is None
    source = app.extensions["edgeface"].registry.get(camera_id)
    frames = source.status()["frames"]
    wait_until(lambda: not simulator.server.pulled_within(1.0), what="no frame pulled for a second")
    assert simulator.server.streams == 0
    assert source.status()["frames"] == frames, "frames still arrive from a disabled camera"

    client.patch(f"/api/v1/cameras/{camera_id}", json={"enabled": True}, headers=ADMIN)
    wait_until(lambda: simulator.server.streams == 1 and source.status()["frames"] > frames + 5,
               what="frames flowing again after enabling")
    assert camera(client, camera_id)["online"]

    # Disabled, then the app restarts: the camera registers again and is never read.
    client.patch(f"/api/v1/cameras/{camera_id}", json={"enabled": False}, headers=ADMIN)
    wait_until(lambda: simulator.server.streams == 0, what="the stream closed")
    app.extensions["edgeface"].close()
    restarted = make_app()
    again = restarted.test_client()
    assert register(again, simulator).json["camera"] == camera_id
    assert camera(again, camera_id)["enabled"] is False
    time.sleep(1.5)       # what must not happen: a connection (one is made in ~10 ms here)
    assert simulator.server.streams == 0 and not simulator.server.pulled_within(1.0)
    assert restarted.extensions["edgeface"].registry.get(camera_id).status()["frames"] == 0
    again.patch(f"/api/v1/cameras/{camera_id}", json={"enabled": True}, headers=ADMIN)
    wait_until(lambda: simulator.server.streams == 1 and camera(again, camera_id)["online"], what="read once enabled")


def test_a_paused_video_file_source_stops_and_resumes(video_path):
    """The OpenCV side of pause (files, RTSP): the frame loop ends, no error, frames again on resume."""
    source = CameraSource("clip", str(video_path)).start()
    try:
        assert source.wait_frame(0, timeout=DEADLINE_S) is not None
        source.pause()
        time.sleep(0.3)                   # a frame already read may still land
        paused_at = source.status()["frames"]
        time.sleep(0.7)                   # ~20 frames of the 30 fps clip if it were still read
        status = source.status()
        assert status["frames"] == paused_at and status["enabled"] is False
        assert status["online"] is False and status["error"] is None
        source.resume()
        assert source.wait_frame(paused_at, timeout=DEADLINE_S) is not None and source.status()["online"]
    finally:
        source.close()
    assert source.stopped


def test_register_names_the_camera_and_refuses_bad_names(make_app, simulator):
    client = make_app().test_client()
    for bad in ("x" * 65, "tab%09in"):
        refused = register(client, simulator, bad)
        assert refused.status_code == 400 and "name" in refused.json["error"] and refused.json["hint"]
    assert client.get("/api/v1/cameras", headers=ADMIN).json["cameras"] == []
    camera_id = register(client, simulator, "Front door").json["camera"]
    assert camera(client, camera_id)["name"] == "Front door"
    unnamed = client.get(f"/register?ip=127.0.0.1&port={simulator.port + 1}&token=t").json["camera"]
    assert camera(client, unnamed)["name"] == unnamed


def test_the_simulator_sends_its_name_when_it_registers(video_path):
    endpoint = RegisterEndpoint()
    host = unique("reg-host") + ".local"
    announcer = RegistrationAnnouncer(host, endpoint.port, "127.0.0.1", service_name=unique("edgeface"))
    name = unique("Lobby cam")
    sim = CameraSimulator(SimulatorConfig(source=str(video_path), port=0, register_host=host, advertise=False,
                                          name=name, reregister_after_s=1)).start()
    try:
        call = wait_until(lambda: endpoint.calls and endpoint.calls[0], DEADLINE_S, "the /register call")
        assert call["name"] == name and call["port"] == str(sim.port)
    finally:
        sim.stop()
        announcer.close()
        endpoint.close()

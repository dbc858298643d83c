"""Camera configuration that lasts: cameras added over the API come back after a restart (with
their credentials, kept apart and never shown), export as YAML with ``${VAR}`` references, and the
export given back as ``EDGEFACE_CAMERAS_FILE`` with the Secret's variables starts the same cameras."""

from __future__ import annotations

import os
import secrets
import stat
import subprocess
import sys

import pytest
import yaml
from camera_helpers import REPO
from helpers import require_tool
from stream_servers import PASSWORD, USER

from edgeface.cameras.config import (
    SECRETS_NAME,
    CameraConfigStore,
    export_yaml,
    load_cameras_file,
    templated,
)
from edgeface.errors import ConfigError
from edgeface.history.db import DB_NAME, open_database
from edgeface.ports import free_port

sys.path.insert(0, str(REPO / "tests" / "webapp"))  # a folder of helpers, not a package
from webapp_helpers import App, wait_until

SECRET_PART = "Pa55"      # in PASSWORD; must never be shown or stored in the database


def start_app(tmp_path, name: str, events_dir, sample_model, **env) -> App:
    app = App(free_port(), {"EDGEFACE_API_TOKEN": TOKEN, "EDGEFACE_EVENTS_DIR": str(events_dir), **env},
              tmp_path / f"{name}.log", "--model", str(sample_model))
    app.wait_ready()
    return app


TOKEN = secrets.token_urlsafe(16)


def database_bytes(events_dir) -> bytes:
    return b"".join(p.read_bytes() for p in events_dir.iterdir() if p.name.startswith(DB_NAME))


@pytest.mark.slow
def test_added_cameras_survive_restarts_and_round_trip_through_the_yaml_export(rtsp_factory, sample_model,
                                                                              tmp_path):
    # The main stream from a server of its own: GStreamer's RTSP server can abort
    # (gst_rtsp_media_get_rates assertion) when two readers set up one shared mount at once.
    server, main_server = rtsp_factory(), rtsp_factory()
    events = tmp_path / "events"
    shown: dict[str, str] = {}
    app = start_app(tmp_path, "first", events, sample_model)
    try:
        main = main_server.url(query="transport=tcp")   # the same clip stands in for the main stream
        added = app.request("POST", "/api/v1/cameras", json={"url": server.url(), "id": "door", "identify_url": main})
        assert added.status_code == 201, added.text
        dead_port = free_port()
        assert app.request("POST", "/api/v1/cameras", json={"url": f"rtsp://127.0.0.1:{dead_port}/s",
                                                            "id": "gate"}).status_code == 201
        assert app.request("PATCH", "/api/v1/cameras/door", json={"name": "Front door"}).status_code == 200
        assert app.request("PATCH", "/api/v1/cameras/gate", json={"enabled": False}).status_code == 200
        bad = app.request("PATCH", "/api/v1/cameras/gate", json={"identify_url": "file:///etc/passwd"})
        assert bad.status_code == 400 and "only network camera URLs" in bad.json()["error"], bad.text
        assert app.request("PATCH", "/api/v1/cameras/gate", json={"identify_url": main}).status_code == 200
        assert app.request("PATCH", "/api/v1/cameras/gate", json={"identify_url": None}).json()["identify_url"] is None
        wait_until(lambda: (app.camera("door") or {}).get("online"), what="the RTSP camera online")
    finally:
        app.stop()
    shown["first log"] = app.log()

    # Credentials apart from the URL: in a 0600 file, not in the database.
    assert stat.S_IMODE(os.stat(events / SECRETS_NAME).st_mode) == 0o600
    assert SECRET_PART.encode() not in database_bytes(events)
    assert b"127.0.0.1" in database_bytes(events)          # ... which does hold the (redacted) URL

    app = start_app(tmp_path, "second", events, sample_model)
    try:
        # Back with its credentials (it reaches the server), its name and the other camera's setting.
        door = wait_until(lambda: (cam := app.camera("door")) and cam["online"] and cam, what="door back online")
        assert door["name"] == "Front door" and f"{USER}:***@" in door["url"]
        assert f"{USER}:***@" in door["identify_url"] and "transport=tcp" in door["identify_url"]
        wait_until(lambda: app.camera("door")["identify_online"], what="the identify stream read")
        assert app.camera("gate")["enabled"] is False and app.camera("gate")["identify_url"] is None
        export = app.get("/api/v1/cameras/export.yaml")
        assert export.status_code == 200 and export.headers["Content-Type"].startswith("application/yaml")
        assert app.get("/api/v1/cameras/export.yaml", auth=False).status_code == 401
        shown["export"] = export.text
        shown["cameras"] = app.get("/api/v1/cameras").text
        assert app.request("DELETE", "/api/v1/cameras/gate").status_code == 200
    finally:
        app.stop()
    shown["second log"] = app.log()
    exported = yaml.safe_load(shown["export"])["cameras"]
    assert [c["id"] for c in exported] == ["door", "gate"]
    assert exported[0]["url"].startswith("rtsp://${EDGEFACE_CAMERA_DOOR_USER}:${EDGEFACE_CAMERA_DOOR_PASSWORD}@")
    assert exported[0]["name"] == "Front door" and exported[1]["enabled"] is False
    assert exported[0]["identify_url"].startswith("rtsp://${EDGEFACE_CAMERA_DOOR_IDENTIFY_USER}:")

    app = start_app(tmp_path, "third", events, sample_model)
    try:
        wait_until(lambda: app.camera("door"), what="door after the restart")
        assert app.camera("gate") is None, "a removed camera came back"
    finally:
        app.stop()

    # The export as a deployment's ConfigMap, the Secret's variables in the environment, a new volume.
    config = tmp_path / "cameras.yaml"
    config.write_text(shown["export"])
    app = start_app(tmp_path, "deployed", tmp_path / "fresh-events", sample_model, EDGEFACE_CAMERAS_FILE=str(config),
                    EDGEFACE_CAMERA_DOOR_USER=USER, EDGEFACE_CAMERA_DOOR_PASSWORD=PASSWORD,
                    EDGEFACE_CAMERA_DOOR_IDENTIFY_USER=USER, EDGEFACE_CAMERA_DOOR_IDENTIFY_PASSWORD=PASSWORD)
    try:
        door = wait_until(lambda: (cam := app.camera("door")) and cam["online"] and cam["identify_online"] and cam,
                          what="the deployed camera and its identify stream online")
        assert door["name"] == "Front door" and app.camera("gate")["enabled"] is False
        shown["deployed cameras"] = app.get("/api/v1/cameras").text
    finally:
        app.stop()
    shown["deployed log"] = app.log()
    for where, text in shown.items():
        assert SECRET_PART not in text, f"the camera password appears in {where}"


def test_a_bad_cameras_file_stops_the_app_with_a_clear_message(tmp_path, sample_model):
    config = tmp_path / "cameras.yaml"
    config.write_text("cameras:\n  - id: door\n    url: rtsp://10.0.0.5/s\n    credentials_env: DOOR_CREDENTIALS\n")
    app = App(free_port(), {"EDGEFACE_API_TOKEN": TOKEN, "EDGEFACE_CAMERAS_FILE": str(config)},
              tmp_path / "app.log", "--model", str(sample_model))
    assert app.proc.wait(60) != 0
    assert "environment variable DOOR_CREDENTIALS is not set" in app.log()
    assert "Traceback" not in app.log()


def test_cameras_file_references_and_mistakes(tmp_path):
    config = tmp_path / "cameras.yaml"

    def load(text: str, **environ: str):
        config.write_text(text)
        return load_cameras_file(config, environ)

    cams = load("cameras:\n- {id: door, name: Door, url: 'rtsp://10.0.0.5/s', credentials_env: DOOR}\n"
                "- {id: yard, enabled: false, url: 'rtsp://${U}:${P}@10.0.0.6/s?token=${T}'}\n",
                DOOR="admin:p@ss:word", U="me", P="a/b", T="t&1")
    assert [(c.id, c.name, c.enabled) for c in cams] == [("door", "Door", None), ("yard", None, False)]
    assert cams[0].url == "rtsp://admin:p%40ss%3Aword@10.0.0.5/s"
    assert cams[1].url == "rtsp://me:a%2Fb@10.0.0.6/s?token=t%261"
    assert load("") == [] and load("cameras: []") == []
    # The camera's credentials serve its main stream too, unless that URL carries its own.
    [door] = load("cameras: [{id: d, url: 'rtsp://10.0.0.5/sub', identify_url: 'rtsp://10.0.0.5/main', "
                  "credentials_env: C}]", C="u:Pa55")
    assert door.identify_url == "rtsp://u:Pa55@10.0.0.5/main"
    [door] = load("cameras: [{id: d, url: 'rtsp://h/sub', identify_url: 'rtsp://v:w@h/main', credentials_env: C}]",
                  C="u:Pa55")
    assert door.identify_url == "rtsp://v:w@h/main" and door.url == "rtsp://u:Pa55@h/sub"
    mistakes = {
        "cameras: [{id: door, url: 'rtsp://${MISSING}@h/s'}]": "environment variable MISSING is not set",
        "cameras: [{id: Door!, url: 'rtsp://h/s'}]": "needs an 'id'",
        "cameras: [{id: d, url: 'rtsp://h/s', colour: red}]": "unknown key(s): colour",
        "cameras: [{id: d, url: 'rtsp://h/s'}, {id: d, url: 'rtsp://h/t'}]": "appears twice",
        "cameras: [{id: d, url: 'gopher://h/s'}]": "scheme 'gopher' is not supported",
        "cameras: [{id: d, url: 'rtsp://h/s', identify_url: 'gopher://h/m'}]": "identify_url: camera URL scheme",
        "cameras: [{id: d, url: 'rtsp://h/s', identify_url: 7}]": "'identify_url' must be the main stream's URL",
        "cameras: [{id: d, url: 'rtsp://h/s', credentials_env: C}]": "must hold user:password",
        "cameras: [{id: d, url: 'rtsp://u:p@h/s', credentials_env: D}]": "credentials_env names more",
        "cameras: [{id: d}": "not valid YAML at line 1",
        "- just a list": "one 'cameras' list",
    }
    for text, problem in mistakes.items():
        with pytest.raises(ConfigError) as err:
            load(text, C="nocolon", D="u:Pa55")
        assert problem in str(err.value), (text, str(err.value))
        assert SECRET_PART not in str(err.value) and "nocolon" not in str(err.value)
    with pytest.raises(ConfigError, match="cannot read EDGEFACE_CAMERAS_FILE"):
        load_cameras_file(tmp_path / "absent.yaml", {})


def test_export_references_every_secret_and_loads_back(tmp_path):
    url = "rtsp://admin:p%40ss@10.0.0.5:554/s1?channel=1&token=abc"
    template, values = templated(url, "CAM")
    assert template == "rtsp://${CAM_USER}:${CAM_PASSWORD}@10.0.0.5:554/s1?channel=1&token=${CAM_TOKEN}"
    assert values == {"CAM_USER": "admin", "CAM_PASSWORD": "p@ss", "CAM_TOKEN": "abc"}

    events = tmp_path / "events"
    events.mkdir()
    store = CameraConfigStore(open_database(events), events)
    main = "rtsp://admin:p%40ss@10.0.0.5:554/s0"
    store.save("door", url, identify_url=main)
    store.save("yard", "rtsp://10.0.0.6/s")
    assert [(c.url, c.identify_url) for c in store.saved()] == [(url, main), ("rtsp://10.0.0.6/s", None)]
    text = export_yaml(store.saved())
    assert "p@ss" not in text and "abc" not in text and "EDGEFACE_CAMERA_DOOR_PASSWORD" in text
    assert "EDGEFACE_CAMERA_DOOR_IDENTIFY_PASSWORD" in text
    (tmp_path / "cameras.yaml").write_text(text)
    env = {"EDGEFACE_CAMERA_DOOR_USER": "admin", "EDGEFACE_CAMERA_DOOR_PASSWORD": "p@ss",
           "EDGEFACE_CAMERA_DOOR_TOKEN": "abc", "EDGEFACE_CAMERA_DOOR_IDENTIFY_USER": "admin",
           "EDGEFACE_CAMERA_DOOR_IDENTIFY_PASSWORD": "p@ss"}
    loaded = load_cameras_file(tmp_path / "cameras.yaml", env)
    assert [(c.url, c.identify_url) for c in loaded] == [(url, main), ("rtsp://10.0.0.6/s", None)]
    store.set_identify("door", None)
    assert store.saved()[0].identify_url is None and "s0" not in (events / SECRETS_NAME).read_text()
    store.forget("door")
    assert [c.id for c in store.saved()] == ["yard"]
    assert "door" not in (events / SECRETS_NAME).read_text()


def test_the_cameras_component_mounts_its_list_and_the_secret_fills_it_in(tmp_path):
    """manifests/components/cameras in an overlay: renders and validates; the app is pointed at the
    ConfigMap's file, and the Secret template's keys are exactly what that file references."""
    overlay = tmp_path / "overlay"
    overlay.mkdir()
    manifests = os.path.relpath(REPO / "manifests", overlay)
    (overlay / "kustomization.yaml").write_text(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: edgeface\n"
        f"resources: [{manifests}/base]\ncomponents: [{manifests}/components/cameras]\n")
    rendered = subprocess.run([require_tool("kubectl"), "kustomize", str(overlay)], capture_output=True, text=True)
    assert rendered.returncode == 0, rendered.stderr
    (tmp_path / "rendered.yaml").write_text(rendered.stdout)
    checked = subprocess.run([require_tool("kubernetes-validate"), "--strict", "-k", "1.28.0",
                              str(tmp_path / "rendered.yaml")], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    docs = {(d["kind"], d["metadata"]["name"]): d for d in yaml.safe_load_all(rendered.stdout)}
    container = docs["Deployment", "edgeface"]["spec"]["template"]["spec"]["containers"][0]
    path = next(e["value"] for e in container["env"] if e["name"] == "EDGEFACE_CAMERAS_FILE")
    mount = next(m for m in container["volumeMounts"] if m["name"] == "cameras")
    assert path == f"{mount['mountPath']}/cameras.yaml"
    assert {"secretRef": {"name": "edgeface-camera-credentials"}} in container["envFrom"]
    (tmp_path / "cameras.yaml").write_text(docs["ConfigMap", "edgeface-cameras"]["data"]["cameras.yaml"])
    secret = yaml.safe_load((REPO / "manifests/components/cameras/secret.template.yaml").read_text())
    cams = load_cameras_file(tmp_path / "cameras.yaml", secret["stringData"])
    assert [c.url.split("@")[0] for c in cams] == ["rtsp://admin:REPLACE-ME", "rtsp://viewer:REPLACE-ME"]
    for key in secret["stringData"]:     # no key the list does not use
        with pytest.raises(ConfigError, match=f"variable {key} is not set"):
            load_cameras_file(tmp_path / "cameras.yaml", {k: v for k, v in secret["stringData"].items() if k != key})


def test_the_cameras_file_sets_privacy_and_the_export_keeps_it(tmp_path):
    from edgeface.cameras.config import ConfiguredCamera
    from edgeface.history.cameras import CameraSettingsStore

    config = tmp_path / "cameras.yaml"
    config.write_text("cameras:\n- {id: door, url: 'rtsp://10.0.0.5/s', privacy: blur-all-but-watchlist,\n"
                      "   watchlist: [Jane Doe], captures: allowed, unblurred: allowed, retention_days: 7}\n"
                      "- {id: yard, url: 'rtsp://10.0.0.6/s'}\n")
    door, yard = load_cameras_file(config, {})
    assert door.privacy == {"privacy": "blur-all-but-watchlist", "watchlist": ["Jane Doe"], "captures": "allowed",
                            "unblurred": "allowed", "retention_days": 7.0}
    assert yard.privacy is None                                  # the site's settings
    events = tmp_path / "events"
    events.mkdir()
    settings = CameraSettingsStore(open_database(events))
    settings.change("door", dict(door.privacy))
    assert settings.get("door").hides("John Roe") and not settings.get("door").hides("Jane Doe")
    again = yaml.safe_load(export_yaml([ConfiguredCamera("door", door.url, privacy=door.privacy)]))
    assert again["cameras"][0]["watchlist"] == ["Jane Doe"] and again["cameras"][0]["retention_days"] == 7.0
    for text, problem in {"privacy: blurry": "'privacy' must be one of off, blur-unknown",
                          "captures: yes": "'captures' must be one of allowed, denied",
                          "retention_days: 0": "'retention_days' must be a number"}.items():
        config.write_text(f"cameras:\n- {{id: door, url: 'rtsp://10.0.0.5/s', {text}}}\n")
        with pytest.raises(ConfigError, match="camera 'door' in") as err:
            load_cameras_file(config, {})
        assert problem in str(err.value), text

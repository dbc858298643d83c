"""Cameras found and kept: ONVIF cameras discovered on the link (listed, added only when an admin
confirms), and the camera configuration as YAML (``EDGEFACE_CAMERAS_FILE`` format)."""

from __future__ import annotations

from urllib.parse import quote, urlsplit, urlunsplit

from flask import Blueprint, Response, current_app, jsonify, request

from edgeface.cameras.discovery import DiscoveredDevice
from edgeface.cameras.onvif_media import OnvifError, camera_streams
from edgeface.cameras.urls import is_valid_camera_id, slugify
from edgeface.history.cameras import parse_changes
from webapp.auth import require_admin
from webapp.blueprints.common import service
from webapp.errors import error_response

bp = Blueprint("discovery", __name__, url_prefix="/api/v1")

ADD_HINT = ('POST {"username": "admin", "password": "...", "name": "Front door", '
            '"url": "rtsp://192.168.1.20:554/stream2", "identify_url": "rtsp://192.168.1.20:554/stream1"} '
            '(url and identify_url optional: without url the camera\'s ONVIF profiles give both)')


@bp.get("/cameras/export.yaml")
@require_admin
def export_cameras():
    """The cameras operators and the deployment gave, secrets as ``${VAR}`` references."""
    body = service().export_cameras()
    return Response(body, mimetype="application/yaml",
                    headers={"Content-Disposition": 'attachment; filename="cameras.yaml"'})


@bp.get("/discovered")
def list_discovered():
    devices = service().discovered()
    return jsonify(enabled=devices is not None, discovered=[d.as_json() for d in devices or []])


@bp.post("/discovered/<device_id>/add")
@require_admin
def add_discovered(device_id: str):
    """The admin's go-ahead: read this device, with these credentials (the first connection)."""
    device = next((d for d in service().discovered() or [] if d.id == device_id), None)
    if device is None:
        shown = device_id if is_valid_camera_id(device_id) else "(invalid id)"
        return error_response(404, f"no discovered device {shown}", "GET /api/v1/discovered lists them")
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or any(not isinstance(body.get(k, ""), str)
                                         for k in ("url", "username", "password", "name", "identify_url")):
        return error_response(400, "expected a JSON object of strings", ADD_HINT)
    # The PATCH route's check, for the admin's name and the one the device announced alike (before the
    # device is asked anything).
    name = parse_changes({"name": body.get("name", "").strip() or device.name})["name"]
    credentials = body.get("username", ""), body.get("password", "")
    # The main stream takes the same credentials (docs/cameras.md).
    url, identify = (_with_credentials(body[k], *credentials) if body.get(k) else "" for k in ("url", "identify_url"))
    if url is None or identify is None:
        field = "url" if url is None else "identify_url"
        return error_response(400, f"'{field}' must be an rtsp:// or rtsps:// URL without credentials in it",
                              "give the credentials as 'username' and 'password'")
    if not url:     # the camera's own profiles: its smallest stream and its largest (explicit ones win)
        try:
            streams = camera_streams(device.xaddrs, *credentials,
                                     current_app.config["EDGEFACE_SETTINGS"].cameras.allowed_networks)
        except OnvifError as err:
            return error_response(err.status, err.message, err.hint)
        # rtsp(s) URIs rebuilt from their checked address, without user info: credentials go in
        url = _with_credentials(streams.detect, *credentials) or ""
        identify = identify or (_with_credentials(streams.identify, *credentials) if streams.identify else "") or ""
    camera_id = _camera_id(name, device)
    camera_id = service().add_camera(url, camera_id, identify or None)
    if name:
        service().change_camera(camera_id, {"name": name})
    service().discovered_added(device_id, camera_id)
    status = service().camera(camera_id)
    return jsonify(status.as_json() if status else {"id": camera_id}), 201


def _with_credentials(url: str, username: str, password: str) -> str | None:
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    if parts.scheme.lower() not in ("rtsp", "rtsps") or "@" in parts.netloc:
        return None
    if username:
        userinfo = quote(username, safe="") + (":" + quote(password, safe="") if password else "")
        parts = parts._replace(netloc=f"{userinfo}@{parts.netloc}")
    return urlunsplit(parts)


def _camera_id(name: str | None, device: DiscoveredDevice) -> str | None:
    """Named after its name when free; else the discovery id (never clashes)."""
    if name:
        wanted = slugify(name)
        if is_valid_camera_id(wanted) and wanted not in service().camera_ids():
            return wanted
    return device.id

"""Probes, Prometheus metrics, and the camera registration endpoint of ESP32-CAM firmware."""

from __future__ import annotations

import logging

from flask import Blueprint, Response, current_app, jsonify, request
from prometheus_client import generate_latest

from edgeface.live.interface import CONTENT_TYPE, RegistrationRefused
from webapp.auth import count_failure, count_success, too_many_failures
from webapp.blueprints.common import service
from webapp.errors import error_response

log = logging.getLogger(__name__)
bp = Blueprint("ops", __name__)

MAX_TOKEN_LENGTH = 256
MAX_NAME_LENGTH = 64


@bp.get("/healthz")
def healthz():
    """Alive: the process answers. (Cameras and the model have their own status.)"""
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz():
    """Ready: a model is loaded, so recognition works."""
    model = service().model_status()
    if not model.loaded:
        body = {"ready": False, "reason": model.last_error or "the model is still loading"}
        return jsonify(body), 503
    return jsonify(ready=True, model_version=model.version)


@bp.get("/metrics")
def metrics():
    return Response(generate_latest(current_app.extensions["edgeface_metrics"]), content_type=CONTENT_TYPE)


@bp.get("/register")
def register():
    """``GET /register?ip=IP&token=TOKEN[&port=PORT][&name=NAME]``: a camera asks to be read.

    With ``EDGEFACE_CAMERA_TOKEN`` set, the token must equal it (see ``edgeface.live.admission``);
    it is also what the app sends back to pull the stream. The IP must be inside the allowed
    networks; that is checked before any connection is made. Wrong tokens are limited per client
    address (429 with ``Retry-After`` once used up). A ``name`` (printable, at most 64 characters)
    is kept and shown like a name announced over mDNS.
    """
    limited = too_many_failures("camera")
    if limited is not None:
        return limited
    args = request.args
    ip, token, port_text = args.get("ip", "").strip(), args.get("token"), args.get("port", "80")
    if not ip:
        return error_response(400, "missing 'ip' parameter", "call /register?ip=CAMERA_IP&token=TOKEN")
    if token is not None and (len(token) > MAX_TOKEN_LENGTH or not token.isprintable()):
        return error_response(400, "'token' is too long or contains control characters",
                              f"use a printable token of at most {MAX_TOKEN_LENGTH} characters")
    # isascii(): int() also reads Unicode digits such as '²' (and then fails) or '١'.
    if not (port_text.isascii() and port_text.isdigit() and len(port_text) <= 5) or not 0 < int(port_text) < 65536:
        return error_response(400, f"'port' {port_text[:20]!r} is not a TCP port",
                              "use 1-65535, or leave it out for 80")
    name = args.get("name", "").strip() or None
    if name is not None and (len(name) > MAX_NAME_LENGTH or not name.isprintable()):
        return error_response(400, "'name' is too long or contains control characters",
                              f"use a printable name of at most {MAX_NAME_LENGTH} characters")
    try:
        camera_id = service().register_device(ip, token or None, int(port_text), name=name)
    except RegistrationRefused as err:
        count_failure("camera")
        log.warning("registration from %s refused: %s", request.remote_addr, err.message)
        return error_response(403, err.message, err.hint)
    count_success("camera")
    return jsonify(status="registered", camera=camera_id)

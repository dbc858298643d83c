"""Every error leaves as JSON with what went wrong and what to do — never a bare 500 page."""

from __future__ import annotations

import logging

from flask import Flask, jsonify, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from edgeface.cameras.netpolicy import TargetRefused
from edgeface.errors import EdgefaceError

log = logging.getLogger(__name__)


def error_response(status: int, message: str, hint: str | None = None):
    body = {"error": message}
    if hint:
        body["hint"] = hint
    response = jsonify(body)
    response.status_code = status
    return response


def install_error_handlers(app: Flask) -> None:
    @app.errorhandler(TargetRefused)
    def _refused(err: TargetRefused):
        return error_response(403, err.message, err.hint)

    @app.errorhandler(EdgefaceError)
    def _user_error(err: EdgefaceError):
        return error_response(400, err.message, err.hint)

    @app.errorhandler(RequestEntityTooLarge)
    def _too_large(err):
        limit = app.config.get("MAX_CONTENT_LENGTH")
        return error_response(413, f"request body is larger than the limit of {limit} bytes",
                              "send a smaller image (faces need only ~100 px across)")

    @app.errorhandler(HTTPException)
    def _http(err: HTTPException):
        return error_response(err.code or 500, err.description or err.name)

    @app.errorhandler(Exception)
    def _bug(err: Exception):
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, "internal error", "see the server log")

"""The edgeface web app: operator pages, JSON API, MJPEG feeds, probes and camera registration.

``create_app()`` loads the settings tree from the environment once (gunicorn: ``webapp:create_app()``,
see ``webapp/gunicorn.conf.py``); ``edgeface serve`` passes ready-made settings instead.
"""

from __future__ import annotations

import logging

from flask import Flask

from edgeface import __version__, images
from edgeface.buildinfo import dlib_summary
from edgeface.live.service import LiveService
from webapp.auth import init_auth
from webapp.blueprints import api, discovery, feeds, ops, ui
from webapp.config import AppSettings
from webapp.errors import install_error_handlers
from webapp.proxies import TrustedProxyFix

log = logging.getLogger(__name__)


def create_app(settings: AppSettings | None = None, *, start: bool = True) -> Flask:
    """One app = one ``LiveService`` (cameras, model, workers). ``start=False`` builds it without
    starting threads; call ``app.extensions["edgeface"].close()`` to stop what ``start`` began."""
    settings = settings or AppSettings.from_env()
    images.configure(settings.max_image_pixels)   # uploads are decoded with this process-wide limit
    app = Flask(__name__)
    app.config.update(MAX_CONTENT_LENGTH=settings.max_upload_bytes, EDGEFACE_SETTINGS=settings)
    init_auth(app, settings.api_token, settings.secure_cookies, settings.viewer_token)
    install_error_handlers(app)
    app.wsgi_app = TrustedProxyFix(app.wsgi_app, settings.trusted_proxies, settings.proxy_hops)  # type: ignore[method-assign]
    for module in (ui, api, feeds, ops, discovery):
        app.register_blueprint(module.bp)
    app.jinja_env.globals["edgeface_version"] = __version__

    service = LiveService(settings.service)
    app.extensions["edgeface"] = service
    if start:
        log.info("starting edgeface %s: %s", __version__, settings.summary())
        log.info("face engine: %s", dlib_summary())  # the image's dlib build decides encoding speed
        if not settings.service.camera_token:
            log.warning("EDGEFACE_CAMERA_TOKEN is not set: any device in the allowed networks may register")
        service.start()
    return app

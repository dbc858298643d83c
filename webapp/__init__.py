"""The edgeface web app: operator pages, JSON API, MJPEG feeds, probes and camera registration.

``create_app()`` loads the settings tree from the environment once (gunicorn: ``webapp:create_app()``,
see ``webapp/gunicorn.conf.py``); ``edgeface serve`` passes ready-made settings instead.
"""

from __future__ import annotations

import logging

from flask import Flask
from pydantic import SecretStr

from edgeface import __version__, images
from edgeface.buildinfo import dlib_summary
from edgeface.live.collector import metrics_registry
from edgeface.live.service import LiveService
from edgeface.live.snapshot import take_snapshot
from edgeface.settings import Settings, load
from webapp.audit import install_audit
from webapp.auth import init_auth
from webapp.blueprints import alerts, api, corrections, discovery, feeds, ops, review, strangers, ui
from webapp.config import summary
from webapp.errors import install_error_handlers
from webapp.proxies import TrustedProxyFix

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None, *, start: bool = True) -> Flask:
    """One app = one ``LiveService`` (cameras, model, workers). ``start=False`` builds it without
    starting threads; call ``app.extensions["edgeface"].close()`` to stop what ``start`` began."""
    settings = settings or load()
    http = settings.http
    images.configure(settings.images.max_pixels)   # uploads are decoded with this process-wide limit
    app = Flask(__name__)
    app.config.update(MAX_CONTENT_LENGTH=http.max_upload_bytes, EDGEFACE_SETTINGS=settings)
    init_auth(app, _secret(http.api_token), http.secure_cookies, _secret(http.viewer_token))
    install_error_handlers(app)
    app.wsgi_app = TrustedProxyFix(app.wsgi_app, http.trusted_proxies, http.proxy_hops)  # type: ignore[method-assign]
    for module in (ui, api, review, corrections, strangers, alerts, feeds, ops, discovery):
        app.register_blueprint(module.bp)
    app.jinja_env.globals["edgeface_version"] = __version__

    service = LiveService(settings)
    app.extensions["edgeface"] = service
    app.extensions["edgeface_metrics"] = metrics_registry(lambda: take_snapshot(service))   # read at scrape time
    install_audit(app, service, settings.events)   # who did what: edgeface.history.audit
    if start:
        log.info("starting edgeface %s: %s", __version__, summary(settings))
        log.info("face engine: %s", dlib_summary())  # the image's dlib build decides encoding speed
        if not settings.cameras.token:
            log.warning("EDGEFACE_CAMERA_TOKEN is not set: any device in the allowed networks may register")
        service.start()
    return app


def _secret(value: SecretStr | None) -> str | None:
    """A token, taken out of its ``SecretStr`` where it is used."""
    return value.get_secret_value() if value else None

"""Running the app under gunicorn from Python (``edgeface serve``), with the repo's config file."""

from __future__ import annotations

import runpy
from pathlib import Path

from gunicorn.app.base import BaseApplication

from webapp.config import AppSettings

CONFIG_FILE = Path(__file__).with_name("gunicorn.conf.py")


def bind_address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class EdgefaceServer(BaseApplication):
    """gunicorn with ``webapp/gunicorn.conf.py``; bind, threads and log level from ``settings``."""

    def __init__(self, settings: AppSettings):
        self.settings = settings
        super().__init__(prog="edgeface serve")

    def load_config(self) -> None:
        for key, value in runpy.run_path(str(CONFIG_FILE)).items():
            if key in self.cfg.settings and key != "wsgi_app" and value is not None:
                self.cfg.set(key, value)
        self.cfg.set("bind", [bind_address(self.settings.host, self.settings.port)])
        self.cfg.set("threads", self.settings.threads)
        self.cfg.set("worker_connections", self.settings.threads * 2)
        self.cfg.set("loglevel", self.settings.log_level)

    def load(self):
        from webapp import create_app  # in the worker, after fork: threads start there
        return create_app(self.settings)

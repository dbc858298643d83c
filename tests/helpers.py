"""Helpers for tests of every area: ports, tools, running the CLI as a user would."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import NoReturn

import pytest

from edgeface.ports import free_port  # noqa: F401 - re-exported for the tests

REPO = Path(__file__).resolve().parents[1]


def wait_for_port(port: int, timeout: float = 30.0, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before listening on {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port} after {timeout} s")


def children_of(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (from /proc)."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def descendants(pid: int) -> list[int]:
    found = children_of(pid)
    return found + [d for child in found for d in descendants(child)]


def alive_process(pid: int) -> bool:
    """``pid`` runs (a zombie, exited but not yet reaped, does not count)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def missing_test_tool(message: str) -> NoReturn:
    """A tool the test needs is absent: fail under CI (never a silent skip), skip elsewhere."""
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def require_tool(name: str) -> str:
    """Path of a command-line tool; a missing tool fails under CI (never a silent skip)."""
    path = shutil.which(name)
    if path:
        return path
    missing_test_tool(f"{name} is not installed; scripts/run-tests.sh installs it")


def run_cli(*args: str, env: dict | None = None, check: bool = True,
            timeout: float = 300) -> subprocess.CompletedProcess:
    """Run ``python -m edgeface ARGS`` as a user would, capturing its output."""
    proc = subprocess.run([sys.executable, "-m", "edgeface", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=timeout, cwd=REPO)
    if check and proc.returncode != 0:
        raise AssertionError(f"edgeface {' '.join(args)} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc


def wait_until(predicate: Callable[[], object], timeout: float = 60.0, what: str = "condition",
               interval: float = 0.1, ignore: tuple[type[BaseException], ...] = ()):
    """Poll until ``predicate()`` is truthy and return its value; fail naming ``what``.

    Exceptions of the types in ``ignore`` (e.g. a server still starting) count as "not yet".
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = predicate()
        except ignore:
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


def unique(prefix: str) -> str:
    """Names for mDNS hosts and services: other test runs may share loopback multicast."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


#: Debian's chromium, headless, with nothing that calls home.
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run", "--disable-quic"]


@contextmanager
def headless_chromium():
    """A Playwright ``Browser`` on Debian's chromium; no playwright or chromium fails under CI."""
    exe = require_tool("chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing_test_tool("playwright is not installed: pip install playwright (uses Debian's chromium)")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=exe, headless=True, args=CHROMIUM_FLAGS)
        try:
            yield browser
        finally:
            browser.close()


def history_at(folder: Path, revision: str, *statements: str) -> None:
    """An event history database in ``folder`` at an older Alembic ``revision`` with ``statements``
    run on it: what an earlier pod left on the volume."""
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import create_engine, text

    from edgeface.history.db import DB_NAME, MIGRATIONS

    folder.mkdir(parents=True, exist_ok=True)
    engine = create_engine(f"sqlite:///{folder / DB_NAME}")
    with engine.begin() as conn:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes["connection"] = conn
        command.upgrade(config, revision)
        for statement in statements:
            conn.execute(text(statement))
    engine.dispose()


def photo_clip(media_dir: Path, photos: list[str], out: Path, size: tuple[int, int] = (640, 480), fps: int = 10,
               seconds: float = 3.0) -> Path:
    """A clip of photos (paths under ``media_dir``, or absolute), ``seconds`` each, drifting a little as a person
    in front of a camera does (the live pipeline skips detection on frames where nothing moved)."""
    import math

    import cv2
    import numpy as np

    writer = cv2.VideoWriter(str(out), cv2.VideoWriter.fourcc(*"mp4v"), fps, size)
    for rel in photos:
        photo = cv2.imread(str(media_dir / rel))
        assert photo is not None, rel
        scale = min(size[0] / photo.shape[1], size[1] / photo.shape[0])
        photo = cv2.resize(photo, (int(photo.shape[1] * scale), int(photo.shape[0] * scale)))
        canvas = np.zeros((size[1], size[0], 3), np.uint8)
        y, x = (size[1] - photo.shape[0]) // 2, (size[0] - photo.shape[1]) // 2
        canvas[y:y + photo.shape[0], x:x + photo.shape[1]] = photo
        for i in range(int(seconds * fps)):
            shift = np.array([[1, 0, 15 * math.sin(i / 4)], [0, 1, 8 * math.cos(i / 5)]], np.float32)
            writer.write(cv2.warpAffine(canvas, shift, size))
    writer.release()
    return out

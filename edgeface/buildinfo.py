"""Which dlib this process runs: version, BLAS, CUDA and the -march it was compiled for.

The app logs :func:`dlib_summary` at start-up, so a slow site can be told apart from a slow build
(the dlib-bin wheel encodes faces 4.5x slower than the OpenBLAS build: docs/dlib-build.md).
"""

from __future__ import annotations

import json
import os
import re
from importlib import metadata
from typing import Any

MARCH_ENV = "EDGEFACE_DLIB_MARCH"  # set by the app image from the wheel it installed


def _distribution() -> str:
    """Which package's files provide ``import dlib``: dlib (a source build) or dlib-bin."""
    for name in ("dlib", "dlib-bin"):
        try:
            metadata.distribution(name)
            return name
        except metadata.PackageNotFoundError:
            continue
    return "unknown"


def _march() -> str:
    """The -march of the build: the image's label, else the cache key scripts/build-dlib.sh puts
    in the wheel's path (…/dlib-VERSION-openblas-MARCH-cpXY-…/), else unknown."""
    if os.environ.get(MARCH_ENV):
        return os.environ[MARCH_ENV]
    try:
        text = metadata.distribution("dlib").read_text("direct_url.json") or "{}"
        url = json.loads(text).get("url", "")
    except (metadata.PackageNotFoundError, ValueError):
        return "unknown"
    found = re.search(r"/dlib-[^/]+-openblas-(.+?)-cp\d+-", url)
    return found.group(1) if found else "unknown"


def dlib_info() -> dict[str, Any]:
    """Facts about the importable dlib; ``{"version": None, ...}`` when it cannot be imported."""
    try:
        import dlib
    except ImportError as err:
        return {"version": None, "error": str(err)}
    return {
        "version": getattr(dlib, "__version__", "unknown"),
        "distribution": _distribution(),
        "blas": bool(getattr(dlib, "DLIB_USE_BLAS", False)),
        "lapack": bool(getattr(dlib, "DLIB_USE_LAPACK", False)),
        "cuda": bool(getattr(dlib, "DLIB_USE_CUDA", False)),
        "march": _march(),
    }


def dlib_summary() -> str:
    """One line for the start-up log, e.g. ``dlib 20.0.1 (dlib, BLAS yes, CUDA no, march x86-64-v3)``."""
    info = dlib_info()
    if info["version"] is None:
        return f"dlib not importable: {info['error']}"
    yes = {True: "yes", False: "no"}
    return (f"dlib {info['version']} ({info['distribution']}, BLAS {yes[info['blas']]}, "
            f"CUDA {yes[info['cuda']]}, march {info['march']})")

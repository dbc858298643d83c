"""The web app image, built for real by scripts/build-app-image.sh (bookworm base from mmdebstrap,
host wheelhouse, `podman build --network none`): it carries the OpenBLAS build of dlib that this
machine's install made, runs as a non-root user and holds no build tools, tests, notebook or
developer tools (edgeface.tools)."""

from __future__ import annotations

import json
import subprocess

import pytest
from helpers import REPO

pytestmark = pytest.mark.slow

# What the image holds, asked from inside it (its own python, its own dlib).
INSPECT = """
import importlib.util, json, os, shutil
from edgeface.buildinfo import dlib_info
print(json.dumps({
    "dlib": dlib_info(), "uid": os.getuid(), "gid": os.getgid(),
    "tools": [t for t in ("gcc", "cc", "g++", "make", "cmake", "nvcc") if shutil.which(t)],
    "modules": [m for m in ("pytest", "moto", "jupyterlab", "elyra", "kubernetes", "tests", "edgeface.tools")
                if importlib.util.find_spec(m)],
}))
"""
# Measured 831 MB: bookworm minbase + python3 + OpenBLAS 179 MB; OpenCV 176 MB, dlib's model weights
# (face_recognition_models) 129 MB, PyAV with its own FFmpeg 107 MB (main streams decoded on demand,
# issue 19), numpy 74 MB, botocore 32 MB. Growth past this bound is a regression.
MAX_IMAGE_MB = 880


def cached_dlib_wheel_march() -> str:
    """The -march of the dlib wheel scripts/build-dlib.sh built here (its cache folder names it)."""
    proc = subprocess.run([str(REPO / "scripts" / "build-dlib.sh"), "--wheel-only"], capture_output=True,
                          text=True, timeout=3600)
    assert proc.returncode == 0, proc.stderr
    folder = proc.stdout.strip().splitlines()[-1].rsplit("/", 2)[-2]   # dlib-V-openblas-MARCH-cpXY-…-rN
    return folder.split("-openblas-", 1)[1].rsplit("-cp", 1)[0]


def test_image_has_the_openblas_dlib_and_nothing_to_build_or_test_with(app_image):
    proc = app_image.podman.run(app_image.tag, "python", "-c", INSPECT)
    found = json.loads(proc.stdout.strip().splitlines()[-1])
    march = cached_dlib_wheel_march()
    assert found["dlib"]["distribution"] == "dlib", found   # the source build, not dlib-bin
    assert found["dlib"]["blas"] is True and found["dlib"]["cuda"] is False, found
    assert found["dlib"]["march"] == march, found
    assert found["uid"] == 1001 and found["gid"] == 0
    assert found["tools"] == [] and found["modules"] == [], found

    size_mb = int(app_image.podman("image", "inspect", "--format", "{{.Size}}", app_image.tag).stdout) / 1e6
    print(f"app image: {size_mb:.0f} MB, built or loaded in {app_image.seconds:.0f} s")
    assert size_mb < MAX_IMAGE_MB


def test_bad_setting_gives_one_clear_line_not_a_traceback(app_image):
    proc = app_image.podman("run", "--rm", "--network", "none", "--runtime", "/usr/sbin/runc",
                            "-e", "EDGEFACE_PORT=eighty", app_image.tag, check=False)
    assert proc.returncode != 0
    assert "EDGEFACE_PORT" in proc.stderr and "Traceback" not in proc.stderr, proc.stderr


def test_the_command_in_the_image_offers_the_edge_commands_only(app_image):
    proc = app_image.podman.run(app_image.tag, "edgeface", "--help")
    assert "serve" in proc.stdout and "model" in proc.stdout, proc.stdout
    assert "bench" not in proc.stdout and "demo" not in proc.stdout, proc.stdout   # tools stay off the edge
    asked = app_image.podman("run", "--rm", "--network", "none", "--runtime", "/usr/sbin/runc", app_image.tag,
                             "edgeface", "bench", "--cameras", "8", check=False)
    assert asked.returncode == 2 and "developer tool" in asked.stderr and "checkout" in asked.stderr, asked.stderr
    assert len(asked.stderr.strip().splitlines()) == 1 and "invalid choice" not in asked.stderr

"""edgeface.buildinfo: the start-up line that says which dlib a process (an image, a pod) runs."""

from __future__ import annotations

import subprocess

import dlib
from helpers import REPO

from edgeface import buildinfo


def test_summary_describes_the_imported_dlib(monkeypatch):
    monkeypatch.setenv(buildinfo.MARCH_ENV, "x86-64-v2")
    info = buildinfo.dlib_info()
    assert info["version"] == dlib.__version__
    assert info["blas"] is bool(dlib.DLIB_USE_BLAS) and info["cuda"] is bool(dlib.DLIB_USE_CUDA)
    assert info["march"] == "x86-64-v2"   # the image's word wins
    yes = "yes" if dlib.DLIB_USE_BLAS else "no"
    assert buildinfo.dlib_summary().startswith(f"dlib {dlib.__version__} ({info['distribution']}, BLAS {yes}, ")


def test_march_of_this_machines_source_build_comes_from_its_wheel(monkeypatch):
    monkeypatch.delenv(buildinfo.MARCH_ENV, raising=False)
    ours = subprocess.run([str(REPO / "scripts" / "build-dlib.sh"), "--check"], capture_output=True).returncode == 0
    info = buildinfo.dlib_info()
    if ours:   # installed by scripts/build-dlib.sh from its cache: the cache key names the -march
        assert info["distribution"] == "dlib" and info["march"] != "unknown", info
    else:      # dlib-bin (or a dlib from elsewhere): nothing says how it was compiled
        assert info["march"] == "unknown", info

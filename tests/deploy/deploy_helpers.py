"""Helpers of the deployment tests: the registry client, small real models, kustomize, podman.

A module of its own, not conftest.py: when one run collects several test folders, ``from conftest
import ...`` gets whichever folder's conftest pytest loaded last.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from urllib.request import urlopen

import numpy as np
import yaml
from helpers import REPO, require_tool

from edgeface.modelfile import FaceModel

BUSYBOX = "/bin/busybox"


class Registry:
    def __init__(self, host: str):
        self.host = host

    def repo(self) -> str:
        """A fresh repository name, so tests never see each other's images."""
        return f"{self.host}/edgeface/model-{uuid.uuid4().hex[:8]}"

    def tags(self, repo: str) -> list[str]:
        name = repo.split("/", 1)[1]
        try:
            with urlopen(f"http://{self.host}/v2/{name}/tags/list", timeout=10) as resp:
                return json.load(resp).get("tags") or []
        except OSError as err:  # 404: the repository does not exist (nothing was ever pushed)
            if getattr(err, "code", None) == 404:
                return []
            raise


def make_model(path: Path, names=("Ada Lovelace", "Grace Hopper", "Zoë")) -> Path:
    """A small but real model.data (random embeddings; the format is what matters here)."""
    rng = np.random.default_rng()
    labels = np.repeat(np.arange(len(names)), 2)
    embeddings = rng.normal(size=(len(labels), 128)).astype(np.float32)
    return FaceModel(embeddings, labels, list(names), {"created": "2026-11-24T00:00:00Z"}).save(path)


def render(path: Path) -> list[dict]:
    """The documents `kubectl kustomize PATH` renders."""
    proc = subprocess.run([require_tool("kubectl"), "kustomize", str(path)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return [d for d in yaml.safe_load_all(proc.stdout) if d]


def run_edgeface(*args: str, env: dict, timeout: float = 600, prefix: list[str] | None = None
                 ) -> subprocess.CompletedProcess:
    """``python -m edgeface ARGS`` with exactly ``env`` on top of a clean base (no inherited AWS_*).
    ``prefix``: what runs it, e.g. ``ip netns exec NS`` to run it in a pod's network namespace."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "EDGEFACE_"))}
    return subprocess.run([*(prefix or []), sys.executable, "-m", "edgeface", *args], capture_output=True,
                          text=True, env={**base, **env}, timeout=timeout, cwd=REPO)


def results_of(stdout: str) -> dict[str, str]:
    """The NAME=value lines `edgeface pipeline run` ends with."""
    return dict(line.split("=", 1) for line in stdout.splitlines() if "=" in line and line.split("=")[0].isupper())


class Podman:
    """podman with private storage and state, runc, no network and the required ulimits."""

    def __init__(self, root: Path):
        require_tool("podman")
        self.root = root
        (root / "tmp").mkdir(parents=True)
        conf = root / "containers.conf"
        # kube play has no --ulimit/--runtime flags: they come from this file
        conf.write_text('[containers]\ndefault_ulimits = ["nofile=20000:20000", "nproc=4096:4096"]\n'
                        '[engine]\nruntime = "runc"\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n'
                        '[engine.runtimes]\nrunc = ["/usr/sbin/runc"]\n')
        self.env = {**os.environ, "CONTAINERS_CONF": str(conf)}
        self.base = ["podman", "--root", str(root / "storage"), "--runroot", str(root / "run"),
                     "--tmpdir", str(root / "tmp"), "--storage-driver", "vfs"]

    def __call__(self, *args: str, check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess:
        proc = subprocess.run([*self.base, *args], capture_output=True, text=True, env=self.env, timeout=timeout)
        if check and proc.returncode != 0:
            raise AssertionError(f"podman {' '.join(args)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
        return proc

    def run(self, image: str, *args: str, volume: Path | None = None,
            check: bool = True) -> subprocess.CompletedProcess:
        mount = ["-v", f"{volume}:/model"] if volume is not None else []
        return self("run", "--rm", "--tls-verify=false", "--runtime", "/usr/sbin/runc", "--network", "none",
                    "--ulimit", "nofile=20000:20000", "--ulimit", "nproc=4096:4096",
                    *mount, image, *args, check=check)

    def build_env(self) -> dict[str, str]:
        """Environment for scripts/build-app-image.sh to use this podman (its storage and config)."""
        return {**self.env, "EDGEFACE_PODMAN": " ".join(self.base)}

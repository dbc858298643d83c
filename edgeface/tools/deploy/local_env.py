"""What a Tekton pod gives the pipeline's steps, provided on this machine for local runs.

- buildah storage: a private vfs root and runroot under the work directory (through
  ``CONTAINERS_STORAGE_CONF``, so the step scripts need no extra flags) and chroot isolation;
- the busybox base image: registries other than the local one cannot be reached here, so an
  image is built from this machine's statically linked busybox (Debian ``busybox-static``) and
  passed as ``BUSYBOX_IMAGE``, the role ``docker.io/library/busybox`` plays in the cluster;
- the ``edgeface`` command on ``PATH``, running this interpreter and this package.
"""

from __future__ import annotations

import os
import platform
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import edgeface
from edgeface.errors import ConfigError

LOCAL_BUSYBOX_IMAGE = "localhost/edgeface/busybox-static:local"
_PT_INTERP = 3  # ELF program header type naming a dynamic loader
_ARCHES = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}


def host_platform() -> str:
    machine = platform.machine().lower()
    return f"linux/{_ARCHES.get(machine, machine)}"


def is_static_elf(path: Path) -> bool:
    """True for a 64-bit little-endian ELF executable without a dynamic loader (PT_INTERP)."""
    data = path.read_bytes()
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        return False
    phoff, = struct.unpack_from("<Q", data, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
    return all(struct.unpack_from("<I", data, phoff + i * phentsize)[0] != _PT_INTERP for i in range(phnum))


class LocalBuildEnv:
    """A work directory with buildah storage, an ``edgeface`` shim and (on demand) the busybox base."""

    def __init__(self, workdir: str | Path):
        self.workdir = Path(workdir)
        self.storage_conf = self.workdir / "containers-storage.conf"
        self.bin_dir = self.workdir / "bin"

    def prepare(self) -> LocalBuildEnv:
        if not shutil.which("buildah"):
            raise ConfigError("buildah is not installed", "install it: apt-get install buildah")
        self.bin_dir.mkdir(parents=True, exist_ok=True)
        self.storage_conf.write_text(
            "[storage]\n"
            'driver = "vfs"\n'
            f'graphroot = "{self.workdir / "storage"}"\n'
            f'runroot = "{self.workdir / "storage-run"}"\n')
        shim = self.bin_dir / "edgeface"
        shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m edgeface "$@"\n')
        shim.chmod(0o755)
        return self

    @property
    def env(self) -> dict[str, str]:
        """Variables to add to the steps' environment."""
        package_root = str(Path(edgeface.__file__).resolve().parents[1])
        return {"CONTAINERS_STORAGE_CONF": str(self.storage_conf), "BUILDAH_ISOLATION": "chroot",
                "PATH": f"{self.bin_dir}:{os.environ.get('PATH', '/usr/bin:/bin')}",
                "PYTHONPATH": package_root}

    def buildah(self, *args: str) -> str:
        proc = subprocess.run(["buildah", *args], capture_output=True, text=True,
                              env={**os.environ, **self.env})
        if proc.returncode != 0:
            raise ConfigError(f"buildah {args[0]} failed: {proc.stderr.strip()[-500:]}", "check the buildah setup")
        return proc.stdout.strip()

    def seed_busybox(self, busybox: str | Path | None = None) -> str:
        """Build the busybox base image from this machine's static busybox; returns its name."""
        found = busybox or shutil.which("busybox")
        if not found or not is_static_elf(Path(found)):
            raise ConfigError(f"no statically linked busybox here ({found or 'none on PATH'})",
                              "install it: apt-get install busybox-static")
        context = self.workdir / "busybox-context"
        context.mkdir(parents=True, exist_ok=True)
        shutil.copy2(found, context / "busybox")
        (context / "Containerfile").write_text("FROM scratch\nCOPY busybox /bin/busybox\n")
        self.buildah("build", "--quiet", "--timestamp", "0", "-t", LOCAL_BUSYBOX_IMAGE, str(context))
        return LOCAL_BUSYBOX_IMAGE

    def cleanup(self) -> None:
        shutil.rmtree(self.workdir, ignore_errors=True)

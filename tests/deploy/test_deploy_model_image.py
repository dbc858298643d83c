"""The model image on its own (init-container/Containerfile + entrypoint.sh), built and run with
podman: it delivers its model atomically, and refuses clearly when something is wrong."""

from __future__ import annotations

import hashlib
import io
import shutil
import subprocess
import tarfile

import pytest
from deploy_helpers import BUSYBOX, make_model

from edgeface.tools.deploy.tekton import INIT_CONTAINER_DIR

BUSYBOX_IMAGE = "localhost/edgeface-test/busybox-static:1"


def build_model_image(podman, tmp_path, recorded_sha256: str | None = None) -> tuple[str, bytes]:
    """Build the model image around a fresh model; ``recorded_sha256`` fakes a corrupt build."""
    base = tmp_path / "busybox"
    base.mkdir()
    shutil.copy2(BUSYBOX, base / "busybox")
    (base / "Containerfile").write_text("FROM scratch\nCOPY busybox /bin/busybox\n")
    podman("build", "--network", "none", "--timestamp", "0", "-t", BUSYBOX_IMAGE, str(base))

    context = tmp_path / "context"
    context.mkdir()
    for name in ("Containerfile", "entrypoint.sh"):
        shutil.copy2(INIT_CONTAINER_DIR / name, context / name)
    model = make_model(context / "model.data").read_bytes()
    sha256 = hashlib.sha256(model).hexdigest()
    (context / "model.data.sha256").write_text(f"{recorded_sha256 or sha256}  model.data\n")
    tag = "localhost/edgeface-test/model:1"
    podman("build", "--network", "none", "--timestamp", "0", "--build-arg", f"BUSYBOX_IMAGE={BUSYBOX_IMAGE}",
           "--build-arg", "MODEL_VERSION=20261124T000000Z", "--build-arg", f"MODEL_SHA256={sha256}",
           "-t", tag, str(context))
    return tag, model


def writable_dir(path):
    path.mkdir()
    path.chmod(0o777)  # like an emptyDir; the image runs as a non-root user
    return path


@pytest.mark.slow
def test_delivers_atomically_replacing_an_old_model(podman, tmp_path):
    image, model = build_model_image(podman, tmp_path)
    target = writable_dir(tmp_path / "volume")
    (target / "model.data").write_bytes(b"the previous model")
    proc = podman.run(image, volume=target)
    assert (target / "model.data").read_bytes() == model
    assert sorted(p.name for p in target.iterdir()) == ["model.data"]
    assert "delivered model 20261124T000000Z to /model/model.data" in proc.stdout
    assert podman("image", "inspect", "--format", "{{.Config.User}}", image).stdout.strip() == "65532:65532"
    assert files_in(podman, image) == {"bin/busybox", "edgeface/entrypoint.sh", "edgeface/model.data",
                                       "edgeface/model.data.sha256"}  # nothing else


def files_in(podman, image: str) -> set[str]:
    container = podman("create", "--network", "none", image).stdout.strip()
    try:
        exported = subprocess.run([*podman.base, "export", container], capture_output=True, env=podman.env,
                                  check=True).stdout
    finally:
        podman("rm", container)
    with tarfile.open(fileobj=io.BytesIO(exported)) as tar:
        return {m.name.lstrip("./") for m in tar.getmembers() if m.isfile()}


@pytest.mark.slow
def test_corrupt_image_refuses_to_deliver(podman, tmp_path):
    image, _ = build_model_image(podman, tmp_path, recorded_sha256="0" * 64)
    target = writable_dir(tmp_path / "volume")
    proc = podman.run(image, volume=target, check=False)
    assert proc.returncode == 1
    assert "was built with 0000" in proc.stderr and "the image is corrupt" in proc.stderr
    assert list(target.iterdir()) == []


@pytest.mark.slow
def test_unwritable_or_missing_target_is_explained(podman, tmp_path):
    image, _ = build_model_image(podman, tmp_path)
    readonly = tmp_path / "readonly"
    readonly.mkdir(mode=0o755)  # owned by root: the image's user cannot write there
    proc = podman.run(image, volume=readonly, check=False)
    assert proc.returncode == 1
    assert "cannot write into /model" in proc.stderr and "emptyDir" in proc.stderr
    assert list(readonly.iterdir()) == []

    proc = podman.run(image, "/nowhere", volume=readonly, check=False)
    assert proc.returncode == 1
    assert "target directory /nowhere does not exist: mount a volume there" in proc.stderr

"""The two Containerfiles, checked as far as this machine allows: hadolint, and their structure.

The web app image cannot be built here (its bases, python:3.11-slim and the CUDA images, cannot
be pulled: only PyPI, Debian and npm are reachable). The model image is built for real in
test_deploy_model_image.py and test_deploy_local_pipeline.py.
"""

from __future__ import annotations

import ast
import json
import subprocess

from deploy_helpers import render
from helpers import REPO, require_tool

APP = REPO / "Containerfile"
MODEL = REPO / "init-container" / "Containerfile"


def instructions(path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    lines = [line for line in path.read_text().splitlines() if not line.lstrip().startswith("#")]
    text = "\n".join(lines).replace("\\\n", " ")
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1].strip() if " " in line.strip() else "")
            for line in text.splitlines() if line.strip()]


def final_stage(path) -> list[tuple[str, str]]:
    steps = instructions(path)
    start = max(i for i, (op, _) in enumerate(steps) if op == "FROM")
    return steps[start:]


def hadolint(path) -> subprocess.CompletedProcess:
    return subprocess.run([require_tool("hadolint"), "--no-color", str(path)], capture_output=True, text=True)


def test_hadolint_passes_both_containerfiles():
    for path in (APP, MODEL):
        proc = hadolint(path)
        assert proc.returncode == 0, proc.stdout + proc.stderr


def test_hadolint_would_catch_a_bad_one(tmp_path):
    bad = tmp_path / "Containerfile"
    bad.write_text("FROM debian\nRUN cd /tmp && apt-get install curl\n")
    assert hadolint(bad).returncode != 0


def test_web_app_image_runs_gunicorn_as_non_root_with_the_apps_config():
    final = final_stage(APP)
    user = next(arg for op, arg in reversed(final) if op == "USER")
    assert user.split(":")[0] not in ("root", "0")
    cmd = json.loads(next(arg for op, arg in final if op == "CMD"))
    assert cmd[:2] == ["gunicorn", "--config"]
    copied = {arg.split()[-1]: arg.split()[-2] for op, arg in final if op == "COPY" and "--from" not in arg}
    assert copied[cmd[2]] == "webapp/gunicorn.conf.py"
    conf = ast.parse((REPO / "webapp" / "gunicorn.conf.py").read_text())
    app = next(node.value.value for node in conf.body if isinstance(node, ast.Assign)
               and node.targets[0].id == "wsgi_app")
    module, factory = app.split(":")
    assert f"def {factory.removesuffix('()')}(" in (REPO / module / "__init__.py").read_text()


def test_web_app_image_agrees_with_the_manifests():
    env = " ".join(arg for op, arg in final_stage(APP) if op == "ENV")
    expose = next(arg for op, arg in final_stage(APP) if op == "EXPOSE")
    config = next(d for d in render(REPO / "manifests" / "base") if d["kind"] == "ConfigMap")["data"]
    assert f"EDGEFACE_PORT={config['EDGEFACE_PORT']}" in env and expose == config["EDGEFACE_PORT"]
    assert f"MODEL_FILENAME={config['MODEL_FILENAME']}" in env


def test_every_copied_source_exists_and_the_variant_switch_is_checked():
    for op, arg in instructions(APP):
        if op == "COPY" and "--from" not in arg:
            for source in [word for word in arg.split()[:-1] if not word.startswith("--")]:
                assert (REPO / source).exists(), source
    text = APP.read_text()
    assert "ARG VARIANT=cpu" in text and "VARIANT must be cpu or cuda" in text
    assert "DLIB_USE_CUDA=1" in text and "dlib.DLIB_USE_CUDA" in text  # the CUDA build proves itself


def test_model_image_has_no_run_and_only_files():
    steps = instructions(MODEL)
    assert not [arg for op, arg in steps if op == "RUN"]  # builds for any platform without emulation
    final = final_stage(MODEL)
    assert final[0] == ("FROM", "scratch")
    assert next(arg for op, arg in reversed(final) if op == "USER") == "65532:65532"
    assert json.loads(next(arg for op, arg in final if op == "ENTRYPOINT")) == [
        "/bin/busybox", "sh", "/edgeface/entrypoint.sh"]

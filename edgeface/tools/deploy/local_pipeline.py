"""``edgeface pipeline run --local``: the whole pipeline on this machine, from the Tasks' own scripts.

Workspaces become directories under a work directory: ``source`` is empty scratch space (a
volumeClaimTemplate in the cluster), ``recipe`` holds the files the recipe ConfigMap is
generated from, ``dockerconfig`` an optional registry auth file. The data-connection Secret is
a dict (the CLI fills it from this shell's ``AWS_*`` variables).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from edgeface.s3config import ENV_VARS
from edgeface.tools.deploy.local_env import LocalBuildEnv, host_platform
from edgeface.tools.deploy.local_runner import EventHandler, LocalRunner, host_env, print_events
from edgeface.tools.deploy.tekton import load_definition


def secrets_from_env(name: str, env: dict[str, str]) -> dict[str, dict[str, str]]:
    """A data-connection Secret called ``name`` holding the AWS_* variables set in ``env``."""
    return {name: {key: env[key] for key in ENV_VARS if env.get(key)}}


def run_locally(params: dict[str, str], secrets: dict[str, dict[str, str]], workdir: str | Path | None = None,
                keep: bool = False, authfile: str | Path | None = None, init_container_dir: str | Path | None = None,
                on_event: EventHandler = print_events) -> dict[str, str]:
    """Run the pipeline here; returns its results (MODEL_VERSION, MODEL_SHA256, IMAGE_URL, IMAGE_DIGEST)."""
    definition = load_definition(init_container_dir)
    work = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="edgeface-pipeline-"))
    env = LocalBuildEnv(work)
    try:
        env.prepare()
        params = dict(params)
        params.setdefault("PLATFORMS", host_platform())  # the local busybox exists for this machine only
        if "BUSYBOX_IMAGE" not in params:
            params["BUSYBOX_IMAGE"] = env.seed_busybox()
        recipe = _folder(work / "recipe")
        workspaces: dict[str, Path | None] = {"source": _folder(work / "source"), "recipe": recipe,
                                              "dockerconfig": None}
        for path in definition.recipe_files:
            shutil.copy2(path, recipe / path.name)
        if authfile:
            dockerconfig = workspaces["dockerconfig"] = _folder(work / "dockerconfig")
            shutil.copy2(authfile, dockerconfig / "config.json")
        runner = LocalRunner(definition, work / "runs", host_env(env.env), secrets, on_event)
        return runner.run_pipeline(params, workspaces)
    finally:
        if not keep:
            env.cleanup()


def _folder(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path

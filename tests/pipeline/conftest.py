"""Fixtures for the training pipeline: a private copy of model-training-pipeline/ to run in, and
its workflow module loaded from there."""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from pathlib import Path

import pytest
from helpers import REPO

PIPELINE_DIR = REPO / "model-training-pipeline"


@pytest.fixture
def workspace(tmp_path) -> Path:
    """An Elyra workspace root holding a copy of model-training-pipeline/.

    Elyra runs nodes in place and writes outputs into notebooks, so tests never run in the checkout.
    """
    root = tmp_path / "workspace"
    shutil.copytree(PIPELINE_DIR, root / PIPELINE_DIR.name,
                    ignore=shutil.ignore_patterns("artifacts", "model-store", ".ipynb_checkpoints", "__pycache__"))
    return root


@pytest.fixture
def run_env(tmp_path) -> dict:
    """The environment for `elyra-pipeline` and kernels: this process's, without edgeface settings
    from outside the test, and with Jupyter's state in the test's own folder."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("EDGEFACE_")}
    for var in ("JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR", "JUPYTER_CONFIG_DIR"):
        env[var] = str(tmp_path / "jupyter" / var.lower())
    return env


@pytest.fixture(scope="session")
def workflow():
    """model-training-pipeline/workflow.py, imported under a name no other test module uses."""
    spec = importlib.util.spec_from_file_location("edgeface_training_workflow", PIPELINE_DIR / "workflow.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is created
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def shipped_people() -> list[str]:
    """Names of the people whose photos ship in model-training-pipeline/face-images/."""
    return sorted(p.name for p in (PIPELINE_DIR / "face-images").iterdir() if p.is_dir() and any(p.iterdir()))

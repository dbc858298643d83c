"""The steps behind the notebook and the pipeline nodes (model-training-pipeline/workflow.py),
on a real model and a model store in a directory; the S3 runs are in test_elyra_pipeline.py."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from edgeface.errors import ConfigError, EdgefaceError
from edgeface.modelfile import FaceModel
from edgeface.store import open_store


@pytest.fixture
def settings(workflow, tmp_path, sample_model):
    """Settings whose artifacts folder already holds a trained model (as after the train step)."""
    s = workflow.Settings(images=tmp_path / "unused", artifacts=tmp_path / "artifacts", tolerance=0.6,
                          min_accuracy=0.9, store=str(tmp_path / "store"))
    s.artifacts.mkdir()
    shutil.copy(sample_model, s.model)
    return s


def test_settings_come_from_the_environment(workflow, monkeypatch):
    monkeypatch.setenv("EDGEFACE_IMAGES", "/data/faces")
    monkeypatch.setenv("EDGEFACE_MIN_ACCURACY", "0.75")
    monkeypatch.delenv("EDGEFACE_TOLERANCE", raising=False)
    monkeypatch.delenv("EDGEFACE_STORE", raising=False)
    s = workflow.Settings.from_env()
    assert str(s.images) == "/data/faces" and s.min_accuracy == 0.75
    assert s.tolerance == 0.6 and s.store is None


@pytest.mark.parametrize("value", ["high", "1.5", "nan", "-0.1"])
def test_a_bad_setting_names_the_variable(workflow, monkeypatch, value):
    monkeypatch.setenv("EDGEFACE_MIN_ACCURACY", value)
    with pytest.raises(ConfigError, match="EDGEFACE_MIN_ACCURACY") as err:
        workflow.Settings.from_env()
    assert err.value.hint


def test_evaluate_then_upload_publishes_the_model(workflow, settings):
    evaluation, _ = workflow.evaluate_step(settings)
    assert evaluation["passed"] and settings.distances_png.stat().st_size > 0
    version = workflow.upload_step(settings)
    store = open_store(settings.store)
    assert store.latest() == version
    published = json.loads(settings.published.read_text())
    assert published["version"] == version and published["identities"] == FaceModel.load(settings.model).names
    assert store.manifest(version)["sha256"] == evaluation["model_sha256"]


def test_a_model_below_the_quality_gate_is_not_uploaded(workflow, settings):
    """A photo filed under the wrong person costs leave-one-out accuracy; the gate stops the upload."""
    model = FaceModel.load(settings.model)
    obama, biden = model.names.index("Barack Obama"), model.names.index("Joe Biden")
    labels = model.labels.copy()
    labels[np.flatnonzero(labels == obama)[0]] = biden
    FaceModel(model.embeddings, labels, model.names, model.metadata).save(settings.model)

    with pytest.raises(EdgefaceError, match="below the required 90%") as err:
        workflow.evaluate_step(settings)
    assert "EDGEFACE_MIN_ACCURACY" in err.value.hint
    evaluation = json.loads(settings.evaluation.read_text())  # kept for the data scientist to read
    assert evaluation["passed"] is False and evaluation["leave_one_out"]["mistakes"]
    with pytest.raises(EdgefaceError, match="failed evaluation"):
        workflow.upload_step(settings)
    assert open_store(settings.store).versions() == []


def test_upload_refuses_a_model_that_was_not_evaluated(workflow, settings, sample_model):
    with pytest.raises(EdgefaceError, match="run the evaluate step"):
        workflow.upload_step(settings)
    workflow.evaluate_step(settings)
    # the model changes after evaluation (e.g. train ran again): the evaluation no longer applies
    model = FaceModel.load(sample_model)
    FaceModel(model.embeddings[1:], model.labels[1:], model.names, model.metadata).save(settings.model)
    with pytest.raises(EdgefaceError, match="belongs to another model"):
        workflow.upload_step(settings)
    settings.model.unlink()
    with pytest.raises(EdgefaceError, match="run the train and evaluate steps"):
        workflow.upload_step(settings)
    assert open_store(settings.store).versions() == []

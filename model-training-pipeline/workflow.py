"""The three steps of the training workflow — train, evaluate, upload — shared by the notebook
(training-workflow.ipynb, run cell by cell) and the Elyra pipeline nodes (train.py, evaluate.py,
upload.py, run headless). Each step is a few calls into ``edgeface``, the same calls the CLI makes
for ``edgeface train`` and ``edgeface model push``.

Files pass between steps through the artifacts folder (the nodes' declared ``outputs``):
``model.data`` and ``model.report.json`` from train, ``evaluation.json`` and ``distances.png``
from evaluate, ``published.json`` from upload.

Settings come from environment variables, so the same files run in a workbench, under
``elyra-pipeline run`` (nodes inherit its environment) and on Kubeflow (node ``env_vars`` and
``kubernetes_secrets``): the ``training`` section of edgeface's settings tree (docs/settings.md),
loaded once per node by ``run_node``. S3 uses the RHODS data-connection variables
(``AWS_S3_ENDPOINT``, ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_S3_BUCKET``,
``AWS_DEFAULT_REGION``); no step prints any of their values except endpoint and bucket.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from edgeface import settings as edgeface_settings
from edgeface.errors import EdgefaceError
from edgeface.evaluation import distance_figure, evaluate_model, figure_png, pair_distances
from edgeface.modelfile import FaceModel, atomic_write, sha256_file
from edgeface.store import open_store
from edgeface.training import check_complete, load_report, report_lines, save_with_report, train


@dataclass(frozen=True)
class Settings:
    """What the steps use; meanings, defaults and variable names: ``training`` in docs/settings.md."""
    images: Path  # one sub-folder of face images per person
    artifacts: Path  # where steps leave files for the next step
    tolerance: float  # match distance the web app uses; evaluation measures at this value
    min_accuracy: float  # quality gate on leave-one-out accuracy
    store: str | None  # s3://BUCKET/PREFIX or a directory; None: edgeface's default (data connection)
    # The whole tree: S3 credentials for the upload, SOURCE_DATE_EPOCH for training.
    edgeface: edgeface_settings.Settings = field(default_factory=edgeface_settings.Settings, repr=False)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        tree = edgeface_settings.load(environ)
        t = tree.training
        return cls(images=t.images, artifacts=t.artifacts, tolerance=t.tolerance, min_accuracy=t.min_accuracy,
                   store=tree.model.store, edgeface=tree)

    @property
    def model(self) -> Path:
        return self.artifacts / "model.data"

    @property
    def evaluation(self) -> Path:
        return self.artifacts / "evaluation.json"

    @property
    def distances_png(self) -> Path:
        return self.artifacts / "distances.png"

    @property
    def published(self) -> Path:
        return self.artifacts / "published.json"


def _write_json(path: Path, data: dict) -> None:
    atomic_write(path, json.dumps(data, indent=2, ensure_ascii=False).encode())


def train_step(s: Settings) -> tuple[FaceModel, dict]:
    """Enrol every usable image; write model.data and its report (as `edgeface train` does). A
    person whose folder has no usable image stops the pipeline here, before anything is published."""
    model, report = train(s.images, progress=False, source_date_epoch=s.edgeface.training.source_date_epoch)
    for line in report_lines(report):
        print(line)
    check_complete(report)
    save_with_report(model, report, s.model)
    print(f"trained {s.model}: {model.identity_count} people from {report['used']} of {report['images']} images")
    return model, report


def evaluate_step(s: Settings, model: FaceModel | None = None):
    """Measure the model, write evaluation.json and distances.png; fail below the quality gate.

    Returns ``(evaluation, figure)``. The files are written even when the gate fails, so the
    reason can be looked at.
    """
    model = model or FaceModel.load(s.model)
    evaluation = evaluate_model(model, s.tolerance)
    loo = evaluation["leave_one_out"]
    accuracy = loo["accuracy"]
    evaluation["model_sha256"] = sha256_file(s.model)
    evaluation["min_accuracy"] = s.min_accuracy
    evaluation["passed"] = accuracy is None or accuracy >= s.min_accuracy
    figure = distance_figure(pair_distances(model.embeddings, model.labels), s.tolerance)
    atomic_write(s.distances_png, figure_png(figure))
    _write_json(s.evaluation, evaluation)

    if accuracy is None:
        print("leave-one-out accuracy cannot be measured: every person has a single image (add a second one each)")
    else:
        print(f"leave-one-out accuracy {accuracy:.1%} ({loo['correct']}/{loo['evaluated']}) "
              f"at tolerance {s.tolerance:g}")
    for m in loo["mistakes"]:
        print(f"  {m['true_name']} taken for {m['predicted_name']} (distance {m['distance']:.3f})")
    if not evaluation["passed"]:
        raise EdgefaceError(
            f"leave-one-out accuracy {accuracy:.1%} is below the required {s.min_accuracy:.0%}; "
            "the model is not uploaded",
            "look at the mistakes in evaluation.json, fix or add images, or lower EDGEFACE_MIN_ACCURACY",
        )
    return evaluation, figure


def upload_step(s: Settings) -> str:
    """Publish the evaluated model as a new version in the store and point ``latest`` at it."""
    evaluation = _passed_evaluation(s)
    store = open_store(s.store, s.edgeface)
    version = store.push(s.model, training_report=load_report(s.model), evaluation=evaluation)
    published = {
        "version": version,
        "store": store.where,
        "identities": store.manifest(version)["identities"],
        "leave_one_out_accuracy": evaluation["leave_one_out"]["accuracy"],
    }
    _write_json(s.published, published)
    print(f"published {store.where}/{version} ({len(published['identities'])} people); latest -> {version}")
    return version


def _passed_evaluation(s: Settings) -> dict:
    """The evaluation of exactly this model file, if it passed: nothing unevaluated gets uploaded."""
    if not s.model.is_file():
        raise EdgefaceError(f"{s.model} not found", "run the train and evaluate steps before uploading")
    try:
        evaluation = json.loads(s.evaluation.read_text())
    except FileNotFoundError:
        raise EdgefaceError(f"{s.evaluation} not found", "run the evaluate step before uploading") from None
    except (OSError, ValueError) as err:
        raise EdgefaceError(f"{s.evaluation} cannot be read ({err.__class__.__name__})",
                            "run the evaluate step again") from None
    if not isinstance(evaluation, dict):
        raise EdgefaceError(f"{s.evaluation} is not an evaluation", "run the evaluate step again")
    if evaluation.get("model_sha256") != sha256_file(s.model):
        raise EdgefaceError(
            f"{s.evaluation} belongs to another model than {s.model}", "run the evaluate step again"
        )
    if not evaluation.get("passed"):
        raise EdgefaceError(f"{s.model} failed evaluation; not uploading", "see evaluation.json")
    return evaluation


def run_node(step) -> None:
    """Entry point of a pipeline node: run ``step(Settings.from_env())`` (the settings are loaded
    once, here); exit 2 on a user error.

    Elyra's local runtime captures a node's stderr and, on failure, shows only the text from the
    last line containing "Error", so the message goes there in that shape (and to stdout in full).
    """
    try:
        step(Settings.from_env())
    except EdgefaceError as err:
        print(f"edgeface: error: {err}", flush=True)
        sys.stderr.write(f"\n{type(err).__name__}: {err}\n")
        sys.exit(2)

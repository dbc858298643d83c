"""The model-image pipeline's Tekton YAML as data, and Tekton's ``$(...)`` variable substitution.

The YAML in ``init-container/`` is the single source: the cluster applies it, and the local
runner executes the very same step scripts after substituting variables the way Tekton does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from edgeface.errors import ConfigError
from edgeface.tools.deploy import PIPELINE_NAME, RECIPE_CONFIGMAP

INIT_CONTAINER_DIR = Path(__file__).resolve().parents[3] / "init-container"

# Only these prefixes are Tekton's; anything else in $(...) is shell command substitution.
_VARIABLE = re.compile(r"\$\((params|results|workspaces|context|tasks)\.([A-Za-z0-9_.-]+)\)")


@dataclass
class PipelineDefinition:
    pipeline: dict
    tasks: dict[str, dict]          # Task documents by metadata.name
    recipe_files: list[Path]        # what the ConfigMap bound to the "recipe" workspace holds

    def task(self, name: str) -> dict:
        if name not in self.tasks:
            raise ConfigError(f"Task {name!r} is referenced by the pipeline but not defined",
                              "add it to init-container/tekton/")
        return self.tasks[name]


def load_definition(root: str | Path | None = None) -> PipelineDefinition:
    """Read the Pipeline, its Tasks and the recipe file list from ``init-container/``."""
    root = Path(root) if root else INIT_CONTAINER_DIR
    tekton_dir = root / "tekton"
    if not tekton_dir.is_dir():
        raise ConfigError(f"{tekton_dir} not found",
                          "run from a source checkout of edgeface, or pass --init-container-dir")
    pipelines, tasks = {}, {}
    for path in sorted(tekton_dir.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc and doc.get("kind") == "Pipeline":
                pipelines[doc["metadata"]["name"]] = doc
            elif doc and doc.get("kind") == "Task":
                tasks[doc["metadata"]["name"]] = doc
    if PIPELINE_NAME not in pipelines:
        raise ConfigError(f"no Pipeline {PIPELINE_NAME} in {tekton_dir}", "restore init-container/tekton/pipeline.yaml")
    return PipelineDefinition(pipelines[PIPELINE_NAME], tasks, _recipe_files(root))


def _recipe_files(root: Path) -> list[Path]:
    """Files of the recipe ConfigMap, read from the kustomization that generates it."""
    try:
        kustomization = yaml.safe_load((root / "kustomization.yaml").read_text()) or {}
    except FileNotFoundError:
        raise ConfigError(f"{root / 'kustomization.yaml'} not found",
                          "restore it, or pass --init-container-dir pointing at an init-container/ folder") from None
    for generator in kustomization.get("configMapGenerator", []):
        if generator["name"] == RECIPE_CONFIGMAP:
            return [root / name for name in generator["files"]]
    raise ConfigError(f"{root / 'kustomization.yaml'} generates no ConfigMap {RECIPE_CONFIGMAP}",
                      "restore its configMapGenerator")


def substitute(text: str, values: dict[str, str], where: str) -> str:
    """Replace Tekton variables; an unknown one is an error, as Tekton's validation makes it."""
    def value_of(match: re.Match) -> str:
        key = f"{match.group(1)}.{match.group(2)}"
        if key not in values:
            raise ConfigError(f"{where}: unknown variable $({key})", "fix the Task or Pipeline YAML")
        return values[key]

    return _VARIABLE.sub(value_of, text)


def bind_params(declared: list[dict], given: dict[str, str], where: str) -> dict[str, str]:
    """Declared params with defaults filled in; unknown or missing ones are errors."""
    names = {p["name"] for p in declared}
    unknown = sorted(set(given) - names)
    if unknown:
        raise ConfigError(f"{where}: unknown parameter(s) {', '.join(unknown)}",
                          f"known: {', '.join(sorted(names))}")
    values = {}
    for param in declared:
        if param["name"] in given:
            values[param["name"]] = str(given[param["name"]])
        elif "default" in param:
            values[param["name"]] = str(param["default"])
        else:
            raise ConfigError(f"{where}: parameter {param['name']} is required", param.get("description"))
    return values


def task_order(pipeline: dict) -> list[dict]:
    """Pipeline tasks in an order that respects runAfter and result references."""
    tasks = {t["name"]: t for t in pipeline["spec"]["tasks"]}
    before = {name: set(t.get("runAfter", [])) | set(re.findall(r"\$\(tasks\.([a-z0-9-]+)\.", yaml.safe_dump(t)))
              for name, t in tasks.items()}
    ordered: list[dict] = []
    while len(ordered) < len(tasks):
        ready = [n for n in tasks if tasks[n] not in ordered and before[n] <= {t["name"] for t in ordered}]
        if not ready:
            raise ConfigError("the pipeline's tasks depend on each other in a cycle", "fix runAfter/results")
        ordered.append(tasks[ready[0]])
    return ordered

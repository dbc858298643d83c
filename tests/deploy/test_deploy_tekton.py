"""The Tekton Pipeline and Tasks: @ibm/tekton-lint clean, catalog conventions, and the local
runner's Tekton semantics (params, results, workspaces, secrets, failures) on small Tasks."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from helpers import REPO, require_tool

from edgeface.errors import ConfigError
from edgeface.tools.deploy import RESULT_NAMES
from edgeface.tools.deploy.local_runner import LocalRunner, PipelineFailed, failure_from_output, host_env
from edgeface.tools.deploy.tekton import INIT_CONTAINER_DIR, PipelineDefinition, load_definition, substitute, task_order

TEKTON_DIR = INIT_CONTAINER_DIR / "tekton"


def tekton_lint(folder: Path) -> subprocess.CompletedProcess:
    local = REPO / "node_modules" / ".bin" / "tekton-lint"
    exe = str(local) if local.exists() else require_tool("tekton-lint")
    return subprocess.run([exe, "--config", str(INIT_CONTAINER_DIR), "--max-warnings", "0", "--color", "false",
                           f"{folder}/*.yaml"], capture_output=True, text=True, cwd=folder)


def test_tekton_lint_finds_nothing():
    proc = tekton_lint(TEKTON_DIR)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_tekton_lint_catches_a_broken_pipeline(tmp_path):
    for path in TEKTON_DIR.glob("*.yaml"):
        shutil.copy2(path, tmp_path / path.name)
    pipeline = tmp_path / "pipeline.yaml"
    pipeline.write_text(pipeline.read_text().replace("$(params.DATA_CONNECTION)", "$(params.DATA_CONECTION)"))
    proc = tekton_lint(tmp_path)
    assert proc.returncode != 0 and "DATA_CONECTION" in proc.stdout


def test_one_v1_resource_per_file_and_the_promised_results():
    for path in TEKTON_DIR.glob("*.yaml"):
        docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
        assert len(docs) == 1 and docs[0]["apiVersion"] == "tekton.dev/v1", path
    definition = load_definition()
    assert tuple(r["name"] for r in definition.pipeline["spec"]["results"]) == RESULT_NAMES
    assert [t["name"] for t in task_order(definition.pipeline)] == ["fetch-model", "build-model-image", "check-shadow",
                                                                   "propose-tag"]


def test_scripts_take_params_through_env_not_inline():
    """Catalog convention: a param substituted into a script could inject shell code."""
    for task in load_definition().tasks.values():
        for step in task["spec"]["steps"]:
            assert "$(params." not in step["script"], f"{task['metadata']['name']}/{step['name']}"


def test_substitution_leaves_shell_alone_and_rejects_unknown_variables():
    text = 'v=$(cat "$f"); echo "$(params.A)" > $(results.R.path)'
    assert substitute(text, {"params.A": "x", "results.R.path": "/r"}, "t") == 'v=$(cat "$f"); echo "x" > /r'
    with pytest.raises(ConfigError, match=r"unknown variable \$\(params.B\)"):
        substitute("$(params.B)", {}, "t")


def tiny_definition(script: str, **spec) -> PipelineDefinition:
    task = {"apiVersion": "tekton.dev/v1", "kind": "Task", "metadata": {"name": "tiny"}, "spec": {
        "params": [{"name": "WHO", "default": "world"}, {"name": "MUST"}],
        "workspaces": [{"name": "out"}, {"name": "creds", "optional": True}],
        "results": [{"name": "GREETING"}],
        "steps": [{"name": "greet", "image": "not-used-locally", "script": script,
                   "env": [{"name": "WHO", "value": "$(params.WHO)"},
                           {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "tiny-secret", "key": "token",
                                                                            "optional": True}}}]}],
        **spec}}
    return PipelineDefinition(pipeline={}, tasks={"tiny": task}, recipe_files=[])


def test_local_runner_binds_params_results_workspaces_and_secrets(tmp_path):
    script = ('#!/bin/sh\nset -eu\necho "hello $WHO, token ${TOKEN:-none}, creds bound: $(workspaces.creds.bound)"\n'
              'printf "hi %s" "$WHO" > "$(results.GREETING.path)"\necho done > "$(workspaces.out.path)/file"\n')
    definition = tiny_definition(script)
    events = []
    runner = LocalRunner(definition, tmp_path / "runs", host_env(), {"tiny-secret": {"token": "t0k"}},
                         on_event=lambda kind, **info: events.append((kind, info)))
    out = tmp_path / "out"
    out.mkdir()
    results = runner.run_task("tiny-run", definition.task("tiny"), {"MUST": "1"}, {"out": out})
    assert results == {"GREETING": "hi world"}
    assert (out / "file").read_text() == "done\n"
    logs = [info["line"] for kind, info in events if kind == "log"]
    assert logs == ["hello world, token t0k, creds bound: false"]
    assert ("task", {"task": "tiny-run", "state": "Succeeded", "results": results}) in events

    with pytest.raises(ConfigError, match="parameter MUST is required"):
        runner.run_task("r2", definition.task("tiny"), {}, {"out": out})
    with pytest.raises(ConfigError, match="unknown parameter"):
        runner.run_task("r3", definition.task("tiny"), {"MUST": "1", "TYPO": "x"}, {"out": out})
    with pytest.raises(ConfigError, match="workspace out is not bound"):
        runner.run_task("r4", definition.task("tiny"), {"MUST": "1"}, {})


def test_local_runner_reports_the_failing_steps_error_and_fix(tmp_path):
    script = '#!/bin/sh\necho working\necho "error: the thing is missing" >&2\necho "fix: create it" >&2\n' \
             'echo "     then try again" >&2\nexit 3\n'
    definition = tiny_definition(script)
    runner = LocalRunner(definition, tmp_path / "runs", host_env(), on_event=lambda *a, **k: None)
    with pytest.raises(PipelineFailed) as caught:
        runner.run_task("tiny-run", definition.task("tiny"), {"MUST": "1"}, {"out": tmp_path})
    err = caught.value
    assert (err.task, err.step) == ("tiny-run", "greet")
    assert str(err) == ("task tiny-run failed in step greet (exit 3): error: the thing is missing"
                        " — create it then try again")


def test_failure_without_error_lines_quotes_the_last_output():
    err = failure_from_output("t", "s", 1, ["a", "b", "c", "d"])
    assert str(err) == "task t failed in step s (exit 1): b c d — see the step's output above"

"""Run the model-image pipeline on this machine with the Tasks' own step scripts.

Each step's ``script:`` is taken from the Task YAML, its Tekton variables are substituted
(params, results paths, workspace paths) with real temporary directories, and it runs here in
task order, so what is tested locally is exactly what runs in the cluster. What differs from a
pod: the step's ``image`` is not used (the tools must be on this machine: ``edgeface``, buildah,
sha256sum), Secrets come from a dict given by the caller, and volumes are replaced by the
environment of :class:`edgeface.tools.deploy.local_env.LocalBuildEnv`.
"""

from __future__ import annotations

import collections
import os
import re
import subprocess
from collections.abc import Callable
from pathlib import Path

from edgeface.errors import ConfigError, EdgefaceError
from edgeface.tools.deploy.tekton import PipelineDefinition, bind_params, substitute, task_order

EventHandler = Callable[..., None]
_ERROR_LINE = re.compile(r"^([\w.-]+: )?error: ", re.IGNORECASE)  # "error: ...", "edgeface: error: ...", "Error: ..."


class PipelineFailed(EdgefaceError):
    """A step exited non-zero; ``task`` and ``step`` say where, the message what it printed."""

    def __init__(self, message: str, hint: str | None, task: str, step: str | None):
        super().__init__(message, hint)
        self.task, self.step = task, step


def print_events(kind: str, **info) -> None:
    """Default event handler: the steps' output and each task's outcome on stdout."""
    if kind == "log":
        print(f"[{info['task']}/{info['step']}] {info['line']}", flush=True)
    elif kind == "task":
        print(f"== {info['task']}: {info['state']}", flush=True)


class LocalRunner:
    def __init__(self, definition: PipelineDefinition, workdir: Path, base_env: dict[str, str],
                 secrets: dict[str, dict[str, str]] | None = None, on_event: EventHandler = print_events):
        self.definition, self.workdir, self.base_env = definition, Path(workdir), base_env
        self.secrets, self.on_event = secrets or {}, on_event

    def run_pipeline(self, params: dict[str, str], workspaces: dict[str, Path | None]) -> dict[str, str]:
        """Run every task in order; returns the Pipeline's results. Stops at the first failure."""
        spec = self.definition.pipeline["spec"]
        values = {f"params.{k}": v for k, v in bind_params(spec.get("params", []), params, "Pipeline").items()}
        for ws in spec.get("workspaces", []):
            if workspaces.get(ws["name"]) is None and not ws.get("optional"):
                raise ConfigError(f"Pipeline workspace {ws['name']} is not bound", ws.get("description"))
        for pipeline_task in task_order(self.definition.pipeline):
            name = pipeline_task["name"]
            task_params = {p["name"]: substitute(str(p["value"]), values, f"pipeline task {name}")
                           for p in pipeline_task.get("params", [])}
            task_workspaces = {w["name"]: workspaces.get(w["workspace"]) for w in pipeline_task.get("workspaces", [])}
            task = self.definition.task(pipeline_task["taskRef"]["name"])
            results = self.run_task(name, task, task_params, task_workspaces)
            values.update({f"tasks.{name}.results.{key}": value for key, value in results.items()})
        return {r["name"]: substitute(r["value"], values, "Pipeline results") for r in spec.get("results", [])}

    def run_task(self, run_name: str, task: dict, params: dict[str, str],
                 workspaces: dict[str, Path | None]) -> dict[str, str]:
        spec = task["spec"]
        where = f"Task {task['metadata']['name']}"
        rundir = self.workdir / run_name
        (rundir / "results").mkdir(parents=True, exist_ok=True)
        values = {f"params.{k}": v for k, v in bind_params(spec.get("params", []), params, where).items()}
        values.update({"context.taskRun.name": run_name, "context.task.name": task["metadata"]["name"]})
        for result in spec.get("results", []):
            values[f"results.{result['name']}.path"] = str(rundir / "results" / result["name"])
        for ws in spec.get("workspaces", []):
            path = workspaces.get(ws["name"])
            if path is None and not ws.get("optional"):
                raise ConfigError(f"{where}: workspace {ws['name']} is not bound", ws.get("description"))
            values[f"workspaces.{ws['name']}.path"] = str(path) if path is not None else ""
            values[f"workspaces.{ws['name']}.bound"] = "true" if path is not None else "false"

        self.on_event("task", task=run_name, state="Running")
        template_env = spec.get("stepTemplate", {}).get("env", [])
        try:
            for step in spec["steps"]:
                env = {e["name"]: e for e in template_env} | {e["name"]: e for e in step.get("env", [])}
                self._run_step(run_name, step, list(env.values()), values, rundir)
        except PipelineFailed as err:
            self.on_event("task", task=run_name, state="Failed", message=str(err))
            raise
        results = {r["name"]: _read_result(rundir / "results" / r["name"]) for r in spec.get("results", [])}
        self.on_event("task", task=run_name, state="Succeeded", results=results)
        return results

    def _run_step(self, run_name: str, step: dict, env_list: list[dict], values: dict[str, str], rundir: Path) -> None:
        where = f"{run_name}/{step['name']}"
        if "script" not in step:
            raise ConfigError(f"step {where} has no script", "the local runner runs script steps only")
        script = rundir / f"step-{step['name']}"
        script.write_text(substitute(step["script"], values, where))
        script.chmod(0o755)
        command = [str(script)] if step["script"].startswith("#!") else ["sh", str(script)]
        cwd = substitute(step.get("workingDir", ""), values, where) or str(rundir)
        env = self.base_env | self._step_env(where, env_list, values)

        self.on_event("step", task=run_name, step=step["name"], state="running")
        tail: collections.deque[str] = collections.deque(maxlen=40)
        proc = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, text=True, errors="replace")
        assert proc.stdout is not None      # stdout=PIPE
        try:
            for line in proc.stdout:
                tail.append(line.rstrip("\n"))
                self.on_event("log", task=run_name, step=step["name"], line=tail[-1])
            code = proc.wait()
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        self.on_event("step", task=run_name, step=step["name"], state="terminated", exit_code=code)
        if code != 0:
            raise failure_from_output(run_name, step["name"], code, list(tail))

    def _step_env(self, where: str, env_list: list[dict], values: dict[str, str]) -> dict[str, str]:
        env = {}
        for item in env_list:
            if "value" in item:
                env[item["name"]] = substitute(str(item["value"]), values, where)
                continue
            ref = item["valueFrom"]["secretKeyRef"]
            secret_name = substitute(ref["name"], values, where)
            value = self.secrets.get(secret_name, {}).get(ref["key"])
            if value is not None:
                env[item["name"]] = value
            elif not ref.get("optional"):
                raise PipelineFailed(f"{where}: Secret {secret_name!r} has no key {ref['key']}",
                                     "create the Secret with that key", where.split("/")[0], None)
        return env


def _read_result(path: Path) -> str:
    try:
        return path.read_text()
    except FileNotFoundError:
        raise ConfigError(f"{path.name} was not written by its task", "every declared result must be written") from None


def failure_from_output(task: str, step: str, code: int, tail: list[str]) -> PipelineFailed:
    """The step's own 'error:' and 'fix:' lines make the message; else its last lines of output."""
    errors, fixes, in_fix = [], [], False
    for line in tail:
        if _ERROR_LINE.match(line):
            errors.append(line.strip())
        in_fix = line.startswith("fix:") or (in_fix and line.startswith(" "))
        if in_fix:
            fixes.append(line.removeprefix("fix:").strip())
    said = " ".join(errors or [line.strip() for line in tail[-3:]])
    hint = " ".join(fixes) if fixes else "see the step's output above"
    return PipelineFailed(f"task {task} failed in step {step} (exit {code}): {said}", hint, task, step)


def host_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment steps start from: this machine's basics, no credentials (those come from Secrets)."""
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "USER", "PYTHONPATH", "TZ")
    return {k: os.environ[k] for k in keep if k in os.environ} | (extra or {})

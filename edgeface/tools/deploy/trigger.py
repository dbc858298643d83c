"""Start the model-image pipeline in a cluster and follow it, with the kubernetes Python client.

Tekton has no maintained Python client: its resources are custom objects, so CustomObjectsApi
creates the PipelineRun and reads PipelineRun and TaskRun status, and CoreV1Api reads the log of
a failed step, whose ``error:``/``fix:`` lines say what to fix. No cluster runs on the project's
machines: the tests drive this module against a stand-in API server (tests/deploy/kube_standin.py)
that implements these few endpoints and runs the steps with the local runner.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from edgeface.errors import ConfigError, EdgefaceError
from edgeface.tools.deploy import PIPELINE_NAME
from edgeface.tools.deploy.local_runner import failure_from_output

GROUP, VERSION = "tekton.dev", "v1"
SERVICE_ACCOUNT_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")


class Cluster:
    """The few Kubernetes API calls the trigger needs, with errors that say what to do."""

    def __init__(self, kubeconfig: str | None = None, context: str | None = None, namespace: str | None = None):
        try:
            from kubernetes import client, config
        except ModuleNotFoundError:
            raise ConfigError("the kubernetes client is not installed", "pip install 'edgeface[cluster]'") from None
        try:
            config.load_kube_config(config_file=kubeconfig, context=context)
            contexts, active = config.list_kube_config_contexts(config_file=kubeconfig)
            chosen = next((c for c in contexts if c["name"] == context), active) if context else active
            guessed = (chosen or {}).get("context", {}).get("namespace")
        except (config.ConfigException, FileNotFoundError) as err:
            try:
                config.load_incluster_config()
            except config.ConfigException:
                raise ConfigError(f"no cluster to talk to ({err})",
                                  "log in (oc login / kubectl config use-context) or pass --kubeconfig") from None
            try:
                guessed = SERVICE_ACCOUNT_NAMESPACE.read_text().strip()
            except OSError:  # in a pod without a mounted service-account token
                guessed = None
        self.namespace = namespace or guessed or "default"
        self.host = client.Configuration.get_default_copy().host
        self.custom = client.CustomObjectsApi()
        self.core = client.CoreV1Api()

    def call(self, what: str, fn: Callable, *args, **kwargs):
        """Run one API call; None for 404, a ConfigError for anything else that failed."""
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError

        try:
            return fn(*args, **kwargs)
        except ApiException as err:
            if err.status == 404:
                return None
            hint = (f"log in as a user allowed to {what} in namespace {self.namespace}"
                    if err.status in (401, 403) else "check the cluster and the request")
            raise ConfigError(f"the cluster refused to {what}: {err.status} {err.reason}", hint) from None
        except HTTPError as err:
            raise ConfigError(f"cannot reach the Kubernetes API at {self.host} ({err.__class__.__name__})",
                              "check KUBECONFIG or log in again (oc login)") from None

    def get(self, plural: str, name: str) -> dict | None:
        return self.call(f"read {plural}", self.custom.get_namespaced_custom_object,
                         GROUP, VERSION, self.namespace, plural, name)

    def taskruns_of(self, pipelinerun: str) -> list[dict]:
        listed = self.call("list taskruns", self.custom.list_namespaced_custom_object, GROUP, VERSION,
                           self.namespace, "taskruns", label_selector=f"tekton.dev/pipelineRun={pipelinerun}")
        return (listed or {}).get("items", [])

    def step_log(self, pod: str, step: str) -> list[str]:
        text = self.call("read pod logs", self.core.read_namespaced_pod_log, pod, self.namespace,
                         container=f"step-{step}", tail_lines=40)
        return (text or "").splitlines()


def start(cluster: Cluster, body: dict) -> str:
    """Create the PipelineRun; returns its name."""
    if cluster.get("pipelines", PIPELINE_NAME) is None:
        raise ConfigError(f"Pipeline {PIPELINE_NAME} not found in namespace {cluster.namespace}",
                          f"install it: kubectl apply -k manifests/tekton -n {cluster.namespace}")
    created = cluster.call("create pipelineruns", cluster.custom.create_namespaced_custom_object,
                           GROUP, VERSION, cluster.namespace, "pipelineruns", body)
    if created is None:
        raise ConfigError("the cluster has no tekton.dev/v1 PipelineRun", "install OpenShift Pipelines (Tekton)")
    return created["metadata"]["name"]


def succeeded(obj: dict) -> dict:
    """The Succeeded condition of a Tekton object ({} while it has none)."""
    conditions = obj.get("status", {}).get("conditions", [])
    return next((c for c in conditions if c.get("type") == "Succeeded"), {})


def follow(cluster: Cluster, name: str, out: Callable[[str], None] = print,
           poll: float = 2.0, timeout: float = 3600.0) -> dict[str, str]:
    """Print task and step progress until the PipelineRun ends; returns its results or raises."""
    seen: dict[tuple, str] = {}
    deadline = time.monotonic() + timeout
    while True:
        run = cluster.get("pipelineruns", name)
        if run is None:
            raise EdgefaceError(f"PipelineRun {name} disappeared", "someone deleted it; start a new run")
        taskruns = cluster.taskruns_of(name)
        for taskrun in taskruns:
            _report_progress(taskrun, seen, out)
        state = succeeded(run)
        if state.get("status") == "True":
            out(f"PipelineRun {name}: Succeeded")
            return {r["name"]: r["value"] for r in run["status"].get("results", [])}
        if state.get("status") == "False":
            raise _explain(cluster, name, state, taskruns)
        if time.monotonic() > deadline:
            raise EdgefaceError(f"PipelineRun {name} still running after {timeout:.0f} s",
                                f"it goes on in the cluster: tkn pipelinerun logs -f {name} -n {cluster.namespace}")
        time.sleep(poll)


def _report_progress(taskrun: dict, seen: dict, out: Callable[[str], None]) -> None:
    task = taskrun["metadata"].get("labels", {}).get("tekton.dev/pipelineTask", taskrun["metadata"]["name"])
    for step in taskrun.get("status", {}).get("steps", []):
        if "terminated" in step:
            now = f"terminated (exit {step['terminated'].get('exitCode')})"
        else:
            now = "running" if "running" in step else "waiting"
        if seen.get((task, step["name"])) != now:
            seen[(task, step["name"])] = now
            out(f"{task}/{step['name']}: {now}")
    reason = succeeded(taskrun).get("reason") or "Pending"
    if seen.get((task,)) != reason:
        seen[(task,)] = reason
        out(f"{task}: {reason}")


def _explain(cluster: Cluster, name: str, state: dict, taskruns: list[dict]) -> EdgefaceError:
    """A failed run's error: the failed step's own error/fix lines, else Tekton's message."""
    for taskrun in taskruns:
        if succeeded(taskrun).get("status") != "False":
            continue
        task = taskrun["metadata"].get("labels", {}).get("tekton.dev/pipelineTask", taskrun["metadata"]["name"])
        for step in taskrun["status"].get("steps", []):
            code = step.get("terminated", {}).get("exitCode", 0)
            if code and taskrun["status"].get("podName"):
                lines = cluster.step_log(taskrun["status"]["podName"], step["name"])
                if lines:
                    return failure_from_output(task, step["name"], code, lines)
        return EdgefaceError(f"PipelineRun {name} failed in task {task}: {succeeded(taskrun).get('message', '')}",
                             f"tkn pipelinerun logs {name} -n {cluster.namespace}")
    return EdgefaceError(f"PipelineRun {name} failed: {state.get('reason')}: {state.get('message', '')}",
                         f"tkn pipelinerun describe {name} -n {cluster.namespace}")

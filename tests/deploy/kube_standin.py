"""A stand-in for a Kubernetes API server with Tekton, for testing edgeface.tools.deploy.trigger.

This is a FAKE: no Kubernetes or Tekton control plane can run on the project's machines. It
serves over real HTTP on 127.0.0.1 the few endpoints the trigger uses —
  GET  /apis/tekton.dev/v1/namespaces/NS/pipelines/NAME
  POST /apis/tekton.dev/v1/namespaces/NS/pipelineruns            (generateName honoured)
  GET  /apis/tekton.dev/v1/namespaces/NS/pipelineruns/NAME
  GET  /apis/tekton.dev/v1/namespaces/NS/taskruns?labelSelector=tekton.dev/pipelineRun=NAME
  GET  /api/v1/namespaces/NS/pods/POD/log?container=step-STEP&tailLines=N
— and plays the Tekton controller by running the created PipelineRun's params through the
local runner (the Tasks' real step scripts), publishing TaskRun and PipelineRun status the way
Tekton v1 does (Succeeded conditions, status.steps, status.results, labels).
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from edgeface.tools.deploy import PIPELINE_NAME, RECIPE_CONFIGMAP
from edgeface.tools.deploy.local_pipeline import run_locally

TEKTON = r"/apis/tekton\.dev/v1/namespaces/(?P<ns>[^/]+)"


class KubeStandIn:
    def __init__(self, workdir: Path, namespace: str = "edgeface",
                 secrets: dict[str, dict[str, str]] | None = None, pipelines=(PIPELINE_NAME,)):
        self.workdir, self.namespace = workdir, namespace
        self.secrets, self.pipelines = secrets or {}, set(pipelines)
        self.pipelineruns: dict[str, dict] = {}
        self.taskruns: dict[str, dict] = {}
        self.logs: dict[tuple[str, str], list[str]] = {}
        self.created: list[dict] = []            # request bodies, as the client sent them
        self.lock = threading.Lock()
        self.threads: list[threading.Thread] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def kubeconfig(self, path: Path) -> Path:
        return write_kubeconfig(path, self.url, self.namespace)

    def close(self) -> None:
        for thread in self.threads:
            thread.join(300)
        self.server.shutdown()
        self.server.server_close()

    # --- the API -------------------------------------------------------------------------
    def route(self, method: str, path: str, query: dict, body: dict | None) -> tuple[int, object]:
        if m := re.fullmatch(TEKTON + r"/pipelines/(?P<name>[^/]+)", path):
            if method == "GET" and m["ns"] == self.namespace and m["name"] in self.pipelines:
                return 200, {"apiVersion": "tekton.dev/v1", "kind": "Pipeline", "metadata": {"name": m["name"]}}
            return _not_found("pipelines", m["name"])
        if (m := re.fullmatch(TEKTON + r"/pipelineruns", path)) and method == "POST":
            return self._create(m["ns"], body)
        if m := re.fullmatch(TEKTON + r"/pipelineruns/(?P<name>[^/]+)", path):
            with self.lock:
                run = self.pipelineruns.get(m["name"])
                return (200, json.loads(json.dumps(run))) if run else _not_found("pipelineruns", m["name"])
        if re.fullmatch(TEKTON + r"/taskruns", path):
            wanted = dict(part.split("=", 1) for part in query.get("labelSelector", [""])[0].split(",") if part)
            with self.lock:
                items = [json.loads(json.dumps(t)) for t in self.taskruns.values()
                         if all(t["metadata"]["labels"].get(k) == v for k, v in wanted.items())]
            return 200, {"apiVersion": "tekton.dev/v1", "kind": "TaskRunList", "metadata": {}, "items": items}
        if m := re.fullmatch(r"/api/v1/namespaces/[^/]+/pods/(?P<pod>[^/]+)/log", path):
            lines = self.logs.get((m["pod"], query.get("container", [""])[0]))
            if lines is None:
                return _not_found("pods", m["pod"])
            return 200, "\n".join(lines[-int(query.get("tailLines", ["1000"])[0]):]) + "\n"
        return _not_found("path", path)

    def _create(self, namespace: str, body: dict) -> tuple[int, object]:
        if body.get("apiVersion") != "tekton.dev/v1" or body.get("kind") != "PipelineRun":
            return 400, _status(400, "BadRequest", "not a tekton.dev/v1 PipelineRun")
        name = body["metadata"].get("name") or body["metadata"]["generateName"] + uuid.uuid4().hex[:5]
        run = json.loads(json.dumps(body))
        run["metadata"].update(name=name, namespace=namespace, uid=str(uuid.uuid4()))
        run["status"] = {"conditions": [_condition("Unknown", "Started")]}
        with self.lock:
            self.created.append(body)
            self.pipelineruns[name] = run
        thread = threading.Thread(target=self._execute, args=(name, body), daemon=True)
        self.threads.append(thread)
        thread.start()
        return 201, run

    # --- the controller ------------------------------------------------------------------
    def _execute(self, name: str, body: dict) -> None:
        spec = body["spec"]
        workspaces = {w["name"]: w for w in spec.get("workspaces", [])}
        if workspaces.get("recipe", {}).get("configMap", {}).get("name") != RECIPE_CONFIGMAP:
            return self._finish(name, "False", "CouldntGetWorkspace", f"workspace recipe must bind {RECIPE_CONFIGMAP}")
        params = {p["name"]: p["value"] for p in spec.get("params", [])}
        try:
            results = run_locally(params, self.secrets, workdir=self.workdir / name,
                                  on_event=lambda kind, **info: self._on_event(name, kind, info))
        except Exception as err:  # noqa: BLE001 - any failure is what Tekton would report on the PipelineRun
            return self._finish(name, "False", "Failed", f"Tasks Completed: 1 (Failed: 1, Cancelled 0): {err}")
        self._finish(name, "True", "Succeeded", "Tasks Completed: 2 (Failed: 0, Cancelled 0), Skipped: 0",
                     [{"name": k, "value": v} for k, v in results.items()])

    def _finish(self, name: str, status: str, reason: str, message: str, results=None) -> None:
        with self.lock:
            run = self.pipelineruns[name]
            run["status"]["conditions"] = [_condition(status, reason, message)]
            if results is not None:
                run["status"]["results"] = results

    def _on_event(self, run: str, kind: str, info: dict) -> None:
        taskrun_name = f"{run}-{info['task']}"
        pod = f"{taskrun_name}-pod"
        with self.lock:
            if kind == "task" and info["state"] == "Running":
                self.taskruns[taskrun_name] = {
                    "apiVersion": "tekton.dev/v1", "kind": "TaskRun",
                    "metadata": {"name": taskrun_name, "namespace": self.namespace,
                                 "labels": {"tekton.dev/pipelineRun": run, "tekton.dev/pipelineTask": info["task"]}},
                    "status": {"podName": pod, "steps": [], "conditions": [_condition("Unknown", "Running")]}}
                return
            status = self.taskruns[taskrun_name]["status"]
            if kind == "task":
                ok = info["state"] == "Succeeded"
                status["conditions"] = [_condition("True" if ok else "False", info["state"], info.get("message", ""))]
                status["results"] = [{"name": k, "type": "string", "value": v}
                                     for k, v in (info.get("results") or {}).items()]
            elif kind == "step":
                steps = [s for s in status["steps"] if s["name"] != info["step"]]
                state = ({"running": {"startedAt": "2026-11-24T00:00:00Z"}} if info["state"] == "running" else
                         {"terminated": {"exitCode": info["exit_code"],
                                         "reason": "Completed" if info["exit_code"] == 0 else "Error"}})
                status["steps"] = [*steps, {"name": info["step"], "container": f"step-{info['step']}", **state}]
            elif kind == "log":
                self.logs.setdefault((pod, f"step-{info['step']}"), []).append(info["line"])

    def _handler(self):
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self, method: str):
                url = urlparse(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length)) if length else None
                code, payload = standin.route(method, url.path, parse_qs(url.query), body)
                data = payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()
                self.send_response(code)
                self.send_header("Content-Type", "text/plain" if isinstance(payload, str) else "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                self._serve("GET")

            def do_POST(self):
                self._serve("POST")

            def log_message(self, *args):
                pass

        return Handler


def write_kubeconfig(path: Path, server: str, namespace: str) -> Path:
    path.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "standin",
        "clusters": [{"name": "standin", "cluster": {"server": server}}],
        "users": [{"name": "tester", "user": {"token": "not-a-real-token"}}],
        "contexts": [{"name": "standin",
                      "context": {"cluster": "standin", "user": "tester", "namespace": namespace}}]}))
    return path


def _condition(status: str, reason: str, message: str = "") -> dict:
    return {"type": "Succeeded", "status": status, "reason": reason, "message": message,
            "lastTransitionTime": "2026-11-24T00:00:00Z"}


def _status(code: int, reason: str, message: str) -> dict:
    return {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": reason, "code": code,
            "message": message}


def _not_found(kind: str, name: str) -> tuple[int, dict]:
    return 404, _status(404, "NotFound", f'{kind} "{name}" not found')

"""The fleet: site overlays (manifests/sites) render and validate like the overlays they build on,
the Argo CD objects (manifests/fleet) validate and cover every site, and the pipeline's optional
last task proposes a new model tag on a branch of a real Git repository served by `git daemon`.

No Argo CD API server or CRD package is available here (the `argo-cd` name is on neither PyPI nor
npm; `@kubernetes-models/argo-cd` ships compiled validators, not the CRD), so ARGO_SCHEMAS below is
a minimal JSON schema of exactly the fields these manifests use, with the types, required fields
and nesting of Argo CD's ApplicationSet and AppProject CRDs, made strict: an unknown field fails,
as `kubernetes-validate --strict` makes it fail for the core kinds.
"""

from __future__ import annotations

import base64
import re
import shutil
import subprocess
import threading
import uuid
import wsgiref.simple_server
from pathlib import Path

import jsonschema
import pytest
import yaml
from deploy_helpers import render, results_of, run_edgeface
from helpers import REPO, free_port, require_tool, wait_for_port
from test_deploy_manifests import (
    CLUSTER_SCOPED,
    CORE_GROUPS,
    MICROSHIFT_KUBERNETES,
    check_openshift_kind,
    kubernetes_validate,
    one,
)

from edgeface.tools.deploy.local_runner import LocalRunner, PipelineFailed, host_env
from edgeface.tools.deploy.tekton import load_definition

MANIFESTS = REPO / "manifests"
SITES = sorted(p.parent.relative_to(MANIFESTS / "sites") for p in (MANIFESTS / "sites").glob("*/*/kustomization.yaml")
               if p.parent.name != "model")
PROPOSE_TASK = "edgeface-propose-model-tag"


def _obj(properties: dict, required: tuple[str, ...] = ()) -> dict:
    return {"type": "object", "properties": properties, "required": list(required), "additionalProperties": False}


_STR, _STRS = {"type": "string"}, {"type": "array", "items": {"type": "string"}}
_LABELS = {"type": "object", "additionalProperties": {"type": "string"}}
_META = _obj({"name": _STR, "namespace": _STR, "labels": _LABELS, "annotations": _LABELS}, ("name",))
_APPLICATION_SPEC = _obj({
    "project": _STR,
    "source": _obj({"repoURL": _STR, "path": _STR, "targetRevision": _STR}, ("repoURL",)),
    "destination": _obj({"name": _STR, "server": _STR, "namespace": _STR}),
    "syncPolicy": _obj({
        "automated": _obj({"prune": {"type": "boolean"}, "selfHeal": {"type": "boolean"}}),
        "syncOptions": _STRS,
        "retry": _obj({"limit": {"type": "integer"}, "backoff": _obj({
            "duration": _STR, "factor": {"type": "integer"}, "maxDuration": _STR})}),
    }),
}, ("destination", "project"))
_SELECTOR_TERM = _obj({"key": _STR, "operator": {"enum": ["In", "NotIn", "Exists", "DoesNotExist"]},
                       "values": _STRS}, ("key", "operator"))
ARGO_SCHEMAS = {
    "ApplicationSet": _obj({"apiVersion": {"const": "argoproj.io/v1alpha1"}, "kind": _STR, "metadata": _META,
                            "spec": _obj({
        "goTemplate": {"type": "boolean"},
        "goTemplateOptions": _STRS,
        # list elements are free-form JSON in the CRD (x-kubernetes-preserve-unknown-fields)
        "generators": {"type": "array", "minItems": 1, "items": _obj({"list": _obj(
            {"elements": {"type": "array", "items": {"type": "object"}}}, ("elements",))})},
        "strategy": _obj({"type": {"enum": ["AllAtOnce", "RollingSync"]}, "rollingSync": _obj({"steps": {
            "type": "array", "items": _obj({"matchExpressions": {"type": "array", "items": _SELECTOR_TERM},
                                            "maxUpdate": {"type": ["integer", "string"]}})}})}),
        "template": _obj({"metadata": _obj({"name": _STR, "labels": _LABELS, "annotations": _LABELS}),
                          "spec": _APPLICATION_SPEC}, ("metadata", "spec")),
    }, ("generators", "template"))}, ("apiVersion", "kind", "metadata", "spec")),
    "AppProject": _obj({"apiVersion": {"const": "argoproj.io/v1alpha1"}, "kind": _STR, "metadata": _META,
                        "spec": _obj({
        "description": _STR,
        "sourceRepos": _STRS,
        "destinations": {"type": "array", "items": _obj({"name": _STR, "server": _STR, "namespace": _STR})},
        "clusterResourceWhitelist": {"type": "array", "items": _obj({"group": _STR, "kind": _STR},
                                                                     ("group", "kind"))},
    })}, ("apiVersion", "kind", "metadata", "spec")),
}


def argo_errors(doc: dict) -> list[str]:
    schema = ARGO_SCHEMAS.get(doc["kind"])
    if schema is None:
        return [f"no schema for kind {doc['kind']}"]
    validator = jsonschema.Draft202012Validator(schema)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(doc)]


def model_image(docs: list[dict]) -> str:
    return one(docs, "Deployment")["spec"]["template"]["spec"]["initContainers"][0]["image"]


def group_tag(group: str, root: Path = MANIFESTS) -> str:
    entry, = yaml.safe_load((root / "sites" / group / "model" / "kustomization.yaml").read_text())["images"]
    return f"{entry['newName']}:{entry['newTag']}"


# -- site overlays --------------------------------------------------------------------------------

def test_there_are_site_groups_with_sites():
    assert len(SITES) >= 3 and len({s.parent for s in SITES}) >= 2


@pytest.mark.parametrize("site", SITES, ids=str)
def test_site_renders_validates_and_names_itself(site, tmp_path):
    docs = render(MANIFESTS / "sites" / site)
    core = [d for d in docs if d["apiVersion"] in CORE_GROUPS]
    proc = kubernetes_validate(core, tmp_path, MICROSHIFT_KUBERNETES)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("passed for resource") == len(core), proc.stdout
    for doc in docs:
        check_openshift_kind(doc)
        assert (doc["kind"] in CLUSTER_SCOPED) != (doc["metadata"].get("namespace") == "edgeface"), doc["kind"]
    assert one(docs, "ConfigMap")["data"]["EDGEFACE_SITE"] == site.name
    assert one(docs, "ConfigMap")["metadata"]["name"] == "edgeface-config"  # no generator hash suffix
    site_kustomization = yaml.safe_load((MANIFESTS / "sites" / site / "kustomization.yaml").read_text())
    pinned = "images" in site_kustomization
    # exactly one source of the model tag: the site group's component, or the site's own pin
    assert pinned != ("../model" in site_kustomization.get("components", [])), site
    if not pinned:
        assert model_image(docs) == group_tag(site.parent.name)


def test_a_group_tag_reaches_its_sites_and_a_pinned_site_keeps_its_own(tmp_path):
    copy = tmp_path / "manifests"
    shutil.copytree(MANIFESTS, copy)
    before = {site: model_image(render(copy / "sites" / site)) for site in SITES}
    component = copy / "sites" / "stores" / "model" / "kustomization.yaml"
    data = yaml.safe_load(component.read_text())
    data["images"][0].update(newName="registry.example/edgeface/model", newTag="20261201T120000Z")
    component.write_text(yaml.safe_dump(data))
    following = pinning = 0
    for site in SITES:
        after = model_image(render(copy / "sites" / site))
        follows = "images" not in yaml.safe_load((copy / "sites" / site / "kustomization.yaml").read_text())
        if site.parent.name == "stores" and follows:
            assert after == "registry.example/edgeface/model:20261201T120000Z"
            following += 1
        else:
            assert after == before[site], site  # other groups and pinned sites are untouched
            pinning += site.parent.name == "stores"
    assert following and pinning  # the example group shows both cases


# -- Argo CD ----------------------------------------------------------------------------------------

def fleet_docs() -> tuple[dict, dict]:
    docs = render(MANIFESTS / "fleet")
    return one(docs, "ApplicationSet"), one(docs, "AppProject")


def test_argo_cd_objects_validate_against_the_schema():
    for doc in fleet_docs():
        assert argo_errors(doc) == [], doc["kind"]
        assert doc["metadata"]["namespace"] == "openshift-gitops"


def test_schema_catches_a_broken_applicationset():
    appset, _ = fleet_docs()
    appset["spec"]["strategy"]["rollingSync"]["steps"][0]["matchExpression"] = []  # typo
    source = appset["spec"]["template"]["spec"]["source"]
    source["repoUrl"] = source.pop("repoURL")  # wrong case: unknown field, and the required one missing
    del appset["spec"]["template"]["spec"]["destination"]["namespace"]
    appset["spec"]["template"]["spec"]["destination"]["nmespace"] = "edgeface"
    errors = argo_errors(appset)
    assert len(errors) >= 3 and any("matchExpression" in e for e in errors), errors
    assert any("'repoURL' is a required" in e for e in errors) and any("nmespace" in e for e in errors), errors


def expand(template: str, element: dict) -> str:
    """Argo CD's Go template for the `{{.key}}` form used here; a missing key is an error."""
    return re.sub(r"\{\{\s*\.(\w+)\s*\}\}", lambda m: element[m.group(1)], template)


def test_applicationset_makes_one_application_per_site_and_rolls_out_by_waves():
    appset, project = fleet_docs()
    elements = appset["spec"]["generators"][0]["list"]["elements"]
    template = appset["spec"]["template"]
    apps = [yaml.safe_load(expand(yaml.safe_dump(template), e)) for e in elements]
    assert sorted(Path(a["spec"]["source"]["path"]).relative_to("manifests/sites") for a in apps) == SITES
    assert len({a["metadata"]["name"] for a in apps}) == len(apps)
    for app, element in zip(apps, elements):
        docs = render(REPO / app["spec"]["source"]["path"])
        assert one(docs, "ConfigMap")["data"]["EDGEFACE_SITE"] == element["site"]
        assert app["spec"]["destination"]["namespace"] == one(docs, "Deployment")["metadata"]["namespace"]
        assert app["spec"]["project"] == project["metadata"]["name"]
        assert app["spec"]["source"]["repoURL"] in project["spec"]["sourceRepos"]
        cluster_kinds = {d["kind"] for d in docs if "namespace" not in d["metadata"]}
        assert cluster_kinds <= {w["kind"] for w in project["spec"]["clusterResourceWhitelist"]}

    strategy = appset["spec"]["strategy"]
    assert strategy["type"] == "RollingSync"
    steps = strategy["rollingSync"]["steps"]
    waves = [app["metadata"]["labels"]["edgeface.io/wave"] for app in apps]
    step_of = {}
    for index, step in enumerate(steps):
        expression, = step["matchExpressions"]
        assert expression["key"] == "edgeface.io/wave" and expression["operator"] == "In"
        step_of.update({value: index for value in expression["values"]})
    assert set(waves) <= set(step_of), "every site must be in a step, or RollingSync never syncs it"
    assert step_of["canary"] == 0 and "canary" in waves and "rest" in waves


# -- the pipeline's propose-tag task against a real Git server ------------------------------------

@pytest.fixture
def fleet_repo(tmp_path):
    """A bare repository seeded with manifests/, served read-write by `git daemon` on 127.0.0.1."""
    git = require_tool("git")
    root = tmp_path / "git"
    bare = root / "fleet.git"
    seed = tmp_path / "seed"
    shutil.copytree(MANIFESTS, seed / "manifests")
    run_git = lambda *args, cwd: subprocess.run([git, *args], cwd=cwd, check=True, capture_output=True)
    run_git("init", "--quiet", "--bare", "--initial-branch", "main", str(bare), cwd=tmp_path)
    run_git("init", "--quiet", "--initial-branch", "main", cwd=seed)
    run_git("add", ".", cwd=seed)
    run_git("-c", "user.name=t", "-c", "user.email=t@localhost", "commit", "--quiet", "-m", "seed", cwd=seed)
    run_git("push", "--quiet", str(bare), "main", cwd=seed)
    port = free_port()
    proc = subprocess.Popen([git, "daemon", "--reuseaddr", "--export-all", "--enable=receive-pack",
                             "--listen=127.0.0.1", f"--port={port}", f"--base-path={root}", str(root)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, proc=proc)
        yield {"url": f"git://127.0.0.1:{port}/fleet.git", "bare": bare, "git": git, "tmp": tmp_path}
    finally:
        proc.terminate()
        proc.wait(10)


def git_http_app(root: Path, user: str, password: str):
    """Git's smart HTTP (`git http-backend`, CGI) behind HTTP Basic auth, as a WSGI app: the
    authenticated remote a fleet repository on a Git forge is, without the forge."""
    expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()

    def app(environ, start_response):
        if environ.get("HTTP_AUTHORIZATION") != expected:
            start_response("401 Unauthorized", [("WWW-Authenticate", 'Basic realm="fleet"')])
            return [b"authentication required\n"]
        length = int(environ.get("CONTENT_LENGTH") or 0)
        cgi = {k: v for k, v in environ.items() if isinstance(v, str) and k.startswith(("HTTP_", "CONTENT_"))}
        cgi |= {"GIT_PROJECT_ROOT": str(root), "GIT_HTTP_EXPORT_ALL": "1", "REMOTE_USER": user,
                "PATH_INFO": environ["PATH_INFO"], "QUERY_STRING": environ.get("QUERY_STRING", ""),
                "REQUEST_METHOD": environ["REQUEST_METHOD"], "PATH": "/usr/bin:/bin"}
        proc = subprocess.run(["git", "http-backend"], input=environ["wsgi.input"].read(length), env=cgi,
                              capture_output=True, check=True)
        head, _, body = proc.stdout.partition(b"\r\n\r\n")
        headers = [tuple(line.split(": ", 1)) for line in head.decode().split("\r\n")]
        status = dict(headers).pop("Status", "200 OK")
        start_response(status, [h for h in headers if h[0] != "Status"])
        return [body]

    return app


@pytest.fixture
def authenticated_remote(fleet_repo):
    """The same bare repository over HTTP on 127.0.0.1, readable and writable with one token."""
    token = "tok-" + uuid.uuid4().hex
    server = wsgiref.simple_server.make_server("127.0.0.1", 0, git_http_app(fleet_repo["bare"].parent, "bot", token),
                                               handler_class=QuietHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fleet_repo | {"url": f"http://127.0.0.1:{server.server_port}/fleet.git", "token": token}
    finally:
        server.shutdown()
        server.server_close()


class QuietHandler(wsgiref.simple_server.WSGIRequestHandler):
    def log_message(self, *args) -> None:  # keep pytest's output to the test's own
        pass


def checkout(repo: dict, branch: str) -> Path:
    target = repo["tmp"] / f"checkout-{uuid.uuid4().hex[:6]}"
    subprocess.run([repo["git"], "clone", "--quiet", "--branch", branch, str(repo["bare"]), str(target)], check=True)
    return target


def run_propose(tmp_path: Path, params: dict, secrets: dict | None = None,
                logs: list[str] | None = None) -> tuple[dict, list[str]]:
    """Only the propose-tag Task, through the local runner, with the source workspace in tmp_path."""
    definition = load_definition()
    logs = [] if logs is None else logs
    runner = LocalRunner(definition, tmp_path / "runs", host_env(), secrets,
                         on_event=lambda kind, **info: logs.append(info.get("line") or info.get("message") or ""))
    source = tmp_path / "source"
    source.mkdir(parents=True, exist_ok=True)
    results = runner.run_task("propose-tag", definition.task(PROPOSE_TASK), params, {"source": source})
    return results, logs


@pytest.mark.slow
def test_pipeline_proposes_the_new_tag_on_a_branch_that_renders(published_model, registry, fleet_repo, tmp_path):
    repo, version = registry.repo(), published_model["version"]
    proc = run_edgeface("pipeline", "run", "--local", "--version", "latest", "--image", repo,
                        "--git-repo-url", fleet_repo["url"], env=published_model["env"])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    results = results_of(proc.stdout)
    assert results["IMAGE_URL"] == f"{repo}:{version}"
    assert "== propose-tag: Succeeded" in proc.stdout and "open a merge request" in proc.stdout

    branch = checkout(fleet_repo, f"edgeface/model-{version}")
    for site in SITES:
        image = model_image(render(branch / "manifests" / "sites" / site))
        original = model_image(render(MANIFESTS / "sites" / site))
        follows_group = site.parent.name == "stores" and original == group_tag("stores")
        assert image == (results["IMAGE_URL"] if follows_group else original), site
    log = subprocess.run([fleet_repo["git"], "log", "-1", "--format=%B"], cwd=branch, capture_output=True,
                         text=True, check=True).stdout
    assert f"model {version} for site group stores" in log and results["IMAGE_DIGEST"] in log
    main = checkout(fleet_repo, "main")  # the proposal waits for review: main is unchanged
    assert group_tag("stores", main / "manifests") == group_tag("stores")


def test_an_empty_repository_url_skips_the_proposal(tmp_path):
    results, logs = run_propose(tmp_path, {"IMAGE": "quay.io/edgeface/model", "MODEL_VERSION": "20261201T120000Z"})
    assert results == {"BRANCH": "", "COMMIT": ""}
    assert any("GIT_REPO_URL is empty" in line for line in logs)
    assert not (tmp_path / "source" / "fleet-repo").exists()


def test_the_same_version_twice_is_refused_with_what_to_do(fleet_repo, tmp_path):
    params = {"GIT_REPO_URL": fleet_repo["url"], "IMAGE": "127.0.0.1:5000/edgeface/model",
              "MODEL_VERSION": "20261202T080000Z"}
    results, _ = run_propose(tmp_path / "first", params)
    assert results["BRANCH"] == "edgeface/model-20261202T080000Z" and len(results["COMMIT"]) == 40
    proposed = checkout(fleet_repo, results["BRANCH"]) / "manifests" / "sites" / "stores" / "store-001"
    assert model_image(render(proposed)) == "127.0.0.1:5000/edgeface/model:20261202T080000Z"
    with pytest.raises(PipelineFailed) as caught:
        run_propose(tmp_path / "second", params)
    assert "cannot push branch edgeface/model-20261202T080000Z" in str(caught.value)
    assert "proposed already" in (caught.value.hint or "")


def test_an_unreachable_repository_is_a_clear_error_that_shows_no_secret(tmp_path):
    token, url_token = "tok-" + uuid.uuid4().hex, "urltok-" + uuid.uuid4().hex
    url = f"http://bot:{url_token}@127.0.0.1:{free_port()}/edge/fleet.git"
    logs: list[str] = []
    with pytest.raises(PipelineFailed) as caught:
        run_propose(tmp_path, {"GIT_REPO_URL": url, "IMAGE": "quay.io/edgeface/model",
                               "MODEL_VERSION": "20261201T120000Z"},
                    secrets={"edgeface-git-auth": {"username": "bot", "password": token}}, logs=logs)
    err = caught.value
    assert (err.task, err.step) == ("propose-tag", "propose")
    assert "cannot clone branch main of http://127.0.0.1:" in str(err)
    assert "GIT_REPO_URL" in (err.hint or "") and "edgeface-git-auth" in (err.hint or "")
    shown = "\n".join([str(err), err.hint or "", *logs])
    assert "Failed to connect" in shown or "Connection refused" in shown  # git's own reason is shown too
    assert token not in shown and url_token not in shown


def test_a_missing_site_group_folder_names_the_param(fleet_repo, tmp_path):
    with pytest.raises(PipelineFailed) as caught:
        run_propose(tmp_path, {"GIT_REPO_URL": fleet_repo["url"], "IMAGE": "quay.io/edgeface/model",
                               "MODEL_VERSION": "20261201T120000Z", "SITE_GROUP_PATH": "manifests/sites/nope/model"})
    assert "manifests/sites/nope/model/kustomization.yaml not found" in str(caught.value)
    assert "SITE_GROUP_PATH" in (caught.value.hint or "")


def test_a_cluster_run_carries_the_proposal_params():
    proc = run_edgeface("pipeline", "run", "--dry-run", "--image", "quay.io/org/edgeface-model",
                        "--git-repo-url", "https://git.example.com/edge/fleet.git",
                        "--site-group", "manifests/sites/depots/model", env={})
    assert proc.returncode == 0, proc.stderr
    params = {p["name"]: p["value"] for p in yaml.safe_load(proc.stdout)["spec"]["params"]}
    assert params["GIT_REPO_URL"] == "https://git.example.com/edge/fleet.git"
    assert params["SITE_GROUP_PATH"] == "manifests/sites/depots/model"
    pipeline_params = {p["name"] for p in load_definition().pipeline["spec"]["params"]}
    assert set(params) <= pipeline_params


def test_the_secrets_credentials_push_to_an_authenticated_remote_and_are_never_shown(authenticated_remote,
                                                                                        tmp_path):
    remote, version = authenticated_remote, "20261203T100000Z"
    params = {"GIT_REPO_URL": remote["url"], "IMAGE": "quay.io/edgeface/model", "MODEL_VERSION": version}
    logs: list[str] = []
    results, _ = run_propose(tmp_path / "ok", params, secrets={
        "edgeface-git-auth": {"username": "bot", "password": remote["token"]}}, logs=logs)
    assert results["BRANCH"] == f"edgeface/model-{version}"
    assert group_tag("stores", checkout(remote, results["BRANCH"]) / "manifests") == f"quay.io/edgeface/model:{version}"
    run_dir = tmp_path / "ok"
    leaked = [p for p in run_dir.rglob("*") if p.is_file() and remote["token"].encode() in p.read_bytes()]
    assert remote["token"] not in "\n".join(logs) and not leaked  # not in the clone's .git/config either

    logs.clear()
    with pytest.raises(PipelineFailed) as caught:  # a wrong token: refused, with what to check
        run_propose(tmp_path / "bad", params | {"MODEL_VERSION": "20261203T110000Z"},
                    secrets={"edgeface-git-auth": {"username": "bot", "password": "wrong-" + remote["token"]}},
                    logs=logs)
    assert "cannot clone branch main" in str(caught.value) and "edgeface-git-auth" in (caught.value.hint or "")
    assert remote["token"] not in "\n".join([str(caught.value), *logs])

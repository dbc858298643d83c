"""The PipelineRun that turns a model version into a model image, and the params both runs share."""

from __future__ import annotations

from dataclasses import dataclass

import yaml

from edgeface.errors import ConfigError
from edgeface.store import LATEST_NAME, VERSION_RE
from edgeface.tools.deploy import DEFAULT_DATA_CONNECTION, PIPELINE_NAME, RECIPE_CONFIGMAP


@dataclass
class RunOptions:
    image: str                                  # repository, no tag: the tag is the model version
    version: str = LATEST_NAME
    data_connection: str = DEFAULT_DATA_CONNECTION
    prefix: str = "models"
    platforms: str | None = None                # None: the Pipeline's default
    tls_verify: bool = True
    tools_image: str | None = None
    busybox_image: str | None = None
    registry_secret: str | None = None          # a kubernetes.io/dockerconfigjson Secret
    git_repo_url: str | None = None             # fleet repository to propose the new tag in (docs/fleet.md)
    site_group_path: str | None = None          # that repository's site group model folder
    service_account: str = "pipeline"           # OpenShift Pipelines creates it in every namespace
    workspace_size: str = "1Gi"
    timeout: str = "1h0m0s"

    def validate(self) -> RunOptions:
        if self.version != LATEST_NAME and not VERSION_RE.match(self.version):
            raise ConfigError(f"--version {self.version!r} is not a model version",
                              "use 'latest' or a version such as 20261124T210343Z (edgeface model list)")
        last = self.image.rsplit("/", 1)[-1]
        if not self.image or ":" in last or "@" in last or "/" not in self.image:
            raise ConfigError(f"--image {self.image!r} is not a repository without tag",
                              "give e.g. quay.io/ORG/edgeface-model; the tag is the model version")
        return self

    def params(self) -> dict[str, str]:
        """Pipeline params; unset options keep the Pipeline's defaults."""
        params = {"MODEL_VERSION": self.version, "IMAGE": self.image, "DATA_CONNECTION": self.data_connection,
                  "MODEL_PREFIX": self.prefix, "TLS_VERIFY": "true" if self.tls_verify else "false"}
        optional = {"PLATFORMS": self.platforms, "TOOLS_IMAGE": self.tools_image, "BUSYBOX_IMAGE": self.busybox_image,
                    "GIT_REPO_URL": self.git_repo_url, "SITE_GROUP_PATH": self.site_group_path}
        return params | {k: v for k, v in optional.items() if v}


def build_pipelinerun(options: RunOptions) -> dict:
    options.validate()
    workspaces = [
        {"name": "source", "volumeClaimTemplate": {"spec": {
            "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": options.workspace_size}}}}},
        {"name": "recipe", "configMap": {"name": RECIPE_CONFIGMAP}},
    ]
    if options.registry_secret:
        workspaces.append({"name": "dockerconfig", "secret": {
            "secretName": options.registry_secret, "items": [{"key": ".dockerconfigjson", "path": "config.json"}]}})
    return {
        "apiVersion": "tekton.dev/v1",
        "kind": "PipelineRun",
        "metadata": {"generateName": f"{PIPELINE_NAME}-",
                     "labels": {"app.kubernetes.io/part-of": "edgeface",
                                "edgeface.io/model-version": options.version}},
        "spec": {
            "pipelineRef": {"name": PIPELINE_NAME},
            "params": [{"name": k, "value": v} for k, v in options.params().items()],
            "workspaces": workspaces,
            "taskRunTemplate": {"serviceAccountName": options.service_account},
            "timeouts": {"pipeline": options.timeout},
        },
    }


def to_yaml(body: dict) -> str:
    return yaml.safe_dump(body, sort_keys=False)

"""``edgeface pipeline run``: turn a model version into a model image, in a cluster or here."""

from __future__ import annotations

import argparse
import ipaddress
import os
import sys

from edgeface.tools.deploy import DEFAULT_DATA_CONNECTION

LOOPBACK_NAMES = ("localhost",)


def register(sub) -> None:
    pipeline = sub.add_parser("pipeline", help="build the model image of a model version (Tekton pipeline)")
    psub = pipeline.add_subparsers(dest="pipeline_command", metavar="ACTION", required=True)
    p = psub.add_parser("run", help="fetch a model version from S3, build its image, push it",
                        description="Creates a PipelineRun of the edgeface-model-image pipeline and follows it "
                                    "(or, with --local, runs the Tasks' own step scripts on this machine).")
    p.add_argument("--version", default="latest", help="model version or 'latest' (default)")
    p.add_argument("--image", required=True,
                   help="repository of the model image, without tag, e.g. quay.io/ORG/edgeface-model")
    p.add_argument("--data-connection", default=DEFAULT_DATA_CONNECTION,
                   help=f"RHODS data-connection Secret of the S3 store (default {DEFAULT_DATA_CONNECTION})")
    p.add_argument("--prefix", default="models", help="model store prefix in the bucket (default models)")
    p.add_argument("--platforms", help="comma-separated, e.g. linux/amd64,linux/arm64 (default: the pipeline's; "
                                       "--local: this machine's)")
    p.add_argument("--tls-verify", choices=("auto", "true", "false"), default="auto",
                   help="verify the registry's TLS (auto: not for a registry on 127.0.0.1/localhost)")
    p.add_argument("--tools-image", help="image with the edgeface command, for the fetch task")
    p.add_argument("--busybox-image", help="image with a static /bin/busybox (default: the pipeline's; --local: "
                                           "built from this machine's busybox-static)")
    p.add_argument("--git-repo-url", help="fleet repository: push a branch edgeface/model-VERSION that sets the new "
                                          "tag for review (docs/fleet.md; default: none, no proposal)")
    p.add_argument("--site-group", help="the site group's model folder in that repository "
                                        "(default: the pipeline's, manifests/sites/stores/model)")
    p.add_argument("--dry-run", action="store_true", help="print the PipelineRun YAML and stop")
    cluster = p.add_argument_group("cluster")
    cluster.add_argument("--namespace", help="default: the kubeconfig context's")
    cluster.add_argument("--kubeconfig", help="default: $KUBECONFIG or ~/.kube/config")
    cluster.add_argument("--context", help="kubeconfig context")
    cluster.add_argument("--registry-secret", help="dockerconfigjson Secret with push credentials")
    cluster.add_argument("--service-account", default="pipeline")
    cluster.add_argument("--timeout", type=float, default=3600, help="seconds to follow the run (default 3600)")
    cluster.add_argument("--poll", type=float, default=2.0, help=argparse.SUPPRESS)
    cluster.add_argument("--no-follow", action="store_true", help="create the PipelineRun and exit")
    local = p.add_argument_group("local")
    local.add_argument("--local", action="store_true",
                       help="run the Tasks' step scripts here (buildah, this S3 from AWS_* variables)")
    local.add_argument("--work-dir", help="keep the work files (buildah storage, workspaces) here")
    local.add_argument("--authfile", help="registry auth file (config.json) for the push")
    local.add_argument("--init-container-dir", help="the init-container/ folder (default: this checkout's)")
    p.set_defaults(handler=cmd_run)


def registry_is_loopback(image: str) -> bool:
    host = image.split("/", 1)[0].rsplit(":", 1)[0].strip("[]")
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def options_from(args):
    from edgeface.tools.deploy.pipelinerun import RunOptions

    auto = not (args.local and registry_is_loopback(args.image))  # a test registry on loopback is plain HTTP
    tls_verify = {"true": True, "false": False}.get(args.tls_verify, auto)
    return RunOptions(image=args.image, version=args.version, data_connection=args.data_connection,
                      prefix=args.prefix, platforms=args.platforms, tls_verify=tls_verify,
                      tools_image=args.tools_image, busybox_image=args.busybox_image,
                      registry_secret=args.registry_secret, service_account=args.service_account,
                      git_repo_url=args.git_repo_url, site_group_path=args.site_group).validate()


def cmd_run(args) -> int:
    from edgeface.tools.deploy.pipelinerun import build_pipelinerun, to_yaml

    options = options_from(args)
    if args.dry_run:
        print(to_yaml(build_pipelinerun(options)), end="")
        return 0
    results = run_here(args, options) if args.local else run_in_cluster(args, options)
    if results:
        for name, value in results.items():
            print(f"{name}={value}")
    return 0


def run_here(args, options) -> dict:
    from edgeface.tools.deploy.local_pipeline import run_locally, secrets_from_env

    print(f"running locally; the data connection {options.data_connection!r} is taken from this shell's "
          f"AWS_* variables", file=sys.stderr)
    return run_locally(options.params(), secrets_from_env(options.data_connection, dict(os.environ)),
                       workdir=args.work_dir, keep=bool(args.work_dir), authfile=args.authfile,
                       init_container_dir=args.init_container_dir)


def run_in_cluster(args, options) -> dict | None:
    from edgeface.tools.deploy.pipelinerun import build_pipelinerun
    from edgeface.tools.deploy.trigger import Cluster, follow, start

    cluster = Cluster(args.kubeconfig, args.context, args.namespace)
    name = start(cluster, build_pipelinerun(options))
    print(f"created PipelineRun {name} in namespace {cluster.namespace}", flush=True)
    if args.no_follow:
        return None
    return follow(cluster, name, out=lambda line: print(line, flush=True), poll=args.poll, timeout=args.timeout)

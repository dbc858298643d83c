"""``edgeface train``, ``edgeface recognize`` and ``edgeface model …``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from edgeface.matcher import DEFAULT_TOLERANCE


def whole_number(low: int = 0, high: int | None = None, what: str = "a whole number"):
    """argparse type: a whole number from ``low`` to ``high`` (dlib, the process pool and socket
    calls fail obscurely, with a traceback, outside their range)."""
    span = f"from {low} to {high}" if high is not None else f">= {low}"

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = low - 1
        if value < low or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"{text!r} is not {what} {span}")
        return value
    return parse


_count = whole_number(0)
#: Ports: 0 only where "pick a free one" makes sense (``port_or_zero``).
port = whole_number(1, 65535, "a port")
port_or_zero = whole_number(0, 65535, "a port")


def _distance(text: str) -> float:
    """argparse type: a match distance, 0 to 2 (unit-length embeddings are never further apart)."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0.0 <= value <= 2.0:  # also refuses nan
        raise argparse.ArgumentTypeError(f"{text!r} is not a distance from 0 to 2 (default {DEFAULT_TOLERANCE})")
    return value


def _subparser_with(parent: argparse.ArgumentParser):
    """A parser class whose instances all inherit ``parent``'s options."""
    class WithParent(argparse.ArgumentParser):
        def __init__(self, *args, **kwargs):
            kwargs["parents"] = [parent, *kwargs.get("parents", [])]
            super().__init__(*args, **kwargs)
    return WithParent


def _check_out(path: str) -> None:
    """The folder of an output file must exist: never created silently (a typo would put the
    model where nobody looks). Checked before any work (training takes minutes)."""
    from edgeface.errors import ConfigError

    folder = Path(path).expanduser().parent
    if not folder.is_dir():
        problem = "is not a folder" if folder.exists() else "does not exist"
        raise ConfigError(f"{path}: {folder} {problem}", "create the folder first or choose another --out")


def register(sub) -> None:
    p = sub.add_parser("train", help="enrol a folder of face images into a model file")
    p.add_argument("--images", required=True, help="folder with one sub-folder of images per person")
    p.add_argument("--out", required=True, help="model file to write (e.g. model.data)")
    p.add_argument("--workers", type=_count, default=None, help="processes (default: all cores)")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--expect", action="append", default=[], metavar="NAME",
                   help="a person who must be in the model (repeatable), e.g. the one just accepted in review")
    p.add_argument("--allow-missing", action="store_true",
                   help="write the model even when a person (a folder, or --expect) has no usable image")
    p.set_defaults(handler=cmd_train)

    p = sub.add_parser("recognize", help="name the faces in images")
    p.add_argument("images", nargs="+", metavar="IMAGE")
    p.add_argument("--model", required=True, help="model file")
    p.add_argument("--json", action="store_true", help="one JSON object per image per line")
    p.add_argument("--tolerance", type=_distance, default=DEFAULT_TOLERANCE,
                   help=f"max distance for a match (default {DEFAULT_TOLERANCE})")
    p.add_argument("--upsample", type=_count, default=1, help="times to upsample before detecting (default 1)")
    p.add_argument("--detector", choices=("auto", "hog", "cnn"), default="auto")
    p.set_defaults(handler=cmd_recognize)

    store_help = ("s3://BUCKET/PREFIX or a directory (default: $EDGEFACE_STORE, else "
                  "s3://$AWS_S3_BUCKET/$EDGEFACE_S3_PREFIX when a bucket is set, else ./model-store)")
    model = sub.add_parser("model", help="versioned models in a store (S3 or a directory)")
    model.add_argument("--store", default=None, help=store_help)
    # The same option after the action (``model list --store X``); SUPPRESS keeps a value given
    # before the action when it is not repeated after it.
    after = argparse.ArgumentParser(add_help=False)
    after.add_argument("--store", default=argparse.SUPPRESS, help=store_help)
    msub = model.add_subparsers(dest="model_command", metavar="ACTION", required=True,
                                parser_class=_subparser_with(after))
    p = msub.add_parser("push", help="publish a model file as a new version; prints the version")
    p.add_argument("file")
    p.add_argument("--allow-same", action="store_true",
                   help="publish even when its people and embeddings are those of latest")
    p.add_argument("--candidate", action="store_true",
                   help="mark it as the candidate instead of latest: the sites compare it with latest on live "
                        "faces (shadow evaluation) before it is rolled out")
    p.set_defaults(handler=cmd_model_push)
    p = msub.add_parser("list", help="published versions, oldest first; * marks latest")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_model_list)
    p = msub.add_parser("pull", help="download a version (or latest), verifying its sha256")
    p.add_argument("version", help="a version or 'latest'")
    p.add_argument("--out", required=True)
    p.set_defaults(handler=cmd_model_pull)
    p = msub.add_parser("verify", help="check a version (default latest) against its manifest")
    p.add_argument("version", nargs="?", default="latest")
    p.set_defaults(handler=cmd_model_verify)
    p = msub.add_parser("gate", help="may a candidate move on from the canary sites? (their shadow evaluation, "
                                     "from the core's MQTT broker: EDGEFACE_MQTT_URL)")
    p.add_argument("version")
    p.add_argument("--canary", action="append", required=True, metavar="SITE",
                   help="a canary site whose report counts (repeatable)")
    p.add_argument("--min-compared", type=whole_number(0), default=200, metavar="N",
                   help="faces each canary site must have compared (default 200)")
    p.set_defaults(handler=cmd_model_gate)
    p = msub.add_parser("promote", help="point latest at a version (e.g. to roll back), or the candidate")
    p.add_argument("version", nargs="?", help="a version; with --candidate and none: no candidate any more")
    p.add_argument("--candidate", action="store_true", help="point the candidate at it instead of latest")
    p.set_defaults(handler=cmd_model_promote)


def cmd_train(args) -> int:
    from edgeface import images
    from edgeface.training import check_complete, report_lines, save_with_report, train

    _check_out(args.out)
    images.configure(args.settings.images.max_pixels)
    model, report = train(args.images, workers=args.workers, progress=not args.no_progress,
                          source_date_epoch=args.settings.training.source_date_epoch)
    for line in report_lines(report):
        print(line, file=sys.stderr)
    check_complete(report, args.expect, args.allow_missing)
    report_file = save_with_report(model, report, args.out)
    print(f"{args.out}: {len(model.names)} identities from {report['used']} of {report['images']} images "
          f"in {report['seconds']:.1f} s (report: {report_file})", file=sys.stderr)
    return 0


def cmd_recognize(args) -> int:
    from edgeface.engine import FaceEngine
    from edgeface.errors import EdgefaceError
    from edgeface.images import configure, load_image
    from edgeface.modelfile import FaceModel
    from edgeface.recognize import STILL_SETTINGS, recognize_faces, result_json

    configure(args.settings.images.max_pixels)
    matcher = FaceModel.load(args.model).matcher(args.tolerance)
    engine = FaceEngine(STILL_SETTINGS, upsample=args.upsample, detector=args.detector)
    failed = 0
    for path in args.images:
        try:
            faces = recognize_faces(engine, matcher, load_image(path))
        except EdgefaceError as err:
            failed += 1
            print(f"edgeface: error: {err}", file=sys.stderr)
            if args.json:
                print(json.dumps({"image": path, "faces": [], "error": str(err)}), flush=True)
            continue
        if args.json:
            print(json.dumps(result_json(path, faces), ensure_ascii=False), flush=True)
        else:
            names = ", ".join(f"{f['name']} ({f['distance']:.2f})" for f in faces) or "no faces"
            print(f"{path}: {names}", flush=True)
    return 1 if failed else 0


def _store(args):
    from edgeface.store import open_store

    return open_store(args.store, args.settings, origin="--store")


def cmd_model_push(args) -> int:
    from edgeface.training import load_report

    report = load_report(args.file)
    for warning in (report or {}).get("warnings", []):
        print(f"the training report warns: {warning}", file=sys.stderr)
    store = _store(args)
    if not args.allow_same:
        store.refuse_same_as_latest(args.file)
    version = store.push(args.file, training_report=report, candidate=args.candidate)
    print(f"pushed {args.file} to {store.where}/{version}{' as the candidate' if args.candidate else ''}",
          file=sys.stderr)
    print(version)
    return 0


def cmd_model_list(args) -> int:
    store = _store(args)
    latest, versions = store.latest(), store.versions()
    if args.json:
        print(json.dumps({"store": store.where, "latest": latest, "candidate": store.candidate(),
                          "versions": versions}))
    else:
        for v in versions:
            print(("* " if v == latest else "  ") + v)
        if not versions:
            print(f"no versions in {store.where}", file=sys.stderr)
    return 0


def cmd_model_pull(args) -> int:
    manifest = _store(args).pull(args.version, args.out)
    print(f"{args.out}: version {manifest['version']}, sha256 {manifest['sha256']} verified", file=sys.stderr)
    print(manifest["version"])
    return 0


def cmd_model_verify(args) -> int:
    manifest = _store(args).verify(args.version)
    identities = len(manifest.get("identities") or [])
    print(f"{manifest['version']}: OK (sha256 {manifest['sha256']}, {identities} identities)")
    return 0


def cmd_model_gate(args) -> int:
    from edgeface.errors import EdgefaceError
    from edgeface.uplink.accuracy import collect_stats, shadow_verdict

    url = args.settings.uplink.url
    if not url:
        raise EdgefaceError("no MQTT broker to read the sites' reports from", "set EDGEFACE_MQTT_URL (the core's)")
    problems = shadow_verdict(collect_stats(url), args.version, args.canary, args.min_compared)
    if problems:
        raise EdgefaceError(f"{args.version} may not move on: " + "; ".join(problems),
                            "fix the model (a changed name is a wrong name at the sites), or wait for more faces")
    print(f"{args.version}: the canary sites ({', '.join(args.canary)}) compared it on live faces with no "
          f"changed name (at least {args.min_compared} faces each)")
    return 0


def cmd_model_promote(args) -> int:
    store = _store(args)
    if args.version is None:
        if not args.candidate:
            from edgeface.errors import EdgefaceError

            raise EdgefaceError("which version?", "edgeface model promote VERSION (or --candidate without one to "
                                                  "withdraw the candidate)")
        store.withdraw_candidate()
        print("candidate -> none")
        return 0
    manifest = store.promote(args.version, candidate=args.candidate)
    print(f"{'candidate' if args.candidate else 'latest'} -> {manifest['version']}")
    return 0

"""Versioned model store, on a local directory or on S3, with one layout::

    PREFIX/<version>/model.data
    PREFIX/<version>/manifest.json   {"version", "sha256", "size", "identities", "created", "training",
                                      "evaluation", ...}
    PREFIX/latest                     text: the version in use

A push writes the model, then its manifest, then ``latest`` — so a reader that follows
``latest`` never finds a version whose files are not all there. Versions are UTC timestamps
(``20261124T210343Z``) and sort as strings.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

from edgeface.errors import ModelFileError, StoreError
from edgeface.evaluation import evaluate_model, manifest_summary
from edgeface.matcher import DEFAULT_TOLERANCE
from edgeface.modelfile import FaceModel, atomic_write, read_model_bytes
from edgeface.s3config import s3_client
from edgeface.settings import S3Settings, Settings, load

MODEL_NAME = "model.data"
MANIFEST_NAME = "manifest.json"
LATEST_NAME = "latest"
#: The version the sites compare with ``latest`` on live faces before the fleet moves (shadow
#: evaluation, edgeface/live/shadow.py); empty: none.
CANDIDATE_NAME = "candidate"
VERSION_RE = re.compile(r"^\d{8}T\d{6}Z$")
VERSION_FORMAT = "%Y%m%dT%H%M%SZ"


class LocalBackend:
    def __init__(self, root: Path):
        self.root = root
        self.where = str(root)

    def read(self, key: str) -> bytes | None:
        try:
            return (self.root / key).read_bytes()
        except FileNotFoundError:
            return None
        except OSError as err:
            raise StoreError(f"{self.root / key}: cannot read ({err.strerror})", "check permissions") from None

    def write(self, key: str, data: bytes) -> None:
        try:
            atomic_write(self.root / key, data)
        except OSError as err:
            raise StoreError(f"{self.root / key}: cannot write ({err.strerror})",
                             "check the store directory is writable") from None

    def folders(self) -> list[str]:
        try:
            return [p.name for p in self.root.iterdir() if p.is_dir()] if self.root.is_dir() else []
        except OSError as err:
            raise StoreError(f"{self.root}: cannot list ({err.strerror})", "check permissions") from None


class S3Backend:
    def __init__(self, settings: S3Settings, bucket: str, prefix: str, origin: str = "AWS_S3_BUCKET"):
        """``origin`` names where the bucket came from (a flag or a variable), for the error that blames it."""
        self.settings, self.bucket, self.prefix, self.origin = settings, bucket, prefix.strip("/"), origin
        self.where = f"s3://{bucket}/{self.prefix}"
        self._client = s3_client(settings)

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def _call(self, what: str, fn, **kwargs):
        from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError, NoCredentialsError

        try:
            return fn(Bucket=self.bucket, **kwargs)
        except ClientError as err:
            code = err.response.get("Error", {}).get("Code", "")
            if code in ("NoSuchKey", "404", "NotFound"):
                return None
            if code == "NoSuchBucket":
                raise StoreError(f"S3 bucket {self.bucket!r} (from {self.origin}) does not exist at "
                                 f"{self.settings.endpoint or 'the AWS default endpoint'}",
                                 f"create it or fix the bucket in {self.origin}") from None
            if code in ("AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "403"):
                raise StoreError(f"S3 refused to {what} {self.where}: {code}",
                                 "check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY of the data connection") from None
            raise StoreError(f"S3 error while trying to {what} {self.where}: {code}",
                             "check the data connection settings") from None
        except NoCredentialsError:
            raise StoreError("no S3 credentials", "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY") from None
        except EndpointConnectionError:
            raise StoreError(f"cannot reach S3 at {self.settings.endpoint or 'the AWS default endpoint'}",
                             "check AWS_S3_ENDPOINT and that the server is up") from None
        except BotoCoreError as err:
            raise StoreError(f"S3 request failed while trying to {what} {self.where}: {err.__class__.__name__}",
                             "check AWS_S3_ENDPOINT and the network") from None

    def read(self, key: str) -> bytes | None:
        def get_all(**kwargs):
            resp = self._client.get_object(**kwargs)
            return resp["Body"].read()  # inside _call: a connection cut mid-body is a StoreError too

        return self._call("read", get_all, Key=self._key(key))

    def write(self, key: str, data: bytes) -> None:
        self._call("write to", self._client.put_object, Key=self._key(key), Body=data)

    def folders(self) -> list[str]:
        names, token = [], None
        while True:
            extra: dict[str, str] = {"ContinuationToken": token} if token else {}
            resp = self._call("list", self._client.list_objects_v2,
                              Prefix=f"{self.prefix}/" if self.prefix else "", Delimiter="/", **extra) or {}
            names += [p["Prefix"].rstrip("/").rsplit("/", 1)[-1] for p in resp.get("CommonPrefixes", [])]
            if not resp.get("IsTruncated"):
                return names
            token = resp["NextContinuationToken"]


class ModelStore:
    def __init__(self, backend):
        self.backend = backend

    @property
    def where(self) -> str:
        return self.backend.where

    def versions(self) -> list[str]:
        """Published versions (those with a manifest), oldest first."""
        candidates = sorted(v for v in self.backend.folders() if VERSION_RE.match(v))
        return [v for v in candidates if self.backend.read(f"{v}/{MANIFEST_NAME}") is not None]

    def latest(self) -> str | None:
        return self._pointer(LATEST_NAME)

    def candidate(self) -> str | None:
        """The version marked for shadow evaluation at the sites, if any."""
        return self._pointer(CANDIDATE_NAME)

    def _pointer(self, name: str) -> str | None:
        raw = self.backend.read(name)
        version = raw.decode("utf-8", "replace").strip() if raw is not None else ""
        if not version:
            return None
        if not VERSION_RE.match(version):
            raise StoreError(f"{self.where}/{name} holds {version[:40]!r}, not a version",
                             f"fix it with: edgeface model promote {'--candidate ' if name == CANDIDATE_NAME else ''}"
                             "VERSION")
        return version

    def resolve(self, version: str) -> str:
        if version == LATEST_NAME:
            resolved = self.latest()
            if resolved is None:
                raise StoreError(f"{self.where} has no published model yet", "push one: edgeface model push FILE")
            return resolved
        if not VERSION_RE.match(version):
            raise StoreError(f"{version!r} is not a model version (expected e.g. 20261124T210343Z or 'latest')",
                             "list them with: edgeface model list")
        return version

    def manifest(self, version: str) -> dict:
        version = self.resolve(version)
        raw = self.backend.read(f"{version}/{MANIFEST_NAME}")
        if raw is None:
            raise StoreError(f"model version {version} not found in {self.where}",
                             "list them with: edgeface model list")
        try:
            manifest = json.loads(raw)
            valid = (isinstance(manifest, dict) and isinstance(manifest.get("sha256"), str)
                     and isinstance(manifest.get("size"), int))
        except ValueError:
            valid = False
        if not valid:
            raise StoreError(f"{self.where}/{version}/{MANIFEST_NAME} is not a valid manifest",
                             "re-push that model version")
        # The manifest's own "version" is used as a key and an image tag downstream: it must be
        # the version it is stored under, never a path or text of its own choosing.
        if manifest.get("version") != version:
            raise StoreError(f"{self.where}/{version}/{MANIFEST_NAME} names version "
                             f"{str(manifest.get('version'))[:40]!r}, not {version}",
                             "the manifest was modified or copied from another version; re-push that model version")
        return manifest

    def fetch(self, version: str) -> tuple[bytes, dict]:
        """Bytes of a version's model, checked against its manifest (sha256, size, parseable)."""
        manifest = self.manifest(version)
        version = manifest["version"]
        data = self.backend.read(f"{version}/{MODEL_NAME}")
        if data is None:
            raise StoreError(f"{self.where}/{version}/{MODEL_NAME} is missing although its manifest exists",
                             "re-push that model version")
        digest = hashlib.sha256(data).hexdigest()
        if digest != manifest["sha256"] or len(data) != manifest["size"]:
            raise StoreError(f"{self.where}/{version}/{MODEL_NAME} does not match its manifest "
                             f"(sha256 {digest[:12]}… size {len(data)}, manifest says "
                             f"{manifest['sha256'][:12]}… size {manifest['size']})",
                             "the object was modified or truncated; re-push or promote another version")
        try:
            FaceModel.from_bytes(data, source=f"{self.where}/{version}/{MODEL_NAME}")
        except ModelFileError as err:
            raise StoreError(str(err.message), "re-push that model version") from None
        return data, manifest

    def pull(self, version: str, out: str | os.PathLike) -> dict:
        data, manifest = self.fetch(version)
        atomic_write(Path(out), data)
        return manifest

    def verify(self, version: str = LATEST_NAME) -> dict:
        return self.fetch(version)[1]

    def push(self, path: str | os.PathLike, training_report: dict | None = None, evaluation: dict | None = None,
             tolerance: float = DEFAULT_TOLERANCE, candidate: bool = False) -> str:
        """Publish a model file as a new version and point ``latest`` at it — or, ``candidate``,
        the ``candidate`` pointer (the sites evaluate it beside ``latest``). Returns the version.

        The manifest carries the model's evaluation (``edgeface.evaluation.manifest_summary``) so
        that versions can be compared later: ``evaluation`` (an ``evaluate`` report of this model),
        else measured here at ``tolerance``."""
        data = read_model_bytes(path)  # read once: what is checked is exactly what is published
        model = FaceModel.from_bytes(data, source=str(path))  # refuse to publish anything that is not a model
        summary = manifest_summary(evaluation or evaluate_model(model, tolerance))
        version = self._new_version()
        manifest = {
            "version": version,
            "sha256": hashlib.sha256(data).hexdigest(),
            "size": len(data),
            "format_version": model.metadata.get("format_version"),
            "identities": model.names,
            "embeddings": len(model.labels),
            "created": model.metadata.get("created"),
            "published": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "content_sha256": model.content_digest(),
            "training": _training_summary(model, training_report),
            "evaluation": summary,
        }
        self.backend.write(f"{version}/{MODEL_NAME}", data)
        self.backend.write(f"{version}/{MANIFEST_NAME}", json.dumps(manifest, indent=2, ensure_ascii=False).encode())
        self.backend.write(CANDIDATE_NAME if candidate else LATEST_NAME, version.encode())
        return version

    def refuse_same_as_latest(self, path: str | os.PathLike) -> None:
        """Raise when the model file holds exactly the people and embeddings of ``latest``: a
        "new" version that changes nothing (e.g. every new image was skipped in training)."""
        latest = self.latest()
        if latest is None:
            return
        model = FaceModel.from_bytes(read_model_bytes(path), source=str(path))
        manifest = self.manifest(latest)
        if manifest.get("content_sha256") is None:          # a manifest from before it was recorded
            manifest["content_sha256"] = FaceModel.from_bytes(self.fetch(latest)[0]).content_digest()
        if manifest["content_sha256"] != model.content_digest():
            return
        raise StoreError(f"{path} holds the same {len(model.names)} people and {len(model.labels)} embeddings as "
                         f"latest ({latest} in {self.where}); nothing new to publish",
                         "check the training report for skipped images and people not enrolled, train again, "
                         "or pass --allow-same to publish it anyway")

    def promote(self, version: str, candidate: bool = False) -> dict:
        """Point ``latest`` (or, ``candidate``, the candidate) at an existing, verified version
        (e.g. roll back). A candidate promoted to ``latest`` is a candidate no more."""
        manifest = self.verify(version)
        self.backend.write(CANDIDATE_NAME if candidate else LATEST_NAME, manifest["version"].encode())
        if not candidate and self.candidate() == manifest["version"]:
            self.backend.write(CANDIDATE_NAME, b"")
        return manifest

    def withdraw_candidate(self) -> None:
        self.backend.write(CANDIDATE_NAME, b"")

    def _new_version(self) -> str:
        now = datetime.now(timezone.utc).replace(microsecond=0)
        existing = set(self.backend.folders())
        newest = max((v for v in existing if VERSION_RE.match(v)), default=None)
        if newest:  # strictly after the newest, even if clocks disagree or two pushes share a second
            now = max(now, datetime.strptime(newest, VERSION_FORMAT).replace(tzinfo=timezone.utc)
                      + timedelta(seconds=1))
        return now.strftime(VERSION_FORMAT)


def _training_summary(model: FaceModel, report: dict | None) -> dict:
    counts = dict(model.metadata.get("counts") or {})
    if report:
        counts.update({"skipped_files": [s["file"] for s in report.get("skipped", [])][:100],
                       "not_enrolled": report.get("not_enrolled", [])})
    return counts


#: ``scheme:`` at the start of a store setting: a URL was meant, never a folder named ``s3:``.
_SCHEME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def open_store(url: str | None = None, settings: Settings | None = None, origin: str | None = None) -> ModelStore:
    """``s3://BUCKET/PREFIX`` or a directory; default: ``settings.store_url()`` (EDGEFACE_STORE, else S3
    when AWS_S3_BUCKET is set, else ./model-store). Entry points pass their settings; without them
    (library callers, the model watcher) they are loaded from the environment here. ``origin`` names
    where ``url`` came from (``--store``) so that errors blame the right setting."""
    settings = settings or load()
    if url:
        origin = origin or "the store URL"
    else:
        url = settings.store_url()
        origin = "EDGEFACE_STORE" if settings.model.store else "AWS_S3_BUCKET"
    if url.startswith("s3://"):
        bucket, _, prefix = url[5:].partition("/")
        if not bucket:
            raise StoreError(f"store URL {url!r} (from {origin}) names no bucket", "use s3://BUCKET/PREFIX")
        return ModelStore(S3Backend(settings.s3, bucket, prefix, origin))
    if url.startswith("file://"):
        return ModelStore(LocalBackend(Path(url.removeprefix("file://"))))
    if _SCHEME_RE.match(url):   # s3:/bucket, s3:bucket, S3://, http://: a mistyped or foreign URL
        raise StoreError(f"store {url!r} (from {origin}) is not a supported URL",
                         "use s3://BUCKET/PREFIX, or a directory (./NAME for a folder whose name has a colon)")
    return ModelStore(LocalBackend(Path(url)))

"""The CLI's rough edges (issue 13, item 10): each careless command line is run as a user would
(``python -m edgeface`` in a subprocess, in an empty working folder) and must end with exit code 2,
one clear line naming what was wrong, no traceback and no side effect."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from edgeface.store import open_store

#: (id, arguments, words the error must contain). ``{model}`` is a real model file, ``{tmp}`` a
#: fresh folder. The side effects these lines used to have are checked in ``test_refused``.
REFUSED = [
    ("s3-one-slash", ["model", "--store", "s3:/bucket/models", "push", "{model}"], ["s3:/bucket/models", "s3://"]),
    ("s3-no-slash", ["model", "--store", "s3:bucket", "list"], ["s3:bucket", "not a supported URL"]),
    ("s3-upper", ["model", "list", "--store", "S3://bucket"], ["S3://bucket", "not a supported URL"]),
    ("s3-no-bucket", ["model", "list", "--store", "s3:///models"], ["names no bucket"]),
    ("serve-store-one-slash", ["serve", "--store", "s3:/bucket"], ["s3:/bucket", "(from --store)"]),
    ("serve-port-high", ["serve", "--port", "99999"], ["--port", "'99999' is not a port from 0 to 65535"]),
    ("serve-port-text", ["serve", "--port", "http"], ["--port", "'http' is not a port"]),
    ("serve-threads-zero", ["serve", "--threads", "0"], ["--threads", "'0' is not a whole number >= 1"]),
    ("demo-port-zero", ["demo", "--port", "0"], ["'0' is not a port from 1 to 65535"]),
    ("camera-port-negative", ["camera", "--source", "{model}", "--port", "-1"], ["'-1' is not a port"]),
    ("camera-register-port", ["camera", "--source", "{model}", "--register-port", "65536"], ["'65536' is not a port"]),
    ("train-out-missing-folder", ["train", "--images", "{tmp}", "--out", "{tmp}/no/such/dir/m.data"],
     ["no/such/dir does not exist", "create the folder first"]),
    ("train-out-under-a-file", ["train", "--images", "{tmp}", "--out", "{model}/m.data"], ["is not a folder"]),
]


def edgeface(*args: str, cwd: Path, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    """``python -m edgeface ARGS`` in ``cwd`` with no store or S3 settings but those given."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "EDGEFACE_"))}
    repo = str(Path(__file__).resolve().parents[2])
    base["PYTHONPATH"] = os.pathsep.join(filter(None, [repo, base.get("PYTHONPATH")]))
    return subprocess.run([sys.executable, "-m", "edgeface", *args], capture_output=True, text=True, cwd=cwd,
                          env={**base, **(env or {})}, timeout=timeout)


def assert_clear_refusal(proc: subprocess.CompletedProcess, words: list[str]) -> None:
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr, proc.stderr
    for word in words:
        assert word in proc.stderr, (word, proc.stderr)


@pytest.mark.parametrize("args,words", [case[1:] for case in REFUSED], ids=[case[0] for case in REFUSED])
def test_refused(args, words, sample_model, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    proc = edgeface(*(a.format(model=sample_model, tmp=tmp_path) for a in args), cwd=work, timeout=60)
    assert_clear_refusal(proc, words)
    # Nothing written: no folder named "s3:" or "S3:", no model folders created on the way.
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before


def test_store_option_after_the_action(sample_model, tmp_path):
    """``--store`` works before and after the action; after wins when both are given."""
    store, other = tmp_path / "store", tmp_path / "other"
    version = edgeface("model", "push", str(sample_model), "--store", str(store), cwd=tmp_path).stdout.strip()
    assert open_store(str(store)).versions() == [version]
    listed = edgeface("model", "list", "--store", str(store), cwd=tmp_path)
    assert listed.returncode == 0 and listed.stdout.split() == ["*", version], listed.stderr
    both = edgeface("model", "--store", str(other), "list", "--json", "--store", str(store), cwd=tmp_path)
    assert f'"latest": "{version}"' in both.stdout, both.stderr
    before = edgeface("model", "--store", str(store), "verify", cwd=tmp_path)
    assert before.returncode == 0 and before.stdout.startswith(f"{version}: OK"), before.stderr
    assert not other.exists()


def test_missing_bucket_from_store_blames_the_option(s3_env, tmp_path):
    """The bucket came from --store: the error names it and the option, not AWS_S3_BUCKET
    (which is set, to a bucket that exists)."""
    env = {k: v for k, v in s3_env.items()}
    proc = edgeface("model", "list", "--store", "s3://no-such-bucket-x1/models", cwd=tmp_path, env=env)
    assert_clear_refusal(proc, ["'no-such-bucket-x1'", "--store", s3_env["AWS_S3_ENDPOINT"]])
    assert "AWS_S3_BUCKET" not in proc.stderr
    # The same mistake made in the environment blames the environment.
    proc = edgeface("model", "list", cwd=tmp_path, env={**env, "AWS_S3_BUCKET": "no-such-bucket-x2"})
    assert_clear_refusal(proc, ["'no-such-bucket-x2'", "AWS_S3_BUCKET"])
    assert s3_env["AWS_SECRET_ACCESS_KEY"] not in proc.stdout + proc.stderr


def test_second_demo_on_a_busy_port_fails_at_once(tmp_path):
    """A port already served (here by a plain listener) is refused before any training or start,
    and the demo never says it is running."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = edgeface("demo", "--port", str(port), "--model", str(tmp_path / "never-trained.data"),
                        cwd=tmp_path, timeout=60)
    assert_clear_refusal(proc, [f"port {port} on 127.0.0.1 is in use", "--port"])
    assert "running" not in proc.stdout and "training" not in proc.stdout
    assert not (tmp_path / "never-trained.data").exists()

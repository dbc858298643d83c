"""``model.data``: enrolled face embeddings in a format that is read, never executed.

Layout (all little-endian)::

    0   8 bytes   magic b"EDGEFACE"
    8   u16       format version (1)
    10  u16       reserved (0)
    12  u32       header length H
    16  H bytes   header: UTF-8 JSON {"dim", "count", "names", "metadata"}
    ..  count*dim float32   embeddings, row-major
    ..  count     int32     identity index of each embedding (into names)
    ..  32 bytes  SHA-256 of everything above

The trailing digest makes truncation and tampering detectable before anything is parsed; the
loader then checks every size and index, so a foreign or hostile file fails with a message
instead of executing code (the system we replace unpickled its model).
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edgeface.errors import ModelFileError
from edgeface.matcher import DEFAULT_TOLERANCE, EMBEDDING_DIM, Matcher

MAGIC = b"EDGEFACE"
FORMAT_VERSION = 1
_PREAMBLE = struct.Struct("<8sHHI")
_DIGEST_LEN = 32
MAX_HEADER_BYTES = 64 * 1024 * 1024
WHAT_TO_DO = "re-download it (edgeface model pull) or re-train it (edgeface train)"


@dataclass
class FaceModel:
    embeddings: np.ndarray                 # (N, dim) float32
    labels: np.ndarray                     # (N,) int32, index into names
    names: list[str]                       # display names, any Unicode
    metadata: dict = field(default_factory=dict)

    def __post_init__(self):
        self.labels = np.ascontiguousarray(self.labels, dtype=np.int32).reshape(-1)
        emb = np.ascontiguousarray(self.embeddings, dtype=np.float32)
        self.embeddings = emb.reshape(len(self.labels), emb.shape[-1] if emb.ndim == 2 else EMBEDDING_DIM)

    @property
    def identity_count(self) -> int:
        return len(self.names)

    @property
    def version(self) -> str | None:
        return self.metadata.get("version")

    def matcher(self, tolerance: float = DEFAULT_TOLERANCE) -> Matcher:
        return Matcher(self.embeddings, self.labels, self.names, tolerance)

    def content_digest(self) -> str:
        """SHA-256 of what recognition depends on (not of timestamps), for reproducibility checks."""
        h = hashlib.sha256()
        h.update(json.dumps(self.names, ensure_ascii=False).encode())
        h.update(self.embeddings.astype("<f4").tobytes())
        h.update(self.labels.astype("<i4").tobytes())
        return h.hexdigest()

    def to_bytes(self) -> bytes:
        dim = self.embeddings.shape[1]
        header = json.dumps({"dim": dim, "count": len(self.labels), "names": self.names,
                             "metadata": self.metadata}, ensure_ascii=False, sort_keys=True).encode()
        body = b"".join([_PREAMBLE.pack(MAGIC, FORMAT_VERSION, 0, len(header)), header,
                         self.embeddings.astype("<f4").tobytes(), self.labels.astype("<i4").tobytes()])
        return body + hashlib.sha256(body).digest()

    def save(self, path: str | os.PathLike) -> Path:
        """Write atomically: readers (a hot-reloading web app) never see half a file."""
        return atomic_write(Path(path), self.to_bytes())

    @classmethod
    def load(cls, path: str | os.PathLike) -> FaceModel:
        return cls.from_bytes(read_model_bytes(path), source=str(path))

    @classmethod
    def from_bytes(cls, data: bytes, source: str = "model") -> FaceModel:
        def bad(problem: str) -> ModelFileError:
            return ModelFileError(f"{source}: {problem}", WHAT_TO_DO)

        if not data.startswith(MAGIC[:min(len(data), len(MAGIC))]) or not data:
            raise bad("not an edgeface model file (wrong magic bytes; is it an old pickled model?)")
        if len(data) < _PREAMBLE.size + _DIGEST_LEN:
            raise bad(f"too short to be a model file ({len(data)} bytes)")
        _, fmt, _, header_len = _PREAMBLE.unpack_from(data)
        if fmt != FORMAT_VERSION:
            raise ModelFileError(f"{source}: model format version {fmt} is not supported "
                                 f"(this edgeface reads version {FORMAT_VERSION})", "upgrade edgeface")
        body, digest = data[:-_DIGEST_LEN], data[-_DIGEST_LEN:]
        if hashlib.sha256(body).digest() != digest:
            raise bad("checksum mismatch: the file is truncated or was modified")
        if header_len > min(MAX_HEADER_BYTES, len(body) - _PREAMBLE.size):
            raise bad("header length is out of range")
        try:
            header = json.loads(body[_PREAMBLE.size:_PREAMBLE.size + header_len].decode("utf-8"))
            dim, count, names = int(header["dim"]), int(header["count"]), header["names"]
            metadata = header.get("metadata") or {}
        except (ValueError, KeyError, TypeError, UnicodeDecodeError) as err:
            raise bad(f"header is not valid ({err.__class__.__name__})") from None
        if count == 0:
            raise ModelFileError(f"{source}: the model holds no faces",
                                 "train it from at least one usable image (edgeface train)")
        if not (0 < dim <= 4096) or count < 0 or not isinstance(names, list) \
                or not all(isinstance(n, str) for n in names) or not isinstance(metadata, dict):
            raise bad("header fields have invalid values")
        start = _PREAMBLE.size + header_len
        expected = start + count * dim * 4 + count * 4
        if expected != len(body):
            raise bad(f"size does not match its header ({len(body)} bytes of data, header says {expected})")
        embeddings = np.frombuffer(body, dtype="<f4", count=count * dim, offset=start).reshape(count, dim)
        labels = np.frombuffer(body, dtype="<i4", count=count, offset=start + count * dim * 4)
        if count and (labels.min() < 0 or labels.max() >= len(names)):
            raise bad("an embedding refers to an identity that does not exist")
        if not np.isfinite(embeddings).all():
            raise bad("embeddings contain NaN or infinity")
        metadata.setdefault("dim", dim)
        return cls(embeddings, labels, names, metadata)


def read_model_bytes(path: str | os.PathLike) -> bytes:
    """The raw bytes of a model file, or a ``ModelFileError`` saying why they cannot be read."""
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise ModelFileError(f"{path}: no such model file",
                             "train one (edgeface train) or pull one (edgeface model pull)") from None
    except OSError as err:
        raise ModelFileError(f"{path}: cannot read ({err.strerror})", "check the path and permissions") from None


def atomic_write(path: Path, data: bytes) -> Path:
    """Write to a temporary file in the same directory, fsync, then rename over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def sha256_file(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()

"""model.data: round trip, and clear refusals of truncated, tampered and foreign files."""

import pickle

import numpy as np
import pytest

from edgeface.errors import ModelFileError
from edgeface.modelfile import FaceModel


def _model(n=5):
    rng = np.random.default_rng(1)
    names = ["Zoë Ångström", "李小龙", "Ada Lovelace"]
    return FaceModel(rng.normal(size=(n, 128)).astype(np.float32), np.arange(n) % 3, names,
                     {"created": "2026-11-24T00:00:00Z", "note": "ünïcode"})


def test_round_trip_keeps_everything(tmp_path):
    m = _model()
    loaded = FaceModel.load(m.save(tmp_path / "model.data"))
    assert loaded.names == m.names and loaded.metadata["note"] == "ünïcode"
    assert np.array_equal(loaded.embeddings, m.embeddings) and np.array_equal(loaded.labels, m.labels)
    assert loaded.embeddings.dtype == np.float32 and loaded.content_digest() == m.content_digest()


def test_truncated_file_is_refused(tmp_path):
    path = _model().save(tmp_path / "model.data")
    data = path.read_bytes()
    for cut in (10, len(data) // 2, len(data) - 1):
        path.write_bytes(data[:cut])
        with pytest.raises(ModelFileError, match=r"model\.data: .*(too short|checksum|truncated)"):
            FaceModel.load(path)


def test_tampered_byte_is_refused(tmp_path):
    path = _model().save(tmp_path / "model.data")
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match="checksum mismatch"):
        FaceModel.load(path)


class _Exploit:
    def __reduce__(self):
        import os
        return (os.system, ("touch /tmp/edgeface-pwned-by-model",))


def test_pickled_model_is_refused_without_running_it(tmp_path):
    marker = "/tmp/edgeface-pwned-by-model"
    import os
    if os.path.exists(marker):
        os.remove(marker)
    path = tmp_path / "model.data"
    path.write_bytes(pickle.dumps({"encodings": [_Exploit()], "names": ["x"]}))
    with pytest.raises(ModelFileError, match="not an edgeface model file"):
        FaceModel.load(path)
    assert not os.path.exists(marker)


def test_missing_and_other_version(tmp_path):
    with pytest.raises(ModelFileError, match="no such model file"):
        FaceModel.load(tmp_path / "absent.data")
    data = bytearray(_model().to_bytes())
    data[8] = 9  # format version 9
    with pytest.raises(ModelFileError, match="format version 9"):
        FaceModel.from_bytes(bytes(data))


def test_consistent_digest_but_lying_header_is_refused():
    import hashlib
    import json
    import struct

    header = json.dumps({"dim": 128, "count": 1000, "names": ["a"], "metadata": {}}).encode()
    body = struct.pack("<8sHHI", b"EDGEFACE", 1, 0, len(header)) + header + b"\0" * 516
    with pytest.raises(ModelFileError, match="size does not match"):
        FaceModel.from_bytes(body + hashlib.sha256(body).digest())
    header = json.dumps({"dim": 128, "count": 1, "names": ["a"], "metadata": {}}).encode()
    body = struct.pack("<8sHHI", b"EDGEFACE", 1, 0, len(header)) + header + b"\0" * 512 + struct.pack("<i", 5)
    with pytest.raises(ModelFileError, match="identity that does not exist"):
        FaceModel.from_bytes(body + hashlib.sha256(body).digest())


def test_empty_model_is_refused(tmp_path):
    empty = FaceModel(np.zeros((0, 128), np.float32), np.zeros(0, np.int32), [], {})
    with pytest.raises(ModelFileError, match="holds no faces"):
        FaceModel.load(empty.save(tmp_path / "model.data"))

"""Model hot reload from files and stores (a real moto_server for S3)."""

from __future__ import annotations

import time

import numpy as np
import pytest

from edgeface.live import ModelHolder
from edgeface.live.modelwatch import FileModelSource, ModelWatcher, StoreModelSource
from edgeface.modelfile import FaceModel


def _versioned(sample_model, path, version: str):
    model = FaceModel.load(sample_model)
    FaceModel(model.embeddings, model.labels, model.names, {**model.metadata, "version": version}).save(path)


def test_model_file_hot_reload_swaps_good_models_and_refuses_bad_ones(sample_model, tmp_path):
    path = tmp_path / "model.data"
    _versioned(sample_model, path, "v1")
    holder = ModelHolder()
    watcher = ModelWatcher(holder, FileModelSource(path))
    watcher.check_now()
    assert holder.current().version == "v1" and holder.current().generation == 1

    _versioned(sample_model, path, "v2")            # atomic replace, as the init container's copy ends
    watcher.check_now()
    assert holder.current().version == "v2" and holder.current().generation == 2

    path.write_bytes(path.read_bytes()[:-100])      # a truncated copy
    watcher.check_now()
    assert holder.current().version == "v2", "a bad model replaced a good one"
    assert "truncated" in holder.status()["last_error"] and holder.reloads["failed"] == 1

    empty = FaceModel(np.empty((0, 128), np.float32), np.empty(0, np.int32), [], {"version": "empty"})
    empty.save(path)
    watcher.check_now()
    assert holder.current().version == "v2" and "holds no faces" in holder.status()["last_error"]

    path.unlink()
    watcher.check_now()
    assert holder.current().version == "v2" and "no model" in holder.status()["last_error"]
    _versioned(sample_model, path, "v3")
    watcher.check_now()
    assert holder.current().version == "v3" and holder.status()["last_error"] is None


@pytest.mark.parametrize("kind", ["directory", "s3"])
def test_store_latest_is_followed(kind, sample_model, tmp_path, request):
    from edgeface.store import open_store

    if kind == "s3":
        env = request.getfixturevalue("s3_env")            # a real moto_server over HTTP
        url = f"s3://{env['AWS_S3_BUCKET']}/models"
    else:
        url = str(tmp_path / "store")
    store = open_store(url)
    first = store.push(sample_model)
    holder = ModelHolder()
    watcher = ModelWatcher(holder, StoreModelSource(url, cache_dir=str(tmp_path / "cache")))
    watcher.check_now()
    assert holder.current().version == first
    second = store.push(sample_model)
    watcher.check_now()
    assert holder.current().version == second
    store.promote(first)                                  # a roll-back moves latest backwards
    watcher.check_now()
    assert holder.current().version == first and len(list((tmp_path / "cache").glob("*.data"))) == 1


def test_a_version_that_failed_to_load_is_tried_again_later(sample_model, tmp_path):
    """The store loses the version's file for a moment (S3 dropping mid-download looks the same
    to the watcher): ``latest`` still names it, so only a retry can bring it in."""
    from edgeface.store import open_store

    store = open_store(str(tmp_path / "store"))
    first = store.push(sample_model)
    holder = ModelHolder()
    watcher = ModelWatcher(holder, StoreModelSource(str(tmp_path / "store"), cache_dir=str(tmp_path / "cache")),
                           retry_s=0.2)
    watcher.check_now()
    second = store.push(sample_model)
    folder = tmp_path / "store" / second
    folder.rename(tmp_path / "away")
    watcher.check_now()
    assert holder.current().version == first and second in holder.status()["last_error"]
    (tmp_path / "away").rename(folder)
    watcher.check_now()
    assert holder.current().version == first, "retried at once: a broken version would be pulled every poll"
    time.sleep(0.25)
    watcher.check_now()
    assert holder.current().version == second and holder.status()["last_error"] is None

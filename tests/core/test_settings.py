"""The settings tree (edgeface/settings.py): defaults, environment overrides, the deprecated alias,
bad values, secrets kept out of reprs and output, and the generated reference in docs/settings.md."""

from __future__ import annotations

import inspect
import logging
import runpy

import pytest
from helpers import REPO, run_cli

from edgeface import settings as tree
from edgeface.errors import ConfigError

DOCS = REPO / "docs" / "settings.md"
SECRET = "s3cr3t-value-that-must-not-leak"


def test_nothing_set_gives_the_documented_defaults():
    s = tree.load({})
    assert s == tree.Settings()
    assert (s.model.file, s.model.store, s.model.version) == ("/model/model.data", None, "latest")
    assert (s.http.host, s.http.port, s.http.threads, s.http.log_level) == ("127.0.0.1", 5000, 32, "info")
    assert s.live.tolerance == s.training.tolerance == tree.DEFAULT_TOLERANCE == 0.6
    assert s.images.max_pixels == 4096 * 4096 and s.cameras.initial == [] and s.http.api_token is None
    assert s.store_url() == "model-store" and s.announce_port() == 5000


def test_one_camera_limit_for_the_service_and_the_registry():
    from edgeface.cameras.registry import CameraRegistry

    registry_default = inspect.signature(CameraRegistry).parameters["max_cameras"].default
    assert registry_default == tree.CameraSettings().max_cameras == tree.load({}).cameras.max_cameras == 16


def test_environment_overrides_every_section():
    s = tree.load({
        "MODEL_FILENAME": "/m/x.data", "EDGEFACE_RELOAD_INTERVAL": "0.5",
        "AWS_S3_BUCKET": "bkt", "EDGEFACE_S3_PREFIX": "edge/models",
        "EDGEFACE_PORT": "8080", "EDGEFACE_LOG_LEVEL": "DEBUG", "EDGEFACE_SECURE_COOKIES": "yes",
        "EDGEFACE_ALLOWED_NETWORKS": "10.1.0.0/16, 192.168.7.7", "EDGEFACE_CAMERAS": " rtsp://a/s , ,/v.mp4",
        "EDGEFACE_MAX_CAMERAS": "3", "EDGEFACE_MAX_EVENTS": "50",
        "EDGEFACE_LIVE_DETECT_SCALE": "1.0", "EDGEFACE_LIVE_ANALYSIS_PROCESSES": "off",
        "EDGEFACE_MAX_IMAGE_PIXELS": "1000", "EDGEFACE_MIN_ACCURACY": "0.75", "SOURCE_DATE_EPOCH": "1700000000",
        "EDGEFACE_HOST": "",   # empty counts as unset
    })
    assert (s.model.file, s.model.reload_interval_s) == ("/m/x.data", 0.5)
    assert s.store_url() == "s3://bkt/edge/models"
    assert (s.http.host, s.http.port, s.http.log_level, s.http.secure_cookies) == ("127.0.0.1", 8080, "debug", True)
    assert [str(n) for n in s.cameras.allowed_networks] == ["10.1.0.0/16", "192.168.7.7/32"]
    assert s.cameras.initial == ["rtsp://a/s", "/v.mp4"] and s.cameras.max_cameras == 3
    assert s.announce_port() == 8080 and s.events.max_events == 50
    assert s.live.detect_scale == 1.0 and s.live.analysis_processes is False and s.live.upsample == 1
    assert s.images.max_pixels == 1000 and s.training.min_accuracy == 0.75
    assert s.training.source_date_epoch == 1_700_000_000


def test_the_web_app_and_its_service_get_the_tree(monkeypatch, tmp_path):
    from edgeface.live.service import LiveService

    s = tree.load({"EDGEFACE_STORE": "s3://b/m", "EDGEFACE_ANNOUNCE_PORT": "30080",
                   "EDGEFACE_CAMERA_TOKEN": "cam", "EDGEFACE_HTTP_THREADS": "8",
                   "EDGEFACE_LIVE_JPEG_QUALITY": "70", "EDGEFACE_EVENTS_DIR": str(tmp_path)})
    svc = LiveService(s)     # the whole tree, sections passed down as they are
    assert svc.settings is s and svc.settings.live.jpeg_quality == 70 and s.announce_port() == 30080
    assert s.http.threads == 8 and s.cameras.max_cameras == 16 and s.model.store == "s3://b/m"
    # gunicorn's config file reads the http section when gunicorn is started on its own.
    monkeypatch.setenv("EDGEFACE_HOST", "::1")
    monkeypatch.setenv("EDGEFACE_HTTP_THREADS", "4")
    monkeypatch.setenv("EDGEFACE_LOG_LEVEL", "warning")
    conf = runpy.run_path(str(REPO / "webapp" / "gunicorn.conf.py"))
    assert (conf["bind"], conf["threads"], conf["loglevel"]) == (["[::1]:5000"], 4, "warning")


def test_the_old_store_name_still_works_and_is_reported_once(caplog):
    tree._warned.discard("EDGEFACE_MODEL_STORE")
    with caplog.at_level(logging.WARNING, logger="edgeface.settings"):
        assert tree.load({"EDGEFACE_MODEL_STORE": "/old"}).model.store == "/old"
        assert tree.load({"EDGEFACE_MODEL_STORE": "/old"}).store_url() == "/old"
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1 and "EDGEFACE_MODEL_STORE is deprecated: set EDGEFACE_STORE" in warnings[0]
    assert tree.load({"EDGEFACE_MODEL_STORE": "/old", "EDGEFACE_STORE": "/new"}).model.store == "/new"
    assert [str(n) for n in tree.load({"EDGEFACE_CAMERA_NETWORKS": "10.0.0.0/8"}).cameras.allowed_networks] \
        == ["10.0.0.0/8"]


@pytest.mark.parametrize(("variable", "value"), [
    ("EDGEFACE_PORT", "http"), ("EDGEFACE_PORT", "70000"), ("EDGEFACE_HTTP_THREADS", "0"),
    ("EDGEFACE_LOG_LEVEL", "loud"), ("EDGEFACE_SECURE_COOKIES", "maybe"), ("EDGEFACE_RELOAD_INTERVAL", "-1"),
    ("EDGEFACE_ALLOWED_NETWORKS", "not-a-network"), ("EDGEFACE_MAX_CAMERAS", "0"), ("EDGEFACE_MAX_EVENTS", "many"),
    ("EDGEFACE_LIVE_DETECTOR", "magic"), ("EDGEFACE_LIVE_DETECT_SCALE", "big"), ("EDGEFACE_LIVE_JPEG_QUALITY", "101"),
    ("EDGEFACE_MAX_IMAGE_PIXELS", "lots"), ("EDGEFACE_TOLERANCE", "nan"), ("SOURCE_DATE_EPOCH", "yesterday"),
    ("AWS_S3_ENDPOINT", "s3.example.com"),
])
def test_a_bad_value_names_the_variable_and_shows_an_example(variable, value):
    with pytest.raises(ConfigError) as err:
        tree.load({variable: value})
    assert err.value.message.startswith(f"{variable}={value!r} ")
    assert err.value.hint and err.value.hint.startswith(f"set it like {variable}=")


def test_secrets_stay_out_of_reprs_summaries_and_output():
    env = {"EDGEFACE_API_TOKEN": SECRET, "EDGEFACE_CAMERA_TOKEN": SECRET, "AWS_ACCESS_KEY_ID": SECRET,
           "AWS_SECRET_ACCESS_KEY": SECRET, "AWS_S3_BUCKET": "bkt"}
    s = tree.load(env)
    assert s.http.api_token is not None and s.http.api_token.get_secret_value() == SECRET
    assert SECRET not in repr(s) and SECRET not in str(s.model_dump(mode="json"))
    assert SECRET not in s.s3.describe() and "credentials=set" in s.s3.describe()

    from webapp.config import summary

    assert SECRET not in str(summary(s)) and summary(s)["api_token"] == summary(s)["camera_token"] == "set"

    proc = run_cli("settings", env=env)
    assert SECRET not in proc.stdout + proc.stderr and '"bucket": "bkt"' in proc.stdout


def test_the_cli_refuses_a_bad_setting_before_any_work(tmp_path):
    proc = run_cli("model", "--store", str(tmp_path / "s"), "list", env={"EDGEFACE_LIVE_UPSAMPLE": "-1"}, check=False)
    assert proc.returncode == 2 and "EDGEFACE_LIVE_UPSAMPLE='-1'" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "s").exists()


def test_every_variable_is_named_once_and_described():
    names = [name for section in tree.sections().values() for field in section.model_fields.values()
             for name in tree.env_names(field)]
    assert len(names) == len(set(names)) > 40
    assert all(f.description for section in tree.sections().values() for f in section.model_fields.values())


def test_docs_settings_md_is_generated_from_the_tree():
    expected = tree.markdown()
    assert DOCS.read_text() == expected + "\n", "regenerate: edgeface settings --markdown > docs/settings.md"
    for name in ("EDGEFACE_LOG_LEVEL", "EDGEFACE_MAX_IMAGE_PIXELS", "EDGEFACE_S3_PREFIX", "EDGEFACE_LIVE_TOLERANCE"):
        assert f"`{name}`" in expected
    assert run_cli("settings", "--markdown").stdout == expected + "\n"

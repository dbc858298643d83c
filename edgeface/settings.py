"""Every setting of edgeface in one typed tree: names, defaults, meanings and checks, once.

Each entry point (``create_app()``, ``webapp/gunicorn.conf.py``, ``edgeface`` commands, the Elyra
``workflow.py``) calls :func:`load` once and passes the sections it needs down; no other module
reads the environment for settings. ``docs/settings.md`` is generated from the field metadata
(``edgeface settings --markdown``) and a test fails when it is out of date.

Values come from environment variables (the pod, the workbench, the shell); an empty value counts
as unset. Tokens and keys are ``SecretStr``: their repr is ``'**********'``. A bad value raises
:class:`~edgeface.errors.ConfigError` naming the variable, what is wrong and an example.

pydantic-settings is not used: its environment source reads only ``os.environ``, whereas
:func:`load` takes any mapping, so tests and child processes can be given their own environment
without touching the process's.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic.fields import FieldInfo

from edgeface import jpegmeta
from edgeface.errors import ConfigError
from edgeface.matcher import DEFAULT_TOLERANCE
from edgeface.networks import DEFAULT_ALLOWED_NETWORKS, Network, parse_networks
from edgeface.privacy import DEFAULT_PRIVACY, Consent, Privacy

log = logging.getLogger(__name__)

#: The web app reads at most this many cameras (registration stops there).
DEFAULT_MAX_CAMERAS = 16
#: The mDNS name cameras resolve to find the app (the ESP32-CAM firmware's default).
REGISTRATION_HOST = "microshift-cam-reg.local"


def env(name: str, *deprecated: str, description: str, example: Any = None, problem: str | None = None,
        **kwargs: Any) -> Any:
    """A field read from environment variable ``name`` (or a deprecated older name).

    ``problem`` words a bad value for people (``is not a Unix timestamp``) instead of pydantic's message.
    """
    extra: dict[str, Any] = {"env": name, "deprecated": list(deprecated)}
    if example is not None:
        extra["example"] = example
    if problem is not None:
        extra["problem"] = problem
    return Field(validation_alias=AliasChoices(name, *deprecated) if deprecated else name,
                 description=description, json_schema_extra=extra, **kwargs)


class Section(BaseModel):
    """A group of settings; ``from_env`` reads its variables from a mapping (default os.environ)."""

    model_config = ConfigDict(populate_by_name=True, frozen=True, extra="forbid")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Any:
        environ = os.environ if environ is None else environ
        values: dict[str, str] = {}
        used: dict[str, str] = {}
        for name, field in cls.model_fields.items():
            primary, *older = names = env_names(field)
            for var in names:
                raw = environ.get(var, "").strip()
                if raw:
                    values[name], used[name] = raw, var
                    if var in older:
                        _warn_deprecated(var, primary)
                    break
        try:
            return cls.model_validate(values)
        except ValidationError as err:
            raise _config_error(cls, err, values, used) from None


def _meta(field: FieldInfo) -> dict[str, Any]:
    extra = field.json_schema_extra
    return extra if isinstance(extra, dict) else {}


def env_names(field: FieldInfo) -> list[str]:
    """The variable a field is read from, then its deprecated older names."""
    meta = _meta(field)
    return [str(meta["env"]), *(str(n) for n in meta["deprecated"])]


_warned: set[str] = set()


def _warn_deprecated(old: str, new: str) -> None:
    if old not in _warned:  # once per process, not at every load
        _warned.add(old)
        log.warning("%s is deprecated: set %s instead (same meaning)", old, new)


def _config_error(cls: type[Section], err: ValidationError, values: dict, used: dict) -> ConfigError:
    first = err.errors()[0]
    name = str(first["loc"][0]) if first["loc"] else ""
    field = cls.model_fields.get(name)
    extra = _meta(field) if field is not None else {}
    var = used.get(name) or str(extra.get("env", name))
    example = extra.get("example", field.default if field is not None else None)
    raw = "***" if field is not None and "SecretStr" in str(field.annotation) else str(values.get(name, ""))[:40]
    problem = extra.get("problem") or f"is not a valid {name}: {first['msg'].removeprefix('Value error, ')}"
    return ConfigError(f"{var}={raw!r} {problem}",
                       f"set it like {var}={example} or unset it")


class ModelSettings(Section):
    """Which model the web app uses."""

    file: str = env("MODEL_FILENAME", default="/model/model.data",
                    description="model file the web app reads (and reloads when it changes)")
    store: str | None = env("EDGEFACE_STORE", "EDGEFACE_MODEL_STORE", default=None, example="s3://BUCKET/models",
                            description="model store (`s3://BUCKET/PREFIX` or a directory): the web app follows "
                                        "it instead of the file; the CLI's `model` commands and the training "
                                        "upload use it (default there: S3 when `AWS_S3_BUCKET` is set, else "
                                        "`./model-store`)")
    version: str = env("EDGEFACE_MODEL_VERSION", default="latest",
                       description="store version the web app uses (`latest` follows promotions)")
    reload_interval_s: float = env("EDGEFACE_RELOAD_INTERVAL", default=2.0, gt=0,
                                   description="seconds between checks for a new model")


class S3Settings(Section):
    """The RHODS data-connection variables, and where models live in the bucket."""

    endpoint: str | None = env("AWS_S3_ENDPOINT", default=None, example="https://s3.example.com",
                               description="S3 endpoint URL (unset: AWS)")
    access_key_id: SecretStr | None = env("AWS_ACCESS_KEY_ID", default=None, description="S3 access key (secret)")
    secret_access_key: SecretStr | None = env("AWS_SECRET_ACCESS_KEY", default=None,
                                              description="S3 secret key (secret)")
    bucket: str | None = env("AWS_S3_BUCKET", default=None, example="edgeface",
                             description="bucket of the model store")
    region: str | None = env("AWS_DEFAULT_REGION", default=None, example="us-east-1",
                             description="S3 region (unset: us-east-1)")
    prefix: str = env("EDGEFACE_S3_PREFIX", default="models",
                      description="folder of the model store in the bucket")

    @field_validator("endpoint")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("not a URL")
        return value

    def describe(self) -> str:
        """Safe to print: endpoint, bucket, region and whether credentials are present."""
        return (f"endpoint={self.endpoint or 'AWS default'} bucket={self.bucket} region={self.region} "
                f"credentials={'set' if self.access_key_id else 'missing'}")


class HttpSettings(Section):
    """The web server (gunicorn) and what it accepts."""

    host: str = env("EDGEFACE_HOST", default="127.0.0.1", description="listen address (`0.0.0.0` in a pod)")
    port: int = env("EDGEFACE_PORT", default=5000, ge=0, le=65535, description="listen port")
    threads: int = env("EDGEFACE_HTTP_THREADS", default=32, ge=1,
                       description="HTTP threads: bounds concurrent MJPEG viewers plus API calls")
    api_token: SecretStr | None = env("EDGEFACE_API_TOKEN", default=None,
                                      description="token for the UI, feeds and API (secret); unset: read-only "
                                                  "open access")
    viewer_token: SecretStr | None = env("EDGEFACE_VIEWER_TOKEN", default=None, example="<another random secret>",
                                         description="token that can watch and search (pages, feeds, GETs) but "
                                                     "changes nothing (403); must differ from the API token (secret)")
    max_upload_bytes: int = env("EDGEFACE_MAX_UPLOAD_BYTES", default=10_000_000, ge=1,
                                description="largest upload to `/api/v1/recognize` (413 beyond)")
    secure_cookies: bool = env("EDGEFACE_SECURE_COOKIES", default=False,
                               description="mark the session cookie Secure (behind HTTPS)")
    log_level: Literal["debug", "info", "warning", "error", "critical"] = env(
        "EDGEFACE_LOG_LEVEL", default="info", description="gunicorn's log level")
    trusted_proxies: list[Network] = env(
        "EDGEFACE_TRUSTED_PROXIES", default_factory=list, example="10.42.0.0/16",
        description="comma-separated CIDRs of the reverse proxies in front (an OpenShift Route's router): "
                    "only requests from them have `X-Forwarded-For` believed, which per-client limits then "
                    "use; unset: no proxy, `X-Forwarded-For` ignored")
    proxy_hops: int = env("EDGEFACE_PROXY_HOPS", default=1, ge=1, le=5,
                          description="how many trusted proxies in a row add to `X-Forwarded-For` (a Route: 1)")

    @field_validator("log_level", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _proxies(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        try:
            return [ipaddress.ip_network(item.strip(), strict=False) for item in value.split(",") if item.strip()]
        except ValueError as err:  # re-raised below naming the variable
            raise ValueError(f"{str(err)[:80]}: use CIDRs such as 10.42.0.0/16, separated by commas") from None

    @field_validator("viewer_token")
    @classmethod
    def _own_viewer_token(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        admin = info.data.get("api_token")
        if value is not None and admin is not None and value.get_secret_value() == admin.get_secret_value():
            raise ValueError("it is the same as EDGEFACE_API_TOKEN: every viewer would be an admin")
        return value


class CameraSettings(Section):
    """How cameras find the app and which ones it accepts."""

    mdns_interface: str | None = env("EDGEFACE_MDNS_INTERFACE", default=None, example="10.42.0.15",
                                     description="interface IP for mDNS announce and browse (in a pod: the pod "
                                                 "IP, downward API `status.podIP`); unset: no mDNS")
    register_host: str = env("EDGEFACE_REGISTER_HOST", default=REGISTRATION_HOST,
                             description="mDNS host name cameras resolve to call `/register`")
    announce_port: int | None = env("EDGEFACE_ANNOUNCE_PORT", default=None, ge=1, le=65535, example=30080,
                                    description="port announced over mDNS (a NodePort, say); unset: the "
                                                "listen port")
    allowed_networks: list[Network] = env(
        "EDGEFACE_ALLOWED_NETWORKS", "EDGEFACE_CAMERA_NETWORKS", default_factory=lambda: list(DEFAULT_ALLOWED_NETWORKS),
        example="10.0.0.0/8,192.168.1.0/24",
        description="comma-separated CIDRs self-registering cameras may be in (`default` adds the defaults); "
                    "default: private ranges and loopback")
    token: SecretStr | None = env("EDGEFACE_CAMERA_TOKEN", default=None,
                                  description="shared secret a `/register` call must carry (secret)")
    max_cameras: int = env("EDGEFACE_MAX_CAMERAS", default=DEFAULT_MAX_CAMERAS, ge=1,
                           description="the app reads at most this many cameras; registration stops there")
    initial: list[str] = env("EDGEFACE_CAMERAS", default_factory=list, example="rtsp://cam1/stream,/data/door.mp4",
                             description="comma-separated camera URLs or video files to read from the start")
    file: str | None = env("EDGEFACE_CAMERAS_FILE", default=None, example="/etc/edgeface/cameras.yaml",
                           description="YAML list of cameras to read from the start (a ConfigMap; "
                                       "credentials as `${VAR}` or `credentials_env`, set from a Secret; "
                                       "docs/cameras.md)")
    discovery_interface: str | None = env("EDGEFACE_DISCOVERY_INTERFACE", default=None, example="10.42.0.15",
                                          description="interface IP to listen on for ONVIF WS-Discovery; "
                                                      "cameras found are listed, added only when an admin "
                                                      "confirms; unset: no discovery")
    privacy: Privacy = env("EDGEFACE_PRIVACY", default=DEFAULT_PRIVACY, example="off",
                           description="faces blurred in the live feed, stored snapshots and frames, for cameras "
                                       "without their own `privacy`: `blur-unknown` (faces not named), "
                                       "`blur-all-but-watchlist` (all but the watchlist's people) or `off` "
                                       "(docs/privacy.md)")
    watchlist: list[str] = env("EDGEFACE_PRIVACY_WATCHLIST", default_factory=list, example="Jane Doe,John Roe",
                               description="comma-separated names `blur-all-but-watchlist` shows, for cameras "
                                           "without their own watchlist")
    captures: Consent = env("EDGEFACE_CAPTURES", default="denied", example="allowed",
                            description="whether face captures may leave for the core (`EDGEFACE_OUTBOX_DIR`), for "
                                        "cameras without their own `captures`: `allowed` or `denied`")

    @field_validator("watchlist", mode="before")
    @classmethod
    def _names(cls, value: Any) -> Any:
        return [n.strip() for n in value.split(",") if n.strip()] if isinstance(value, str) else value

    @field_validator("allowed_networks", mode="before")
    @classmethod
    def _networks(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        try:
            return parse_networks(value)
        except ConfigError as err:  # re-raised below naming the variable
            raise ValueError(err.message) from None

    @field_validator("initial", mode="before")
    @classmethod
    def _urls(cls, value: Any) -> Any:
        return [u.strip() for u in value.split(",") if u.strip()] if isinstance(value, str) else value


class EventSettings(Section):
    """The event history: one event per visit, in SQLite with snapshots on disk (edgeface/history)."""

    dir: str | None = env("EDGEFACE_EVENTS_DIR", default=None, example="/data/events",
                          description="folder of the event history (SQLite database + snapshots); "
                                      "unset: a temporary folder, gone when the app stops")
    max_events: int = env("EDGEFACE_MAX_EVENTS", default=100_000, ge=1,
                          description="events (visits) kept at most; the oldest go first")
    retention_days: float = env("EDGEFACE_EVENTS_RETENTION_DAYS", default=30.0, gt=0,
                                description="events older than this many days are deleted")
    max_mb: float = env("EDGEFACE_EVENTS_MAX_MB", default=2048.0, gt=0,
                        description="the history (snapshots + database) is kept under this many MiB, "
                                    "oldest events deleted first")
    visit_gap_s: float = env("EDGEFACE_EVENTS_VISIT_GAP_S", default=30.0, ge=0,
                             description="sightings of one person on one camera less than this apart "
                                         "are one event (a visit)")
    stranger_distance: float = env("EDGEFACE_EVENTS_STRANGER_DISTANCE", default=0.45, gt=0, le=2,
                                   description="an Unknown face this near (embedding distance) to the mean face "
                                               "of a repeat stranger's group joins it (\"Unknown 17\"); "
                                               "kept tighter than the tolerance: two strangers in one group "
                                               "would be named as one")
    clip_fps: float = env("EDGEFACE_CLIPS_FPS", default=4.0, ge=0, le=15,
                          description="frames a second kept in a visit's clip (docs/clips.md); 0: no clips")
    clip_pre_s: float = env("EDGEFACE_CLIPS_PRE_S", default=3.0, ge=0, le=10,
                            description="seconds of a clip before the first face is seen")
    clip_post_s: float = env("EDGEFACE_CLIPS_POST_S", default=3.0, ge=0, le=10,
                             description="seconds of a clip after the last face is seen")
    clip_max_s: float = env("EDGEFACE_CLIPS_MAX_S", default=60.0, ge=5, le=300,
                            description="a clip is this long at most; a longer stay keeps its first clip and "
                                        "a departure clip (its last 15 s and the seconds after)")
    audit_max_rows: int = env("EDGEFACE_AUDIT_MAX_ROWS", default=200_000, ge=100,
                              description="audit trail rows kept at most (docs/audit.md); older ones, and those "
                                          "older than EDGEFACE_EVENTS_RETENTION_DAYS, go first")


class LiveSettings(Section):
    """Tuning of per-camera recognition: how often to look for faces, how often to re-check them.

    The defaults come from measurements on a 2-core machine with the 640x360 sample clip: HOG
    detection at 0.75 scale with one upsample costs ~47 ms and still finds the ~50 px faces that
    full resolution finds (0.5 scale misses some, 0.25 none); one encoding costs ~75 ms with the
    dlib-bin wheel, ~17 ms with the OpenBLAS build (scripts/build-dlib.sh). So each camera is searched
    for faces about three times a second — at once after a scene cut, not at all while nothing moves — and
    faces are encoded only when a track is new or due a re-check, never on every frame.
    ``edgeface bench`` measured the interval: 0.15 s → 0.25 s kept recall (0.99 → 1.00) and cut the
    app's CPU by 15 % with four cameras; with eight, 0.25 s asked more analyses than the two cores
    give (recall 0.98, 0.94, 0.85 in three runs), 0.3 s fewer (0.98, 0.99) (docs/performance.md).

    ``output_delay_s`` trades latency for labels: output frames lag the camera by that much, and a
    face is labelled on every frame from its appearance, not only from when analysis caught up
    (analysis of a new face takes a detection interval plus ~150 ms here).

    The identity guard (``edgeface bench --suite identity``, docs/performance.md): named faces are
    re-encoded at every detection and a track whose encoding jumps by more than ``identity_jump``
    ends — one face's encodings moved ≤ 0.31 between looks on the identity scenes (30-150 px),
    two people's ≥ 0.63.
    """

    detector: Literal["auto", "hog", "cnn"] = env("EDGEFACE_LIVE_DETECTOR", default="auto",
                                                  description="face detector: `hog`, `cnn` (CUDA) or `auto`")
    detect_scale: float = env("EDGEFACE_LIVE_DETECT_SCALE", default=0.75, ge=0.1, le=2.0,
                              description="detection runs on a copy scaled by this (0.1 … 2)")
    upsample: int = env("EDGEFACE_LIVE_UPSAMPLE", default=1, ge=0,
                        description="dlib upsampling during detection (finds smaller faces)")
    detect_interval_s: float = env("EDGEFACE_LIVE_DETECT_INTERVAL_S", default=0.3, ge=0,
                                   description="per camera: at least this long between two periodic detections")
    full_search_interval_s: float = env("EDGEFACE_LIVE_FULL_SEARCH_INTERVAL_S", default=1.0, ge=0,
                                        description="motion search off: with faces tracked, the whole frame is "
                                                    "searched this often "
                                                    "(and at once after a scene cut); detections in between look "
                                                    "only around the tracks")
    empty_search_interval_s: float = env("EDGEFACE_LIVE_EMPTY_SEARCH_INTERVAL_S", default=0.5, ge=0,
                                         description="with no face tracked, the whole frame is searched at most "
                                                     "this often (and at once after a scene cut; a still scene "
                                                     "not at all)")
    motion_search_max_share: float = env("EDGEFACE_LIVE_MOTION_SEARCH_MAX_SHARE", default=0.35, ge=0, le=1,
                                         description="each look searches where the scene moved away from the "
                                                     "tracked people (magnified for far faces), and what stayed "
                                                     "still only every `still_recheck_s`; motion over this share "
                                                     "of the frame is searched as the whole frame; 0: off (whole-"
                                                     "frame searches every `full_search_interval_s`)")
    still_recheck_s: float = env("EDGEFACE_LIVE_STILL_RECHECK_S", default=2.0, ge=0,
                                 description="a still scene is searched again after this long all the same (a "
                                             "face missed once, or a new model, is not missed for good)")
    turned_face_share: float = env("EDGEFACE_LIVE_TURNED_FACE_SHARE", default=0.05, ge=0, le=1,
                                   description="share of a core each camera may spend on dlib's CNN where the "
                                               "scene moved and HOG found no face: faces turned three-quarters, "
                                               "which HOG misses (0.1-0.3 s a region on a 2-core x86), only "
                                               "while no other camera's analysis waits; 0: off. Unused where "
                                               "the CNN is the detector (CUDA)")
    analysis_threads: int = env("EDGEFACE_LIVE_ANALYSIS_THREADS", default=2, ge=0,
                                description="detections/encodings running at once, shared by all cameras (with "
                                            "`analysis_processes`, one more thread prepares frames or waits for an "
                                            "identify stream's moment meanwhile)")
    analysis_processes: bool = env("EDGEFACE_LIVE_ANALYSIS_PROCESSES", default=True,
                                   description="run them in child processes (dlib would starve camera threads "
                                               "of the GIL)")
    max_jump: float = env("EDGEFACE_LIVE_MAX_JUMP", default=1.2, ge=0,
                          description="a detection continues a track whose centre is this many face widths away "
                                      "(a walking far face moves about one width between looks; a join beyond "
                                      "half of this is doubtful: the face is identified again at once)")
    track_ttl_s: float = env("EDGEFACE_LIVE_TRACK_TTL_S", default=1.0, ge=0,
                             description="a track not confirmed by detection for this long is dropped")
    unknown_recheck_s: float = env("EDGEFACE_LIVE_UNKNOWN_RECHECK_S", default=0.4, ge=0,
                                   description="re-encode an Unknown face this often (it may turn)")
    settle_s: float = env("EDGEFACE_LIVE_SETTLE_S", default=1.0, ge=0,
                          description="... and at every detection while its track is younger than this")
    named_recheck_s: float = env("EDGEFACE_LIVE_NAMED_RECHECK_S", default=1.0, ge=0,
                                 description="re-encode a named face at least this often (0: at every "
                                             "detection); detections in between verify it by its look "
                                             "(`same_look`) and re-encode it when the look changed")
    same_look: float = env("EDGEFACE_LIVE_SAME_LOOK", default=0.9, ge=0, le=1.01,
                           description="a named face whose look (a small grey thumbnail) correlates this much "
                                       "with its look at the last encoding is verified without encoding "
                                       "(0 … 1; above 1: always encode)")
    identity_jump: float = env("EDGEFACE_LIVE_IDENTITY_JUMP", default=0.45, ge=0, le=2,
                               description="a track's new encoding this far from its last one is another face: "
                                           "the track ends, its name is withdrawn, a new track begins (0 … 2)")
    match_margin: float = env("EDGEFACE_LIVE_MATCH_MARGIN", default=0.05, ge=0, le=2,
                              description="a name only when its person is this much closer than anyone else "
                                          "(0 … 2; 0: the nearest within the tolerance)")
    min_face_px: int = env("EDGEFACE_LIVE_MIN_FACE_PX", default=0, ge=0, le=4096,
                           description="faces narrower than this are drawn, never named (cameras may set "
                                       "their own); 0: no minimum")
    unknown_confirmations: int = env("EDGEFACE_LIVE_UNKNOWN_CONFIRMATIONS", default=2, ge=1,
                                     description="Unknown results in a row before a named track turns Unknown")
    tolerance: float = env("EDGEFACE_LIVE_TOLERANCE", default=DEFAULT_TOLERANCE, ge=0, le=2,
                           description="match distance threshold (0 … 2)")
    recognize_max_side: int = env("EDGEFACE_RECOGNIZE_MAX_SIDE", default=1920, ge=64,
                                  description="`/api/v1/recognize`: detection runs on a copy scaled down to "
                                              "this longer side (boxes are given in the upload's pixels)")
    recognize_queue: int = env("EDGEFACE_RECOGNIZE_QUEUE", default=2, ge=1,
                               description="`/api/v1/recognize`: uploads running (one at a time) or waiting; "
                                           "beyond, 503 + Retry-After")
    recognize_idle_s: float = env("EDGEFACE_RECOGNIZE_IDLE_S", default=30.0, gt=0,
                                  description="`/api/v1/recognize`: the uploads' engine stops after this long "
                                              "without an upload, giving its memory back (the next upload "
                                              "starts it again, ~1 s)")
    jpeg_quality: int = env("EDGEFACE_LIVE_JPEG_QUALITY", default=80, ge=1, le=100,
                            description="JPEG quality of frames the app encodes: drawn-in frames (?boxes=drawn), "
                                        "RTSP frames (1 … 100)")
    output_delay_s: float = env("EDGEFACE_LIVE_OUTPUT_DELAY_S", default=0.3, ge=0, le=2.0,
                                description="show frames this much later, with the faces found up to then "
                                            "(0 … 2 s)")
    snapshot_margin: float = env("EDGEFACE_LIVE_SNAPSHOT_MARGIN", default=0.4, ge=0,
                                 description="event snapshot: face box grown by this fraction each side")
    identify_max_skew_s: float = env("EDGEFACE_LIVE_IDENTIFY_MAX_SKEW_S", default=0.07, ge=0, le=1.0,
                                     description="a face is cropped from the camera's identify (main) stream "
                                                 "only from a frame this close in time to the detect frame "
                                                 "(about 2 frames at 30 fps: arrival jitter measured ±16 ms); "
                                                 "else from the detect stream")

    @property
    def engine_factor(self) -> float:
        """The detector's net scale: a face ``w`` px wide is scanned at ``w × engine_factor``."""
        return self.detect_scale * 2 ** self.upsample


class ImageSettings(Section):
    """Reading still images (uploads, training photos, `edgeface recognize`)."""

    max_pixels: int = env("EDGEFACE_MAX_IMAGE_PIXELS", default=jpegmeta.MAX_PIXELS, gt=0,
                          problem="is not a positive whole number",
                          description="larger images are refused before decoding (the camera frame limit, "
                                      "4096x4096): 40 megapixels took 3 GB and minutes")


class TrainingSettings(Section):
    """The training workflow (notebook and Elyra nodes) and `edgeface train`."""

    images: Path = env("EDGEFACE_IMAGES", default=Path("face-images"),
                       description="one sub-folder of face images per person")
    artifacts: Path = env("EDGEFACE_ARTIFACTS", default=Path("artifacts"),
                          description="where the pipeline steps leave files for the next step")
    tolerance: float = env("EDGEFACE_TOLERANCE", default=DEFAULT_TOLERANCE, ge=0, le=2,
                           problem="is not a number from 0 to 2",
                           description="match distance the evaluation measures at (0 … 2)")
    min_accuracy: float = env("EDGEFACE_MIN_ACCURACY", default=0.9, ge=0, le=1,
                              problem="is not a number from 0 to 1",
                              description="the evaluate step fails below this leave-one-out accuracy (0 … 1)")
    source_date_epoch: int | None = env("SOURCE_DATE_EPOCH", default=None, ge=0, example="$(git log -1 --format=%ct)",
                                        problem="is not a Unix timestamp",
                                        description="creation time written into model files, in seconds since "
                                                    "1970 (reproducible builds); unset: now")

    @field_validator("tolerance", "min_accuracy")
    @classmethod
    def _not_nan(cls, value: float) -> float:
        if value != value:  # nan passes ge/le
            raise ValueError("not a number")
        return value


_SITE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")


class UplinkSettings(Section):
    """Events over MQTT and face captures to the core (docs/uplink.md)."""

    mqtt_url: SecretStr | None = env(
        "EDGEFACE_MQTT_URL", default=None, example="mqtt://127.0.0.1:1883",
        description="MQTT broker for events, `mqtt://[user:password@]host[:1883]` or `mqtts://…` (secret: it may "
                    "hold a password); unset: no MQTT")
    site: str = env("EDGEFACE_SITE", default="edge", example="store-12",
                    description="this site's name: an MQTT topic level and an S3 folder")
    mqtt_queue_dir: str | None = env("EDGEFACE_MQTT_QUEUE_DIR", default=None, example="/data/mqtt-queue",
                                     description="folder where events wait while the broker is away (survives "
                                                 "restarts); unset: memory only")
    mqtt_queue_max: int = env("EDGEFACE_MQTT_QUEUE_MAX", default=10000, ge=1,
                              description="events kept waiting; past it the oldest go (counted)")
    event_timeout_s: float = env("EDGEFACE_EVENT_TIMEOUT_S", default=60.0, gt=0,
                                 description="an event with no news for this long is ended")
    stats_interval_s: float = env("EDGEFACE_MQTT_STATS_INTERVAL_S", default=60.0, gt=0,
                                  description="how often the per-model-version face counts are published "
                                              "(retained; also at shutdown)")
    outbox_dir: str | None = env("EDGEFACE_OUTBOX_DIR", default=None, example="/data/outbox",
                                 description="folder where face captures wait for S3; unset: no captures")
    outbox_quota_mb: float = env("EDGEFACE_OUTBOX_QUOTA_MB", default=500.0, gt=0,
                                 description="captures waiting beyond this many MB: the oldest go (counted)")
    retention_days: float = env("EDGEFACE_RETENTION_DAYS", default=30.0, gt=0,
                                description="captures waiting longer than this are deleted at the edge")
    capture_hold_s: float = env("EDGEFACE_CAPTURE_HOLD_S", default=10.0, ge=0,
                                description="a visit's first capture waits this long for a better face of the "
                                            "same visit (one capture per visit)")
    capture_same_face_distance: float = env("EDGEFACE_CAPTURE_SAME_FACE_DISTANCE", default=0.15, ge=0, le=2,
                                            description="a face closer than this (embedding distance) to a capture "
                                                        "sent today is not sent again (0: off)")
    capture_max_per_camera_hour: int = env("EDGEFACE_CAPTURE_MAX_PER_CAMERA_HOUR", default=20, ge=0,
                                           description="captures a camera may send in any hour; past it they are "
                                                       "counted as capped")
    capture_samples_per_name_day: int = env("EDGEFACE_CAPTURE_SAMPLES_PER_NAME_DAY", default=1, ge=0,
                                            description="confident matches sent per person and day to check "
                                                        "accuracy (0: none)")

    @field_validator("site")
    @classmethod
    def _site(cls, value: str) -> str:
        if not _SITE.match(value):
            raise ValueError("use letters, digits, '.', '_' or '-' (it becomes an MQTT topic level and an S3 folder)")
        return value

    @field_validator("mqtt_url")
    @classmethod
    def _url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value():
            return None
        parts = urlsplit(value.get_secret_value())
        if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
            raise ValueError("use mqtt://host:1883 or mqtts://host:8883 (user:password@ optional)")
        parts.port   # noqa: B018 - raises ValueError on a bad port
        return value

    @property
    def url(self) -> str | None:
        return self.mqtt_url.get_secret_value() if self.mqtt_url else None

    def broker_label(self) -> str:
        """host:port of the broker, safe to log (no credentials)."""
        if not self.url:
            return "none"
        parts = urlsplit(self.url)
        return f"{parts.hostname}:{parts.port or (8883 if parts.scheme == 'mqtts' else 1883)}"


class Settings(BaseModel):
    """The whole tree; ``load()`` reads it from the environment."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: ModelSettings = Field(default_factory=ModelSettings)
    s3: S3Settings = Field(default_factory=S3Settings)
    http: HttpSettings = Field(default_factory=HttpSettings)
    cameras: CameraSettings = Field(default_factory=CameraSettings)
    events: EventSettings = Field(default_factory=EventSettings)
    live: LiveSettings = Field(default_factory=LiveSettings)
    images: ImageSettings = Field(default_factory=ImageSettings)
    training: TrainingSettings = Field(default_factory=TrainingSettings)
    uplink: UplinkSettings = Field(default_factory=UplinkSettings)

    def store_url(self) -> str:
        """The model store the CLI and the training upload use: set, else S3 when a bucket is, else local."""
        if self.model.store:
            return self.model.store
        if self.s3.bucket:
            return f"s3://{self.s3.bucket}/{self.s3.prefix}"
        return "model-store"

    def announce_port(self) -> int:
        return self.cameras.announce_port or self.http.port


def load(environ: Mapping[str, str] | None = None) -> Settings:
    """The tree from ``environ`` (default: this process's environment); ConfigError on a bad value."""
    return Settings(**{name: field.annotation.from_env(environ)  # type: ignore[union-attr]
                       for name, field in Settings.model_fields.items()})


def sections() -> dict[str, type[Section]]:
    return {name: field.annotation for name, field in Settings.model_fields.items()}  # type: ignore[misc]


def markdown() -> str:
    """The reference table of every variable, generated from the field metadata (docs/settings.md)."""
    lines = ["# Settings", "",
             "<!-- Generated by `edgeface settings --markdown > docs/settings.md` from edgeface/settings.py;",
             "     a test fails when this file is out of date. Do not edit by hand. -->", "",
             "Every setting is an environment variable; an empty value counts as unset. Each entry point",
             "(the web app, every `edgeface` command, the training workflow) reads them once at start and",
             "refuses a bad value with a message naming the variable. Secrets are never logged.", ""]
    for name, cls in sections().items():
        lines += [f"## `{name}`: {(cls.__doc__ or '').splitlines()[0]}", "",
                  "| variable | default | meaning |", "|---|---|---|"]
        for field in cls.model_fields.values():
            primary, *older = env_names(field)
            var = f"`{primary}`" + "".join(f" (or `{old}`, deprecated)" for old in older)
            lines.append(f"| {var} | {_default_text(field)} | {field.description} |")
        lines.append("")
    return "\n".join(lines)


def _default_text(field: Any) -> str:
    value = field.get_default(call_default_factory=True)
    if value is None or value == []:
        return "unset"
    if isinstance(value, list):
        value = ",".join(str(v) for v in value)
    if isinstance(value, bool):
        value = str(value).lower()
    return f"`{value}`"


def default(section: type[Section], name: str) -> Any:
    """A field's default, where code takes one value from the tree without loading it (tests, tools)."""
    return section.model_fields[name].get_default(call_default_factory=True)

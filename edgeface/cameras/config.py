"""Camera configuration that lasts: cameras operators add, kept across restarts; cameras the
deployment gives (``EDGEFACE_CAMERAS_FILE``, a ConfigMap); and the YAML export of both.

Credentials never sit beside the URL. The history database keeps an added camera's URL redacted
(``urls.redact``); the URL with its secrets is in ``camera-credentials.json`` next to the database,
mode 0600. The deployment file names environment variables instead of holding secrets (set from a
Secret, as Frigate does): ``${NAME}`` anywhere in a URL, or ``credentials_env: NAME`` holding
``user:password``. The export writes such references, never values.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

import yaml
from sqlalchemy import Column, Engine, Float, MetaData, String, Table, Text, select, update

from edgeface.cameras.origin import CameraOrigin
from edgeface.cameras.registry import CameraRegistry, validate_url
from edgeface.cameras.urls import is_secret_name, is_valid_camera_id, redact
from edgeface.errors import ConfigError
from edgeface.history.cameras import PRIVACY_SETTINGS, CameraSettingsError, CameraSettingsStore, parse_privacy

log = logging.getLogger(__name__)

SECRETS_NAME = "camera-credentials.json"
#: The columns of ``cameras`` this module owns (migration 0002); the operator's settings in the
#: same rows belong to ``history.cameras``.
_added = Table("cameras", MetaData(), Column("id", String(128), primary_key=True), Column("url", Text),
               Column("origin", String(16)), Column("added_at", Float), Column("identify_url", Text))
#: The credentials file's key for a camera's identify-stream URL (camera ids hold no '/').
_IDENTIFY_KEY = "{}/identify"
_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_FILE_KEYS = {"id", "name", "url", "identify_url", "enabled", "credentials_env", *PRIVACY_SETTINGS}
_EXAMPLE = ("cameras:\n  - id: door\n    name: Front door\n    url: rtsp://192.168.1.20:554/stream2\n"
            "    identify_url: rtsp://192.168.1.20:554/stream1   # optional: the main stream faces are cropped from\n"
            "    credentials_env: DOOR_CREDENTIALS   # the variable holds user:password")


@dataclass(frozen=True)
class ConfiguredCamera:
    """A camera to read from the start: from the deployment file, or saved by an operator."""
    id: str
    url: str                      # with its credentials: give it to the registry only
    name: str | None = None
    enabled: bool | None = None   # None: leave the operator's setting as it is
    origin: str = "file"
    privacy: Mapping[str, Any] | None = None   # the file's privacy settings (docs/privacy.md), checked
    identify_url: str | None = None   # the main stream faces are cropped from (with its credentials)


class CameraConfigStore:
    """Cameras added over the API (or confirmed from discovery), saved in the history database."""

    def __init__(self, engine: Engine, directory: Path):
        self.engine = engine
        self.settings = CameraSettingsStore(engine)
        self.secrets_path = Path(directory) / SECRETS_NAME
        self._lock = threading.Lock()

    def save(self, camera_id: str, url: str, origin: str = "api", identify_url: str | None = None) -> None:
        """Keep ``url`` (and ``identify_url``) for ``camera_id``: redacted in the database, whole
        in the secrets file."""
        with self._lock:
            self.settings.change(camera_id, {})      # the settings row, with defaults if it is new
            with self.engine.begin() as conn:
                conn.execute(update(_added).where(_added.c.id == camera_id)
                             .values(url=redact(url), origin=origin, added_at=time.time(),
                                     identify_url=redact(identify_url) if identify_url else None))
            secrets = self._secrets()
            for key, value in ((camera_id, url), (_IDENTIFY_KEY.format(camera_id), identify_url)):
                if value and redact(value) != value:
                    secrets[key] = value
                else:
                    secrets.pop(key, None)
            self._write_secrets(secrets)

    def set_identify(self, camera_id: str, identify_url: str | None) -> None:
        """A saved camera's new identify stream (None: none). A camera from the deployment file is
        not saved: its file says at the next start."""
        saved = next((cam for cam in self.saved() if cam.id == camera_id), None)
        if saved is not None:
            self.save(camera_id, saved.url, saved.origin, identify_url)

    def forget(self, camera_id: str) -> None:
        """Not read at the next start; the operator's settings (name, zone...) stay with the id."""
        with self._lock:
            with self.engine.begin() as conn:
                conn.execute(update(_added).where(_added.c.id == camera_id)
                             .values(url=None, origin=None, identify_url=None))
            secrets = self._secrets()
            dropped = [secrets.pop(key, None) for key in (camera_id, _IDENTIFY_KEY.format(camera_id))]
            if any(dropped):
                self._write_secrets(secrets)

    def saved(self) -> list[ConfiguredCamera]:
        """Every saved camera, oldest first, with its credentials back in its URLs."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(_added).where(_added.c.url.is_not(None)).order_by(_added.c.added_at)).all()
        secrets = self._secrets()
        return [ConfiguredCamera(row.id, self._with_secrets(secrets, row.id, row.url), origin=row.origin or "api",
                                 identify_url=row.identify_url and self._with_secrets(
                                     secrets, _IDENTIFY_KEY.format(row.id), row.identify_url))
                for row in rows]

    @staticmethod
    def _with_secrets(secrets: dict[str, str], key: str, redacted: str) -> str:
        url = secrets.get(key, redacted)
        if redact(url) != redacted:    # the file is from another database, or was edited
            log.warning("camera %s: its saved credentials do not match its URL %s; reading it without them",
                        key, redacted)
            return redacted
        return url

    def _secrets(self) -> dict[str, str]:
        try:
            data = json.loads(self.secrets_path.read_text())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as err:
            log.error("cannot read %s (%s): saved cameras start without credentials", self.secrets_path,
                      type(err).__name__)
            return {}
        return {k: v for k, v in data.items() if isinstance(k, str) and isinstance(v, str)} \
            if isinstance(data, dict) else {}

    def _write_secrets(self, secrets: dict[str, str]) -> None:
        tmp = self.secrets_path.with_name(self.secrets_path.name + ".tmp")
        # Created 0600 (never readable by others, not even for a moment), then renamed over the old.
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump(secrets, out)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, 0o600)     # an existing .tmp keeps its mode on O_CREAT
        os.replace(tmp, self.secrets_path)


# -- the deployment file --------------------------------------------------------------------------
def load_cameras_file(path: str | os.PathLike, environ: Mapping[str, str] | None = None) -> list[ConfiguredCamera]:
    """The cameras in ``path`` (``EDGEFACE_CAMERAS_FILE``), their references filled in from
    ``environ``; ``ConfigError`` naming the file, the camera and what is wrong."""
    environ = os.environ if environ is None else environ
    try:
        data = yaml.safe_load(Path(path).read_text())
    except OSError as err:
        raise ConfigError(f"cannot read EDGEFACE_CAMERAS_FILE {path}: {err.strerror}",
                          "mount the cameras ConfigMap there, or unset the variable") from None
    except yaml.YAMLError as err:
        where = getattr(err, "problem_mark", None)
        line = f" at line {where.line + 1}" if where is not None else ""
        raise ConfigError(f"EDGEFACE_CAMERAS_FILE {path} is not valid YAML{line}", _EXAMPLE) from None
    if data is None:
        return []
    if not isinstance(data, dict) or not isinstance(data.get("cameras", []), list) or set(data) - {"cameras"}:
        raise ConfigError(f"EDGEFACE_CAMERAS_FILE {path} must hold one 'cameras' list", _EXAMPLE)
    cameras: list[ConfiguredCamera] = []
    for n, entry in enumerate(data.get("cameras") or [], 1):
        camera = _file_camera(entry, f"camera {n} in {path}", environ)
        if any(c.id == camera.id for c in cameras):
            raise ConfigError(f"camera id {camera.id!r} appears twice in {path}", "give each camera its own id")
        cameras.append(camera)
    return cameras


def _file_camera(entry: Any, where: str, environ: Mapping[str, str]) -> ConfiguredCamera:
    if not isinstance(entry, dict):
        raise ConfigError(f"{where} is not a mapping", _EXAMPLE)
    unknown = set(map(str, entry)) - _FILE_KEYS
    if unknown:
        raise ConfigError(f"{where} has unknown key(s): {', '.join(sorted(unknown))}",
                          f"use {', '.join(sorted(_FILE_KEYS))}")
    camera_id, url, name, identify = entry.get("id"), entry.get("url"), entry.get("name"), entry.get("identify_url")
    if not isinstance(camera_id, str) or not is_valid_camera_id(camera_id):
        raise ConfigError(f"{where} needs an 'id' of 1-63 characters a-z, 0-9 and '-'", _EXAMPLE)
    where = f"camera {camera_id!r} in {where.split(' in ', 1)[1]}"
    if not isinstance(url, str) or not url.strip():
        raise ConfigError(f"{where} needs a 'url'", _EXAMPLE)
    if name is not None and not isinstance(name, str):
        raise ConfigError(f"{where}: 'name' must be text", _EXAMPLE)
    enabled = entry.get("enabled")
    if enabled is not None and not isinstance(enabled, bool):
        raise ConfigError(f"{where}: 'enabled' must be true or false", _EXAMPLE)
    try:
        privacy = parse_privacy({k: v for k, v in entry.items() if k in PRIVACY_SETTINGS})
    except CameraSettingsError as err:
        raise ConfigError(f"{where}: {err.message}", err.hint) from None
    if identify is not None and (not isinstance(identify, str) or not identify.strip()):
        raise ConfigError(f"{where}: 'identify_url' must be the main stream's URL (or left out)", _EXAMPLE)
    url = _file_url(url, entry, environ, where, "url")
    identify = _file_url(identify, entry, environ, where, "identify_url") if identify else None
    return ConfiguredCamera(camera_id, url, name=name.strip() or None if name else None, enabled=enabled,
                            identify_url=identify, privacy=privacy or None)


def _file_url(url: str, entry: dict, environ: Mapping[str, str], where: str, key: str) -> str:
    """One of a file camera's URLs, its references and credentials filled in, checked."""
    url = expand_references(url.strip(), environ, where)
    credentials_env = entry.get("credentials_env")
    # The camera's credentials serve both streams; a main stream URL may carry its own.
    own = key == "identify_url" and "@" in urlsplit(url).netloc
    if credentials_env is not None and not own:
        url = _with_credentials(url, _variable(credentials_env, environ, where), where)
    try:
        url = validate_url(url)
    except ConfigError as err:     # the message never quotes the URL: it now holds the secrets
        raise ConfigError(f"{where}: {key}: {err.message}", err.hint) from None
    return url


def expand_references(url: str, environ: Mapping[str, str], where: str) -> str:
    """``${NAME}`` replaced by the variable's value, percent-encoded (a password may hold '@')."""
    return _REFERENCE.sub(lambda m: quote(_variable(m.group(1), environ, where), safe=""), url)


def _variable(name: Any, environ: Mapping[str, str], where: str) -> str:
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise ConfigError(f"{where}: {str(name)[:40]!r} is not an environment variable name",
                          "use letters, digits and '_', e.g. DOOR_CREDENTIALS")
    value = environ.get(name)
    if value is None:
        raise ConfigError(f"{where}: environment variable {name} is not set",
                          "set it from the cameras Secret (envFrom: secretRef) or remove the reference")
    return value


def _with_credentials(url: str, credentials: str, where: str) -> str:
    user, sep, password = credentials.partition(":")
    if not user or not sep:
        raise ConfigError(f"{where}: the credentials variable must hold user:password", "e.g. admin:s3cret")
    parts = urlsplit(url)
    if "@" in parts.netloc:
        raise ConfigError(f"{where}: the URL has credentials and credentials_env names more",
                          "keep credentials in one place: the Secret")
    netloc = f"{quote(user, safe='')}:{quote(password, safe='')}@{parts.netloc}"
    return urlunsplit(parts._replace(netloc=netloc))


# -- export ---------------------------------------------------------------------------------------
def variable_prefix(camera_id: str) -> str:
    return "EDGEFACE_CAMERA_" + camera_id.upper().replace("-", "_")


def templated(url: str, prefix: str) -> tuple[str, dict[str, str]]:
    """``url`` with each secret replaced by a ``${PREFIX_...}`` reference, and those variables'
    values (for whoever writes the Secret; never shown by the app)."""
    parts = urlsplit(url)
    values: dict[str, str] = {}
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        user, sep, password = userinfo.partition(":")
        values[f"{prefix}_USER"] = unquote(user)
        refs = f"${{{prefix}_USER}}"
        if sep:
            values[f"{prefix}_PASSWORD"] = unquote(password)
            refs += f":${{{prefix}_PASSWORD}}"
        netloc = f"{refs}@{host}"
    pairs = []
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if is_secret_name(key):
            var = f"{prefix}_{re.sub(r'[^A-Za-z0-9]', '_', key).upper()}"
            values[var] = value
            value = f"${{{var}}}"
        pairs.append((key, value))
    query = urlencode(pairs, safe="${}")
    return urlunsplit((parts.scheme, netloc, parts.path, query, "")), values


def export_yaml(cameras: Iterable[ConfiguredCamera]) -> str:
    """The cameras as an ``EDGEFACE_CAMERAS_FILE``, secrets as ``${...}`` references to set from a Secret."""
    entries: list[dict[str, Any]] = []
    variables: list[str] = []
    for cam in cameras:
        url, values = templated(cam.url, variable_prefix(cam.id))
        variables.extend(values)
        entry: dict[str, Any] = {"id": cam.id, "name": cam.name, "url": url}
        if cam.identify_url:
            entry["identify_url"], values = templated(cam.identify_url, variable_prefix(cam.id) + "_IDENTIFY")
            variables.extend(values)
        if cam.enabled is not None:
            entry["enabled"] = cam.enabled
        entry.update(cam.privacy or {})
        entries.append({k: v for k, v in entry.items() if v is not None})
    header = "# edgeface cameras: mount as EDGEFACE_CAMERAS_FILE (a ConfigMap)\n"
    if variables:
        header += "# set from a Secret: " + ", ".join(variables) + "\n"
    return header + yaml.safe_dump({"cameras": entries}, sort_keys=False)


def start_configured(registry: CameraRegistry, settings: CameraSettingsStore, store: CameraConfigStore,
                     cameras_file: str | None) -> list[str]:
    """Read the deployment file's cameras, then those operators saved; the ids started.

    A bad file stops the start (``ConfigError``: the deployment is wrong). A saved camera that
    cannot start (the camera limit, an id the file now uses) is logged and skipped: the app still
    comes up, and the operator sees what is missing.
    """
    started = []
    for cam in load_cameras_file(cameras_file) if cameras_file else []:
        changes = {k: v for k, v in (("name", cam.name), ("enabled", cam.enabled)) if v is not None}
        changes.update(cam.privacy or {})
        if changes:     # the deployment's word on these, at every start
            settings.change(cam.id, changes)
        started.append(registry.add(cam.url, camera_id=cam.id, origin=CameraOrigin.API,
                                    identify_url=cam.identify_url))
    for cam in store.saved():
        if cam.id in started:
            log.warning("saved camera %s is also in EDGEFACE_CAMERAS_FILE: the file's URL is used", cam.id)
            continue
        try:
            started.append(registry.add(cam.url, camera_id=cam.id, origin=CameraOrigin.API,
                                        identify_url=cam.identify_url))
        except ConfigError as err:
            log.error("saved camera %s (%s) not started: %s", cam.id, redact(cam.url), err)
    return started


def exportable(registry: CameraRegistry, settings: CameraSettingsStore) -> list[ConfiguredCamera]:
    """The cameras an operator or the deployment gave (not those that announced themselves)."""
    out = []
    for source in registry.list():
        if CameraOrigin(source.origin).announced or "://" not in source.url:   # files stay in EDGEFACE_CAMERAS
            continue
        options = settings.own(source.id)      # what the camera set, not what it follows from the site
        own = {k: getattr(options, k) for k in PRIVACY_SETTINGS if getattr(options, k) is not None}
        if own.get("unblurred") == "denied":
            del own["unblurred"]              # the default: left out
        out.append(ConfiguredCamera(source.id, source.url, name=options.name, enabled=options.enabled,
                                    identify_url=source.identify.url if source.identify is not None else None,
                                    privacy=own or None))
    return out

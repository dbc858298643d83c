"""What the web app may ask of the live service: one narrow interface and the values it returns.

Views import from here and nowhere else in ``edgeface.live``; ``LiveService`` implements
:class:`LiveApi`. Nothing here reaches into workers, registries or the database.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Generator, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol

from edgeface.cameras.discovery import DiscoveredDevice
from edgeface.history import Archive, EventQuery, Page, Visit
from edgeface.history.cameras import CameraOptions
from edgeface.history.clips import Clip
from edgeface.history.strangers import StrangerGroup
from edgeface.live.admission import RegistrationRefused
from edgeface.live.alerts import AlertRule, AlertRuleError
from edgeface.live.broadcast import FrameBroadcaster
from edgeface.live.collector import CONTENT_TYPE
from edgeface.live.marks import Mark, MarkBoard
from edgeface.live.stills import RecognizerBusy

__all__ = ["CONTENT_TYPE", "AlertRule", "AlertRuleError", "CameraFeed", "CameraStatus", "LiveApi", "Mark",
           "MarkStream", "ModelStatus", "RecognizerBusy", "RegistrationRefused"]


@dataclass(frozen=True)
class CameraStatus:
    """One camera as the API shows it: what its source reports, plus what its worker produces."""
    id: str
    url: str                       # credentials redacted
    origin: str
    online: bool
    fps: float                     # frames received per second
    last_frame_age_s: float | None
    error: str | None
    frames: int
    corrupt_frames: int
    output_fps: float              # annotated frames produced per second
    faces: int                     # tracked in the latest frame
    viewers: int                   # open video feeds
    # Analysis health: when the cores cannot keep up, fewer detections than planned and an older
    # newest analysis (boxes of predictions too old are not drawn).
    analysis_lag_s: float | None = None      # age of the newest analysis; None: none yet
    detections_per_s: float = 0.0            # achieved (a look skipped because nothing moved counts)
    detections_planned_per_s: float = 0.0    # 1 / detect_interval_s while recognising
    # The identify (main) stream faces are cropped from, if the camera has one (credentials redacted).
    identify_url: str | None = None
    identify_online: bool | None = None
    identify_error: str | None = None

    def as_json(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class ModelStatus:
    """The model in use (if any) and how reloading has gone."""
    loaded: bool
    version: str | None
    identities: list[str]
    source: str | None
    loaded_at: float | None        # epoch seconds
    last_error: str | None
    reloads: dict[str, int]        # {"ok": n, "failed": n}
    local: dict[str, int]          # the site's corrections in effect: {"is": n, "not": n}
    local_error: str | None        # why the saved corrections could not be used (the model works without)
    candidate: str | None          # a version evaluated beside this one on live faces (shadow), if any

    def as_json(self) -> dict:
        return asdict(self)


class CameraFeed:
    """One camera's annotated JPEGs for viewers: the latest one, or a stream of new ones."""

    def __init__(self, broadcaster: FrameBroadcaster, stopping: threading.Event):
        self._broadcaster = broadcaster
        self._stopping = stopping

    def latest(self, wait_s: float) -> bytes | None:
        """The newest frame, waiting up to ``wait_s`` for a first one; None if none came. Keeps
        the worker annotating for a while although nobody streams (polling clients)."""
        self._broadcaster.touch()
        seq, jpeg = self._broadcaster.latest()
        if jpeg is None:
            got = self._broadcaster.wait(seq, wait_s)
            jpeg = got[1] if got else None
        return jpeg

    def frames(self, poll_s: float) -> Generator[bytes, None, None]:
        """Each new frame until the camera is removed or the service stops, checking for that
        every ``poll_s``. While iterated it counts as a viewer (the worker annotates only for
        viewers), so close it when the client goes."""
        seq = 0
        with self._broadcaster:
            while not self._stopping.is_set() and not self._broadcaster.closed:
                got = self._broadcaster.wait(seq, poll_s)
                if got is None:
                    continue
                seq, jpeg = got
                yield jpeg


class MarkStream:
    """What the browsers draw over the frames (every camera's faces) and the site's alerts, as
    they come: ``marks`` yields each batch of new messages, or [] every ``poll_s`` while nothing
    came (a heartbeat: the caller writes something, and learns that way when the client left)."""

    def __init__(self, board: MarkBoard, stopping: threading.Event):
        self._board = board
        self._stopping = stopping

    def marks(self, poll_s: float, cameras: frozenset[str] | None = None, until: float | None = None,
              after: int | None = None) -> Generator[list[Mark], None, None]:
        """Until the service stops or ``until`` (monotonic) passes. Alerts raised from now on, or
        since ``after`` (the last message a reconnecting browser got: none is lost in between).
        While iterated it counts as a reader (workers make messages only for readers), so close it
        when the client goes."""
        seq = 0
        since = self._board.seq if after is None else min(after, self._board.seq)
        with self._board.reading():
            while not self._stopping.is_set() and not self._board.closed:
                if until is not None and time.monotonic() >= until:
                    return
                got = self._board.wait(seq, poll_s, cameras)
                if got:
                    seq = got[-1].seq
                yield [m for m in got if m.kind != "alert" or m.seq > since]


class LiveApi(Protocol):
    """Everything a view asks of the live service."""

    # cameras
    def camera_ids(self) -> list[str]: ...                  # every registered camera, in the order added
    def camera(self, camera_id: str) -> CameraStatus | None: ...
    def cameras(self) -> list[CameraStatus]: ...
    def camera_name(self, camera_id: str) -> str: ...       # the operator's name, else the announced one, else the id
    def camera_options(self, camera_id: str) -> CameraOptions: ...
    def camera_from_site(self, camera_id: str) -> list[str]: ...   # the privacy settings it leaves to the site
    def camera_health(self, camera_id: str) -> dict: ...    # analysis lag and who is on the camera now
    def unblurred_frame(self, camera_id: str) -> bytes | None: ...   # the camera's own latest frame (admins)
    def feed(self, camera_id: str, drawn: bool = False) -> CameraFeed | None: ...   # drawn: faces drawn in
    def marks(self) -> MarkStream: ...                      # the faces for the browser to draw, and alerts
    # the alert watchlist (edgeface.live.alerts): rules, and why the saved list is not used (if so)
    def alert_rules(self) -> tuple[list[AlertRule], str | None]: ...
    def add_alert_rule(self, body) -> AlertRule: ...         # AlertRuleError says what is wrong
    def remove_alert_rule(self, rule_id: str) -> bool: ...
    def add_camera(self, url: str, camera_id: str | None = None,
                   identify_url: str | None = None) -> str: ...   # kept even when offline; its id
    def set_identify(self, camera_id: str, identify_url: str | None) -> bool: ...   # the main stream; None: none
    def remove_camera(self, camera_id: str) -> bool: ...
    def change_camera(self, camera_id: str, changes: dict) -> CameraOptions: ...   # checked by parse_changes
    def export_cameras(self) -> str: ...                    # YAML, secrets as ${VAR} references
    def register_device(self, ip: str, token: str | None, port: int, name: str | None = None) -> str: ...
    def discovered(self) -> list[DiscoveredDevice] | None: ...   # ONVIF devices seen; None: discovery off
    def discovered_added(self, device_id: str, camera_id: str) -> None: ...
    # the model and people
    def model_status(self) -> ModelStatus: ...
    def people(self) -> list[dict]: ...
    def person_cameras(self, name: str) -> list: ...
    def forget_person(self, name: str) -> dict: ...   # counts per place deleted (docs/privacy.md)
    def recognize_upload(self, data: bytes, name: str) -> list[dict]: ...
    # history
    def query_events(self, query: EventQuery) -> Page: ...   # visits, newest first, one page
    def event(self, event_id: str) -> Visit | None: ...
    def event_image(self, event_id: str, kind: str) -> bytes | None: ...   # kind: snapshot | frame
    def event_clips(self, event_id: str) -> list[Clip]: ...   # its camera's clips over its span (docs/clips.md)
    def clip_file(self, clip: Clip) -> Path | None: ...       # the WebM file, if still there
    def label_event(self, event_id: str, name: str, role: str) -> tuple[Visit | None, bool]: ...
    # corrections, in effect at once at this site (edgeface.overlay)
    def not_event(self, event_id: str, name: str | None, role: str) -> dict | None: ...
    def local_names(self) -> set[str]: ...                  # names only the corrections know ("local")
    def local_visits(self, visits: Iterable[Visit]) -> set[str]: ...   # ids of those named with local help
    def local_now(self, camera: str, names: list[str]) -> list[str]: ...   # of the names on a camera now
    def photos(self, name: str) -> list[dict] | None: ...   # enrolment photos in the model in use
    def photo_image(self, name: str, row: int) -> bytes | None: ...
    def drop_photo(self, name: str, row: int, role: str) -> dict | None: ...   # left out here
    # repeat strangers (edgeface.history.strangers)
    def strangers(self, limit: int, ids: list[int] | None = None) -> list[StrangerGroup]: ...
    def name_stranger(self, group: int, name: str, role: str) -> dict | None: ...
    def merge_strangers(self, group: int, into: int) -> bool: ...
    def corrections(self) -> list[dict]: ...
    def uncorrect(self, correction_id: str) -> bool: ...
    def archive(self) -> Archive: ...   # review, bulk delete/export, who is here now, camera states

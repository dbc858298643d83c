"""Everything live, wired: cameras, the model, a worker per camera, the analyzer, the history, the
uplink, uploaded stills — each its own class. ``start`` pushes each part's ``close`` as it starts
it, so ``close`` stops them in reverse order by construction. Views ask through ``LiveApi``."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterable
from pathlib import Path

from edgeface.cameras.config import CameraConfigStore, export_yaml, exportable, start_configured
from edgeface.cameras.discovery import DiscoveredDevice, OnvifDiscovery
from edgeface.cameras.mdns import CameraBrowser, RegistrationAnnouncer
from edgeface.cameras.origin import CameraOrigin
from edgeface.cameras.registry import CameraRegistry
from edgeface.engine import Engine
from edgeface.history import Archive, EventQuery, History, Page, Visit
from edgeface.history.cameras import SITE_DEFAULTS, CameraOptions, CameraSettingsStore
from edgeface.history.clips import Clip
from edgeface.history.strangers import StrangerGroup
from edgeface.live.admission import RegistrationGate
from edgeface.live.alerts import ALERTS_FILE, AlertRule, AlertWatchlist, parse_rule
from edgeface.live.analyzer import Analyzer, analysis_threads, live_engine
from edgeface.live.cameras import CameraWorkers
from edgeface.live.interface import CameraFeed, CameraStatus, MarkStream, ModelStatus
from edgeface.live.metrics import StageTimes
from edgeface.live.modelwatch import ModelHolder, ModelWatcher, start_watchers
from edgeface.live.people import People
from edgeface.live.pipeline import FramePipeline
from edgeface.live.recorder import ClipRecorder
from edgeface.live.stills import StillRecognizer
from edgeface.overlay import CORRECTIONS_FILE, OverlayFile
from edgeface.settings import Settings
from edgeface.uplink.service import Uplink

log = logging.getLogger(__name__)


class LiveService:
    """``LiveApi``'s implementation; ``start()`` starts the parts, ``close()`` stops them (idempotent)."""

    def __init__(self, settings: Settings):
        self.settings = settings
        live, events, cameras = settings.live, settings.events, settings.cameras
        self.history = History(events.dir, gap_s=events.visit_gap_s, tolerance=live.tolerance,
                               retention_days=events.retention_days, max_mb=events.max_mb,
                               max_events=events.max_events, snapshot_margin=live.snapshot_margin,
                               jpeg_quality=live.jpeg_quality, stranger_distance=events.stranger_distance)
        self.models = ModelHolder(live.tolerance, OverlayFile(self.history.directory / CORRECTIONS_FILE))  # + fixes
        self.camera_settings = CameraSettingsStore(self.history.engine, cameras)   # operator settings per camera
        self.camera_config = CameraConfigStore(self.history.engine, self.history.directory)   # added cameras
        self._archive = Archive(self.history)   # review, bulk actions, who is here now, camera states
        self.uplink = Uplink(settings.uplink, tolerance=live.tolerance, visit_gap_s=events.visit_gap_s,
                             snapshot_margin=live.snapshot_margin)   # MQTT events, captures: when configured
        self._people = People(self.models, self.history, self.uplink, self.camera_settings, settings.training.images)
        self.stills = StillRecognizer(self.models, live)   # uploaded stills, off the request threads
        self.stages = StageTimes()
        self.engine: Engine | None = None          # made by start(), with the analyzer
        self.analyzer: Analyzer | None = None
        self.registry = CameraRegistry(cameras.allowed_networks, max_cameras=cameras.max_cameras)
        self.registry.disabled = lambda camera_id: not self.camera_settings.get(camera_id).enabled
        self.gate = RegistrationGate(self.registry, cameras.token)   # /register and mDNS
        self.stopping = threading.Event()   # set first on shutdown: streams and new cameras stop
        self.workers = CameraWorkers(self._pipeline, self.stopping, recorder=self._recorder)
        self.alerts = AlertWatchlist(self.history.directory / ALERTS_FILE, self._send_alert, site=settings.uplink.site,
                                     camera_name=self.camera_name)
        self.discovery: OnvifDiscovery | None = None
        self.watcher: ModelWatcher | None = None
        self._parts = contextlib.ExitStack()

    def start(self) -> LiveService:
        s, live, cameras, parts = self.settings, self.settings.live, self.settings.cameras, self._parts
        events = s.events
        self.engine = engine = live_engine(live, self.stages)   # first: its children take a moment to load
        parts.callback(engine.close)
        self.analyzer = Analyzer(engine, threads=analysis_threads(live), stages=self.stages).start()
        parts.callback(self.analyzer.close)
        # Watchers close after the uplink: one stuck on the store must not delay the last stats.
        self.watcher, candidates = start_watchers(self.models, s.model)
        for watcher in (self.watcher, *candidates):
            parts.callback(watcher.close)
        parts.callback(self.uplink.close)        # after the cameras: their final events go out first
        self.uplink.start()
        parts.callback(self.history.close)
        parts.callback(self.history.flush, 5.0)
        self.history.start()
        if events.clip_fps > 0:
            self.history.clips.start()      # closed by the history, after the cameras' last clips
        parts.callback(self.stills.close)
        parts.callback(self.workers.close)
        parts.callback(self.registry.close)      # stops sources; their workers stop with them
        self.registry.subscribe(self.uplink.camera_added, self.uplink.camera_removed)
        self.registry.subscribe(self.workers.added, self.workers.removed)
        for url in cameras.initial:
            self.registry.add(url, origin=CameraOrigin.API)   # kept even when offline for long
        start_configured(self.registry, self.camera_settings, self.camera_config, cameras.file)
        if cameras.discovery_interface:
            self.discovery = OnvifDiscovery(cameras.discovery_interface).start()
            parts.callback(self.discovery.close)
        if cameras.mdns_interface:
            port = s.announce_port()
            parts.callback(RegistrationAnnouncer(cameras.register_host, port, cameras.mdns_interface).close)
            parts.callback(CameraBrowser(self.gate, cameras.mdns_interface).close)
            log.info("mDNS: announcing %s:%d on %s, browsing for cameras", cameras.register_host, port,
                     cameras.mdns_interface)
        return self

    def close(self) -> None:
        self.stopping.set()
        self._parts.close()

    def _pipeline(self, camera_id: str) -> FramePipeline:
        assert self.analyzer is not None, "cameras are read only once the service started"
        pipeline = FramePipeline(camera_id, self.analyzer, self.models, self.settings.live, on_event=self._on_event,
                                 stages=self.stages, on_sighting=self.history.seen,
                                 on_shadow=self.uplink.stats.record_shadow)
        pipeline.options = self.camera_settings.get(camera_id)
        return pipeline

    def _recorder(self, camera_id: str) -> ClipRecorder | None:
        e = self.settings.events
        if e.clip_fps <= 0:
            return None
        return ClipRecorder(camera_id, self.history.clips.submit, fps=e.clip_fps, pre_s=e.clip_pre_s,
                            post_s=e.clip_post_s, max_s=e.clip_max_s)

    def _on_event(self, event) -> None:
        self.alerts.check(event)           # first: an alert goes out within the frame that named the face
        self.uplink.on_event(event, captures=self.camera_settings.get(event.camera).captures_allowed)
        self.history.record(event)

    def _send_alert(self, alert: dict) -> None:
        self.workers.board.publish("alert", alert["camera"], alert)     # the console, over /live/marks
        self.uplink.on_alert(alert)                                      # edgeface/<site>/alerts

    def alert_rules(self) -> tuple[list[AlertRule], str | None]:
        return self.alerts.rules(), self.alerts.error

    def add_alert_rule(self, body) -> AlertRule:
        return self.alerts.add(parse_rule(body))

    def remove_alert_rule(self, rule_id: str) -> bool:
        return self.alerts.remove(rule_id)

    def camera_ids(self) -> list[str]:
        return [source.id for source in self.registry.list()]

    def camera(self, camera_id: str) -> CameraStatus | None:
        return self.workers.status(camera_id)

    def cameras(self) -> list[CameraStatus]:
        return [status for status in map(self.camera, self.camera_ids()) if status is not None]

    def camera_name(self, camera_id: str) -> str:
        return self.camera_settings.get(camera_id).name or self.registry.announced_name(camera_id) or camera_id

    def camera_options(self, camera_id: str) -> CameraOptions:
        return self.camera_settings.get(camera_id)

    def camera_from_site(self, camera_id: str) -> list[str]:
        own = self.camera_settings.own(camera_id)
        return [key for key in SITE_DEFAULTS if getattr(own, key) is None]

    def camera_health(self, camera_id: str) -> dict:
        return self.workers.health(camera_id)

    def feed(self, camera_id: str, drawn: bool = False) -> CameraFeed | None:
        return self.workers.feed(camera_id, drawn)

    def marks(self) -> MarkStream:
        return MarkStream(self.workers.board, self.stopping)

    def unblurred_frame(self, camera_id: str) -> bytes | None:
        worker = self.workers.worker(camera_id)
        frame = worker.source.latest() if worker is not None else None
        return frame.jpeg_bytes(self.settings.live.jpeg_quality) if frame is not None else None

    def add_camera(self, url: str, camera_id: str | None = None, identify_url: str | None = None) -> str:
        new_id = self.registry.add(url, camera_id=camera_id, origin=CameraOrigin.API, identify_url=identify_url)
        self.camera_config.save(new_id, url, identify_url=identify_url or None)
        return new_id

    def set_identify(self, camera_id: str, identify_url: str | None) -> bool:
        if not self.registry.set_identify(camera_id, identify_url):
            return False
        self.camera_config.set_identify(camera_id, identify_url or None)
        return True

    def remove_camera(self, camera_id: str) -> bool:
        self.camera_config.forget(camera_id)
        return self.registry.remove(camera_id)

    def change_camera(self, camera_id: str, changes: dict) -> CameraOptions:
        options = self.camera_settings.change(camera_id, changes)
        self.workers.set_options(camera_id, options)
        return options

    def export_cameras(self) -> str:
        return export_yaml(exportable(self.registry, self.camera_settings))

    def register_device(self, ip: str, token: str | None, port: int, name: str | None = None) -> str:
        return self.gate.register_device(ip, token, port, name=name)

    def discovered(self) -> list[DiscoveredDevice] | None:
        return None if self.discovery is None else self.discovery.list()

    def discovered_added(self, device_id: str, camera_id: str) -> None:
        return None if self.discovery is None else self.discovery.mark_added(device_id, camera_id)

    # -- LiveApi: the model, people, history -----------------------------------------------------
    def model_status(self) -> ModelStatus:
        return ModelStatus(**self.models.status())

    def people(self) -> list[dict]:
        return self._people.known()

    def person_cameras(self, name: str) -> list:
        return self._people.cameras(name)

    def forget_person(self, name: str) -> dict:
        return self._people.forget(name)

    def label_event(self, event_id: str, name: str, role: str) -> tuple[Visit | None, bool]:
        return self._people.label(event_id, name, role)

    def not_event(self, event_id: str, name: str | None, role: str) -> dict | None:
        return self._people.not_this(event_id, name, role)

    def local_names(self) -> set[str]:
        return self._people.local_names()

    def local_visits(self, visits: Iterable[Visit]) -> set[str]:
        return self._people.local_visits(visits)

    def local_now(self, camera: str, names: list[str]) -> list[str]:
        return self._people.local_now(camera, names)

    def photos(self, name: str) -> list[dict] | None:
        return self._people.photos(name)

    def photo_image(self, name: str, row: int) -> bytes | None:
        return self._people.photo_image(name, row)

    def drop_photo(self, name: str, row: int, role: str) -> dict | None:
        return self._people.drop_photo(name, row, role)

    def strangers(self, limit: int, ids: list[int] | None = None) -> list[StrangerGroup]:
        return self.history.strangers.groups(limit, ids)

    def name_stranger(self, group: int, name: str, role: str) -> dict | None:
        return self._people.name_stranger(group, name, role)

    def merge_strangers(self, group: int, into: int) -> bool:
        return self.history.merge_strangers(group, into)

    def corrections(self) -> list[dict]:
        return [c.as_json() for c in self.models.overlay.corrections]

    def uncorrect(self, correction_id: str) -> bool:
        return self.models.uncorrect(correction_id)

    def recognize_upload(self, data: bytes, name: str) -> list[dict]:
        return self.stills.recognize(data, name)

    def query_events(self, query: EventQuery) -> Page:
        return self.history.query(query)

    def event(self, event_id: str) -> Visit | None:
        return self.history.get(event_id)

    def event_image(self, event_id: str, kind: str) -> bytes | None:
        return self.history.image(event_id, kind)

    def event_clips(self, event_id: str) -> list[Clip]:
        return self.history.visit_clips(event_id)

    def clip_file(self, clip: Clip) -> Path | None:
        return self.history.clips.file(clip)

    def archive(self) -> Archive:
        return self._archive

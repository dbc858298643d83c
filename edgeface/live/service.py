"""Everything live, wired together: cameras (registry, mDNS), the model (hot reload), one
pipeline + worker per camera, the shared analyzer, and the event store.

Flask-free; the web app creates one ``LiveService`` per process and closes it on shutdown.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Generator
from dataclasses import asdict, dataclass, field, fields

from edgeface.cameras.config import CameraConfigStore, start_configured
from edgeface.cameras.discovery import OnvifDiscovery
from edgeface.cameras.mdns import CameraBrowser, RegistrationAnnouncer
from edgeface.cameras.origin import CameraOrigin
from edgeface.cameras.registry import CameraRegistry
from edgeface.engine import EngineSettings, FaceEngine
from edgeface.history import EventQuery, History, Page, Visit
from edgeface.history.cameras import CameraOptions, CameraSettingsStore
from edgeface.live.admission import RegistrationGate
from edgeface.live.analyzer import Analyzer, TimedEngine
from edgeface.live.broadcast import FrameBroadcaster
from edgeface.live.collector import metrics_registry
from edgeface.live.engine_process import ProcessEngine
from edgeface.live.events import RecognitionEvent
from edgeface.live.metrics import StageTimes
from edgeface.live.modelwatch import FileModelSource, ModelHolder, ModelWatcher, StoreModelSource
from edgeface.live.pipeline import FramePipeline
from edgeface.live.stills import StillRecognizer
from edgeface.live.worker import CameraWorker
from edgeface.matcher import UNKNOWN
from edgeface.settings import (
    CameraSettings,
    EventSettings,
    HttpSettings,
    LiveSettings,
    ModelSettings,
    Settings,
    default,
)
from edgeface.uplink.service import Uplink
from edgeface.uplink.settings import UplinkSettings

log = logging.getLogger(__name__)


@dataclass
class ServiceConfig:
    """What a ``LiveService`` needs, taken from the settings tree by ``from_settings``; meanings,
    defaults and variable names live there (edgeface/settings.py, docs/settings.md)."""
    model_path: str = default(ModelSettings, "file")
    store_url: str | None = None          # use the store instead of model_path when set
    model_version: str = default(ModelSettings, "version")
    reload_interval_s: float = default(ModelSettings, "reload_interval_s")
    mdns_interface: str | None = None     # None: no mDNS (no announcer, no browser)
    register_host: str = default(CameraSettings, "register_host")
    announce_port: int = default(HttpSettings, "port")
    allowed_networks: list = field(default_factory=lambda: default(CameraSettings, "allowed_networks"))
    camera_token: str | None = field(default=None, repr=False)   # self-registering cameras must present it
    cameras: list[str] = field(default_factory=list)   # added at start (operator configuration)
    cameras_file: str | None = None       # EDGEFACE_CAMERAS_FILE (edgeface/cameras/config.py)
    discovery_interface: str | None = None   # None: no ONVIF WS-Discovery
    max_cameras: int = default(CameraSettings, "max_cameras")
    events_dir: str | None = None
    max_events: int = default(EventSettings, "max_events")
    events_retention_days: float = default(EventSettings, "retention_days")
    events_max_mb: float = default(EventSettings, "max_mb")
    visit_gap_s: float = default(EventSettings, "visit_gap_s")
    live: LiveSettings = field(default_factory=LiveSettings)
    uplink: UplinkSettings = field(default_factory=UplinkSettings)   # MQTT events, captures (docs/uplink.md)

    @classmethod
    def from_settings(cls, settings: Settings) -> ServiceConfig:
        model, cameras = settings.model, settings.cameras
        return cls(model_path=model.file, store_url=model.store, model_version=model.version,
                   reload_interval_s=model.reload_interval_s, mdns_interface=cameras.mdns_interface,
                   register_host=cameras.register_host, announce_port=settings.announce_port(),
                   allowed_networks=list(cameras.allowed_networks),
                   camera_token=cameras.token.get_secret_value() if cameras.token else None,
                   cameras=list(cameras.initial), max_cameras=cameras.max_cameras,
                   cameras_file=cameras.file, discovery_interface=cameras.discovery_interface,
                   events_dir=settings.events.dir, max_events=settings.events.max_events,
                   events_retention_days=settings.events.retention_days, events_max_mb=settings.events.max_mb,
                   visit_gap_s=settings.events.visit_gap_s, live=settings.live,
                   uplink=settings.uplink)


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

    def as_json(self) -> dict:
        return asdict(self)


_CAMERA_FIELDS = frozenset(f.name for f in fields(CameraStatus))


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


class LiveService:
    def __init__(self, config: ServiceConfig):
        self.config = config
        live = config.live
        self.models = ModelHolder(tolerance=live.tolerance)
        # The event history (visits); ``events`` for the metrics collector and older callers.
        self.history = self.events = History(
            config.events_dir, gap_s=config.visit_gap_s, tolerance=live.tolerance,
            retention_days=config.events_retention_days, max_mb=config.events_max_mb, max_events=config.max_events,
            snapshot_margin=live.snapshot_margin, jpeg_quality=live.jpeg_quality)
        self.camera_settings = CameraSettingsStore(self.history.engine)   # operator settings per camera
        self.camera_config = CameraConfigStore(self.history.engine, self.history.directory)   # added cameras
        self.discovery: OnvifDiscovery | None = None
        self.uplink = Uplink(config.uplink, tolerance=live.tolerance)   # MQTT events, captures: when configured
        self.stills = StillRecognizer(self.models, live)   # uploaded stills, off the request threads
        self.stages = StageTimes()
        self.metrics = metrics_registry(self)      # what /metrics renders, read at scrape time
        self.engine: TimedEngine | ProcessEngine | None = None      # made by start()
        self.analyzer: Analyzer | None = None
        self.registry = CameraRegistry(config.allowed_networks, max_cameras=config.max_cameras)
        self.registry.disabled = lambda camera_id: not self.camera_settings.get(camera_id).enabled
        self.gate = RegistrationGate(self.registry, config.camera_token)   # /register and mDNS
        self.workers: dict[str, CameraWorker] = {}
        self._workers_lock = threading.Lock()
        self.watcher: ModelWatcher | None = None
        self.announcer: RegistrationAnnouncer | None = None
        self.browser: CameraBrowser | None = None
        self.stopping = threading.Event()   # set first on shutdown: streams and new cameras stop
        self._closed = False

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> LiveService:
        live = self.config.live
        # The engine first: its child processes take a moment to load the models.
        engine_settings = EngineSettings(detector=live.detector, scale=live.detect_scale, upsample=live.upsample)
        self.engine = (ProcessEngine(engine_settings, max(1, live.analysis_threads), self.stages)
                       if live.analysis_processes else TimedEngine(FaceEngine(engine_settings), self.stages))
        self.analyzer = Analyzer(self.engine, self.models, threads=live.analysis_threads, stages=self.stages)
        source = (StoreModelSource(self.config.store_url, self.config.model_version)
                  if self.config.store_url else FileModelSource(self.config.model_path))
        self.watcher = ModelWatcher(self.models, source, self.config.reload_interval_s).start()
        self.uplink.start()
        self.history.start()
        self.registry.subscribe(self.uplink.camera_added, self.uplink.camera_removed)
        self.registry.subscribe(self._camera_added, self._camera_removed)
        for url in self.config.cameras:
            self.registry.add(url, origin=CameraOrigin.API)   # kept even when offline for long
        start_configured(self.registry, self.camera_settings, self.camera_config, self.config.cameras_file)
        if self.config.discovery_interface:
            self.discovery = OnvifDiscovery(self.config.discovery_interface).start()
        if self.config.mdns_interface:
            self.announcer = RegistrationAnnouncer(self.config.register_host, self.config.announce_port,
                                                   self.config.mdns_interface)
            self.browser = CameraBrowser(self.gate, self.config.mdns_interface)
            log.info("mDNS: announcing %s:%d on %s, browsing for cameras", self.config.register_host,
                     self.config.announce_port, self.config.mdns_interface)
        return self

    def close(self) -> None:
        """Stop everything this service started and join its threads (idempotent)."""
        if self._closed:
            return
        self._closed = True
        self.stopping.set()
        for part in (self.browser, self.announcer, self.discovery):
            if part is not None:
                _quietly(part.close)
        self.registry.close()            # stops sources; _camera_removed stops their workers
        with self._workers_lock:
            leftovers = list(self.workers.values())
            self.workers.clear()
        for worker in leftovers:
            worker.close()
        if self.analyzer is not None:
            self.analyzer.close()
        if self.engine is not None:
            self.engine.close()
        self.stills.close()
        if self.watcher:
            self.watcher.close()
        self.history.flush(5.0)
        self.history.close()
        self.uplink.close()              # last: the cameras' final events and 'offline's go out first

    # -- cameras -----------------------------------------------------------------------------
    def _camera_added(self, source) -> None:
        if self.stopping.is_set() or self.analyzer is None:
            return
        pipeline = FramePipeline(source.id, self.analyzer, self.config.live, on_event=self._on_event,
                                 models=self.models, stages=self.stages, on_sighting=self.history.seen)
        pipeline.options = self.camera_settings.get(source.id)
        worker = CameraWorker(source, pipeline)
        with self._workers_lock:
            old = self.workers.pop(source.id, None)
            self.workers[source.id] = worker
        if old is not None:
            old.close()
        worker.start()

    def _on_event(self, event: RecognitionEvent) -> None:
        self.uplink.on_event(event)
        self.history.record(event)

    def _camera_removed(self, source) -> None:
        with self._workers_lock:
            worker = self.workers.get(source.id)
            if worker is not None and worker.source is source:
                del self.workers[source.id]
            else:
                worker = None
        if worker is not None:
            worker.close()

    # -- what the web app asks: typed answers, so views never reach into workers or registries --
    def worker(self, camera_id: str) -> CameraWorker | None:
        """The camera's worker (for the metrics collector; views use the methods below)."""
        return self.workers.get(camera_id)

    def camera_ids(self) -> list[str]:
        """Every registered camera, in the order they were added."""
        return [source.id for source in self.registry.list()]

    def camera(self, camera_id: str) -> CameraStatus | None:
        worker = self.workers.get(camera_id)
        if worker is None:
            return None
        # Only what CameraStatus names reaches the API: a new source field is added there too.
        source = {k: v for k, v in worker.source.status().items() if k in _CAMERA_FIELDS}
        health = worker.pipeline.health()
        return CameraStatus(**source, output_fps=round(worker.output_fps(), 2), faces=worker.faces_now,
                            viewers=worker.broadcaster.viewers, analysis_lag_s=health["analysis_lag_s"],
                            detections_per_s=health["detections_per_s"],
                            detections_planned_per_s=health["detections_planned_per_s"])

    def cameras(self) -> list[CameraStatus]:
        return [status for status in map(self.camera, self.camera_ids()) if status is not None]

    def feed(self, camera_id: str) -> CameraFeed | None:
        worker = self.workers.get(camera_id)
        return None if worker is None else CameraFeed(worker.broadcaster, self.stopping)

    def add_camera(self, url: str, camera_id: str | None = None) -> str:
        """Read ``url`` (kept even when offline for long, like configured cameras); its id."""
        new_id = self.registry.add(url, camera_id=camera_id, origin=CameraOrigin.API)
        self.camera_config.save(new_id, url)     # read again after a restart
        return new_id

    def remove_camera(self, camera_id: str) -> bool:
        self.camera_config.forget(camera_id)
        return self.registry.remove(camera_id)

    def model_status(self) -> ModelStatus:
        return ModelStatus(**self.models.status())

    def recognize_upload(self, data: bytes, name: str) -> list[dict]:
        """Faces in an uploaded image (see ``StillRecognizer.recognize``)."""
        return self.stills.recognize(data, name)

    def forget_person(self, name: str) -> tuple[int, dict[str, int] | None]:
        """Privacy: the events about ``name`` deleted here, and the uplink's traces of them (retained
        MQTT state, captures queued here and shipped to the core; None without an outbox)."""
        deleted = self.history.delete_person(name)
        return deleted, (None if name == UNKNOWN else self.uplink.forget(name))

    def query_events(self, query: EventQuery) -> Page:
        """Events (visits), newest first, one page."""
        return self.history.query(query)

    def event(self, event_id: str) -> Visit | None:
        return self.history.get(event_id)

    def event_image(self, event_id: str, kind: str) -> bytes | None:
        """``kind``: ``snapshot`` (the face with margin) or ``frame`` (the whole frame)."""
        return self.history.image(event_id, kind)

    def label_event(self, event_id: str, name: str, role: str) -> tuple[Visit | None, bool]:
        """An operator says who an event's face is: kept in the history and, with an outbox
        configured, sent to the core as a training candidate (never into the model here).
        Returns the labelled event (None: no such event) and whether the outbox took it."""
        visit = self.history.label(event_id, name, role)
        outbox = self.uplink.outbox
        if visit is None or outbox is None:
            return visit, False
        face, frame, embedding = self.history.training_candidate(event_id)
        if face is None:
            return visit, False
        from edgeface.uplink.outbox import Capture

        outbox.add(Capture(camera=visit.camera, face_jpeg=face, frame_jpeg=frame, seen_at=visit.started_at,
                           name=visit.name, distance=visit.best_distance, embedding=embedding,
                           model_version=visit.model_version, box=visit.box, reason="labelled", label=name,
                           id=visit.id))
        return visit, True

    def camera_options(self, camera_id: str) -> CameraOptions:
        return self.camera_settings.get(camera_id)

    def change_camera(self, camera_id: str, changes: dict) -> CameraOptions:
        """Persist checked changes (``history.cameras.parse_changes``); they apply to the running camera."""
        options = self.camera_settings.change(camera_id, changes)
        worker = self.workers.get(camera_id)
        if worker is not None:
            worker.pipeline.options = options
            # A disabled camera is not read at all (no frames pulled over the network).
            (worker.source.resume if options.enabled else worker.source.pause)()
        return options

    def camera_health(self, camera_id: str) -> dict:
        """Age of the newest analysis and who is on the camera now (the console's tiles)."""
        worker = self.workers.get(camera_id)
        if worker is None:
            return {"analysis_lag_s": None, "people_now": []}
        return worker.pipeline.health()


def _quietly(fn) -> None:
    try:
        fn()
    except Exception:
        log.exception("error while closing")

"""Everything live, wired together: cameras (registry, mDNS), the model (hot reload), one
pipeline + worker per camera, the shared analyzer, and the event store.

Flask-free; the web app creates one ``LiveService`` per process and closes it on shutdown.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

from edgeface.cameras.mdns import CameraBrowser, RegistrationAnnouncer
from edgeface.cameras.origin import CameraOrigin
from edgeface.cameras.registry import CameraRegistry
from edgeface.engine import EngineSettings, FaceEngine
from edgeface.live.admission import RegistrationGate
from edgeface.live.analyzer import Analyzer, TimedEngine
from edgeface.live.engine_process import ProcessEngine
from edgeface.live.events import EventStore, RecognitionEvent
from edgeface.live.metrics import Exposition, StageTimes
from edgeface.live.modelwatch import FileModelSource, ModelHolder, ModelWatcher, StoreModelSource
from edgeface.live.pipeline import FramePipeline
from edgeface.live.worker import CameraWorker
from edgeface.recognize import STILL_SETTINGS
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
    max_cameras: int = default(CameraSettings, "max_cameras")
    events_dir: str | None = None
    max_events: int = default(EventSettings, "max_events")
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
                   events_dir=settings.events.dir, max_events=settings.events.max_events, live=settings.live,
                   uplink=settings.uplink)


class LiveService:
    def __init__(self, config: ServiceConfig):
        self.config = config
        live = config.live
        self.models = ModelHolder(tolerance=live.tolerance)
        self.events = EventStore(config.max_events, config.events_dir)
        self.uplink = Uplink(config.uplink, tolerance=live.tolerance)   # MQTT events, captures: when configured
        # Uploaded stills are searched at full resolution, exactly like `edgeface recognize`.
        self.still_engine = FaceEngine(STILL_SETTINGS, detector=live.detector)
        self.stages = StageTimes()
        self.engine: TimedEngine | ProcessEngine | None = None      # made by start()
        self.analyzer: Analyzer | None = None
        self.registry = CameraRegistry(config.allowed_networks, max_cameras=config.max_cameras)
        self.gate = RegistrationGate(self.registry, config.camera_token)   # /register and mDNS
        self.workers: dict[str, CameraWorker] = {}
        self._workers_lock = threading.Lock()
        self.watcher: ModelWatcher | None = None
        self.announcer = None
        self.browser = None
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
        self.registry.subscribe(self.uplink.camera_added, self.uplink.camera_removed)
        self.registry.subscribe(self._camera_added, self._camera_removed)
        for url in self.config.cameras:
            self.registry.add(url, origin=CameraOrigin.API)   # kept even when offline for long
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
        for part in (self.browser, self.announcer):
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
        if self.watcher:
            self.watcher.close()
        self.uplink.close()              # last: the cameras' final events and 'offline's go out first

    # -- cameras -----------------------------------------------------------------------------
    def _camera_added(self, source) -> None:
        if self.stopping.is_set() or self.analyzer is None:
            return
        pipeline = FramePipeline(source.id, self.analyzer, self.config.live, on_event=self._on_event,
                                 models=self.models, stages=self.stages)
        worker = CameraWorker(source, pipeline)
        with self._workers_lock:
            old = self.workers.pop(source.id, None)
            self.workers[source.id] = worker
        if old is not None:
            old.close()
        worker.start()

    def _on_event(self, event: RecognitionEvent) -> None:
        self.uplink.on_event(event)      # first: the store may move the snapshot to disk
        self.events.add(event)

    def _camera_removed(self, source) -> None:
        with self._workers_lock:
            worker = self.workers.get(source.id)
            if worker is not None and worker.source is source:
                del self.workers[source.id]
            else:
                worker = None
        if worker is not None:
            worker.close()

    def worker(self, camera_id: str) -> CameraWorker | None:
        return self.workers.get(camera_id)

    def camera_status(self, camera_id: str) -> dict | None:
        worker = self.workers.get(camera_id)
        if worker is None:
            return None
        status = worker.source.status()
        status.update(output_fps=round(worker.output_fps(), 2), faces=worker.faces_now,
                      viewers=worker.broadcaster.viewers)
        return status

    def cameras(self) -> list[dict]:
        ids = [s.id for s in self.registry.list()]
        return [st for st in (self.camera_status(i) for i in ids) if st is not None]

    # -- metrics -----------------------------------------------------------------------------
    def metrics_text(self) -> str:
        exp = Exposition()
        cams = self.cameras()
        workers = {c["id"]: self.workers.get(c["id"]) for c in cams}
        per_cam = lambda key: [({"camera": c["id"]}, c[key]) for c in cams]
        exp.family("edgeface_camera_online", "gauge", "1 when frames arrived within the stall timeout",
                   per_cam("online"))
        exp.family("edgeface_camera_input_fps", "gauge", "frames per second received", per_cam("fps"))
        exp.family("edgeface_camera_output_fps", "gauge", "annotated frames per second produced",
                   per_cam("output_fps"))
        exp.family("edgeface_camera_last_frame_age_seconds", "gauge", "seconds since the last frame",
                   [(lab, v if v is not None else float("nan")) for lab, v in per_cam("last_frame_age_s")])
        exp.family("edgeface_camera_faces", "gauge", "faces tracked in the latest frame", per_cam("faces"))
        exp.family("edgeface_camera_viewers", "gauge", "open video feeds", per_cam("viewers"))
        stats = [(cid, w.pipeline.stats) for cid, w in workers.items() if w]
        exp.family("edgeface_frames_processed_total", "counter", "frames run through the pipeline",
                   [({"camera": cid}, s.frames) for cid, s in stats])
        exp.family("edgeface_detections_total", "counter", "face detection passes",
                   [({"camera": cid}, s.detections) for cid, s in stats])
        exp.family("edgeface_detections_skipped_total", "counter",
                   "periodic detections skipped because nothing moved since the last one",
                   [({"camera": cid}, s.still_skips) for cid, s in stats])
        exp.family("edgeface_encodings_total", "counter", "face encodings computed",
                   [({"camera": cid}, s.encodings) for cid, s in stats])
        exp.histogram("edgeface_processing_latency_seconds", "frame arrival to annotated output",
                      [({"camera": cid}, w.latency) for cid, w in workers.items() if w])
        exp.family("edgeface_events_total", "counter", "recognition events recorded",
                   [({"camera": cam, "result": "named" if named else "unknown"}, n)
                    for (cam, named), n in sorted(self.events.counts.items())])
        stages = sorted(self.stages.snapshot().items())
        exp.family("edgeface_stage_seconds_total", "counter", "CPU seconds per processing stage, all cameras",
                   [({"stage": stage}, seconds) for stage, (seconds, _) in stages])
        exp.family("edgeface_stage_calls_total", "counter", "calls per processing stage, all cameras",
                   [({"stage": stage}, calls) for stage, (_, calls) in stages])
        model = self.models.status()
        exp.family("edgeface_model_loaded", "gauge", "1 when a model is in use", [({}, model["loaded"])])
        exp.family("edgeface_model_info", "gauge", "the model version in use",
                   [({"version": model["version"]}, 1)] if model["loaded"] else [])
        exp.family("edgeface_model_reloads_total", "counter", "model loads by result",
                   [({"result": k}, v) for k, v in model["reloads"].items()])
        exp.family("edgeface_analysis_queue_depth", "gauge", "analysis jobs waiting",
                   [({}, self.analyzer.queue_depth() if self.analyzer else 0)])
        exp.family("edgeface_analysis_failures_total", "counter", "detections/encodings that failed",
                   [({}, self.analyzer.failures if self.analyzer else 0)])
        return exp.render()


def _quietly(fn) -> None:
    try:
        fn()
    except Exception:
        log.exception("error while closing")

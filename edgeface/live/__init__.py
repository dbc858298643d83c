"""Live recognition on camera streams: per-camera pipelines, shared analysis, events, hot reload.

One way: camera → ``CameraWorker`` → ``FramePipeline`` → ``CameraTracker.plan`` → ``Analyzer``
(``search``: a plan in, an observation out) → ``CameraTracker.apply`` → annotated frames →
``FrameBroadcaster``; events → ``edgeface.history`` (visits) and ``edgeface.uplink``.
Independent of Flask: ``webapp`` wires these into HTTP; benchmarks drive ``FramePipeline`` directly.
"""

from edgeface.events import RecognitionEvent
from edgeface.live.analyzer import AnalysisJob, Analyzer
from edgeface.live.modelwatch import FileModelSource, ModelHolder, ModelWatcher, StoreModelSource
from edgeface.live.pipeline import FramePipeline, FrameResult
from edgeface.settings import LiveSettings

__all__ = ["AnalysisJob", "Analyzer", "FileModelSource", "FramePipeline", "FrameResult", "LiveSettings",
           "ModelHolder", "ModelWatcher", "RecognitionEvent", "StoreModelSource"]

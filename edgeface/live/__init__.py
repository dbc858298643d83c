"""Live recognition on camera streams: per-camera pipelines, shared analysis, events, hot reload.

Independent of Flask: ``webapp`` wires these into HTTP; benchmarks drive ``FramePipeline`` directly.
"""

from edgeface.live.analyzer import Analyzer
from edgeface.live.events import EventStore, RecognitionEvent
from edgeface.live.modelwatch import FileModelSource, ModelHolder, ModelWatcher, StoreModelSource
from edgeface.live.pipeline import FramePipeline, FrameResult
from edgeface.live.settings import LiveSettings

__all__ = ["Analyzer", "EventStore", "FileModelSource", "FramePipeline", "FrameResult", "LiveSettings",
           "ModelHolder", "ModelWatcher", "RecognitionEvent", "StoreModelSource"]

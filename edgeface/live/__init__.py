"""Live recognition on camera streams: per-camera pipelines, shared analysis, events, hot reload.

One way: camera → ``CameraWorker`` → ``FramePipeline`` → ``Analyzer`` (a job in, a result out)
→ the pipeline's tracks → annotated frames → ``FrameBroadcaster``; events → ``edgeface.history`` (visits).
Independent of Flask: ``webapp`` wires these into HTTP; benchmarks drive ``FramePipeline`` directly.
"""

from edgeface.live.analyzer import AnalysisJob, AnalysisResult, Analyzer
from edgeface.live.events import RecognitionEvent
from edgeface.live.modelwatch import FileModelSource, ModelHolder, ModelWatcher, StoreModelSource
from edgeface.live.pipeline import FramePipeline, FrameResult
from edgeface.live.settings import LiveSettings

__all__ = ["AnalysisJob", "AnalysisResult", "Analyzer", "FileModelSource", "FramePipeline",
           "FrameResult", "LiveSettings", "ModelHolder", "ModelWatcher", "RecognitionEvent", "StoreModelSource"]

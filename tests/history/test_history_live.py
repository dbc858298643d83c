"""The live service with a real camera (the sample clip) and the sample model: its recognitions
become visits in the history, each with a face snapshot and the whole frame it came from."""

from __future__ import annotations

from helpers import wait_until

from edgeface.history import EventQuery
from edgeface.images import decode_jpeg
from edgeface.live.service import LiveService
from edgeface.settings import CameraSettings, EventSettings, ModelSettings, Settings


def test_the_clip_gives_visits_with_face_and_context_frame(sample_model, media_dir, tmp_path):
    clip = media_dir / "video" / "short_hamilton_clip.mp4"
    service = LiveService(Settings(model=ModelSettings(file=str(sample_model)),
                                   cameras=CameraSettings(initial=[str(clip)]),
                                   events=EventSettings(dir=str(tmp_path / "events")))).start()
    try:
        def visits_with_frames():
            service.history.flush()
            return [v for v in service.history.query(EventQuery(limit=100)).events if v.has_frame]

        visits = wait_until(visits_with_frames, 180, "a visit with its frame")
        recognitions = sum(service.history.counts.values())
        assert 1 <= len(service.history.query(EventQuery(limit=1000)).events) <= recognitions
        visit = visits[0]
        face = decode_jpeg(service.history.image(visit.id, "snapshot"))
        frame = decode_jpeg(service.history.image(visit.id, "frame"))
        assert face is not None and frame is not None
        assert frame.shape[0] > face.shape[0] and frame.shape[1] > face.shape[1]     # the context, not the crop
        top, right, bottom, left = visit.box
        assert 0 <= top < bottom <= frame.shape[0] and 0 <= left < right <= frame.shape[1]
        assert visit.camera == service.camera_ids()[0] and visit.model_version
    finally:
        service.close()
    assert not service.history.is_alive()

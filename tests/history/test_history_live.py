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


def test_the_clips_unknown_face_seen_again_each_loop_is_one_repeat_stranger(sample_model, media_dir, tmp_path):
    """The clip loops; with a short visit gap each loop is a new Unknown visit (issue 20: "the same
    Unknown person shows as two cards"): they all get one site-local id."""
    clip = media_dir / "video" / "short_hamilton_clip.mp4"
    service = LiveService(Settings(model=ModelSettings(file=str(sample_model)),
                                   cameras=CameraSettings(initial=[str(clip)]),
                                   events=EventSettings(dir=str(tmp_path / "events"), visit_gap_s=2))).start()
    try:
        def unknown_visits():
            service.history.flush()
            found = service.history.query(EventQuery(unknown=True, limit=100)).events
            return found if len(found) >= 3 else None

        visits = wait_until(unknown_visits, 180, "three Unknown visits (three loops of the clip)")
        assert len({v.stranger for v in visits}) == 1 and visits[0].stranger is not None, \
            [(v.id, v.stranger) for v in visits]
        [group] = service.history.strangers.groups()
        assert group.visits >= len(visits)          # more may have come since
    finally:
        service.close()

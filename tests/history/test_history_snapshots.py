"""A visit's face crop and its context frame are one moment: the crop is the frame's pixels at
the visit's box, through the live pipeline and through the API (whose image URLs change when a
better look replaces them, so a browser never pairs a cached old face with a new frame)."""

from __future__ import annotations

import time

import numpy as np
from helpers import wait_until
from test_history import event

from edgeface.history import EventQuery
from edgeface.images import decode_jpeg
from edgeface.live.service import LiveService
from edgeface.settings import CameraSettings, EventSettings, LiveSettings, ModelSettings, Settings

MARGIN = LiveSettings().snapshot_margin


def pixels(jpeg: bytes | None) -> np.ndarray:
    image = decode_jpeg(jpeg) if jpeg else None
    assert image is not None, "no image, or not a JPEG"
    return image


def crop_difference(face: np.ndarray, frame: np.ndarray, box: list[int], margin: float = MARGIN) -> float:
    """Mean absolute pixel difference between the face crop and the frame cut at ``box`` with the
    snapshot margin (JPEG loss: a few levels on a camera picture; another moment or pose: tens)."""
    top, right, bottom, left = box
    h, w = frame.shape[:2]
    my, mx = int((bottom - top) * margin), int((right - left) * margin)
    cut = frame[max(0, top - my):min(h, bottom + my), max(0, left - mx):min(w, right + mx)]
    assert cut.shape == face.shape, f"crop {face.shape} is not the frame at the box ({cut.shape})"
    return float(np.abs(cut.astype(np.int16) - face.astype(np.int16)).mean())


def test_every_visits_face_is_cut_from_its_own_context_frame(sample_model, media_dir, tmp_path):
    clip = media_dir / "video" / "short_hamilton_clip.mp4"
    service = LiveService(Settings(model=ModelSettings(file=str(sample_model)),
                                   cameras=CameraSettings(initial=[str(clip)]),
                                   events=EventSettings(dir=str(tmp_path / "events")))).start()
    try:
        def improved_visits():
            service.history.flush()
            return [v for v in service.history.query(EventQuery(limit=100)).events
                    if v.has_frame and v.has_snapshot] if sum(service.history.counts.values()) >= 3 else []

        # Several recognitions: a later look replaces the first snapshot, the case that went wrong.
        visits = wait_until(improved_visits, 180, "visits after three recognitions")
        for visit in visits:
            face = pixels(service.history.image(visit.id, "snapshot"))
            frame = pixels(service.history.image(visit.id, "frame"))
            assert visit.box
            assert crop_difference(face, frame, visit.box) < 8, f"visit {visit.id}: face not from its frame"
    finally:
        service.close()


def test_a_better_look_replaces_face_and_frame_together_under_new_urls(tmp_path):
    from edgeface.history import History

    h = History(tmp_path / "events", gap_s=30).start()
    try:
        now = time.time()
        h.record(event("door", "Ada", now - 5, track=1, blur=True))
        assert h.flush()
        first = h.query(EventQuery()).events[0]
        before = first.as_json()
        h.record(event("door", "Ada", now - 1, track=1))        # sharper: the new best look
        assert h.flush()
        stored = h.get(first.id)
        assert stored is not None
        after = stored.as_json()
        assert after["snapshot_url"] != before["snapshot_url"] and after["frame_url"] != before["frame_url"]
        assert after["snapshot_url"].split("?")[0] == before["snapshot_url"].split("?")[0]
        face, frame = pixels(h.image(first.id, "snapshot")), pixels(h.image(first.id, "frame"))
        assert len(list((tmp_path / "events").rglob("*.jpg"))) == 2, "the replaced pair is left on disk"
        # The test frames are noise (JPEG loses ~15 levels of it; another frame's noise is ~85 off).
        assert crop_difference(face, frame, after["box"], margin=0) < 30
    finally:
        h.close()

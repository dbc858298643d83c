"""Corrections take effect at the site at once: the live service on the sample clip (a real camera
source, the sample model), an operator labelling an Unknown visit and saying "not X" of a named one,
through the same calls the API makes; kept across a restart."""

from __future__ import annotations

import time

import numpy as np
import pytest
from helpers import wait_until

from edgeface.history import EventQuery
from edgeface.live.service import LiveService
from edgeface.matcher import UNKNOWN
from edgeface.settings import CameraSettings, EventSettings, ModelSettings, Settings

pytestmark = pytest.mark.slow


def names_on_camera(service: LiveService, window_s: float) -> set[str]:
    """Every name the camera showed during ``window_s``."""
    seen: set[str] = set()
    camera = service.camera_ids()[0]
    end = time.monotonic() + window_s
    while time.monotonic() < end:
        seen.update(service.camera_health(camera)["people_now"])
        time.sleep(0.1)
    return seen


def test_a_label_names_the_face_at_once_and_not_x_makes_it_unknown(sample_model, media_dir, tmp_path):
    clip = media_dir / "video" / "short_hamilton_clip.mp4"
    settings = Settings(model=ModelSettings(file=str(sample_model)), cameras=CameraSettings(initial=[str(clip)]),
                        events=EventSettings(dir=str(tmp_path / "events")))
    service = LiveService(settings).start()
    try:
        def visit(**query):
            service.history.flush()
            return next((v for v in service.history.query(EventQuery(limit=200, **query)).events
                         if service.history.training_candidate(v.id)[2] is not None), None)

        stranger = wait_until(lambda: visit(unknown=True), 120, "an Unknown visit with its face's embedding")
        named = wait_until(lambda: visit(unknown=False), 120, "a named visit")
        person = named.name
        labelled, _ = service.label_event(stranger.id, "Newcomer", "admin")
        assert labelled is not None and service.models.current().local == 1
        wait_until(lambda: "Newcomer" in service.camera_health(service.camera_ids()[0])["people_now"], 120,
                   "the labelled face named Newcomer on the camera")

        # "Not X" of one visit: that face is Unknown from now on, X's other faces are still named
        # (the look-alike stranger's case, played frame by frame: edgeface bench --suite identity).
        correction = service.not_event(named.id, None, "admin")
        assert correction is not None and correction["kind"] == "not" and correction["name"] == person
        assert service.model_status().local == {"is": 1, "not": 1, "drop": 0}
        face = np.array(service.history.training_candidate(named.id)[2], np.float32)
        in_use = service.models.current()
        assert in_use.matcher.match(face[None], margin=settings.live.match_margin)[0].name == UNKNOWN
        later = names_on_camera(service, 45)                  # more than a loop of the clip
        assert {person, "Newcomer"} <= later, f"only {later} named after 'not {person}'"
    finally:
        service.close()

    again = LiveService(settings)                             # a restart keeps them
    try:
        assert [c["kind"] for c in again.corrections()] == ["is", "not"]
        assert again.uncorrect(correction["id"]) and [c["kind"] for c in again.corrections()] == ["is"]
    finally:
        again.close()

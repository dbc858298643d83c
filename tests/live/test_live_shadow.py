"""Shadow evaluation: a candidate model pushed to the store is matched beside the one in use on the
live faces of the sample clip (a real camera source, a real model store), counted per camera and
never shown. A candidate that swaps two people's names reports changed names; one that only adds
a person reports newly named faces and no changed name."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import wait_until

from edgeface.history import EventQuery
from edgeface.live.service import LiveService
from edgeface.matcher import UNKNOWN
from edgeface.modelfile import FaceModel
from edgeface.settings import CameraSettings, EventSettings, ModelSettings, Settings
from edgeface.store import open_store

pytestmark = pytest.mark.slow


def test_a_candidate_is_judged_on_live_faces_and_never_shown(sample_model, media_dir, tmp_path):
    store = open_store(str(tmp_path / "store"))
    serving = store.push(sample_model)
    model = FaceModel.load(sample_model)
    settings = Settings(model=ModelSettings(store=str(tmp_path / "store"), reload_interval_s=0.5),
                        cameras=CameraSettings(initial=[str(media_dir / "video" / "short_hamilton_clip.mp4")]),
                        events=EventSettings(dir=str(tmp_path / "events")))
    service = LiveService(settings).start()
    try:
        def stranger():
            service.history.flush()
            return next((service.history.training_candidate(v.id)[2]
                         for v in service.history.query(EventQuery(unknown=True, limit=50)).events
                         if service.history.training_candidate(v.id)[2] is not None), None)

        face = np.array(wait_until(stranger, 120, "an Unknown face with its embedding"), np.float32)
        seen = wait_until(lambda: service.history.query(EventQuery(unknown=False, limit=1)).events, 120,
                          "a named visit")[0].name
        names = list(model.names)
        a, b = names.index(seen), (names.index(seen) + 1) % len(names)
        names[a], names[b] = names[b], names[a]                         # a label swapped in training
        swapped = FaceModel(model.embeddings, model.labels, names).save(tmp_path / "swapped.data")
        added = FaceModel(np.vstack([model.embeddings, face]), np.append(model.labels, len(model.names)),
                          [*model.names, "Newcomer"]).save(tmp_path / "added.data")

        def shadow(version: str) -> dict[str, int]:
            cameras = service.uplink.stats.shadow().get(version, {})
            return {r: sum(c[r] for c in cameras.values()) for r in ("same", "newly_named", "newly_unknown",
                                                                     "changed_name")}

        bad = store.push(swapped, candidate=True)
        wait_until(lambda: shadow(bad)["changed_name"] > 0, 120, "changed names reported for the swapped candidate")
        assert service.model_status().version == serving and service.model_status().candidate == bad
        shown = {name for name in service.camera_health(service.camera_ids()[0])["people_now"]}
        assert not shown & {"Newcomer"}, "a candidate's name was shown"

        good = store.push(added, candidate=True)
        wait_until(lambda: shadow(good)["newly_named"] > 0 and shadow(good)["same"] > 20, 120,
                   "the added person newly named by the candidate")
        counts = shadow(good)
        assert counts["changed_name"] == 0, counts
        message = service.uplink.stats.messages("lab")[good]["shadow"]      # what goes to the core
        assert message["against"] == serving and message["compared"] >= sum(counts.values())
        assert message["changed_name"] == 0 and message["cameras"]
        assert service.models.current().matcher.match(face[None])[0].name == UNKNOWN, "the candidate served"
        store.withdraw_candidate()
        wait_until(lambda: service.model_status().candidate is None, 30, "the candidate withdrawn")
    finally:
        service.close()

"""The people use cases: who the model knows and what the site saw of them, an operator's label,
and forgetting a person (privacy)."""

from __future__ import annotations

from edgeface.history import History, Visit
from edgeface.live.modelwatch import ModelHolder
from edgeface.matcher import UNKNOWN
from edgeface.uplink.outbox import Capture
from edgeface.uplink.service import Uplink


class People:
    def __init__(self, models: ModelHolder, history: History, uplink: Uplink):
        self._models = models
        self._history = history
        self._uplink = uplink

    def known(self) -> list[dict]:
        """Everyone the current model knows: enrolment images (from its metadata), visits, last seen."""
        loaded = self._models.current()
        if loaded is None:
            return []
        model = loaded.model
        sources: dict[str, list[dict]] = {}
        for src in model.metadata.get("sources", []):
            if isinstance(src, dict) and "person" in src:
                sources.setdefault(src["person"], []).append({"file": src.get("file"), "sha256": src.get("sha256")})
        counts = self._history.people()
        out = []
        for index, name in enumerate(model.names):
            visits, last_seen = counts.get(name, (0, None))
            out.append({"name": name, "images": sources.get(name, []),
                        "image_count": int((model.labels == index).sum()), "visits": visits, "last_seen": last_seen})
        return out

    def cameras(self, name: str) -> list:
        return self._history.person_cameras(name)

    def label(self, event_id: str, name: str, role: str) -> tuple[Visit | None, bool]:
        """An operator says who an event's face is: kept in the history and, with an outbox
        configured, sent to the core as a training candidate (never into the model here).
        Returns the labelled event (None: no such event) and whether the outbox took it."""
        visit = self._history.label(event_id, name, role)
        maker = self._uplink.captures
        if visit is None or maker is None:
            return visit, False
        face, frame, embedding = self._history.training_candidate(event_id)
        if face is None:
            return visit, False
        # The capture maker cuts the face from the frame with a margin and records its box (training
        # falls back on it); never refused or merged: the operator chose this face.
        return visit, maker.add_labelled(Capture(
            camera=visit.camera, face_jpeg=face, frame_jpeg=frame, seen_at=visit.started_at, name=visit.name,
            distance=visit.best_distance, embedding=embedding, model_version=visit.model_version, box=visit.box,
            reason="labelled", label=name, id=visit.id))

    def forget(self, name: str) -> tuple[int, dict[str, int] | None]:
        """Privacy: the events about ``name`` deleted here, and the uplink's traces of them (retained
        MQTT state, captures queued here and shipped to the core; None without an outbox)."""
        deleted = self._history.delete_person(name)
        return deleted, (None if name == UNKNOWN else self._uplink.forget(name))

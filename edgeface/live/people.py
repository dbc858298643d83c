"""The people use cases: who the model knows and what the site saw of them, an operator's label,
and forgetting a person (privacy)."""

from __future__ import annotations

import logging
from collections import Counter

from edgeface.history import History, Visit
from edgeface.live.modelwatch import ModelHolder
from edgeface.matcher import UNKNOWN
from edgeface.overlay import Correction, Kind, new_correction
from edgeface.uplink.outbox import Capture
from edgeface.uplink.service import Uplink

log = logging.getLogger(__name__)


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
        local = Counter(c.name for c in self._models.overlay.corrections if c.kind == "is")
        out = []
        # The model's people, then those only the site's corrections know (until a model does).
        for index, name in enumerate([*model.names, *sorted(set(local) - set(model.names))]):
            visits, last_seen = counts.get(name, (0, None))
            out.append({"name": name, "images": sources.get(name, []),
                        "image_count": int((model.labels == index).sum()), "local": local.get(name, 0),
                        "known_to_model": index < len(model.names), "visits": visits, "last_seen": last_seen})
        return out

    def cameras(self, name: str) -> list:
        return self._history.person_cameras(name)

    def label(self, event_id: str, name: str, role: str) -> tuple[Visit | None, bool]:
        """An operator says who an event's face is: kept in the history, in effect here at once (a
        local correction: the face's embedding joins ``name``'s) and, with an outbox configured,
        sent to the core as a training candidate. Returns the labelled event (None: no such event)
        and whether the capture was queued."""
        visit = self._history.label(event_id, name, role)
        if visit is None:
            return None, False
        face, frame, embedding = self._history.training_candidate(event_id)
        if embedding is not None:       # a visit kept without one still goes to the core
            self._correct("is", name, embedding, visit, role)
        maker = self._uplink.captures
        if maker is None or face is None:
            return visit, False
        # The capture maker cuts the face from the frame with a margin and records its box (training
        # falls back on it); never refused or merged: the operator chose this face.
        return visit, maker.add_labelled(Capture(
            camera=visit.camera, face_jpeg=face, frame_jpeg=frame, seen_at=visit.started_at, name=visit.name,
            distance=visit.best_distance, embedding=embedding, model_version=visit.model_version, box=visit.box,
            reason="labelled", label=name, id=visit.id))

    def not_this(self, event_id: str, name: str | None, role: str) -> dict | None:
        """An operator says an event's face is not ``name`` (default: the name it was given): from
        now on that face is Unknown here instead (a negative anchor; it never names anyone else).
        The correction, or None when there is no such event."""
        visit = self._history.get(event_id)
        if visit is None:
            return None
        _, _, embedding = self._history.training_candidate(event_id)
        return self._correct("not", name or visit.name, embedding, visit, role).as_json()

    def _correct(self, kind: Kind, name: str, embedding, visit: Visit, role: str) -> Correction:
        correction = new_correction(kind, name, embedding, source=visit.id, by=role)
        self._models.correct(correction)
        log.info("local correction: visit %s is %s%s (%s)", visit.id, "" if kind == "is" else "not ", name, role)
        return correction

    def forget(self, name: str) -> tuple[int, dict[str, int] | None]:
        """Privacy: the events about ``name`` deleted here, and the uplink's traces of them (retained
        MQTT state, captures queued here and shipped to the core; None without an outbox)."""
        deleted = self._history.delete_person(name)
        return deleted, (None if name == UNKNOWN else self._uplink.forget(name))

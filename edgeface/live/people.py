"""The people use cases: who the model knows and what the site saw of them, an operator's label
(of a visit, or of a repeat stranger's whole group), an enrolment photo left out, and forgetting a
person (privacy)."""

from __future__ import annotations

import hashlib
import logging
import shlex
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from edgeface.history import EventQuery, History, Visit
from edgeface.history.cameras import CameraSettingsStore
from edgeface.history.strangers import FACES_SHOWN
from edgeface.live.modelwatch import ModelHolder
from edgeface.matcher import UNKNOWN
from edgeface.overlay import CorrectedMatcher, Correction, Kind, new_correction
from edgeface.uplink.outbox import Capture
from edgeface.uplink.service import Uplink

log = logging.getLogger(__name__)


class People:
    def __init__(self, models: ModelHolder, history: History, uplink: Uplink, cameras: CameraSettingsStore,
                 images: Path | None = None):
        """``cameras``: whether a camera lets captures leave (privacy); ``images``: the site's copy of
        the training photos (one folder per person), if it has one."""
        self._models = models
        self._history = history
        self._uplink = uplink
        self._cameras = cameras
        self._images = images

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

    def local_names(self) -> set[str]:
        """Names only the site's corrections know: shown as "local" until a model version knows them."""
        loaded = self._models.current()
        known = set(loaded.model.names) if loaded else set()
        return {c.name for c in self._models.overlay.corrections if c.kind == "is"} - known

    def local_visits(self, visits: Iterable[Visit]) -> set[str]:
        """Which of ``visits`` are shown "local": named by a name only the corrections know, or named
        X with the help of an example the site added to X — the visit's best face is nearer one of
        those examples than any of the model's own photos of X (the matcher in use says which row
        is nearest). Worked out when asked, from the corrections in effect now (as for the names):
        a model version that holds the examples takes the tag off older visits too. Never changes
        a name."""
        loaded = self._models.current()
        only_local = self.local_names()
        named = [v for v in visits if not v.unknown]
        out = {v.id for v in named if v.name in only_local}
        added = {c.name for c in self._models.overlay.corrections if c.kind == "is"} - only_local
        check = [v for v in named if v.name in added]
        if loaded is None or not check or not isinstance(loaded.matcher, CorrectedMatcher):
            return out
        faces = self._history.embeddings([v.id for v in check])
        return out | {v.id for v in check if v.id in faces and loaded.matcher.helped(v.name, faces[v.id])}

    def local_now(self, camera: str, names: list[str]) -> list[str]:
        """Of ``names`` on ``camera`` now, those named by the site's corrections: a name only they
        know, or one whose latest visit there is "local" (``local_visits``)."""
        only_local = self.local_names()
        added = {c.name for c in self._models.overlay.corrections if c.kind == "is"}
        latest = []
        for name in set(names) & added - only_local:        # rare: one small query each
            found = self._history.query(EventQuery(camera=camera, name=name, limit=10)).events
            latest += [v for v in found if v.name == name and not v.unknown][:1]
        helped = {v.name for v in latest if v.id in self.local_visits(latest)}
        return [n for n in names if n in only_local or n in helped]

    def photos(self, name: str) -> list[dict] | None:
        """``name``'s enrolment photos in the model in use (row, file, sha256, whether the site left it
        out, whether the site has the image); None when the model does not know the name."""
        loaded = self._models.current()
        if loaded is None or name not in loaded.model.names:
            return None
        model = loaded.model
        sources = model.metadata.get("sources", [])
        aligned = isinstance(sources, list) and len(sources) == len(model.labels)   # one source per row
        drops = {c.embedding.tobytes(): c.id for c in self._models.overlay.corrections
                 if c.kind == "drop" and c.name == name}
        out = []
        for row in map(int, (model.labels == model.names.index(name)).nonzero()[0]):
            src = sources[row] if aligned and isinstance(sources[row], dict) else {}
            out.append({"row": row, "file": src.get("file"), "sha256": src.get("sha256"),
                        "dropped": drops.get(model.embeddings[row].tobytes()),
                        "has_image": self._photo_path(name, src) is not None})
        return out

    def photo_image(self, name: str, row: int) -> bytes | None:
        """The enrolment photo of ``row`` from the site's training photos, when it is there unchanged."""
        photo = next((p for p in self.photos(name) or [] if p["row"] == row), None)
        path = None if photo is None else self._photo_path(name, photo)
        return None if path is None else path.read_bytes()

    def _photo_path(self, name: str, src: dict) -> Path | None:
        if self._images is None or not src.get("file") or not src.get("sha256"):
            return None
        root = self._images.resolve()
        path = (root / str(src["file"])).resolve()
        if not path.is_relative_to(root / name) or not path.is_file():     # never outside the person's folder
            return None
        try:
            data = path.read_bytes()
        except OSError:
            return None
        return path if hashlib.sha256(data).hexdigest() == src["sha256"] else None

    def drop_photo(self, name: str, row: int, role: str) -> dict | None:
        """An operator says an enrolment photo is not ``name``: its row is left out here from now
        on (a drop), until a model version without it comes. None: no such photo of ``name``."""
        loaded = self._models.current()
        photo = next((p for p in self.photos(name) or [] if p["row"] == row), None)
        if loaded is None or photo is None:
            return None
        correction = new_correction("drop", name, loaded.model.embeddings[row], source=photo["file"] or f"row {row}",
                                    by=role)
        self._models.correct(correction)
        log.info("local correction: enrolment photo %s of %s left out (%s)", correction.source, name, role)
        return correction.as_json()

    def name_stranger(self, group: int, name: str, role: str) -> dict | None:
        """An operator names a repeat stranger: every visit of the group is labelled ``name``; its
        best faces become positive examples here (and labelled captures for the core). None: no
        such group."""
        visit_ids = self._history.strangers.visit_ids(group)
        if not visit_ids:
            return None
        examples = captures = 0
        for i, visit_id in enumerate(visit_ids):
            if i < FACES_SHOWN:
                visit, queued = self.label(visit_id, name, role)
                examples += visit is not None
                captures += queued
            else:
                self._history.label(visit_id, name, role)
        self._history.strangers.name(group, name, role)
        return {"stranger": group, "name": name, "labelled": len(visit_ids), "examples": examples,
                "captures": captures}

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
        maker, camera = self._uplink.captures, self._cameras.get(visit.camera)
        # Privacy: only from a camera that lets captures leave, and not a face it stored blurred.
        if maker is None or face is None or not camera.captures_allowed or \
                camera.hides(None if visit.unknown else visit.name):
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

    def forget(self, name: str) -> dict[str, Any]:
        """Privacy: every copy of ``name``'s data this site can reach, deleted, counted per place
        (None: that place is not configured here), and what only a new model can remove: the
        person's photos in the training images, listed with the command that retrains without them.

        Unknown visits are not anybody's: forgetting "Unknown" deletes those visits only."""
        visits, snapshots, clips = self._history.forget_person(name)
        removed: dict[str, int | None] = {"visits": visits, "snapshots": snapshots, "clips": clips}
        if name == UNKNOWN:
            return {"name": name, "removed": removed, "face_images": [], "retrain": None}
        removed.update(self._uplink.forget(name))
        removed["corrections"] = self._models.forget(name)
        photos = self._photos(name)
        retrain = None
        if photos:
            folder = shlex.quote(f"face-images/{name}")
            retrain = (f"rm -r {folder} && edgeface train --images face-images --out model.data && "
                       "edgeface model push model.data")
        log.info("forgot a person: %s", ", ".join(f"{k} {v}" for k, v in removed.items() if v is not None))
        return {"name": name, "removed": removed, "face_images": photos, "retrain": retrain}

    def _photos(self, name: str) -> list[str]:
        """The training images of ``name`` the model in use was made from (its metadata's sources),
        accepted review captures among them."""
        loaded = self._models.current()
        sources = loaded.model.metadata.get("sources", []) if loaded is not None else []
        return sorted(str(src.get("file")) for src in sources
                      if isinstance(src, dict) and src.get("person") == name and src.get("file"))

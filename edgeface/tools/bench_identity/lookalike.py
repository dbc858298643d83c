"""The identity suite's correction scenario: a look-alike stranger, corrected with "not X".

A stranger whom the model names as an enrolled person is what an operator corrects at the site.
The scenario makes one: of the suite's strangers and enrolled people, the pair whose photos'
embeddings are nearest, and a tolerance just wide enough for the stranger's photo to match the
enrolled person (a look-alike, for this model). One place, the two faces in turn (hard swaps,
60 px); played through the live path twice — as the model names them, then with "not X" anchored
at the stranger's face (the face the operator corrected) — and scored the same way as the others.
The goal: 0 wrong names after the correction, and X still named as often as before.
"""

from __future__ import annotations

import itertools

import numpy as np

from edgeface.engine import FaceEngine
from edgeface.modelfile import FaceModel
from edgeface.overlay import new_correction
from edgeface.recognize import STILL_SETTINGS
from edgeface.tools.bench_identity import scenes as sc
from edgeface.tools.bench_identity.paths import drive_live, live_engine
from edgeface.tools.bench_identity.scoring import score

#: The tolerance is set this far beyond the stranger's distance to the enrolled person.
BEYOND = 0.04
PATTERN = "ESESE"


class _TwoPeople:
    """A cast of the look-alike pair only (``scenes.Cast``'s interface)."""

    def __init__(self, enrolled: sc.Portrait, stranger: sc.Portrait):
        self._faces = {True: enrolled, False: stranger}
        self._actors = itertools.count(1)

    def actor(self) -> int:
        return next(self._actors)

    def pick(self, enrolled: bool) -> sc.Portrait:
        return self._faces[enrolled]


def run(portraits: dict[str, list[sc.Portrait]], model: FaceModel, settings, seed: int, quick: bool) -> dict:
    engine = FaceEngine(STILL_SETTINGS)
    faces = {p: [(q, _embedding(engine, q)) for q in portraits[p]] for p in sc.ENROLLED + sc.STRANGERS}
    distance, enrolled, stranger = min(
        (float(np.linalg.norm(e - s)), pe, ps)
        for person in sc.ENROLLED for pe, e in faces[person]
        for other in sc.STRANGERS for ps, s in faces[other])
    tolerance = round(distance + BEYOND, 3)
    looser = settings.model_copy(update={"tolerance": tolerance})
    rng = np.random.default_rng((seed, 77))
    plan = sc.QUICK if quick else sc.FULL
    shot = sc._in_place(_TwoPeople(enrolled, stranger), rng, PATTERN, 60, plan.seg, 0)  # type: ignore[arg-type]
    scene = sc.render("lookalike", "a look-alike stranger and the person the model takes them for, in turn",
                      60, [shot], sc.background(rng, textured=True), sc.Canvas(), (85, 85), rng)
    live = live_engine(looser)
    anchor = new_correction("not", enrolled.person, _embedding(engine, stranger), by="bench")
    before = score(scene.truth, drive_live(scene.frames, looser, model, live).drawn).as_json()
    after = score(scene.truth, drive_live(scene.frames, looser, model, live, [anchor]).drawn).as_json()
    return {"about": scene.about, "enrolled": enrolled.person, "stranger": stranger.person,
            "photos": [enrolled.source, stranger.source], "photo_distance": round(distance, 3),
            "tolerance": tolerance, "frames": len(scene.frames), "before": before, "after": after,
            "goal": {"wrong_after": after["segments_wrong_name"] == 0 and after["strangers_named"] == 0,
                     "still_named": after["segments_named_right"] >= before["segments_named_right"]}}


def _embedding(engine: FaceEngine, portrait: sc.Portrait) -> np.ndarray:
    return engine.encode(portrait.rgb, [portrait.box])[0]

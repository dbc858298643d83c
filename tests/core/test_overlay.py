"""edgeface.overlay: the site's corrections — in effect at once, never a wrong name, kept safely."""

from __future__ import annotations

import json

import numpy as np
import pytest

from edgeface.live.modelwatch import ModelHolder
from edgeface.matcher import UNKNOWN, Matcher
from edgeface.modelfile import FaceModel
from edgeface.overlay import CorrectedMatcher, Overlay, OverlayError, OverlayFile, new_correction

RNG = np.random.default_rng(20)


def unit(v: np.ndarray) -> np.ndarray:
    return (v / np.linalg.norm(v) * 0.5).astype(np.float32)


def near(v: np.ndarray, distance: float) -> np.ndarray:
    """A vector ``distance`` away from ``v`` in a random direction."""
    d = RNG.normal(size=v.shape)
    d -= d @ v / (v @ v) * v
    return (v + d / np.linalg.norm(d) * distance).astype(np.float32)


X, Y = unit(RNG.normal(size=128)), unit(RNG.normal(size=128))
BASE = Matcher(np.stack([X, Y]), np.array([0, 1]), ["Xavier", "Yolanda"], tolerance=0.6)


def test_not_x_turns_a_look_alike_unknown_and_x_is_still_named():
    stranger = near(X, 0.5)                       # matches Xavier: the wrong name to correct
    assert BASE.match(stranger[None], margin=0.05)[0].name == "Xavier"
    fixed = CorrectedMatcher(BASE, Overlay((new_correction("not", "Xavier", stranger),)))
    again = [near(stranger, 0.2) for _ in range(20)]             # the stranger, seen again
    assert {m.name for m in fixed.match(np.stack(again), margin=0.05)} == {UNKNOWN}
    xavier = [near(X, 0.25) for _ in range(20)]                    # Xavier himself
    assert {m.name for m in fixed.match(np.stack(xavier), margin=0.05)} == {"Xavier"}


def test_an_anchor_never_gives_another_name():
    """Whatever the probe, a negative anchor leaves the model's answer or makes it Unknown."""
    anchors = Overlay((*(new_correction("not", "Xavier", near(X, 0.45)) for _ in range(5)),
                       new_correction("not", "Yolanda", near(Y, 0.4))))
    fixed = CorrectedMatcher(BASE, anchors)
    probes = np.stack([near(c, r) for c in (X, Y, (X + Y) / 2) for r in np.linspace(0.05, 0.9, 60)])
    for before, after in zip(BASE.match(probes, margin=0.05), fixed.match(probes, margin=0.05)):
        assert after.name in (before.name, UNKNOWN), (before, after)


def test_this_is_newcomer_names_the_face_at_once():
    newcomer = unit(RNG.normal(size=128))
    assert BASE.match(newcomer[None])[0].name == UNKNOWN
    fixed = CorrectedMatcher(BASE, Overlay((new_correction("is", "Newcomer", newcomer),)))
    assert fixed.match(near(newcomer, 0.3)[None], margin=0.05)[0].name == "Newcomer"
    assert fixed.match(near(X, 0.2)[None], margin=0.05)[0].name == "Xavier"


def test_the_matcher_says_when_a_name_came_with_the_help_of_an_example_the_site_added():
    example = near(X, 0.5)                         # Xavier, far from his enrolment photo
    fixed = CorrectedMatcher(BASE, Overlay((new_correction("is", "Xavier", example),)))
    by_example, by_photo = near(example, 0.1), near(X, 0.1)
    assert [m.name for m in fixed.match(np.stack([by_example, by_photo]))] == ["Xavier", "Xavier"]
    assert fixed.helped("Xavier", by_example) and not fixed.helped("Xavier", by_photo)
    assert not fixed.helped("Yolanda", near(Y, 0.1)) and not fixed.helped("Nobody", by_example)
    # A dropped photo shifts the rows: the examples are still told from the model's own.
    dropped = CorrectedMatcher(BASE, Overlay((new_correction("drop", "Yolanda", Y),
                                               new_correction("is", "Xavier", example))))
    assert dropped.helped("Xavier", by_example) and not dropped.helped("Xavier", by_photo)


def test_the_file_keeps_the_corrections_and_refuses_a_damaged_one(tmp_path):
    path = tmp_path / "corrections.json"
    kept = Overlay((new_correction("is", "Newcomer", X, source="v1"), new_correction("not", "Yolanda", Y)))
    OverlayFile(path).save(kept)
    back = OverlayFile(path).load()
    assert [c.id for c in back.corrections] == [c.id for c in kept.corrections]
    assert np.array_equal(back.corrections[0].embedding, X)
    data = json.loads(path.read_text())
    data["corrections"][0]["name"] = "Someone Else"              # edited by hand
    path.write_text(json.dumps(data))
    with pytest.raises(OverlayError, match="checksum") as refused:
        OverlayFile(path).load()
    assert "works without them" in refused.value.hint
    path.write_text(path.read_text()[:50])                        # cut short
    with pytest.raises(OverlayError, match="not readable JSON"):
        OverlayFile(path).load()
    with pytest.raises(OverlayError, match="no usable embedding"):
        new_correction("is", "Newcomer", None)


def test_the_holder_applies_corrections_as_a_new_generation_keeps_them_and_retires_what_a_model_holds(tmp_path):
    path = tmp_path / "corrections.json"
    model = FaceModel(np.stack([X, Y]), np.array([0, 1]), ["Xavier", "Yolanda"])
    holder = ModelHolder(0.6, OverlayFile(path))
    first = holder.swap(model, "test")
    newcomer = unit(RNG.normal(size=128))
    holder.correct(new_correction("is", "Newcomer", newcomer, source="visit1"))
    now = holder.current()
    assert now is not None and now.generation == first.generation + 1 and now.local == 1
    assert now.matcher.match(newcomer[None])[0].name == "Newcomer"
    assert holder.status()["local"] == {"is": 1, "not": 0, "drop": 0}

    restarted = ModelHolder(0.6, OverlayFile(path))                # the corrections survive a restart
    assert restarted.swap(model, "test").matcher.match(newcomer[None])[0].name == "Newcomer"

    trained = FaceModel(np.stack([X, Y, newcomer]), np.array([0, 1, 2]), ["Xavier", "Yolanda", "Newcomer"],
                        metadata={"sources": [{"person": "Newcomer", "file": "Newcomer/capture-visit1.jpg"}]})
    assert restarted.swap(trained, "v2").local == 0, "a model that holds the correction did not retire it"
    assert len(OverlayFile(path).load()) == 0

    path.write_text("{not json")                                    # damaged: the model works without
    damaged = ModelHolder(0.6, OverlayFile(path))
    assert damaged.swap(model, "test").matcher.match(X[None])[0].name == "Xavier"
    assert "cannot be used" in (damaged.status()["local_error"] or "")


def test_a_dropped_enrolment_photo_is_left_out_until_a_model_without_it_comes(tmp_path):
    """A wrong photo enrolled as Xavier (it is Yolanda's look-alike Zed) names Zed Xavier; dropping
    its row here makes Zed Unknown, Xavier's own photo still names him; a retrained model without
    the photo retires the drop, one that still has it keeps it."""
    zed = near(Y, 0.7)
    model = FaceModel(np.stack([X, zed, Y]), np.array([0, 0, 1]), ["Xavier", "Yolanda"])
    holder = ModelHolder(0.6, OverlayFile(tmp_path / "corrections.json"))
    holder.swap(model, "v1")
    probe = near(zed, 0.1)[None]
    assert holder.current().matcher.match(probe, margin=0.05)[0].name == "Xavier"
    holder.correct(new_correction("drop", "Xavier", zed, source="Xavier/wrong.jpg"))
    in_use = holder.current().matcher
    assert in_use.match(probe, margin=0.05)[0].name != "Xavier"
    assert in_use.match(near(X, 0.2)[None], margin=0.05)[0].name == "Xavier"
    assert holder.status()["local"] == {"is": 0, "not": 0, "drop": 1}
    assert holder.swap(model, "v1 again").local == 1, "the model still has the photo: the drop stays"
    fixed = FaceModel(np.stack([X, Y]), np.array([0, 1]), ["Xavier", "Yolanda"])
    assert holder.swap(fixed, "v2").local == 0 and len(OverlayFile(tmp_path / "corrections.json").load()) == 0


def test_not_x_then_this_is_y_names_the_face_y():
    """The operator says "not Xavier" of a stranger's face, then names that stranger: the anchor takes
    back only Xavier's name, so the face is named as the operator said."""
    stranger = near(X, 0.5)
    fixed = CorrectedMatcher(BASE, Overlay((new_correction("not", "Xavier", stranger),
                                            new_correction("is", "Newcomer", near(stranger, 0.01)))))
    assert {m.name for m in fixed.match(np.stack([near(stranger, 0.1) for _ in range(20)]), margin=0.05)} \
        == {"Newcomer"}
    assert fixed.match(near(X, 0.2)[None], margin=0.05)[0].name == "Xavier"

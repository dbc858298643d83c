"""edgeface.evaluation on the real embeddings of a model trained from the sample faces."""

from __future__ import annotations

import json
from itertools import combinations

import numpy as np
import pytest

from edgeface import evaluation as ev
from edgeface.errors import EdgefaceError
from edgeface.images import load_image
from edgeface.matcher import UNKNOWN
from edgeface.modelfile import FaceModel

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def model(sample_model) -> FaceModel:
    return FaceModel.load(sample_model)


def test_pair_distances_cover_every_pair_once_split_by_person(model):
    pairs = ev.pair_distances(model.embeddings, model.labels)
    same, different = [], []
    for i, j in combinations(range(len(model.labels)), 2):
        d = float(np.linalg.norm(model.embeddings[i] - model.embeddings[j]))
        (same if model.labels[i] == model.labels[j] else different).append(d)
    for blocks in (pairs, ev.pair_distances(model.embeddings, model.labels, block=3)):
        np.testing.assert_allclose(np.sort(blocks.same), np.sort(same), atol=1e-5)
        np.testing.assert_allclose(np.sort(blocks.different), np.sort(different), atol=1e-5)


def test_sample_faces_separate_at_the_default_tolerance(model):
    """The face_recognition models keep one person's photos closer than 0.6 and strangers farther."""
    pairs = ev.pair_distances(model.embeddings, model.labels)
    assert pairs.same.size > 0 and pairs.different.size > 0
    assert pairs.same.max() < ev.DEFAULT_TOLERANCE < pairs.different.min()


def test_leave_one_out_recognises_each_photo_from_the_others(model):
    loo = ev.leave_one_out(model.embeddings, model.labels, model.names)
    counts = np.bincount(model.labels, minlength=len(model.names))
    assert loo.evaluated == int(counts[counts > 1].sum())
    assert loo.singletons == int((counts == 1).sum()) >= 1  # Lin-Manuel Miranda has one photo
    assert loo.accuracy == 1.0 and loo.correct == loo.evaluated and loo.mistakes == []
    single = [p for p in loo.predictions if not p.enrolled_elsewhere]
    assert all(p.predicted_name == UNKNOWN and p.correct for p in single)
    assert loo.singletons_rejected == loo.singletons


def test_a_photo_filed_under_the_wrong_person_shows_up_as_a_mistake(model):
    labels = model.labels.copy()
    obama, biden = model.names.index("Barack Obama"), model.names.index("Joe Biden")
    moved = int(np.flatnonzero(labels == obama)[0])
    labels[moved] = biden
    loo = ev.leave_one_out(model.embeddings, labels, model.names)
    wrong = {p.index: p for p in loo.mistakes}
    assert moved in wrong
    assert wrong[moved].true_name == "Joe Biden" and wrong[moved].predicted_name == "Barack Obama"
    assert loo.accuracy < 1.0


def test_a_tight_tolerance_turns_every_answer_into_unknown(model):
    loo = ev.leave_one_out(model.embeddings, model.labels, model.names, tolerance=0.05)
    assert loo.correct == 0 and loo.accuracy == 0.0
    assert {p.predicted_name for p in loo.predictions} == {UNKNOWN}
    assert loo.singletons_rejected == loo.singletons  # strangers are still rightly unknown


def test_accuracy_is_none_when_nobody_has_a_second_photo(model):
    first = [int(np.flatnonzero(model.labels == i)[0]) for i in range(len(model.names))]
    loo = ev.leave_one_out(model.embeddings[first], model.labels[first], model.names)
    assert loo.evaluated == 0 and loo.accuracy is None and loo.singletons == len(model.names)


def test_report_is_json_and_agrees_with_its_parts(model):
    report = ev.evaluate_model(model, tolerance=0.5)
    report = json.loads(json.dumps(report))  # JSON-able, as the pipeline stores it
    pairs = ev.pair_distances(model.embeddings, model.labels)
    assert report["images"] == len(model.labels) and report["identities"] == len(model.names)
    assert report["same_person"]["count"] == pairs.same.size
    assert report["different_person"]["max"] == pytest.approx(pairs.different.max())
    assert report["same_pairs_over_tolerance"] == pytest.approx(float((pairs.same > 0.5).mean()))
    assert report["leave_one_out"]["tolerance"] == 0.5
    assert "predictions" not in report["leave_one_out"]


def test_inconsistent_arrays_are_refused_with_a_hint(model):
    with pytest.raises(EdgefaceError, match="do not line up") as err:
        ev.evaluate(model.embeddings, model.labels[:-1], model.names)
    assert err.value.hint
    with pytest.raises(EdgefaceError, match="names"):
        ev.leave_one_out(model.embeddings, model.labels, model.names[:1])


def test_distance_figure_marks_the_tolerance_and_renders_png(model):
    pairs = ev.pair_distances(model.embeddings, model.labels)
    fig = ev.distance_figure(pairs, tolerance=0.55)
    (ax,) = fig.axes
    assert [line.get_xdata()[0] for line in ax.get_lines()] == [0.55]
    heights = [sum(p.get_height() for p in container) for container in ax.containers]
    assert sorted(heights) == sorted([pairs.same.size, pairs.different.size])  # every pair is in a bar
    assert ev.figure_png(fig).startswith(PNG_SIGNATURE)


def test_faces_figure_draws_one_box_per_detected_face(media_dir):
    from matplotlib.patches import Rectangle

    rgb = load_image(next((media_dir / "faces" / "Joe Biden").iterdir()))
    boxes = [(10, 60, 70, 5), (80, 150, 140, 90)]
    fig = ev.faces_figure([("two", rgb, boxes), ("none", rgb, [])], columns=4)
    drawn = [[p for p in ax.patches if isinstance(p, Rectangle)] for ax in fig.axes]
    assert [len(d) for d in drawn] == [2, 0]
    assert drawn[0][0].get_xy() == (5, 10) and drawn[0][0].get_width() == 55
    assert ev.figure_png(fig).startswith(PNG_SIGNATURE)
    with pytest.raises(EdgefaceError, match="no images"):
        ev.faces_figure([])

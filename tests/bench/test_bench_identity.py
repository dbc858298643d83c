"""The identity benchmark: deterministic scenes with consistent truth, the scoring on hand-built
label sequences, and ``edgeface bench --suite identity --quick`` end to end (figures, never timings)."""

from __future__ import annotations

import itertools
import json

import cv2
import numpy as np
import pytest
from helpers import run_cli

from edgeface.errors import ConfigError
from edgeface.images import decode_jpeg, encode_jpeg
from edgeface.settings import LiveSettings
from edgeface.tools.bench_identity import enrol, format_table
from edgeface.tools.bench_identity import scenes as sc
from edgeface.tools.bench_identity.paths import SceneIdentify, drive_live
from edgeface.tools.bench_identity.scoring import MIN_IOU, Drawn, TruthFace, first_named, iou, kept, score, segments

ADA, BOB = "Ada Lovelace", "Bob"


@pytest.fixture(scope="module")
def portraits(media_dir):
    return sc.load_portraits(media_dir)


@pytest.fixture(scope="module")
def quick_scenes(portraits):
    return sc.build_scenes(portraits, quick=True)


# -- the generator ---------------------------------------------------------------------------------

def test_same_seed_same_frames_other_seed_other_frames(portraits, quick_scenes):
    again = sc.build_scenes(portraits, quick=True)
    assert [s.digest() for s in again] == [s.digest() for s in quick_scenes]
    other = sc.build_scenes(portraits, quick=True, seed=sc.DEFAULT_SEED + 1, only=["swap_hard"])
    assert other[0].digest() != quick_scenes[0].digest()
    some = sc.build_scenes(portraits, quick=True, only=["crossing", "jpeg_noise"])
    assert [s.digest() for s in some] == [s.digest() for s in quick_scenes if s.name in ("crossing", "jpeg_noise")]


def test_every_scenario_is_there_with_enrolled_people_and_strangers(portraits, quick_scenes):
    names = [s.name for s in quick_scenes]
    assert names == ["swap_hard", "swap_fade", "crossing", *[f"size_{px}" for px in sc.SIZES],
                     "stranger_after", "motion_blur", "jpeg_noise", "far_40_main", "walkin_60"]
    assert names == list(sc.QUICK_SCENARIOS)
    assert set(sc.SCENARIOS) - set(names) == {"far_32", "far_32_main", "far_40", "walkin_60_main", "walkin_40",
                                              "walkin_40_main"}
    with pytest.raises(ConfigError, match="no scenario named swap"):
        sc.build_scenes(portraits, only=["swap"])
    assert set(sc.ENROLLED).isdisjoint(sc.STRANGERS) and len(sc.ENROLLED) == 4 and len(sc.STRANGERS) == 2
    assert all(portraits[p] for p in (*sc.ENROLLED, *sc.STRANGERS)), "a person has no usable photo"
    for scene in quick_scenes:
        segs = segments(scene.truth)
        assert any(s.enrolled for s in segs) and any(not s.enrolled for s in segs), scene.name
        for s in segs:
            assert (s.identity == s.person) == (s.person in sc.ENROLLED)
            assert s.enrolled or (s.identity == sc.STRANGER and s.person in sc.STRANGERS)


def test_frames_are_640x360_at_29_97_fps_and_noisier_where_asked(quick_scenes):
    sizes = {}
    for scene in quick_scenes:
        assert [f.seq for f in scene.frames] == list(range(1, len(scene.frames) + 1))
        assert scene.frames[-1].time == pytest.approx((len(scene.frames) - 1) * 1001 / 30000)
        middle = decode_jpeg(scene.frames[len(scene.frames) // 2].jpeg)
        assert middle is not None and middle.shape == (360, 640, 3)
        sizes[scene.name] = np.mean([len(f.jpeg) for f in scene.frames])
    # Same kind of picture at JPEG quality 30-50 instead of 85: clearly fewer bytes per frame.
    assert sizes["jpeg_noise"] < 0.7 * sizes["size_90"]


def test_truth_is_consistent(quick_scenes):
    for scene in quick_scenes:
        assert len(scene.truth) == len(scene.frames)
        for i, faces in enumerate(scene.truth):
            assert len({f.actor for f in faces}) == len(faces), f"{scene.name} frame {i}: one actor twice"
            for f in faces:
                top, right, bottom, left = f.box
                assert 0 <= left < right <= sc.WIDTH - 1 and 0 <= top < bottom <= sc.HEIGHT - 1, (scene.name, i, f)
                assert abs((right - left) - scene.face_px) <= 2, f"{scene.name}: a face is {right - left} px wide"
            for a in faces:        # every drawn box can be given to one truth face
                assert all(iou(a.box, b.box) < MIN_IOU for b in faces if b is not a), (scene.name, i)
        segs = segments(scene.truth)
        covered = [(i, s.actor) for s in segs for i in range(s.start, s.end)]
        assert len(covered) == len(set(covered)), f"{scene.name}: segments overlap"
        assert set(covered) == {(i, f.actor) for i, faces in enumerate(scene.truth) for f in faces}
        assert all(s.end - s.start >= 8 for s in segs), f"{scene.name}: a segment shorter than 8 frames"


def test_far_faces_walk_in_and_are_in_the_truth_once_wholly_in_the_frame(portraits, quick_scenes):
    far = next(s for s in quick_scenes if s.name == "far_40_main")
    segs = segments(far.truth)
    assert len(segs) == 6 and sum(s.enrolled for s in segs) == 3
    for seg in segs:
        first, last = (next(f for f in far.truth[i] if f.actor == seg.actor).box for i in (seg.start, seg.end - 1))
        assert abs(last[3] - first[3]) >= 40, "a far face walks (a face width or more), not only drifts"
        assert first[3] <= 4 or first[1] >= sc.WIDTH - 5, "a far face comes in from the side"
        assert seg.start >= 20, "in the truth only once wholly in the frame"
    # The same scene on the detect stream alone: the very same frames and truth.
    [alone] = sc.build_scenes(portraits, quick=True, only=["far_40"])
    assert alone.main is None and [f.jpeg for f in alone.frames] == [f.jpeg for f in far.frames]
    assert alone.truth == far.truth and alone.digest() != far.digest()


def test_the_main_stream_is_the_same_scene_at_three_times_the_size(quick_scenes):
    far = next(s for s in quick_scenes if s.name == "far_40_main")
    assert far.main is not None and [(f.seq, f.time) for f in far.main] == [(f.seq, f.time) for f in far.frames]
    i = max(range(len(far.truth)), key=lambda k: len(far.truth[k]))
    main, small = decode_jpeg(far.main[i].jpeg), decode_jpeg(far.frames[i].jpeg)
    assert main is not None and small is not None and main.shape == (1080, 1920, 3)
    for face in far.truth[i]:
        top, right, bottom, left = face.box
        a = small[top:bottom, left:right].astype(np.float32)
        b = cv2.resize(main[3 * top:3 * bottom, 3 * left:3 * right], (right - left, bottom - top),
                       interpolation=cv2.INTER_AREA).astype(np.float32)
        a, b = a - a.mean(), b - b.mean()
        assert (a * b).sum() / np.sqrt((a * a).sum() * (b * b).sum()) > 0.9, "the main frame's face is elsewhere"
    assert all(s.main is None for s in quick_scenes if s.name != "far_40_main")


def test_a_face_walks_in_beside_a_named_one(quick_scenes):
    walk = next(s for s in quick_scenes if s.name == "walkin_60")
    segs = segments(walk.truth)
    walkers = [s for s in segs if s.actor in walk.walk_ins]
    assert [s.enrolled for s in walkers] == [True, False] and len(walk.walk_ins) == 2
    for w in walkers:
        [stander] = [s for s in segs if s.actor not in walk.walk_ins and s.start <= w.start < s.end]
        assert stander.enrolled and w.start - stander.start >= sc.WALK_IN_DELAY, "the standing one came first"
        entry = next(f for f in walk.truth[w.start] if f.actor == w.actor).box
        assert entry[3] <= 8 or entry[1] >= sc.WIDTH - 9, "the walk-in is in the truth as soon as wholly in"


def test_faces_are_replaced_in_place_and_hidden_when_crossed(quick_scenes):
    by_name = {s.name: s for s in quick_scenes}
    swap = segments(by_name["swap_hard"].truth)
    assert [s.end for s in swap[:-1]] == [s.start for s in swap[1:]], "a hard swap leaves no gap"
    assert len({s.person for s in swap[:2]}) == 2
    first, second = (by_name["swap_hard"].truth[s.start][0].box for s in swap[:2])
    assert iou(first, second) > 0.6, "the next face stands where the last one stood"
    fade = segments(by_name["swap_fade"].truth)
    assert all(b.start - a.end == sc.QUICK.fade for a, b in itertools.pairwise(fade)), "no truth while faces fade"
    stranger = segments(by_name["stranger_after"].truth)
    assert [s.enrolled for s in stranger] == [True, False] * sc.QUICK.stranger_pairs
    # Two faces walk across each other: the one behind leaves the truth while it is covered.
    cross = by_name["crossing"].truth
    assert max(len(f) for f in cross) == 2 and any(len(f) == 1 for f in cross)
    assert len(segments(cross)) > 2 * len(sc.QUICK.crossings)


# -- the scoring, on hand-built label sequences ----------------------------------------------------

BOX = (100, 160, 160, 100)
NEAR = (104, 163, 164, 103)          # the same face, drawn a few px off
FAR = (100, 460, 160, 400)


def test_iou():
    assert iou(BOX, BOX) == 1.0 and iou(BOX, FAR) == 0.0
    assert iou(BOX, (100, 190, 160, 130)) == pytest.approx(30 / 90)


def test_a_stale_name_on_a_stranger_is_wrong_and_an_unnamed_face_a_miss():
    ada, stranger = TruthFace(1, BOX, ADA, ADA), TruthFace(2, BOX, sc.STRANGER, BOB)
    truth = [[ada]] * 5 + [[stranger]] * 5
    drawn: list[list[Drawn]] = [[], [(NEAR, None)], [(NEAR, ADA)], [(NEAR, ADA)], [(NEAR, ADA)],  # 2 misses
                                [(NEAR, ADA)], [(NEAR, ADA)], [(NEAR, "Unknown")], [], [(FAR, ADA)]]  # stale name
    result = score(truth, drawn).as_json()
    assert result["segments"] == 2 and result["enrolled_segments"] == 1 and result["stranger_segments"] == 1
    assert result["segments_named_right"] == 1
    assert result["segments_wrong_name"] == 1 and result["strangers_named"] == 1
    assert result["wrong_name_frames"] == 2           # the box far from any face is not scored
    assert result["named_frame_recall"] == 0.6 and result["enrolled_frames_scored"] == 5
    assert result["boxed_frame_recall"] == 0.8           # boxed without a name counts as found
    [wrong] = score(truth, drawn).wrong()
    assert wrong == {"frames": [5, 10], "truth": BOB, "enrolled": False, "drawn": [ADA], "wrong_frames": 2,
                     "scored_frames": 5}


def test_one_wrong_frame_spoils_a_segment_and_only_given_frames_are_scored():
    truth = [[TruthFace(1, BOX, ADA, ADA)]] * 6
    ada: list[Drawn] = [(BOX, ADA)]
    bob: list[Drawn] = [(BOX, BOB)]
    drawn = [ada, ada, ada, bob, ada, ada]
    full = score(truth, drawn).as_json()
    assert full["segments_named_right"] == 0 and full["segments_wrong_name"] == 1
    assert full["named_frame_recall"] == round(5 / 6, 4)
    sampled = score(truth, {0: drawn[0], 4: drawn[4]}).as_json()      # every 4th frame: the BOB frame unseen
    assert sampled["segments_named_right"] == 1 and sampled["segments_wrong_name"] == 0
    assert sampled["enrolled_frames_scored"] == 2
    with pytest.raises(ValueError, match="outside"):
        score(truth, {6: []})


def test_a_box_counts_for_the_face_it_overlaps_most():
    left, right = TruthFace(1, BOX, ADA, ADA), TruthFace(2, (100, 205, 160, 145), sc.STRANGER, BOB)
    truth = [[left, right]] * 2
    drawn: list[list[Drawn]] = [[(NEAR, ADA), ((100, 207, 160, 147), None)], [((100, 200, 160, 140), ADA)]]
    result = score(truth, drawn)
    counts = result.as_json()
    assert counts["segments_named_right"] == 1 and counts["strangers_named"] == 1
    assert counts["named_frame_recall"] == 0.5
    reference, live = score(truth, [[(BOX, ADA)], []]), score(truth, [[], [(BOX, BOB)]])
    assert kept(reference, live) == {"reference_named_right": 1, "live_also": 0, "share": 0.0}
    assert kept(reference, reference)["share"] == 1.0


def test_first_name_of_a_walk_in_counts_from_its_first_frame_in_the_given_frames():
    stands, walks = TruthFace(1, FAR, ADA, ADA), TruthFace(2, BOX, BOB, BOB)
    stranger = TruthFace(3, BOX, sc.STRANGER, BOB)
    truth = [[stands]] * 3 + [[stands, walks]] * 6 + [[stands, stranger]] * 4
    drawn: list[list[Drawn]] = [[(FAR, ADA)]] * 3 + [[(FAR, ADA), (NEAR, None)]] * 2 \
        + [[(FAR, ADA), (NEAR, ADA)]] + [[(FAR, BOB), (NEAR, BOB)]] * 3 + [[(FAR, ADA), (NEAR, None)]] * 4
    # Bob is named on the 4th frame of his segment (index 3): ADA on his box, and BOB on Ada's, do not count.
    assert first_named(truth, drawn, [2, 3]) == [
        {"person": BOB, "enrolled": True, "frames": [3, 9], "first_name_frames": 3},
        {"person": BOB, "enrolled": False, "frames": [9, 13], "first_name_frames": None}]
    every_4th = first_named(truth, {i: drawn[i] for i in range(0, 13, 4)}, [2])
    assert every_4th[0]["first_name_frames"] == 5          # frame 8: the first one looked at, named
    assert first_named(truth, drawn, [1])[0]["first_name_frames"] == 0


def _scene_frames(times: list[float], size: tuple[int, int]) -> list[sc.SceneFrame]:
    return [sc.SceneFrame(k + 1, t, encode_jpeg(np.full((size[1], size[0], 3), 8 * k % 256, np.uint8)))
            for k, t in enumerate(times)]


def test_the_scene_main_stream_holds_the_frames_of_a_detect_frame_moment():
    """The bench's identify stream offers a hold the main frames within its span of the detect
    frame's time (the one after completes it), as ``IdentifyStream`` does; at the scene's end it is
    complete with what there is."""
    times = [k / sc.FPS for k in range(30)]
    identify = SceneIdentify(_scene_frames(times, (96, 54)))
    held = identify.hold(times[10], 0.07)
    assert held.complete.is_set() and [f.seq for f in held.wait(0)] == [9, 10, 11, 12, 13]
    assert held.wait(0)[2].bgr is not None and held.wait(0)[2].bgr.shape == (54, 96, 3)
    assert [f.seq for f in identify.hold(times[29], 0.07).wait(0)] == [28, 29, 30]
    assert identify.status()["online"] and identify.holds == 2


def test_a_main_stream_must_have_the_detect_frames_moments(media_dir):
    frames = _scene_frames([0.0, 1 / 30], (64, 36))
    with pytest.raises(ValueError, match="seq and times"):
        drive_live(frames, LiveSettings(), enrol(media_dir), main=frames[:1])


# -- the benchmark, end to end ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def quick_result(media_dir):
    proc = run_cli("bench", "--suite", "identity", "--quick", "--media", str(media_dir), "--json", timeout=600)
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    assert len(lines) == 1, f"--json must print exactly one line:\n{proc.stdout}"
    return json.loads(lines[0])


@pytest.mark.slow
def test_bench_reports_both_paths_per_scenario(quick_result, quick_scenes):
    r = quick_result
    assert r["suite"] == "identity" and r["quick"] is True and r["enrolled"] == list(sc.ENROLLED)
    assert list(r["scenarios"]) == [s.name for s in quick_scenes]
    assert r["scenes_digest"] and r["runtime_s"]["total"] > 0
    for name, s in r["scenarios"].items():
        truth = segments(next(q for q in quick_scenes if q.name == name).truth)
        assert s["segments"] == len(truth) == s["live"]["segments"] == s["reference"]["segments"]
        for path in ("live", "reference"):
            p = s[path]
            assert 0 <= p["segments_named_right"] <= s["enrolled_segments"]
            assert p["segments_wrong_name"] == len(p["wrong"])
    assert "swap_hard" in format_table(r) and "goal" in format_table(r)


@pytest.mark.slow
def test_far_faces_are_encoded_from_the_identify_stream_and_walk_ins_timed(quick_result):
    far = quick_result["scenarios"]["far_40_main"]
    assert far["identify_stream"]["size"] == [1920, 1080]
    assert 0 < far["identify_stream"]["identify_crops"] <= far["identify_stream"]["encodings"], far["identify_stream"]
    assert "far_main_named" in quick_result["goal"] and "far_detect_as_reference" not in quick_result["goal"]
    walk = quick_result["scenarios"]["walkin_60"]
    assert [w["enrolled"] for w in walk["walk_ins"]] == [True, False]
    known, stranger = walk["walk_ins"]
    assert stranger["live_first_name_frames"] is None and stranger["reference_first_name_frames"] is None
    # The reference names a 60 px face at once (its first look, every 5th frame); the live path in the end.
    assert known["reference_granularity_frames"] == quick_result["reference_every"] == 5
    assert known["reference_first_name_frames"] < 5
    assert known["live_first_name_frames"] is not None
    assert known["live_first_name_frames"] < known["frames"][1] - known["frames"][0]
    table = format_table(quick_result)
    assert "identify stream" in table and "walkin_60: " in table and known["person"] in table


@pytest.mark.slow
def test_reference_names_the_enrolled_segments_of_faces_of_60_px_and_more(quick_result):
    big = [s for s in quick_result["scenarios"].values() if s["face_px"] >= 60]
    named = sum(s["reference"]["segments_named_right"] for s in big)
    enrolled = sum(s["enrolled_segments"] for s in big)
    assert enrolled >= 10 and named >= 0.9 * enrolled, f"reference named {named} of {enrolled} enrolled segments"


@pytest.mark.slow
def test_live_path_never_puts_a_wrong_name_on_a_face(quick_result):
    wrong = {name: s["live"]["wrong"] for name, s in quick_result["scenarios"].items() if s["live"]["wrong"]}
    assert not wrong, f"wrong names drawn live: {wrong}"
    assert quick_result["goal"]["segments_wrong_name"]["met"]


@pytest.mark.slow
def test_live_path_names_what_the_reference_names_small_faces_included(quick_result):
    kept = quick_result["totals"]["live_keeps_reference"]
    assert kept["reference_named_right"] >= 15 and kept["share"] >= 0.97, kept
    small = quick_result["scenarios"]["size_30"]
    assert small["live"]["segments_named_right"] == small["reference"]["segments_named_right"] >= 1, \
        "30 px faces the reference names are not named live"


def test_bench_refuses_missing_media(tmp_path):
    proc = run_cli("bench", "--suite", "identity", "--media", str(tmp_path / "nothing"), check=False)
    assert proc.returncode == 2 and "media folder" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.slow
def test_a_look_alike_stranger_named_wrong_is_unknown_after_not_x_and_x_is_still_named(quick_result):
    c = quick_result["corrections"]["lookalike"]
    assert c["enrolled"] in sc.ENROLLED and c["stranger"] in sc.STRANGERS
    assert c["before"]["segments_wrong_name"] > 0, "the scenario did not make a look-alike the model names wrong"
    assert c["after"]["segments_wrong_name"] == 0 and c["after"]["strangers_named"] == 0, c["after"]
    assert c["after"]["segments_named_right"] == c["before"]["segments_named_right"] == c["after"]["enrolled_segments"]
    assert quick_result["goal"]["corrected_lookalike"]["met"] and "lookalike" in format_table(quick_result)


@pytest.mark.slow
def test_the_look_alike_scenario_runs_alone(media_dir):
    """``--scenario lookalike``: only that scene (it draws from its own generator: the whole run's figures)."""
    proc = run_cli("bench", "--suite", "identity", "--quick", "--scenario", "lookalike", "--media", str(media_dir),
                   "--json", timeout=600)
    alone = json.loads(proc.stdout)
    c = alone["corrections"]["lookalike"]
    assert alone["scenarios"] == {} and c["before"]["segments_wrong_name"] > 0, c
    assert c["after"]["segments_wrong_name"] == 0 and alone["goal"]["corrected_lookalike"]["met"], c
    table = format_table(alone)
    assert "lookalike:" in table and "  all " not in table and "reference names" not in table, table
    wrong = run_cli("bench", "--suite", "identity", "--scenario", "nope", check=False)
    assert wrong.returncode == 2 and "choose from" in wrong.stderr and "lookalike" in wrong.stderr

"""The CCTV scene of the live benchmark (``edgeface bench --scene cctv``): a still room, people
walking in and out. Checked with the real detector and matcher on a short scene: faces are where
the generator says, enrolled people are named and strangers are not; the file is the same for a
seed; the bench runs on it end to end (figures present, never timings)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from helpers import run_cli

from edgeface.cameras.playback import Playback
from edgeface.engine import FaceEngine
from edgeface.images import bgr_to_rgb
from edgeface.matcher import UNKNOWN
from edgeface.modelfile import FaceModel
from edgeface.recognize import STILL_SETTINGS, recognize_faces
from edgeface.tools.bench_identity import scenes as sc
from edgeface.tools.bench_identity.scoring import iou
from edgeface.tools.bench_live import cctv

SECONDS = 12.0       # the shortest scene: one visit of an enrolled person and a stranger


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("xdg-cache")


@pytest.fixture(scope="module")
def scene(media_dir, cache):
    with pytest.MonkeyPatch.context() as env:
        env.setenv("XDG_CACHE_HOME", str(cache))
        video, info = cctv.scene_file(media_dir, seconds=SECONDS)
        again = cctv.scene_file(media_dir, seconds=SECONDS)
    assert again == (video, info), "the second call finds the cached scene"
    return video, info


@pytest.fixture(scope="module")
def frames(scene) -> list[np.ndarray]:
    """The frames as a camera of the bench plays them."""
    return list(Playback(scene[0]).one_pass())


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_scene_is_cached_by_its_parameters(scene, cache):
    video, info = scene
    assert video.parent == cache / "edgeface" / "scenes" and video.suffix == ".avi"
    assert video.with_suffix(".json").is_file()
    assert info["seed"] == cctv.DEFAULT_SEED and info["seconds"] == SECONDS


def test_a_still_room_with_people_walking_in_and_out(scene, frames):
    video, info = scene
    assert Playback(video).fps == cctv.FPS == 30.0
    assert len(frames) == info["frames"] == round(SECONDS * cctv.FPS) == len(info["truth"])
    assert frames[0].shape == (cctv.HEIGHT, cctv.WIDTH, 3)
    visits = info["visits"]
    assert {v["enrolled"] for v in visits[:2]} == {True, False}, "the first visit: an enrolled person and a stranger"
    assert all(cctv.FACE_PX[0] <= v["face_px"] <= cctv.FACE_PX[1] for v in visits)
    assert 1 <= info["most_faces_at_once"] <= 3 and info["frames_empty"] > 0
    for v in visits:            # walks in from outside the frame, waits, leaves it
        assert v["enter"] < v["arrive"] < v["leave"] < v["gone"] < info["frames"]
        assert not info["truth"][v["enter"]] or all(f[0] != v["actor"] for f in info["truth"][v["enter"]])
        seen = [i for i, faces in enumerate(info["truth"]) if any(f[0] == v["actor"] for f in faces)]
        assert seen and v["enter"] < seen[0] <= v["arrive"] and v["leave"] <= seen[-1] < v["gone"]
        widths = {f[1][1] - f[1][3] for faces in info["truth"] for f in faces if f[0] == v["actor"]}
        assert all(abs(w - v["face_px"]) <= 2 for w in widths), (v, widths)
    # A fixed camera: two frames of the empty room differ by sensor noise and compression only.
    empty = [i for i, faces in enumerate(info["truth"]) if not faces and not _in_view(visits, i)]
    assert np.abs(frames[empty[0]].astype(float) - frames[empty[-1]]).mean() < 3.0
    busy = next(i for i, faces in enumerate(info["truth"]) if faces)
    top, right, bottom, left = info["truth"][busy][0][1]
    face = np.s_[top:bottom, left:right]
    still = np.abs(frames[empty[0]][face].astype(float) - frames[empty[-1]][face]).mean()
    moved = np.abs(frames[empty[0]][face].astype(float) - frames[busy][face]).mean()
    assert moved > 5 * still, f"the face at frame {busy} hardly differs from the empty room: {moved} vs {still}"


def _in_view(visits: list[dict], i: int) -> bool:
    return any(v["enter"] <= i <= v["gone"] for v in visits)


def test_detector_finds_the_faces_where_the_generator_put_them_and_names_only_the_enrolled(
        scene, frames, media_dir, tmp_path):
    _, info = scene
    # The model the bench gives the app and the reference for this scene.
    matcher = FaceModel.load(cctv.scene_model(media_dir, tmp_path)).matcher()
    engine = FaceEngine(STILL_SETTINGS)
    visits = info["visits"]
    busy = [i for i in range(0, len(frames), 8) if info["truth"][i]]
    outside = [i for i in range(len(frames)) if not _in_view(visits, i)]      # nobody drawn at all
    empty = sorted({outside[0], outside[len(outside) // 2], outside[-1]})
    assert len(busy) >= 10 and len(empty) >= 2
    found = enrolled = named = strangers = 0
    for i in busy + empty:
        faces = recognize_faces(engine, matcher, bgr_to_rgb(frames[i]))
        if i in empty:
            assert faces == [], f"frame {i}: a face in the empty room: {faces}"
        for _actor, box, identity, person in info["truth"][i]:
            hit = max(faces, key=lambda f: iou(tuple(f["box"]), tuple(box)), default=None)
            if hit is None or iou(tuple(hit["box"]), tuple(box)) < 0.5:
                continue
            found += 1
            if identity == sc.STRANGER:
                strangers += 1
                assert hit["name"] == UNKNOWN, f"frame {i}: stranger {person} named {hit['name']}"
            else:
                enrolled += 1
                named += hit["name"] == person
                assert hit["name"] in (person, UNKNOWN), f"frame {i}: {person} named {hit['name']}"
    total = sum(len(info["truth"][i]) for i in busy)
    assert found >= 0.9 * total, f"the detector found {found} of {total} faces where the generator put them"
    assert strangers and enrolled and named >= 0.9 * enrolled, (named, enrolled)


def test_same_seed_same_file_other_seed_other_file(scene, media_dir, tmp_path):
    video, info = scene
    portraits = sc.load_portraits(media_dir)
    again = cctv.generate(portraits, tmp_path / "again.avi", seconds=SECONDS)
    assert _sha(tmp_path / "again.avi") == _sha(video) and again == info
    # Another seed, other visits (drawing them again would only cost time: the plan decides the frames).
    other = cctv.plan(portraits, cctv.DEFAULT_SEED + 1, SECONDS)
    assert [v.as_json() for v in other] != info["visits"]


@pytest.mark.slow
def test_bench_runs_on_the_cctv_scene(scene, media_dir, cache, tmp_path):
    video, info = scene
    proc = run_cli("bench", "--scene", "cctv", "--scene-seconds", str(SECONDS), "--media", str(media_dir),
                   "--cameras", "1", "--warmup", "2", "--duration", "4", "--reference-frames", "10", "--json",
                   "--logs", str(tmp_path), env={"XDG_CACHE_HOME": str(cache)}, timeout=300)
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    assert len(lines) == 1, f"--json must print exactly one line:\n{proc.stdout}"
    result = json.loads(lines[0])
    assert result["source"] == str(video), "every camera loops the cached scene"
    assert result["scene"] == cctv.summary(info, video) and result["scene"]["visits"] == len(info["visits"])
    assert result["source_fps"] == 30.0 and result["reference"]["frames"] == 10
    for key in ("fps_per_camera", "named_frame_recall", "first_name_latency_ms", "cpu_ms_per_frame", "rss_mb",
                "reference_fps", "stages", "analysis", "settings", "machine", "goal"):
        assert key in result, key
    assert list(result["fps_by_camera"]) == ["bench-1"] and result["fps_per_camera"] > 0
    assert "detect" in result["stages"]
    # The app knew the scene's enrolled people and not its strangers: strangers are never named.
    assert sorted(FaceModel.load(tmp_path / "model.data").names) == sorted(sc.ENROLLED)
    received = [json.loads(line) for line in (tmp_path / "frames.jsonl").read_text().splitlines()]
    assert received and {n for f in received for n in f["drawn"]} <= set(sc.ENROLLED)


def test_bench_refuses_a_scene_too_short_to_show_anyone():
    proc = run_cli("bench", "--scene", "cctv", "--scene-seconds", "3", check=False)
    assert proc.returncode == 2 and "--scene-seconds" in proc.stderr and "Traceback" not in proc.stderr


def test_bench_inline_plays_the_scene_through_one_pipeline_and_scores_it_against_its_truth(scene, media_dir, cache):
    """``--inline``: no app; what the pipeline draws, scored against the scene's own truth."""
    _, info = scene
    proc = run_cli("bench", "--scene", "cctv", "--inline", "--scene-seconds", str(SECONDS), "--media", str(media_dir),
                   "--json", env={"XDG_CACHE_HOME": str(cache)}, timeout=300)
    result = json.loads(proc.stdout)
    assert result["inline"] and result["scene"]["frames"] == len(info["truth"])
    enrolled = [v for v in info["visits"] if v["enrolled"]]
    assert len(result["visits"]) == len(enrolled) and result["enrolled_segments"] >= len(enrolled)
    assert result["segments_wrong_name"] == 0 and result["strangers_named"] == 0
    assert result["visits_never_named"] == 0 and result["named_frame_recall"] > 0
    assert result["looks"]["whole"] >= 1 and sum(result["detector_mpx"].values()) > 0 and result["encodings"] > 0
    table = run_cli("bench", "--scene", "cctv", "--inline", "--scene-seconds", str(SECONDS), "--media",
                    str(media_dir), env={"XDG_CACHE_HOME": str(cache)}, timeout=300).stdout
    assert "first name after" in table and "Traceback" not in table
    refused = run_cli("bench", "--inline", check=False)
    assert refused.returncode == 2 and "--scene cctv" in refused.stderr and "Traceback" not in refused.stderr

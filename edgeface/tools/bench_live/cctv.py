"""A CCTV-like scene for the live benchmark: ``edgeface bench --scene cctv``.

The sample clip is a music video: cuts and camera motion change most of the frame all the time,
which hides what searching only where something moved can save. A fixed camera mostly watches
an empty room. This scene is that: a still room (the identity scenes' textured wall with a floor
and a door, mild sensor noise on every frame, recorded as Motion-JPEG) where people walk in from
a side, stop for a while and leave — one to three at a time, faces 40-150 px wide, empty
stretches between the visits.

The faces are the identity benchmark's (``bench_identity.scenes``: the same photos, the same
enrolled people and strangers), so the bench's model for this scene is that benchmark's
enrolment (``scene_model``): enrolled people are to be named, strangers never.

Seeded and deterministic: the same media, seed and length give the same bytes. The video is
cached under ``$XDG_CACHE_HOME/edgeface/scenes`` (``~/.cache``) by those parameters, beside a
JSON sidecar with the visits and every frame's truth (who is fully in view, where). Every camera
of the bench loops the same file; the reference loop and scoring read it like any other video.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from edgeface.errors import ConfigError, EdgefaceError
from edgeface.images import rgb_to_bgr
from edgeface.tools.bench_identity import default_media, enrol
from edgeface.tools.bench_identity import scenes as sc

#: Bump when the drawing changes: cached files are keyed by it.
GENERATOR = 1
WIDTH, HEIGHT = sc.WIDTH, sc.HEIGHT
FPS = 30.0
DEFAULT_SEED = 16
DEFAULT_SECONDS = 40.0
#: The first visit (two people, in and out by the nearer side) needs up to ~10 s.
MIN_SECONDS, MAX_SECONDS = 12.0, 300.0
#: The recorder's JPEG quality and the sensor's noise (grey levels, per pixel and channel).
QUALITY = 75
NOISE_SIGMA = 2.0
#: Noise fields drawn once and picked per frame: drawing 0.7 M normals per frame would double the cost.
NOISE_FIELDS = 8
FACE_PX = (40, 150)
#: Where people stop, as a share of the width: at most three people at a time.
SLOTS = (0.2, 0.5, 0.8)
WALK_PX_S = (90.0, 160.0)
PAUSE_S = (1.5, 4.0)
EMPTY_S = (1.5, 4.0)
GROUP_SIZES, GROUP_ODDS = (1, 2, 3), (0.5, 0.35, 0.15)
ENROLLED_SHARE = 0.6


@dataclass(frozen=True)
class Visit:
    """One person's visit: the face's centre x at four frames (walk-in start, arrival, departure,
    gone), linear in between; the face stands still but for a slow sway while it waits."""

    actor: int
    portrait: sc.Portrait
    width: int
    y: float
    frames: tuple[int, int, int, int]
    xs: tuple[float, float, float, float]

    def layer(self, i: int) -> sc.Layer | None:
        if not self.frames[0] <= i <= self.frames[-1]:
            return None
        return sc.Layer(self.actor, self.portrait, self.width, float(np.interp(i, self.frames, self.xs)), self.y)

    def as_json(self) -> dict:
        person = self.portrait.person
        return {"actor": self.actor, "person": person, "enrolled": person in sc.ENROLLED,
                "photo": self.portrait.source, "face_px": self.width,
                **dict(zip(("enter", "arrive", "leave", "gone"), self.frames))}


def plan(portraits: dict[str, list[sc.Portrait]], seed: int, seconds: float) -> list[Visit]:
    """The visits of a scene: groups of 1-3 people, an empty stretch after each group. The first
    group is an enrolled person and a stranger, so even a short scene shows both."""
    total = round(seconds * FPS)
    rng = np.random.default_rng(seed)
    cast = sc.Cast(portraits, rng)
    visits: list[Visit] = []
    start = round(0.5 * FPS)
    while True:
        first = not visits
        if first:
            pattern, slots = "ES", ([0, 2] if rng.random() < 0.5 else [2, 0])
        else:
            size = int(rng.choice(GROUP_SIZES, p=GROUP_ODDS))
            pattern = "".join("E" if rng.random() < ENROLLED_SHARE else "S" for _ in range(size))
            slots = [int(s) for s in rng.permutation(len(SLOTS))[:size]]
        group = []
        for k, (kind, slot) in enumerate(zip(pattern, slots)):
            enter = start + (0 if k == 0 else int(rng.integers(0, round(1.5 * FPS))))
            group.append(_visit(cast, rng, kind == "E", enter, slot, first))
        # The loop point stays empty (no face pops in or out): whoever cannot leave in time stays out.
        group = [v for v in group if v.frames[-1] < total - round(0.5 * FPS)]
        if not group or (first and len(group) < 2):
            break
        visits += group
        end = max(v.frames[-1] for v in group)
        start = end + round(rng.uniform(*EMPTY_S) * FPS)
    if not visits:
        raise ConfigError(f"a {seconds:g} s CCTV scene has no room for a visit",
                          f"use --scene-seconds {MIN_SECONDS:g} or more")
    return visits


def _visit(cast: sc.Cast, rng: np.random.Generator, enrolled: bool, start: int, slot: int, near: bool) -> Visit:
    """Walk in from a side to ``slot``, wait, walk out; ``near``: in and out by the nearer side."""
    portrait = cast.pick(enrolled)
    width = round(math.exp(rng.uniform(*np.log(FACE_PX))))     # log-uniform: small faces as often as large
    # Face height ~ width: the face stays inside the frame, around eye level of a ceiling camera.
    lo, hi = max(width / 2 + 8, 0.3 * HEIGHT), min(HEIGHT - width / 2 - 8, 0.6 * HEIGHT)
    y = float(rng.uniform(lo, hi)) if hi > lo else HEIGHT / 2
    stop = SLOTS[slot] * WIDTH + float(rng.uniform(-25, 25))
    off = 1.3 * width                  # the crop (face plus hair and shoulders) wholly outside
    nearer_left = stop < WIDTH / 2 if slot != 1 else bool(rng.random() < 0.5)
    enter_left = nearer_left if near else bool(rng.random() < (0.7 if nearer_left else 0.3))
    leave_left = enter_left if near else bool(rng.random() < 0.5)
    x_in, x_out = (-off if enter_left else WIDTH + off), (-off if leave_left else WIDTH + off)
    step = float(rng.uniform(*WALK_PX_S)) / FPS
    sway = stop + float(rng.uniform(-8, 8))
    arrive = start + math.ceil(abs(stop - x_in) / step)
    leave = arrive + round(float(rng.uniform(*PAUSE_S)) * FPS)
    gone = leave + math.ceil(abs(x_out - sway) / step)
    return Visit(cast.actor(), portrait, width, y, (start, arrive, leave, gone), (x_in, stop, sway, x_out))


def room(rng: np.random.Generator) -> np.ndarray:
    """A still room as a fixed camera sees it (float32 RGB): wall, darker floor, a door, a soft lens."""
    img = sc.background(rng, textured=True)
    img = 0.35 * img + 0.65 * img.mean(axis=2, keepdims=True)    # the identity walls' colours, washed out
    floor = int(HEIGHT * rng.uniform(0.7, 0.8))
    img[floor:] *= 0.55
    door = int(rng.integers(30, WIDTH - 130))
    img[int(0.12 * HEIGHT):floor, door:door + 95] = rng.uniform(40, 120, 3).astype(np.float32)
    return cv2.GaussianBlur(img, (0, 0), 1.0)


def generate(portraits: dict[str, list[sc.Portrait]], path: Path, *, seed: int = DEFAULT_SEED,
             seconds: float = DEFAULT_SECONDS) -> dict:
    """Write the scene to ``path`` (Motion-JPEG AVI); returns its description (``describe``)."""
    visits = plan(portraits, seed, seconds)
    writer = cv2.VideoWriter(str(path), cv2.CAP_OPENCV_MJPEG, cv2.VideoWriter.fourcc(*"MJPG"), FPS, (WIDTH, HEIGHT))
    if not writer.isOpened():
        raise EdgefaceError(f"cannot write a video to {path}", "check that the folder is writable")
    writer.set(cv2.VIDEOWRITER_PROP_QUALITY, QUALITY)
    truth: list[list[sc.TruthFace]] = []
    empty = 0
    try:
        for bgr, faces, anyone in render(visits, seed, seconds):
            writer.write(bgr)
            truth.append([f for f in faces if _inside(f.box)])
            empty += not anyone
    finally:
        writer.release()
    return describe(visits, truth, empty, seed, seconds)


def render(visits: list[Visit], seed: int, seconds: float, size: tuple[int, int] = (WIDTH, HEIGHT)
           ) -> Iterator[tuple[np.ndarray, list[sc.TruthFace], bool]]:
    """Each frame (BGR), the faces drawn on it and whether anyone is in view. At another ``size``
    (a camera's main stream, e.g. 1920x1080): the same room, people and places scaled, their faces
    drawn from the photos at the larger size, the sensor noise drawn at that size; the faces are
    then those of the 640x360 scene scaled (``sc.draw_frame`` only draws at that size)."""
    scale = size[0] / WIDTH
    if size[1] * WIDTH != HEIGHT * size[0]:
        raise ConfigError(f"a CCTV scene of {size[0]}x{size[1]} is not 16:9", "e.g. 1920x1080")
    rng = np.random.default_rng((seed, 1))         # the room and the noise: apart from the plan's draws
    wall = room(rng)
    if scale != 1:
        wall = cv2.resize(wall, size, interpolation=cv2.INTER_CUBIC)
    noise = [rng.standard_normal((size[1], size[0], 3), dtype=np.float32) * NOISE_SIGMA for _ in range(NOISE_FIELDS)]
    canvas = sc.Canvas()
    for i in range(round(seconds * FPS)):
        layers = [layer for v in visits if (layer := v.layer(i)) is not None]
        if scale == 1:
            img, faces = sc.draw_frame(wall, canvas, layers)
        else:
            img, faces = wall.copy(), []
            for layer in layers:
                _paste_scaled(img, canvas, layer, scale)
        img += noise[int(rng.integers(NOISE_FIELDS))]
        yield rgb_to_bgr(np.clip(img + 0.5, 0, 255).astype(np.uint8)), faces, bool(layers)


def _paste_scaled(img: np.ndarray, canvas: sc.Canvas, layer: sc.Layer, scale: float) -> None:
    """``layer`` blended into ``img`` (float32 RGB) with its face and place ``scale`` times larger."""
    crop, mask, (top, right, bottom, left) = canvas.scaled(layer.portrait, round(layer.width * scale))
    x, y = round(layer.cx * scale - (left + right) / 2), round(layer.cy * scale - (top + bottom) / 2)
    rows = slice(max(0, y), min(img.shape[0], y + crop.shape[0]))
    cols = slice(max(0, x), min(img.shape[1], x + crop.shape[1]))
    if rows.stop <= rows.start or cols.stop <= cols.start:
        return
    inner = np.s_[rows.start - y:rows.stop - y, cols.start - x:cols.stop - x]
    img[rows, cols] += mask[inner] * layer.alpha * (crop[inner] - img[rows, cols])


def _inside(box: sc.Box) -> bool:
    """The whole face in the frame (``Canvas.paste`` clips the boxes of faces partly outside)."""
    top, right, bottom, left = box
    return top > 0 and left > 0 and right < WIDTH - 1 and bottom < HEIGHT - 1


def describe(visits: list[Visit], truth: list[list[sc.TruthFace]], empty: int, seed: int, seconds: float) -> dict:
    """The sidecar: parameters, visits, and per frame ``[actor, box, identity, person]`` of every
    face wholly in view and not hidden (``empty``: frames with nobody in them at all)."""
    return {"scene": "cctv", "generator": GENERATOR, "seed": seed, "seconds": seconds, "fps": FPS,
            "size": [WIDTH, HEIGHT], "frames": len(truth), "visits": [v.as_json() for v in visits],
            "frames_empty": empty,
            "most_faces_at_once": max(len(faces) for faces in truth),
            "truth": [[[f.actor, list(f.box), f.identity, f.person] for f in faces] for faces in truth]}


def summary(info: dict, video: Path) -> dict:
    """What the bench reports about the scene (the sidecar without the per-frame truth)."""
    visits = info["visits"]
    return {"name": "cctv", "file": str(video), "seed": info["seed"], "seconds": info["seconds"],
            "visits": len(visits), "enrolled_visits": sum(1 for v in visits if v["enrolled"]),
            "face_px": [min(v["face_px"] for v in visits), max(v["face_px"] for v in visits)],
            "empty_share": round(info["frames_empty"] / info["frames"], 3),
            "most_faces_at_once": info["most_faces_at_once"]}


def cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "edgeface" / "scenes"


def for_bench(args, say: Callable[[str], None]) -> tuple[Path, dict] | None:
    """``edgeface bench --scene cctv`` (``--media``, ``--seed``, ``--scene-seconds``): the scene's
    file and description; None for the sample clip or when ``--source`` names the video."""
    if getattr(args, "scene", "clip") != "cctv" or args.source:
        return None
    seed = DEFAULT_SEED if getattr(args, "seed", None) is None else args.seed
    return scene_file(getattr(args, "media", None), seed=seed,
                      seconds=getattr(args, "scene_seconds", None) or DEFAULT_SECONDS, say=say)


def bench_json(args, scene: tuple[Path, dict] | None) -> dict:
    """The ``scene`` field of the bench's JSON."""
    return summary(scene[1], scene[0]) if scene else {"name": "source" if args.source else "clip"}


def scene_file(media: str | os.PathLike | None = None, *, seed: int = DEFAULT_SEED, seconds: float = DEFAULT_SECONDS,
               say: Callable[[str], None] | None = None) -> tuple[Path, dict]:
    """The scene's video and description, generated on first use and cached by their parameters
    (the media's content included). ``media``: default ``$EDGEFACE_MEDIA`` or ``../shared/media``."""
    media_dir = Path(media) if media else default_media()
    seconds = float(seconds)            # 12 and 12.0 are one scene, one cache key
    if not MIN_SECONDS <= seconds <= MAX_SECONDS:
        raise ConfigError(f"a {seconds:g} s CCTV scene is out of range",
                          f"use --scene-seconds {MIN_SECONDS:g}-{MAX_SECONDS:g}")
    if not (media_dir / "faces").is_dir():
        raise ConfigError(f"media folder {media_dir} has no faces/", "pass --media DIR or set EDGEFACE_MEDIA")
    key = hashlib.sha256(json.dumps([GENERATOR, seed, seconds, FPS, QUALITY, NOISE_SIGMA, sc.ENROLLED,
                                     sc.STRANGERS, _media_digest(media_dir)]).encode()).hexdigest()[:12]
    video = cache_dir() / f"cctv-seed{seed}-{seconds:g}s-{key}.avi"
    sidecar = video.with_suffix(".json")
    if not (video.is_file() and sidecar.is_file()):      # the sidecar is renamed last: both or neither
        if say:
            say(f"generating the CCTV scene ({seconds:g} s, seed {seed}) into {video.parent}")
        try:
            _write(video, sidecar, sc.load_portraits(media_dir), seed, seconds)
        except OSError as err:
            raise ConfigError(f"cannot write the CCTV scene into {video.parent}: {err.strerror or err}",
                              "set XDG_CACHE_HOME to a writable folder") from err
    return video, json.loads(sidecar.read_text(encoding="utf-8"))


def _write(video: Path, sidecar: Path, portraits: dict[str, list[sc.Portrait]], seed: int, seconds: float) -> None:
    """Generate under temporary names, then rename: a bench starting beside never reads half a file."""
    video.parent.mkdir(parents=True, exist_ok=True)
    parts = video.with_name(f".{video.stem}.{os.getpid()}.avi"), sidecar.with_name(f".{sidecar.name}.{os.getpid()}")
    try:
        info = generate(portraits, parts[0], seed=seed, seconds=seconds)
        parts[1].write_text(json.dumps(info), encoding="utf-8")
        os.replace(parts[0], video)
        os.replace(parts[1], sidecar)
    finally:
        for part in parts:
            part.unlink(missing_ok=True)


def _media_digest(media_dir: Path) -> str:
    """The photos the scene may use: a changed photo is a different scene."""
    h = hashlib.sha256()
    for folder in ("faces", "probes"):
        for file in sorted(p for p in (media_dir / folder).rglob("*") if p.is_file()):
            h.update(str(file.relative_to(media_dir)).encode())
            h.update(file.read_bytes())
    return h.hexdigest()


def scene_model(media: str | os.PathLike | None, workdir: Path) -> Path:
    """The identity benchmark's enrolment (its enrolled people, not the strangers), saved for the app."""
    return enrol(Path(media) if media else default_media()).save(workdir / "model.data")

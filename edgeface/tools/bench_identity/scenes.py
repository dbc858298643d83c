"""Generated identity scenes: face photos pasted on a static background, with per-frame truth.

Every scene is 640x360 at 29.97 fps, JPEG frames as a camera sends them, and for every frame
the faces in it: a box (``(top, right, bottom, left)``, the detector's box of the photo scaled
into the frame), who it is and whether that person is enrolled. The same media and seed give
the same bytes (``digest``), so figures from two runs are figures about the same video.

Faces are cut from the photos with context (hair, neck) around dlib's box and pasted through a
feathered ellipse; they drift slowly, as a person standing in front of a camera does. What
matters for identity is what happens *between* faces: one replaces another in place (hard or
cross-faded, no scene cut), two cross, a stranger arrives where an enrolled person just left.
A face that is fading in or out, or mostly hidden behind another, has no truth in that frame:
nobody can say who it is, so no name there is scored.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np

from edgeface.engine import Box, FaceEngine
from edgeface.errors import ConfigError
from edgeface.images import encode_jpeg, image_files, load_image, rgb_to_bgr

WIDTH, HEIGHT = 640, 360
FPS = 30000 / 1001
STRANGER = "stranger"
#: Enrolled people and strangers: every scenario shows both. Joe Biden next to Barack Obama is the
#: stranger a model most plausibly confuses; both strangers have several photos.
ENROLLED = ("Alex Lacamoire", "Barack Obama", "Kit Harington", "Lin-Manuel Miranda")
STRANGERS = ("Joe Biden", "Rose Leslie")
SIZES = (30, 40, 60, 90, 120, 150)
#: Far faces walking in, and a face walking in beside a tracked one; each also "_main": with the
#: camera's main stream, the same scene rendered at MAIN_SCALE times the size (1920x1080).
FAR_SIZES = (32, 40)
WALKIN_SIZES = (60, 40)
TWO_STREAMS = (*(f"far_{px}" for px in FAR_SIZES), *(f"walkin_{px}" for px in WALKIN_SIZES))
MAIN = "_main"
MAIN_SCALE = 3
SCENARIOS = ("swap_hard", "swap_fade", "crossing", *(f"size_{px}" for px in SIZES), "stranger_after", "motion_blur",
             "jpeg_noise", *(name for base in TWO_STREAMS for name in (base, base + MAIN)))
#: ``--quick`` runs these (the test's profile): one far and one walk-in scenario of the new ones.
QUICK_SCENARIOS = (*SCENARIOS[:SCENARIOS.index("jpeg_noise") + 1], "far_40_main", "walkin_60")
DEFAULT_SEED = 9
#: A face behind another is out of the truth once this much of its box is covered.
HIDDEN_COVER = 0.4
#: Smallest face in a photo worth cutting out: the largest scene face is 150 px.
MIN_SOURCE_FACE = 90


@dataclass(frozen=True)
class Portrait:
    """One face photo cropped with context, and the face's box inside the crop."""

    person: str
    source: str          # the photo's path relative to the media folder
    rgb: np.ndarray
    box: Box


@dataclass(frozen=True)
class TruthFace:
    actor: int           # one face at one place: a new id for every face pasted
    box: Box
    identity: str        # the enrolled name, or STRANGER
    person: str          # who it really is (for reading results; strangers are never to be named)


@dataclass
class SceneFrame:
    """What a camera hands the pipeline: ``seq``, ``time`` (s) and the JPEG."""

    seq: int
    time: float
    jpeg: bytes


@dataclass
class Scene:
    name: str
    about: str                         # what the scene shows
    face_px: int                       # face width in this scene
    frames: list[SceneFrame]
    truth: list[list[TruthFace]]       # per frame
    #: The camera's main stream: the same frames at MAIN_SCALE times the size, same seq and time.
    main: list[SceneFrame] | None = None
    #: Actors who walk in while another face is tracked: how soon each is named is reported.
    walk_ins: tuple[int, ...] = ()

    def digest(self) -> str:
        h = hashlib.sha256(self.name.encode())
        for frame, faces in zip(self.frames, self.truth):
            h.update(frame.jpeg)
            h.update(json.dumps([[f.actor, f.box, f.identity, f.person] for f in faces]).encode())
        for frame in self.main or ():
            h.update(frame.jpeg)
        if self.walk_ins:          # (a scene without main stream or walk-ins keeps its digest)
            h.update(json.dumps(self.walk_ins).encode())
        return h.hexdigest()


# -- portraits -------------------------------------------------------------------------------------

def load_portraits(media_dir: Path, engine: FaceEngine | None = None) -> dict[str, list[Portrait]]:
    """Every usable single-face photo of the six people: ``faces/<Person>/*`` and the probes
    labelled with one person. Photos whose face is cut by the border (``*partial*``), is too
    small, or that show no or several faces are left out."""
    from edgeface.training import TRAINING_SETTINGS, detect_enrolment_faces

    media_dir = Path(media_dir)
    labels_file = media_dir / "probes" / "labels.json"
    if not (media_dir / "faces").is_dir() or not labels_file.is_file():
        raise ConfigError(f"{media_dir} lacks faces/ or probes/labels.json",
                          "pass --media DIR (the shared test media) or set EDGEFACE_MEDIA")
    people = ENROLLED + STRANGERS
    photos = [(person, path) for person in people for path in image_files(media_dir / "faces" / person)]
    labels = json.loads(labels_file.read_text(encoding="utf-8"))
    photos += [(names[0], media_dir / "probes" / name) for name, names in sorted(labels.items())
               if isinstance(names, list) and len(names) == 1 and names[0] in people and "partial" not in name]
    engine = engine or FaceEngine(TRAINING_SETTINGS)
    out: dict[str, list[Portrait]] = {p: [] for p in people}
    for person, path in photos:
        rgb = load_image(path)
        boxes = detect_enrolment_faces(engine, rgb)
        if len(boxes) == 1 and boxes[0][1] - boxes[0][3] >= MIN_SOURCE_FACE:
            out[person].append(_portrait(person, str(path.relative_to(media_dir)), rgb, boxes[0]))
    missing = [p for p, found in out.items() if not found]
    if missing:
        raise ConfigError(f"no usable face photo of {', '.join(missing)} under {media_dir}",
                          "each person needs one photo with one face at least 90 px wide")
    return out


def _portrait(person: str, source: str, rgb: np.ndarray, box: Box) -> Portrait:
    top, right, bottom, left = box
    w = right - left
    # Context: hair above, chin and neck below, ears and some background either side.
    y0, y1 = max(0, int(top - 0.7 * w)), min(rgb.shape[0], int(bottom + 0.8 * w))
    x0, x1 = max(0, int(left - 0.6 * w)), min(rgb.shape[1], int(right + 0.6 * w))
    crop = rgb[y0:y1, x0:x1]
    box = (top - y0, right - x0, bottom - y0, left - x0)
    s = 160 / w      # no scene face is larger: keep the crop small (upscaled photos stay sharp enough)
    if s < 1:
        crop = cv2.resize(crop, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
        box = (round(box[0] * s), round(box[1] * s), round(box[2] * s), round(box[3] * s))
    return Portrait(person, source, np.ascontiguousarray(crop), box)


# -- drawing ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Layer:
    """One face in one frame: centred on (cx, cy), ``width`` px wide."""

    actor: int
    portrait: Portrait
    width: int
    cx: float
    cy: float
    alpha: float = 1.0
    truth: bool = True     # False while fading: nobody could say who it is


class Canvas:
    """Pastes portraits at a face width; scaled crops and their masks are cached. ``scale``: a
    frame ``scale`` times WIDTH x HEIGHT, layers' places and widths scaled alike (a main stream)."""

    def __init__(self, scale: int = 1) -> None:
        self.scale = scale
        self._cache: dict[tuple[int, int], tuple[np.ndarray, np.ndarray, tuple[float, ...]]] = {}

    def scaled(self, p: Portrait, width: int) -> tuple[np.ndarray, np.ndarray, tuple[float, ...]]:
        """The crop scaled so that the face is ``width`` px wide, its feathered mask, the face box."""
        key = (id(p), width)
        if key not in self._cache:
            s = width / (p.box[1] - p.box[3])
            h, w = p.rgb.shape[:2]
            size = (max(1, round(w * s)), max(1, round(h * s)))
            crop = cv2.resize(p.rgb, size, interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_CUBIC)
            ellipse = np.zeros((size[1], size[0]), np.float32)
            cv2.ellipse(ellipse, (size[0] // 2, size[1] // 2), (size[0] // 2, size[1] // 2), 0, 0, 360, 1.0, -1)
            mask = cv2.GaussianBlur(ellipse, (0, 0), max(1.0, 0.08 * min(size)))[..., None]
            self._cache[key] = (crop.astype(np.float32), mask, tuple(v * s for v in p.box))
        return self._cache[key]

    def paste(self, frame: np.ndarray, layer: Layer) -> Box:
        """Blend the layer into ``frame`` (float32 RGB); returns the face box in the frame."""
        k, width, height = self.scale, WIDTH * self.scale, HEIGHT * self.scale
        crop, mask, (t, r, b, left) = self.scaled(layer.portrait, layer.width * k)
        x0 = round(layer.cx * k - (left + r) / 2)
        y0 = round(layer.cy * k - (t + b) / 2)
        h, w = crop.shape[:2]
        fx0, fy0, fx1, fy1 = max(0, x0), max(0, y0), min(width, x0 + w), min(height, y0 + h)
        if fx1 > fx0 and fy1 > fy0:
            a = mask[fy0 - y0:fy1 - y0, fx0 - x0:fx1 - x0] * layer.alpha
            region = frame[fy0:fy1, fx0:fx1]
            region += a * (crop[fy0 - y0:fy1 - y0, fx0 - x0:fx1 - x0] - region)
        box = (y0 + round(t), x0 + round(r), y0 + round(b), x0 + round(left))
        return (max(0, box[0]), min(width - 1, box[1]), min(height - 1, box[2]), max(0, box[3]))


def background(rng: np.random.Generator, textured: bool) -> np.ndarray:
    """A static wall: one plain colour, or a soft low-frequency pattern with fine grain."""
    base = rng.uniform(60, 200, 3).astype(np.float32)
    img = np.empty((HEIGHT, WIDTH, 3), np.float32)
    img[:] = base
    if textured:
        blobs = cv2.resize(rng.uniform(-40, 40, (9, 16, 3)).astype(np.float32), (WIDTH, HEIGHT),
                           interpolation=cv2.INTER_CUBIC)
        grain = cv2.GaussianBlur(rng.normal(0, 8, (HEIGHT, WIDTH, 3)).astype(np.float32), (0, 0), 1.2)
        img += blobs + grain
    return np.clip(img, 0, 255)


def _covered(front: Box, back: Box) -> float:
    """Fraction of ``back``'s box that ``front`` covers."""
    h = max(0, min(front[2], back[2]) - max(front[0], back[0]))
    w = max(0, min(front[1], back[1]) - max(front[3], back[3]))
    area = max(1, (back[2] - back[0]) * (back[1] - back[3]))
    return h * w / area


def motion_blur(bgr: np.ndarray, length: int, angle_deg: float) -> np.ndarray:
    """A straight-line blur of ``length`` px (a moving face over a long exposure)."""
    line = np.zeros((length, length), np.float32)
    line[length // 2, :] = 1.0
    rot = cv2.getRotationMatrix2D(((length - 1) / 2, (length - 1) / 2), angle_deg, 1.0)
    kernel = cv2.warpAffine(line, rot, (length, length))
    return cv2.filter2D(bgr, -1, kernel / kernel.sum())


# -- scenarios -------------------------------------------------------------------------------------

@dataclass
class Shot:
    """Frames that share one background: ``layers(i)`` gives frame i's faces, back to front."""

    frames: int
    layers: Callable[[int], list[Layer]]
    blur: tuple[int, float] | None = None          # motion blur (length px, angle)
    whole: bool = False         # a face is in the truth only once it is wholly in the frame
    walk_ins: tuple[int, ...] = ()      # actors walking in while another face is tracked


class Cast:
    """Draws portraits in a seeded order, never the same person twice in a row."""

    def __init__(self, portraits: dict[str, list[Portrait]], rng: np.random.Generator):
        self._rng = rng
        self._pools = {p: list(portraits[p]) for p in ENROLLED + STRANGERS}
        self._next = dict.fromkeys(self._pools, 0)
        self._last: str | None = None
        self._actor = 0

    def actor(self) -> int:
        self._actor += 1
        return self._actor

    def pick(self, enrolled: bool) -> Portrait:
        people = [p for p in (ENROLLED if enrolled else STRANGERS) if p != self._last]
        person = people[int(self._rng.integers(len(people)))]
        pool = self._pools[person]
        if self._next[person] % len(pool) == 0:
            self._rng.shuffle(pool)        # every photo once before any repeats
        portrait = pool[self._next[person] % len(pool)]
        self._next[person] += 1
        self._last = person
        return portrait


def _drift(rng: np.random.Generator, speed: float = 6.0, horizontal: bool = False) -> tuple[float, float]:
    """A random drift of ``speed`` px/s, as px per frame; ``horizontal``: within 20° of level."""
    angle = (rng.choice([0.0, np.pi]) + rng.uniform(-0.35, 0.35)) if horizontal else rng.uniform(0, 2 * np.pi)
    return speed / FPS * np.cos(angle), speed / FPS * np.sin(angle)


def _still(cast: Cast, portrait: Portrait, width: int, x: float, y: float, rng: np.random.Generator) -> Callable:
    """A face standing at (x, y), drifting slowly: frame index (from its arrival) → Layer."""
    actor, (vx, vy) = cast.actor(), _drift(rng)
    return lambda i, alpha=1.0, truth=True: Layer(actor, portrait, width, x + vx * i, y + vy * i, alpha, truth)


def _in_place(cast: Cast, rng: np.random.Generator, pattern: str, width: int, seg: int, fade: int,
              gap: int = 0) -> Shot:
    """One place, faces one after another (``pattern``: E enrolled, S stranger): a hard swap
    (``fade`` 0), a cross-fade over ``fade`` frames, or ``gap`` empty frames between them."""
    x, y = WIDTH / 2 + rng.uniform(-120, 120), HEIGHT / 2 + rng.uniform(-40, 40)
    faces = [_still(cast, cast.pick(c == "E"), width, x, y, rng) for c in pattern]
    step = seg + fade + gap

    def layers(i: int) -> list[Layer]:
        k, j = divmod(i, step)
        if j < seg:
            return [faces[k](j)]
        if j >= seg + fade or k + 1 >= len(faces):
            return []
        a = (j - seg + 1) / (fade + 1)
        return [faces[k](j, truth=False), faces[k + 1](j - step, alpha=a, truth=False)]

    return Shot(step * (len(faces) - 1) + seg, layers)


def _crossing(cast: Cast, rng: np.random.Generator, pair: str, width: int, frames: int, front_first: bool) -> Shot:
    """Two faces walking across each other, meeting mid-shot; one passes in front."""
    a, b = cast.pick(pair[0] == "E"), cast.pick(pair[1] == "E")
    ids = cast.actor(), cast.actor()
    y = HEIGHT / 2 + rng.uniform(-30, 30)
    x0, x1 = 130.0, WIDTH - 130.0
    dy = rng.uniform(-6, 6)

    def layers(i: int) -> list[Layer]:
        f = i / max(1, frames - 1)
        la = Layer(ids[0], a, width, x0 + (x1 - x0) * f, y - dy)
        lb = Layer(ids[1], b, width, x1 - (x1 - x0) * f, y + dy)
        return [lb, la] if front_first else [la, lb]

    return Shot(frames, layers)


def _pair(cast: Cast, rng: np.random.Generator, width: int, frames: int, pattern: str = "ES",
          velocity: tuple[float, float] | None = None) -> Shot:
    """Two faces side by side (left, right), each drifting slowly, or both at ``velocity`` (px/frame)."""
    faces = []
    for k, c in enumerate(pattern):
        p, actor = cast.pick(c == "E"), cast.actor()
        vx, vy = velocity or _drift(rng)
        x, y = WIDTH * (0.3 + 0.4 * k) + rng.uniform(-15, 15), HEIGHT / 2 + rng.uniform(-25, 25)
        faces.append((actor, p, x, y, vx, vy))
    return Shot(frames, lambda i: [Layer(a, p, width, x + vx * i, y + vy * i) for a, p, x, y, vx, vy in faces])


def _blurred_pair(cast: Cast, rng: np.random.Generator, width: int, frames: int, pattern: str) -> Shot:
    """Two faces moving together at 60 px/s (a pan), blurred along the motion by 7-13 px."""
    vx, vy = _drift(rng, 60.0, horizontal=True)
    shot = _pair(cast, rng, width, frames, pattern, (vx, vy))
    shot.blur = (int(rng.integers(7, 14)), float(np.degrees(np.arctan2(-vy, vx))))
    return shot


def _walking(cast: Cast, rng: np.random.Generator, pattern: str, width: int, frames: int) -> Shot:
    """Far faces walking slowly into a static scene, alternately from the left and the right, each
    on a row of its own (no crossing), at 1-1.4 face widths a second (a stroll, seen from afar)."""
    rows = (0.22, 0.5, 0.78)
    walkers = []
    for k, c in enumerate(pattern):
        p, actor = cast.pick(c == "E"), cast.actor()
        vx = rng.uniform(1.0, 1.4) * width / FPS * (1 if k % 2 == 0 else -1)
        x = -0.8 * width if vx > 0 else WIDTH + 0.8 * width        # the whole face outside
        y = HEIGHT * rows[k % len(rows)] + rng.uniform(-12, 12)
        walkers.append((actor, p, x, y, vx, rng.uniform(-3, 3) / FPS))
    return Shot(frames, lambda i: [Layer(a, p, width, x + vx * i, y + vy * i) for a, p, x, y, vx, vy in walkers],
                whole=True)


def _walk_in(cast: Cast, rng: np.random.Generator, walker: str, width: int, frames: int, delay: int) -> Shot:
    """An enrolled person stands on one side (tracked and named); after ``delay`` frames another
    face (``walker``: E enrolled, S stranger) walks in from the other side at about two face widths
    a second and stops beside them."""
    left = bool(rng.integers(2))          # the standing person's side
    stander = _still(cast, cast.pick(True), width, WIDTH * (0.25 if left else 0.75) + rng.uniform(-15, 15),
                     HEIGHT / 2 + rng.uniform(-30, 30), rng)
    p, actor = cast.pick(walker == "E"), cast.actor()
    start, stop = (WIDTH + 0.8 * width, WIDTH * 0.62) if left else (-0.8 * width, WIDTH * 0.38)
    step = 2 * width / FPS * rng.uniform(0.9, 1.1)
    y = HEIGHT / 2 + rng.uniform(-30, 30)

    def layers(i: int) -> list[Layer]:
        if i < delay:
            return [stander(i)]
        x = start + float(np.sign(stop - start)) * min(abs(stop - start), step * (i - delay))
        return [stander(i), Layer(actor, p, width, x, y)]

    return Shot(frames, layers, whole=True, walk_ins=(actor,))


@dataclass(frozen=True)
class Plan:
    """Lengths: ``seg`` frames per segment; quick plans are shorter and have fewer of them."""

    seg: int
    fade: int
    swaps: str               # the in-place sequence (E enrolled, S stranger)
    crossings: tuple[str, ...]
    stranger_pairs: int
    degraded_shots: int
    far: tuple[str, ...]     # far scenarios: per shot, the faces walking in
    walk_ins: str            # walk-in scenarios: per shot, who walks in beside the standing person


FULL = Plan(seg=60, fade=15, swaps="ESEESE", crossings=("ES", "EE", "SE"), stranger_pairs=3, degraded_shots=3,
            far=("ESE", "SES", "ESE", "SES"), walk_ins="EESEES")
QUICK = Plan(seg=30, fade=12, swaps="ESEE", crossings=("ES", "SE"), stranger_pairs=2, degraded_shots=2,
             far=("ESE", "SES"), walk_ins="ES")
#: A walk-in starts this long after its shot (the standing person is named by then).
WALK_IN_DELAY = 30


def scenario_shots(plan: Plan, cast: Cast, rng: np.random.Generator) -> Iterator[tuple[str, int, list[Shot], str]]:
    """(scenario, face px, shots, what) for every scenario of the plan."""
    yield "swap_hard", 60, [_in_place(cast, rng, plan.swaps, 60, plan.seg, 0)], \
        "faces replace one another in place, hard swap, no scene cut"
    yield "swap_fade", 60, [_in_place(cast, rng, plan.swaps, 60, plan.seg, plan.fade)], \
        f"faces replace one another in place, {plan.fade}-frame cross-fade"
    yield "crossing", 64, [_crossing(cast, rng, pair, 64, 2 * plan.seg, k % 2 == 0)
                           for k, pair in enumerate(plan.crossings)], "two faces walk across each other"
    for px in SIZES:
        shots = [_pair(cast, rng, px, plan.seg, "ES")]
        if plan is FULL:
            shots.append(_pair(cast, rng, px, plan.seg, "SE"))
        yield f"size_{px}", px, shots, f"faces {px} px wide, enrolled beside a stranger"
    yield "stranger_after", 60, [_in_place(cast, rng, "ES" * plan.stranger_pairs, 60, plan.seg, 0, gap=9)], \
        "a stranger arrives where an enrolled person left 0.3 s earlier"
    yield "motion_blur", 80, [_blurred_pair(cast, rng, 80, plan.seg, "ES" if k % 2 == 0 else "SE")
                              for k in range(plan.degraded_shots)], "faces moving at 60 px/s, 7-13 px of motion blur"
    yield "jpeg_noise", 80, [_pair(cast, rng, 80, plan.seg, "ES" if k % 2 == 0 else "SE")
                             for k in range(plan.degraded_shots)], "JPEG quality 30-50"
    for px in FAR_SIZES:
        yield f"far_{px}", px, [_walking(cast, rng, faces, px, 3 * plan.seg) for faces in plan.far], \
            f"faces {px} px wide walking slowly into the scene, enrolled beside strangers"
    for px in WALKIN_SIZES:
        yield f"walkin_{px}", px, [_walk_in(cast, rng, c, px, WALK_IN_DELAY + 3 * plan.seg, WALK_IN_DELAY)
                                   for c in plan.walk_ins], \
            f"a face {px} px wide walks in (enrolled or a stranger) while an enrolled person stands, named"


def build_scenes(portraits: dict[str, list[Portrait]], *, seed: int = DEFAULT_SEED, quick: bool = False,
                 only: list[str] | None = None) -> list[Scene]:
    """Every scenario as a Scene (``only``: just these names, still generated from the same seed;
    else ``--quick`` makes QUICK_SCENARIOS). A scenario and its "_main" twin share their frames:
    only the main stream tells them apart."""
    unknown = sorted(set(only or ()) - set(SCENARIOS))
    if unknown:
        raise ConfigError(f"no scenario named {', '.join(unknown)}", f"choose from {', '.join(SCENARIOS)}")
    wanted = set(only if only is not None else QUICK_SCENARIOS if quick else SCENARIOS)
    rng = np.random.default_rng(seed)
    cast = Cast(portraits, rng)
    canvas, main_canvas = Canvas(), Canvas(MAIN_SCALE)
    scenes = []
    for k, (name, px, shots, about) in enumerate(scenario_shots(QUICK if quick else FULL, cast, rng)):
        wall = background(rng, textured=k % 2 == 0)
        with_main = name in TWO_STREAMS and name + MAIN in wanted
        if name in wanted or with_main:
            # Rendering draws from its own generator: leaving a scene out changes no other scene.
            quality = (30, 50) if name == "jpeg_noise" else (85, 85)
            scene = render(name, about, px, shots, wall, canvas, quality, np.random.default_rng((seed, k)),
                           main_canvas if with_main else None)
            if name in wanted:
                scenes.append(replace(scene, main=None))
            if with_main:
                scenes.append(replace(scene, name=name + MAIN, about=f"{about}; with a {WIDTH * MAIN_SCALE}x"
                                      f"{HEIGHT * MAIN_SCALE} main stream (identify stream)"))
    return scenes


def draw_frame(wall: np.ndarray, canvas: Canvas, layers: list[Layer], whole: bool = False,
               ) -> tuple[np.ndarray, list[TruthFace]]:
    """The layers (back to front) pasted on a copy of the wall (float32 RGB), and the faces in
    the truth: fully shown and not hidden behind a face in front (``whole``: and wholly inside
    the frame). Also the CCTV scene's drawing."""
    img = wall.copy()
    placed = [(layer, canvas.paste(img, layer)) for layer in layers]
    faces = []
    for k, (layer, box) in enumerate(placed):
        hidden = any(_covered(front, box) > HIDDEN_COVER for _, front in placed[k + 1:])
        if whole and not inside(box):
            continue
        if layer.truth and layer.alpha >= 1.0 and not hidden:
            person = layer.portrait.person
            faces.append(TruthFace(layer.actor, box, person if person in ENROLLED else STRANGER, person))
    return img, faces


def inside(box: Box) -> bool:
    """The whole face in the frame (``Canvas.paste`` clips the boxes of faces partly outside)."""
    top, right, bottom, left = box
    return top > 0 and left > 0 and right < WIDTH - 1 and bottom < HEIGHT - 1


def render(name: str, about: str, face_px: int, shots: list[Shot], wall: np.ndarray, canvas: Canvas,
           quality: tuple[int, int], noise: np.random.Generator, main_canvas: Canvas | None = None) -> Scene:
    """Draw the shots on the wall, JPEG at a quality drawn from ``quality`` (inclusive) per frame;
    with ``main_canvas``, also the main stream: the same layers at its scale (JPEG quality 85)."""
    frames: list[SceneFrame] = []
    main: list[SceneFrame] = []
    truth: list[list[TruthFace]] = []
    big_wall = None if main_canvas is None else \
        cv2.resize(wall, (WIDTH * main_canvas.scale, HEIGHT * main_canvas.scale), interpolation=cv2.INTER_CUBIC)
    walk_ins: tuple[int, ...] = ()
    for shot in shots:
        walk_ins += shot.walk_ins
        for i in range(shot.frames):
            layers = shot.layers(i)
            img, faces = draw_frame(wall, canvas, layers, shot.whole)
            n = len(frames)
            frames.append(SceneFrame(n + 1, n / FPS, encode_jpeg(_bgr(img, shot.blur),
                                                                 int(noise.integers(quality[0], quality[1] + 1)))))
            truth.append(faces)
            if main_canvas is not None and big_wall is not None:
                big = big_wall.copy()
                for layer in layers:
                    main_canvas.paste(big, layer)
                blur = shot.blur and (shot.blur[0] * main_canvas.scale, shot.blur[1])
                main.append(SceneFrame(n + 1, n / FPS, encode_jpeg(_bgr(big, blur or None), 85)))
    return Scene(name, about, face_px, frames, truth, main or None, walk_ins)


def _bgr(img: np.ndarray, blur: tuple[int, float] | None) -> np.ndarray:
    bgr = rgb_to_bgr(np.clip(img + 0.5, 0, 255).astype(np.uint8))
    return motion_blur(bgr, *blur) if blur else bgr

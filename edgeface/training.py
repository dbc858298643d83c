"""Training: a folder of face images in, a ``FaceModel`` and a report out.

Layouts: ``DIR/<Person Name>/*.jpg`` (several images per person) and the legacy flat
``DIR/<name>.jpg`` (one image, name = file stem). Each image must show exactly one face; any
image that cannot be used is skipped and reported with its reason, never silently dropped.
A capture accepted by ``edgeface review`` carries the box the edge found its face with
(``edgeface.facebox``): when the detector finds no face in that crop, the stored box is used.

A person who ends with no usable image (a folder, or a name the caller expects) makes the
training incomplete (:func:`check_complete`); flat files named like one person's series
(``john1.jpg``, ``john2.jpg``) are warned about: each became a person of its own.
"""

from __future__ import annotations

import functools
import hashlib
import json
import multiprocessing
import os
import re
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from edgeface import __version__, facebox
from edgeface.engine import EngineSettings, FaceEngine, default_threads, library_versions
from edgeface.errors import ConfigError, EdgefaceError, TrainingError
from edgeface.images import IMAGE_SUFFIXES, load_image
from edgeface.modelfile import FORMAT_VERSION, FaceModel, atomic_write

#: Enrolment photos are portraits with large faces: detect on a copy at most 800 px across, without
#: upsampling (together ~2x cheaper than full size), and upsample only when that finds nothing.
#: Encoding still uses the full-resolution pixels.
TRAINING_SETTINGS = EngineSettings(detector="auto", upsample=0, max_side=800)


@dataclass(frozen=True)
class Sample:
    person: str
    path: Path


@dataclass
class Outcome:
    sample: Sample
    sha256: str | None
    embedding: np.ndarray | None = None
    reason: str | None = None          # why it was skipped
    stored_box: bool = False           # enrolled from the capture's stored box (the detector missed it)


#: A flat file's stem minus a trailing number: ``john1``, ``john_2``, ``John (3)`` -> ``john``.
_SERIES = re.compile(r"[\s_.()-]*\d+\)?$")


def series_warnings(root: Path, samples: list[Sample]) -> list[str]:
    """Flat files whose names look like one person's numbered photos: each was enrolled as a person."""
    groups: dict[str, list[str]] = {}
    for s in samples:
        if s.path.parent == root:
            groups.setdefault(_SERIES.sub("", s.path.stem).strip().lower() or s.path.stem, []).append(s.path.name)
    return [f"{root}: {', '.join(names)} look like photos of one person but lie directly in the folder trained, "
            f"so each was enrolled as a person of its own ({', '.join(repr(Path(n).stem) for n in names)}); one "
            f"person's photos belong in a folder named after them: train the folder holding the person folders "
            f"(perhaps {root.parent})" for names in groups.values() if len(names) > 1]


def discover(images_dir: str | os.PathLike) -> tuple[list[Sample], list[dict]]:
    """Samples in a stable order, plus files ignored because they are not images."""
    root = Path(images_dir)
    if not root.is_dir():
        raise TrainingError(f"{root}: not a directory",
                            "pass a folder holding one sub-folder of images per person")
    samples, ignored = [], []
    for entry in sorted(root.iterdir(), key=lambda p: p.name):
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            files = sorted((p for p in entry.rglob("*") if p.is_file() and not p.name.startswith(".")),
                           key=lambda p: str(p))
            person = entry.name.strip()
        elif entry.is_file():
            files, person = [entry], entry.stem.strip()
        else:
            continue
        for f in files:
            if f.suffix.lower() in IMAGE_SUFFIXES:
                samples.append(Sample(person, f))
            else:
                ignored.append({"file": str(f), "reason": "not an image file (unsupported extension)"})
    return samples, ignored


#: The engine of this process; set before the worker processes fork so they inherit its loaded
#: models instead of each spending ~0.8 s parsing them again.
_engine: FaceEngine | None = None


@functools.lru_cache(maxsize=2)
def _loaded_engine(settings: EngineSettings) -> FaceEngine:
    """One engine per settings for the life of the process: loading dlib's models costs ~0.8 s of
    CPU (0.7 s of it building the HOG detector), as much as enrolling 20 photos on two cores, and a
    notebook or benchmark trains again and again. Holds ~45 MB of models once used."""
    return FaceEngine(settings)


def detect_enrolment_faces(engine: FaceEngine, rgb: np.ndarray) -> list:
    """Faces in an enrolment photo: at the engine's settings, upsampling once only if none are found."""
    return engine.detect(rgb) or (engine.detect(rgb, upsample=1) if engine.settings.upsample < 1 else [])


def enrol_one(sample: Sample, engine: FaceEngine | None = None) -> Outcome:
    """Embedding of the single face in one enrolment image, or the reason it cannot be used."""
    engine = engine or _engine
    assert engine is not None, "enrol_one runs inside _run_all (or is given an engine)"
    try:
        raw = sample.path.read_bytes()
    except OSError as err:
        return Outcome(sample, None, reason=f"cannot read file ({err.strerror})")
    digest = hashlib.sha256(raw).hexdigest()
    rgb, reason = _pixels(raw, str(sample.path))
    if rgb is None:
        return Outcome(sample, digest, reason=reason)
    box, reason, from_store = enrolment_box(engine, raw, rgb)
    if box is None:
        return Outcome(sample, digest, reason=reason)
    return Outcome(sample, digest, embedding=engine.encode(rgb, [box])[0], stored_box=from_store)


def check_image(raw: bytes, name: str, settings: EngineSettings = TRAINING_SETTINGS) -> tuple[str | None, bool]:
    """What training would do with this image, without training: ``(why it would be skipped, or
    None, whether its face would come from its stored box)``. ``edgeface review --accept`` asks."""
    rgb, reason = _pixels(raw, name)
    if rgb is None:
        return reason, False
    _, reason, from_store = enrolment_box(_loaded_engine(settings), raw, rgb)
    return reason, from_store


def _pixels(raw: bytes, name: str) -> tuple[np.ndarray | None, str | None]:
    try:
        return load_image(raw, name=name), None
    except EdgefaceError as err:
        return None, err.message.split(": ", 1)[-1]


def enrolment_box(engine: FaceEngine, raw: bytes, rgb: np.ndarray) -> tuple[facebox.Box | None, str | None, bool]:
    """The face to enrol in one image: ``(box, None, from_stored_box)``, or ``(None, why not, False)``.

    Training and ``edgeface review --accept`` decide with this same function. With a stored box
    (an accepted capture) the detected face on it wins; when the detector finds none there, the
    stored box is used (the edge found a face in it, with the same kind of detector on the frame).
    """
    boxes = detect_enrolment_faces(engine, rgb)
    stored = facebox.stored(raw, rgb.shape)
    if stored is not None:
        best = max(boxes, key=lambda b: facebox.overlap(b, stored.box), default=None)
        if best is not None and facebox.overlap(best, stored.box) >= 0.3:
            return best, None, False
        return stored.box, None, True
    if not boxes:
        return None, "no face found", False
    if len(boxes) > 1:
        return None, f"{len(boxes)} faces found; an enrolment image must show one person", False
    return boxes[0], None, False


def train(images_dir: str | os.PathLike, *, workers: int | None = None, progress: bool = True,
          settings: EngineSettings = TRAINING_SETTINGS, source_date_epoch: int | None = None,
          ) -> tuple[FaceModel, dict]:
    """Enrol every usable image under ``images_dir``. Raises TrainingError when none is usable.

    ``source_date_epoch`` (``training.source_date_epoch`` of the settings, i.e. SOURCE_DATE_EPOCH)
    is written as the creation time instead of now: the same images then give a byte-identical file.
    """
    started = time.monotonic()
    created = _created_timestamp(source_date_epoch)
    samples, ignored = discover(images_dir)
    if not samples:
        raise TrainingError(f"{images_dir}: no image files found",
                            "put images in one sub-folder per person, e.g. face-images/Ada Lovelace/1.jpg")
    outcomes = _run_all(samples, workers or default_threads(), progress, settings)

    names = sorted({o.sample.person for o in outcomes if o.embedding is not None})
    index = {n: i for i, n in enumerate(names)}
    used = [o for o in outcomes if o.embedding is not None]
    skipped = ignored + [{"file": str(o.sample.path), "person": o.sample.person, "reason": o.reason}
                         for o in outcomes if o.embedding is None]
    people = sorted({s.person for s in samples})
    not_enrolled = [p for p in people if p not in index]
    warnings = series_warnings(Path(images_dir), samples)
    if not used:
        raise TrainingError(f"{images_dir}: none of {len(samples)} images had exactly one usable face",
                            "see the skipped list above; use clear photos of one face each")
    embeddings = np.stack([o.embedding for o in used if o.embedding is not None])
    labels = np.array([index[o.sample.person] for o in used], dtype=np.int32)

    engine_info = _loaded_engine(settings).describe()
    report = {
        "images_dir": str(images_dir),
        "images": len(samples) + len(ignored),
        "used": len(used),
        "skipped": skipped,
        "identities": [{"name": n, "images": int((labels == index[n]).sum())} for n in names],
        "not_enrolled": not_enrolled,
        "from_stored_box": [str(o.sample.path) for o in used if o.stored_box],
        "warnings": warnings,
        "seconds": round(time.monotonic() - started, 3),
        "workers": workers or default_threads(),
    }
    metadata = {
        "format_version": FORMAT_VERSION,
        "created": created,
        "edgeface": __version__,
        "encoder": engine_info,
        "libraries": library_versions(),
        "sources": [{"file": str(o.sample.path.relative_to(images_dir)), "person": o.sample.person,
                     "sha256": o.sha256, **({"box": "stored"} if o.stored_box else {})} for o in used],
        "counts": {"images": report["images"], "used": len(used), "skipped": len(skipped),
                   "identities": len(names), "embeddings": len(used)},
    }
    return FaceModel(embeddings, labels, names, metadata), report


def _run_all(samples: list[Sample], workers: int, progress: bool, settings: EngineSettings) -> list[Outcome]:
    global _engine
    _engine = _loaded_engine(settings).warm()   # this thread's models: loaded once per thread
    try:
        with _progress_bar(len(samples), progress) as bar:
            if workers <= 1 or len(samples) == 1:
                out = []
                for sample in samples:
                    out.append(enrol_one(sample))
                    bar.update(1)
                return out
            # Processes, not threads: dlib holds the GIL for part of detection (threads reach
            # ~1.6x). Forked, so they share the parent's loaded models copy-on-write. Largest files
            # first, so no big photo is left to run alone at the end.
            by_size = sorted(range(len(samples)), key=lambda i: _file_size(samples[i].path), reverse=True)
            with ProcessPoolExecutor(min(workers, len(samples)),
                                     mp_context=multiprocessing.get_context("fork")) as pool:
                futures = {pool.submit(enrol_one, samples[i]): i for i in by_size}
                results: list[Outcome | None] = [None] * len(samples)
                for future in as_completed(futures):
                    results[futures[future]] = future.result()
                    bar.update(1)
            return [r for r in results if r is not None]
    finally:
        _engine = None


def _file_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0   # enrol_one reports the file


def _progress_bar(total: int, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, desc="enrolling", unit="img", disable=not enabled, leave=False)


def _created_timestamp(epoch: int | None) -> str:
    if epoch is None:
        return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    try:
        when = datetime.fromtimestamp(epoch, timezone.utc)
    except (OverflowError, OSError):
        raise ConfigError(f"SOURCE_DATE_EPOCH={epoch} is not a Unix timestamp",
                          "set it to whole seconds since 1970, e.g. $(git log -1 --format=%ct), or unset it") from None
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def report_path(model_path: str | os.PathLike) -> Path:
    """Where the JSON training report is written, next to the model: model.data -> model.report.json."""
    p = Path(model_path)
    return p.with_name(p.stem + ".report.json")


def save_with_report(model: FaceModel, report: dict, model_path: str | os.PathLike) -> Path:
    """Write the model and its report beside it (what ``edgeface train`` and the pipeline leave)."""
    model.save(model_path)
    return atomic_write(report_path(model_path), json.dumps(report, indent=2, ensure_ascii=False).encode())


def load_report(model_path: str | os.PathLike) -> dict | None:
    """The training report beside a model file, None when there is none; a damaged one is an error."""
    path = report_path(model_path)
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as err:
        raise TrainingError(f"{path}: not a readable training report ({err.__class__.__name__})",
                            "delete it or train again (edgeface train writes it)") from None
    if not isinstance(report, dict):
        raise TrainingError(f"{path}: not a training report (expected a JSON object)",
                            "delete it or train again (edgeface train writes it)")
    return report


def report_lines(report: dict) -> list[str]:
    """What was skipped, enrolled from a stored box, not enrolled, and warnings, one line each."""
    return ([f"skipped {s['file']}: {s['reason']}" for s in report["skipped"]]
            + [f"enrolled {f} from the capture's stored face box (the detector found no face in the crop)"
               for f in report.get("from_stored_box", [])]
            + [f"not enrolled: {person} (no usable image)" for person in report["not_enrolled"]]
            + [f"warning: {w}" for w in report.get("warnings", [])])


def check_complete(report: dict, expected: list[str] | None = None, allow_missing: bool = False) -> None:
    """Raise (unless ``allow_missing``) when a person of the images (a folder) or of ``expected``
    ended with no usable image: a model without them would be published as if they had been
    trained. Lists them in the report's ``missing``."""
    enrolled = {i["name"] for i in report["identities"]}
    absent = [n for n in dict.fromkeys(n.strip() for n in expected or []) if n and n not in enrolled
              and n not in report["not_enrolled"]]
    report["missing"] = report["not_enrolled"] + absent
    if not report["missing"] or allow_missing:
        return
    why = ([f"{', '.join(report['not_enrolled'])} (no usable image)"] if report["not_enrolled"] else []) + \
          ([f"{', '.join(absent)} (no images under {report['images_dir']})"] if absent else [])
    raise TrainingError(f"not trained: {'; '.join(why)}; no model written",
                        "fix or replace their images (the skipped lines above say why each was refused) or "
                        "remove their folder (edgeface train --allow-missing writes the model without them)")

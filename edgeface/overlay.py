"""The site's corrections, in effect at once: a local overlay on the model.

An operator says "this is X" (a positive example: the face's embedding joins X's), "this is not
X" (a negative anchor: a face nearer the anchor than to anyone enrolled is Unknown) or "this
enrolment photo is not X" (a drop: that row of the model is left out here). The overlay works until
a model version includes the correction: a positive example retires when the model's training
sources hold the capture it was sent to the core as (``<person>/capture-<visit>.jpg``, as ``edgeface
review --accept`` names it: the capture's id is its visit's); a drop retires when a model no longer
has the photo's row; the rest stay.

Never a wrong name: an anchor is checked only against the name it is against, after the match: a
face named X is Unknown when a "not X" anchor is as near as X plus the margin. So it can only turn
X into Unknown, never into another name, and it does not stop the operator naming that face Y.
The file is JSON with a SHA-256 over its entries; a damaged or edited file is refused with a clear
error, and the model works without it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from edgeface.errors import EdgefaceError
from edgeface.matcher import EMBEDDING_DIM, UNKNOWN, Match, Matcher

FORMAT = "edgeface-overlay"
#: The file's name in the event history's folder.
CORRECTIONS_FILE = "corrections.json"
VERSION = 1
MAX_ENTRIES = 10_000
#: The least margin a name needs over an anchor against it: at an exact tie the anchor wins.
TIE = 1e-6
Kind = Literal["is", "not", "drop"]
KINDS = ("is", "not", "drop")


class OverlayError(EdgefaceError):
    """The overlay file cannot be used (damaged, edited, foreign)."""


@dataclass(frozen=True)
class Correction:
    kind: Kind                    # "is": a positive example of ``name``; "not": a negative anchor against it;
                                  # "drop": one of ``name``'s enrolment rows (this embedding) left out
    name: str
    embedding: np.ndarray         # 128 float32
    source: str = ""              # the visit it was said about (its labelled capture has the same id), or
                                  # the enrolment photo's file in the model's sources (a drop)
    added_at: float = 0.0
    by: str = ""                  # the role that said it

    @property
    def id(self) -> str:
        """Content hash: the same correction said twice is one."""
        return hashlib.sha256(f"{self.kind}\0{self.name}\0".encode() +
                              np.asarray(self.embedding, np.float32).tobytes()).hexdigest()[:16]

    def as_json(self, embedding: bool = False) -> dict:
        out = {"id": self.id, "kind": self.kind, "name": self.name, "source": self.source,
               "added_at": self.added_at, "by": self.by}
        if embedding:
            out["embedding"] = base64.b64encode(np.asarray(self.embedding, "<f4").tobytes()).decode()
        return out


@dataclass(frozen=True)
class Overlay:
    corrections: tuple[Correction, ...] = ()

    def __len__(self) -> int:
        return len(self.corrections)

    def with_correction(self, correction: Correction) -> Overlay:
        if any(c.id == correction.id for c in self.corrections):
            return self
        if len(self.corrections) >= MAX_ENTRIES:
            raise OverlayError(f"the overlay holds {MAX_ENTRIES} corrections already",
                               "retrain with the labelled captures (edgeface review, train, model push)")
        return Overlay((*self.corrections, correction))

    def without(self, ids: Iterable[str]) -> Overlay:
        gone = set(ids)
        return Overlay(tuple(c for c in self.corrections if c.id not in gone))

    def retired_by(self, sources: Iterable[dict]) -> list[str]:
        """Positive examples whose capture a model's training sources (``metadata["sources"]``)
        hold under the same person: the model knows them now."""
        held = {(str(s.get("person")), Path(str(s.get("file", ""))).stem) for s in sources if isinstance(s, dict)}
        return [c.id for c in self.corrections
                if c.kind == "is" and c.source and (c.name, f"capture-{c.source}") in held]

    def gone_from(self, matcher: Matcher) -> list[str]:
        """Drops whose row a model's ``matcher`` no longer has: a model without the photo came."""
        return [c.id for c in self.corrections if c.kind == "drop" and not dropped_rows(matcher, [c]).any()]


def dropped_rows(base: Matcher, drops: Iterable[Correction]) -> np.ndarray:
    """Which of ``base``'s rows the drops leave out: a row of the same person, bit for bit the embedding."""
    out = np.zeros(len(base.labels), bool)
    for c in drops:
        if c.name in base.names:
            same = (base.embeddings == np.asarray(c.embedding, np.float32)).all(axis=1)
            out |= same & (base.labels == base.names.index(c.name))
    return out


class CorrectedMatcher(Matcher):
    """``base`` with the overlay: dropped enrolment rows left out, positives as more rows of their
    person (a new name is added); anchors kept apart, per name they are against."""

    def __init__(self, base: Matcher, overlay: Overlay):
        kept = ~dropped_rows(base, [c for c in overlay.corrections if c.kind == "drop"])
        names, labels, rows = list(base.names), list(base.labels[kept]), list(base.embeddings[kept])
        anchors: dict[str, list[np.ndarray]] = {}
        for c in overlay.corrections:
            if c.kind == "is":
                if c.name not in names:
                    names.append(c.name)
                labels.append(names.index(c.name))
                rows.append(np.asarray(c.embedding, np.float32))
            elif c.kind == "not":
                anchors.setdefault(c.name, []).append(np.asarray(c.embedding, np.float64))
        self.anchors = {name: np.stack(vectors) for name, vectors in anchors.items()}
        self.base = base
        self.local_from = int(kept.sum())      # rows from here on are the site's positive examples
        super().__init__(np.array(rows, np.float32).reshape(-1, EMBEDDING_DIM), np.array(labels, np.int32), names,
                         base.tolerance)

    def match(self, probes: np.ndarray, margin: float = 0.0) -> list[Match]:
        """A face named X is Unknown instead when a "not X" anchor is as near as X's nearest photo
        plus the margin (at an exact tie the anchor wins). Only X's name is taken back: an anchor
        never names anyone, nor blocks another name (the operator may name that face Y later)."""
        probes = np.atleast_2d(np.asarray(probes, np.float32))
        out = super().match(probes, margin)
        for k, m in enumerate(out):
            anchors = self.anchors.get(m.name)
            if anchors is not None:
                nearest = float(np.sqrt(((anchors - probes[k].astype(np.float64)) ** 2).sum(axis=1)).min())
                if nearest <= m.distance + max(margin, TIE):
                    out[k] = Match(UNKNOWN, m.distance, -1)
        return out


    def helped(self, name: str, probe: np.ndarray) -> bool:
        """Whether the nearest of ``name``'s rows to ``probe`` is a positive example the site added
        (not one of the model's photos): a face named so is named with the help of the overlay."""
        if name not in self.names:
            return False
        rows = np.flatnonzero(self.labels == self.names.index(name))
        if not len(rows):
            return False
        diff = self.embeddings[rows].astype(np.float64) - np.asarray(probe, np.float64).reshape(-1)
        return bool(rows[int(np.einsum("ij,ij->i", diff, diff).argmin())] >= self.local_from)


def corrected(matcher: Matcher, overlay: Overlay) -> Matcher:
    return CorrectedMatcher(matcher, overlay) if len(overlay) else matcher


class OverlayFile:
    """The overlay kept in ``path`` (beside the event history), written atomically."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)

    def load(self) -> Overlay:
        """The saved overlay (empty when there is none); OverlayError when it cannot be used."""
        try:
            data = json.loads(self.path.read_text())
        except FileNotFoundError:
            return Overlay()
        except (OSError, ValueError) as err:
            raise self._refused(f"it is not readable JSON ({type(err).__name__})") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT or data.get("version") != VERSION:
            raise self._refused(f"it is not an {FORMAT} file of version {VERSION}")
        entries = data.get("corrections")
        if not isinstance(entries, list) or len(entries) > MAX_ENTRIES:
            raise self._refused("its corrections are not a list (or too many)")
        if data.get("sha256") != _digest(entries):
            raise self._refused("its checksum does not match its corrections (edited or cut short)")
        try:
            return Overlay(tuple(_correction(e) for e in entries))
        except (KeyError, TypeError, ValueError) as err:
            raise self._refused(f"a correction is malformed ({err})") from None

    def save(self, overlay: Overlay) -> None:
        entries = [c.as_json(embedding=True) for c in overlay.corrections]
        body = json.dumps({"format": FORMAT, "version": VERSION, "sha256": _digest(entries), "corrections": entries})
        tmp = self.path.with_name(self.path.name + ".tmp")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "w") as out:
            out.write(body)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, self.path)

    def _refused(self, why: str) -> OverlayError:
        return OverlayError(f"{self.path}: the local corrections cannot be used: {why}",
                            "the model works without them; restore the file or delete it to start afresh")


def new_correction(kind: Kind, name: str, embedding: np.ndarray | None, *, source: str = "", by: str = "",
                   ) -> Correction:
    vector = np.asarray(embedding if embedding is not None else [], np.float32).reshape(-1)
    if vector.shape != (EMBEDDING_DIM,) or not np.isfinite(vector).all():
        raise OverlayError("this visit's face has no usable embedding", "correct a visit whose face was encoded")
    return Correction(kind, name, vector, source, time.time(), by)


def _correction(entry: dict) -> Correction:
    raw = base64.b64decode(entry["embedding"], validate=True)
    vector = np.frombuffer(raw, "<f4").astype(np.float32)
    if entry["kind"] not in KINDS or not isinstance(entry["name"], str) or not entry["name"] \
            or vector.shape != (EMBEDDING_DIM,) or not np.isfinite(vector).all():
        raise ValueError(f"correction {entry.get('id')!r}")
    c = Correction(entry["kind"], entry["name"], vector, str(entry.get("source", "")),
                   float(entry.get("added_at", 0.0)), str(entry.get("by", "")))
    if entry.get("id") != c.id:
        raise ValueError(f"correction {entry.get('id')!r}: its id is not its content's")
    return c


def _digest(entries: list) -> str:
    return hashlib.sha256(json.dumps(entries, sort_keys=True, separators=(",", ":")).encode()).hexdigest()

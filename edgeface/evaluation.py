"""How well a face model tells people apart, measured on its own enrolment embeddings.

A model holds one embedding per training image, so a data scientist can judge it before upload
without a separate labelled test set:

- distances between two images of the same person should be small, between different people
  large; the two distributions and where the match tolerance falls between them say how much
  margin the model has;
- leave-one-out: each image in turn is matched against all the others with the production
  `Matcher`, exactly as the web app would match a new face of that person.

Matplotlib is imported only by the plot helpers, so the rest works where it is not installed.
"""

from __future__ import annotations

import io
from dataclasses import asdict, dataclass, field

import numpy as np

from edgeface.errors import EdgefaceError
from edgeface.matcher import DEFAULT_TOLERANCE, UNKNOWN, Matcher


@dataclass(frozen=True)
class PairDistances:
    """Euclidean distances of every unordered pair of embeddings, split by whether both are one person."""

    same: np.ndarray
    different: np.ndarray


@dataclass(frozen=True)
class Prediction:
    """What the matcher said about one held-out image."""

    index: int
    true_name: str
    predicted_name: str
    distance: float
    correct: bool
    enrolled_elsewhere: bool  # False: no other image of this person, so "Unknown" is the right answer


@dataclass(frozen=True)
class LeaveOneOut:
    tolerance: float
    evaluated: int  # images whose person has at least one other image
    correct: int
    accuracy: float | None  # correct / evaluated; None when every person has a single image
    singletons: int  # images whose person has no other image
    singletons_rejected: int  # of those, how many came out "Unknown" (the right answer for a stranger)
    predictions: list[Prediction] = field(default_factory=list)

    @property
    def mistakes(self) -> list[Prediction]:
        return [p for p in self.predictions if not p.correct]


def _check_arrays(embeddings, labels, names=None) -> tuple[np.ndarray, np.ndarray]:
    emb = np.asarray(embeddings, dtype=np.float32)
    lab = np.asarray(labels)
    if emb.ndim != 2 or lab.ndim != 1 or emb.shape[0] != lab.shape[0]:
        raise EdgefaceError(
            f"embeddings {emb.shape} and labels {lab.shape} do not line up",
            hint="pass the model's (N,128) embeddings with its (N,) labels, e.g. evaluate_model(FaceModel.load(path))",
        )
    if names is not None and lab.size and (lab.min() < 0 or lab.max() >= len(names)):
        raise EdgefaceError(
            f"labels run from {lab.min()} to {lab.max()} but there are {len(names)} names",
            hint="the model file is inconsistent; train it again",
        )
    return emb, lab.astype(np.int64)


def pair_distances(embeddings, labels, block: int = 1024) -> PairDistances:
    """All N*(N-1)/2 pair distances, computed a block of rows at a time so that memory stays
    near the size of the result (10 000 photos: 200 MB) rather than of an N*N matrix."""
    emb, lab = _check_arrays(embeddings, labels)
    e = emb.astype(np.float64)  # float64: near-duplicate photos must not come out negative under sqrt
    sq = np.einsum("ij,ij->i", e, e)
    columns = np.arange(len(lab))
    same, different = [np.empty(0, np.float32)], [np.empty(0, np.float32)]
    for start in range(0, len(lab), block):
        rows = slice(start, start + block)
        dist = np.sqrt(np.clip(sq[rows, None] + sq[None, :] - 2.0 * (e[rows] @ e.T), 0.0, None))
        upper = columns[None, :] > columns[rows, None]  # each unordered pair once, no self-pairs
        one_person = lab[rows, None] == lab[None, :]
        same.append(dist[upper & one_person].astype(np.float32))
        different.append(dist[upper & ~one_person].astype(np.float32))
    return PairDistances(same=np.concatenate(same), different=np.concatenate(different))


def leave_one_out(embeddings, labels, names, tolerance: float = DEFAULT_TOLERANCE) -> LeaveOneOut:
    emb, lab = _check_arrays(embeddings, labels, names)
    counts = np.bincount(lab, minlength=len(names))
    keep = np.ones(len(lab), dtype=bool)
    predictions = []
    for i in range(len(lab)):
        keep[i] = False
        # the production matcher, so the number means what the web app will do
        others = Matcher(emb[keep], lab[keep].astype(np.int32), list(names), tolerance=tolerance)
        match = others.match(emb[i, None])[0]
        keep[i] = True
        true_name = names[lab[i]]
        enrolled_elsewhere = bool(counts[lab[i]] > 1)
        expected = true_name if enrolled_elsewhere else UNKNOWN
        predictions.append(
            Prediction(i, true_name, match.name, float(match.distance), match.name == expected, enrolled_elsewhere)
        )
    evaluated = [p for p in predictions if p.enrolled_elsewhere]
    singles = [p for p in predictions if not p.enrolled_elsewhere]
    correct = sum(p.correct for p in evaluated)
    return LeaveOneOut(
        tolerance=tolerance,
        evaluated=len(evaluated),
        correct=correct,
        accuracy=correct / len(evaluated) if evaluated else None,
        singletons=len(singles),
        singletons_rejected=sum(p.correct for p in singles),
        predictions=predictions,
    )


def _summary(values: np.ndarray) -> dict:
    if values.size == 0:
        return {"count": 0}
    return {
        "count": int(values.size),
        "min": float(values.min()),
        "mean": float(values.mean()),
        "max": float(values.max()),
    }


def evaluate(embeddings, labels, names, tolerance: float = DEFAULT_TOLERANCE) -> dict:
    """A JSON-able report: distance statistics, pair error rates at `tolerance`, leave-one-out results."""
    emb, lab = _check_arrays(embeddings, labels, names)
    pairs = pair_distances(emb, lab)
    loo = leave_one_out(emb, lab, names, tolerance)
    loo_summary = {k: v for k, v in asdict(loo).items() if k != "predictions"}
    loo_summary["mistakes"] = [asdict(p) for p in loo.mistakes]
    return {
        "tolerance": tolerance,
        "images": len(lab),
        "identities": len(names),
        "same_person": _summary(pairs.same),
        "different_person": _summary(pairs.different),
        # pair-level error rates: a same-person pair over the tolerance would be missed,
        # a different-person pair under it could be confused
        "same_pairs_over_tolerance": _fraction(pairs.same > tolerance),
        "different_pairs_under_tolerance": _fraction(pairs.different <= tolerance),
        "leave_one_out": loo_summary,
    }


def evaluate_model(model, tolerance: float = DEFAULT_TOLERANCE) -> dict:
    """`evaluate` for an `edgeface.modelfile.FaceModel`."""
    return evaluate(model.embeddings, model.labels, model.names, tolerance)


def manifest_summary(report: dict) -> dict:
    """The part of an `evaluate` report a model version's manifest carries (``evaluation``), for
    comparing versions: leave-one-out accuracy and the distance margins at the tolerance.

    ``same_margin``: tolerance minus the largest same-person distance (negative: some pair of one
    person's photos would not match); ``different_margin``: the smallest different-person distance
    minus the tolerance (negative: two people could be confused). ``None`` without such pairs.
    """
    tolerance = report["tolerance"]
    same, different, loo = report["same_person"], report["different_person"], report["leave_one_out"]
    return {
        "tolerance": tolerance,
        "images": report["images"],
        "identities": report["identities"],
        "leave_one_out_accuracy": loo["accuracy"],
        "leave_one_out_correct": loo["correct"],
        "leave_one_out_evaluated": loo["evaluated"],
        "same_margin": round(tolerance - same["max"], 4) if same["count"] else None,
        "different_margin": round(different["min"] - tolerance, 4) if different["count"] else None,
        "same_pairs_over_tolerance": report["same_pairs_over_tolerance"],
        "different_pairs_under_tolerance": report["different_pairs_under_tolerance"],
    }


def _fraction(mask: np.ndarray) -> float | None:
    return float(mask.mean()) if mask.size else None


def distance_figure(pairs: PairDistances, tolerance: float = DEFAULT_TOLERANCE, title: str | None = None):
    """Histogram of same-person vs different-person distances with the tolerance marked.

    Returns a `matplotlib.figure.Figure` built without pyplot (no global state, no GUI backend):
    Jupyter shows it inline once `%matplotlib inline` has run; `figure_png` turns it into bytes.
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 3.5), layout="constrained")
    ax = fig.add_subplot()
    everything = np.concatenate([pairs.same, pairs.different, [0.0, tolerance * 1.5]])
    bins = np.linspace(0.0, float(everything.max()) * 1.05, 30).tolist()
    groups = ((pairs.different, "tab:red", "different people"), (pairs.same, "tab:green", "same person"))
    for values, colour, what in groups:
        ax.hist(values, bins=bins, alpha=0.6, color=colour, label=f"{what} ({values.size} pairs)")
    ax.axvline(tolerance, color="black", linestyle="--", label=f"match tolerance {tolerance:g}")
    ax.set_xlabel("embedding distance (smaller = more alike)")
    ax.set_ylabel("image pairs")
    ax.set_title(title or "Same-person vs different-person distances")
    ax.legend(loc="upper left", fontsize="small")
    return fig


def figure_png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    return buf.getvalue()


def faces_figure(images: list[tuple[str, np.ndarray, list]], columns: int = 4):
    """A grid of images, each titled and with its detected face boxes drawn.

    ``images``: ``(title, rgb, boxes)`` with boxes as ``(top, right, bottom, left)``, the engine's
    order. A box is green when the image has exactly one face (usable for enrolment), red otherwise.
    """
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    if not images:
        raise EdgefaceError("no images to show", hint="check the images folder holds one sub-folder per person")
    columns = max(1, min(columns, len(images)))
    rows = -(-len(images) // columns)
    fig = Figure(figsize=(3 * columns, 3.2 * rows), layout="constrained")
    axes = fig.subplots(rows, columns, squeeze=False).ravel()
    for ax, (title, rgb, boxes) in zip(axes, images):
        ax.imshow(rgb)
        colour = "lime" if len(boxes) == 1 else "red"
        for top, right, bottom, left in boxes:
            ax.add_patch(Rectangle((left, top), right - left, bottom - top, fill=False, color=colour, linewidth=2))
        ax.set_title(f"{title}\n{len(boxes)} face{'s' if len(boxes) != 1 else ''}", fontsize="small")
    for ax in axes:
        ax.axis("off")
    return fig

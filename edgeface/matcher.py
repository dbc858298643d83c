"""Matching embeddings against every enrolled identity at once, exactly.

Nearest neighbour by Euclidean distance (what face_recognition's tolerance refers to). A fast
pass gives every enrolled embedding an approximate distance with a proven error bound; only the
embeddings whose bound reaches the best one's (usually one or two) are then measured exactly in
float64, so names, distances and the margin rule are those of an exhaustive float64 search:

- up to ``COARSE_MIN`` embeddings: one BLAS matrix product for all probes,
  ||p-e||² = ||p||² - 2p·e + ||e||² with ||e||² precomputed (float32 rounding is the error);
- from ``COARSE_MIN`` on, with faiss installed (the ``large-gallery`` extra): a scan of 8-bit
  copies of the embeddings (a quarter of the bytes; the scan is bound by memory bandwidth), whose
  rounding error is measured when the index is built.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np

#: Match distance threshold (dlib embeddings; face_recognition's customary 0.6): the live app,
#: ``edgeface recognize`` and the training evaluation all start from it (``EDGEFACE_TOLERANCE``).
DEFAULT_TOLERANCE = 0.6


log = logging.getLogger(__name__)

UNKNOWN = "Unknown"
EMBEDDING_DIM = 128   # dlib ResNet face descriptor
#: From this many embeddings on, the 8-bit scan beats the float32 product (crossover measured by
#: ``edgeface bench --suite core``: about even at 10 000, 4x faster at 100 000).
COARSE_MIN = 20_000
#: Relative float32 rounding of the expansion, with margin: 128-term dot products, then two
#: additions (at most ~128 ulp = 1.6e-5 of (||p|| + ||e||)²; BLAS's blocked sums do far better).
_F32_REL_ERROR = 4e-5
#: Looked a hair further than the margin needs, so float64 rounding of d + margin cannot hide a rival.
_SLACK = 1e-9


@dataclass(frozen=True)
class Match:
    name: str          # display name, or UNKNOWN
    distance: float    # Euclidean distance to the nearest enrolled embedding
    identity: int      # index into names, -1 when UNKNOWN


class Matcher:
    """Immutable index over (embedding, identity) pairs; share it freely between threads."""

    def __init__(self, embeddings: np.ndarray, labels: np.ndarray, names: list[str],
                 tolerance: float = DEFAULT_TOLERANCE, coarse: bool | None = None):
        """``coarse``: scan 8-bit copies first (needs faiss); by default from ``COARSE_MIN`` on."""
        self.embeddings = np.ascontiguousarray(embeddings, dtype=np.float32)
        self.labels = np.ascontiguousarray(labels, dtype=np.int32)
        self.names = list(names)
        self.tolerance = float(tolerance)
        if self.embeddings.ndim != 2 or len(self.embeddings) != len(self.labels):
            raise ValueError("embeddings must be (N, D) with one label per row")
        self._sq_norms = np.einsum("ij,ij->i", self.embeddings, self.embeddings)
        self._max_norm = math.sqrt(float(self._sq_norms.max())) if len(self._sq_norms) else 0.0
        if coarse is None:
            coarse = len(self.embeddings) >= COARSE_MIN
        self._coarse = _ByteIndex.build(self.embeddings) if coarse and len(self.embeddings) else None

    def __len__(self) -> int:
        return len(self.embeddings)

    @property
    def path(self) -> str:
        """Which fast pass runs before the exact re-rank (for benchmarks and logs)."""
        return "8-bit scan (faiss)" if self._coarse is not None else "float32 product"

    def with_tolerance(self, tolerance: float) -> Matcher:
        clone = object.__new__(Matcher)
        clone.__dict__.update(self.__dict__, tolerance=float(tolerance))
        return clone

    def nearest(self, probes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Index of the nearest enrolled embedding and its exact distance, per probe row
        (of equally near ones, the first)."""
        found = self._nearest(probes, margin=0.0)
        return (np.array([f[0] for f in found], dtype=np.intp),
                np.array([f[1] for f in found], dtype=np.float32))

    def _nearest(self, probes: np.ndarray, margin: float) -> list[tuple[int, float, float]]:
        """Per probe row: ``nearest``'s two values, plus the exact distance to the nearest
        embedding of another identity than the winner's where that is within the winner's
        distance + ``margin`` (+ 0 beyond the tolerance), else inf: all the margin rule needs."""
        probes = np.atleast_2d(np.asarray(probes, dtype=np.float32))
        if not len(self.embeddings):
            return [(-1, np.inf, np.inf)] * len(probes)
        if self._coarse is not None:
            return [self._refine_coarse(probe, margin) for probe in probes]
        scores = self._scores(probes)
        return [self._refine_expanded(probe, scores[:, k], margin) for k, probe in enumerate(probes)]

    def _scores(self, probes: np.ndarray) -> np.ndarray:
        """||e||² - 2p·e for every enrolled embedding e and probe p, (N, k): the squared distance
        minus ||p||², by one BLAS product; float32 rounding error below
        ``_F32_REL_ERROR * (||p|| + ||e||)²``."""
        scores = self.embeddings @ probes.T            # (N, k): the one expensive step
        scores *= -2.0
        scores += self._sq_norms[:, None]
        return scores

    def _refine_expanded(self, probe: np.ndarray, scores: np.ndarray, margin: float) -> tuple[int, float, float]:
        # Every squared distance is within ``err`` of its estimate: the exact winner is among those
        # within 2*err of the smallest estimate, its rivals within the margin a little further.
        probe_sq = float(probe @ probe)
        err = _F32_REL_ERROR * (math.sqrt(probe_sq) + self._max_norm) ** 2
        first = int(scores.argmin())
        least = float(scores[first]) + probe_sq
        if math.sqrt(max(least - err, 0.0)) > self.tolerance:
            margin = 0.0   # Unknown whoever is second
        reach = (math.sqrt(max(least + err, 0.0)) + margin + _SLACK) ** 2 + err
        # Beyond ``reach`` the true distance exceeds the winner's + margin: no candidate.
        idx = np.flatnonzero(scores <= reach - probe_sq)
        if len(idx) == 1:   # the usual case: nothing else near enough to matter
            diff = self.embeddings[first].astype(np.float64) - probe
            return first, math.sqrt(float(diff @ diff)), np.inf
        lower = np.sqrt(np.maximum(scores[idx] + (probe_sq - err), 0.0))
        best, d, second, _ = self._decide(probe, idx, lower, margin)
        return best, d, second

    def _refine_coarse(self, probe: np.ndarray, margin: float) -> tuple[int, float, float]:
        assert self._coarse is not None
        k = min(len(self.embeddings), 32)
        while True:
            idx, approx, err = self._coarse.search(probe, k)
            best, d, second, need = self._decide(probe, idx, approx - err, margin)
            # Complete when every embedding not returned is provably farther than needed.
            if k == len(self.embeddings) or approx[-1] - err > need:
                return best, d, second
            k = min(len(self.embeddings), k * 8)   # rare: many embeddings about as near as the winner

    def _decide(self, probe: np.ndarray, idx: np.ndarray, lower: np.ndarray,
                margin: float) -> tuple[int, float, float, float]:
        """Exact winner among candidates ``idx`` (whose true distances are >= ``lower``), the
        runner-up per ``_nearest`` among them, and how far the caller must have looked: the
        winner's distance, + margin where the winner is within the tolerance."""
        diff = self.embeddings[idx].astype(np.float64) - probe
        exact = np.sqrt(np.einsum("ij,ij->i", diff, diff))
        order = np.lexsort((idx, exact))               # nearest first; equal ones by index
        best, d = int(idx[order[0]]), float(exact[order[0]])
        need = (d + margin if margin > 0 and d <= self.tolerance else d) + _SLACK
        others = (self.labels[idx] != self.labels[best]) & (lower <= need)
        second = float(exact[others].min()) if others.any() else np.inf
        return best, d, second, need

    def match(self, probes: np.ndarray, margin: float = 0.0) -> list[Match]:
        """The nearest identity per probe row, UNKNOWN beyond the tolerance — and, with
        ``margin``, unless the nearest identity is closer than every other identity by that much
        (a face between two people is named neither)."""
        out = []
        for row, d, d2 in self._nearest(probes, margin=margin):
            if row >= 0 and d <= self.tolerance and d2 - d >= margin:
                ident = int(self.labels[row])
                out.append(Match(self.names[ident], float(d), ident))
            else:
                out.append(Match(UNKNOWN, float(d), -1))
        return out

    def distances_to_identities(self, probe: np.ndarray) -> np.ndarray:
        """Distance from one probe to each identity's closest embedding (for evaluation and UIs)."""
        d = np.linalg.norm(self.embeddings - np.asarray(probe, dtype=np.float32), axis=1)
        out = np.full(len(self.names), np.inf, dtype=np.float32)
        np.minimum.at(out, self.labels, d)
        return out


class _ByteIndex:
    """The embeddings rounded to 8 bits on one scale (codes 0-255), scanned by faiss.

    A probe is rounded the same way; faiss's distances between codes are exact integers, so a
    true distance differs from ``sqrt(code distance) / scale`` by at most the probe's rounding
    plus the largest embedding's rounding (triangle inequality), both measured here.
    """

    def __init__(self, faiss, index, low: float, scale: float, max_error: float):
        self._faiss, self._index = faiss, index
        self._low, self._scale, self._max_error = low, scale, max_error

    @classmethod
    def build(cls, embeddings: np.ndarray) -> _ByteIndex | None:
        logging.getLogger("faiss.loader").setLevel(logging.WARNING)   # which CPU build it loads
        try:
            import faiss
        except ImportError:
            log.info("faiss is not installed: matching %d embeddings with numpy (pip install "
                     "'edgeface[large-gallery]' makes it ~4x faster)", len(embeddings))
            return None
        low, high = float(embeddings.min()), float(embeddings.max())
        scale = 255.0 / max(high - low, 1e-12)
        scaled = (embeddings - np.float32(low)) * np.float32(scale)
        codes = np.rint(scaled)
        scaled -= codes
        max_error = float(np.sqrt(np.einsum("ij,ij->i", scaled, scaled).max())) / scale
        index = faiss.IndexScalarQuantizer(embeddings.shape[1], faiss.ScalarQuantizer.QT_8bit_direct,
                                           faiss.METRIC_L2)
        index.add(codes)
        return cls(faiss, index, low, scale, max_error)

    def search(self, probe: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, float]:
        """The ``k`` nearest by code distance: indices, approximate distances (ascending), and
        the bound on |true - approximate| that holds for every embedding."""
        scaled = (probe.astype(np.float64) - self._low) * self._scale
        code = np.clip(np.rint(scaled), 0, 255)
        # + the float32 rounding of the embeddings' scaled values (~1e-5 code units per dimension).
        err = (float(np.linalg.norm(scaled - code)) + 1e-3) / self._scale + self._max_error
        # One OpenMP thread, set in every calling thread: faiss opens a parallel region even for
        # one probe, and on two busy cores its team's barrier took the median from 0.6 to 10 ms.
        self._faiss.omp_set_num_threads(1)
        sq, idx = self._index.search(code.astype(np.float32)[None, :], k)
        return idx[0], np.sqrt(sq[0]) / self._scale, err

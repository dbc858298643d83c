"""Matching embeddings against every enrolled identity at once.

Nearest neighbour by Euclidean distance (what face_recognition's tolerance refers to), computed
for all probes and all enrolled embeddings in one matrix product: ||p-e||² = ||p||² - 2p·e + ||e||²
with ||e||² precomputed, so a probe against 100 000 embeddings is one BLAS call.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edgeface.settings import DEFAULT_TOLERANCE

UNKNOWN = "Unknown"
EMBEDDING_DIM = 128   # dlib ResNet face descriptor


@dataclass(frozen=True)
class Match:
    name: str          # display name, or UNKNOWN
    distance: float    # Euclidean distance to the nearest enrolled embedding
    identity: int      # index into names, -1 when UNKNOWN


class Matcher:
    """Immutable index over (embedding, identity) pairs; share it freely between threads."""

    def __init__(self, embeddings: np.ndarray, labels: np.ndarray, names: list[str],
                 tolerance: float = DEFAULT_TOLERANCE):
        self.embeddings = np.ascontiguousarray(embeddings, dtype=np.float32)
        self.labels = np.ascontiguousarray(labels, dtype=np.int32)
        self.names = list(names)
        self.tolerance = float(tolerance)
        if self.embeddings.ndim != 2 or len(self.embeddings) != len(self.labels):
            raise ValueError("embeddings must be (N, D) with one label per row")
        self._sq_norms = np.einsum("ij,ij->i", self.embeddings, self.embeddings)

    def __len__(self) -> int:
        return len(self.embeddings)

    def with_tolerance(self, tolerance: float) -> Matcher:
        clone = object.__new__(Matcher)
        clone.__dict__.update(self.__dict__, tolerance=float(tolerance))
        return clone

    def _scores(self, probes: np.ndarray) -> np.ndarray:
        """||e||² - 2p·e for every enrolled embedding e and probe p, (N, k): the distance squared
        minus ||p||², which is constant per probe, so it orders the embeddings by distance."""
        scores = self.embeddings @ probes.T            # (N, k): the one expensive step
        scores *= -2.0
        scores += self._sq_norms[:, None]
        return scores

    def nearest(self, probes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Index of the nearest enrolled embedding and its exact distance, per probe row."""
        best, dist, _ = self._nearest(probes, runner_up=False)
        return best, dist

    def _nearest(self, probes: np.ndarray, runner_up: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``nearest``, plus (``runner_up``) the exact distance to the nearest embedding of
        another identity than the winner's (inf when there is none)."""
        probes = np.atleast_2d(np.asarray(probes, dtype=np.float32))
        second = np.full(len(probes), np.inf, dtype=np.float32)
        if not len(self.embeddings):
            return np.full(len(probes), -1), np.full(len(probes), np.inf, dtype=np.float32), second
        scores = self._scores(probes)
        best = np.argmin(scores, axis=0)
        # Recompute the winners exactly: the expansion loses precision for close pairs.
        dist = np.linalg.norm(self.embeddings[best] - probes, axis=1)
        if runner_up:
            for k, row in enumerate(best):
                column = np.where(self.labels == self.labels[row], np.inf, scores[:, k])
                other = int(np.argmin(column))
                if np.isfinite(column[other]):
                    second[k] = np.linalg.norm(self.embeddings[other] - probes[k])
        return best, dist, second

    def match(self, probes: np.ndarray, margin: float = 0.0) -> list[Match]:
        """The nearest identity per probe row, UNKNOWN beyond the tolerance — and, with
        ``margin``, unless the nearest identity is closer than every other identity by that much
        (a face between two people is named neither)."""
        best, dist, runner_up = self._nearest(probes, runner_up=margin > 0)
        out = []
        for row, d, d2 in zip(best, dist, runner_up):
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

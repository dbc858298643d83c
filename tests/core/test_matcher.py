"""Vectorised matching agrees with a brute-force loop, exactly, and applies the tolerance and margin."""

import importlib.util

import numpy as np
import pytest
from helpers import missing_test_tool

from edgeface.matcher import UNKNOWN, Matcher


def test_matches_brute_force_on_many_identities():
    rng = np.random.default_rng(7)
    emb = rng.normal(scale=0.1, size=(5000, 128)).astype(np.float32)
    labels = rng.integers(0, 1200, size=5000).astype(np.int32)
    names = [f"person {i}" for i in range(1200)]
    probes = emb[[3, 999, 4321]] + rng.normal(scale=0.01, size=(3, 128)).astype(np.float32)
    probes = np.vstack([probes, rng.normal(scale=0.1, size=(2, 128))]).astype(np.float32)
    matcher = Matcher(emb, labels, names, tolerance=0.6)
    got = matcher.match(probes)
    for probe, m in zip(probes, got):
        d = np.linalg.norm(emb - probe, axis=1)
        assert abs(m.distance - d.min()) < 1e-5
        expected = names[labels[d.argmin()]] if d.min() <= 0.6 else UNKNOWN
        assert m.name == expected


def test_tolerance_decides_unknown():
    emb = np.zeros((1, 128), np.float32)
    matcher = Matcher(emb, np.array([0]), ["Ada"], tolerance=0.5)
    probe = np.zeros((1, 128), np.float32)
    probe[0, 0] = 0.55
    assert matcher.match(probe)[0].name == UNKNOWN
    assert matcher.with_tolerance(0.6).match(probe)[0].name == "Ada"
    assert Matcher(np.zeros((0, 128)), np.zeros(0), []).match(probe)[0].name == UNKNOWN


def test_distance_per_identity():
    emb = np.array([[0.0] * 128, [1.0] + [0.0] * 127, [3.0] + [0.0] * 127], np.float32)
    m = Matcher(emb, np.array([0, 1, 1]), ["a", "b"])
    probe = np.zeros(128, np.float32)
    probe[0] = 2.0
    assert np.allclose(m.distances_to_identities(probe), [2.0, 1.0])


def exhaustive(emb, labels, probe, tolerance, margin):
    """The float64 reference: every distance, the first of equally near ones, the margin rule."""
    d = np.sqrt(np.square(emb.astype(np.float64) - probe.astype(np.float64)).sum(axis=1))
    best = int(d.argmin())
    others = d[labels != labels[best]]
    second = others.min() if len(others) else np.inf
    named = d[best] <= tolerance and second - d[best] >= margin
    return (int(labels[best]) if named else -1), d[best]


def tricky_gallery(rng, n, identities):
    """Several embeddings per identity, plus probes at every kind of edge: near an enrolled
    embedding, between two people, exact and near ties, a rival just inside and just outside the
    margin, strangers, beyond the tolerance."""
    emb = rng.normal(scale=0.9 / np.sqrt(256), size=(n, 128)).astype(np.float32)
    labels = rng.integers(0, identities, size=n).astype(np.int32)
    probes = [emb[i] + rng.normal(scale=0.02, size=128) for i in rng.integers(0, n, 20)]
    probes += list(rng.normal(scale=0.9 / np.sqrt(256), size=(10, 128)))          # strangers
    for i, j in rng.integers(0, n, size=(10, 2)):
        probes.append((emb[i] + emb[j]) / 2)                                      # between two
    for k in range(12):                     # a rival of another identity at d + margin + tiny
        a = int(rng.integers(0, n))
        direction = rng.normal(size=128)
        direction /= np.linalg.norm(direction)
        rival = (emb[a] - (0.05 + (k - 6) * 1e-6) * direction).astype(np.float32)
        emb = np.vstack([emb, rival])
        labels = np.append(labels, (labels[a] + 1) % identities).astype(np.int32)
        probes.append(emb[a] + 0.3 * direction)   # 0.3 from a, 0.35 +- a few 1e-6 from the rival
    for _ in range(10):                     # crowds: 40 people equally far but for 1e-5 steps
        centre = rng.normal(scale=0.9 / np.sqrt(256), size=128)
        ring = rng.normal(size=(40, 128))
        ring *= ((0.4 + rng.permutation(40) * 1e-5) / np.linalg.norm(ring, axis=1))[:, None]
        emb = np.vstack([emb, (centre + ring).astype(np.float32)])
        labels = np.append(labels, rng.integers(0, identities, size=40)).astype(np.int32)
        probes.append(centre)
    tie = len(emb)                          # an exact tie between two identities, and a near one
    emb = np.vstack([emb, emb[5], emb[7] + np.float32(1e-7)])
    labels = np.append(labels, [(labels[5] + 1) % identities, (labels[7] + 1) % identities]).astype(np.int32)
    probes += [emb[tie], emb[7] + 5e-8]
    return emb, labels, np.asarray(probes, dtype=np.float32)


@pytest.mark.parametrize("path", ["expanded", "coarse"])
@pytest.mark.parametrize("margin", [0.0, 0.05])
def test_same_answers_as_exhaustive_float64_search(path, margin):
    """Both fast paths (one BLAS product; the 8-bit faiss scan of large galleries) re-rank exactly:
    the names, identities and distances of an exhaustive float64 search, near-ties included."""
    if path == "coarse" and importlib.util.find_spec("faiss") is None:
        missing_test_tool("faiss is not installed (pip install -e '.[test]')")
    rng = np.random.default_rng(11)
    emb, labels, probes = tricky_gallery(rng, 3000, 700)
    # The coarse path as it runs from COARSE_MIN (20 000) on, here on 3 000 embeddings.
    matcher = Matcher(emb, labels, [f"p{i}" for i in range(700)], tolerance=0.6, coarse=path == "coarse")
    assert (matcher._coarse is not None) == (path == "coarse")
    got = matcher.match(probes, margin=margin)
    named = 0
    for probe, m in zip(probes, got):
        identity, distance = exhaustive(emb, labels, probe, 0.6, margin)
        assert (m.identity, m.name) == (identity, UNKNOWN if identity < 0 else f"p{identity}")
        assert abs(m.distance - distance) < 1e-9
        named += identity >= 0
    assert 10 < named < len(probes)   # both outcomes exercised
    best, dist = matcher.nearest(probes)
    reference = [np.sqrt(np.square(emb.astype(np.float64) - p).sum(axis=1)) for p in probes]
    assert [int(r.argmin()) for r in reference] == best.tolist()
    assert np.allclose(dist, [r.min() for r in reference], rtol=0, atol=1e-7)

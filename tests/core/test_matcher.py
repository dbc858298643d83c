"""Vectorised matching agrees with a brute-force loop and applies the tolerance."""

import numpy as np

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

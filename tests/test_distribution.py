"""The profile's value distribution: exact while small, a deterministic t-digest beyond.

References are the exact empirical CDF of the same values (numpy); the accuracy bound
is the KLL sketch's this replaced (~1.3% in rank), measured in bench/profile_sketch.py.
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from enet.data.distribution import CDF_POINTS, ValueDistribution, ecdf_from_sample
from enet.monitor.drift import IntervalCounts

RANK_ERROR = 0.013


def fed(values: np.ndarray, pieces: int = 5) -> ValueDistribution:
    dist = ValueDistribution()
    for chunk in np.array_split(values, pieces):
        dist.update(chunk)
    return dist


def cdf_error(values: np.ndarray, points: np.ndarray, cdf: np.ndarray) -> float:
    """sup_x |F(x) - F_values(x)|, exact over all x."""
    counts = IntervalCounts(points)
    counts.update(values)
    return counts.ks(cdf)


@pytest.mark.parametrize("make", [
    lambda r: r.standard_normal(450),                              # a small column
    lambda r: (r.random(100_000) < 0.3).astype(float),             # boolean
    lambda r: r.poisson(50, 100_000).astype(float),                # integers, many ties
    lambda r: r.choice([1.0, 2.0, 3.0, 5.0], 100_000),             # a few values
])
def test_exact_while_at_most_600_distinct_values(rng, make):
    values = make(rng)
    dist = fed(values)
    assert dist.exact and dist.method() == "exact"
    p0, c0 = ecdf_from_sample(values)
    p, c = dist.ecdf()
    np.testing.assert_array_equal(p, p0)
    np.testing.assert_allclose(c, c0, rtol=1e-15)


@pytest.mark.parametrize("make", [
    lambda r: r.standard_normal(200_000),
    lambda r: r.standard_cauchy(200_000),                          # heavy tails
    lambda r: np.sort(r.lognormal(size=200_000)),                  # arriving sorted
    lambda r: np.where(r.random(200_000) < 0.4, 0.0, r.lognormal(size=200_000)),  # an atom
    lambda r: np.where(r.random(200_000) < 0.3, 0.0, r.standard_normal(200_000)),  # mid atom
    lambda r: r.integers(0, 10_000, 200_000).astype(float),        # many tied integers
])
def test_large_columns_within_the_rank_error_and_reproducible(rng, make):
    values = make(rng)
    dist = fed(values, pieces=7)
    assert not dist.exact and dist.method().startswith("t-digest")
    p, c = dist.ecdf()
    assert p.size <= CDF_POINTS and p[0] == values.min() and p[-1] == values.max()
    assert np.all(np.diff(p) > 0) and np.all(np.diff(c) >= 0) and c[-1] == 1.0
    assert cdf_error(values, p, c) < RANK_ERROR
    # the decile edges' ranks, from numpy's sorted copy
    targets = np.arange(1, 10) / 10
    edges = p[np.searchsorted(c, targets - 1e-12)]
    s = np.sort(values)
    below = np.searchsorted(s, edges, side="left") / s.size
    upto = np.searchsorted(s, edges, side="right") / s.size
    assert np.all(below - RANK_ERROR <= targets) and np.all(targets <= upto + RANK_ERROR)
    # the same chunks give the same bytes (the KLL sketch did not)
    again = fed(values, pieces=7)
    assert pickle.dumps(again) == pickle.dumps(dist)
    np.testing.assert_array_equal(again.ecdf()[0], p)


def test_merge_is_deterministic_and_exact_parts_merge_exactly(rng):
    values = rng.standard_normal(60_000)
    pieces = [fed(part, pieces=2) for part in np.array_split(values, 4)]
    tree = [(pieces[0] + pieces[1]) + (pieces[2] + pieces[3]) for _ in range(2)]
    # through pickling, as pieces come back from cluster workers
    shipped = [pickle.loads(pickle.dumps(p)) for p in pieces]
    tree.append((shipped[0] + shipped[1]) + (shipped[2] + shipped[3]))
    assert pickle.dumps(tree[0]) == pickle.dumps(tree[1]) == pickle.dumps(tree[2])
    p, c = tree[0].ecdf()
    assert cdf_error(values, p, c) < RANK_ERROR
    # exact parts stay exact while the union has at most 600 distinct values
    codes = rng.integers(0, 300, 10_000).astype(float)
    a, b = fed(codes[:4000]), fed(codes[4000:])
    merged = a + b
    assert merged.exact
    np.testing.assert_allclose(merged.ecdf()[1], ecdf_from_sample(codes)[1], rtol=1e-15)
    wide = fed(rng.integers(300, 700, 1000).astype(float))
    assert not (merged + wide).exact       # 700 distinct values: the digest takes over
    assert a.exact and wide.exact          # the parts are unchanged

"""Drift statistics against scipy and independent computations on known distributions."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from enet.monitor.drift import (IntervalCounts, bin_counts, bin_frequencies, ecdf_from_sample,
                                ks_pvalue, psi, quantile_edges)


def psi_by_hand(e, a, floor=1e-4):
    e = np.maximum(np.asarray(e, float) / np.sum(e), floor)
    a = np.maximum(np.asarray(a, float) / np.sum(a), floor)
    return sum((ai - ei) * np.log(ai / ei) for ei, ai in zip(e, a))


def test_psi_known_values():
    assert psi([0.25] * 4, [25, 25, 25, 25]) == 0.0
    e, a = [0.1, 0.2, 0.3, 0.4], [0.4, 0.3, 0.2, 0.1]
    # symmetric KL: sum (a - e) ln(a / e)
    assert psi(e, a) == pytest.approx(2 * (0.3 * np.log(4) + 0.1 * np.log(1.5)), rel=1e-12)
    assert psi([0.5, 0.5, 0.0], [0.4, 0.4, 0.2]) == pytest.approx(
        psi_by_hand([0.5, 0.5, 0.0], [0.4, 0.4, 0.2]), rel=1e-12)
    assert np.isnan(psi([1.0], [0.0]))


@pytest.mark.parametrize("shift,scale", [(0.0, 1.0), (0.3, 1.0), (0.0, 1.5), (1.0, 0.5)])
def test_ks_and_wasserstein_match_scipy_on_normals(rng, shift, scale):
    train = rng.standard_normal(2000)
    new = rng.standard_normal(1500) * scale + shift
    points, cdf = ecdf_from_sample(train)
    ic = IntervalCounts(points)
    for part in np.array_split(new, 7):
        ic.update(part)
    ref = stats.ks_2samp(train, new)
    # exact against an exact training CDF: both extremes lie at interval ends
    assert ic.ks(cdf) == pytest.approx(ref.statistic, abs=1e-12)
    assert ks_pvalue(ic.ks(cdf), train.size, new.size) == pytest.approx(
        stats.ks_2samp(train, new, method="asymp").pvalue, rel=1e-9, abs=1e-300)
    # exact except where the CDFs cross inside an interval
    assert ic.wasserstein(cdf) == pytest.approx(stats.wasserstein_distance(train, new),
                                                rel=2e-3, abs=1e-4)


def test_ks_and_wasserstein_exact_on_discrete_values(rng):
    train = rng.integers(0, 4, 800).astype(float)
    new = rng.integers(1, 6, 600).astype(float)
    points, cdf = ecdf_from_sample(train)
    ic = IntervalCounts(points)
    ic.update(new)
    assert ic.ks(cdf) == pytest.approx(stats.ks_2samp(train, new).statistic, abs=1e-12)
    assert ic.wasserstein(cdf) == pytest.approx(stats.wasserstein_distance(train, new),
                                                rel=1e-12)


def test_identical_samples_have_no_drift(rng):
    x = rng.standard_normal(500)
    points, cdf = ecdf_from_sample(x)
    ic = IntervalCounts(points)
    ic.update(x)
    assert ic.ks(cdf) == 0.0
    assert ic.wasserstein(cdf) == pytest.approx(0.0, abs=1e-12)


def test_interval_counts_are_additive(rng):
    points, cdf = ecdf_from_sample(rng.standard_normal(300))
    a, b = rng.standard_normal(400) + 0.2, rng.standard_normal(100) - 1
    whole = IntervalCounts(points)
    whole.update(np.concatenate([a, b]))
    left, right = IntervalCounts(points), IntervalCounts(points)
    left.update(a)
    right.update(b)
    merged = left.merge(right)
    assert merged.n == whole.n
    np.testing.assert_array_equal(merged.count, whole.count)
    assert merged.ks(cdf) == whole.ks(cdf)
    assert merged.wasserstein(cdf) == pytest.approx(whole.wasserstein(cdf), rel=1e-12)


def test_quantile_bins_and_frequencies(rng):
    x = rng.standard_normal(5000)
    points, cdf = ecdf_from_sample(x)
    edges = quantile_edges(points, cdf, 10)
    np.testing.assert_allclose(edges, np.quantile(x, np.arange(1, 10) / 10,
                                                  method="inverted_cdf"))
    freq = bin_frequencies(points, cdf, edges)
    np.testing.assert_allclose(freq, bin_counts(x, edges) / x.size, atol=1e-12)
    np.testing.assert_allclose(freq, 0.1, atol=1e-3)
    # right-closed bins, by hand
    assert bin_counts(np.array([-1.0, 0.0, 0.5, 1.0, 2.0]), np.array([0.0, 1.0])).tolist() == \
        [2, 2, 1]
    # a discrete column keeps one bin per value, none above the maximum
    d = np.repeat([0.0, 1.0], [300, 700])
    p, c = ecdf_from_sample(d)
    e = quantile_edges(p, c, 10)
    assert e.tolist() == [0.0]
    np.testing.assert_allclose(bin_frequencies(p, c, e), [0.3, 0.7])

"""Sufficient statistics: exact algebra, streaming equals in-memory."""

import numpy as np

from enet.core.path import path_from_stats
from enet.core.stats import FoldAccumulator, SufficientStats


def data(rng, n=400, p=6):
    X = rng.standard_normal((n, p)) * 10.0 + 1e4 * rng.standard_normal(p)
    y = X @ rng.standard_normal(p) + rng.standard_normal(n)
    w = rng.uniform(0.1, 2.0, n)
    return X, y, w


def direct_moments(X, y, w):
    wn = w / w.sum()
    Xc, yc = X - wn @ X, y - wn @ y
    return Xc.T @ (wn[:, None] * Xc), Xc.T @ (wn * yc), wn @ yc**2


def test_moments_equal_direct_computation(rng):
    X, y, w = data(rng)
    xx, xy, yy = SufficientStats.from_arrays(X, y, w).moments()
    dxx, dxy, dyy = direct_moments(X, y, w)
    np.testing.assert_allclose(xx, dxx, rtol=1e-10, atol=1e-10 * np.abs(dxx).max())
    np.testing.assert_allclose(xy, dxy, rtol=1e-10, atol=1e-10 * np.abs(dxy).max())
    np.testing.assert_allclose(yy, dyy, rtol=1e-10)


def test_merge_subtract_and_reshift(rng):
    X, y, w = data(rng)
    a = SufficientStats.from_arrays(X[:150], y[:150], w[:150])
    b = SufficientStats.from_arrays(X[150:], y[150:], w[150:])   # a different shift
    whole = SufficientStats.from_arrays(X, y, w)
    merged = a + b
    for got, want in zip(merged.moments(), whole.moments()):
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9 * np.abs(want).max())
    back = merged - b
    for got, want in zip(back.moments(), a.moments()):
        np.testing.assert_allclose(got, want, rtol=1e-8, atol=1e-8 * np.abs(want).max())
    r = whole.reshift(np.zeros(6), 0.0)
    np.testing.assert_allclose(r.xtwx, (X * w[:, None]).T @ X, rtol=1e-12)
    np.testing.assert_allclose(r.xtwy, (X * w[:, None]).T @ y, rtol=1e-12)
    assert r.n_rows == 400 and np.isclose(r.sum_w, w.sum())


def test_streamed_chunks_equal_in_memory(rng):
    X, y, w = data(rng)
    acc = FoldAccumulator(6, n_folds=1)
    for lo in range(0, 400, 37):
        acc.update(X[lo:lo + 37], y[lo:lo + 37], w[lo:lo + 37], None)
    streamed = path_from_stats(acc.total(), l1_ratio=0.5, n_alphas=20, tol=1e-13)
    whole = path_from_stats(SufficientStats.from_arrays(X, y, w), l1_ratio=0.5, n_alphas=20,
                            tol=1e-13)
    np.testing.assert_allclose(streamed.coef, whole.coef, rtol=1e-9,
                               atol=1e-12 * np.abs(whole.coef).max())


def test_fold_statistics_sum_to_total(rng):
    X, y, w = data(rng)
    fold = rng.integers(0, 4, 400)
    acc = FoldAccumulator(6, n_folds=4)
    acc.update(X[:200], y[:200], w[:200], fold[:200])
    acc.update(X[200:], y[200:], w[200:], fold[200:])
    folds = acc.folds()
    for k in range(4):
        m = fold == k
        ref = SufficientStats.from_arrays(X[m], y[m], w[m])
        for got, want in zip(folds[k].moments(), ref.moments()):
            np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9 * np.abs(want).max())
    assert sum(f.n_rows for f in folds) == 400


def test_weighted_sse_equals_direct(rng):
    X, y, w = data(rng)
    s = SufficientStats.from_arrays(X, y, w)
    coef = rng.standard_normal((3, 6))
    b0 = rng.standard_normal(3) * 1e4
    direct = np.array([w @ (y - b0[i] - X @ coef[i]) ** 2 for i in range(3)])
    np.testing.assert_allclose(s.weighted_sse(coef, b0), direct, rtol=1e-9)

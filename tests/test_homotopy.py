"""The lasso homotopy of the naive solver: its Cholesky updates, and lasso paths that
saturate (support near the number of rows) solved exactly, with and without it, on dense
and sparse X with zero-weight rows (cross-validation folds), bounds and free features."""

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.linear_model import Lasso

from enet.core import naive
from enet.core._homotopy import _append, _delete, _solve
from kkt import kkt_violation

KKT_TOL = 1e-8


def spd(rng, k):
    A = rng.standard_normal((k + 3, k))
    return A.T @ A / (k + 3) + 1e-3 * np.eye(k)


def test_cholesky_append_delete_and_solve_match_lapack(rng):
    k = 25
    M = spd(rng, k)
    L = np.zeros((k, k))
    for i in range(k):
        assert _append(L, i, M[:i, i].copy(), M[i, i])
    np.testing.assert_allclose(L, np.linalg.cholesky(M), rtol=0, atol=1e-12)
    keep = list(range(k))
    size = k
    for r in (0, 7, 15, size - 4):
        _delete(L, size, keep.index(keep[r]))
        del keep[r]
        size -= 1
        expect = np.linalg.cholesky(M[np.ix_(keep, keep)])
        np.testing.assert_allclose(L[:size, :size], expect, rtol=0, atol=1e-12)
        assert np.all(L[:size, size:] == 0.0)
    rhs = rng.standard_normal(size)
    x = np.empty(size)
    _solve(L, size, rhs, x)
    np.testing.assert_allclose(M[np.ix_(keep, keep)] @ x, rhs, rtol=0, atol=1e-10)


def test_append_refuses_a_column_in_the_span(rng):
    B = rng.standard_normal((10, 3))
    X = np.column_stack([B, B @ np.array([1.0, -2.0, 0.5])])     # 4th column dependent
    M = X.T @ X
    L = np.zeros((4, 4))
    for i in range(3):
        assert _append(L, i, M[:i, i].copy(), M[i, i])
    before = L.copy()
    assert not _append(L, 3, M[:3, 3].copy(), M[3, 3])
    np.testing.assert_array_equal(L[:3, :3], before[:3, :3])


def saturating(rng, n=80, p=400, block=10):
    """Wide, block-correlated design whose lasso path ends near interpolation."""
    shared = rng.standard_normal((n, p // block))
    X = np.sqrt(0.2) * rng.standard_normal((n, p)) + np.sqrt(0.8) * np.repeat(shared, block, 1)
    X += rng.uniform(-1, 1, p)                              # nonzero means: centring matters
    beta = np.zeros(p)
    beta[:12] = np.linspace(1.0, 2.0, 12) * (-1.0) ** np.arange(12)
    y = X @ beta + 2.0 + rng.standard_normal(n) * 0.5
    w = np.ones(n)
    w[rng.permutation(n)[: n // 5]] = 0.0                   # a held-out fold
    return X, y, w


def lasso_path(X, y, w, homotopy, monkeypatch, **kw):
    monkeypatch.setattr(naive, "HOMOTOPY_MIN_SUPPORT", 32 if homotopy else 10**9)
    kw = dict(dict(l1_ratio=1.0, n_alphas=60, eps=1e-3, standardize=False, tol=1e-8,
                   max_iter=200_000, warn=False), **kw)
    res = naive.path_from_arrays(X, y, sample_weight=w, **kw)
    assert res.certificate.converged.all()
    return res


def dense(coef):
    return coef.toarray() if sp.issparse(coef) else np.asarray(coef)


def objective(X, y, w, b0, b, alpha):
    wn = w / w.sum()
    r = y - b0 - X @ b
    return 0.5 * wn @ (r * r) + alpha * np.abs(b).sum()


@pytest.mark.parametrize("layout", ["F", "CSR", "CSC"])
def test_saturating_lasso_fold_is_exact_and_needs_fewer_sweeps(rng, monkeypatch, layout):
    X, y, w = saturating(rng)
    Xl = {"F": np.asfortranarray(X), "CSR": sp.csr_matrix(X), "CSC": sp.csc_matrix(X)}[layout]
    walk = lasso_path(Xl, y, w, True, monkeypatch)
    crawl = lasso_path(Xl, y, w, False, monkeypatch, alphas=walk.alphas)
    B, Bc = dense(walk.coef), dense(crawl.coef)
    rows = int(np.count_nonzero(w))
    assert np.count_nonzero(B[-1]) > 0.85 * rows            # the saturated regime
    for k, alpha in enumerate(walk.alphas):
        assert kkt_violation(X, y, B[k], walk.intercept[k], alpha, 1.0,
                             sample_weight=w) < KKT_TOL, k
        f = objective(X, y, w, walk.intercept[k], B[k], alpha)
        fc = objective(X, y, w, crawl.intercept[k], Bc[k], alpha)
        assert abs(f - fc) <= 1e-8 * fc, (k, f, fc)
    # the walk is what the saturated end costs least: the same path in fewer sweeps
    assert walk.certificate.n_iter.sum() < crawl.certificate.n_iter.sum()


def test_saturating_lasso_matches_sklearn_on_the_training_rows(rng, monkeypatch):
    X, y, w = saturating(rng)
    res = lasso_path(np.asfortranarray(X), y, w, True, monkeypatch, standardize=True)
    keep = w > 0
    Xt, yt = X[keep], y[keep]
    sd = Xt.std(axis=0)
    for k in (30, 45, 59):
        alpha = res.alphas[k]
        sk = Lasso(alpha=alpha, tol=1e-14, max_iter=1_000_000).fit(Xt / sd, yt)
        b = res.coef[k]
        f = objective(Xt / sd, yt, np.ones(keep.sum()), res.intercept[k], b * sd, alpha)
        fs = objective(Xt / sd, yt, np.ones(keep.sum()), sk.intercept_, sk.coef_, alpha)
        assert f <= fs * (1 + 1e-9), (k, f, fs)
        np.testing.assert_allclose(b * sd, sk.coef_, rtol=0, atol=1e-5 * np.abs(sk.coef_).max())


def test_saturating_lasso_with_positive_bounds_and_free_features(rng, monkeypatch):
    X, y, w = saturating(rng)
    pf = np.ones(X.shape[1])
    pf[[3, 50]] = 0.0                   # unpenalised, always in the model
    pf[100:110] = 2.5
    for positive in (False, True):
        kw = dict(penalty_factor=pf, positive=positive)
        walk = lasso_path(np.asfortranarray(X), y, w, True, monkeypatch, **kw)
        crawl = lasso_path(np.asfortranarray(X), y, w, False, monkeypatch,
                           alphas=walk.alphas, **kw)
        for k, alpha in enumerate(walk.alphas):
            b = walk.coef[k]
            assert kkt_violation(X, y, b, walk.intercept[k], alpha, 1.0, sample_weight=w,
                                 penalty_factor=pf, positive=positive) < KKT_TOL, (k, positive)
            if positive:
                assert b.min() >= 0.0
            pen = pf * np.abs(b)
            f = objective(X, y, w, walk.intercept[k], b, 0.0) + alpha * pen.sum()
            bc = crawl.coef[k]
            fc = objective(X, y, w, crawl.intercept[k], bc, 0.0) + alpha * (pf * np.abs(bc)).sum()
            assert abs(f - fc) <= 1e-8 * fc, (k, positive)


def test_cross_validation_of_a_saturating_lasso_matches_the_covariance_solver(rng):
    """Lasso CV deep into the path on p >> n: every fold saturates (nonzeros near its
    training rows), the naive folds walk the homotopy, and the held-out errors equal those
    of the covariance solver on the Gram matrix."""
    import enet

    X, y, _ = saturating(rng, n=60, p=300)
    kw = dict(l1_ratio=[0.5, 1.0], n_alphas=40, eps=1e-3, cv=4, tol=1e-10)
    naive_cv = enet.ElasticNetCV(solver="naive", **kw).fit(X, y)
    cov_cv = enet.ElasticNetCV(solver="covariance", **kw).fit(X, y)
    np.testing.assert_allclose(naive_cv.mse_path_, cov_cv.mse_path_, rtol=1e-6)
    assert (naive_cv.alpha_, naive_cv.l1_ratio_) == pytest.approx(
        (cov_cv.alpha_, cov_cv.l1_ratio_), rel=1e-12)
    np.testing.assert_allclose(naive_cv.coef_, cov_cv.coef_, rtol=1e-6,
                               atol=1e-8 * np.abs(cov_cv.coef_).max())

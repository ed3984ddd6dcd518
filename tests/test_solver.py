"""Exactness of the solver: scikit-learn parity, KKT on every solution, invariances."""

import warnings

import numpy as np
import pytest
from sklearn.linear_model import ElasticNet as SkElasticNet
from sklearn.linear_model import enet_path as sk_enet_path

from enet import ConvergenceWarning, ElasticNet, enet_path
from kkt import kkt_violation

TIGHT = 1e-13
SK_TIGHT = dict(tol=1e-15, max_iter=1_000_000)


def make_problem(rng, n, p, weights=False, offset=True):
    X = rng.standard_normal((n, p)) * rng.uniform(0.5, 3.0, p)
    X[:, 1:] += 0.6 * X[:, :-1]                     # correlated neighbours
    if offset:
        X += rng.uniform(-5, 5, p)
    beta = np.zeros(p)
    beta[: min(5, p)] = [2.0, -1.5, 1.0, 0.5, -0.5][: min(5, p)]
    y = X @ beta + 3.0 + rng.standard_normal(n)
    w = rng.uniform(0.2, 3.0, n) if weights else None
    return X, y, w


def rel_err(a, b):
    return np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300)


@pytest.mark.parametrize("n,p", [(200, 12), (40, 90)])
@pytest.mark.parametrize("l1_ratio", [0.0, 0.01, 0.5, 1.0])
@pytest.mark.parametrize("weighted", [False, True])
def test_single_fit_matches_sklearn_and_kkt(rng, n, p, l1_ratio, weighted):
    X, y, w = make_problem(rng, n, p, weighted)
    for frac in (0.3, 0.05):
        # alpha as a fraction of the lasso alpha_max keeps every case nontrivial
        yc = y - np.average(y, weights=w)
        alpha = frac * np.max(np.abs((X - np.average(X, 0, w)).T @ (
            (w if w is not None else np.ones(n)) * yc))) / (w.sum() if w is not None else n)
        ours = ElasticNet(alpha=alpha, l1_ratio=l1_ratio, standardize=False, tol=TIGHT).fit(
            X, y, sample_weight=w)
        ref = SkElasticNet(alpha=alpha, l1_ratio=l1_ratio, **SK_TIGHT).fit(X, y, sample_weight=w)
        assert rel_err(ours.coef_, ref.coef_) < 1e-6
        assert abs(ours.intercept_ - ref.intercept_) < 1e-6 * max(1.0, abs(ref.intercept_))
        assert kkt_violation(X, y, ours.coef_, ours.intercept_, alpha, l1_ratio,
                             sample_weight=w) < 1e-7


@pytest.mark.parametrize("n,p", [(150, 8), (30, 60)])
def test_positive_matches_sklearn(rng, n, p):
    X, y, w = make_problem(rng, n, p, weights=True)
    ours = ElasticNet(alpha=0.05, l1_ratio=0.7, standardize=False, positive=True,
                      tol=TIGHT).fit(X, y, sample_weight=w)
    ref = SkElasticNet(alpha=0.05, l1_ratio=0.7, positive=True, **SK_TIGHT).fit(
        X, y, sample_weight=w)
    assert np.all(ours.coef_ >= 0) and np.any(ours.coef_ == 0)
    assert rel_err(ours.coef_, ref.coef_) < 1e-6
    assert kkt_violation(X, y, ours.coef_, ours.intercept_, 0.05, 0.7, sample_weight=w,
                         positive=True) < 1e-7


@pytest.mark.parametrize("n,p", [(300, 15), (40, 100)])
@pytest.mark.parametrize("l1_ratio", [0.01, 0.5, 1.0])
def test_path_matches_sklearn_enet_path(rng, n, p, l1_ratio):
    X, y, _ = make_problem(rng, n, p)
    ours = enet_path(X, y, l1_ratio=l1_ratio, n_alphas=30, standardize=False, tol=TIGHT)
    Xc, yc = X - X.mean(0), y - y.mean()
    alphas, coefs, _ = sk_enet_path(Xc, yc, l1_ratio=l1_ratio, alphas=ours.alphas, **SK_TIGHT)
    np.testing.assert_allclose(alphas, ours.alphas)
    for k in range(len(alphas)):
        if np.any(coefs[:, k]):
            assert rel_err(ours.coef[k], coefs[:, k]) < 1e-6, k
        else:
            assert not np.any(ours.coef[k])
        assert kkt_violation(X, y, ours.coef[k], ours.intercept[k], ours.alphas[k],
                             l1_ratio) < 1e-7
    assert ours.certificate.converged.all()
    # the first point is alpha_max: everything is zero there and only there
    assert not np.any(ours.coef[0]) and np.any(ours.coef[1])


def test_alpha_max_is_exact(rng):
    X, y, w = make_problem(rng, 100, 10, weights=True)
    res = enet_path(X, y, sample_weight=w, l1_ratio=0.5, n_alphas=2, eps=0.999999,
                    standardize=False, tol=TIGHT)
    assert not np.any(res.coef[0])
    assert np.any(res.coef[1])        # a hair below alpha_max something enters


def test_standardize_equals_sklearn_on_scaled_columns(rng):
    X, y, w = make_problem(rng, 250, 10, weights=True)
    mean = np.average(X, axis=0, weights=w)
    sd = np.sqrt(np.average((X - mean) ** 2, axis=0, weights=w))
    for l1_ratio in (0.2, 1.0):
        ours = ElasticNet(alpha=0.02, l1_ratio=l1_ratio, standardize=True, tol=TIGHT).fit(
            X, y, sample_weight=w)
        ref = SkElasticNet(alpha=0.02, l1_ratio=l1_ratio, **SK_TIGHT).fit(X / sd, y,
                                                                           sample_weight=w)
        assert rel_err(ours.coef_, ref.coef_ / sd) < 1e-6
        assert abs(ours.intercept_ - ref.intercept_) < 1e-6 * abs(ref.intercept_)
        assert kkt_violation(X, y, ours.coef_, ours.intercept_, 0.02, l1_ratio,
                             sample_weight=w, standardize=True) < 1e-7


def test_constant_column_gets_zero(rng):
    X, y, _ = make_problem(rng, 100, 6)
    X[:, 2] = 7.25
    for standardize in (True, False):
        m = ElasticNet(alpha=0.01, l1_ratio=0.5, standardize=standardize).fit(X, y)
        assert m.coef_[2] == 0.0
        assert np.all(np.isfinite(m.coef_))


def test_ridge_equals_closed_form(rng):
    X, y, w = make_problem(rng, 120, 9, weights=True)
    wn = w / w.sum()
    Xc, yc = X - wn @ X, y - wn @ y
    G, c = Xc.T @ (wn[:, None] * Xc), Xc.T @ (wn * yc)
    for alpha in (10.0, 0.1, 1e-3):
        exact = np.linalg.solve(G + alpha * np.eye(9), c)
        m = ElasticNet(alpha=alpha, l1_ratio=0.0, standardize=False, tol=TIGHT).fit(
            X, y, sample_weight=w)
        assert rel_err(m.coef_, exact) < 1e-9


def test_alpha_zero_is_least_squares(rng):
    X, y, w = make_problem(rng, 80, 5, weights=True)
    m = ElasticNet(alpha=0.0, standardize=False, tol=TIGHT).fit(X, y, sample_weight=w)
    sw = np.sqrt(w)
    A = np.column_stack([np.ones(80), X]) * sw[:, None]
    sol = np.linalg.lstsq(A, y * sw, rcond=None)[0]
    assert rel_err(m.coef_, sol[1:]) < 1e-8
    assert abs(m.intercept_ - sol[0]) < 1e-8 * abs(sol[0])


def test_sample_weight_invariances(rng):
    X, y, _ = make_problem(rng, 60, 7)
    kw = dict(alpha=0.05, l1_ratio=0.6, tol=TIGHT)
    base = ElasticNet(**kw).fit(X, y)
    ones = ElasticNet(**kw).fit(X, y, sample_weight=np.ones(60))
    np.testing.assert_allclose(ones.coef_, base.coef_, rtol=1e-10, atol=1e-12)
    w = rng.integers(0, 4, 60).astype(float)
    w[:3] = [0.0, 2.0, 3.0]
    weighted = ElasticNet(**kw).fit(X, y, sample_weight=w)
    scaled = ElasticNet(**kw).fit(X, y, sample_weight=7.5 * w)
    np.testing.assert_allclose(scaled.coef_, weighted.coef_, rtol=1e-9, atol=1e-12)
    rep = np.repeat(np.arange(60), w.astype(int))   # zero weight drops, integer repeats
    repeated = ElasticNet(**kw).fit(X[rep], y[rep])
    np.testing.assert_allclose(repeated.coef_, weighted.coef_, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(repeated.intercept_, weighted.intercept_, rtol=1e-9)


def test_penalty_factor_zero_leaves_feature_unpenalised(rng):
    X, y, w = make_problem(rng, 150, 8, weights=True)
    pf = np.ones(8)
    pf[[5, 6]] = 0.0
    res = enet_path(X, y, sample_weight=w, l1_ratio=1.0, n_alphas=20, penalty_factor=pf,
                    standardize=True, tol=TIGHT)
    assert np.all(res.coef[:, 5] != 0) and np.all(res.coef[:, 6] != 0)
    assert not np.any(res.coef[0][pf > 0])        # alpha_max: only unpenalised in
    for k in range(20):
        assert kkt_violation(X, y, res.coef[k], res.intercept[k], res.alphas[k], 1.0,
                             sample_weight=w, standardize=True, penalty_factor=pf) < 1e-7


def test_box_bounds_respected_and_optimal(rng):
    X, y, _ = make_problem(rng, 200, 6)
    free = ElasticNet(alpha=0.01, l1_ratio=0.5, standardize=False, tol=TIGHT).fit(X, y)
    assert free.coef_[0] > 1.0 and free.coef_[1] < -1.0
    lo = np.full(6, -np.inf)
    up = np.full(6, np.inf)
    up[0], lo[1] = 1.0, -0.5
    m = ElasticNet(alpha=0.01, l1_ratio=0.5, standardize=False, lower_bounds=lo,
                   upper_bounds=up, tol=TIGHT).fit(X, y)
    assert m.coef_[0] == 1.0 and m.coef_[1] == -0.5
    assert kkt_violation(X, y, m.coef_, m.intercept_, 0.01, 0.5, lower_bounds=lo,
                         upper_bounds=up) < 1e-7


def test_no_intercept_matches_sklearn(rng):
    X, y, w = make_problem(rng, 100, 6, weights=True, offset=False)
    ours = ElasticNet(alpha=0.05, l1_ratio=0.5, fit_intercept=False, standardize=False,
                      tol=TIGHT).fit(X, y, sample_weight=w)
    ref = SkElasticNet(alpha=0.05, l1_ratio=0.5, fit_intercept=False, **SK_TIGHT).fit(
        X, y, sample_weight=w)
    assert ours.intercept_ == 0.0
    assert rel_err(ours.coef_, ref.coef_) < 1e-6


def test_large_offsets_and_small_scales_lose_no_precision(rng):
    X, y, _ = make_problem(rng, 500, 6, offset=False)
    Xs = X * 1e-3 + 1e6
    kw = dict(l1_ratio=0.5, n_alphas=20, tol=TIGHT)
    a = enet_path(X, y, **kw)
    b = enet_path(Xs, y, **kw)
    np.testing.assert_allclose(b.alphas, a.alphas, rtol=1e-7)
    np.testing.assert_allclose(b.coef * 1e-3, a.coef, rtol=1e-6, atol=1e-9 * np.abs(a.coef).max())
    fitted_a = X @ a.coef[-1] + a.intercept[-1]
    fitted_b = Xs @ b.coef[-1] + b.intercept[-1]
    # predicting with 1e6 offsets cancels ~1e9-sized terms: eps * 1e9 ~ 2e-7 absolute
    np.testing.assert_allclose(fitted_b, fitted_a, rtol=0, atol=1e-6 * y.std())


def test_convergence_warning_names_gap_and_tol(rng):
    X, y, _ = make_problem(rng, 100, 30)
    with pytest.warns(ConvergenceWarning, match=r"duality gap .* > tol 1e-12"):
        ElasticNet(alpha=1e-4, l1_ratio=1.0, tol=1e-12, max_iter=2).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m = ElasticNet(alpha=1e-3, l1_ratio=1.0).fit(X, y)
    assert m.certificate_.converged.all()
    assert m.certificate_.relative_gap[0] <= 1e-7


def test_default_tolerance_gives_objective_within_1e7(rng):
    X, y, w = make_problem(rng, 300, 40, weights=True)

    def objective(coef, intercept, alpha, r):
        wn = w / w.sum()
        res = y - intercept - X @ coef
        return 0.5 * wn @ res**2 + alpha * (r * np.abs(coef).sum() + 0.5 * (1 - r) * coef @ coef)

    for r in (0.1, 1.0):
        loose = ElasticNet(alpha=0.01, l1_ratio=r, standardize=False).fit(X, y, sample_weight=w)
        tight = ElasticNet(alpha=0.01, l1_ratio=r, standardize=False, tol=TIGHT).fit(
            X, y, sample_weight=w)
        f_loose = objective(loose.coef_, loose.intercept_, 0.01, r)
        f_opt = objective(tight.coef_, tight.intercept_, 0.01, r)
        assert 0 <= (f_loose - f_opt) / f_opt < 1e-7


def test_near_saturated_lasso_with_more_features_than_rows_converges():
    """p > n at a small alpha: coordinate descent alone crawls; the answer must still be exact."""
    for s in range(40):
        r = np.random.default_rng(s)
        X = r.normal(size=(30, 80))
        y = X[:, :5] @ r.normal(size=5) * 3 + r.normal(size=30)
        m = ElasticNet(alpha=0.01, l1_ratio=1.0, standardize=False).fit(X, y)
        assert m.certificate_.converged[0], s
        ref = SkElasticNet(alpha=0.01, l1_ratio=1.0, tol=1e-14, max_iter=10**6).fit(X, y)

        def objective(coef, b0):
            return 0.5 * np.mean((y - b0 - X @ coef) ** 2) + 0.01 * np.abs(coef).sum()

        f_ours, f_ref = objective(m.coef_, m.intercept_), objective(ref.coef_, ref.intercept_)
        assert f_ours <= f_ref * (1 + 1e-7), s
        assert kkt_violation(X, y, m.coef_, m.intercept_, 0.01, 1.0) < 1e-5


def test_ridge_path_from_one_eigendecomposition_is_exact(rng):
    X, y, w = make_problem(rng, 150, 12, weights=True)
    wn = w / w.sum()
    Xc, yc = X - wn @ X, y - wn @ y
    G, c = Xc.T @ (wn[:, None] * Xc), Xc.T @ (wn * yc)
    res = enet_path(X, y, sample_weight=w, l1_ratio=0.0, n_alphas=30, standardize=False,
                    tol=TIGHT)
    assert res.certificate.converged.all()
    for k, a in enumerate(res.alphas):
        assert rel_err(res.coef[k], np.linalg.solve(G + a * np.eye(12), c)) < 1e-9
        assert kkt_violation(X, y, res.coef[k], res.intercept[k], a, 0.0, sample_weight=w) < 1e-9
    # with a bound the shortcut does not apply; coordinate descent gives the same answer
    bounded = enet_path(X, y, sample_weight=w, l1_ratio=0.0, alphas=res.alphas,
                        standardize=False, upper_bounds=1e6, tol=TIGHT)
    np.testing.assert_allclose(bounded.coef, res.coef, rtol=1e-8, atol=1e-12)


@pytest.mark.parametrize("solver", ["covariance", "naive"])
def test_cv_convergence_warning_names_the_reached_gap(rng, solver):
    import re

    from enet import ElasticNetCV
    X, y, _ = make_problem(rng, 100, 30)
    with pytest.warns(ConvergenceWarning) as rec:      # the CV's, then the final path's
        ElasticNetCV(l1_ratio=1.0, n_alphas=10, tol=1e-12, max_iter=2, cv=3,
                     solver=solver).fit(X, y)
    cv_warning = [str(w.message) for w in rec if "cross-validation" in str(w.message)]
    assert len(cv_warning) == 1 and "max_iter=2 (worst relative duality gap" in cv_warning[0]
    gap = float(re.search(r"duality gap ([0-9.e+-]+)\)", cv_warning[0]).group(1))
    assert 1e-12 < gap < 1.0

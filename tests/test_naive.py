"""The naive (on-X) solver: the same answers as the covariance solver and scikit-learn,
for dense (C and Fortran order) and sparse (CSR, CSC) X, with KKT checked on every point."""

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.linear_model import ElasticNet as SkElasticNet
from sklearn.linear_model import enet_path as sk_enet_path

from enet.core import naive
from enet.core.naive import choose_solver, solve_path
from enet.core.path import enet_path
from kkt import kkt_violation
from naive_paths import dense_naive_path as path_from_arrays


TIGHT = 1e-12
SK_TIGHT = dict(tol=1e-15, max_iter=1_000_000)
KKT_TOL = 1e-8


def make_problem(rng, n, p, weights=False, density=0.3):
    """Sparse-ish design (zeros at random, correlated neighbours, nonzero column means)."""
    X = rng.standard_normal((n, p)) * rng.uniform(0.5, 3.0, p) + rng.uniform(-2, 2, p)
    X[:, 1:] += 0.6 * X[:, :-1]
    X[rng.random((n, p)) > density] = 0.0
    beta = np.zeros(p)
    beta[:5] = [2.0, -1.5, 1.0, 0.5, -0.5]
    y = X @ beta + 3.0 + rng.standard_normal(n)
    w = rng.uniform(0.2, 3.0, n) if weights else None
    return X, y, w


def rel_err(a, b):
    return np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300)


def layouts(X):
    return {"F": np.asfortranarray(X), "C": np.ascontiguousarray(X), "CSR": sp.csr_matrix(X),
            "CSC": sp.csc_matrix(X)}


def assert_kkt(X, y, w, res, **kw):
    for k in range(len(res.alphas)):
        viol = kkt_violation(X, y, res.coef[k], res.intercept[k], res.alphas[k], res.l1_ratio,
                             sample_weight=w, **kw)
        assert viol < KKT_TOL, (k, viol)


@pytest.mark.parametrize("n,p", [(40, 90), (150, 20)])
@pytest.mark.parametrize("l1_ratio", [1.0, 0.5, 0.01])
@pytest.mark.parametrize("weighted", [False, True])
def test_layouts_equal_covariance_and_satisfy_kkt(rng, n, p, l1_ratio, weighted):
    X, y, w = make_problem(rng, n, p, weighted)
    pf = np.ones(p)
    pf[3] = 0.0                                     # one unpenalised feature
    for fit_intercept, standardize in [(True, False), (True, True), (False, True)]:
        kw = dict(sample_weight=w, l1_ratio=l1_ratio, n_alphas=15, fit_intercept=fit_intercept,
                  standardize=standardize, penalty_factor=pf, tol=TIGHT)
        ref = enet_path(X, y, **kw)
        for name, Xl in layouts(X).items():
            res = path_from_arrays(Xl, y, **kw)
            where = (name, fit_intercept, standardize)
            assert res.solver == "naive"
            np.testing.assert_allclose(res.alphas, ref.alphas, rtol=1e-12, err_msg=str(where))
            assert rel_err(res.coef, ref.coef) < 1e-8, where
            assert rel_err(res.intercept, ref.intercept) < 1e-8, where
            np.testing.assert_allclose(res.x_mean, ref.x_mean, rtol=1e-12, atol=1e-14)
            np.testing.assert_allclose(res.x_scale, ref.x_scale, rtol=1e-12)
            np.testing.assert_allclose(res.coef_std, res.coef * res.x_scale, rtol=1e-12,
                                       atol=1e-300)
            assert res.certificate.converged.all(), where
            # tol, or the numerical floor of the gap (~1e-14 (1 + sqrt p) of y'Wy)
            assert np.all(res.certificate.relative_gap < 1e-10), where
            assert np.all(res.coef[:, 3] != 0), where  # unpenalised: in from alpha_max on
            if name == "F":
                assert_kkt(X, y, w, res, standardize=standardize, fit_intercept=fit_intercept,
                           penalty_factor=pf)


@pytest.mark.parametrize("l1_ratio", [1.0, 0.5, 0.01])
def test_weighted_wide_matches_sklearn(rng, l1_ratio):
    X, y, w = make_problem(rng, 40, 120, weights=True)
    res = path_from_arrays(X, y, sample_weight=w, l1_ratio=l1_ratio, n_alphas=12,
                           standardize=False, tol=TIGHT)
    for k in range(1, 12, 2):
        ref = SkElasticNet(alpha=res.alphas[k], l1_ratio=l1_ratio, **SK_TIGHT).fit(
            X, y, sample_weight=w)
        assert rel_err(res.coef[k], ref.coef_) < 1e-8, k
        assert abs(res.intercept[k] - ref.intercept_) < 1e-8 * max(1.0, abs(ref.intercept_))
    assert_kkt(X, y, w, res)


def test_sparse_path_matches_sklearn_sparse_path(rng):
    X, y, _ = make_problem(rng, 50, 140, density=0.1)
    Xs = sp.csr_matrix(X)
    res = path_from_arrays(Xs, y, l1_ratio=0.7, n_alphas=20, standardize=False, tol=TIGHT)
    xbar, ybar = X.mean(0), y.mean()
    _, coefs, _ = sk_enet_path(Xs, y - ybar, l1_ratio=0.7, alphas=res.alphas, X_offset=xbar,
                               X_scale=np.ones(140), **SK_TIGHT)
    for k in range(20):
        if np.any(coefs[:, k]):
            assert rel_err(res.coef[k], coefs[:, k]) < 1e-8, k
        else:
            assert not np.any(res.coef[k])
    np.testing.assert_allclose(res.intercept, ybar - res.coef @ xbar, rtol=1e-12)
    assert_kkt(X, y, None, res)


@pytest.mark.parametrize("sparse", [False, True])
def test_alpha_max_is_exact(rng, sparse):
    X, y, w = make_problem(rng, 30, 80, weights=True)
    pf = np.ones(80)
    pf[7] = 0.0
    Xl = sp.csc_matrix(X) if sparse else X
    for l1_ratio in (1.0, 0.5, 0.01):
        res = path_from_arrays(Xl, y, sample_weight=w, l1_ratio=l1_ratio, n_alphas=2,
                               eps=0.999999, penalty_factor=pf, tol=TIGHT)
        assert not np.any(res.coef[0][pf > 0]) and res.coef[0][7] != 0
        assert np.any(res.coef[1][pf > 0])      # a hair below alpha_max something enters
        # alpha_max from the definition: the largest standardised correlation with the
        # residual of the unpenalised fit, over l1_ratio
        wn = w / w.sum()
        Xc, yc = X - wn @ X, y - wn @ y
        sd = np.sqrt(wn @ Xc**2)
        xu = Xc[:, 7]
        ru = yc - xu * ((wn * xu) @ yc) / ((wn * xu) @ xu)
        amax = np.max(np.abs((Xc / sd).T @ (wn * ru))[pf > 0]) / max(l1_ratio, 1e-3)
        assert abs(res.alphas[0] / amax - 1) < 1e-12


def test_bounds_and_positive_match_covariance(rng):
    X, y, w = make_problem(rng, 40, 70, weights=True)
    lo = np.full(70, -np.inf)
    up = np.full(70, np.inf)
    up[0], lo[1] = 1.0, -0.5
    for kw in (dict(lower_bounds=lo, upper_bounds=up), dict(positive=True)):
        ref = enet_path(X, y, sample_weight=w, l1_ratio=0.5, n_alphas=10, tol=TIGHT, **kw)
        for Xl in (X, sp.csc_matrix(X)):
            res = path_from_arrays(Xl, y, sample_weight=w, l1_ratio=0.5, n_alphas=10,
                                   tol=TIGHT, **kw)
            assert rel_err(res.coef, ref.coef) < 1e-8
        assert_kkt(X, y, w, res, standardize=True, **kw)


def test_constant_and_empty_columns_get_zero(rng):
    X, y, _ = make_problem(rng, 30, 50)
    X[:, 4] = 7.25
    X[:, 9] = 0.0
    for Xl in (X, sp.csr_matrix(X)):
        for standardize in (True, False):
            res = path_from_arrays(Xl, y, l1_ratio=0.5, n_alphas=10, standardize=standardize,
                                   tol=TIGHT)
            assert not np.any(res.coef[:, [4, 9]]) and np.all(np.isfinite(res.coef))


def test_large_offsets_lose_no_precision(rng):
    X, y, _ = make_problem(rng, 40, 60, density=1.0)
    Xs = X * 1e-3 + 1e6             # the data themselves keep ~7 digits of X
    X[:, 5] = 0.0                   # a plain sparse column next to the nearly constant ones
    Xs[:, 5] = 0.0
    kw = dict(l1_ratio=0.5, n_alphas=10, tol=TIGHT)
    a = path_from_arrays(X, y, **kw)
    ref = enet_path(Xs, y, **kw)
    for Xl in (Xs, sp.csc_matrix(Xs)):
        b = path_from_arrays(Xl, y, **kw)
        assert rel_err(b.coef, ref.coef) < 1e-8
        np.testing.assert_allclose(b.alphas, a.alphas, rtol=1e-7)
        np.testing.assert_allclose(b.coef * 1e-3, a.coef, atol=1e-6 * np.abs(a.coef).max())


def test_warm_start_and_no_copy_of_fortran_x(rng):
    X, y, _ = make_problem(rng, 30, 60)
    XF = np.asfortranarray(X)
    assert np.shares_memory(naive._design(XF)[0], XF)
    assert not np.shares_memory(naive._design(np.ascontiguousarray(X))[0], X)
    full = path_from_arrays(XF, y, l1_ratio=0.5, n_alphas=10, tol=TIGHT)
    warm = path_from_arrays(XF, y, l1_ratio=0.5, alphas=full.alphas[5:], tol=TIGHT,
                            coef_init=full.coef[4])
    assert rel_err(warm.coef, full.coef[5:]) < 1e-8


def test_huge_sparse_is_never_densified(rng):
    # densifying this matrix would take 480 GB
    n, p, nnz = 200_000, 300_000, 120_000
    X = sp.csr_matrix((rng.standard_normal(nnz), (rng.integers(0, n, nnz),
                                                   rng.integers(0, p, nnz))), shape=(n, p))
    beta = np.zeros(p)
    cols = np.unique(X.indices)[:10]
    beta[cols] = 1.0
    y = X @ beta + 0.1 * rng.standard_normal(n)
    res = path_from_arrays(X, y, l1_ratio=1.0, n_alphas=5, eps=0.1, standardize=False)
    assert res.certificate.converged.all() and np.any(res.coef[-1][cols])


def test_choose_solver():
    assert choose_solver(400, 10_000, 1.0) == "naive"              # p > n
    assert choose_solver(500_000, 100, 1.0) == "covariance"        # tall dense
    assert choose_solver(10**7, 20_000, 1.0) == "naive"            # Gram > 1 GiB
    assert choose_solver(10**6, 5_000, 0.001) == "naive"           # sparse, many features
    assert choose_solver(10**6, 500, 0.001) == "covariance"        # sparse, few features
    assert choose_solver(10**6, 5_000, 1.0, memory_budget=100 << 20) == "naive"


def test_solve_path_records_the_choice(rng):
    X, y, _ = make_problem(rng, 30, 60)
    wide = solve_path(X, y, l1_ratio=0.5, n_alphas=5, tol=TIGHT)
    assert wide.solver == "naive"
    tall = solve_path(X[:, :20], y, l1_ratio=0.5, n_alphas=5, tol=TIGHT)
    assert tall.solver == "covariance"
    forced = solve_path(sp.csr_matrix(X[:, :20]), y, solver="covariance", l1_ratio=0.5,
                        n_alphas=5, tol=TIGHT)
    same = solve_path(X[:, :20], y, solver="naive", l1_ratio=0.5, n_alphas=5, tol=TIGHT)
    assert forced.solver == "covariance" and same.solver == "naive"
    assert rel_err(forced.coef, same.coef) < 1e-8


def test_lasso_path_to_interpolation_converges(rng):
    """At the end of a lasso path on wide, block-correlated data the support nears n and
    its Gram is ill-conditioned: coordinate descent crawls below the step tolerance while
    the gap stays open. An exact step on the support must close it (this point used to run
    to max_iter with a relative gap ~1e-5)."""
    n, p, block = 200, 1000, 10
    shared = rng.standard_normal((n, p // block))
    X = np.sqrt(0.2) * rng.standard_normal((n, p)) + np.sqrt(0.8) * np.repeat(shared, block, 1)
    beta = np.zeros(p)
    beta[:20] = np.linspace(1.0, 2.0, 20) * (-1.0) ** np.arange(20)
    y = X @ beta + rng.standard_normal(n) * (X @ beta).std() / 3.0
    res = path_from_arrays(np.asfortranarray(X), y, l1_ratio=1.0, eps=1e-3, standardize=False,
                           max_iter=5000)
    cert = res.certificate
    assert cert.converged.all() and np.all(cert.relative_gap <= 1e-7)
    assert np.count_nonzero(res.coef[-1]) > 0.9 * n         # the regime that used to stall
    assert_kkt(X, y, None, res, standardize=False)


@pytest.mark.parametrize("solver", ["naive", "covariance"])
def test_single_fit_far_below_alpha_max_is_reached_along_a_path(solver):
    """p >> n with little L1 at a tiny alpha: coordinate descent from zero stalls (the
    cold start stops at a relative gap near 0.3 after max_iter sweeps, as scikit-learn's
    does), a warm-started path from alpha_max does not."""
    import warnings

    import enet
    from enet.exceptions import ConvergenceWarning

    rng = np.random.default_rng(0)
    X = rng.normal(size=(25, 1000))
    y = X[:, :5] @ np.ones(5) + rng.normal(size=25)
    alpha, l1_ratio = 1e-4, 0.01
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        m = enet.ElasticNet(alpha=alpha, l1_ratio=l1_ratio, standardize=False,
                            solver=solver).fit(X, y)
    assert m.certificate_.converged.all() and m.certificate_.relative_gap[0] <= 1e-7
    assert kkt_violation(X, y, m.coef_, m.intercept_, alpha, l1_ratio) < 1e-8
    other = enet.ElasticNet(alpha=alpha, l1_ratio=l1_ratio, standardize=False,
                            solver="covariance" if solver == "naive" else "naive").fit(X, y)
    # the objective is strongly convex (L2 term): near-equal objectives, near-equal fits
    np.testing.assert_allclose(X @ m.coef_ + m.intercept_, X @ other.coef_ + other.intercept_,
                               rtol=0, atol=1e-4 * np.std(y))


@pytest.mark.parametrize("layout", ["dense", "csc"])
def test_a_huge_value_on_a_row_weighted_zero_does_not_remove_its_column(layout):
    """The constant-column test compared the spread with the largest |x| over all rows, so
    1e14 on a zero-weight row (a held-out row in CV) zeroed a real feature, certified."""
    import enet

    rng = np.random.default_rng(3)
    X = rng.standard_normal((30, 50))
    y = 3 * X[:, 0] + 0.1 * rng.standard_normal(30)
    X[0, 0] = 1e14
    w = np.ones(30)
    w[0] = 0.0
    Xs = sp.csc_matrix(X) if layout == "csc" else X
    m = enet.ElasticNet(alpha=0.01, l1_ratio=0.5, standardize=False,
                        solver="naive").fit(Xs, y, sample_weight=w)
    ref = SkElasticNet(alpha=0.01, l1_ratio=0.5, tol=1e-14, max_iter=100_000).fit(
        X[1:], y[1:])
    assert m.coef_[0] == pytest.approx(ref.coef_[0], rel=1e-6)
    assert kkt_violation(X[1:], y[1:], m.coef_, m.intercept_, 0.01, 0.5) < 1e-8

"""Collinear designs: duplicated and nearly duplicated columns, and one-hot indicators that
sum to one (collinear with the intercept). Coefficients are not unique there, so the tests
check what is: the objective (against scikit-learn at a tight tolerance), the sum of the
coefficients of a duplicated group, the KKT conditions, and that the reported duality gap
really bounds the distance to the optimal objective."""

import threading

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.linear_model import ElasticNet as SkElasticNet
from threadpoolctl import threadpool_info

from enet.core._blas import one_blas_thread
from enet.core._cd_gram import dual_value
from enet.core.cv import kfold_ids
from enet.core.path import enet_path
from kkt import kkt_violation
from naive_paths import dense_naive_path as path_from_arrays


SK_TIGHT = dict(tol=1e-15, max_iter=1_000_000)


def objective(X, y, coef, intercept, alpha, l1_ratio, scale):
    r = y - intercept - X @ coef
    b = coef * scale
    return 0.5 * np.mean(r * r) + alpha * (l1_ratio * np.abs(b).sum()
                                           + 0.5 * (1 - l1_ratio) * b @ b)


def duplicated_design(rng, n=60, p=40):
    """Sparse counts with exact duplicates (columns 0-2 equal) and near duplicates
    (column 5 = column 4 plus one changed entry); p > n."""
    X = rng.poisson(0.4, (n, p)).astype(float)
    X[:, 1] = X[:, 0]
    X[:, 2] = X[:, 0]
    X[:, 5] = X[:, 4]
    X[0, 5] += 1.0
    y = 2.0 * X[:, 0] - 1.5 * X[:, 4] + X[:, 7] + rng.standard_normal(n)
    return X, y


def one_hot_design(rng, n=300, levels=12):
    """Every indicator of a categorical kept (they sum to one) plus a numeric column."""
    codes = rng.integers(0, levels, n)
    X = np.zeros((n, levels + 1))
    X[np.arange(n), codes] = 1.0
    X[:, levels] = rng.standard_normal(n)
    y = X[:, levels] + 0.3 * (codes % 4) + rng.standard_normal(n)
    return X, y


def check_against_sklearn(X, y, res, standardize):
    """Objective equal to scikit-learn's (on the scaled columns), KKT, and the certificate
    bounds the true objective gap."""
    sd = X.std(axis=0) if standardize else np.ones(X.shape[1])
    sd[sd == 0] = 1.0
    for k in (len(res.alphas) // 2, len(res.alphas) - 1):
        alpha = res.alphas[k]
        ref = SkElasticNet(alpha=alpha, l1_ratio=res.l1_ratio, **SK_TIGHT).fit(X / sd, y)
        f_ref = objective(X, y, ref.coef_ / sd, ref.intercept_, alpha, res.l1_ratio, sd)
        f = objective(X, y, res.coef[k], res.intercept[k], alpha, res.l1_ratio, sd)
        assert f <= f_ref * (1 + 1e-7), (k, f, f_ref)
        # the certificate is a true upper bound on the distance to the optimum
        assert f - min(f, f_ref) <= res.certificate.duality_gap[k] * (1 + 1e-6) + 1e-14 * f
        assert kkt_violation(X, y, res.coef[k], res.intercept[k], alpha, res.l1_ratio,
                             standardize=standardize) < 1e-5
    return ref


@pytest.mark.parametrize("layout", ["dense", "sparse", "covariance"])
@pytest.mark.parametrize("l1_ratio", [1.0, 0.5])
@pytest.mark.parametrize("standardize", [True, False])
def test_duplicated_columns(rng, layout, l1_ratio, standardize):
    X, y = duplicated_design(rng)
    kw = dict(l1_ratio=l1_ratio, n_alphas=30, eps=1e-2, standardize=standardize)
    if layout == "covariance":
        res = enet_path(X, y, **kw)
    else:
        res = path_from_arrays(sp.csr_matrix(X) if layout == "sparse" else X, y, **kw)
    assert res.certificate.converged.all()
    assert np.all(res.certificate.relative_gap <= 1e-7)
    ref = check_against_sklearn(X, y, res, standardize)
    # the duplicated group: its sum is unique; it is split evenly, by the ridge part or (for
    # the lasso, whose solutions are any same-signed split) by enet.core.copies
    group = res.coef[-1, :3]
    assert abs(group.sum() - ref.coef_[:3].sum() / (X[:, 0].std() if standardize else 1.0)) \
        < 1e-5 * max(1.0, abs(group.sum()))
    np.testing.assert_allclose(group, group.mean(), rtol=1e-5 if l1_ratio < 1.0 else 1e-12)


@pytest.mark.parametrize("layout", ["dense", "sparse", "covariance"])
def test_lasso_shares_weight_evenly_between_copies_up_to_scale_and_sign(rng, layout):
    """Copies of a standardised column (equal, scaled by 3, negated) get equal standardised
    weights with their signs: the minimum-norm lasso solution, whatever the layout; the
    near copy (one entry changed) is a different column and is left alone."""
    X, y = duplicated_design(rng)
    X[:, 1] = 3.0 * X[:, 0]
    X[:, 2] = -X[:, 0] + 7.0
    kw = dict(l1_ratio=1.0, n_alphas=30, eps=1e-2, tol=1e-12)
    res = enet_path(X, y, **kw) if layout == "covariance" else path_from_arrays(
        sp.csc_matrix(X) if layout == "sparse" else X, y, **kw)
    assert res.certificate.converged.all()
    check_against_sklearn(X, y, res, standardize=True)
    std = res.coef_at(len(res.alphas) - 1) * X.std(axis=0)
    assert std[0] > 0
    np.testing.assert_allclose(std[:3], [std[0], std[0], -std[0]], rtol=1e-12)
    dense = path_from_arrays(X, y, **kw)
    for k in range(len(res.alphas)):
        np.testing.assert_allclose(res.coef_at(k), dense.coef_at(k), rtol=1e-6,
                                   atol=1e-9 * np.abs(dense.coef_at(k)).max(initial=1.0))


def test_lasso_cv_on_one_off_sparse_columns_does_not_depend_on_the_input_format():
    """Sparse columns with one nonzero in a fold coincide once standardised: which split
    of their weight a solver found used to decide the held-out errors, so float32 and
    float64, sparse and dense, naive and covariance selected different alphas."""
    import enet

    rng = np.random.default_rng(0)
    X = sp.random(60, 300, density=0.05, random_state=1, format="csr")
    X.data = np.round(X.data * 10, 2)
    b = np.zeros(300)
    b[:10] = rng.normal(size=10)
    y = X @ b + 0.1 * rng.normal(size=60)
    fits = [enet.train_model(X, y=y, l1_ratios=[1.0]),
            enet.train_model(X.astype(np.float32), y=y, l1_ratios=[1.0]),
            enet.train_model(X, y=y, l1_ratios=[1.0], solver="covariance"),
            enet.train_model(X.toarray(), y=y, l1_ratios=[1.0])]
    first = fits[0]
    for other in fits[1:]:
        assert other.alpha == pytest.approx(first.alpha, rel=1e-12)
        np.testing.assert_allclose(other.arrays["cv_mean"], first.arrays["cv_mean"], rtol=1e-6)
        np.testing.assert_allclose(other.coef, first.coef, rtol=1e-6,
                                   atol=1e-8 * np.abs(first.coef).max())


@pytest.mark.parametrize("solver", ["naive", "covariance"])
@pytest.mark.parametrize("l1_ratio", [1.0, 0.5])
def test_one_hot_collinear_with_intercept(rng, solver, l1_ratio):
    X, y = one_hot_design(rng)
    kw = dict(l1_ratio=l1_ratio, n_alphas=40, eps=1e-4)
    res = path_from_arrays(X, y, **kw) if solver == "naive" else enet_path(X, y, **kw)
    assert res.certificate.converged.all()
    check_against_sklearn(X, y, res, standardize=True)
    # fitted values agree between the solvers even though coefficients need not
    other = enet_path(X, y, **kw) if solver == "naive" else path_from_arrays(X, y, **kw)
    fit = res.intercept[:, None] + res.coef @ X.T
    fit_other = other.intercept[:, None] + other.coef @ X.T
    assert np.max(np.abs(fit - fit_other)) < 1e-3 * y.std()


def test_dual_value_is_a_lower_bound(rng):
    """Weak duality for arbitrary residual-like vectors, with bounds and penalty factors."""
    n, p = 50, 20
    X = rng.standard_normal((n, p))
    y = X[:, :3] @ [1.0, -2.0, 0.5] + rng.standard_normal(n)
    Xc, yc = X - X.mean(0), y - y.mean()
    pf = rng.uniform(0.5, 2.0, p)
    lower = np.where(rng.random(p) < 0.3, -0.1, -np.inf)
    upper = np.where(rng.random(p) < 0.3, 0.2, np.inf)
    free = np.zeros(p, dtype=bool)
    for l1_ratio in (1.0, 0.5):
        alpha = 0.1
        # scikit-learn has no penalty factors or bounds: the optimum from a tight path
        res = enet_path(X, y, l1_ratio=l1_ratio, alphas=[alpha], penalty_factor=pf,
                        lower_bounds=lower, upper_bounds=upper, standardize=False, tol=1e-13)
        f_opt = res.certificate.primal[0]
        for _ in range(50):
            r = yc * rng.uniform(0, 1.5) + rng.standard_normal(n) * rng.uniform(0, 2)
            d = dual_value(Xc.T @ r / n, yc @ r / n, r @ r / n, alpha, l1_ratio, pf, lower,
                           upper, free)
            assert d <= f_opt * (1 + 1e-12)


def test_one_blas_thread_restores_after_concurrent_use():
    def blas_threads():
        return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]

    before = blas_threads()
    start = threading.Barrier(3)

    def work():
        with one_blas_thread():
            start.wait()
            with one_blas_thread():
                pass

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert blas_threads() == before


def test_lasso_trading_weight_between_coinciding_columns_is_certified_by_its_gap():
    """Standardised sparse counts: columns with one nonzero in the same row coincide, and
    near saturation the lasso's coordinates kept trading weight between copies without
    settling (one alpha ran to max_iter). Every point must now converge within tol, with
    the objective and fitted values of the covariance solver and the KKT conditions."""
    X = sp.random(150, 3000, density=0.02, random_state=1, format="csr")
    X.data = np.round(X.data * 5) + 1
    y = np.arange(150.0)
    keep = kfold_ids(0, 150, 5, 0) != 2      # a training fold of 5-fold CV: 120 rows
    X, y = X[keep], y[keep]
    kw = dict(l1_ratio=1.0, n_alphas=100, eps=1e-2, tol=1e-7)
    res = path_from_arrays(X, y, **kw)
    assert res.solver == "naive"
    assert res.certificate.converged.all()
    assert np.all(res.certificate.relative_gap <= 1e-7)
    assert res.certificate.n_iter.max() < 2000
    cov = enet_path(X.toarray(), y, **kw)
    assert cov.certificate.converged.all()
    Xd = X.toarray()
    sd = Xd.std(axis=0)
    sd[sd == 0] = 1.0
    for k in range(40, 100, 5):
        f = objective(Xd, y, res.coef[k], res.intercept[k], res.alphas[k], 1.0, sd)
        f_cov = objective(Xd, y, cov.coef[k], cov.intercept[k], cov.alphas[k], 1.0, sd)
        assert abs(f - f_cov) <= 2e-7 * f_cov, (k, f, f_cov)
        # fitted values are unique: both within sqrt(2 gap) of the optimal ones
        fit = Xd @ res.coef[k] + res.intercept[k]
        fit_cov = Xd @ cov.coef[k] + cov.intercept[k]
        bound = np.sqrt(2 * res.certificate.duality_gap[k]) + \
            np.sqrt(2 * cov.certificate.duality_gap[k])
        assert np.sqrt(np.mean((fit - fit_cov) ** 2)) <= 1.01 * bound + 1e-9 * y.std()
        assert kkt_violation(Xd, y, res.coef[k], res.intercept[k], res.alphas[k], 1.0,
                             standardize=True) < 1e-4

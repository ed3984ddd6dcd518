"""One-pass cross-validation: equal to refitting every fold from its rows, and to scikit-learn."""

import numpy as np
import pytest
from sklearn.linear_model import ElasticNetCV as SkElasticNetCV
from sklearn.linear_model import enet_path as sk_enet_path
from sklearn.model_selection import GroupKFold, KFold

from enet import ElasticNetCV, enet_path
from enet.core.cv import group_fold_ids, kfold_ids, select
from kkt import kkt_violation
from test_solver import make_problem

TIGHT = 1e-13


def slow_cv_mse(X, y, w, fold, alphas, l1_ratio, standardize):
    """Reference: refit every fold from its own rows, score held-out rows directly."""
    K = fold.max() + 1
    out = np.empty((len(alphas), K))
    for k in range(K):
        tr, te = fold != k, fold == k
        wtr = None if w is None else w[tr]
        res = enet_path(X[tr], y[tr], sample_weight=wtr, l1_ratio=l1_ratio, alphas=alphas,
                        standardize=standardize, tol=TIGHT)
        pred = X[te] @ res.coef.T + res.intercept
        wte = np.ones(te.sum()) if w is None else w[te]
        out[:, k] = (wte @ (y[te][:, None] - pred) ** 2) / wte.sum()
    return out


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("standardize", [False, True])
def test_cv_from_statistics_equals_refitting_folds(rng, weighted, standardize):
    X, y, w = make_problem(rng, 300, 12, weights=weighted)
    ratios = [0.2, 1.0]
    m = ElasticNetCV(l1_ratio=ratios, n_alphas=25, cv=5, standardize=standardize,
                     tol=TIGHT).fit(X, y, sample_weight=w)
    fold = kfold_ids(0, 300, 5, 0)
    for li, r in enumerate(ratios):
        ref = slow_cv_mse(X, y, w, fold, m.alphas_[li], r, standardize)
        np.testing.assert_allclose(m.mse_path_[li], ref, rtol=1e-8)
    # the final model is the exact all-rows solution at the selected point
    assert kkt_violation(X, y, m.coef_, m.intercept_, m.alpha_, m.l1_ratio_, sample_weight=w,
                         standardize=standardize) < 1e-7


def test_fold_paths_match_sklearn_enet_path_on_rows(rng):
    """Training statistics S - S_k give sklearn's solution on the fold's training rows."""
    X, y, _ = make_problem(rng, 200, 8)
    m = ElasticNetCV(l1_ratio=0.5, n_alphas=15, cv=4, standardize=False, tol=TIGHT).fit(X, y)
    fold = kfold_ids(0, 200, 4, 0)
    for k in range(4):
        tr, te = fold != k, fold == k
        Xc, yc = X[tr] - X[tr].mean(0), y[tr] - y[tr].mean()
        _, coefs, _ = sk_enet_path(Xc, yc, l1_ratio=0.5, alphas=m.alphas_, tol=1e-15,
                                   max_iter=10**6)
        intercepts = y[tr].mean() - X[tr].mean(0) @ coefs
        pred = X[te] @ coefs + intercepts
        mse = ((y[te][:, None] - pred) ** 2).mean(axis=0)
        np.testing.assert_allclose(m.mse_path_[:, k], mse, rtol=1e-8)


@pytest.mark.parametrize("weighted", [False, True])
def test_same_choice_as_sklearn_elasticnetcv(rng, weighted):
    X, y, w = make_problem(rng, 400, 15, weights=weighted)
    ratios = [0.1, 0.5, 0.9, 1.0]
    ours = ElasticNetCV(l1_ratio=ratios, n_alphas=30, cv=5, standardize=False, tol=TIGHT).fit(
        X, y, sample_weight=w)
    fold = kfold_ids(0, 400, 5, 0)
    splits = [(np.flatnonzero(fold != k), np.flatnonzero(fold == k)) for k in range(5)]
    sk = SkElasticNetCV(l1_ratio=ratios, alphas=ours.alphas_[0], cv=splits, tol=1e-14,
                        max_iter=10**6)
    # scikit-learn takes one alpha grid for all l1_ratios: compare on a shared grid
    ours_shared = ElasticNetCV(l1_ratio=ratios, alphas=ours.alphas_[0], cv=splits,
                               standardize=False, tol=TIGHT).fit(X, y, sample_weight=w)
    sk.fit(X, y, sample_weight=w)
    np.testing.assert_allclose(ours_shared.mse_path_, sk.mse_path_, rtol=1e-6)
    assert ours_shared.alpha_ == sk.alpha_ and ours_shared.l1_ratio_ == sk.l1_ratio_
    np.testing.assert_allclose(ours_shared.coef_, sk.coef_, rtol=1e-6,
                               atol=1e-9 * np.abs(sk.coef_).max())


def test_one_standard_error_rule():
    mean = np.array([[5.0, 3.0, 2.0, 2.5], [4.0, 2.2, 1.9, 3.0]])
    se = np.full_like(mean, 0.4)
    alphas = np.array([[4.0, 3.0, 2.0, 1.0], [4.0, 3.0, 2.0, 1.0]])
    best, imin = select(mean, se, alphas, "min")
    assert best == imin == (1, 2)
    best, imin = select(mean, se, alphas, "1se")
    assert imin == (1, 2) and best == (1, 1)     # 2.2 <= 1.9 + 0.4, largest such alpha


def test_1se_estimator_picks_larger_alpha(rng):
    X, y, _ = make_problem(rng, 300, 20)
    a = ElasticNetCV(l1_ratio=1.0, n_alphas=40).fit(X, y)
    b = ElasticNetCV(l1_ratio=1.0, n_alphas=40, selection_rule="1se").fit(X, y)
    assert b.alpha_ >= a.alpha_
    i = list(b.alphas_).index(b.alpha_)
    assert b.cv_mean_[i] <= a.cv_mean_.min() + a.cv_se_[np.argmin(a.cv_mean_)] + 1e-12


def test_kfold_ids_balanced_and_chunk_independent(seed):
    n, K = 1003, 5
    whole = kfold_ids(0, n, K, seed)
    sizes = np.bincount(whole, minlength=K)
    assert sizes.max() - sizes.min() <= 1
    cuts = [0, 1, 7, 500, 501, 1003]
    pieces = np.concatenate([kfold_ids(a, b - a, K, seed) for a, b in zip(cuts, cuts[1:])])
    np.testing.assert_array_equal(pieces, whole)
    assert not np.array_equal(kfold_ids(0, n, K, seed + 1), whole)
    assert abs(np.corrcoef(np.arange(n), whole)[0, 1]) < 0.1     # not sorted by position


def test_group_folds_never_split_a_group(rng):
    groups = rng.integers(0, 23, 500)
    fold = group_fold_ids(groups, 5)
    for g in np.unique(groups):
        assert len(np.unique(fold[groups == g])) == 1
    assert len(np.unique(fold)) == 5
    with pytest.raises(ValueError, match="distinct groups"):
        group_fold_ids(np.array([1, 1, 2, 2]), 3)


def test_groups_in_estimator_equal_explicit_group_splits(rng):
    X, y, _ = make_problem(rng, 240, 6)
    groups = np.repeat(np.arange(24), 10)
    a = ElasticNetCV(l1_ratio=0.5, n_alphas=10, cv=4).fit(X, y, groups=groups)
    fold = group_fold_ids(groups, 4)
    splits = [(np.flatnonzero(fold != k), np.flatnonzero(fold == k)) for k in range(4)]
    b = ElasticNetCV(l1_ratio=0.5, n_alphas=10, cv=splits).fit(X, y)
    np.testing.assert_allclose(a.mse_path_, b.mse_path_, rtol=1e-12)
    c = ElasticNetCV(l1_ratio=0.5, n_alphas=10, cv=GroupKFold(4)).fit(X, y, groups=groups)
    assert c.mse_path_.shape == (10, 4)


def test_cv_rejects_overlapping_splits(rng):
    X, y, _ = make_problem(rng, 50, 3)
    with pytest.raises(ValueError, match="overlap"):
        ElasticNetCV(cv=[(np.arange(25, 50), np.arange(30)), (np.arange(25), np.arange(25, 50))]
                     ).fit(X, y)


def test_sklearn_splitter_accepted(rng):
    X, y, _ = make_problem(rng, 100, 4)
    m = ElasticNetCV(cv=KFold(4, shuffle=True, random_state=1), n_alphas=8).fit(X, y)
    assert m.mse_path_.shape == (8, 4)


def test_ridge_in_the_cv_grid(rng):
    X, y, _ = make_problem(rng, 200, 10)
    m = ElasticNetCV(l1_ratio=[0.0, 0.5], n_alphas=20, tol=TIGHT).fit(X, y)
    assert np.all(np.isfinite(m.mse_path_))
    assert m.alphas_[0, 0] > m.alphas_[1, 0]      # ridge grid starts at alpha_max(1e-3)
    fold = kfold_ids(0, 200, 5, 0)
    ref = slow_cv_mse(X, y, None, fold, m.alphas_[0], 0.0, True)
    np.testing.assert_allclose(m.mse_path_[0], ref, rtol=1e-8)

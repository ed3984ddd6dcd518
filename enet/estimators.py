"""scikit-learn compatible estimators: a thin face over ``enet.core``."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from enet.core.cv import cross_validated_fit, group_fold_ids, kfold_ids
from enet.core.cv_naive import cross_validated_fit_arrays
from enet.core.naive import choose_solver, path_from_arrays
from enet.core.path import DEFAULT_MAX_ITER, DEFAULT_TOL, first_tiny_feature, path_from_stats
from enet.core.stats import FoldAccumulator, SufficientStats

__all__ = ["ElasticNet", "ElasticNetCV", "fold_ids_from_cv"]

_COMMON_CONSTRAINTS = {
    "fit_intercept": ["boolean"],
    "standardize": ["boolean"],
    "penalty_factor": ["array-like", None],
    "lower_bounds": ["array-like", Real, None],
    "upper_bounds": ["array-like", Real, None],
    "positive": ["boolean"],
    "tol": [Interval(Real, 0, None, closed="neither")],
    "max_iter": [Interval(Integral, 1, None, closed="left")],
    "solver": [StrOptions({"auto", "covariance", "naive"})],
}


def _choose(solver: str, X) -> str:
    """The solver for X: the user's choice, or the automatic one from shape and sparsity."""
    if solver != "auto":
        return solver
    n, p = X.shape
    nnz = X.nnz if sp.issparse(X) else n * p
    return choose_solver(n, p, nnz / max(n * p, 1))


def _fold_stats(X, y, w, fold, n_folds: int) -> list[SufficientStats]:
    """Per-fold statistics of a dense or sparse X."""
    acc = FoldAccumulator(X.shape[1], n_folds)
    acc.update_blocks(X, y, w, fold)
    return acc.folds()


def _fit_inputs(est: BaseEstimator, X, y, sample_weight):
    X, y = validate_data(est, X, y, dtype=np.float64, y_numeric=True, ensure_min_samples=1,
                         accept_sparse=["csc", "csr"])
    if sample_weight is not None:
        sample_weight = _check_sample_weight(sample_weight, X, dtype=np.float64,
                                             ensure_non_negative=True)
        if sample_weight.sum() <= 0:
            raise ValueError("sample_weight must have a positive sum")
    _refuse_tiny_columns(X)
    return X, y, sample_weight


def _refuse_tiny_columns(X) -> None:
    """A column whose values are all nonzero-but-tiny would square to (sub)normal dust and
    be taken for a constant; refuse it rather than return a zero coefficient."""
    if hasattr(X, "tocsc"):
        top = np.asarray(abs(X).max(axis=0).todense()).ravel()
    else:
        top = np.abs(X).max(axis=0) if X.shape[0] else np.zeros(X.shape[1])
    j = first_tiny_feature(top)
    if j >= 0:
        raise ValueError(f"column {j} of X has values too small to square in float64 "
                         f"(largest |value| {top[j]:.3g}); rescale it")


class _LinearPredictMixin(RegressorMixin):
    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True        # scipy.sparse X is used as is, never densified
        return tags

    def predict(self, X) -> np.ndarray:
        """Predict with the fitted linear model.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        check_is_fitted(self, "coef_")
        X = validate_data(self, X, dtype=np.float64, reset=False, accept_sparse=["csr", "csc"])
        return np.asarray(X @ self.coef_).ravel() + self.intercept_


class ElasticNet(_LinearPredictMixin, BaseEstimator):
    """Linear regression with combined L1 and L2 penalty, solved exactly.

    Minimises ``1/(2 sum w) sum w_i (y_i - b0 - x_i b)^2
    + alpha sum_j v_j (l1_ratio |b_j| + (1 - l1_ratio)/2 b_j^2)``, scikit-learn's
    scaling. With ``standardize=True`` the penalty applies to coefficients of
    features divided by their weighted standard deviation (glmnet's convention);
    ``coef_`` is always on the original scale.

    Parameters
    ----------
    alpha : float, default=1.0
        Penalty strength (>= 0).
    l1_ratio : float in [0, 1], default=0.5
    fit_intercept : bool, default=True
        Fit an unpenalised intercept.
    standardize : bool, default=True
    penalty_factor : array-like of shape (n_features,), optional
        Per-feature penalty multipliers ``v_j``; 0 leaves a feature unpenalised.
    lower_bounds, upper_bounds : float or array-like, optional
        Box constraints on the coefficients (zero must be feasible).
    positive : bool, default=False
        Constrain coefficients to be >= 0.
    tol : float, default=1e-7
        Relative duality-gap tolerance.
    max_iter : int, default=10000
        Maximum coordinate-descent sweeps.
    solver : {"auto", "covariance", "naive"}, default="auto"
        Coordinate descent on the Gram matrix, or on X itself (for p > n or sparse
        X; a scipy.sparse X is never densified). "auto" chooses from the shape and
        sparsity of X.

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,)
    intercept_ : float
    n_iter_ : int
        Coordinate-descent sweeps. A cold start that does not converge (far below
        alpha_max on p >> n data with little L1, say) is followed by a warm-started path
        from alpha_max down to ``alpha``; then these are the path's sweeps.
    dual_gap_ : float
    certificate_ : enet.core.path.Certificate
        Duality gap, KKT violation and convergence of the solution.
    solver_ : str
        The solver used.
    """

    _parameter_constraints = {
        "alpha": [Interval(Real, 0, None, closed="left")],
        "l1_ratio": [Interval(Real, 0, 1, closed="both")],
        **_COMMON_CONSTRAINTS,
    }

    def __init__(self, alpha: float = 1.0, l1_ratio: float = 0.5, *, fit_intercept: bool = True,
                 standardize: bool = True, penalty_factor=None, lower_bounds=None,
                 upper_bounds=None, positive: bool = False, tol: float = DEFAULT_TOL,
                 max_iter: int = DEFAULT_MAX_ITER, solver: str = "auto") -> None:
        self.alpha = alpha
        self.l1_ratio = l1_ratio
        self.fit_intercept = fit_intercept
        self.standardize = standardize
        self.penalty_factor = penalty_factor
        self.lower_bounds = lower_bounds
        self.upper_bounds = upper_bounds
        self.positive = positive
        self.tol = tol
        self.max_iter = max_iter
        self.solver = solver

    def fit(self, X, y, sample_weight=None) -> "ElasticNet":
        """Fit the model.

        Parameters
        ----------
        X : array-like or scipy.sparse matrix of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,), optional

        Returns
        -------
        self
        """
        self._validate_params()
        X, y, w = _fit_inputs(self, X, y, sample_weight)
        self.solver_ = _choose(self.solver, X)
        settings = dict(l1_ratio=self.l1_ratio, alphas=np.array([self.alpha]),
                        fit_intercept=self.fit_intercept, standardize=self.standardize,
                        penalty_factor=self.penalty_factor, lower_bounds=self.lower_bounds,
                        upper_bounds=self.upper_bounds, positive=self.positive,
                        tol=self.tol, max_iter=self.max_iter)
        if self.solver_ == "naive":
            def solve(**kw):
                return path_from_arrays(X, y, sample_weight=w, **kw)
        else:
            stats = _fold_stats(X, y, w, np.zeros(X.shape[0], np.int64), 1)[0]

            def solve(**kw):
                return path_from_stats(stats, **kw)
        res = solve(**settings, warn=False)
        if not res.certificate.converged[0]:
            res = _solve_along_path(solve, settings, self.alpha)
        last = len(res.alphas) - 1
        self.coef_ = res.coef_at(last)
        self.intercept_ = float(res.intercept[last])
        self.n_iter_ = int(res.certificate.n_iter.sum())
        self.dual_gap_ = float(res.certificate.duality_gap[last])
        self.certificate_ = res.certificate.at(last)
        return self


# points per decade of alpha when a single fit is reached along a warm-started path
_POINTS_PER_DECADE = 10


def _solve_along_path(solve, settings: dict, alpha: float):
    """Reach ``alpha`` from alpha_max along a warm-started path, warning if even that fails.

    A cold start far below alpha_max can stall (on p >> n data with little L1, coordinate
    descent from zero crawls along the ill-conditioned directions), while each step of a
    path starts next to its answer: glmnet's reason to always fit along a path.
    """
    top = solve(**dict(settings, alphas=None, n_alphas=1, eps=None), warn=False).alphas[0]
    decades = np.log10(top / alpha) if np.isfinite(top) and top > alpha > 0 else 0.0
    if decades <= 0.0:
        return solve(**settings, warn=True)
    n_points = int(min(max(np.ceil(decades * _POINTS_PER_DECADE), 2), 200)) + 1
    alphas = np.geomspace(top, alpha, n_points)
    alphas[-1] = alpha
    return solve(**dict(settings, alphas=alphas), warn=True)


def fold_ids_from_cv(cv, n_rows: int, groups=None, X=None, y=None, seed: int = 0) -> np.ndarray:
    """Fold of every row from an int, a scikit-learn splitter or (train, test) pairs.

    With an int, folds come from :func:`enet.core.cv.kfold_ids` (or
    :func:`group_fold_ids` when groups are given). Splitters must put every row
    in exactly one test fold.
    """
    if isinstance(cv, Integral):
        if groups is not None:
            if len(groups) != n_rows:
                raise ValueError(f"groups has {len(groups)} entries for {n_rows} samples")
            return group_fold_ids(np.asarray(groups), int(cv), seed)
        if cv > n_rows:
            raise ValueError(f"cv={cv} folds need at least {cv} samples; got n_samples={n_rows}")
        return kfold_ids(0, n_rows, int(cv), seed)
    splits = cv.split(X, y, groups) if hasattr(cv, "split") else cv
    fold = np.full(n_rows, -1, dtype=np.int64)
    for k, (_, test) in enumerate(splits):
        test = np.asarray(test)
        if np.any(fold[test] >= 0):
            raise ValueError("cv test folds overlap; each row must be in exactly one test fold")
        fold[test] = k
    if np.any(fold < 0):
        raise ValueError("cv test folds do not cover every row; use a KFold-like splitter")
    return fold


class ElasticNetCV(_LinearPredictMixin, BaseEstimator):
    """Elastic Net with K-fold cross-validation over alpha and l1_ratio.

    All folds are cross-validated from one pass of sufficient statistics: the
    cost of the grid does not grow with the number of rows.

    Parameters
    ----------
    l1_ratio : float or list of float in [0, 1], default=0.5
    eps : float, optional
        ``alpha_min / alpha_max``; default 1e-3 if n_samples > n_features else 1e-2.
    n_alphas : int, default=100
    alphas : array-like, optional
        Explicit grid (shared by all l1_ratios).
    cv : int, splitter or iterable of (train, test), default=5
        An int gives seeded shuffled folds (group folds when ``groups`` is passed
        to ``fit``).
    selection_rule : {"min", "1se"}, default="min"
    fit_intercept, standardize, penalty_factor, lower_bounds, upper_bounds,
    positive, tol, max_iter
        As in :class:`ElasticNet`.
    n_jobs : int, optional
        Threads for the fold paths (default: all CPUs).
    random_state : int, default=0
        Seed of the fold assignment.

    Attributes
    ----------
    alpha_, l1_ratio_ : float
        The selected hyperparameters.
    coef_, intercept_
        Refit on all rows at the selected point.
    alphas_ : ndarray (n_alphas,) or (n_l1_ratio, n_alphas)
    mse_path_ : ndarray (n_alphas, n_folds) or (n_l1_ratio, n_alphas, n_folds)
    cv_mean_, cv_se_ : mean held-out MSE and its standard error per grid point.
    n_iter_, dual_gap_ : of the final fit.
    cv_result_ : enet.core.cv.CVResult
    path_ : enet.core.path.PathResult of the final fit along the selected l1_ratio's grid.
    """

    _parameter_constraints = {
        "l1_ratio": [Interval(Real, 0, 1, closed="both"), "array-like"],
        "eps": [Interval(Real, 0, 1, closed="neither"), None],
        "n_alphas": [Interval(Integral, 1, None, closed="left")],
        "alphas": ["array-like", None],
        "cv": ["cv_object"],
        "selection_rule": [StrOptions({"min", "1se"})],
        "n_jobs": [Interval(Integral, 1, None, closed="left"), None],
        "random_state": [Interval(Integral, 0, 2**63 - 1, closed="both"), None],
        **_COMMON_CONSTRAINTS,
    }

    def __init__(self, *, l1_ratio=0.5, eps: float | None = None, n_alphas: int = 100,
                 alphas=None, cv=5, selection_rule: str = "min", fit_intercept: bool = True,
                 standardize: bool = True, penalty_factor=None, lower_bounds=None,
                 upper_bounds=None, positive: bool = False, tol: float = DEFAULT_TOL,
                 max_iter: int = DEFAULT_MAX_ITER, n_jobs: int | None = None,
                 random_state: int = 0, solver: str = "auto") -> None:
        self.l1_ratio = l1_ratio
        self.eps = eps
        self.n_alphas = n_alphas
        self.alphas = alphas
        self.cv = cv
        self.selection_rule = selection_rule
        self.fit_intercept = fit_intercept
        self.standardize = standardize
        self.penalty_factor = penalty_factor
        self.lower_bounds = lower_bounds
        self.upper_bounds = upper_bounds
        self.positive = positive
        self.tol = tol
        self.max_iter = max_iter
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.solver = solver

    def fit(self, X, y, sample_weight=None, groups=None) -> "ElasticNetCV":
        """Cross-validate the grid, then refit on all rows at the selected point.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,), optional
        groups : array-like of shape (n_samples,), optional
            Group labels; no group is split across folds.

        Returns
        -------
        self
        """
        self._validate_params()
        ratios = np.atleast_1d(np.asarray(self.l1_ratio, dtype=np.float64))
        if ratios.ndim != 1 or ratios.size == 0 or np.any((ratios < 0) | (ratios > 1)):
            raise ValueError(f"The 'l1_ratio' parameter of ElasticNetCV must be a float or a "
                             f"list of floats in [0, 1]. Got {self.l1_ratio!r} instead.")
        X, y, w = _fit_inputs(self, X, y, sample_weight)
        seed = self.random_state
        if seed is None:          # scikit-learn's meaning: a fresh random fold assignment
            seed = int(np.random.SeedSequence().generate_state(1)[0])
        fold = fold_ids_from_cv(self.cv, X.shape[0], groups, X, y, seed)
        n_folds = int(fold.max()) + 1
        self.solver_ = _choose(self.solver, X)
        common = dict(l1_ratios=ratios, alphas=self.alphas, n_alphas=self.n_alphas,
                      eps=self.eps, selection=self.selection_rule, n_jobs=self.n_jobs,
                      fit_intercept=self.fit_intercept, standardize=self.standardize,
                      penalty_factor=self.penalty_factor, lower_bounds=self.lower_bounds,
                      upper_bounds=self.upper_bounds, positive=self.positive, tol=self.tol,
                      max_iter=self.max_iter)
        if self.solver_ == "naive":
            cvr, path = cross_validated_fit_arrays(X, y, fold, sample_weight=w, **common)
        else:
            cvr, path = cross_validated_fit(_fold_stats(X, y, w, fold, n_folds), **common)
        self._store(cvr, path, ratios)
        return self

    def _store(self, cvr, path, ratios: np.ndarray) -> None:
        li, ai = cvr.best_index
        single = np.ndim(self.l1_ratio) == 0
        self.cv_result_ = cvr
        self.path_ = path
        self.alpha_ = float(cvr.alphas[li, ai])
        self.l1_ratio_ = float(ratios[li])
        self.coef_ = path.coef_at(ai)
        self.intercept_ = float(path.intercept[ai])
        self.n_iter_ = int(path.certificate.n_iter[ai])
        self.dual_gap_ = float(path.certificate.duality_gap[ai])
        self.alphas_ = cvr.alphas[0] if single else cvr.alphas
        self.mse_path_ = cvr.mse_path[0] if single else cvr.mse_path
        self.cv_mean_ = cvr.mean[0] if single else cvr.mean
        self.cv_se_ = cvr.se[0] if single else cvr.se

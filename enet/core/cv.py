"""K-fold cross-validation from per-fold sufficient statistics.

One pass over the rows gives the statistics ``S_k`` of every fold. The
training statistics of fold k are ``S - S_k`` and the held-out error of any
linear model on fold k is a quadratic form in ``S_k``, so the whole
alpha x l1_ratio grid is cross-validated without touching the rows again.
"""

from __future__ import annotations

import os
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from enet.core._blas import one_blas_thread
from enet.core.path import (DEFAULT_MAX_ITER, DEFAULT_TOL, PathResult, alpha_grid, alpha_max,
                            default_eps, path_from_stats, penalty_setup, prepare_problem)
from enet.core.stats import SufficientStats
from enet.exceptions import ConvergenceWarning

__all__ = ["CVResult", "cross_validate", "cross_validated_fit", "kfold_ids", "group_fold_ids",
           "assign_group_folds", "select", "sum_stats"]

_MIX = np.uint64(0x9E3779B97F4A7C15)


def _splitmix64(x: np.ndarray) -> np.ndarray:
    """Vectorised splitmix64 finaliser: a well-mixed 64-bit hash of integers."""
    with np.errstate(over="ignore"):
        z = x.astype(np.uint64) + _MIX
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def kfold_ids(start: int, n_rows: int, n_folds: int, seed: int = 0) -> np.ndarray:
    """Fold of each row ``start, ..., start + n_rows - 1`` of a table.

    Rows are taken in consecutive blocks of ``n_folds``; each block is dealt to
    the folds in a seeded random order. Fold sizes therefore differ by at most
    one, and a row's fold depends only on its index and the seed, never on how
    the table is split into chunks.
    """
    if n_rows == 0:
        return np.zeros(0, dtype=np.int64)
    rows = np.arange(start, start + n_rows, dtype=np.int64)
    first_block, last_block = rows[0] // n_folds, rows[-1] // n_folds
    blocks = np.arange(first_block, last_block + 1, dtype=np.int64)
    slots = np.arange(n_folds, dtype=np.int64)
    keys = _splitmix64((blocks[:, None] * n_folds + slots[None, :]) ^
                       _splitmix64(np.array([seed], dtype=np.int64))[0].astype(np.int64))
    # rank of each slot's key inside its block = the fold of that slot
    folds_of_slots = np.argsort(np.argsort(keys, axis=1), axis=1)
    return folds_of_slots[rows // n_folds - first_block, rows % n_folds].astype(np.int64)


def assign_group_folds(sizes: np.ndarray, n_folds: int, seed: int = 0) -> np.ndarray:
    """Fold of each group, balancing total size; no group is split.

    Groups (given in a canonical, e.g. sorted-label, order) are dealt largest
    first to the currently lightest fold; ties in size are broken by a seeded
    shuffle.
    """
    n_groups = sizes.shape[0]
    if n_groups < n_folds:
        raise ValueError(f"the group column has {n_groups} distinct groups; "
                         f"at least {n_folds} are needed for {n_folds} folds")
    tie = np.random.default_rng(seed).permutation(n_groups)
    order = np.lexsort((tie, -sizes))
    load = np.zeros(n_folds)
    fold_of_group = np.empty(n_groups, dtype=np.int64)
    for g in order:
        k = int(np.argmin(load))
        fold_of_group[g] = k
        load[k] += sizes[g]
    return fold_of_group


def group_fold_ids(groups: np.ndarray, n_folds: int, seed: int = 0) -> np.ndarray:
    """Fold of each row from its group label, balancing row counts.

    Labels are compared as strings, so a file read as text and the same column
    in memory give the same folds (see :func:`assign_group_folds`).
    """
    labels, inverse = np.unique(np.asarray(groups).astype(str), return_inverse=True)
    sizes = np.bincount(inverse, minlength=labels.shape[0]).astype(np.float64)
    return assign_group_folds(sizes, n_folds, seed)[inverse]


def sum_stats(parts: list[SufficientStats]) -> SufficientStats:
    """The statistics of all rows of several parts."""
    total = parts[0]
    for s in parts[1:]:
        total = total + s
    return total


@dataclass(frozen=True)
class CVResult:
    """Cross-validation over an l1_ratio x alpha grid.

    Attributes
    ----------
    l1_ratios : ndarray (L,)
    alphas : ndarray (L, m)   each row decreasing.
    mse_path : ndarray (L, m, K)   held-out weighted mean squared error per fold.
    mean, se : ndarray (L, m)   mean over folds and its standard error.
    best_index : tuple (l, a)   the selected grid point.
    min_index : tuple (l, a)    the grid point of minimum mean error.
    selection : str              "min" or "1se".
    fold_sizes : ndarray (K,)    rows per fold.
    n_iter_max : int             most sweeps used by any fold path point.
    all_converged : bool
    """

    l1_ratios: np.ndarray
    alphas: np.ndarray
    mse_path: np.ndarray
    mean: np.ndarray
    se: np.ndarray
    best_index: tuple[int, int]
    min_index: tuple[int, int]
    selection: str
    fold_sizes: np.ndarray
    n_iter_max: int
    all_converged: bool

    @property
    def alpha(self) -> float:
        return float(self.alphas[self.best_index])

    @property
    def l1_ratio(self) -> float:
        return float(self.l1_ratios[self.best_index[0]])


def select(mean: np.ndarray, se: np.ndarray, alphas: np.ndarray, rule: str
           ) -> tuple[tuple[int, int], tuple[int, int]]:
    """Choose a grid point: minimum mean error, or the largest alpha within one SE.

    The one-standard-error rule stays on the l1_ratio of the minimum and takes the
    largest alpha whose mean error is at most ``min + se(min)``.
    """
    flat = int(np.nanargmin(mean))
    imin = np.unravel_index(flat, mean.shape)
    imin = (int(imin[0]), int(imin[1]))
    if rule == "min":
        return imin, imin
    if rule != "1se":
        raise ValueError(f"selection must be 'min' or '1se'; got {rule!r}")
    limit = mean[imin] + se[imin]
    row = mean[imin[0]]
    ok = np.flatnonzero(row <= limit)
    best_a = int(ok[np.argmax(alphas[imin[0], ok])])
    return (imin[0], best_a), imin


def cross_validate(folds: list[SufficientStats], *, l1_ratios=(0.5,), alphas=None,
                   n_alphas: int = 100, eps: float | None = None, selection: str = "min",
                   fit_intercept: bool = True, standardize: bool = True, penalty_factor=None,
                   lower_bounds=None, upper_bounds=None, positive: bool = False,
                   tol: float = DEFAULT_TOL, max_iter: int = DEFAULT_MAX_ITER,
                   n_jobs: int | None = None) -> CVResult:
    """Cross-validate the Elastic Net from per-fold statistics.

    Parameters
    ----------
    folds : list of SufficientStats
        Statistics of each fold's rows (any common shift).
    l1_ratios : sequence of float in [0, 1]
    alphas : array-like (m,) or (L, m), optional
        Shared grid; by default ``n_alphas`` values per l1_ratio from that
        l1_ratio's alpha_max on all rows down to ``eps * alpha_max``.
    selection : {"min", "1se"}
    n_jobs : int, optional
        Threads solving fold paths concurrently (default: number of CPUs).
    Other parameters as in :func:`enet.core.path.path_from_stats`.

    Returns
    -------
    CVResult
    """
    K = len(folds)
    if K < 2:
        raise ValueError("cross-validation needs at least 2 folds")
    for k, f in enumerate(folds):
        if f.n_rows == 0 or f.sum_w <= 0:
            raise ValueError(f"fold {k + 1} of {K} has no rows with positive weight; use fewer "
                             f"folds or check the weights")
    total = sum_stats(folds)
    l1_ratios = np.atleast_1d(np.asarray(l1_ratios, dtype=np.float64))
    p = total.n_features
    if eps is None:
        eps = default_eps(total.n_rows, p)
    if alphas is None:
        pf, lower, upper = penalty_setup(p, penalty_factor, lower_bounds, upper_bounds, positive)
        problem = prepare_problem(total, fit_intercept, standardize)
        lo, up = lower * problem.scale, upper * problem.scale
        grids = np.array([alpha_grid(alpha_max(problem, r, pf, lo, up, tol, max_iter),
                                     n_alphas, eps) for r in l1_ratios])
    else:
        a = np.asarray(alphas, dtype=np.float64)
        a = np.broadcast_to(a if a.ndim == 2 else a[None, :], (len(l1_ratios), a.shape[-1]))
        grids = -np.sort(-a, axis=1)
    settings = dict(fit_intercept=fit_intercept, standardize=standardize,
                    penalty_factor=penalty_factor, lower_bounds=lower_bounds,
                    upper_bounds=upper_bounds, positive=positive, tol=tol, max_iter=max_iter,
                    warn=False)

    def solve(task: tuple[int, int]) -> FoldScore:
        li, k = task
        res = path_from_stats(total - folds[k], l1_ratio=float(l1_ratios[li]),
                              alphas=grids[li], **settings)
        sse = folds[k].weighted_sse(res.coef, res.intercept)
        return fold_score(li, k, sse / folds[k].sum_w, res)

    tasks = [(li, k) for li in range(len(l1_ratios)) for k in range(K)]
    workers = n_jobs or os.cpu_count() or 1
    # one BLAS thread for the whole grid: resizing BLAS's pool per path costs ~1 ms each
    with one_blas_thread():
        if workers > 1 and len(tasks) > 1:
            with ThreadPoolExecutor(max_workers=min(workers, len(tasks))) as pool:
                results = list(pool.map(solve, tasks))
        else:
            results = [solve(t) for t in tasks]
    return summarise(results, l1_ratios, grids, np.array([f.n_rows for f in folds]),
                     selection, tol, max_iter)


# l1 index, fold, mse path, sweeps, converged, worst relative duality gap
FoldScore = tuple[int, int, np.ndarray, int, bool, float]


def fold_score(li: int, k: int, mse: np.ndarray, res: PathResult) -> FoldScore:
    """What CV keeps of one fold path (its coefficients are dropped)."""
    cert = res.certificate
    return (li, k, mse, int(cert.n_iter.max()), bool(cert.converged.all()),
            float(np.max(cert.relative_gap)))


def summarise(results: list[FoldScore], l1_ratios: np.ndarray, grids: np.ndarray,
              fold_sizes: np.ndarray, selection: str, tol: float, max_iter: int) -> CVResult:
    """Fold scores to the CV result: mean and standard error per grid point, selection."""
    K = len(fold_sizes)
    mse = np.empty((len(l1_ratios), grids.shape[1], K))
    n_iter_max = 0
    converged = True
    worst_gap = 0.0
    for li, k, fold_mse, n_iter, ok, rel_gap in results:
        mse[li, :, k] = fold_mse
        n_iter_max = max(n_iter_max, n_iter)
        converged &= ok
        if not ok:
            worst_gap = max(worst_gap, rel_gap)
    if not converged:
        # the reached gap says how far off those fits are: often close to tol, where a
        # larger max_iter changes nothing that matters
        warnings.warn(f"some cross-validation fits did not reach tol={tol:g} within "
                      f"max_iter={max_iter} (worst relative duality gap {worst_gap:.2g}); "
                      f"increase max_iter, or tol if that gap is small enough",
                      ConvergenceWarning, stacklevel=3)
    mean = mse.mean(axis=2)
    se = mse.std(axis=2, ddof=1) / np.sqrt(K)
    best, imin = select(mean, se, grids, selection)
    return CVResult(l1_ratios, grids, mse, mean, se, best, imin, selection, fold_sizes,
                    n_iter_max, converged)


def cross_validated_fit(folds: list[SufficientStats], **kwargs) -> tuple[CVResult, PathResult]:
    """Cross-validate, then solve all rows along the selected l1_ratio's grid.

    Parameters
    ----------
    folds : list of SufficientStats
    **kwargs
        As for :func:`cross_validate`.

    Returns
    -------
    (CVResult, PathResult)
        The final model is ``path.coef[cv.best_index[1]]``.
    """
    cvr = cross_validate(folds, **kwargs)
    keys = ("fit_intercept", "standardize", "penalty_factor", "lower_bounds", "upper_bounds",
            "positive", "tol", "max_iter")
    common = {k: kwargs[k] for k in keys if k in kwargs}
    li = cvr.best_index[0]
    path = path_from_stats(sum_stats(folds), l1_ratio=float(cvr.l1_ratios[li]),
                           alphas=cvr.alphas[li], **common)
    return cvr, path

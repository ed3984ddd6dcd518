"""Cross-validation with the naive solver (X in memory: wide or sparse data).

Fold k is trained on a copy of its training rows while one such copy per worker
fits in :data:`FOLD_COPY_BUDGET` (a sweep over a column then touches only the rows
that count: 20% less work with 5 folds); otherwise on X itself with the held-out
rows' weights set to zero, so no fold copies X. Its held-out error comes from the
rows of fold k. Fold paths run concurrently (the numba kernels release the GIL),
each warm-started along the shared alpha grid, the costliest first.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import scipy.sparse as sp

from enet.core._blas import one_blas_thread
from enet.core.cv import CVResult, FoldScore, fold_score, summarise
from enet.core.naive import path_from_arrays
from enet.core.path import DEFAULT_MAX_ITER, DEFAULT_TOL, PathResult, alpha_grid, default_eps

__all__ = ["cross_validate_arrays", "cross_validated_fit_arrays"]


def cross_validate_arrays(X, y, fold_ids: np.ndarray, *, sample_weight=None,
                          l1_ratios=(0.5,), alphas=None, n_alphas: int = 100,
                          eps: float | None = None,
                          selection: str = "min", fit_intercept: bool = True,
                          standardize: bool = True, penalty_factor=None, lower_bounds=None,
                          upper_bounds=None, positive: bool = False, tol: float = DEFAULT_TOL,
                          max_iter: int = DEFAULT_MAX_ITER, n_jobs: int | None = None
                          ) -> CVResult:
    """K-fold CV over l1_ratio x alpha by naive coordinate descent on X.

    Parameters
    ----------
    X : ndarray (n, p) or scipy.sparse matrix
        Never densified; a C-ordered dense X is copied to Fortran order once.
    y : ndarray (n,)
    fold_ids : ndarray of int (n,)
        Fold of every row, 0 .. K-1.
    sample_weight : ndarray (n,), optional
    alphas : array-like (m,) or (L, m), optional
        Shared grid; by default each l1_ratio's full-data path chooses its own.
    Other parameters
        As in :func:`enet.core.cv.cross_validate`.

    Returns
    -------
    CVResult
        Fold paths are reduced to their held-out errors as they finish, so memory
        holds one coefficient path per worker thread.
    """
    n, p = X.shape
    y = np.asarray(y, dtype=np.float64)
    w = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    fold_ids = np.asarray(fold_ids)
    K = int(fold_ids.max()) + 1
    if K < 2:
        raise ValueError("cross-validation needs at least 2 folds")
    if sp.issparse(X) and X.format != "csc":
        X = X.tocsc()
    elif not sp.issparse(X) and not X.flags.f_contiguous:
        X = np.asfortranarray(X, dtype=np.float64)
    members = [np.flatnonzero(fold_ids == k) for k in range(K)]
    for k, idx in enumerate(members):
        if idx.size == 0 or w[idx].sum() <= 0:
            raise ValueError(f"fold {k + 1} of {K} has no rows with positive weight; use fewer "
                             f"folds or check the weights")
    l1_ratios = np.atleast_1d(np.asarray(l1_ratios, dtype=np.float64))
    eps = default_eps(n, p) if eps is None else eps
    settings = dict(fit_intercept=fit_intercept, standardize=standardize,
                    penalty_factor=penalty_factor, lower_bounds=lower_bounds,
                    upper_bounds=upper_bounds, positive=positive, tol=tol, max_iter=max_iter,
                    warn=False)
    # every l1_ratio's grid starts at its alpha_max on all rows
    workers = min(n_jobs or os.cpu_count() or 1, max(len(l1_ratios) * K, 1))

    if alphas is not None:
        a = np.asarray(alphas, dtype=np.float64)
        grids = -np.sort(-np.broadcast_to(a if a.ndim == 2 else a[None, :],
                                          (len(l1_ratios), a.shape[-1])), axis=1)
    else:
        # alpha_max on all rows from a one-point path (cheap), then the usual grid
        grids = np.array([alpha_grid(path_from_arrays(
            X, y, sample_weight=w, l1_ratio=float(r), n_alphas=1, **settings).alphas[0],
            n_alphas, eps) for r in l1_ratios])
    _check_path_memory(p, grids.shape[1], workers)
    copy_folds = workers * _nbytes(X) <= FOLD_COPY_BUDGET

    def solve(task: tuple[int, int]) -> FoldScore:
        """Held-out error along the grid; the fold's coefficient path is not kept."""
        li, k = task
        if copy_folds:
            train = np.flatnonzero(fold_ids != k)
            Xk, yk, wk = _rows(X, train), y[train], w[train]
        else:
            Xk, yk, wk = X, y, w.copy()
            wk[members[k]] = 0.0
        res = path_from_arrays(Xk, yk, sample_weight=wk, l1_ratio=float(l1_ratios[li]),
                               alphas=grids[li], **settings)
        del Xk
        rows = members[k]
        # the held-out rows are sliced here, not kept: all folds' slices together are a
        # second copy of X
        pred = _path_predictions(X[rows], res.coef) + res.intercept[None, :]
        resid = y[rows][:, None] - pred
        wkk = w[rows]
        return fold_score(li, k, (wkk @ (resid * resid)) / wkk.sum(), res)

    # longest first, so that no worker is left alone with a slow path at the end: paths
    # with more L1 in the penalty take longer (the lasso's support nears the rank of the
    # training rows), the ridge-like ones the least
    tasks = sorted(((li, k) for li in range(len(l1_ratios)) for k in range(K)),
                   key=lambda t: (-l1_ratios[t[0]], t))
    with one_blas_thread(), ThreadPoolExecutor(max_workers=workers) as pool:
        results = list(pool.map(solve, tasks))
    return summarise(results, l1_ratios, grids, np.array([idx.size for idx in members]),
                     selection, tol, max_iter)


def cross_validated_fit_arrays(X, y, fold_ids, **kwargs) -> tuple[CVResult, PathResult]:
    """Cross-validate on X; return the CV result and the selected l1_ratio's full path
    (all rows, along its grid)."""
    cvr = cross_validate_arrays(X, y, fold_ids, **kwargs)
    keys = ("fit_intercept", "standardize", "penalty_factor", "lower_bounds", "upper_bounds",
            "positive", "tol", "max_iter")
    li = cvr.best_index[0]
    path = path_from_arrays(X, y, sample_weight=kwargs.get("sample_weight"),
                            l1_ratio=float(cvr.l1_ratios[li]), alphas=cvr.alphas[li],
                            **{k: kwargs[k] for k in keys if k in kwargs})
    return cvr, path


# dense coefficient paths (alphas x features, raw and standardised) held at once
PATH_MEMORY_BUDGET = 4 << 30
# copies of X, one per worker, that the fold paths may hold at once (else held-out rows
# are weighted zero on X itself)
FOLD_COPY_BUDGET = 2 << 30


def _nbytes(X) -> int:
    """Bytes of X's arrays (dense or sparse)."""
    if sp.issparse(X):
        return X.data.nbytes + X.indices.nbytes + X.indptr.nbytes
    return X.nbytes


def _rows(X, rows: np.ndarray):
    """A copy of some rows of X in the layout the naive solver uses in place (CSC or
    Fortran order)."""
    if sp.issparse(X):
        return X[rows]          # CSC in, CSC out
    return np.asfortranarray(X[rows])


def _check_path_memory(p: int, n_alphas: int, workers: int) -> None:
    need = 2 * 8 * p * n_alphas * (workers + 1)
    if need > PATH_MEMORY_BUDGET:
        raise ValueError(f"{p:,} features x {n_alphas} alphas need {need / 2**30:.1f} GiB of "
                         f"coefficient paths; use fewer alphas (--n-alphas) or fewer features")


def _path_predictions(X_rows, coef) -> np.ndarray:
    """(rows, m) predictions (without intercept) of a path, dense or sparse on either side."""
    pred = X_rows @ coef.T
    return pred.toarray() if sp.issparse(pred) else np.asarray(pred)

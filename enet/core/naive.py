"""The Elastic Net path by coordinate descent on X itself ("naive" updates).

For p >~ n, or sparse X, a p x p Gram matrix costs more than X: :func:`path_from_arrays`
solves the problem of DESIGN.md section 1 on X directly, dense or scipy.sparse, with the
centring and scaling kept implicit, and returns the same :class:`~enet.core.path.PathResult`
(with the same certificate) as the covariance solver. :func:`choose_solver` picks between the
two and :func:`solve_path` runs the choice.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from enet.core._blas import one_blas_thread
from enet.core._cd_naive import column_moments, naive_path
from enet.core._columns import gradient_at
from enet.core._reserve import reserve, trimmed
from enet.core.copies import lasso_among_copies, probe_vectors
from enet.core.path import (DEFAULT_MAX_ITER, DEFAULT_TOL, PathResult, alpha_max_from_gradient,
                            enet_path, finish_path, finite_bounds, path_alphas, penalty_setup)

__all__ = ["path_from_arrays", "choose_solver", "solve_path", "GRAM_MEMORY_BUDGET"]

GRAM_MEMORY_BUDGET = 1 << 30    # bytes a p x p Gram matrix may take before naive is preferred
SPARSE_FRACTION = 0.1           # nnz / (n p) below which X counts as sparse
SPARSE_MIN_FEATURES = 2000      # sparse X with more features than this goes naive
HOMOTOPY_MIN_SUPPORT = 32      # the lasso homotopy is not used on smaller supports
EXACT_OFFSET = 1e3              # |mean| / sd above which a dense column is centred term by term


def choose_solver(n: int, p: int, nnz_fraction: float = 1.0, itemsize: int = 8,
                  memory_budget: int = GRAM_MEMORY_BUDGET) -> str:
    """``"naive"`` (coordinate descent on X) or ``"covariance"`` (on the Gram matrix).

    The rule, in order:

    * ``p > n``: naive. The Gram matrix has more entries than X and costs ``n p^2`` to
      form, while a naive sweep over the active set costs ``n`` per active feature.
    * ``p * p * itemsize > memory_budget`` (default 1 GiB, p > ~11,500 in float64): naive.
    * ``nnz_fraction < 0.1`` and ``p > 2000``: naive. A naive pass costs ``nnz`` and
      never densifies, while a dense p x p Gram matrix would cost more than X itself
      (``8 p^2`` bytes against ``12 nnz``) once ``p`` is large.
    * otherwise covariance: one pass over the rows builds the statistics, after which
      every sweep costs ``p`` per active feature, independent of ``n``.
    """
    if p > n:
        return "naive"
    if float(p) * float(p) * itemsize > memory_budget:
        return "naive"
    if nnz_fraction < SPARSE_FRACTION and p > SPARSE_MIN_FEATURES:
        return "naive"
    return "covariance"


def _design(X):
    """(X transposed, data, indices, indptr, sparse) with no copy where possible."""
    empty_f = np.empty(0)
    empty_i = np.empty(0, dtype=np.int32)
    if sp.issparse(X):
        Xc = X.tocsc() if X.format != "csc" else X      # CSR (or any other) -> CSC, once
        if Xc.dtype != np.float64:
            Xc = Xc.astype(np.float64)
        if not Xc.has_canonical_format:
            Xc = Xc.copy()
            Xc.sum_duplicates()
        return np.empty((0, 0)), Xc.data, Xc.indices, Xc.indptr, True
    X = np.asarray(X)
    if X.dtype != np.float64 or not X.flags.f_contiguous:
        X = np.asfortranarray(X, dtype=np.float64)       # the one copy of a C-ordered X
    return X.T, empty_f, empty_i, np.zeros(1, dtype=np.int32), False     # (p, n) C view


def _sparse_columns(data, indices, indptr, n: int, cols: np.ndarray) -> np.ndarray:
    """Dense (n, len(cols)) copy of a few columns of a CSC matrix."""
    if cols.size == 0:
        return np.empty((n, 0))
    Xc = sp.csc_matrix((data, indices, indptr), shape=(n, indptr.shape[0] - 1), copy=False)
    return Xc[:, cols].toarray()


def _check_vector(arr, n: int, name: str) -> np.ndarray:
    arr = np.asarray(arr, dtype=np.float64).ravel()
    if arr.shape != (n,):
        raise ValueError(f"{name} must have one value per row ({n}); got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinity")
    return arr


def _run(D, sparse, unit_w, yc, G_diag, inv_scale, skip, alphas, l1_ratio, pf, lo, up, beta,
         tol, max_iter, prev_alpha):
    m, p = alphas.shape[0], beta.shape[0]
    # the support's Gram columns (for the Newton step) may take an eighth of the size of X,
    # at least 8 MiB and at most 256 MiB: the step pays off on supports of up to a few
    # thousand features, and the solver's memory should stay well below X's
    x_bytes = D[0].nbytes + D[1].nbytes + D[2].nbytes
    cache_max = int(min(p, np.sqrt(min(max(x_bytes / 8, 8 << 20), 256 << 20) / 8)))
    stats = (np.zeros(m), np.zeros(m), np.zeros(m, dtype=np.int64), np.zeros(m),
             np.zeros(m, dtype=np.bool_))
    q = np.zeros(p)
    ptr = np.zeros(m + 1, dtype=np.int64)
    # index type as scipy would choose it for the final matrix
    itype = np.int32 if m * p < np.iinfo(np.int32).max else np.int64
    # the path's buffers are reserved for all m rows at once (up to twice the entries of X):
    # the reserve costs memory only where rows are written (growing buffers instead would
    # hold an old and a new copy at once); the kernel grows them only past the reserve
    cap = max(min(m * p, 2 * (D[1].shape[0] + D[0].size)), 1024)
    idx_buf, val_buf = reserve(cap, itype), reserve(cap, np.float64)
    h_min, h_cap = _homotopy_settings(l1_ratio, pf, lo, up, D[6], cache_max)
    # one BLAS thread: the kernel's products are small, and threads only contend with the
    # caller's own parallelism (the kernel releases the GIL)
    with one_blas_thread():
        idx, val = naive_path(D, sparse, unit_w, yc, G_diag, inv_scale, skip, alphas,
                              float(l1_ratio), pf, lo, up, beta, float(tol), float(tol),
                              int(max_iter), float(prev_alpha), q, ptr, idx_buf, val_buf,
                              *stats, cache_max, h_min, h_cap)
    nnz = int(ptr[-1])
    if idx is idx_buf:          # the reserve held the path
        del idx, val
        idx, val = trimmed(idx_buf, nnz), trimmed(val_buf, nnz)
        del idx_buf, val_buf
    # else views of the grown buffers (their slack, at most a third, costs less than a copy);
    # indptr of the same index type, or scipy would copy the indices to int64
    coefs = sp.csr_array((val[:nnz], idx[:nnz], ptr.astype(itype)), shape=(m, p), copy=False)
    return (coefs, *stats), q


def _homotopy_settings(l1_ratio, pf, lo, up, w, cache_max) -> tuple[int, int]:
    """(smallest support, capacity) of the lasso homotopy, or (0, 0) where it does not apply.

    Coordinate descent crawls once the lasso's support nears the rank of the design (the
    number of rows with weight); from a quarter of that on, each alpha is reached along
    the exact path first. Only the lasso (l1_ratio 1), with bounds at 0 or infinity and
    unpenalised features unbounded, and supports whose Gram block fits the cache.
    """
    if l1_ratio != 1.0:
        return 0, 0
    if not (np.all((lo == 0.0) | (lo == -np.inf)) and np.all((up == 0.0) | (up == np.inf))):
        return 0, 0
    if np.any((pf == 0.0) & ((lo > -np.inf) | (up < np.inf))):
        return 0, 0
    rows = int(np.count_nonzero(w))
    cap = min(cache_max, rows) + 1
    return max(HOMOTOPY_MIN_SUPPORT, rows // 4), cap


def path_from_arrays(X, y, *, sample_weight=None, l1_ratio: float = 0.5,
                     alphas=None, n_alphas: int = 100, eps: float | None = None,
                     fit_intercept: bool = True, standardize: bool = True, penalty_factor=None,
                     lower_bounds=None, upper_bounds=None, positive: bool = False,
                     tol: float = DEFAULT_TOL, max_iter: int = DEFAULT_MAX_ITER,
                     coef_init=None, warn: bool = True) -> PathResult:
    """Elastic Net path by coordinate descent on X (dense or scipy.sparse).

    Solves exactly the problem of :func:`enet.core.path.path_from_stats` (same objective,
    same alpha_max, same certificate), without forming the Gram matrix.

    Parameters
    ----------
    X : ndarray (n, p) or scipy.sparse matrix
        A float64 Fortran-ordered array is used in place. Any other dense array (C order,
        another dtype) is copied once to a float64 Fortran array. A sparse matrix is never
        densified: CSC is used in place (float64, canonical format), any other format
        (CSR) is converted to CSC once. Columns whose mean exceeds 1000 times their spread
        (nearly constant) are the exception: they are copied densely, since implicit
        centring of such a column would lose its digits.
    y : ndarray (n,)
    sample_weight : ndarray (n,), optional
        Non-negative, positive sum.
    coef_init : ndarray (p,), optional
        Raw-scale starting coefficients for the first alpha (default: the solution at
        alpha_max).
    Other parameters
        As in :func:`enet.core.path.path_from_stats`.

    Returns
    -------
    PathResult
        With ``solver == "naive"``. Without standardisation ``coef`` and ``coef_std`` are
        the same array. For sparse X they are ``scipy.sparse.csr_array`` (m, p).
    """
    if not 0.0 <= l1_ratio <= 1.0:
        raise ValueError(f"l1_ratio must be in [0, 1]; got {l1_ratio}")
    if getattr(X, "ndim", 2) != 2:
        raise ValueError(f"X must be 2-d; got shape {np.shape(X)}")
    n, p = X.shape
    if p > np.iinfo(np.int32).max:      # the kernel's feature lists are int32
        raise ValueError(f"X has {p:,} columns; the naive solver takes at most "
                         f"{np.iinfo(np.int32).max:,}")
    Xd, data, indices, indptr, sparse = _design(X)
    y = _check_vector(y, n, "y")
    if sample_weight is None:
        w, unit_w = np.full(n, 1.0 / n), True
    else:
        w = _check_vector(sample_weight, n, "sample_weight")
        if np.any(w < 0) or w.sum() <= 0:
            raise ValueError("sample_weight must be >= 0 with a positive sum")
        w = w / w.sum()
        unit_w = bool(np.all(w == w[0]))
    pf, lower, upper = penalty_setup(p, penalty_factor, lower_bounds, upper_bounds, positive)

    unused = np.empty(0)
    mean, colw, var, maxabs = column_moments(
        (Xd, data, indices, indptr, unused, unused, w, np.empty(0, dtype=np.bool_),
         np.empty(0, dtype=np.int64)), sparse, fit_intercept)
    if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(var))):
        bad = int(np.flatnonzero(~np.isfinite(mean) | ~np.isfinite(var))[0])
        raise ValueError(f"X contains NaN or infinity (or values too large to square) "
                         f"in column {bad}")
    if fit_intercept:
        colw = mean     # the same values (sum_i w_i x_ij is the mean): one array
    sd = np.sqrt(var)
    constant = (sd <= 1e-13 * maxabs) | (var <= 0.0)
    scale = np.where(constant, 1.0, sd) if standardize else np.ones(p)
    inv_scale = 1.0 / scale if standardize else scale      # 1 / 1 is 1: one array
    G_diag = np.where(constant, 0.0, var * inv_scale * inv_scale)
    exact = (np.abs(mean) > EXACT_OFFSET * sd) & ~constant
    # every p-vector costs memory while the kernel runs (a wide path's budget is a fraction
    # of X): what only served the set-up goes now
    del sd, var, maxabs
    if sparse:
        # nearly constant columns (|mean| >> sd) are kept densely, centred term by term;
        # only their rows of drow are read (zeros: no memory touched for the others)
        drow = np.zeros(p, dtype=np.int64)
        keep = np.flatnonzero(exact)
        Xd = np.ascontiguousarray(_sparse_columns(data, indices, indptr, n, keep).T)
        drow[keep] = np.arange(keep.size)
    else:
        drow = np.arange(p)
    D = (Xd, data, indices, indptr, mean, colw, w, exact, drow)
    y_mean = float(w @ y) if fit_intercept else 0.0
    yc = y - y_mean
    lo, up = lower * scale, upper * scale
    bounds = finite_bounds(lower, upper) if standardize else None    # kept only if finite
    del lower, upper

    # alpha_max: the gradient at the solution with only the unpenalised features free
    beta = np.zeros(p)
    unpen = pf == 0
    if unpen.any():
        lo0, up0 = np.where(unpen, lo, 0.0), np.where(unpen, up, 0.0)
        _, q = _run(D, sparse, unit_w, yc, G_diag, inv_scale, constant, np.array([1.0]), 1.0,
                    pf, lo0, up0, beta, tol, max_iter, 1.0)
        del lo0, up0
    else:       # every feature penalised: the solution is zero, its gradient one pass
        q = gradient_at(D, sparse, unit_w, yc, beta, inv_scale, constant)
    yy = float(w @ (yc * yc))
    amax = alpha_max_from_gradient(q, l1_ratio, pf, constant, lo, up, yy)
    amax = _no_rounding_entry(amax, q, l1_ratio, pf, constant, lo, up)
    del q, unpen
    alphas = path_alphas(alphas, amax, n_alphas, eps, n, p)
    if coef_init is not None:
        beta = np.asarray(coef_init, dtype=np.float64).ravel() * scale
        if beta.shape != (p,):
            raise ValueError(f"coef_init must have one value per feature ({p})")
        beta = np.clip(np.where(constant, 0.0, beta), lo, up)
    out, _ = _run(D, sparse, unit_w, yc, G_diag, inv_scale, constant, alphas, l1_ratio, pf, lo,
                  up, beta, tol, max_iter, max(amax, alphas[0]))
    if not sparse:
        out = (out[0].toarray(), *out[1:])      # dense X in, dense path out
    if l1_ratio == 1.0:
        # the lasso's solutions among coinciding columns: the even split (enet.core.copies)
        def project():
            zero = np.zeros(p)
            return np.column_stack([gradient_at(D, sparse, unit_w, r, zero, inv_scale,
                                                constant) for r in probe_vectors(n)])
        out = (lasso_among_copies(out[0], project, constant, lo, up, pf), *out[1:])
    return finish_path(alphas, out, l1_ratio, tol, warn, scale, constant, mean,
                       y_mean, fit_intercept, solver="naive", bounds=bounds)


def _no_rounding_entry(amax, q, l1_ratio, pf, constant, lo, up):
    """Raise alpha_max by ulps until no threshold the kernel computes lies below |q_j|.

    The kernel compares ``|q_j|`` with ``(alpha * l1_ratio) * pf_j``; without this a
    rounding of ``(|q_j| / pf_j / l1_ratio) * l1_ratio * pf_j`` below ``|q_j|`` lets a
    coefficient of size ~1e-16 enter at alpha_max.
    """
    if l1_ratio <= 0.0:
        return amax
    grad = np.maximum(np.where(up > 0, q, 0.0), np.where(lo < 0, -q, 0.0))
    pen = (pf > 0) & ~constant
    for _ in range(8):
        if not np.any(grad[pen] > (amax * l1_ratio) * pf[pen]):
            break
        amax = np.nextafter(amax, np.inf)
    return amax


def solve_path(X, y, *, solver: str = "auto", sample_weight=None, **kwargs) -> PathResult:
    """Elastic Net path with the covariance or the naive solver.

    Parameters
    ----------
    solver : {"auto", "covariance", "naive"}
        ``"auto"`` applies :func:`choose_solver` to the shape and sparsity of X. The
        choice is recorded in ``PathResult.solver``. A sparse X is never densified: with
        the covariance solver its statistics are accumulated from dense blocks of rows.
    **kwargs
        As in :func:`path_from_arrays`.
    """
    n, p = X.shape
    nnz = X.nnz if sp.issparse(X) else n * p
    if solver == "auto":
        solver = choose_solver(n, p, nnz / max(n * p, 1))
    if solver == "naive":
        return path_from_arrays(X, y, sample_weight=sample_weight, **kwargs)
    if solver != "covariance":
        raise ValueError(f"solver must be 'auto', 'covariance' or 'naive'; got {solver!r}")
    kwargs.pop("coef_init", None)
    if not sp.issparse(X):
        return enet_path(X, y, sample_weight=sample_weight, **kwargs)
    from enet.core.path import path_from_stats
    from enet.core.stats import FoldAccumulator
    y = _check_vector(y, n, "y")
    w = None if sample_weight is None else _check_vector(sample_weight, n, "sample_weight")
    acc = FoldAccumulator(p)
    acc.update_blocks(X, y, w)
    return path_from_stats(acc.folds()[0], **kwargs)

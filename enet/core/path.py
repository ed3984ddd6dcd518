"""The Elastic Net regularisation path: the single math entry point.

``path_from_stats`` solves the problem of DESIGN.md section 1 along a
decreasing alpha grid from sufficient statistics; ``enet_path`` is the same
from in-memory arrays. Fitting one alpha, cross-validation and every engine
call ``path_from_stats``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from enet.core._blas import one_blas_thread
from enet.core._cd_gram import duality_gap, gram_path, kkt_violation
from enet.core.stats import SufficientStats
from enet.core.copies import lasso_among_copies, probe_vectors
from enet.exceptions import ConvergenceWarning

__all__ = ["GramProblem", "PathResult", "Certificate", "prepare_problem", "alpha_max",
           "alpha_grid", "path_from_stats", "enet_path", "default_eps", "alpha_max_from_gradient",
           "finish_path", "path_alphas", "first_tiny_feature"]

DEFAULT_TOL = 1e-7
DEFAULT_MAX_ITER = 10_000
# a feature whose values all lie below this in magnitude squares to (sub)normal dust and
# would be taken for a constant
TINY_SCALE = 1e-140


def first_tiny_feature(max_abs: np.ndarray) -> int:
    """Index of the first feature whose largest |value| is nonzero but below
    :data:`TINY_SCALE` (too small to square in float64), or -1."""
    tiny = np.flatnonzero((max_abs > 0) & (max_abs < TINY_SCALE))
    return int(tiny[0]) if tiny.size else -1


@dataclass(frozen=True)
class GramProblem:
    """The least-squares part in solver coordinates.

    ``G = D^-1 XX D^-1`` and ``c = D^-1 Xy`` with ``D = diag(scale)``; moments are
    centred when the model has an intercept and normalised by the weight sum.
    """

    G: np.ndarray
    c: np.ndarray
    yy: float
    x_mean: np.ndarray
    y_mean: float
    scale: np.ndarray
    constant: np.ndarray
    fit_intercept: bool
    n_rows: int


@dataclass(frozen=True)
class Certificate:
    """Optimality certificate for every point of a path.

    Attributes
    ----------
    n_iter : ndarray of int
        Coordinate-descent sweeps used at each alpha.
    duality_gap : ndarray
        Duality gap (absolute, in the objective's units) at each alpha.
    primal : ndarray
        Objective value at each alpha.
    kkt_violation : ndarray
        Largest violation of the subgradient conditions (solver coordinates).
    converged : ndarray of bool
        ``duality_gap <= tol * primal`` (or the numerical floor of the Gram form)
        was reached and the last sweep moved no coefficient by more than
        ``tol * max|b|``; where no finite gap exists (bounded unpenalised
        features) the KKT violation takes the gap's place. For the lasso on X
        (naive solver) the gap alone decides once 100 sweeps at one alpha have
        not settled the coefficients: with coinciding columns they need not be
        unique and may never settle, while the fitted values are unique and
        within ``sqrt(2 gap)`` (weighted norm) of the optimal ones.
    tol : float
        Relative duality-gap tolerance requested.
    """

    n_iter: np.ndarray
    duality_gap: np.ndarray
    primal: np.ndarray
    kkt_violation: np.ndarray
    converged: np.ndarray
    tol: float

    @property
    def relative_gap(self) -> np.ndarray:
        return self.duality_gap / np.maximum(self.primal, np.finfo(float).tiny)

    def at(self, k: int) -> "Certificate":
        """The certificate of point ``k`` alone."""
        return Certificate(self.n_iter[k:k + 1], self.duality_gap[k:k + 1],
                           self.primal[k:k + 1], self.kkt_violation[k:k + 1],
                           self.converged[k:k + 1], self.tol)


@dataclass(frozen=True)
class PathResult:
    """Solutions along an alpha grid.

    Attributes
    ----------
    alphas : ndarray (m,)  decreasing.
    coef : ndarray (m, p)  raw-scale coefficients; a ``scipy.sparse.csr_array`` when the
        naive solver ran on sparse X (a wide path is mostly zeros: dense it would outweigh
        X). :meth:`coef_at` gives one point as a dense vector in either case.
    intercept : ndarray (m,)
    coef_std : ndarray (m, p)  coefficients in solver (standardised) coordinates (sparse
        when ``coef`` is).
    l1_ratio : float
    x_mean, x_scale : ndarray (p,)  the centring and scaling used.
    y_mean : float
    certificate : Certificate
    solver : str  "covariance" (Gram matrix) or "naive" (coordinate descent on X).
    """

    alphas: np.ndarray
    coef: np.ndarray
    intercept: np.ndarray
    coef_std: np.ndarray
    l1_ratio: float
    x_mean: np.ndarray
    x_scale: np.ndarray
    y_mean: float
    certificate: Certificate
    solver: str = "covariance"

    def coef_at(self, k: int) -> np.ndarray:
        """Raw-scale coefficients at path point ``k`` as a dense (p,) array."""
        return _dense_row(self.coef, k)

    def coef_std_at(self, k: int) -> np.ndarray:
        """Solver-coordinate coefficients at path point ``k`` as a dense (p,) array."""
        return _dense_row(self.coef_std, k)


def _dense_row(a, k: int) -> np.ndarray:
    if sp.issparse(a):
        k = range(a.shape[0])[k]        # negative k counts from the end, as for arrays
        row = np.zeros(a.shape[1])
        lo, hi = a.indptr[k], a.indptr[k + 1]
        row[a.indices[lo:hi]] = a.data[lo:hi]
        return row
    return np.array(a[k])


def default_eps(n_rows: int, n_features: int) -> float:
    """Smallest alpha as a fraction of alpha_max (glmnet's default)."""
    return 1e-3 if n_rows > n_features else 1e-2


def prepare_problem(stats: SufficientStats, fit_intercept: bool = True,
                    standardize: bool = True) -> GramProblem:
    """Centre, scale and normalise sufficient statistics for the solver.

    A feature whose spread is zero (up to rounding of the accumulation) is
    marked constant; its row and column of G are zeroed so its coefficient is 0.
    With ``fit_intercept=False`` the scale is the root mean square about zero
    (glmnet's convention).
    """
    if stats.sum_w <= 0:
        raise ValueError("the sample weights sum to zero")
    xx, xy, yy = stats.moments(centred=fit_intercept)
    if not (np.all(np.isfinite(xx)) and np.all(np.isfinite(xy)) and np.isfinite(yy)):
        bad = np.flatnonzero(~np.isfinite(np.diag(xx)) | ~np.isfinite(xy))
        where = f"feature {int(bad[0])}" if bad.size else "the target"
        raise OverflowError(f"sums of squares overflow float64 at {where}; rescale it "
                            f"(values beyond ~1e150 cannot be squared)")
    var = np.diag(xx).copy()
    # accumulation error of a variance is ~eps * (mean - shift)^2: below that, constant
    offset2 = (stats.sum_wx / stats.sum_w) ** 2
    if not fit_intercept:
        offset2 = np.zeros_like(var)
    constant = (var <= 1e-10 * offset2) | (var <= 0.0)
    scale = np.sqrt(np.where(constant, 1.0, var)) if standardize else np.ones_like(var)
    G = xx / np.outer(scale, scale)
    c = xy / scale
    G[constant, :] = 0.0
    G[:, constant] = 0.0
    c[constant] = 0.0
    x_mean = stats.mean_x if fit_intercept else np.zeros(stats.n_features)
    y_mean = stats.mean_y if fit_intercept else 0.0
    return GramProblem(np.ascontiguousarray(G), c, float(yy), x_mean, float(y_mean), scale,
                       constant, fit_intercept, stats.n_rows)


def _solver_bounds(problem: GramProblem, lower: np.ndarray, upper: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray]:
    # b_raw = b_std / scale, so bounds scale the same way
    return lower * problem.scale, upper * problem.scale


def _run_kernel(problem: GramProblem, alphas: np.ndarray, l1_ratio: float, pf: np.ndarray,
                lower: np.ndarray, upper: np.ndarray, beta: np.ndarray, tol: float,
                max_iter: int, prev_alpha: float):
    m, p = alphas.shape[0], problem.G.shape[0]
    coefs = np.zeros((m, p))
    gaps = np.zeros(m)
    primals = np.zeros(m)
    n_iters = np.zeros(m, dtype=np.int64)
    kkts = np.zeros(m)
    converged = np.zeros(m, dtype=np.bool_)
    with one_blas_thread():
        gram_path(problem.G, problem.c, problem.yy, alphas, float(l1_ratio), pf, lower, upper,
                  beta, float(tol), float(tol), int(max_iter), float(prev_alpha), coefs, gaps,
                  primals, n_iters, kkts, converged)
    return coefs, gaps, primals, n_iters, kkts, converged


def _ridge_path(problem: GramProblem, alphas: np.ndarray, l1_ratio: float, pf: np.ndarray,
                lower: np.ndarray, upper: np.ndarray, tol: float):
    """Every alpha of a pure ridge path from one eigendecomposition of the Gram matrix.

    Applies when l1_ratio = 0, all penalty factors are equal and positive, and no
    bound is finite: then ``b(alpha) = V diag(1 / (lambda + alpha v)) V' c``.
    Each point still gets its certificate; a point that misses it (a badly
    conditioned matrix) is handed back to coordinate descent, warm-started.
    Returns None when the shortcut does not apply.
    """
    if l1_ratio != 0.0 or not np.all(pf == pf[0]) or pf[0] <= 0 or \
            np.any(np.isfinite(lower)) or np.any(np.isfinite(upper)):
        return None
    p, m = pf.shape[0], alphas.shape[0]
    lam, V = np.linalg.eigh(problem.G)
    lam = np.maximum(lam, 0.0)
    ct = V.T @ problem.c
    denom = lam[None, :] + alphas[:, None] * pf[0]
    with np.errstate(divide="ignore", invalid="ignore"):
        coefs = np.where(denom > 0, ct[None, :] / denom, 0.0) @ V.T
    coefs[:, problem.constant] = 0.0
    gaps, primals, kkts = np.zeros(m), np.zeros(m), np.zeros(m)
    converged = np.zeros(m, dtype=np.bool_)
    n_iters = np.zeros(m, dtype=np.int64)
    no_free = np.zeros(p, dtype=np.bool_)
    floor = 1e-14 * max(problem.yy, 1e-300) * (1.0 + np.sqrt(p))
    for k in range(m):
        q = problem.c - problem.G @ coefs[k]
        primals[k], gaps[k] = duality_gap(q, coefs[k], problem.c, problem.yy, alphas[k], 0.0,
                                          pf, lower, upper, no_free)
        kkts[k] = kkt_violation(q, coefs[k], np.diag(problem.G).copy(), alphas[k], 0.0, pf,
                                lower, upper)
        converged[k] = gaps[k] <= tol * primals[k] or gaps[k] <= floor
        if not converged[k]:
            beta = coefs[k].copy()
            out = _run_kernel(problem, alphas[k:k + 1], 0.0, pf, lower, upper, beta, tol,
                              DEFAULT_MAX_ITER, alphas[k])
            coefs[k], gaps[k], primals[k], n_iters[k], kkts[k], converged[k] = \
                out[0][0], out[1][0], out[2][0], out[3][0], out[4][0], out[5][0]
    return coefs, gaps, primals, n_iters, kkts, converged


def _unpenalised_start(problem: GramProblem, pf: np.ndarray, lower: np.ndarray,
                       upper: np.ndarray, tol: float, max_iter: int) -> np.ndarray:
    """Solution at alpha_max: only unpenalised features are nonzero."""
    p = pf.shape[0]
    beta = np.zeros(p)
    unpen = pf == 0
    if not unpen.any():
        return beta
    lo = np.where(unpen, lower, 0.0)
    up = np.where(unpen, upper, 0.0)
    _run_kernel(problem, np.array([1.0]), 1.0, pf, lo, up, beta, tol, max_iter, 1.0)
    return beta


def alpha_max(problem: GramProblem, l1_ratio: float, penalty_factor: np.ndarray,
              lower: np.ndarray, upper: np.ndarray, tol: float = DEFAULT_TOL,
              max_iter: int = DEFAULT_MAX_ITER) -> float:
    """Smallest alpha at which every penalised coefficient is exactly zero.

    For ``l1_ratio < 1e-3`` (ridge) the value for ``l1_ratio = 1e-3`` is used, as
    in glmnet. Bounds are in solver coordinates.
    """
    beta = _unpenalised_start(problem, penalty_factor, lower, upper, tol, max_iter)
    q = problem.c - problem.G @ beta
    return alpha_max_from_gradient(q, l1_ratio, penalty_factor, problem.constant, lower, upper,
                                   problem.yy)


def alpha_max_from_gradient(q: np.ndarray, l1_ratio: float, penalty_factor: np.ndarray,
                            constant: np.ndarray, lower: np.ndarray, upper: np.ndarray,
                            yy: float) -> float:
    """alpha_max from the gradient ``q`` (minus the loss gradient) at the unpenalised start."""
    r = max(float(l1_ratio), 1e-3)
    grad = np.maximum(np.where(upper > 0, q, 0.0), np.where(lower < 0, -q, 0.0))
    pen = (penalty_factor > 0) & ~constant
    if not pen.any():
        return 1.0
    amax = float(np.max(grad[pen] / penalty_factor[pen])) / r
    if not np.isfinite(amax) or amax <= 0:
        # nothing left to explain: any grid gives the zero solution
        amax = 1e-12 * max(np.sqrt(yy), 1e-300)
    return amax


def alpha_grid(amax: float, n_alphas: int = 100, eps: float = 1e-3) -> np.ndarray:
    """Geometric grid from ``amax`` down to ``eps * amax``."""
    if n_alphas == 1:
        return np.array([amax])
    return np.geomspace(amax, amax * eps, n_alphas)


def path_alphas(alphas, amax: float, n_alphas: int, eps: float | None, n_rows: int,
                n_features: int) -> np.ndarray:
    """The user's alphas sorted decreasing and validated, or the default grid from ``amax``."""
    if alphas is None:
        if eps is None:
            eps = default_eps(n_rows, n_features)
        return alpha_grid(amax, n_alphas, eps)
    alphas = np.sort(np.asarray(alphas, dtype=np.float64).ravel())[::-1].copy()
    if alphas.size == 0 or np.any(~np.isfinite(alphas)) or np.any(alphas < 0):
        raise ValueError("alphas must be finite and >= 0")
    return alphas


def _as_vector(value, p: int, default: float, name: str) -> np.ndarray:
    if value is None:
        return np.full(p, default)
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim == 0:
        arr = np.full(p, float(arr))
    if arr.shape != (p,):
        raise ValueError(f"{name} must have one value per feature ({p}); got shape {arr.shape}")
    return arr.copy()


def penalty_setup(p: int, penalty_factor=None, lower_bounds=None, upper_bounds=None,
                  positive: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validated penalty factors and raw-scale bounds as float arrays."""
    pf = _as_vector(penalty_factor, p, 1.0, "penalty_factor")
    lower = _as_vector(lower_bounds, p, -np.inf, "lower_bounds")
    upper = _as_vector(upper_bounds, p, np.inf, "upper_bounds")
    if positive:
        lower = np.maximum(lower, 0.0)
    if np.any(~np.isfinite(pf)) or np.any(pf < 0):
        j = int(np.flatnonzero(~np.isfinite(pf) | (pf < 0))[0])
        raise ValueError(f"penalty_factor must be finite and >= 0; got {pf[j]} for feature {j}")
    if np.any(lower > 0) or np.any(np.isnan(lower)):
        j = int(np.flatnonzero((lower > 0) | np.isnan(lower))[0])
        raise ValueError(f"lower_bounds must be <= 0 (zero must be feasible); "
                         f"got {lower[j]} for feature {j}")
    if np.any(upper < 0) or np.any(np.isnan(upper)):
        j = int(np.flatnonzero((upper < 0) | np.isnan(upper))[0])
        raise ValueError(f"upper_bounds must be >= 0 (zero must be feasible); "
                         f"got {upper[j]} for feature {j}")
    return pf, lower, upper


def path_from_stats(stats: SufficientStats, *, l1_ratio: float = 0.5,
                    alphas: np.ndarray | None = None, n_alphas: int = 100,
                    eps: float | None = None, fit_intercept: bool = True,
                    standardize: bool = True, penalty_factor=None, lower_bounds=None,
                    upper_bounds=None, positive: bool = False, tol: float = DEFAULT_TOL,
                    max_iter: int = DEFAULT_MAX_ITER, warn: bool = True) -> PathResult:
    """Solve the Elastic Net along a decreasing alpha grid from sufficient statistics.

    Parameters
    ----------
    stats : SufficientStats
        Statistics of the training rows.
    l1_ratio : float in [0, 1]
        Mix of L1 (1) and L2 (0) penalty.
    alphas : array-like, optional
        Penalty strengths; sorted decreasing. By default ``n_alphas`` values from
        the exact alpha_max down to ``eps * alpha_max``.
    n_alphas : int
    eps : float, optional
        Default 1e-3 if rows > features else 1e-2.
    fit_intercept, standardize : bool
    penalty_factor : array-like (p,), optional
        Per-feature multiplier of the penalty; 0 leaves a feature unpenalised.
    lower_bounds, upper_bounds : array-like (p,) or float, optional
        Box constraints on the raw-scale coefficients; zero must be feasible.
    positive : bool
        Shortcut for ``lower_bounds=0``.
    tol : float
        Relative duality-gap tolerance: each solution satisfies
        ``gap <= tol * objective``, so its objective is within ``tol`` (relative)
        of the optimum.
    max_iter : int
        Maximum coordinate-descent sweeps per alpha.
    warn : bool
        Emit a ConvergenceWarning for points that did not reach ``tol``.

    Returns
    -------
    PathResult
    """
    if not 0.0 <= l1_ratio <= 1.0:
        raise ValueError(f"l1_ratio must be in [0, 1]; got {l1_ratio}")
    p = stats.n_features
    pf, lower, upper = penalty_setup(p, penalty_factor, lower_bounds, upper_bounds, positive)
    problem = prepare_problem(stats, fit_intercept, standardize)
    lo, up = _solver_bounds(problem, lower, upper)
    amax = alpha_max(problem, l1_ratio, pf, lo, up, tol, max_iter)
    alphas = path_alphas(alphas, amax, n_alphas, eps, stats.n_rows, p)
    ridge = _ridge_path(problem, alphas, l1_ratio, pf, lo, up, tol)
    if ridge is not None:
        coefs, gaps, primals, n_iters, kkts, converged = ridge
    else:
        beta = _unpenalised_start(problem, pf, lo, up, tol, max_iter)
        coefs, gaps, primals, n_iters, kkts, converged = _run_kernel(
            problem, alphas, l1_ratio, pf, lo, up, beta, tol, max_iter, max(amax, alphas[0]))
    if l1_ratio == 1.0:
        # the lasso's solutions among coinciding columns: the even split (enet.core.copies)
        coefs = lasso_among_copies(coefs, lambda: problem.G @ probe_vectors(p).T,
                                   problem.constant, lo, up, pf)
    return finish_path(alphas, (coefs, gaps, primals, n_iters, kkts, converged), l1_ratio, tol,
                       warn, problem.scale, problem.constant, problem.x_mean, problem.y_mean,
                       fit_intercept, bounds=finite_bounds(lower, upper))


def finite_bounds(lower: np.ndarray, upper: np.ndarray):
    """``(lower, upper)`` when some bound is finite, else None (nothing to clip)."""
    if np.isfinite(lower).any() or np.isfinite(upper).any():
        return lower, upper
    return None


# standardised coefficients this small relative to the largest at their alpha are left-overs
# of floating-point round-off (a coordinate a hair past its threshold), not selected features
ROUND_OFF = 1e-12


def _zero_round_off(coefs, bounds: tuple[np.ndarray, np.ndarray] | None) -> None:
    """Set round-off coefficients to exactly zero, in place, where zero is allowed.

    Zeroing ``b_j`` with ``|b_j| <= ROUND_OFF max|b|`` moves the objective by far less than
    any tolerance and keeps the KKT conditions (its gradient sits at the threshold), but
    keeps ``nonzero`` counts and coefficient lists honest.
    """
    if sp.issparse(coefs):
        # row by row: temporaries of one row, not of the whole path (a wide path's memory
        # is part of the solver's budget)
        found = False
        for k in range(coefs.shape[0]):
            row = slice(coefs.indptr[k], coefs.indptr[k + 1])
            values = coefs.data[row]
            if values.size == 0:
                continue
            size = np.abs(values)
            tiny = size <= ROUND_OFF * size.max()
            if bounds is not None:
                cols = coefs.indices[row]
                tiny &= (bounds[0][cols] <= 0.0) & (bounds[1][cols] >= 0.0)
            if tiny.any():
                values[tiny] = 0.0
                found = True
        if found:
            coefs.eliminate_zeros()
        return
    size = np.abs(coefs)
    tiny = size <= ROUND_OFF * size.max(axis=1, initial=0.0)[:, None]
    tiny &= size > 0.0
    if bounds is not None:
        tiny &= (bounds[0] <= 0.0) & (bounds[1] >= 0.0)
    coefs[tiny] = 0.0


def finish_path(alphas: np.ndarray, out: tuple, l1_ratio: float, tol: float, warn: bool,
                scale: np.ndarray, constant: np.ndarray, x_mean: np.ndarray, y_mean: float,
                fit_intercept: bool, solver: str = "covariance",
                bounds: tuple[np.ndarray, np.ndarray] | None = None) -> PathResult:
    """PathResult from a kernel's outputs (solver coordinates), with the convergence warning.

    ``out`` is ``(coefs, gaps, primals, n_iters, kkts, converged)``. ``bounds`` are the
    raw-scale box constraints: a coefficient at its bound in the solver's (scaled)
    coordinates can round past it when unscaled, and is put back on it.
    """
    coefs, gaps, primals, n_iters, kkts, converged = out
    if not np.all(np.isfinite(coefs.data if sp.issparse(coefs) else coefs)):
        raise FloatingPointError("the solver produced non-finite coefficients; "
                                 "check the data for extreme values")
    if warn and not converged.all():
        k = int(np.flatnonzero(~converged)[0])
        rel = gaps[k] / max(primals[k], 1e-300)
        why = (f"duality gap {gaps[k]:.3e} (relative {rel:.3e}) > tol {tol:g}" if rel > tol
               else f"the duality gap is within tol {tol:g}, but the coefficients were "
                    f"still moving")
        sweeps = f"{n_iters[k]} sweep" + ("" if n_iters[k] == 1 else "s")
        warnings.warn(
            f"Elastic Net did not converge at alpha={alphas[k]:.6g} "
            f"({int((~converged).sum())} of {len(alphas)} path points): {why} after "
            f"{sweeps}; increase max_iter (or tol)",
            ConvergenceWarning, stacklevel=3)
    _zero_round_off(coefs, bounds)
    if sp.issparse(coefs):
        hit = constant[coefs.indices]
        if hit.any():
            coefs.data[hit] = 0.0
            coefs.eliminate_zeros()
        del hit
        # unscaled features: the raw and standardised coefficients are one matrix
        if np.all(scale == 1.0):
            coef_raw = coefs
        else:
            raw = scale[coefs.indices]
            np.divide(coefs.data, raw, out=raw)         # one nnz-array, not two
            if bounds is not None:
                np.clip(raw, bounds[0][coefs.indices], bounds[1][coefs.indices], out=raw)
            coef_raw = sp.csr_array((raw, coefs.indices, coefs.indptr), shape=coefs.shape)
    else:
        coefs[:, constant] = 0.0
        # unscaled features: the raw and standardised coefficients are one array (a wide
        # path's (m, p) output is often larger than X)
        coef_raw = coefs if np.all(scale == 1.0) else coefs / scale
        if bounds is not None and coef_raw is not coefs:
            np.clip(coef_raw, bounds[0], bounds[1], out=coef_raw)
        coef_raw[:, constant] = 0.0
    intercept = y_mean - coef_raw @ x_mean if fit_intercept else np.zeros(len(alphas))
    cert = Certificate(n_iters, gaps, primals, kkts, converged, float(tol))
    return PathResult(alphas, coef_raw, intercept, coefs, float(l1_ratio), x_mean, scale,
                      y_mean, cert, solver)


def enet_path(X: np.ndarray, y: np.ndarray, *, sample_weight: np.ndarray | None = None,
              **kwargs) -> PathResult:
    """Elastic Net path from in-memory arrays (see :func:`path_from_stats`).

    Parameters
    ----------
    X : ndarray (n, p)
    y : ndarray (n,)
    sample_weight : ndarray (n,), optional
    **kwargs
        Passed to :func:`path_from_stats`.
    """
    if hasattr(X, "tocsc") or hasattr(X, "toarray"):
        raise TypeError("sparse matrices are not supported yet; pass a dense array")
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    w = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    if X.ndim != 2 or y.shape != (X.shape[0],):
        raise ValueError(f"X must be 2-d and y have one value per row; got {X.shape}, {y.shape}")
    for name, arr in (("X", X), ("y", y), ("sample_weight", w)):
        if arr is not None and not np.all(np.isfinite(arr)):
            raise ValueError(f"{name} contains NaN or infinity")
    if w is not None and (np.any(w < 0) or w.sum() <= 0):
        raise ValueError("sample_weight must be >= 0 with a positive sum")
    stats = SufficientStats.from_arrays(X, y, w)
    return path_from_stats(stats, **kwargs)

"""Compiled coordinate descent on X itself ("naive updates", glmnet's term).

The problem is the one of ``_cd_gram``, in the same solver coordinates::

    minimise  1/2 sum_i w_i (yc_i - sum_j b_j xt_ij)^2 + sum_j ( l1_j |b_j| + l2_j / 2 b_j^2 )
    subject to lower_j <= b_j <= upper_j

with weights ``w`` normalised to sum 1, ``xt_ij = (x_ij - m_j) / s_j`` the centred and
scaled column (``m_j`` the weighted mean, or 0 without intercept; ``s_j`` the scale) and
``yc`` the centred target. Centring and scaling stay implicit: X is never copied.

The design is a tuple ``D = (X, data, indices, indptr, mean, colw, w, exact, drow)``:

* dense: ``X`` is the transpose (p, n), C-ordered, of the Fortran-ordered data matrix (a
  view: row j is column j, contiguous); ``data``/``indices``/``indptr`` are empty;
* sparse: ``data``, ``indices``, ``indptr`` are the CSC arrays;
* ``mean`` (p,) the centring, ``colw`` (p,) ``sum_i w_i x_ij``, ``w`` (n,) the
  normalised weights;
* ``exact`` (p,) columns whose offset is so large against their spread that they are
  centred term by term, from a dense copy: row ``drow[j]`` of ``X`` (dense: ``drow[j] = j``;
  sparse: ``X`` holds only those few nearly constant columns, which implicit centring
  would otherwise ruin).

State is the weighted residual ``v = w * r`` (n,) and ``st = [o, sum(v)]``. Dense: ``v`` is
the true (centred) residual and ``o = 0``. Sparse: ``v`` holds the uncentred part only and
the true residual is ``r_i = v_i / w_i + o``; the gradient ``xt_j' W r`` is then
``(x_j' v - m_j sum(v)) / s_j`` (the offset ``o`` cancels because ``sum_i w_i x_ij = m_j``),
so an update touches the nonzeros of one column only.

The certificate is the duality gap of ``_cd_gram.duality_gap``, evaluated from the
gradient ``q = Xt' W r`` of every feature and ``y'Wr``: the same definition and units as
the covariance solver.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from enet.core._cd_gram import (NEWTON_FLOP_WEIGHT, _free_features, _soft, _spd_solve,
                                dual_value, duality_gap, kkt_violation)
from enet.core._columns import (_cache_add, _dot, _dot_dense, _dot_sparse, _gradient_all,
                                _move, _residual, _update, _update_dense, _update_sparse,
                                _y_dot_r)
from enet.core._homotopy import lasso_homotopy

INF = np.inf
FREE_BLOCK_MAX = 64     # unpenalised features solved jointly (least squares) up to this many
ANDERSON_K = 5          # extrapolation from the last K + 1 iterates
FORCED_CHECK_SWEEPS = 100   # sweeps at one alpha after which the gap is checked, settled or not


@njit(cache=True, nogil=True, inline="always")
def _clipped_step(z, l1, denom, lo, up):
    """Minimiser of ``denom/2 b^2 - z b + l1 |b|`` over ``[lo, up]``."""
    b = _soft(z, l1) / denom
    return min(max(b, lo), up)


@njit(cache=True, nogil=True)
def _sweep(idx, n_idx, D, sparse, unit_w, v, st, beta, G_diag, inv_scale, l1r, l2r, pf,
           lower, upper, moved):
    """One pass of coordinate descent over ``idx[:n_idx]``: (largest step, largest |b|)."""
    X, data, indices, indptr, mean, colw, w, exact, drow = D
    max_step = 0.0
    max_coef = 0.0
    for t in range(n_idx):
        j = idx[t]
        denom = G_diag[j] + l2r * pf[j]
        if denom <= 0.0:
            continue
        as_sparse = sparse and not exact[j]
        if as_sparse:
            g = _dot_sparse(j, data, indices, indptr, mean, v, st)
        else:
            g = _dot_dense(j, X, drow, exact, mean, v, st)
        bn = _clipped_step(g * inv_scale[j] + G_diag[j] * beta[j], l1r * pf[j], denom,
                           lower[j], upper[j])
        d = bn - beta[j]
        moved[j] = abs(d)
        if d != 0.0:
            beta[j] = bn
            c = d * inv_scale[j]
            if as_sparse:
                _update_sparse(j, c, data, indices, indptr, mean, colw, w, v, st)
            else:
                _update_dense(j, c, X, drow, mean, colw, w, unit_w, v, st)
            max_step = max(max_step, abs(d))
        max_coef = max(max_coef, abs(bn))
    return max_step, max_coef


@njit(cache=True, nogil=True)
def _objective(v, st, w, beta, idx, pf, l1r, l2r):
    """Primal objective of a residual (``v``, ``st``) and the coefficients ``beta[idx]``
    (all others zero)."""
    o = st[0]
    sse = 0.0
    for i in range(v.shape[0]):
        if w[i] > 0.0:
            r = v[i] / w[i] + o
            sse += w[i] * r * r
    pen = 0.0
    for j in idx:
        pen += pf[j] * (l1r * abs(beta[j]) + 0.5 * l2r * beta[j] * beta[j])
    return 0.5 * sse + pen


@njit(cache=True, nogil=True)
def _difference_gram(H, Hs, w):
    """``U U'`` for the differences ``U = R[1:] - R[:-1]`` of the rows of ``R`` (K + 1, m),
    summed column by column: no (K, m) temporary, which on a wide path would sit next to the
    whole coefficient path.

    Without weights (``w`` empty) ``R = H``. With weights, ``H``, ``Hs`` are weighted
    residuals (``v``, ``st``, see the module docstring) and ``R`` the true residuals in the
    ``W`` norm: ``R[k, i] = H[k, i] / sqrt(w_i) + sqrt(w_i) Hs[k, 0]`` (0 where ``w_i = 0``).
    """
    K = H.shape[0] - 1
    C = np.zeros((K, K))
    u = np.empty(K)
    weighted = w.shape[0] > 0
    for i in range(H.shape[1]):
        if weighted:
            if not w[i] > 0.0:
                continue
            s = np.sqrt(w[i])
            prev = H[0, i] / s + s * Hs[0, 0]
            for k in range(K):
                cur = H[k + 1, i] / s + s * Hs[k + 1, 0]
                u[k] = cur - prev
                prev = cur
        else:
            for k in range(K):
                u[k] = H[k + 1, i] - H[k, i]
        for a in range(K):
            for b in range(a + 1):
                C[a, b] += u[a] * u[b]
    for a in range(K):
        for b in range(a):
            C[b, a] = C[a, b]
    return C


@njit(cache=True, nogil=True)
def _anderson_weights(C):
    """Weights (sum 1) of the combination of the last K of K + 1 iterates whose differences
    cancel best, from the Gram matrix ``C`` (K, K) of those differences (lightly regularised
    least squares); empty when the iterates have not moved."""
    top = np.max(np.diag(C))
    if not (top > 0.0 and np.isfinite(top)):
        return np.empty(0)
    C += 1e-10 * top * np.eye(C.shape[0])
    z = np.linalg.lstsq(C, np.ones(C.shape[0]), -1.0)[0]
    total = z.sum()
    if total == 0.0 or not np.isfinite(total):
        return np.empty(0)
    return z / total


@njit(cache=True, nogil=True)
def _anderson(Hb, Hv, Hs, idx, beta, v, st, w, pf, l1r, l2r, lower, upper):
    """Anderson extrapolation of the last K + 1 iterates ``Hb`` on the features ``idx``.

    Coordinate descent crawls when columns are strongly correlated (p > n); a combination
    of recent iterates whose differences cancel jumps ahead. The residual is affine in the
    coefficients, so the combination of the stored residuals ``Hv``, ``Hs`` is the
    candidate's residual. The candidate is kept only if it lowers the objective.
    """
    z = _anderson_weights(_difference_gram(Hb, Hs, np.empty(0)))
    if z.shape[0] == 0:
        return
    K, m = z.shape[0], idx.shape[0]
    cand = np.zeros(m)
    cv = np.zeros(v.shape[0])
    cs = np.zeros(2)
    for k in range(K):
        cand += z[k] * Hb[k + 1]
        cv += z[k] * Hv[k + 1]
        cs += z[k] * Hs[k + 1]
    for t, j in enumerate(idx):
        if cand[t] < lower[j] or cand[t] > upper[j]:
            return      # clipping would break the residual's combination
    before = _objective(v, st, w, beta, idx, pf, l1r, l2r)
    old = beta[idx]         # only the support changes: no copy of all p coefficients
    for t, j in enumerate(idx):
        beta[j] = cand[t]
    if _objective(cv, cs, w, beta, idx, pf, l1r, l2r) < before:
        v[:] = cv
        st[:] = cs
    else:
        for t, j in enumerate(idx):
            beta[j] = old[t]


@njit(cache=True, nogil=True)
def _extrapolated_dual(Ev, Es, D, sparse, yc, inv_scale, skip, qx, alpha, l1_ratio, pf, lower,
                       upper, free):
    """Dual objective at the extrapolation of the residuals ``Ev``, ``Es`` of K + 1
    consecutive sweeps (Massias et al. 2018, "Celer").

    Once the support and signs are fixed, coordinate descent maps the residual linearly, so
    the combination of recent residuals whose differences cancel (in the ``W`` norm) lands
    far closer to the optimal residual than the last one does; its rescaling is a much
    better dual point. The value is a valid lower bound whatever the combination: it is
    the dual objective of that point, computed from the point itself (``qx`` receives its
    gradient). Returns ``-inf`` when the iterates have not moved.
    """
    w = D[6]
    n = w.shape[0]
    z = _anderson_weights(_difference_gram(Ev, Es, w))
    if z.shape[0] == 0:
        return -INF
    cv = np.zeros(n)
    cs = np.zeros(2)
    for k in range(z.shape[0]):
        cv += z[k] * Ev[k + 1]
        cs += z[k] * Es[k + 1]
    _gradient_all(D, sparse, cv, cs, inv_scale, skip, qx)
    r2 = 2.0 * _objective(cv, cs, w, qx, np.empty(0, dtype=np.int64), pf, 0.0, 0.0)
    return dual_value(qx, _y_dot_r(D, yc, cv, cs), r2, alpha, l1_ratio, pf, lower, upper, free)


@njit(cache=True, nogil=True)
def _add_strong(q, in_set, ws, n_ws, skip, thresh, pf):
    """Sequential strong rule: features with ``|q_j| >= thresh * pf_j`` (the gradient at
    the previous solution, ``thresh = l1_ratio (2 alpha - alpha_prev)``) join the working set."""
    for j in range(q.shape[0]):
        if not (in_set[j] or skip[j]) and abs(q[j]) >= thresh * pf[j]:
            in_set[j] = True
            ws[n_ws] = j
            n_ws += 1
    return n_ws


@njit(cache=True, nogil=True)
def _add_violators(q, in_set, ws, n_ws, skip, G_diag, l1r, l2r, pf, lower, upper):
    """Append to the working set every feature outside it whose gradient breaks its
    KKT condition (it would move off zero); returns the new size."""
    for j in range(q.shape[0]):
        if not (in_set[j] or skip[j]) and G_diag[j] + l2r * pf[j] > 0.0:
            l1 = l1r * pf[j]
            if (q[j] > l1 and upper[j] > 0.0) or (q[j] < -l1 and lower[j] < 0.0):
                in_set[j] = True
                ws[n_ws] = j
                n_ws += 1
    return n_ws


@njit(cache=True, nogil=True)
def _free_gram(D, sparse, unit_w, n, inv_scale, free_idx):
    """Gram matrix of the unpenalised, unbounded columns (solver coordinates)."""
    m = free_idx.shape[0]
    A = np.empty((m, m))
    t = np.empty(n)
    ts = np.zeros(2)
    for a in range(m):
        t[:] = 0.0
        ts[:] = 0.0
        ja = free_idx[a]
        _update(ja, -inv_scale[ja], D, sparse, unit_w, t, ts)   # t = W xt_a
        for b in range(m):
            A[b, a] = _dot(free_idx[b], D, sparse, t, ts) * inv_scale[free_idx[b]]
    return A


@njit(cache=True, nogil=True)
def _solve_free_block(A, free_idx, D, sparse, unit_w, v, st, beta, inv_scale):
    """Exact minimisation over the free features given the others (least squares)."""
    rhs = np.empty(free_idx.shape[0])
    for a, j in enumerate(free_idx):
        rhs[a] = _dot(j, D, sparse, v, st) * inv_scale[j]
    delta = np.linalg.lstsq(A, rhs, -1.0)[0]
    for a, j in enumerate(free_idx):
        if delta[a] != 0.0:
            beta[j] += delta[a]
            _update(j, delta[a] * inv_scale[j], D, sparse, unit_w, v, st)


@njit(cache=True, nogil=True)
def _orthant_step(beta, x, idx, lower, upper, free):
    """Longest step ``t <= 1`` from ``beta[idx]`` towards ``x`` that keeps every coefficient
    in its box and (penalised ones) off the other side of zero.

    Returns ``(t, the coordinate position that stops it or -1, the value it stops at)``.
    """
    t, stop, stop_value = 1.0, -1, 0.0
    for a, j in enumerate(idx):
        d = x[a] - beta[j]
        if d == 0.0:
            continue
        limit = upper[j] if d > 0.0 else lower[j]
        if not free[j] and beta[j] * d < 0.0:       # moving towards zero
            limit = max(limit, 0.0) if d < 0.0 else min(limit, 0.0)
        if np.isfinite(limit) and (limit - beta[j]) / d < t:
            t, stop, stop_value = max((limit - beta[j]) / d, 0.0), a, limit
    return t, stop, stop_value


@njit(cache=True, nogil=True)
def _newton(idx, D, sparse, unit_w, v, st, beta, inv_scale, l1r, l2r, pf, lower, upper, free,
            Gc, slot, act):
    """Minimise exactly over the features ``idx`` with their signs fixed (cached Gram).

    The objective is a convex quadratic on the orthant of ``beta``, so it decreases along
    the whole segment to the system's solution: the step stops at the first coordinate
    that would change sign or cross a bound (set exactly there). The step is verified
    against the objective (over the support ``act``) and undone if it does not lower it.
    """
    m = idx.shape[0]
    M = np.empty((m, m))
    rhs = np.empty(m)
    for a, j in enumerate(idx):
        r = _dot(j, D, sparse, v, st) * inv_scale[j]
        if not free[j]:
            r -= l1r * pf[j] * (1.0 if beta[j] > 0.0 else -1.0)
        for b in range(m):
            M[a, b] = Gc[slot[j], slot[idx[b]]]
            r += M[a, b] * beta[idx[b]]
        M[a, a] += l2r * pf[j]
        rhs[a] = r
    if not (np.all(np.isfinite(M)) and np.all(np.isfinite(rhs))):
        return
    x = _spd_solve(M, rhs)
    _take_step(x, idx, D, sparse, unit_w, v, st, beta, inv_scale, l1r, l2r, pf, lower, upper,
               free, act)


@njit(cache=True, nogil=True)
def _take_step(x, idx, D, sparse, unit_w, v, st, beta, inv_scale, l1r, l2r, pf, lower, upper,
               free, act):
    """Move ``beta[idx]`` towards the sign-fixed minimiser ``x`` (see :func:`_newton`)."""
    if not np.all(np.isfinite(x)):
        return
    t, stop, stop_value = _orthant_step(beta, x, idx, lower, upper, free)
    w = D[6]
    before = _objective(v, st, w, beta, act, pf, l1r, l2r)
    old_b = beta.copy()
    old_v = v.copy()
    old_s = st.copy()
    if t < 1.0:
        # first try the whole step with every coordinate that changes sign set to zero
        # (and bounds applied): usually the support of the solution, found at once
        for a, j in enumerate(idx):
            nb = x[a] if free[j] or x[a] * beta[j] > 0.0 else 0.0
            _move(j, min(max(nb, lower[j]), upper[j]), D, sparse, unit_w, v, st, beta,
                  inv_scale)
        if _objective(v, st, w, beta, act, pf, l1r, l2r) < before:
            return
        beta[:] = old_b
        v[:] = old_v
        st[:] = old_s
    if t <= 0.0:
        return
    for a, j in enumerate(idx):
        _move(j, stop_value if a == stop else beta[j] + t * (x[a] - beta[j]), D, sparse, unit_w,
              v, st, beta, inv_scale)
    if _objective(v, st, w, beta, act, pf, l1r, l2r) >= before:
        beta[:] = old_b
        v[:] = old_v
        st[:] = old_s


NEWTON_UNFIT, NEWTON_UNPAID, NEWTON_TAKEN = 0, 1, 2
CG_MAX_ITER = 50       # conjugate-gradient iterations of one matrix-free Newton step
CG_EXPECTED = 25        # iterations it is expected to take, for its cost estimate


@njit(cache=True, nogil=True)
def _newton_cg(idx, D, sparse, unit_w, v, st, beta, inv_scale, l1r, l2r, pf, lower, upper,
               free, act):
    """The Newton step of :func:`_newton` without the Gram matrix: conjugate gradients on
    ``(Xt_S' W Xt_S + l2) d = -gradient``, each product one pass over the support's columns.

    For supports too large to cache, near interpolation (nonzeros ~ n), where coordinate
    descent needs ~cond sweeps and conjugate gradients ~sqrt(cond) products.
    """
    m = idx.shape[0]
    n = v.shape[0]
    g = np.empty(m)
    for a, j in enumerate(idx):
        gj = _dot(j, D, sparse, v, st) * inv_scale[j] - l2r * pf[j] * beta[j]
        if not free[j]:
            gj -= l1r * pf[j] * (1.0 if beta[j] > 0.0 else -1.0)
        g[a] = gj
    d = np.zeros(m)
    r = g.copy()
    p = g.copy()
    rr = r @ r
    stop = 1e-12 * rr
    t = np.empty(n)
    ts = np.zeros(2)
    Mp = np.empty(m)
    for _ in range(CG_MAX_ITER):
        if rr <= stop or rr == 0.0:
            break
        t[:] = 0.0
        ts[:] = 0.0
        for a, j in enumerate(idx):
            if p[a] != 0.0:
                _update(j, -p[a] * inv_scale[j], D, sparse, unit_w, t, ts)   # t = W Xt_S p
        for a, j in enumerate(idx):
            Mp[a] = _dot(j, D, sparse, t, ts) * inv_scale[j] + l2r * pf[j] * p[a]
        pMp = p @ Mp
        if not pMp > 0.0:
            break
        step = rr / pMp
        d += step * p
        r -= step * Mp
        rr_new = r @ r
        p = r + (rr_new / rr) * p
        rr = rr_new
    x = np.empty(m)
    for a, j in enumerate(idx):
        x[a] = beta[j] + d[a]
    _take_step(x, idx, D, sparse, unit_w, v, st, beta, inv_scale, l1r, l2r, pf, lower, upper,
               free, act)


@njit(cache=True, nogil=True)
def _support_newton(cand, n_cand, D, sparse, unit_w, v, st, beta, inv_scale, l1r, l2r, pf,
                    lower, upper, free, Gc, slot, cached, n_cached, cache_max, nidx, col_cost,
                    work, matrix_free):
    """A Newton step on the nonzero, unclamped features among ``cand[:n_cand]``.

    Taken only when the sweeps since the last step (``work``) have cost as much as the step:
    the factorisation and the missing cache columns when their Gram columns fit in the
    cache, else (with ``matrix_free``) the products of a conjugate-gradient solve.
    Returns ``(status, Gc, n_cached)``: NEWTON_UNFIT (too many features), NEWTON_UNPAID
    (not yet paid for) or NEWTON_TAKEN.
    """
    n_new = 0
    n_missing = 0
    for t in range(n_cand):
        j = cand[t]
        if beta[j] != 0.0 and (free[j] or lower[j] < beta[j] < upper[j]):
            nidx[n_new] = j
            n_new += 1
            if slot[j] < 0:
                n_missing += 1
    if n_new == 0:
        return NEWTON_UNFIT, Gc, n_cached
    if n_cached + n_missing > cache_max:
        if not matrix_free:
            return NEWTON_UNFIT, Gc, n_cached
        if 2.0 * CG_EXPECTED * n_new * col_cost > work:
            return NEWTON_UNPAID, Gc, n_cached
        _newton_cg(nidx[:n_new], D, sparse, unit_w, v, st, beta, inv_scale, l1r, l2r, pf, lower,
                   upper, free, cand[:n_cand])
        return NEWTON_TAKEN, Gc, n_cached
    cost = NEWTON_FLOP_WEIGHT * n_new ** 3 / 3.0 + n_missing * (n_cached + n_missing) * col_cost
    if cost > work:
        return NEWTON_UNPAID, Gc, n_cached
    for j in nidx[:n_new]:
        if slot[j] < 0:
            Gc = _cache_add(j, D, sparse, unit_w, inv_scale, Gc, slot, cached, n_cached)
            n_cached += 1
    _newton(nidx[:n_new], D, sparse, unit_w, v, st, beta, inv_scale, l1r, l2r, pf, lower, upper,
            free, Gc, slot, cand[:n_cand])
    return NEWTON_TAKEN, Gc, n_cached


@njit(cache=True, nogil=True)
def naive_path(D, sparse, unit_w, yc, G_diag, inv_scale, skip, alphas, l1_ratio, pf, lower,
               upper, beta, tol, coef_tol, max_iter, strong_prev_alpha, q, path_ptr, path_idx,
               path_val, gaps, primals, n_iters, kkts, converged, cache_max,
               homotopy_min, homotopy_cap):
    """Warm-started coordinate descent on X along a decreasing alpha grid.

    Parameters
    ----------
    D : design tuple (see the module docstring); sparse, unit_w : bool.
    yc : (n,) centred target (raw target without intercept).
    G_diag : (p,) ``xt_j' W xt_j``; inv_scale : (p,) ``1 / s_j``.
    skip : (p,) bool, constant columns (coefficient fixed at 0).
    alphas : (m,) decreasing grid; l1_ratio, pf, lower, upper as in ``_cd_gram.gram_path``
        (bounds in solver coordinates).
    beta : (p,) starting point, updated in place.
    tol : relative duality-gap tolerance (gap <= tol * primal).
    coef_tol : the last sweep over the working set must also move no coefficient by more
        than ``coef_tol * max|b|``.
    strong_prev_alpha : alpha used by the sequential strong rule for the first grid point.
    q : (p,) output: gradient ``Xt' W r`` of every feature at the last solution.
    path_ptr, path_idx, path_val : the coefficient path in compressed rows (CSR, one row
        per alpha): ``path_ptr`` (m + 1,) is filled; ``path_idx``/``path_val`` are buffers,
        grown when full (a wide path is mostly zeros: dense rows would outweigh X).
    gaps, primals, n_iters, kkts, converged : outputs, one entry per alpha.
    cache_max : most features whose Gram columns may be cached for the Newton step.
    homotopy_min, homotopy_cap : for the lasso, an alpha whose starting support has at least
        ``homotopy_min`` (> 0) features is reached from the previous one along the exact
        path (``_homotopy.lasso_homotopy``, supports of up to ``homotopy_cap`` features)
        before coordinate descent certifies it; 0 turns this off.

    Each alpha: the sequential strong rule (from the gradient at the previous solution)
    and the ever-active features form the working set; coordinate descent runs on it,
    alternating full sweeps with sweeps over the nonzero coefficients only. Those support
    phases are accelerated by Anderson extrapolation and, when the support's Gram columns
    fit in the cache, a Newton step with the signs fixed, and they drop coordinates that
    have stopped moving. Once a full sweep moves nothing by more than ``coef_tol`` (or,
    failing that, after ``FORCED_CHECK_SWEEPS`` sweeps, then twice as many each time), the
    gradient of every feature is computed from a freshly computed residual: KKT violators
    join the working set, and the duality gap over all features decides.

    Returns ``(path_idx, path_val)``, the (possibly reallocated) buffers.
    """
    n = yc.shape[0]
    p = beta.shape[0]
    w = D[6]
    v = np.empty(n)
    st = np.zeros(2)
    _residual(D, sparse, unit_w, yc, beta, inv_scale, v, st)
    _gradient_all(D, sparse, v, st, inv_scale, skip, q)
    yy = 0.0
    for i in range(n):
        yy += w[i] * yc[i] * yc[i]
    floor = 1e-14 * max(yy, 1e-300) * (1.0 + np.sqrt(p))
    zeros = np.broadcast_to(0.0, (p,))     # the Gram form's c, zero on X: no memory
    pv = np.empty(n)
    pst = np.zeros(2)
    in_set = np.zeros(p, dtype=np.bool_)
    ws = np.empty(p, dtype=np.int32)     # feature lists in int32: half the memory (p < 2^31)
    n_ws = 0
    for j in range(p):
        if not skip[j] and (beta[j] != 0.0 or pf[j] == 0.0):
            in_set[j] = True
            ws[n_ws] = j
            n_ws += 1
    act = np.empty(p, dtype=np.int32)
    Gc = np.empty((min(64, cache_max), min(64, cache_max)))
    slot = np.full(p, -1, dtype=np.int32)
    cached = np.empty(cache_max, dtype=np.int64)
    n_cached = 0
    nidx = np.empty(p, dtype=np.int32)
    moved = np.zeros(p)
    Hb = np.empty((ANDERSON_K + 1, 0))      # grows with the support, a fraction of p when wide
    Hv = np.empty((ANDERSON_K + 1, n))
    Hs = np.empty((ANDERSON_K + 1, 2))
    n_hist = 0
    # residuals of the sweeps before a dual extrapolation: those sweeps run over the whole
    # working set, and every support phase restarts its own history (n_hist = 0), so the
    # two histories never overlap and share one buffer
    Ev, Es = Hv, Hs
    # the extrapolated dual point's gradient is scratch, and so is `moved` at that moment: it is
    # read only in a support phase, after that phase's own sweeps have written it
    qx = moved
    # operations per coordinate update, and those spent sweeping since the last Newton step:
    # a Newton step is taken only when its cost is covered, so that on supports whose
    # Gram block is large or singular (duplicated columns) it cannot dominate
    col_cost = (D[1].shape[0] / max(p, 1) + 4.0) if sparse else float(n)
    work = 0.0
    newton_due = False
    prev_alpha = strong_prev_alpha
    free_key = -1           # 1 when the free set is that of alpha == 0, 0 otherwise
    A = np.empty((0, 0))
    free_idx = np.empty(0, dtype=np.int64)
    free = np.zeros(p, dtype=np.bool_)
    block = False
    # the homotopy's Cholesky factor, support and signs, kept from one alpha to the next
    HL = np.empty((0, 0))
    HA = np.empty(0, dtype=np.int64)
    Hsgn = np.empty(0)
    Hk = 0
    for a in range(alphas.shape[0]):
        alpha = alphas[a]
        key = 1 if alpha == 0.0 else 0
        if key != free_key:
            free, free_idx = _free_features(pf, lower, upper, G_diag, alpha)
            block = free_idx.shape[0] <= FREE_BLOCK_MAX
            if block and free_idx.shape[0] > 0:
                A = _free_gram(D, sparse, unit_w, n, inv_scale, free_idx)
            free_key = key
        use_block = block and free_idx.shape[0] > 0
        l1r = alpha * l1_ratio
        l2r = alpha * (1.0 - l1_ratio)
        n_ws = _add_strong(q, in_set, ws, n_ws, skip, l1_ratio * (2.0 * alpha - prev_alpha), pf)
        # sweep in column order: sparse columns then stream from memory (the working set
        # grew by one increasing run per alpha; visiting the runs in turn jumps across X)
        ws[:n_ws].sort()
        walked = False
        if homotopy_min > 0 and a >= 1 and converged[a - 1]:
            n_nonzero = 0
            for t in range(n_ws):
                if beta[ws[t]] != 0.0:
                    n_nonzero += 1
            if homotopy_min <= n_nonzero < homotopy_cap:
                if HL.shape[0] == 0:
                    HL = np.zeros((homotopy_cap, homotopy_cap))
                    HA = np.empty(homotopy_cap, dtype=np.int64)
                    Hsgn = np.empty(homotopy_cap)
                reached, events, Gc, n_cached, Hk = lasso_homotopy(
                    ws, n_ws, D, sparse, unit_w, v, st, beta, inv_scale, pf, lower, upper,
                    free, alphas[a - 1], alpha, Gc, slot, cached, n_cached, HL, HA, Hsgn, Hk)
                walked = events > 0
        if not walked and a >= 2 and converged[a - 1] and converged[a - 2]:
            # the solution two alphas back, from the stored path, in `moved` (scratch until
            # the sweeps: no p-vectors of its own)
            for t in range(n_ws):
                moved[ws[t]] = 0.0
            for k in range(path_ptr[a - 2], path_ptr[a - 1]):
                moved[path_idx[k]] = path_val[k]
            _predict_start(ws, n_ws, D, sparse, unit_w, v, st, beta, moved, inv_scale,
                           (alpha - alphas[a - 1]) / (alphas[a - 1] - alphas[a - 2]), pf,
                           l1r, l2r, lower, upper, w, pv, pst)
        it, gap, primal, done = 0, INF, 0.0, False
        best_dual = -INF    # the best lower bound on the objective found at this alpha
        extrapolate = True
        full = True         # next sweep over the whole working set (else the support only)
        n_act = 0
        n_sup = 0
        wait = 0            # sweeps to go before the next full check after a gap miss
        pause = 1
        # the lasso's full check also runs, settled or not, once this many sweeps have passed
        # (then at twice as many): where columns coincide, the lasso has many solutions, and
        # coordinate descent and the support's Newton steps can trade weight between them
        # forever, so the coefficients never settle. Its fitted values are unique, though, and
        # the gap bounds their distance to the optimal ones (||X (b - b*)||_W^2 <= 2 gap), so
        # the gap decides there. With an L2 term the coefficients are unique and must settle.
        check_at = FORCED_CHECK_SWEEPS
        while it < max_iter:
            it += 1
            idx, n_idx = (ws, n_ws) if full else (act, n_act)
            max_step, max_coef = _sweep(idx, n_idx, D, sparse, unit_w, v, st, beta, G_diag,
                                        inv_scale, l1r, l2r, pf, lower, upper, moved)
            work += n_idx * col_cost
            if use_block:
                _solve_free_block(A, free_idx, D, sparse, unit_w, v, st, beta, inv_scale)
            settled = max_step <= coef_tol * max_coef
            if not full:
                if settled:
                    full = True     # the support has converged: a full sweep checks it
                    continue
                n_sup += 1
                if n_sup == 6 or n_sup % 24 == 0 or newton_due:
                    # solve the settled support exactly (its Gram columns are cached); when
                    # the sweeps since the last one have not paid for it yet, retry each sweep
                    status, Gc, n_cached = _support_newton(
                        act, n_act, D, sparse, unit_w, v, st, beta, inv_scale, l1r, l2r, pf,
                        lower, upper, free, Gc, slot, cached, n_cached, cache_max, nidx,
                        col_cost, work, False)
                    newton_due = status == NEWTON_UNPAID
                    if status == NEWTON_TAKEN:
                        work = 0.0
                        n_hist = 0
                        continue
                # extrapolate the last ANDERSON_K + 1 iterates on the support
                Hb[n_hist, :n_act] = beta[act[:n_act]]
                Hv[n_hist] = v
                Hs[n_hist] = st
                n_hist += 1
                if n_hist == ANDERSON_K + 1:
                    _anderson(Hb[:, :n_act], Hv, Hs, act[:n_act], beta, v, st, w, pf, l1r, l2r,
                              lower, upper)
                    n_hist = 0
                    # shrink: keep sweeping only the coordinates still moving (the full
                    # sweep that ends the phase checks all of them again)
                    keep = 0
                    for t in range(n_act):
                        if moved[act[t]] > coef_tol * max_coef or free[act[t]]:
                            act[keep] = act[t]
                            keep += 1
                    n_act = keep
                continue
            if not settled and (it < check_at or l2r > 0.0):
                n_act = 0
                for t in range(n_ws):
                    j = ws[t]
                    if beta[j] != 0.0:
                        act[n_act] = j
                        n_act += 1
                full = n_act == n_ws
                n_hist = 0
                if n_act > Hb.shape[1]:     # the history is empty: no copy
                    Hb = np.empty((ANDERSON_K + 1, min(p, n_act + n_act // 16)))
                n_sup = 0
                continue
            forced = not settled
            if forced:
                check_at = 2 * it
            elif wait > 0:
                wait -= 1
                continue
            # the working set has converged: check all features (the free features are
            # solved again against the exact residual: the gap assumes their gradient is 0)
            _residual(D, sparse, unit_w, yc, beta, inv_scale, v, st)
            if use_block:
                _solve_free_block(A, free_idx, D, sparse, unit_w, v, st, beta, inv_scale)
            _gradient_all(D, sparse, v, st, inv_scale, skip, q)
            n_before = n_ws
            n_ws = _add_violators(q, in_set, ws, n_ws, skip, G_diag, l1r, l2r, pf, lower, upper)
            if n_ws > n_before:
                ws[:n_ws].sort()
            primal, gap = duality_gap(q, beta, zeros, _y_dot_r(D, yc, v, st), alpha, l1_ratio,
                                      pf, lower, upper, free)
            if n_ws > n_before:
                continue
            plain_dual = primal - gap
            gap = min(gap, primal - best_dual)
            if gap <= tol * primal or gap <= floor:
                done = True
                break
            if gap < INF and free_idx.shape[0] == 0 and extrapolate:
                # K + 1 sweeps more, then the dual point extrapolated from their residuals
                for k in range(ANDERSON_K + 1):
                    it += 1
                    max_step, max_coef = _sweep(ws, n_ws, D, sparse, unit_w, v, st, beta,
                                                G_diag, inv_scale, l1r, l2r, pf, lower, upper,
                                                moved)
                    work += n_ws * col_cost
                    Ev[k] = v
                    Es[k] = st
                dual_x = _extrapolated_dual(Ev, Es, D, sparse, yc, inv_scale, skip, qx, alpha,
                                            l1_ratio, pf, lower, upper, free)
                # not better than the plain residual: not worth its sweeps at this alpha
                extrapolate = dual_x > plain_dual
                best_dual = max(best_dual, dual_x)
                _residual(D, sparse, unit_w, yc, beta, inv_scale, v, st)
                primal = _objective(v, st, w, beta, ws[:n_ws], pf, l1r, l2r)
                gap = primal - best_dual
                if (gap <= tol * primal or gap <= floor) and \
                        (forced or max_step <= coef_tol * max_coef):
                    _gradient_all(D, sparse, v, st, inv_scale, skip, q)
                    done = True
                    break
            if gap == INF:
                # no finite certificate: fall back to the KKT conditions
                if kkt_violation(q, beta, G_diag, alpha, l1_ratio, pf, lower, upper) <= \
                        tol * np.sqrt(max(yy, 1e-300)):
                    done = True
                    break
            # the working set has settled but the gap has not closed: on an ill-conditioned
            # support (nonzeros near n) coordinate descent crawls with steps below coef_tol,
            # so solve the support exactly once the sweeps have paid for it
            status, Gc, n_cached = _support_newton(
                ws, n_ws, D, sparse, unit_w, v, st, beta, inv_scale, l1r, l2r, pf, lower,
                upper, free, Gc, slot, cached, n_cached, cache_max, nidx, col_cost, work, True)
            if status == NEWTON_TAKEN:
                work = 0.0
                continue
            wait = pause
            pause *= 2
        if not done:
            _residual(D, sparse, unit_w, yc, beta, inv_scale, v, st)
            _gradient_all(D, sparse, v, st, inv_scale, skip, q)
            primal, gap = duality_gap(q, beta, zeros, _y_dot_r(D, yc, v, st), alpha, l1_ratio,
                                      pf, lower, upper, free)
            gap = min(gap, primal - best_dual)
        path_idx, path_val = _store_row(beta, a, path_ptr, path_idx, path_val)
        gaps[a], primals[a], n_iters[a], converged[a] = gap, primal, it, done
        kkts[a] = kkt_violation(q, beta, G_diag, alpha, l1_ratio, pf, lower, upper)
        prev_alpha = alpha
    return path_idx, path_val


@njit(cache=True, nogil=True)
def _predict_start(ws, n_ws, D, sparse, unit_w, v, st, beta, beta_prev, inv_scale, ratio, pf,
                   l1r, l2r, lower, upper, w, pv, pst):
    """Start an alpha from the path extrapolated linearly in alpha, when that is better.

    On a fixed support and signs the lasso path is linear in alpha, and the elastic net's
    close to it, so ``b + ratio (b - b_prev)`` (``ratio`` the step in alpha relative to the
    previous one) usually lands nearer the new solution than ``b`` itself (on D3 of the
    benchmark a fifth fewer sweeps, all near interpolation, where each sweep gains little).
    A coefficient is not carried across zero or out of its box. Kept only if it lowers
    the objective.
    """
    before = _objective(v, st, w, beta, ws[:n_ws], pf, l1r, l2r)
    pv[:] = v
    pst[:] = st
    old = np.empty(n_ws)        # the working set's coefficients, to undo the move
    moved = False
    for t in range(n_ws):
        j = ws[t]
        b = beta[j]
        old[t] = b
        x = b + ratio * (b - beta_prev[j])
        if b == 0.0 or x == b:
            continue
        if (x > 0.0) != (b > 0.0):
            x = 0.0
        x = min(max(x, lower[j]), upper[j])
        if x != b:
            _update(j, (x - b) * inv_scale[j], D, sparse, unit_w, pv, pst)
            beta[j] = x
            moved = True
    if not moved:
        return
    if _objective(pv, pst, w, beta, ws[:n_ws], pf, l1r, l2r) < before:
        v[:] = pv
        st[:] = pst
    else:
        for t in range(n_ws):
            beta[ws[t]] = old[t]


@njit(cache=True, nogil=True)
def _store_row(beta, a, ptr, idx, val):
    """Append the nonzeros of ``beta`` as row ``a`` of a CSR path (buffers grow by half)."""
    nnz = 0
    for j in range(beta.shape[0]):
        if beta[j] != 0.0:
            nnz += 1
    start = ptr[a]
    if start + nnz > idx.shape[0]:
        cap = max(start + nnz, idx.shape[0] + idx.shape[0] // 2)
        bigger_i = np.empty(cap, dtype=idx.dtype)
        bigger_v = np.empty(cap)
        bigger_i[:start] = idx[:start]
        bigger_v[:start] = val[:start]
        idx, val = bigger_i, bigger_v
    k = start
    for j in range(beta.shape[0]):
        if beta[j] != 0.0:
            idx[k] = j
            val[k] = beta[j]
            k += 1
    ptr[a + 1] = k
    return idx, val


@njit(cache=True, nogil=True)
def column_moments(D, sparse, fit_intercept):
    """Weighted mean, spread and ``sum_i w_i x_ij`` of every column (two passes).

    The spread is the weighted variance about the mean (with intercept) or the mean
    square (without). Also returns the largest |x_ij| of each column over the rows that
    count (w_i > 0): it decides which columns are constant, and a huge value on a row
    weighted 0 (a held-out row in CV) must not make a column look constant.
    """
    X, data, indices, indptr, mean_unused, colw_unused, w, exact_unused, drow_unused = D
    n = w.shape[0]
    p = indptr.shape[0] - 1 if sparse else X.shape[0]
    mean = np.zeros(p)
    colw = np.zeros(p)
    var = np.zeros(p)
    maxabs = np.zeros(p)
    for j in range(p):
        s = 0.0
        mx = 0.0
        if sparse:
            for k in range(indptr[j], indptr[j + 1]):
                x = data[k]
                s += w[indices[k]] * x
                if w[indices[k]] > 0.0:
                    mx = max(mx, abs(x))
        else:
            for i in range(n):
                s += w[i] * X[j, i]
                if w[i] > 0.0:
                    mx = max(mx, abs(X[j, i]))
        colw[j] = s
        maxabs[j] = mx
        m = s if fit_intercept else 0.0
        mean[j] = m
        acc = 0.0
        if sparse:
            w_nz = 0.0
            for k in range(indptr[j], indptr[j + 1]):
                wi = w[indices[k]]
                d = data[k] - m
                acc += wi * d * d
                w_nz += wi
            acc += max(1.0 - w_nz, 0.0) * m * m      # the implicit zeros
        else:
            for i in range(n):
                d = X[j, i] - m
                acc += w[i] * d * d
        var[j] = acc
    return mean, colw, var, maxabs

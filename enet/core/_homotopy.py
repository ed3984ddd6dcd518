"""The exact lasso path between two alphas by homotopy (LARS with lasso modification).

Coordinate descent crawls where the lasso saturates: once the support nears the rank of
the design (nonzeros close to the number of rows), the support's Gram block is so
ill-conditioned that sweeps gain little and the support changes about one feature per
Newton step. The lasso path itself is simple there: on a fixed support A with signs s its
coefficients are linear in alpha,

    b_A(alpha) = b_A(alpha0) + (alpha0 - alpha) G_AA^{-1} (pf_A * s_A),

and it changes direction only at *events*: a coefficient reaching zero (it leaves A) or an
inactive feature's gradient reaching the threshold ``alpha pf_j`` (it joins A). Following
those events with a Cholesky factor of ``G_AA`` kept up to date (one row appended, or one
row deleted by Givens rotations, ``O(|A|^2)`` each) walks the exact path from one grid
alpha to the next (Efron et al. 2004; Osborne, Presnell and Turlach 2000).

The walk is a warm start, never the answer: the caller's coordinate descent then checks
every feature and certifies the duality gap as at any other alpha. Candidates for joining
are the caller's working set (the strong-rule set and the features active before); a
feature outside it that should join is found by that check.

Problem and coordinates are those of ``_cd_naive`` (weighted residual state ``v, st``,
the Gram cache ``Gc[slot[a], slot[b]] = xt_a' W xt_b``), with ``l2 = 0``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from enet.core._columns import _cache_add, _dot, _move, _update

# an appended pivot below this fraction of its diagonal entry means the new column is
# (numerically) in the span of the support's: the support would exceed the rank
SINGULAR_PIVOT = 1e-10
EVENTS_PER_ROW = 4          # most events one segment may take, per row of the design


@njit(cache=True, nogil=True)
def _solve(L, k, rhs, out):
    """``out[:k] = (L L')^{-1} rhs[:k]`` for the leading k x k block of ``L``."""
    for i in range(k):
        acc = rhs[i]
        for c in range(i):
            acc -= L[i, c] * out[c]
        out[i] = acc / L[i, i]
    for i in range(k - 1, -1, -1):
        acc = out[i]
        for c in range(i + 1, k):
            acc -= L[c, i] * out[c]
        out[i] = acc / L[i, i]


@njit(cache=True, nogil=True)
def _append(L, k, col, diag) -> bool:
    """Grow the factor of ``G_AA`` by the column ``col`` (``G_Aj``) and ``diag`` (``G_jj``).

    False (and nothing changed) when the pivot shows ``j`` numerically in the span of A.
    """
    for i in range(k):
        acc = col[i]
        for c in range(i):
            acc -= L[i, c] * L[k, c]
        L[k, i] = acc / L[i, i]
    d2 = diag
    for c in range(k):
        d2 -= L[k, c] * L[k, c]
    if not d2 > SINGULAR_PIVOT * diag:
        return False
    L[k, k] = np.sqrt(d2)
    return True


@njit(cache=True, nogil=True)
def _delete(L, k, r):
    """Remove row and column ``r`` from the factor of a k x k matrix (Givens rotations)."""
    for i in range(r, k - 1):
        for c in range(i + 2):
            L[i, c] = L[i + 1, c]
    for c in range(r, k - 1):
        a, b = L[c, c], L[c, c + 1]
        h = np.hypot(a, b)
        if h == 0.0:
            continue
        cs, sn = a / h, b / h
        for i in range(c, k - 1):
            x, y = L[i, c], L[i, c + 1]
            L[i, c] = cs * x + sn * y
            L[i, c + 1] = cs * y - sn * x
    for i in range(k - 1):
        L[i, k - 1] = 0.0


@njit(cache=True, nogil=True)
def _ensure_cached(j, A, k, D, sparse, unit_w, inv_scale, Gc, slot, cached, n_cached):
    """Column j in the Gram cache; when the cache is full it is emptied and refilled with
    the support ``A[:k]`` first. Returns ``(Gc, n_cached)``."""
    if slot[j] >= 0:
        return Gc, n_cached
    if n_cached >= cached.shape[0]:
        for s in range(n_cached):
            slot[cached[s]] = -1
        n_cached = 0
        for t in range(k):
            Gc = _cache_add(A[t], D, sparse, unit_w, inv_scale, Gc, slot, cached, n_cached)
            n_cached += 1
    Gc = _cache_add(j, D, sparse, unit_w, inv_scale, Gc, slot, cached, n_cached)
    return Gc, n_cached + 1


@njit(cache=True, nogil=True)
def _join(j, A, sgn, L, k, s, D, sparse, unit_w, inv_scale, Gc, slot, cached, n_cached):
    """Append feature j with sign s. Returns ``(k', Gc, n_cached)``; ``k' == k`` when its
    column is in the span of the support's, or the factor has no room."""
    if k >= L.shape[0] or k + 1 > cached.shape[0]:
        return k, Gc, n_cached
    Gc, n_cached = _ensure_cached(j, A, k, D, sparse, unit_w, inv_scale, Gc, slot, cached,
                                  n_cached)
    col = np.empty(k)
    for t in range(k):
        if slot[A[t]] < 0:      # emptied by a refill: bring the support back
            Gc, n_cached = _ensure_cached(A[t], A, k, D, sparse, unit_w, inv_scale, Gc, slot,
                                          cached, n_cached)
    sj = slot[j]
    if sj < 0:
        return k, Gc, n_cached
    for t in range(k):
        col[t] = Gc[slot[A[t]], sj]
    if not _append(L, k, col, Gc[sj, sj]):
        return k, Gc, n_cached
    A[k] = j
    sgn[k] = s
    return k + 1, Gc, n_cached


@njit(cache=True, nogil=True)
def lasso_homotopy(ws, n_ws, D, sparse, unit_w, v, st, beta, inv_scale, pf, lower, upper,
                   free, alpha0, alpha1, Gc, slot, cached, n_cached, L, A, sgn, k):
    """Follow the lasso path from the solution at ``alpha0`` down to ``alpha1``.

    Parameters
    ----------
    ws, n_ws : the working set (candidates for joining).
    D, sparse, unit_w, v, st, beta, inv_scale : design, residual state and coefficients
        (solver coordinates) of ``_cd_naive``; ``beta`` and ``v, st`` are updated in place.
    pf, lower, upper, free : penalty factors, bounds (only 0 and infinite bounds are
        followed: the caller checks) and unpenalised features.
    alpha0, alpha1 : from the (approximate) solution at ``alpha0`` to ``alpha1 < alpha0``.
    Gc, slot, cached, n_cached : the Gram cache (columns are added, and the cache refilled
        when full).
    L, A, sgn, k : Cholesky factor of ``G_AA`` (capacity ``L.shape[0]``), the support in
        factor order, its signs (0 for unpenalised features) and its size, kept by the
        caller across alphas: the support of ``beta`` is brought in line with it first.

    Returns
    -------
    (alpha reached, events, Gc, n_cached, k)
        ``alpha reached == alpha1`` when the segment was completed; otherwise the walk
        stopped where the support would exceed the rank or the factor's capacity (``beta``
        is then the path's point at the alpha reached, a warm start all the same).
    """
    n = v.shape[0]
    p = beta.shape[0]
    # 1. the factor's support := the nonzero (or free) features of the working set
    member = np.zeros(p, dtype=np.bool_)
    for t in range(n_ws):
        j = ws[t]
        member[j] = beta[j] != 0.0 or free[j]
    t = 0
    while t < k:
        j = A[t]
        if member[j] and (free[j] or (beta[j] > 0.0) == (sgn[t] > 0.0)):
            member[j] = False       # kept, in place
            t += 1
        else:
            _delete(L, k, t)
            for u in range(t, k - 1):
                A[u] = A[u + 1]
                sgn[u] = sgn[u + 1]
            k -= 1
    for t in range(n_ws):
        j = ws[t]
        if member[j]:
            s = 0.0 if free[j] else (1.0 if beta[j] > 0.0 else -1.0)
            k2, Gc, n_cached = _join(j, A, sgn, L, k, s, D, sparse, unit_w, inv_scale, Gc,
                                     slot, cached, n_cached)
            if k2 == k:
                return alpha0, 0, Gc, n_cached, k
            k = k2
    in_A = np.zeros(p, dtype=np.bool_)
    for t in range(k):
        in_A[A[t]] = True

    # 2. make the start exact on its support: G_AA b_A = c_A - alpha0 pf_A s_A
    g = np.empty(k)
    for t in range(k):
        j = A[t]
        g[t] = _dot(j, D, sparse, v, st) * inv_scale[j] - alpha0 * pf[j] * sgn[t]
    delta = np.empty(k)
    _solve(L, k, g, delta)
    flips = False
    for t in range(k):
        j = A[t]
        if not free[j] and (beta[j] + delta[t] > 0.0) != (sgn[t] > 0.0):
            flips = True
    if not flips and np.all(np.isfinite(delta[:k])):
        for t in range(k):
            _move(A[t], beta[A[t]] + delta[t], D, sparse, unit_w, v, st, beta, inv_scale)

    # 3. candidates and their gradients
    cand = np.empty(n_ws, dtype=np.int64)
    n_c = 0
    for t in range(n_ws):
        if not in_A[ws[t]]:
            cand[n_c] = ws[t]
            n_c += 1
    grad = np.empty(n_ws)
    for t in range(n_c):
        j = cand[t]
        grad[t] = _dot(j, D, sparse, v, st) * inv_scale[j]

    alpha = alpha0
    rhs = np.empty(L.shape[0])
    direction = np.empty(L.shape[0])
    slope = np.empty(n_ws)
    u = np.empty(n)
    ust = np.zeros(2)
    last_drop = -1      # may not rejoin at the next event (no cycling at a tie)
    events = 0
    max_events = EVENTS_PER_ROW * n + 100
    while alpha > alpha1 and events < max_events:
        # direction of b_A as alpha decreases, and of every candidate's gradient
        for t in range(k):
            rhs[t] = pf[A[t]] * sgn[t]
        _solve(L, k, rhs, direction)
        u[:] = 0.0
        ust[:] = 0.0
        for t in range(k):
            _update(A[t], -direction[t] * inv_scale[A[t]], D, sparse, unit_w, u, ust)
        for t in range(n_c):
            j = cand[t]
            slope[t] = _dot(j, D, sparse, u, ust) * inv_scale[j]
        # the first event
        step = alpha - alpha1
        kind, at, s_new = 0, -1, 0.0
        for t in range(k):
            j = A[t]
            d = direction[t]
            if free[j] or sgn[t] * d >= 0.0:       # moving away from zero
                continue
            h = -beta[j] / d
            if h < step:
                step, kind, at = max(h, 0.0), 1, t
        for t in range(n_c):
            j = cand[t]
            if j == last_drop:
                continue
            a_j, g_j, thr = slope[t], grad[t], pf[j]
            if upper[j] > 0.0 and thr - a_j > 0.0:
                h = (alpha * thr - g_j) / (thr - a_j)
                if h < step:
                    step, kind, at, s_new = max(h, 0.0), 2, t, 1.0
            if lower[j] < 0.0 and thr + a_j > 0.0:
                h = (alpha * thr + g_j) / (thr + a_j)
                if h < step:
                    step, kind, at, s_new = max(h, 0.0), 2, t, -1.0
        if not np.isfinite(step):
            break
        # move along the segment: b_A += step * direction, r -= step * X_A direction
        for t in range(k):
            beta[A[t]] += step * direction[t]
        for i in range(n):
            v[i] -= step * u[i]
        st[0] -= step * ust[0]
        st[1] -= step * ust[1]
        for t in range(n_c):
            grad[t] -= step * slope[t]
        alpha -= step
        events += 1
        if kind == 0:
            alpha = alpha1
            break
        if kind == 1:
            j = A[at]
            _move(j, 0.0, D, sparse, unit_w, v, st, beta, inv_scale)
            _delete(L, k, at)
            for t in range(at, k - 1):
                A[t] = A[t + 1]
                sgn[t] = sgn[t + 1]
            k -= 1
            in_A[j] = False
            cand[n_c] = j
            grad[n_c] = _dot(j, D, sparse, v, st) * inv_scale[j]
            n_c += 1
            last_drop = j
        else:
            j = cand[at]
            k2, Gc, n_cached = _join(j, A, sgn, L, k, s_new, D, sparse, unit_w, inv_scale, Gc,
                                     slot, cached, n_cached)
            if k2 == k:
                break               # the support would exceed the rank
            k = k2
            in_A[j] = True
            cand[at] = cand[n_c - 1]
            grad[at] = grad[n_c - 1]
            n_c -= 1
            last_drop = -1
    return alpha, events, Gc, n_cached, k

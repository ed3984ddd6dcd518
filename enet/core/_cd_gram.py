"""Compiled coordinate descent on a Gram matrix ("covariance updates").

The problem, in the (centred, possibly standardised) coordinates of the caller::

    minimise  1/2 (yy - 2 c'b + b'G b) + sum_j ( l1_j |b_j| + l2_j / 2 b_j^2 )
    subject to lower_j <= b_j <= upper_j

with ``l1_j = alpha * l1_ratio * pf_j`` and ``l2_j = alpha * (1 - l1_ratio) * pf_j``.
The kernels take contiguous arrays and scalars only; the Python driver in
``path.py`` owns the grid, the certificate and the warnings.

Every solution is certified by a duality gap: the dual point is the residual
scaled into the dual-feasible set, so ``primal - dual`` bounds the distance to
the optimal objective value.
"""

from __future__ import annotations

import numpy as np
from numba import njit

INF = np.inf


@njit(cache=True, nogil=True)
def _soft(z: float, t: float) -> float:
    if z > t:
        return z - t
    if z < -t:
        return z + t
    return 0.0


@njit(cache=True, nogil=True)
def _conjugate(z: float, l1: float, l2: float, lo: float, up: float) -> float:
    """Convex conjugate of ``l1|b| + l2/2 b^2`` restricted to ``[lo, up]``."""
    if l2 > 0.0:
        b = _soft(z, l1) / l2
    elif z > l1:
        b = up
    elif z < -l1:
        b = lo
    else:
        b = 0.0
    if b > up:
        b = up
    if b < lo:
        b = lo
    if b == 0.0:
        return 0.0
    if not np.isfinite(b):
        return INF      # |z| > l1 towards an unbounded side with no ridge part
    return z * b - l1 * abs(b) - 0.5 * l2 * b * b


@njit(cache=True, nogil=True)
def kkt_violation(q, beta, G_diag, alpha, l1_ratio, pf, lower, upper):
    """Largest violation of the optimality (subgradient) conditions.

    ``q = c - G b`` is minus the gradient of the smooth loss.
    """
    worst = 0.0
    for j in range(beta.shape[0]):
        l2 = alpha * (1.0 - l1_ratio) * pf[j]
        if G_diag[j] + l2 <= 0.0 or lower[j] == upper[j]:
            continue
        l1 = alpha * l1_ratio * pf[j]
        f = -q[j] + l2 * beta[j]          # gradient of the smooth part
        b = beta[j]
        if b >= upper[j]:                 # need f + l1*s <= 0 for some s in d|b|
            v = f + l1 if upper[j] > 0.0 else f - l1
            v = max(v, 0.0)
        elif b <= lower[j]:               # need f + l1*s >= 0
            v = l1 - f if lower[j] < 0.0 else -f - l1
            v = max(v, 0.0)
        elif b != 0.0:
            v = abs(f + l1 * (1.0 if b > 0.0 else -1.0))
        else:
            v = max(abs(f) - l1, 0.0)
        if v > worst:
            worst = v
    return worst


@njit(cache=True, nogil=True)
def _dual_at_scale(sc, q, yr, r2, alpha, l1_ratio, pf, lower, upper, free):
    """Dual objective at ``sc`` times the residual ``r`` (``q = Xt' W r``, ``yr = y' W r``,
    ``r2 = r' W r``)."""
    dual = sc * yr - 0.5 * sc * sc * r2
    for j in range(q.shape[0]):
        if free[j]:
            continue
        l1 = alpha * l1_ratio * pf[j]
        l2 = alpha * (1.0 - l1_ratio) * pf[j]
        dual -= _conjugate(sc * q[j], l1, l2, lower[j], upper[j])
    return dual


@njit(cache=True, nogil=True)
def dual_value(q, yr, r2, alpha, l1_ratio, pf, lower, upper, free):
    """A lower bound on the optimal objective from a residual-like vector ``r``.

    ``q = Xt' W r`` (of every feature; those in ``free`` must be orthogonal to ``r``),
    ``yr = y' W r`` and ``r2 = r' W r``. The dual point is ``s r`` with ``s`` the larger of
    two valid choices: the largest scale in [0, 1] that keeps the conjugates finite, and
    the scale maximising the quadratic part below it (the exact maximiser for the lasso).
    Returns ``-inf`` when no finite dual point exists along ``r`` (possible only for
    bounded unpenalised features).
    """
    p = q.shape[0]
    s = 1.0
    for j in range(p):
        if free[j]:
            continue
        l2 = alpha * (1.0 - l1_ratio) * pf[j]
        if l2 > 0.0:
            continue
        l1 = alpha * l1_ratio * pf[j]
        qj = q[j]
        if (qj > 0.0 and upper[j] == INF) or (qj < 0.0 and lower[j] == -INF):
            if l1 < abs(qj) * s:
                s = l1 / abs(qj)
                while s > 0.0 and s * abs(qj) > l1:     # rounding must not cross l1
                    s = np.nextafter(s, 0.0)
    if s <= 0.0:
        return -INF
    best = _dual_at_scale(s, q, yr, r2, alpha, l1_ratio, pf, lower, upper, free)
    if r2 > 0.0 and 0.0 < yr < s * r2:
        best = max(best, _dual_at_scale(yr / r2, q, yr, r2, alpha, l1_ratio, pf, lower, upper,
                                        free))
    return best


@njit(cache=True, nogil=True)
def duality_gap(q, beta, c, yy, alpha, l1_ratio, pf, lower, upper, free):
    """Primal objective and duality gap at ``beta`` (``q = c - G beta``).

    Returns ``(primal, gap)``; the gap is ``inf`` when no finite dual point can be
    built from the residual (possible only for bounded unpenalised features).
    """
    p = beta.shape[0]
    bc = 0.0
    bq = 0.0
    pen = 0.0
    for j in range(p):
        bc += beta[j] * c[j]
        bq += beta[j] * q[j]
        pen += alpha * pf[j] * (l1_ratio * abs(beta[j]) + 0.5 * (1.0 - l1_ratio) * beta[j] ** 2)
    r2 = max(yy - bc - bq, 0.0)            # ||y - X b||^2 (normalised)
    yr = yy - bc                           # y'r
    primal = 0.5 * r2 + pen
    return primal, primal - dual_value(q, yr, r2, alpha, l1_ratio, pf, lower, upper, free)


@njit(cache=True, nogil=True)
def _solve_free_block(G, q, beta, free_idx):
    """Exact minimisation over the unpenalised, unbounded features (least squares)."""
    m = free_idx.shape[0]
    A = np.empty((m, m))
    rhs = np.empty(m)
    for a in range(m):
        rhs[a] = q[free_idx[a]]
        for b in range(m):
            A[a, b] = G[free_idx[a], free_idx[b]]
    delta = np.linalg.lstsq(A, rhs, -1.0)[0]
    for a in range(m):
        d = delta[a]
        if d != 0.0:
            j = free_idx[a]
            beta[j] += d
            for i in range(q.shape[0]):
                q[i] -= d * G[j, i]


ANDERSON_K = 5
# cost of one floating-point operation of a factorisation in units of coordinate descent's
# (one per Gram entry a coordinate update writes; in the naive solver one per stored entry
# of a column visited): a Newton step waits until the sweeps since the last one have cost
# as much, so that a large or singular support (duplicated or one-hot columns) cannot make
# the factorisations dominate. Measured on the D2 benchmark and on sparse fingerprints with
# duplicated columns: 0.01-0.03 keep D2's time, 0.1 more than doubles its sweeps
NEWTON_FLOP_WEIGHT = 0.03


@njit(cache=True, nogil=True)
def _objective(q, beta, c, yy, l1r, l2r, pf):
    bc = 0.0
    bq = 0.0
    pen = 0.0
    for j in range(beta.shape[0]):
        if beta[j] != 0.0:
            bc += beta[j] * c[j]
            bq += beta[j] * q[j]
            pen += pf[j] * (l1r * abs(beta[j]) + 0.5 * l2r * beta[j] * beta[j])
    return 0.5 * (yy - bc - bq) + pen


@njit(cache=True, nogil=True)
def _anderson_step(G, c, yy, q, beta, history, l1r, l2r, pf, lower, upper):
    """Anderson extrapolation of the last K+1 coordinate-descent iterates.

    Coordinate descent crawls on ill-conditioned problems (p > n, strong
    correlation); a combination of recent iterates whose differences cancel
    jumps ahead. The extrapolated point is kept only if it lowers the objective.
    """
    K = history.shape[0] - 1
    p = beta.shape[0]
    U = np.empty((K, p))
    for k in range(K):
        for j in range(p):
            U[k, j] = history[k + 1, j] - history[k, j]
    C = U @ U.T
    scale = 0.0
    for k in range(K):
        scale = max(scale, C[k, k])
    if scale <= 0.0:
        return False
    for k in range(K):
        C[k, k] += 1e-10 * scale
    z = np.linalg.lstsq(C, np.ones(K), -1.0)[0]
    s = z.sum()
    if s == 0.0 or not np.isfinite(s):
        return False
    z /= s
    cand = np.zeros(p)
    for k in range(K):
        for j in range(p):
            cand[j] += z[k] * history[k + 1, j]
    for j in range(p):
        if cand[j] > upper[j]:
            cand[j] = upper[j]
        elif cand[j] < lower[j]:
            cand[j] = lower[j]
    q_new = c.copy()
    for j in range(p):
        if cand[j] != 0.0:
            for i in range(p):
                q_new[i] -= cand[j] * G[j, i]
    if _objective(q_new, cand, c, yy, l1r, l2r, pf) < _objective(q, beta, c, yy, l1r, l2r, pf):
        beta[:] = cand
        q[:] = q_new
        return True
    return False


@njit(cache=True, nogil=True)
def _cholesky_regularised(M):
    """Cholesky factor of ``M``, or of ``M + delta I`` when ``M`` is (numerically) singular.

    ``delta`` starts at 1e-12 of the largest diagonal entry and grows by 100 until the
    factorisation succeeds (at most 1e-4): a singular block (duplicated or collinear
    columns) then costs a few factorisations instead of a singular value decomposition.
    The caller verifies the step it gives. Returns an empty matrix when nothing succeeds
    (non-finite entries).
    """
    try:
        return np.linalg.cholesky(M)
    except Exception:  # noqa: BLE001 - numba raises a generic LinAlgError
        pass
    n = M.shape[0]
    top = 0.0
    for i in range(n):
        top = max(top, abs(M[i, i]))
    delta = 1e-12 * max(top, 1e-300)
    R = M.copy()
    while delta <= 1e-4 * top:
        for i in range(n):
            R[i, i] = M[i, i] + delta
        try:
            return np.linalg.cholesky(R)
        except Exception:  # noqa: BLE001
            delta *= 100.0
    return np.empty((0, 0))


@njit(cache=True, nogil=True)
def _spd_solve(M, rhs):
    """Solve with a Cholesky factor (of ``M + delta I`` when M is singular); NaN when none
    exists."""
    L = _cholesky_regularised(M)
    n = rhs.shape[0]
    if L.shape[0] != n:
        return np.full(n, np.nan)
    z = np.empty(n)
    for i in range(n):                      # L z = rhs
        acc = rhs[i]
        for k in range(i):
            acc -= L[i, k] * z[k]
        z[i] = acc / L[i, i]
    x = np.empty(n)
    for i in range(n - 1, -1, -1):          # L' x = z
        acc = z[i]
        for k in range(i + 1, n):
            acc -= L[k, i] * x[k]
        x[i] = acc / L[i, i]
    return x


@njit(cache=True, nogil=True)
def _newton_step(G, c, yy, q, beta, l1r, l2r, pf, lower, upper, G_diag, free, budget):
    """Solve the problem restricted to the current support and signs exactly.

    Coordinate descent converges slowly on ill-conditioned Gram matrices; the
    optimum over the current support and signs is one linear system. The
    objective is a convex quadratic on that orthant, so it decreases all the
    way from ``beta`` to the system's solution: we move as far as the first
    coordinate that would change sign or cross a bound (it is set exactly to
    zero or the bound), or all the way, which is then exact on the support.

    Returns 1 when the step was taken, 0 when it was not (no support, or it did not lower
    the objective) and -1 when its factorisation would cost more than ``budget``
    (coordinate-descent operations, see ``NEWTON_FLOP_WEIGHT``).
    """
    p = beta.shape[0]
    n_a = 0
    for j in range(p):
        if free[j] or (beta[j] != 0.0 and lower[j] < beta[j] < upper[j]
                       and G_diag[j] + l2r * pf[j] > 0.0):
            n_a += 1
    if n_a == 0:
        return 0
    if NEWTON_FLOP_WEIGHT * n_a ** 3 / 3.0 + n_a * n_a > budget:
        return -1
    idx = np.empty(n_a, dtype=np.int64)
    k = 0
    for j in range(p):
        if free[j] or (beta[j] != 0.0 and lower[j] < beta[j] < upper[j]
                       and G_diag[j] + l2r * pf[j] > 0.0):
            idx[k] = j
            k += 1
    M = np.empty((n_a, n_a))
    rhs = np.empty(n_a)
    for a in range(n_a):
        j = idx[a]
        r = q[j] - (0.0 if free[j] else l1r * pf[j] * (1.0 if beta[j] > 0.0 else -1.0))
        for b in range(n_a):
            M[a, b] = G[j, idx[b]]
            r += G[j, idx[b]] * beta[idx[b]]
        M[a, a] += l2r * pf[j]
        rhs[a] = r
    x = _spd_solve(M, rhs)
    t = 1.0
    stop = -1
    stop_value = 0.0
    for a in range(n_a):
        j = idx[a]
        if not np.isfinite(x[a]):
            return 0
        d = x[a] - beta[j]
        if d == 0.0:
            continue
        # where the segment leaves the orthant of beta_j or its box
        limit = upper[j] if d > 0.0 else lower[j]
        if not free[j]:
            if beta[j] > 0.0 and d < 0.0:
                limit = max(limit, 0.0)
            elif beta[j] < 0.0 and d > 0.0:
                limit = min(limit, 0.0)
        if np.isfinite(limit):
            tj = (limit - beta[j]) / d
            if tj < t:
                t = max(tj, 0.0)
                stop = j
                stop_value = limit
    if t <= 0.0:
        return 0
    # in exact arithmetic the step decreases the objective; with a (nearly)
    # singular system it may not, so it is verified and undone if needed
    before = _objective(q, beta, c, yy, l1r, l2r, pf)
    old_beta = beta.copy()
    old_q = q.copy()
    for a in range(n_a):
        j = idx[a]
        nb = stop_value if j == stop else beta[j] + t * (x[a] - beta[j])
        d = nb - beta[j]
        if d != 0.0:
            beta[j] = nb
            for i in range(p):
                q[i] -= d * G[j, i]
    if _objective(q, beta, c, yy, l1r, l2r, pf) < before:
        return 1
    beta[:] = old_beta
    q[:] = old_q
    return 0


@njit(cache=True, nogil=True)
def _free_features(pf, lower, upper, G_diag, alpha):
    """Features with no penalty at this alpha and no bounds: solved as a block."""
    p = pf.shape[0]
    free = np.zeros(p, dtype=np.bool_)
    n_free = 0
    for j in range(p):
        if (pf[j] == 0.0 or alpha == 0.0) and lower[j] == -INF and upper[j] == INF \
                and G_diag[j] > 0.0:
            free[j] = True
            n_free += 1
    free_idx = np.empty(n_free, dtype=np.int64)
    k = 0
    for j in range(p):
        if free[j]:
            free_idx[k] = j
            k += 1
    return free, free_idx


@njit(cache=True, nogil=True)
def gram_path(G, c, yy, alphas, l1_ratio, pf, lower, upper, beta, tol, coef_tol, max_iter,
              strong_prev_alpha, coefs, gaps, primals, n_iters, kkts, converged):
    """Warm-started coordinate descent along a decreasing alpha grid.

    Parameters
    ----------
    G : (p, p) C-contiguous symmetric Gram matrix.
    c : (p,) ``X'y``; yy : float ``y'y`` (all normalised by the weight sum).
    alphas : (m,) decreasing grid.
    beta : (p,) starting point, updated in place.
    tol : relative duality-gap tolerance (gap <= tol * primal).
    coef_tol : the last sweep must also move no coefficient by more than
        ``coef_tol * max|b|``.
    strong_prev_alpha : alpha used by the sequential strong rule for the first
        grid point (normally alpha_max).
    coefs, gaps, primals, n_iters, kkts, converged : outputs, one row/entry per alpha.
    """
    p = G.shape[0]
    G_diag = np.empty(p)
    for j in range(p):
        G_diag[j] = G[j, j]
    q = c.copy()
    for j in range(p):
        if beta[j] != 0.0:
            for i in range(p):
                q[i] -= beta[j] * G[j, i]
    # numerical floor of the gap: the quadratic form loses ~eps * yy * p
    floor = 1e-14 * max(yy, 1e-300) * (1.0 + np.sqrt(p))
    in_set = np.zeros(p, dtype=np.bool_)
    for j in range(p):
        in_set[j] = beta[j] != 0.0 or pf[j] == 0.0
    ws = np.empty(p, dtype=np.int64)
    work = 0.0              # coordinate-descent operations since the last Newton step
    newton_due = False
    prev_alpha = strong_prev_alpha
    for a in range(alphas.shape[0]):
        alpha = alphas[a]
        free, free_idx = _free_features(pf, lower, upper, G_diag, alpha)
        n_free = free_idx.shape[0]
        l1r = alpha * l1_ratio
        l2r = alpha * (1.0 - l1_ratio)
        # sequential strong rule: a feature far inside its KKT region starts out
        thresh = l1_ratio * (2.0 * alpha - prev_alpha)
        for j in range(p):
            if not in_set[j] and abs(q[j]) >= thresh * pf[j]:
                in_set[j] = True
        n_ws = 0
        for j in range(p):
            if in_set[j]:
                ws[n_ws] = j
                n_ws += 1
        it = 0
        gap = INF
        primal = 0.0
        done = False
        stable = 0          # sweeps since the support last changed
        history = np.empty((ANDERSON_K + 1, p))
        n_hist = 0
        while it < max_iter:
            it += 1
            max_step = 0.0
            max_coef = 0.0
            support_changed = False
            for t in range(n_ws):
                j = ws[t]
                l2 = l2r * pf[j]
                denom = G_diag[j] + l2
                if denom <= 0.0:
                    continue
                bj = beta[j]
                z = q[j] + G_diag[j] * bj
                bn = _soft(z, l1r * pf[j]) / denom
                if bn > upper[j]:
                    bn = upper[j]
                elif bn < lower[j]:
                    bn = lower[j]
                if bn != bj:
                    d = bn - bj
                    if (bj == 0.0) != (bn == 0.0) or bn == upper[j] or bn == lower[j]:
                        support_changed = True
                    beta[j] = bn
                    for i in range(p):
                        q[i] -= d * G[j, i]
                    work += p
                    if abs(d) > max_step:
                        max_step = abs(d)
                if abs(bn) > max_coef:
                    max_coef = abs(bn)
            stable = 0 if support_changed else stable + 1
            if it >= 2 * (ANDERSON_K + 1):      # cheap problems finish before this
                history[n_hist] = beta
                n_hist += 1
                if n_hist == ANDERSON_K + 1:
                    _anderson_step(G, c, yy, q, beta, history, l1r, l2r, pf, lower, upper)
                    n_hist = 0
            # Newton on a support that has settled (3, 10, 30, ... sweeps), or when
            # coordinate descent is slow anyway (sweeps 32, 64, 128, ...)
            if stable == 3 or stable == 10 or (stable >= 30 and stable % 30 == 0) or \
                    (it >= 32 and (it & (it - 1)) == 0) or newton_due:
                status = _newton_step(G, c, yy, q, beta, l1r, l2r, pf, lower, upper, G_diag,
                                      free, work)
                newton_due = status < 0
                if not newton_due:
                    work = 0.0
            if n_free > 0:
                _solve_free_block(G, q, beta, free_idx)
            primal, gap = duality_gap(q, beta, c, yy, alpha, l1_ratio, pf, lower, upper, free)
            # the gap certifies the objective; the step size makes the coefficients
            # themselves settle (the gap alone is blind to tiny coefficients)
            if (gap <= tol * primal or gap <= floor) and max_step <= coef_tol * max_coef:
                done = True
                break
            # KKT check over features outside the working set: violators join it
            added = False
            for j in range(p):
                if in_set[j] or G_diag[j] + l2r * pf[j] <= 0.0:
                    continue
                l1 = l1r * pf[j]
                if (q[j] > l1 and upper[j] > 0.0) or (q[j] < -l1 and lower[j] < 0.0):
                    in_set[j] = True
                    ws[n_ws] = j
                    n_ws += 1
                    added = True
            if not added and gap == INF:
                # no finite certificate: fall back to the KKT conditions
                if kkt_violation(q, beta, G_diag, alpha, l1_ratio, pf, lower, upper) <= \
                        tol * np.sqrt(max(yy, 1e-300)) and max_step <= coef_tol * max_coef:
                    done = True
                    break
        for j in range(p):
            coefs[a, j] = beta[j]
        gaps[a] = gap
        primals[a] = primal
        n_iters[a] = it
        converged[a] = done
        kkts[a] = kkt_violation(q, beta, G_diag, alpha, l1_ratio, pf, lower, upper)
        prev_alpha = alpha

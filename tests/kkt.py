"""Optimality conditions of the Elastic Net computed from the data alone.

Independent of the solver: given raw X, y, weights and a candidate (b0, b), return
the largest violation of the subgradient conditions of

    1/(2 sum w) sum w_i (y_i - b0 - x_i b)^2 + alpha sum_j v_j (r|s_j b_j| + (1-r)/2 (s_j b_j)^2)

(s_j = weighted population sd of column j if standardize, else 1), relative to
sd(y) * sd(x_j), so that 1e-6 means "a millionth of the natural gradient scale".
"""

import numpy as np


def _fill(v, p, default):
    if v is None:
        return np.full(p, default, dtype=float)
    return np.broadcast_to(np.asarray(v, dtype=float), (p,)).copy()


def kkt_violation(X, y, coef, intercept, alpha, l1_ratio, *, sample_weight=None,
                  standardize=False, fit_intercept=True, penalty_factor=None,
                  lower_bounds=None, upper_bounds=None, positive=False):
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    n, p = X.shape
    w = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=float)
    w = w / w.sum()
    v = _fill(penalty_factor, p, 1.0)
    lo = _fill(lower_bounds, p, -np.inf)
    up = _fill(upper_bounds, p, np.inf)
    if positive:
        lo = np.maximum(lo, 0.0)
    resid = y - intercept - X @ coef
    if fit_intercept:
        mx, my = w @ X, w @ y
        Xc = X - mx
        sd_x = np.sqrt(w @ Xc**2)
        sd_y = np.sqrt(w @ (y - my) ** 2)
    else:
        Xc = X
        sd_x = np.sqrt(w @ X**2)
        sd_y = np.sqrt(w @ y**2)
    worst = 0.0
    if fit_intercept:
        worst = abs(w @ resid) / sd_y
    s = sd_x if standardize else np.ones(p)
    for j in range(p):
        if sd_x[j] <= 1e-12 * max(1.0, abs(X[:, j]).max()):
            worst = max(worst, 0.0 if coef[j] == 0 else np.inf)
            continue
        if lo[j] == up[j]:
            continue
        l1 = alpha * l1_ratio * v[j]
        l2 = alpha * (1 - l1_ratio) * v[j]
        beta = coef[j] * s[j]
        # gradient of the smooth part with respect to the standardised coefficient
        f = -(w * resid) @ Xc[:, j] / s[j] + l2 * beta
        lo_s, up_s = lo[j] * s[j], up[j] * s[j]
        tol_b = 1e-12 * max(1.0, abs(up_s) if np.isfinite(up_s) else 1.0)
        if np.isfinite(up_s) and beta >= up_s - tol_b:
            viol = max(f + l1 if up_s > 0 else f - l1, 0.0)
        elif np.isfinite(lo_s) and beta <= lo_s + tol_b:
            viol = max(l1 - f if lo_s < 0 else -f - l1, 0.0)
        elif beta != 0:
            viol = abs(f + l1 * np.sign(beta))
        else:
            viol = max(abs(f) - l1, 0.0)
        # f is in units of y * x_j / s_j
        worst = max(worst, viol * s[j] / (sd_y * sd_x[j]))
    return worst

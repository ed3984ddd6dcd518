"""Column kernels of coordinate descent on X: products with and updates by one column.

The design tuple ``D = (X, data, indices, indptr, mean, colw, w, exact, drow)`` and the
residual state ``v, st`` are described in ``enet.core._cd_naive``. These kernels are shared
by the coordinate-descent path (``_cd_naive``) and the lasso homotopy (``_homotopy``).
"""

from __future__ import annotations

import numpy as np
from numba import njit


# Column kernels take plain arrays: unpacking the design tuple costs reference counting,
# so hot loops unpack it once and dispatch per column between the sparse and dense forms.
@njit(cache=True, nogil=True, inline="always")
def _dot_sparse(j, data, indices, indptr, mean, v, st):
    """``(x_j - m_j)' v`` for a sparse column (``v`` uncentred, see ``_cd_naive``)."""
    acc = 0.0
    for k in range(indptr[j], indptr[j + 1]):
        acc += data[k] * v[indices[k]]
    return acc - mean[j] * st[1]


@njit(cache=True, nogil=True)
def _dot_dense(j, X, drow, exact, mean, v, st):
    """``(x_j - m_j)' v`` for a dense column (row ``drow[j]`` of ``X``)."""
    x = X[drow[j]]
    if exact[j]:
        m = mean[j]
        acc = 0.0
        for i in range(v.shape[0]):
            acc += (x[i] - m) * v[i]
        return acc
    return np.dot(x, v) - mean[j] * st[1]


@njit(cache=True, nogil=True, inline="always")
def _update_sparse(j, c, data, indices, indptr, mean, colw, w, v, st):
    """``r -= c * (x_j - m_j)`` for a sparse column: nonzeros only, the centring in ``st``."""
    for k in range(indptr[j], indptr[j + 1]):
        i = indices[k]
        v[i] -= c * w[i] * data[k]
    st[0] += c * mean[j]
    st[1] -= c * colw[j]


@njit(cache=True, nogil=True)
def _update_dense(j, c, X, drow, mean, colw, w, unit_w, v, st):
    """``r -= c * (x_j - m_j)`` for a dense column: the centring goes into the residual."""
    x = X[drow[j]]
    m = mean[j]
    if unit_w:
        cw = c * w[0]
        for i in range(v.shape[0]):
            v[i] -= cw * (x[i] - m)
    else:
        for i in range(v.shape[0]):
            v[i] -= c * w[i] * (x[i] - m)
    st[1] -= c * (colw[j] - m)


@njit(cache=True, nogil=True)
def _dot(j, D, sparse, v, st):
    """``(x_j - m_j)' v``: column j, centred, against the weighted residual."""
    X, data, indices, indptr, mean, colw, w, exact, drow = D
    if sparse and not exact[j]:
        return _dot_sparse(j, data, indices, indptr, mean, v, st)
    return _dot_dense(j, X, drow, exact, mean, v, st)


@njit(cache=True, nogil=True)
def _update(j, c, D, sparse, unit_w, v, st):
    """The residual after ``r -= c * (x_j - m_j)``."""
    X, data, indices, indptr, mean, colw, w, exact, drow = D
    if sparse and not exact[j]:
        _update_sparse(j, c, data, indices, indptr, mean, colw, w, v, st)
    else:
        _update_dense(j, c, X, drow, mean, colw, w, unit_w, v, st)


@njit(cache=True, nogil=True)
def _update_many(D, sparse, unit_w, coef, inv_scale, v, st):
    """The residual after ``r -= sum_j coef_j xt_j`` (nonzero ``coef_j`` only)."""
    X, data, indices, indptr, mean, colw, w, exact, drow = D
    for j in range(coef.shape[0]):
        if coef[j] != 0.0:
            c = coef[j] * inv_scale[j]
            if sparse and not exact[j]:
                _update_sparse(j, c, data, indices, indptr, mean, colw, w, v, st)
            else:
                _update_dense(j, c, X, drow, mean, colw, w, unit_w, v, st)


@njit(cache=True, nogil=True)
def _residual(D, sparse, unit_w, yc, beta, inv_scale, v, st):
    """Weighted residual of ``beta`` computed from scratch (no accumulated drift)."""
    w = D[6]
    sv = 0.0
    for i in range(v.shape[0]):
        v[i] = w[i] * yc[i]
        sv += v[i]
    st[0] = 0.0
    st[1] = sv
    _update_many(D, sparse, unit_w, beta, inv_scale, v, st)
    sv = 0.0
    for i in range(v.shape[0]):
        sv += v[i]
    st[1] = sv


@njit(cache=True, nogil=True)
def _y_dot_r(D, yc, v, st):
    """``yc' W r`` of the true residual."""
    o = st[0]
    w = D[6]
    acc = 0.0
    for i in range(v.shape[0]):
        acc += yc[i] * (v[i] + w[i] * o)
    return acc


@njit(cache=True, nogil=True)
def _gradient_all(D, sparse, v, st, inv_scale, skip, q):
    """``q_j = xt_j' W r`` for every feature (0 for constant columns)."""
    X, data, indices, indptr, mean, colw, w, exact, drow = D
    for j in range(q.shape[0]):
        if skip[j]:
            q[j] = 0.0
        elif sparse and not exact[j]:
            q[j] = _dot_sparse(j, data, indices, indptr, mean, v, st) * inv_scale[j]
        else:
            q[j] = _dot_dense(j, X, drow, exact, mean, v, st) * inv_scale[j]

@njit(cache=True, nogil=True)
def gradient_at(D, sparse, unit_w, yc, beta, inv_scale, skip):
    """``q = Xt' W r`` of every feature at ``beta`` (its residual computed from scratch)."""
    v = np.empty(yc.shape[0])
    st = np.zeros(2)
    _residual(D, sparse, unit_w, yc, beta, inv_scale, v, st)
    q = np.zeros(beta.shape[0])
    _gradient_all(D, sparse, v, st, inv_scale, skip, q)
    return q


@njit(cache=True, nogil=True)
def _cache_add(j, D, sparse, unit_w, inv_scale, Gc, slot, cached, n_cached):
    """Add column j to the Gram cache: its products with every cached column.

    ``Gc[slot[a], slot[b]] = xt_a' W xt_b``; returns the grown cache (a new array when the
    capacity doubles, up to ``cached.shape[0]`` columns).
    """
    cap = Gc.shape[0]
    if n_cached == cap:
        new_cap = min(2 * cap, cached.shape[0])
        bigger = np.empty((new_cap, new_cap))
        bigger[:cap, :cap] = Gc
        Gc = bigger
    n = D[6].shape[0]
    t = np.zeros(n)
    ts = np.zeros(2)
    _update(j, -inv_scale[j], D, sparse, unit_w, t, ts)        # t = W xt_j
    slot[j] = n_cached
    cached[n_cached] = j
    for s in range(n_cached + 1):
        b = cached[s]
        g = _dot(b, D, sparse, t, ts) * inv_scale[b]
        Gc[n_cached, s] = g
        Gc[s, n_cached] = g
    return Gc


@njit(cache=True, nogil=True)
def _move(j, value, D, sparse, unit_w, v, st, beta, inv_scale):
    """Set ``beta[j] = value`` and update the residual."""
    if value != beta[j]:
        _update(j, (value - beta[j]) * inv_scale[j], D, sparse, unit_w, v, st)
        beta[j] = value

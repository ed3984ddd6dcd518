"""Compiled gather of rows into fold order, minus the pilot shift, in one parallel pass."""

from __future__ import annotations

from numba import njit, prange


@njit(cache=True, parallel=True, nogil=True)
def gather_shifted(X, y, order, shift_x, shift_y, Z):
    """``Z[i, :p] = X[order[i]] - shift_x`` and ``Z[i, p] = y[order[i]] - shift_y``."""
    m, p = X.shape
    for i in prange(m):
        r = order[i]
        for j in range(p):
            Z[i, j] = X[r, j] - shift_x[j]
        Z[i, p] = y[r] - shift_y

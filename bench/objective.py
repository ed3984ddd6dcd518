"""The one objective every library is judged by (scikit-learn's ElasticNet scaling).

    F(b0, b) = 1/(2n) ||y - b0 - X b||^2 + alpha (l1_ratio ||b||_1 + (1 - l1_ratio)/2 ||b||^2)

with an unpenalised intercept b0 and no standardisation. X may be a dense ndarray or any
scipy.sparse matrix.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def objective(X, y, intercept: float, coef, alpha: float, l1_ratio: float) -> float:
    """F(intercept, coef) for one (alpha, l1_ratio)."""
    coef = np.asarray(coef, dtype=np.float64).ravel()
    y = np.asarray(y, dtype=np.float64).ravel()
    resid = y - float(intercept) - np.asarray(X @ coef).ravel()
    n = y.shape[0]
    loss = float(resid @ resid) / (2.0 * n)
    pen = alpha * (l1_ratio * float(np.abs(coef).sum())
                   + 0.5 * (1.0 - l1_ratio) * float(coef @ coef))
    return loss + pen


def objectives(X, y, intercepts, coefs, alphas, l1_ratio: float) -> np.ndarray:
    """F at every point of a path: ``coefs`` is (k, p), ``intercepts`` and ``alphas`` (k,)."""
    if sp.issparse(coefs):              # a path stored sparse (CSR, one row per alpha)
        coefs = sp.csr_array(coefs, dtype=np.float64)
        l1 = np.abs(coefs).sum(axis=1)
        l2 = coefs.multiply(coefs).sum(axis=1)
    else:
        coefs = np.atleast_2d(np.asarray(coefs, dtype=np.float64))
        l1 = np.abs(coefs).sum(axis=1)
        l2 = np.einsum("kj,kj->k", coefs, coefs)
    intercepts = np.asarray(intercepts, dtype=np.float64).ravel()
    alphas = np.asarray(alphas, dtype=np.float64).ravel()
    y = np.asarray(y, dtype=np.float64).ravel()
    n = y.shape[0]
    # one (n, k) product instead of k matrix-vector products
    fitted = X @ coefs.T
    fitted = fitted.toarray() if sp.issparse(fitted) else np.asarray(fitted)
    resid = y[:, None] - intercepts[None, :] - fitted
    loss = np.einsum("ik,ik->k", resid, resid) / (2.0 * n)
    pen = alphas * (l1_ratio * np.asarray(l1).ravel() + 0.5 * (1.0 - l1_ratio) * np.asarray(l2).ravel())
    return loss + pen


def alpha_max(X, y, l1_ratio: float) -> float:
    """Smallest alpha at which b = 0 is optimal: max_j |x_j_centred'(y - ybar)| / (n l1_ratio).

    ``x_j_centred'(y - ybar) = x_j'(y - ybar)`` because ``y - ybar`` sums to zero, so the
    centring of X is implicit and a sparse X stays sparse.
    """
    if l1_ratio <= 0:
        return float("inf")
    y = np.asarray(y, dtype=np.float64).ravel()
    yc = y - y.mean()
    grad = np.asarray(X.T @ yc).ravel()
    return float(np.max(np.abs(grad))) / (y.shape[0] * l1_ratio)


def alpha_grid(X, y, l1_ratio: float, n_alphas: int = 100, eps: float = 1e-3) -> np.ndarray:
    """Geometric grid from alpha_max down to eps * alpha_max (decreasing)."""
    amax = alpha_max(X, y, l1_ratio)
    return np.geomspace(amax, amax * eps, n_alphas)


def relative_gap(value, reference) -> np.ndarray:
    """(F - F_ref) / |F_ref| (negative if the peer beat the reference)."""
    value = np.asarray(value, dtype=np.float64)
    reference = np.asarray(reference, dtype=np.float64)
    return (value - reference) / np.maximum(np.abs(reference), 1e-300)

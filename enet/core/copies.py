"""Coinciding features and the lasso's canonical solution among them.

Where two standardised columns coincide on the training rows (up to sign: ``z_j = s z_k``),
the lasso has a whole segment of solutions: any same-signed split of their weight fits the
training rows equally well at the same L1 norm. Which split a solver lands on is decided
by rounding, yet it matters wherever the columns differ (held-out rows, new data): one-off
sparse columns, rare one-hot levels and duplicated features all coincide within a fold.
The lasso path here is made canonical by sharing each group's weight equally (the
minimum-norm solution, the limit of the elastic net as its L2 share goes to zero).

Copies are found from a few random projections of the standardised columns, which
coinciding columns share exactly (up to rounding and sign); groups need equal penalty
factors and no bounds, so that the even split keeps the objective.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

__all__ = ["N_PROBES", "probe_vectors", "copy_groups", "share_evenly", "lasso_among_copies"]

N_PROBES = 4
# projections equal to this relative precision count as equal (rounding in their sums is
# ~1e-15; unrelated columns agree in all probes only on a set of measure zero)
PROBE_RTOL = 1e-9


def probe_vectors(n: int, seed: int = 20_261_204) -> np.ndarray:
    """``(N_PROBES, n)`` fixed standard normal vectors (the same on every run)."""
    return np.random.default_rng(seed).standard_normal((N_PROBES, n))


def copy_groups(h: np.ndarray, usable: np.ndarray, penalty_factor: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray]:
    """Groups of features whose standardised columns coincide, up to sign.

    Parameters
    ----------
    h : ndarray (p, N_PROBES)
        Each feature's projections onto the probes: ``Z' W r`` for probe vectors ``r``
        (or rows of the standardised Gram matrix times random vectors); coinciding
        columns have equal rows up to sign.
    usable : ndarray of bool (p,)
        Features that may join a group (not constant, no finite bound).
    penalty_factor : ndarray (p,)
        Members of a group share one penalty factor.

    Returns
    -------
    group : ndarray of int64 (p,)
        Group number of each feature in a group of two or more, else -1.
    sign : ndarray (p,)
        ``+1`` or ``-1``: ``z_j = sign_j z_first`` within a group.
    """
    p = h.shape[0]
    group = np.full(p, -1, dtype=np.int64)
    sign = np.ones(p)
    idx = np.flatnonzero(usable & (h[:, 0] != 0.0))
    if idx.size < 2:
        return group, sign
    s = np.sign(h[idx, 0])
    key = h[idx] * s[:, None]
    order = np.argsort(key[:, 0], kind="stable")
    key, idx, s = key[order], idx[order], s[order]
    size = np.abs(key).max(axis=1)
    same = np.all(np.abs(np.diff(key, axis=0)) <=
                  PROBE_RTOL * np.maximum(size[1:], size[:-1])[:, None], axis=1)
    same &= penalty_factor[idx[1:]] == penalty_factor[idx[:-1]]
    if not same.any():
        return group, sign
    # runs of neighbours that coincide are the groups
    starts = np.flatnonzero(np.r_[True, ~same])
    run = np.repeat(np.arange(starts.size), np.diff(np.r_[starts, idx.size]))
    counts = np.bincount(run)
    member = counts[run] >= 2
    _, number = np.unique(run[member], return_inverse=True)
    group[idx[member]] = number
    sign[idx[member]] = s[member] * s[starts[run[member]]]
    return group, sign


def share_evenly(coefs, group: np.ndarray, sign: np.ndarray):
    """Each group's weight shared equally: ``b_j = sign_j sum_k sign_k b_k / size``.

    ``coefs`` is an (m, p) path in solver (standardised) coordinates, dense or sparse;
    returns a path of the same kind. Features outside groups are unchanged.
    """
    members = np.flatnonzero(group >= 0)
    if members.size == 0:
        return coefs
    p = group.shape[0]
    size = np.bincount(group[members]).astype(np.float64)
    # A = I outside the groups, sign_j sign_k / size within one: b' = b A
    M = sp.csr_array((sign[members], (members, group[members])), shape=(p, size.size))
    A = (M * (1.0 / size)[None, :]) @ M.T
    outside = np.flatnonzero(group < 0)
    A = (A + sp.csr_array((np.ones(outside.size), (outside, outside)), shape=(p, p))).tocsr()
    if sp.issparse(coefs):
        out = sp.csr_array(coefs @ A)
        out.sum_duplicates()
        out.eliminate_zeros()
        return out
    return np.asarray((A.T @ coefs.T).T)


def lasso_among_copies(coefs, project, constant: np.ndarray, lower: np.ndarray,
                       upper: np.ndarray, penalty_factor: np.ndarray):
    """A lasso path (solver coordinates) with each group of copies sharing its weight.

    ``project()`` returns the features' projections onto the probes (see
    :func:`copy_groups`); it is called only when two or more features may be grouped
    (not constant, unbounded in the solver's ``lower``/``upper``).
    """
    usable = ~constant & np.isneginf(lower) & np.isposinf(upper)
    if np.count_nonzero(usable) < 2:
        return coefs
    group, sign = copy_groups(project(), usable, penalty_factor)
    return share_evenly(coefs, group, sign)

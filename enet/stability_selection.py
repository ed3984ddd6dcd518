"""Stability selection from statistics of row blocks (no extra pass over the data).

Training's statistics pass accumulates one :class:`SufficientStats` per row block
(each CV fold split into a few blocks by a hash of the row number) instead of
one per fold; the fold statistics are sums of blocks, so cross-validation is
unchanged. Each half-sample fit sums the statistics of a random half of the
blocks and solves at the chosen (alpha, l1_ratio), warm-started along the CV
grid down to the chosen alpha: B fits cost B small p x p solves, never a pass
over the rows. The selection frequency of a feature is the share of fits in
which its coefficient is nonzero (Meinshausen and Buehlmann 2010).
"""

from __future__ import annotations

import math

import numpy as np

from enet.core.cv import sum_stats
from enet.core.path import path_from_stats
from enet.core.stats import SufficientStats
from enet.exceptions import UsageError

__all__ = ["blocks_per_fold", "block_ids", "selection_frequencies", "TARGET_BLOCKS"]

#: about this many blocks in all: C(20, 10) = 184,756 distinct half-samples
TARGET_BLOCKS = 20
#: the per-block statistics may use at most this much memory
BLOCK_MEMORY = 1 << 30


def blocks_per_fold(n_folds: int, n_features: int) -> int:
    """Blocks per CV fold so that there are ~20 blocks and their statistics fit in
    memory.

    Raises
    ------
    UsageError
        Too many features for at least 4 blocks of p x p statistics.
    """
    per_fold = max(1, math.ceil(TARGET_BLOCKS / n_folds))
    size = 8 * (n_features + 1) ** 2
    per_fold = min(per_fold, max(1, BLOCK_MEMORY // (size * n_folds)))
    if per_fold * n_folds < 4:
        raise UsageError(f"--stability: {n_features} features need "
                         f"{size * 4 / 2**30:.1f} GiB for 4 blocks of statistics; drop "
                         f"--stability or reduce the features")
    return per_fold


def block_ids(rows: np.ndarray, fold: np.ndarray, per_fold: int, seed: int) -> np.ndarray:
    """Block of each row: its fold's index times ``per_fold`` plus a hash of the row
    number (so blocks do not depend on how the table is chunked)."""
    if per_fold == 1:
        return fold
    with np.errstate(over="ignore"):
        z = rows.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15) + np.uint64(seed + 1)
        z = (z ^ (z >> np.uint64(31))) * np.uint64(0xBF58476D1CE4E5B9)
        z = z ^ (z >> np.uint64(29))
    return fold * per_fold + (z % np.uint64(per_fold)).astype(np.int64)


def selection_frequencies(blocks: list[SufficientStats], *, l1_ratio: float,
                          alphas: np.ndarray, n_fits: int, seed: int = 0,
                          fit_intercept: bool = True, standardize: bool = True,
                          tol: float = 1e-7, max_iter: int = 10_000) -> tuple[np.ndarray, dict]:
    """Share of half-sample fits in which each feature is selected.

    Parameters
    ----------
    blocks : list of SufficientStats
        Statistics of each row block (blocks without rows are ignored).
    l1_ratio : float
    alphas : ndarray
        Decreasing grid ending at the chosen alpha (the warm-start path).
    n_fits : int
        Number of half-sample fits B.
    seed : int

    Returns
    -------
    frequency : ndarray (p,)
    info : dict
        Fits, blocks, half size, alpha, l1_ratio and fits that did not converge.
    """
    blocks = [b for b in blocks if b.n_rows > 0 and b.sum_w > 0]
    nb = len(blocks)
    if nb < 4:
        raise UsageError(f"--stability needs at least 4 row blocks with rows; got {nb} "
                         f"(too few rows?)")
    half = nb // 2
    rng = np.random.default_rng(seed)
    p = blocks[0].n_features
    selected = np.zeros(p)
    unconverged = 0
    alphas = np.asarray(alphas, dtype=np.float64)
    for _ in range(n_fits):
        pick = rng.choice(nb, size=half, replace=False)
        stats = sum_stats([blocks[i] for i in pick])
        try:
            res = path_from_stats(stats, l1_ratio=l1_ratio, alphas=alphas,
                                  fit_intercept=fit_intercept, standardize=standardize,
                                  tol=tol, max_iter=max_iter, warn=False)
        except ValueError:          # e.g. a constant target in this half: counts as empty
            continue
        selected += res.coef[-1] != 0
        unconverged += int(not res.certificate.converged[-1])
    return selected / n_fits, {"fits": int(n_fits), "blocks": nb, "half_blocks": half,
                               "alpha": float(alphas[-1]), "l1_ratio": float(l1_ratio),
                               "unconverged": unconverged}

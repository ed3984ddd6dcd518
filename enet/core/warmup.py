"""Compile and cache every numba kernel once, so the first real command starts fast.

Run as ``python -m enet.core.warmup`` (the Makefile does it right after installing).
"""

from __future__ import annotations

import time

import numpy as np


def warmup() -> float:
    """Fit a tiny problem through every compiled code path; returns the seconds taken."""
    from enet.core.cv import cross_validated_fit, kfold_ids
    from enet.core.stats import FoldAccumulator

    start = time.perf_counter()
    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 4))
    y = X @ np.array([1.0, -1.0, 0.0, 0.5]) + rng.standard_normal(60)
    acc = FoldAccumulator(4, 3)
    acc.update(X, y, None, kfold_ids(0, 60, 3, 0))
    cross_validated_fit(acc.folds(), l1_ratios=[0.0, 0.5, 1.0], n_alphas=5, n_jobs=1)
    _warm_naive(X, y)
    return time.perf_counter() - start


def _warm_naive(X: np.ndarray, y: np.ndarray) -> None:
    """The naive solver's kernels: dense and sparse (CSC with int32 indices) designs."""
    import scipy.sparse as sp

    from enet.core.naive import path_from_arrays

    for design in (X, sp.csc_matrix(X)):
        path_from_arrays(design, y, l1_ratio=0.5, n_alphas=3, sample_weight=np.ones(len(y)))


if __name__ == "__main__":
    print(f"enet: compiled kernels cached in {warmup():.1f} s")

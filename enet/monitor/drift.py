"""Drift statistics on summaries: pure functions and additive accumulators, arrays only.

A training distribution is kept as a compact empirical CDF: sorted support
``points`` and the cumulative share ``cdf`` at each point (inclusive, so
``cdf[-1] == 1``), built exactly from a sample or read from a t-digest
(:mod:`enet.data.distribution`). New data
is reduced, chunk by chunk, to counts and sums over the intervals between those
points (:class:`IntervalCounts`). From these:

* **PSI** compares bin frequencies on the training quantile bins;
* the **Kolmogorov-Smirnov** statistic ``sup |F_train - F_new|`` is exact against
  the training CDF (both step functions' extremes lie at interval ends, where the
  counts are exact);
* the **Wasserstein-1** distance ``integral |F_train - F_new| dx`` is exact on
  every interval where ``F_new`` does not cross ``F_train`` (the integral of
  ``F_new`` over an interval follows from the count and sum of the values in it);
  in the few intervals where it crosses, ``F_new`` is taken as linear inside.

Counts and sums are additive, so a rolling window is the sum of its slices'
counts (the HTTP service can keep one :class:`IntervalCounts` per minute) and a
chunked pass gives the same result as a whole-table pass.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import kstwo

from enet.data.distribution import ecdf_from_sample

__all__ = ["ecdf_from_sample", "quantiles", "quantile_edges",
           "bin_frequencies", "bin_counts", "psi", "ks_pvalue", "IntervalCounts",
           "PSI_FLOOR"]

#: empty bins get this share, so PSI stays finite (a common convention: 1e-4)
PSI_FLOOR = 1e-4


def quantiles(points: np.ndarray, cdf: np.ndarray, probs) -> np.ndarray:
    """Lower quantiles of a step CDF: the smallest point whose cdf >= p."""
    probs = np.asarray(probs, dtype=np.float64)
    idx = np.searchsorted(cdf, probs - 1e-12, side="left")
    return points[np.minimum(idx, points.size - 1)]


def quantile_edges(points: np.ndarray, cdf: np.ndarray, n_bins: int = 10) -> np.ndarray:
    """Interior bin edges at the training quantiles ``1/n_bins, ..., (n_bins-1)/n_bins``.

    Repeated quantiles (discrete columns) are merged and an edge at the maximum is
    dropped, so every bin can hold training values. Bins are right-closed:
    ``(-inf, e1], (e1, e2], ..., (e_last, inf)``.
    """
    if points.size == 0:
        return np.empty(0)
    edges = np.unique(quantiles(points, cdf, np.arange(1, n_bins) / n_bins))
    return edges[edges < points[-1]]


def step_cdf(points: np.ndarray, cdf: np.ndarray, x) -> np.ndarray:
    """``F(x)`` of the step CDF (share of values <= x)."""
    idx = np.searchsorted(points, np.asarray(x, dtype=np.float64), side="right")
    padded = np.concatenate([[0.0], cdf])
    return padded[idx]


def bin_frequencies(points: np.ndarray, cdf: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Share of the distribution in each right-closed bin (len(edges) + 1 bins)."""
    at = step_cdf(points, cdf, edges)
    return np.diff(np.concatenate([[0.0], at, [1.0]]))


def bin_counts(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Counts of ``values`` in the right-closed bins of ``edges`` (exact, additive)."""
    idx = np.searchsorted(edges, values, side="left")
    return np.bincount(idx, minlength=edges.size + 1).astype(np.float64)


def psi(expected: np.ndarray, actual: np.ndarray, floor: float = PSI_FLOOR) -> float:
    """Population stability index ``sum (a - e) * ln(a / e)`` over bins.

    Parameters
    ----------
    expected, actual : ndarray
        Frequencies or counts per bin (each normalised to shares here); empty bins
        count as ``floor`` so that the index stays finite.

    Returns
    -------
    float
        0 for identical distributions; 0.1 is commonly read as a moderate shift
        and 0.25 as a large one.
    """
    e = np.asarray(expected, dtype=np.float64)
    a = np.asarray(actual, dtype=np.float64)
    if e.sum() <= 0 or a.sum() <= 0:
        return float("nan")
    e = np.maximum(e / e.sum(), floor)
    a = np.maximum(a / a.sum(), floor)
    return float(np.sum((a - e) * np.log(a / e)))


def ks_pvalue(statistic: float, n: float, m: float) -> float:
    """Asymptotic two-sample KS p-value for sample sizes ``n`` and ``m``
    (scipy's ``ks_2samp(..., method="asymp")``)."""
    if not (n > 0 and m > 0) or not np.isfinite(statistic):
        return float("nan")
    en = np.round(n * m / (n + m))
    return float(np.clip(kstwo.sf(statistic, en), 0.0, 1.0))


@dataclass
class IntervalCounts:
    """New values reduced to counts and sums between the training CDF's points.

    With points ``p_0 < ... < p_{P-1}``, interval ``j`` is ``[p_{j-1}, p_j)``
    (``j = 0``: below ``p_0``; ``j = P``: from ``p_{P-1}`` up). ``at_or_below[k]``
    counts values whose first point ``>= value`` is ``p_k`` (so cumulative sums give
    ``#{v <= p_i}``). All fields add across chunks and windows.
    """

    points: np.ndarray
    n: float = 0.0
    count: np.ndarray | None = None
    total: np.ndarray | None = None
    at_or_below: np.ndarray | None = None

    def __post_init__(self):
        size = self.points.size + 1
        if self.count is None:
            self.count = np.zeros(size)
            self.total = np.zeros(size)
            self.at_or_below = np.zeros(size)

    def update(self, values: np.ndarray) -> None:
        """Add finite values (missing ones removed by the caller)."""
        values = np.asarray(values, dtype=np.float64)
        if values.size == 0:
            return
        size = self.points.size + 1
        right = np.searchsorted(self.points, values, side="right")
        self.count += np.bincount(right, minlength=size)
        self.total += np.bincount(right, weights=values, minlength=size)
        self.at_or_below += np.bincount(np.searchsorted(self.points, values, side="left"),
                                        minlength=size)
        self.n += values.size

    def merge(self, other: "IntervalCounts") -> "IntervalCounts":
        """The counts of both (same points)."""
        return IntervalCounts(self.points, self.n + other.n, self.count + other.count,
                              self.total + other.total, self.at_or_below + other.at_or_below)

    # ---------------------------------------------------------------- statistics
    def cdf_at_points(self) -> tuple[np.ndarray, np.ndarray]:
        """``(#{v <= p_i}, #{v < p_i}) / n`` for every training point."""
        le = np.cumsum(self.at_or_below)[:-1] / self.n
        lt = np.cumsum(self.count)[:-1] / self.n
        return le, lt

    def ks(self, cdf: np.ndarray) -> float:
        """``sup_x |F_train(x) - F_new(x)|`` against the training step CDF ``cdf``."""
        if self.n == 0:
            return float("nan")
        le, lt = self.cdf_at_points()
        before = np.concatenate([[0.0], cdf[:-1]])     # F_train just below p_i
        return float(max(np.max(np.abs(cdf - le)), np.max(np.abs(before - lt))))

    def wasserstein(self, cdf: np.ndarray) -> float:
        """``integral |F_train - F_new| dx`` (see the module notes on exactness)."""
        if self.n == 0:
            return float("nan")
        p, n = self.points, self.n
        le, lt = self.cdf_at_points()
        # below p_0 (F_train = 0) and from the last point up (F_train = 1): exact
        area = (self.count[0] * p[0] - self.total[0]) / n
        area += (self.total[-1] - self.count[-1] * p[-1]) / n
        if p.size > 1:
            a, b = p[:-1], p[1:]
            width = b - a
            c = cdf[:-1]
            inside_n, inside_sum = self.count[1:-1], self.total[1:-1]
            # integral of F_new over [a, b): values below a count fully, values inside
            # count (b - v)
            integral = (lt[:-1] * width + (inside_n * b - inside_sum) / n)
            f_lo, f_hi = le[:-1], lt[1:]               # F_new at a, and just below b
            no_cross = (f_lo >= c) | (f_hi <= c)
            exact = np.abs(c * width - integral)
            # crossing: F_new taken as linear from f_lo to f_hi inside the interval
            span = np.maximum(f_hi - f_lo, 1e-300)
            t = np.clip((c - f_lo) / span, 0.0, 1.0)
            linear = width * (t * (c - f_lo) / 2 + (1 - t) * (f_hi - c) / 2)
            area += float(np.sum(np.where(no_cross, exact, linear)))
        return max(float(area), 0.0)         # rounding can leave -1e-18 for equal CDFs

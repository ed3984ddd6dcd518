"""Deterministic, mergeable summaries of a numeric stream: its CDF and its median.

Both are exact while the data are small and fall back to a t-digest (Apache
DataSketches ``tdigest_double``) beyond. The t-digest is deterministic: the same
values in the same order and the same chunks (and the same merge tree) give the
same state, byte for byte, so trained artifacts are reproducible. (The KLL sketch
used before randomises its compaction with a clock-seeded generator that cannot
be seeded.)

* :class:`ValueDistribution` keeps exact counts per distinct value while a column
  has at most ``max_distinct`` of them (booleans, codes, small columns: exact at
  any row count) and reads a CDF of ``CDF_POINTS`` quantiles from the t-digest
  otherwise.
* :class:`MedianSketch` keeps the values themselves up to ``cap`` of them (exact
  median), then the t-digest's median.

t-digests are not picklable; ``__getstate__`` serialises them so that both classes
travel to and from cluster workers.
"""

from __future__ import annotations

import numpy as np

__all__ = ["DIGEST_K", "CDF_POINTS", "ValueDistribution", "MedianSketch", "new_digest",
           "merged_digest", "digest_cdf", "ecdf_from_sample"]

#: t-digest compression: large enough that a value carrying many rows (an atom) is
#: placed within the KLL sketch's rank error (bench/profile_sketch.py, bench/RESULTS.md)
DIGEST_K = 1000
#: points of the compact CDF read from a t-digest, and the most distinct values kept
#: exactly
CDF_POINTS = 600


def new_digest():
    """An empty t-digest with the project's compression."""
    from datasketches import tdigest_double

    return tdigest_double(DIGEST_K)


def merged_digest(a, b):
    """The t-digest of both digests' values (their contents are not changed).

    Both are merged from their serialised (compressed) form, so the result depends only
    on the two digests' contents, not on whether values still sit in a buffer (as in a
    digest that has just been updated, or one that travelled from a cluster worker).
    """
    from datasketches import tdigest_double

    out = tdigest_double.deserialize(a.serialize())
    out.merge(tdigest_double.deserialize(b.serialize()))
    return out


def ecdf_from_sample(values: np.ndarray, weights: np.ndarray | None = None
                     ) -> tuple[np.ndarray, np.ndarray]:
    """The empirical CDF of a sample: sorted distinct values and the share <= each.

    Parameters
    ----------
    values : ndarray (n,)
        Finite values (missing ones removed by the caller).
    weights : ndarray (n,), optional

    Returns
    -------
    points, cdf : ndarray
        ``cdf[i]`` is the (weighted) share of values ``<= points[i]``.
    """
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0:
        return np.empty(0), np.empty(0)
    w = np.ones(values.size) if weights is None else np.asarray(weights, dtype=np.float64)
    points, inverse = np.unique(values, return_inverse=True)
    mass = np.bincount(inverse, weights=w, minlength=points.size)
    cdf = np.cumsum(mass) / mass.sum()
    cdf[-1] = 1.0
    return points, cdf


def digest_cdf(digest, n_points: int = CDF_POINTS) -> tuple[np.ndarray, np.ndarray]:
    """A step CDF read from a t-digest at up to ``n_points`` points spread by rank.

    The points are the digest's quantiles at ``n_points`` equally spaced ranks (the
    first and last are the exact minimum and maximum) and ``cdf`` is the digest's rank
    just above each point (``get_cdf``), so that a value carrying many rows (an atom,
    such as the zeros of a zero-inflated column) counts in full at its point.

    ``get_quantile`` of datasketches 5.2 interpolates inside a pair of centroids in the
    wrong direction (apache/datasketches-java#755 fixes the same code), so its values are
    used only as split points, sorted; the ranks come from ``get_cdf``, which is right.
    """
    if digest.is_empty():
        return np.empty(0), np.empty(0)
    q = np.unique([digest.get_quantile(float(r)) for r in np.linspace(0.0, 1.0, n_points)])
    cdf = np.maximum.accumulate(digest.get_cdf(np.nextafter(q, np.inf).tolist())[:-1])
    cdf[-1] = 1.0
    return q, cdf


class _Digested:
    """Pickling of the t-digests held in an instance's ``digest`` attribute."""

    digest = None

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        if state.get("digest") is not None:
            state["digest"] = state["digest"].serialize()
        return state

    def __setstate__(self, state: dict) -> None:
        if state.get("digest") is not None:
            from datasketches import tdigest_double
            state = dict(state, digest=tdigest_double.deserialize(state["digest"]))
        self.__dict__.update(state)


class ValueDistribution(_Digested):
    """The distribution of a stream of finite values, deterministic and mergeable.

    Exact (every distinct value with its count) while at most ``max_distinct`` distinct
    values have been seen; a t-digest of ``DIGEST_K`` takes over beyond. The digest is
    fed from the start, so the switch needs no second pass.

    Parameters
    ----------
    max_distinct : int
        Most distinct values kept exactly.
    """

    def __init__(self, max_distinct: int = CDF_POINTS):
        self.max_distinct = max_distinct
        self.values: np.ndarray | None = np.empty(0)
        self.counts = np.empty(0)
        self.digest = new_digest()

    @property
    def exact(self) -> bool:
        """Whether the distribution is still held exactly."""
        return self.values is not None

    def update(self, v: np.ndarray) -> None:
        """Add finite values (missing ones removed by the caller)."""
        v = np.ascontiguousarray(v, dtype=np.float64)
        if v.size == 0:
            return
        self.digest.update(np.sort(v))      # sorted: the digest's update then costs half
        if self.exact:
            if v.size > self.max_distinct and \
                    np.unique(v[:2 * self.max_distinct + 1]).size > self.max_distinct:
                self.values, self.counts = None, np.empty(0)   # cheap exit for continuous data
                return
            self._add_counts(*np.unique(v, return_counts=True))

    def _add_counts(self, values: np.ndarray, counts: np.ndarray) -> None:
        merged, inverse = np.unique(np.concatenate([self.values, values]), return_inverse=True)
        if merged.size > self.max_distinct:
            self.values, self.counts = None, np.empty(0)
            return
        self.counts = np.bincount(inverse, weights=np.concatenate([self.counts, counts]),
                                  minlength=merged.size)
        self.values = merged

    def __add__(self, other: "ValueDistribution") -> "ValueDistribution":
        """The distribution of both (disjoint) streams; neither is changed."""
        out = ValueDistribution(self.max_distinct)
        out.digest = merged_digest(self.digest, other.digest)
        if self.exact and other.exact:
            out.values, out.counts = self.values, self.counts
            out._add_counts(other.values, other.counts)
        else:
            out.values = None
        return out

    def ecdf(self) -> tuple[np.ndarray, np.ndarray]:
        """The step CDF: exact while exact, else :func:`digest_cdf`."""
        if self.exact:
            return ecdf_from_sample(self.values, self.counts)
        return digest_cdf(self.digest)

    def method(self) -> str:
        """How :meth:`ecdf` was obtained, for the stored profile."""
        return "exact" if self.exact else f"t-digest k={DIGEST_K}"


class MedianSketch(_Digested):
    """The median of a stream: exact while it has seen at most ``cap`` values, which it
    keeps; beyond that the median of a t-digest (deterministic, rank error well under 1%).
    Mergeable with ``+``.
    """

    def __init__(self, cap: int):
        self.cap = cap
        self.values: list[np.ndarray] = []
        self.count = 0
        self.digest = None

    def update(self, v: np.ndarray) -> None:
        """Add finite values."""
        if self.digest is not None:
            self.digest.update(np.sort(np.asarray(v, dtype=np.float64)))
            return
        self.values.append(np.array(v, dtype=np.float64))
        self.count += v.size
        if self.count > self.cap:
            self.digest, self.values = self._as_digest(), []

    def _as_digest(self):
        if self.digest is not None:
            return self.digest
        digest = new_digest()
        for a in self.values:
            digest.update(np.sort(a))
        return digest

    def median(self) -> float:
        """The median (NaN when no values were seen)."""
        if self.digest is not None:
            return float(self.digest.get_quantile(0.5))
        return float(np.median(np.concatenate(self.values))) if self.count else float("nan")

    def __add__(self, other: "MedianSketch") -> "MedianSketch":
        out = MedianSketch(self.cap)
        if self.digest is None and other.digest is None and self.count + other.count <= self.cap:
            out.values, out.count = self.values + other.values, self.count + other.count
        else:
            out.digest = merged_digest(self._as_digest(), other._as_digest())
        return out

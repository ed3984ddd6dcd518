"""Sufficient statistics of a weighted linear least-squares problem.

Everything training reads is a :class:`SufficientStats`: the weighted sums
needed to form the centred Gram matrix, accumulated chunk by chunk on data
shifted by a pilot value so that large column offsets cost no precision.
Statistics are mergeable (``a + b``) and subtractable (``total - fold``), which
is what makes one-pass K-fold cross-validation possible.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.linalg.blas import dsyrk

from enet.core._gather import gather_shifted

__all__ = ["SufficientStats", "FoldAccumulator"]


@dataclass(frozen=True)
class SufficientStats:
    """Weighted sums over rows, taken about a fixed shift.

    With ``x~ = x - shift_x`` and ``y~ = y - shift_y`` the fields are
    ``sum w``, ``sum w x~``, ``sum w y~``, ``X~'WX~``, ``X~'Wy~`` and ``y~'Wy~``.

    Attributes
    ----------
    n_rows : int
        Number of rows accumulated (including rows of zero weight).
    sum_w : float
        Sum of the sample weights.
    shift_x : ndarray of shape (p,)
        Pilot shift subtracted from every row of X before accumulation.
    shift_y : float
        Pilot shift subtracted from y.
    sum_wx, sum_wy, xtwx, xtwy, ytwy
        The shifted weighted sums described above.
    """

    n_rows: int
    sum_w: float
    shift_x: np.ndarray
    shift_y: float
    sum_wx: np.ndarray
    sum_wy: float
    xtwx: np.ndarray
    xtwy: np.ndarray
    ytwy: float

    @property
    def n_features(self) -> int:
        return self.shift_x.shape[0]

    @classmethod
    def zeros(cls, shift_x: np.ndarray, shift_y: float) -> "SufficientStats":
        """Empty statistics about the given shift."""
        shift_x = np.asarray(shift_x, dtype=np.float64)
        p = shift_x.shape[0]
        return cls(0, 0.0, shift_x, float(shift_y), np.zeros(p), 0.0,
                   np.zeros((p, p)), np.zeros(p), 0.0)

    @classmethod
    def from_arrays(cls, X: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None = None,
                    shift_x: np.ndarray | None = None, shift_y: float | None = None
                    ) -> "SufficientStats":
        """Statistics of in-memory arrays (shift defaults to the weighted means)."""
        acc = FoldAccumulator(X.shape[1], n_folds=1, shift_x=shift_x, shift_y=shift_y)
        acc.update(X, y, sample_weight, None)
        return acc.folds()[0]

    # -- algebra ---------------------------------------------------------------
    def reshift(self, shift_x: np.ndarray, shift_y: float) -> "SufficientStats":
        """The same statistics expressed about another shift (exact algebra)."""
        shift_x = np.asarray(shift_x, dtype=np.float64)
        dx = self.shift_x - shift_x          # x - new = (x - old) + dx
        dy = self.shift_y - float(shift_y)
        W = self.sum_w
        sum_wx = self.sum_wx + W * dx
        sum_wy = self.sum_wy + W * dy
        xtwx = (self.xtwx + np.outer(self.sum_wx, dx) + np.outer(dx, self.sum_wx)
                + W * np.outer(dx, dx))
        xtwy = self.xtwy + self.sum_wx * dy + dx * self.sum_wy + W * dx * dy
        ytwy = self.ytwy + 2.0 * dy * self.sum_wy + W * dy * dy
        return SufficientStats(self.n_rows, W, shift_x, float(shift_y), sum_wx, sum_wy,
                               xtwx, xtwy, ytwy)

    def _aligned(self, other: "SufficientStats") -> "SufficientStats":
        if other.n_features != self.n_features:
            raise ValueError(f"cannot combine statistics of {self.n_features} and "
                             f"{other.n_features} features")
        if np.array_equal(other.shift_x, self.shift_x) and other.shift_y == self.shift_y:
            return other
        return other.reshift(self.shift_x, self.shift_y)

    def __add__(self, other: "SufficientStats") -> "SufficientStats":
        o = self._aligned(other)
        return SufficientStats(self.n_rows + o.n_rows, self.sum_w + o.sum_w, self.shift_x,
                               self.shift_y, self.sum_wx + o.sum_wx, self.sum_wy + o.sum_wy,
                               self.xtwx + o.xtwx, self.xtwy + o.xtwy, self.ytwy + o.ytwy)

    def __sub__(self, other: "SufficientStats") -> "SufficientStats":
        o = self._aligned(other)
        return SufficientStats(self.n_rows - o.n_rows, self.sum_w - o.sum_w, self.shift_x,
                               self.shift_y, self.sum_wx - o.sum_wx, self.sum_wy - o.sum_wy,
                               self.xtwx - o.xtwx, self.xtwy - o.xtwy, self.ytwy - o.ytwy)

    # -- derived moments ------------------------------------------------------------
    @property
    def mean_x(self) -> np.ndarray:
        """Weighted column means of X."""
        return self.shift_x + self.sum_wx / self.sum_w

    @property
    def mean_y(self) -> float:
        """Weighted mean of y."""
        return self.shift_y + self.sum_wy / self.sum_w

    def moments(self, centred: bool = True) -> tuple[np.ndarray, np.ndarray, float]:
        """Second moments normalised by ``sum_w``.

        Parameters
        ----------
        centred : bool
            About the weighted means (a model with intercept) or about zero.

        Returns
        -------
        xx : ndarray (p, p), xy : ndarray (p,), yy : float
        """
        W = self.sum_w
        if centred:
            dx = self.sum_wx / W                 # mean - shift, small by construction
            dy = self.sum_wy / W
            xx = self.xtwx / W - np.outer(dx, dx)
            xy = self.xtwy / W - dx * dy
            yy = self.ytwy / W - dy * dy
        else:
            s = self.reshift(np.zeros(self.n_features), 0.0)
            xx, xy, yy = s.xtwx / W, s.xtwy / W, s.ytwy / W
        xx = 0.5 * (xx + xx.T)
        return xx, xy, max(float(yy), 0.0)

    def weighted_sse(self, coef: np.ndarray, intercept: np.ndarray) -> np.ndarray:
        """Weighted sum of squared residuals of several linear models on these rows.

        Parameters
        ----------
        coef : ndarray of shape (m, p)
            Raw-scale coefficients of m models.
        intercept : ndarray of shape (m,)

        Returns
        -------
        ndarray of shape (m,)
            ``sum_i w_i (y_i - b0 - x_i b)^2`` for each model, computed about the
            rows' own means so that cancellation is limited to ``1 - R^2``.
        """
        W = self.sum_w
        if W <= 0:
            return np.zeros(coef.shape[0])
        xx, xy, yy = self.moments(centred=True)
        # residual = (y - my) - (x - mx) b + (my - b0 - mx b)
        quad = yy - 2.0 * coef @ xy + np.einsum("mi,ij,mj->m", coef, xx, coef)
        offset = self.mean_y - intercept - coef @ self.mean_x
        return W * (np.maximum(quad, 0.0) + offset * offset)


def _syrk(At: np.ndarray, C: np.ndarray) -> np.ndarray:
    """``C + At @ At.T`` in the upper triangle (BLAS dsyrk, no copy of ``At``)."""
    return dsyrk(1.0, At, beta=1.0, c=C, trans=0, lower=0, overwrite_c=1)


class FoldAccumulator:
    """Accumulate per-fold sufficient statistics from chunks of rows.

    The first chunk fixes the pilot shift (its weighted column means) unless one
    is given. Every later chunk is folded into the same shifted sums, so one pass
    over the data yields the statistics of every fold; the total is their sum.

    Parameters
    ----------
    n_features : int
    n_folds : int
        Number of folds; fold ids passed to :meth:`update` lie in ``[0, n_folds)``.
    shift_x, shift_y : optional
        Explicit pilot shift.
    """

    def __init__(self, n_features: int, n_folds: int = 1, shift_x: np.ndarray | None = None,
                 shift_y: float | None = None) -> None:
        self.n_features = n_features
        self.n_folds = n_folds
        self._shift_x = None if shift_x is None else np.asarray(shift_x, dtype=np.float64)
        self._shift_y = shift_y
        p1 = n_features + 1
        self._zz = np.zeros((n_folds, p1, p1))   # [x~, y~]' W [x~, y~]
        self._z = np.zeros((n_folds, p1))        # sum w [x~, y~]
        self._w = np.zeros(n_folds)
        self._n = np.zeros(n_folds, dtype=np.int64)
        self._buffer: np.ndarray | None = None
        self._direct = False

    def update_blocks(self, X, y: np.ndarray, sample_weight: np.ndarray | None = None,
                      fold_ids: np.ndarray | None = None) -> None:
        """Add the rows of a dense or scipy.sparse X; a sparse X is densified one block
        of rows (~32 MiB) at a time, never whole."""
        if not hasattr(X, "tocsr"):
            self.update(np.asarray(X, dtype=np.float64), y, sample_weight, fold_ids)
            return
        Xr = X.tocsr()
        n = Xr.shape[0]
        step = max(1, (1 << 22) // max(Xr.shape[1], 1))
        for start in range(0, n, step):
            rows = slice(start, min(n, start + step))
            self.update(Xr[rows].toarray(), y[rows],
                        None if sample_weight is None else sample_weight[rows],
                        None if fold_ids is None else fold_ids[rows])

    def update(self, X: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None,
               fold_ids: np.ndarray | None) -> None:
        """Add a chunk of rows.

        Parameters
        ----------
        X : ndarray of shape (m, p)
        y : ndarray of shape (m,)
        sample_weight : ndarray of shape (m,) or None
        fold_ids : integer ndarray of shape (m,) or None (all rows in fold 0)
        """
        m = X.shape[0]
        if m == 0:
            return
        if self._shift_x is None:
            # the pilot only needs to be near the mean: a leading sample is enough
            k = min(m, self.PILOT_ROWS)
            w0 = None if sample_weight is None else sample_weight[:k]
            if w0 is not None and w0.sum() <= 0:
                w0 = None
            self._shift_x = np.average(X[:k], axis=0, weights=w0)
            self._shift_y = float(np.average(y[:k], weights=w0))
            self._direct = self._can_skip_shift(X[:k], y[:k], sample_weight, fold_ids)
            if self._direct:
                self._shift_x = np.zeros(self.n_features)
                self._shift_y = 0.0
        if self._direct and sample_weight is None and fold_ids is None:
            self._add_direct(np.asarray(X, dtype=np.float64), np.asarray(y, dtype=np.float64))
            return
        # sub-blocks bound the temporary copy and keep it in cache
        step = max(1, self.BLOCK_ELEMENTS // (self.n_features + 1))
        for lo in range(0, m, step):
            hi = min(m, lo + step)
            self._update_block(X[lo:hi], y[lo:hi],
                               None if sample_weight is None else sample_weight[lo:hi],
                               None if fold_ids is None else fold_ids[lo:hi])

    BLOCK_ELEMENTS = 1 << 19
    PILOT_ROWS = 1 << 16
    #: centring about zero costs eps * (mean / sd)^2 of relative precision: accept up to 10
    DIRECT_OFFSET_LIMIT = 10.0

    def _can_skip_shift(self, X, y, w, fold_ids) -> bool:
        """Whether rows can be read in place (no shifted copy) without losing precision.

        Only unweighted, single-fold accumulation reads X directly (BLAS syrk on the
        caller's array); that is worth it only when the pilot means are within a few
        standard deviations of zero.
        """
        if w is not None or fold_ids is not None or self.n_folds != 1 or X.shape[0] < 2:
            return False
        sd = X.std(axis=0)
        ok_x = np.all(np.abs(self._shift_x) <= self.DIRECT_OFFSET_LIMIT * sd)
        return bool(ok_x and abs(self._shift_y) <= self.DIRECT_OFFSET_LIMIT * y.std())

    def _add_direct(self, X: np.ndarray, y: np.ndarray) -> None:
        p = self.n_features
        zz = self._zz[0]
        xx = X.T @ X                             # numpy runs syrk for a.T @ a (full)
        zz[:p, :p] += np.triu(xx)                # only the upper half is kept, as syrk's
        both = X.T @ np.column_stack([y, np.ones_like(y)])   # X'y and column sums, one pass
        zz[:p, p] += both[:, 0]
        zz[p, p] += y @ y
        self._z[0, :p] += both[:, 1]
        self._z[0, p] += y.sum()
        self._w[0] += X.shape[0]
        self._n[0] += X.shape[0]

    def _update_block(self, X, y, w, fold_ids) -> None:
        m = X.shape[0]
        if self._buffer is None or self._buffer.shape[0] < m:
            self._buffer = np.empty((m, self.n_features + 1))   # reused: no page faults
        Z = self._buffer[:m]
        if fold_ids is None or self.n_folds == 1:
            counts = np.array([m])
            order = np.arange(m)
        else:
            # rows grouped by fold in one gather, so each fold is a contiguous slice
            order = np.argsort(fold_ids, kind="stable")
            counts = np.bincount(fold_ids, minlength=self.n_folds)
            w = None if w is None else w[order]
        gather_shifted(np.ascontiguousarray(X, dtype=np.float64),
                       np.ascontiguousarray(y, dtype=np.float64), order, self._shift_x,
                       float(self._shift_y), Z)
        start = 0
        for k, c in enumerate(counts):
            if c:
                self._add_block(k, Z[start:start + c], None if w is None else w[start:start + c])
            start += c

    def _add_block(self, k: int, Z: np.ndarray, w: np.ndarray | None) -> None:
        if w is None:
            # Z.T is Fortran-ordered: syrk reads it in place and does half a gemm's work
            # Z.T is Fortran-ordered: syrk reads it in place and does half a gemm's work
            self._zz[k] = _syrk(Z.T, self._zz[k])
            self._z[k] += Z.sum(axis=0)
            self._w[k] += Z.shape[0]
        else:
            Zs = Z * np.sqrt(w)[:, None]
            self._zz[k] = _syrk(Zs.T, self._zz[k])
            self._z[k] += w @ Z
            self._w[k] += w.sum()
        self._n[k] += Z.shape[0]

    def folds(self) -> list[SufficientStats]:
        """Statistics of each fold (about the common shift)."""
        if self._shift_x is None:
            raise ValueError("no rows were accumulated")
        out = []
        for k in range(self.n_folds):
            zz = np.triu(self._zz[k]) + np.triu(self._zz[k], 1).T   # syrk fills the upper half
            out.append(SufficientStats(int(self._n[k]), float(self._w[k]), self._shift_x,
                                       float(self._shift_y), self._z[k, :-1].copy(),
                                       float(self._z[k, -1]), zz[:-1, :-1].copy(),
                                       zz[:-1, -1].copy(), float(zz[-1, -1])))
        return out

    def total(self) -> SufficientStats:
        """Statistics of all rows."""
        folds = self.folds()
        total = folds[0]
        for f in folds[1:]:
            total = total + f
        return total

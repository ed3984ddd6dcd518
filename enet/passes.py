"""The training passes as per-chunk updates of mergeable states.

Training reads its rows in two passes: the first learns the preprocessing
(:class:`enet.data.schema.InputScan`), the second the per-fold sufficient
statistics, ranges, row counts and drift profile (:class:`StatsPartial`). Both
states are updated chunk by chunk and merge with ``+``, so the local stream, a
Dask cluster and Spark executors run exactly these functions and differ only in
how chunks are mapped and the partial states reduced (:mod:`enet.engines`).

A row's fold is a function of its global row number (or of its group label),
never of the chunk or partition it arrives in.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from enet.core.cv import kfold_ids, sum_stats
from enet.core.stats import FoldAccumulator, SufficientStats
from enet.data.encode import Encoder
from enet.data.readers import TableSource
from enet.data.schema import TRAINING_HINT, ColumnRoles, as_text, check_finite, check_weights
from enet.exceptions import DataError
from enet.monitor.profile import TrainingProfiler
from enet.stability_selection import block_ids

__all__ = ["Ranges", "RowCounts", "StatsPartial", "training_blocks", "FoldRule"]

# progress(rows, fraction of the source read or None)
Progress = Callable[[int, "float | None"], None]


@dataclass
class Ranges:
    """Running per-feature min/max (mean and sd come from the statistics)."""

    lo: np.ndarray | None = None
    hi: np.ndarray | None = None

    def update(self, X: np.ndarray) -> None:
        if X.shape[0] == 0:
            return
        lo, hi = X.min(axis=0), X.max(axis=0)
        self.lo = lo if self.lo is None else np.minimum(self.lo, lo)
        self.hi = hi if self.hi is None else np.maximum(self.hi, hi)

    def __add__(self, other: "Ranges") -> "Ranges":
        out = Ranges(self.lo, self.hi)
        if other.lo is not None:
            out.update(np.vstack([other.lo, other.hi]))
        return out


@dataclass
class RowCounts:
    """Rows read and rows dropped for a missing target."""

    read: int = 0
    dropped: int = 0

    def __add__(self, other: "RowCounts") -> "RowCounts":
        return RowCounts(self.read + other.read, self.dropped + other.dropped)


@dataclass(frozen=True)
class FoldRule:
    """How rows get their fold: ``kfold_ids`` of the global row number, or the fold of
    the row's group label (``group_folds``, learned in the first pass)."""

    n_folds: int
    seed: int
    group_folds: dict[str, int] | None = None
    blocks_per_fold: int = 1


def training_blocks(source: TableSource, encoder: Encoder, roles: ColumnRoles, rule: FoldRule,
                    counts: RowCounts, first_row: int = 0, progress: Progress | None = None,
                    profiler: TrainingProfiler | None = None
                    ) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray,
                                        np.ndarray]]:
    """(X, y, w, fold, global row numbers) of the rows with a target, block by block.

    ``first_row`` is the global number of the source's first row (a partition's
    offset in the whole table); messages count rows within ``source``.
    ``profiler`` sees every block.
    """
    extra_numeric = [roles.target] + ([roles.weight] if roles.weight else [])
    extra_text = [roles.group] if roles.group else []
    hints = {c: TRAINING_HINT.format(name=c) for c in encoder.numeric + encoder.booleans}
    for batch, X, offset in encoder.batches(source, numeric=extra_numeric, text=extra_text,
                                            hint=hints, progress=progress):
        m = batch.num_rows
        counts.read += m
        col = {n: batch.column(i) for i, n in enumerate(batch.schema.names)}
        y = col[roles.target].to_numpy(zero_copy_only=False)
        keep = ~np.isnan(y)
        check_finite(y, keep, roles.target, "target", offset, source.path)
        w = None
        if roles.weight:
            w = col[roles.weight].to_numpy(zero_copy_only=False)
            check_weights(w, keep, roles.weight, offset, source.path)
        if rule.group_folds is not None:
            labels = as_text(col[roles.group]).to_pylist()
            fold = np.array([rule.group_folds.get(v, -1) if v is not None else -1
                             for v in labels], dtype=np.int64)
        else:
            fold = kfold_ids(first_row + offset, m, rule.n_folds, rule.seed)
        row_ids = np.arange(first_row + offset, first_row + offset + m, dtype=np.int64)
        if not keep.all():
            counts.dropped += int(m - keep.sum())
            X, y, fold, row_ids = X[keep], y[keep], fold[keep], row_ids[keep]
            w = w[keep] if w is not None else None
        if profiler is not None:
            profiler.update(batch, keep, X, y, w, fold, row_ids)
        if X.shape[0]:
            yield X, y, w, fold, row_ids


class StatsPartial:
    """The second pass's state for some rows: per-fold (or per-block) statistics,
    feature ranges, row counts and the drift profile; merged with ``+``.

    Parameters
    ----------
    width : int
        Number of encoded features.
    rule : FoldRule
    profiler : TrainingProfiler, optional
    """

    def __init__(self, width: int, rule: FoldRule, profiler: TrainingProfiler | None = None):
        self.width, self.rule = width, rule
        self.acc: FoldAccumulator | None = FoldAccumulator(
            width, rule.n_folds * rule.blocks_per_fold)
        self.stats: list[SufficientStats] | None = None
        self.ranges = Ranges()
        self.counts = RowCounts()
        self.profiler = profiler

    def read(self, source: TableSource, encoder: Encoder, roles: ColumnRoles,
             first_row: int = 0, progress: Progress | None = None) -> "StatsPartial":
        """Stream ``source`` (whose first row is global row ``first_row``) into the state."""
        per_fold = self.rule.blocks_per_fold
        for X, y, w, fold, row_ids in training_blocks(source, encoder, roles, self.rule,
                                                      self.counts, first_row, progress,
                                                      self.profiler):
            self.acc.update(X, y, w, block_ids(row_ids, fold, per_fold, self.rule.seed)
                            if per_fold > 1 else fold)
            self.ranges.update(X)
        return self

    def finalize(self) -> "StatsPartial":
        """Turn the accumulator into statistics (small, picklable, mergeable)."""
        if self.acc is not None:
            self.stats = self.acc.folds() if self.counts.read > self.counts.dropped else None
            self.acc = None
        return self

    def __getstate__(self) -> dict:
        self.finalize()
        return dict(self.__dict__)

    def __add__(self, other: "StatsPartial") -> "StatsPartial":
        a, b = self.finalize(), other.finalize()
        out = StatsPartial.__new__(StatsPartial)
        out.width, out.rule, out.acc = a.width, a.rule, None
        if a.stats is None or b.stats is None:
            out.stats = a.stats if b.stats is None else b.stats
        else:
            out.stats = [s + t for s, t in zip(a.stats, b.stats)]
        out.ranges = a.ranges + b.ranges
        out.counts = a.counts + b.counts
        out.profiler = (a.profiler + b.profiler if a.profiler is not None and
                        b.profiler is not None else a.profiler or b.profiler)
        return out

    def fold_stats(self, source: str) -> tuple[list[SufficientStats],
                                               list[SufficientStats] | None]:
        """Per-fold statistics, and the per-block ones when blocks were kept."""
        self.finalize()
        if self.stats is None:
            raise DataError(f"{source}: no rows with a target")
        per_fold = self.rule.blocks_per_fold
        if per_fold == 1:
            return self.stats, self.stats
        folds = [sum_stats(self.stats[k * per_fold:(k + 1) * per_fold])
                 for k in range(self.rule.n_folds)]
        return folds, self.stats

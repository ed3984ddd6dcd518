"""Rows to features: the one validation and encoding path for training and scoring.

Training, batch scoring, ``Model.predict`` and the HTTP service all turn input
rows into the feature matrix here, so they accept, reject, impute and count in
exactly the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from enet.data.manifest import InputColumn
from enet.data.readers import TableSource
from enet.data.schema import MissingMarkers, as_text, level_digests_unsorted
from enet.exceptions import DataError

__all__ = ["Encoder", "ScoreCounts", "MissingValueFound", "MAX_BLOCK_ELEMENTS"]

# feature-matrix blocks stay below this many float64 values (32 MiB)
MAX_BLOCK_ELEMENTS = 1 << 22
SCORING_HINT = "the model needs it as a number"
BOOLEAN_HINT = "the model needs true or false (or 1/0)"
Progress = Callable[[int, "float | None"], None]


class MissingValueFound(Exception):
    """A missing value met by an encoder built with ``allow_missing=False``."""


@dataclass
class ScoreCounts:
    """What happened to the rows while encoding: imputations, unseen levels, extras."""

    rows: int = 0
    missing: dict[str, int] = field(default_factory=dict)
    unseen: dict[str, int] = field(default_factory=dict)
    extra_columns: list[str] = field(default_factory=list)

    def add(self, table: dict[str, int], name: str, count: int) -> None:
        if count:
            table[name] = table.get(name, 0) + int(count)

    def to_json(self) -> dict:
        return {"rows": self.rows, "missing": dict(self.missing), "unseen": dict(self.unseen),
                "extra_columns": list(self.extra_columns)}

    def notes(self) -> list[str]:
        """One human-readable line per kind of event (empty when nothing happened)."""
        lines = []
        if self.missing:
            lines.append("missing values filled as in training: " + _listing(self.missing))
        if self.unseen:
            lines.append("levels not seen in training, scored as <other>: "
                         + _listing(self.unseen))
        if self.extra_columns:
            lines.append(f"ignored {len(self.extra_columns)} column(s) the model does not use: "
                         f"{_some(self.extra_columns)}")
        return lines


def _check_boolean(v: np.ndarray, name: str, row_offset: int, source: str) -> None:
    bad = ~np.isnan(v) & (v != 0.0) & (v != 1.0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataError(f"{source}: column '{name}' row {row_offset + i + 1}: value {v[i]:g} is "
                        f"not true/false (the model reads it as a boolean)", kind="not_boolean",
                        column=name, row=row_offset + i + 1, value=float(v[i]))


def _listing(table: dict[str, int]) -> str:
    items = sorted(table.items(), key=lambda kv: -kv[1])
    text = ", ".join(f"{k} ({v:,} row{'' if v == 1 else 's'})" for k, v in items[:10])
    return text + (f" and {len(items) - 10} more columns" if len(items) > 10 else "")


class Encoder:
    """Turns Arrow batches holding a model's input columns into its feature matrix.

    Parameters
    ----------
    inputs : list of InputColumn
        The manifest's inputs, in feature order.
    allow_missing : bool
        False: a missing numeric value raises :class:`MissingValueFound` (training
        in one pass, before any fill value is known).
    na_values : sequence of str
        Declared spellings of a missing value: equal text, and equal numbers in
        numeric columns (so "-999.0" matches "-999"), are missing.
    """

    def __init__(self, inputs: list[InputColumn], allow_missing: bool = True,
                 na_values: tuple[str, ...] = ()):
        self.inputs = list(inputs)
        self.allow_missing = allow_missing
        self.markers = MissingMarkers(na_values)
        self.feature_names = [f for c in self.inputs for f in c.feature_names()]
        self.width = len(self.feature_names)
        self._offsets = np.cumsum([0] + [len(c.feature_names()) for c in self.inputs])
        self._levels = {c.name: pa.array(list(c.levels), pa.string())
                        for c in self.inputs if c.kind == "categorical"}
        self._pooled = {c.name: frozenset(c.pooled)
                        for c in self.inputs if c.kind == "categorical" and c.pooled}
        self.numeric = [c.name for c in self.inputs if c.kind == "numeric"]
        self.booleans = [c.name for c in self.inputs if c.kind == "boolean"]
        self.text = [c.name for c in self.inputs if c.kind == "categorical"]

    # ---------------------------------------------------------------- columns
    def check_columns(self, columns: list[str], source: str, strict: bool = False,
                      allowed: list[str] = ()) -> list[str]:
        """Check a table's columns; return the extra ones (in table order).

        Raises
        ------
        DataError
            Naming every missing input column at once; in strict mode also any
            column the model does not use (apart from ``allowed``).
        """
        present = set(columns)
        missing = [c.name for c in self.inputs if c.name not in present]
        if missing:
            raise DataError(f"{source}: missing required column(s): {_some(missing)}",
                            kind="missing_column", column=missing[0])
        needed = {c.name for c in self.inputs} | set(allowed)
        extra = [c for c in columns if c not in needed]
        if strict and extra:
            raise DataError(f"{source}: column(s) the model does not use: {_some(extra)}; "
                            f"remove them or score without --strict", kind="extra_column",
                            column=extra[0])
        return extra

    def feature_blocks(self, source: TableSource, strict: bool = False,
                       counts: ScoreCounts | None = None
                       ) -> Iterator[tuple[np.ndarray, int]]:
        """The feature matrix of a source to score, block by block, with the number of
        rows before the block: its columns are checked first (extra ones noted in
        ``counts``), then every value."""
        extra = self.check_columns(source.columns, source.path, strict)
        if counts is not None:
            counts.extra_columns.extend(extra)
        for _, X, offset in self.batches(source, strict, counts=counts):
            yield X, offset

    def batches(self, source: TableSource, strict: bool = False, numeric: list[str] = (),
                text: list[str] = (), counts: ScoreCounts | None = None,
                verbatim: bool = False, hint: str | dict = SCORING_HINT,
                progress: Progress | None = None
                ) -> Iterator[tuple[pa.RecordBatch, np.ndarray, int]]:
        """Stream ``(batch, X, row_offset)`` for a source: X is the feature matrix of
        the batch's rows; ``numeric``/``text`` are further columns to read along
        (with ``verbatim``, the extra ``text`` columns keep their values as written).

        Batches are cut so X stays below :data:`MAX_BLOCK_ELEMENTS` values.
        ``progress(rows, fraction)`` is called after each chunk read.
        """
        if hint == SCORING_HINT and self.booleans:
            hint = {**{c: SCORING_HINT for c in self.numeric + list(numeric)},
                    **{c: BOOLEAN_HINT for c in self.booleans}}
        extra_numeric = [c for c in numeric if c not in self.numeric + self.booleans]
        extra_text = [c for c in text if c not in self.text + self.numeric + self.booleans]
        stream = source.batches(self.numeric + extra_numeric, self.text + extra_text,
                                self.booleans, hint=hint,
                                verbatim=extra_text if verbatim else ())
        rows_per_block = max(1, MAX_BLOCK_ELEMENTS // max(self.width, 1))
        offset = 0
        for big in stream:
            for start in range(0, big.num_rows, rows_per_block):
                batch = big.slice(start, rows_per_block)
                X = self.transform(batch, offset, source.path, strict, counts)
                yield batch, X, offset
                offset += batch.num_rows
            if progress:
                progress(big.num_rows, stream.fraction)

    # ---------------------------------------------------------------- encoding
    def transform(self, batch: pa.RecordBatch, row_offset: int = 0, source: str = "input",
                  strict: bool = False, counts: ScoreCounts | None = None) -> np.ndarray:
        """The (rows x features) float64 matrix of one batch.

        Numeric columns must already be float64 (missing as NaN or null).

        Raises
        ------
        DataError
            An infinite value, or in strict mode an unseen level (column, row, value).
        """
        m = batch.num_rows
        X = np.zeros((m, self.width))
        names = batch.schema.names
        for k, col in enumerate(self.inputs):
            arr = batch.column(names.index(col.name))
            j = int(self._offsets[k])
            if col.kind == "categorical":
                self._encode_categorical(col, arr, X, j, row_offset, source, strict, counts)
            else:
                self._encode_numeric(col, arr, X, j, row_offset, source, counts,
                                     self.allow_missing, self.markers)
        if counts is not None:
            counts.rows += m
        return X

    @staticmethod
    def _encode_numeric(col: InputColumn, arr: pa.Array, X: np.ndarray, j: int,
                        row_offset: int, source: str, counts: ScoreCounts | None,
                        allow_missing: bool, markers: MissingMarkers) -> None:
        if arr.type != pa.float64():
            arr = arr.cast(pa.float64())
        v = arr.to_numpy(zero_copy_only=False)
        if col.kind == "boolean":
            _check_boolean(v, col.name, row_offset, source)
        v = markers.numeric(v)
        missing = np.isnan(v)
        if np.isinf(v).any():
            i = int(np.flatnonzero(np.isinf(v))[0])
            raise DataError(f"{source}: column '{col.name}' row {row_offset + i + 1} is {v[i]}; "
                            f"infinite values are not allowed: fix or drop the row", kind="infinite",
                            column=col.name, row=row_offset + i + 1, value=str(v[i]))
        if missing.any():
            if not allow_missing:
                raise MissingValueFound(col.name)
            X[:, j] = np.where(missing, col.fill, v)
            if col.indicator:
                X[:, j + 1] = missing
            if counts is not None:
                counts.add(counts.missing, col.name, missing.sum())
        else:
            X[:, j] = v

    def _encode_categorical(self, col: InputColumn, arr: pa.Array, X: np.ndarray, j: int,
                            row_offset: int, source: str, strict: bool,
                            counts: ScoreCounts | None) -> None:
        arr = self.markers.text(as_text(arr, codes=col.codes))
        idx = pc.index_in(arr, value_set=self._levels[col.name]).to_numpy(zero_copy_only=False)
        found = ~np.isnan(idx)
        rows = np.flatnonzero(found)
        X[rows, j + idx[found].astype(np.int64)] = 1.0
        missing = arr.is_null().to_numpy(zero_copy_only=False)
        unseen = ~found & ~missing
        n_levels = len(col.levels)
        other = j + n_levels if col.other else None
        if col.name in self._pooled and unseen.any():      # rare in training: <other>, seen
            candidates = pc.unique(arr.filter(pa.array(unseen)))
            seen = [v for v, d in zip(candidates.to_pylist(), level_digests_unsorted(
                candidates.to_pylist())) if d in self._pooled[col.name]]
            if seen:
                rare = pc.is_in(arr, value_set=pa.array(seen, pa.string())).to_numpy(
                    zero_copy_only=False) & unseen
                X[rare, other] = 1.0
                unseen &= ~rare
        if unseen.any():
            if strict:
                i = int(np.flatnonzero(unseen)[0])
                raise DataError(f"{source}: column '{col.name}' row {row_offset + i + 1}: level "
                                f"{arr[i].as_py()!r} was not seen in training; fix it, or score "
                                f"without --strict to treat it as {'<other>'}", kind="unseen_level",
                                column=col.name, row=row_offset + i + 1, value=arr[i].as_py())
            if other is not None:
                X[unseen, other] = 1.0
            if counts is not None:
                counts.add(counts.unseen, col.name, unseen.sum())
        if missing.any():
            if col.missing_level:
                X[missing, j + n_levels + int(col.other)] = 1.0
            elif other is not None:
                X[missing, other] = 1.0
            if counts is not None:
                counts.add(counts.missing, col.name, missing.sum())


def _some(names: list[str], shown: int = 10) -> str:
    """Names for a one-line message: the first few of a long list and how many more."""
    if len(names) <= shown + 2:
        return ", ".join(names)
    return f"{', '.join(names[:shown])} ... and {len(names) - shown:,} more"

"""JSON-like records to a model's feature matrix without building a table.

An HTTP request holds a few rows as Python values (numbers, booleans, text,
null). Building an Arrow table per request costs far more than the model
(tens of microseconds against a dot product), so :class:`RecordEncoder`
encodes the common cases directly, and hands everything else to the shared
path (:func:`enet.data.readers.memory_source` + :class:`~enet.data.encode.Encoder`),
which then produces the prediction or the error. The direct path never raises:
whenever a value is not plainly valid (text in a numeric column, an infinite
value, a type mixed within a column, an unseen level under ``strict`` ...) it
defers, so the two paths accept, reject, impute and count identically, with the
same messages. ``tests/test_serve_records.py`` checks that on a battery of inputs.
"""

from __future__ import annotations

import math

import numpy as np

from enet.data.encode import Encoder, ScoreCounts
from enet.data.manifest import InputColumn
from enet.data.readers import memory_source
from enet.data.schema import level_digests_unsorted
from enet.exceptions import DataError

__all__ = ["RecordEncoder"]

_INT_EXACT = 2 ** 53           # Arrow refuses to cast larger integers to float64 exactly
_NUMBER, _BOOLEAN, _TEXT = 1, 2, 3


class _Defer(Exception):
    """The direct path meets a value it does not handle: use the shared path."""


class _NumericPlan:
    __slots__ = ("name", "j", "fill", "indicator", "boolean", "markers")

    def __init__(self, col: InputColumn, j: int, markers: frozenset):
        self.name, self.j, self.fill, self.indicator = col.name, j, col.fill, col.indicator
        self.boolean = col.kind == "boolean"
        self.markers = markers

    def encode(self, values: list, X: np.ndarray, counts: ScoreCounts, strict: bool) -> None:
        j, fill, markers, boolean = self.j, self.fill, self.markers, self.boolean
        seen = 0
        missing = 0
        for i, v in enumerate(values):
            t = type(v)
            if t is float:
                kind = _NUMBER
                if v != v:
                    v = None
                elif math.isinf(v):
                    raise _Defer
            elif t is int:
                kind = _NUMBER
                if not -_INT_EXACT <= v <= _INT_EXACT:
                    raise _Defer
                v = float(v)
            elif t is bool:
                kind, v = _BOOLEAN, 1.0 if v else 0.0
            elif v is None:
                kind = 0
            else:
                raise _Defer                      # text, nested or foreign values
            if kind:
                if seen and kind != seen:
                    raise _Defer                  # mixed types: the shared path names them
                seen = kind
                if boolean and v != 0.0 and v != 1.0:
                    raise _Defer
                if markers and v in markers:
                    v = None
            if v is None:
                missing += 1
                X[i, j] = fill
                if self.indicator:
                    X[i, j + 1] = 1.0
            else:
                X[i, j] = v
        if missing:
            counts.missing[self.name] = missing


class _CategoricalPlan:
    __slots__ = ("name", "j", "index", "other", "missing_at", "pooled", "codes", "markers")

    def __init__(self, col: InputColumn, j: int, markers: frozenset):
        self.name, self.j, self.codes, self.markers = col.name, j, col.codes, markers
        self.index = {level: j + k for k, level in enumerate(col.levels)}
        n = len(col.levels)
        self.other = j + n if col.other else None
        self.missing_at = j + n + int(col.other) if col.missing_level else self.other
        self.pooled = frozenset(col.pooled)

    def encode(self, values: list, X: np.ndarray, counts: ScoreCounts, strict: bool) -> None:
        index, markers, codes = self.index, self.markers, self.codes
        seen = 0
        missing = unseen = 0
        for i, v in enumerate(values):
            t = type(v)
            if t is str:
                kind = _TEXT
                # declared codes are respelled canonically ("3.0" -> "3") by the shared path
                if codes and any(ch.isdigit() for ch in v):
                    raise _Defer
            elif t is int:
                kind = _NUMBER
                if not -_INT_EXACT < v < _INT_EXACT:
                    raise _Defer
                v = str(v)                        # Arrow's int64 -> string spelling
            elif v is None:
                kind = 0
            else:
                raise _Defer                      # floats and booleans: Arrow's spellings
            if kind:
                if seen and kind != seen:
                    raise _Defer
                seen = kind
                if markers and v in markers:
                    v = None
            if v is None:
                missing += 1
                if self.missing_at is not None:
                    X[i, self.missing_at] = 1.0
                continue
            at = index.get(v)
            if at is not None:
                X[i, at] = 1.0
                continue
            if self.pooled and level_digests_unsorted([v])[0] in self.pooled:
                X[i, self.other] = 1.0            # rare in training: <other>, not unseen
                continue
            if strict:
                raise _Defer                      # the shared path raises the error
            unseen += 1
            if self.other is not None:
                X[i, self.other] = 1.0
        if missing:
            counts.missing[self.name] = missing
        if unseen:
            counts.unseen[self.name] = unseen


class RecordEncoder:
    """Columns of Python values (``{"x": [1.5, None], "c": ["a", "b"]}``) to features.

    Parameters
    ----------
    encoder : Encoder
        The model's encoder (:meth:`enet.model.Model.encoder`); its inputs, fill
        values, levels and missing-value markers are used as they are.
    source : str
        Name that starts error messages (e.g. "request").
    """

    def __init__(self, encoder: Encoder, source: str = "request"):
        self.encoder = encoder
        self.source = source
        self.width = encoder.width
        self.input_names = frozenset(c.name for c in encoder.inputs)
        self.booleans = frozenset(c.name for c in encoder.inputs if c.kind == "boolean")
        numbers = frozenset(float(x) for x in encoder.markers.numbers)
        texts = frozenset(encoder.markers.text_values.to_pylist()
                          if encoder.markers.text_values is not None else ())
        self._plans = []
        offset = 0
        for col in encoder.inputs:
            if col.kind == "categorical":
                self._plans.append(_CategoricalPlan(col, offset, texts))
            else:
                self._plans.append(_NumericPlan(col, offset, numbers))
            offset += len(col.feature_names())

    def encode(self, columns: dict[str, list], n_rows: int, strict: bool = False,
               counts: ScoreCounts | None = None) -> np.ndarray:
        """The (n_rows x features) matrix of the records.

        Parameters
        ----------
        columns : dict of str -> list
            One list of ``n_rows`` values per column (JSON null as None).
        strict : bool
            Extra columns and unseen levels are errors.
        counts : ScoreCounts, optional
            Receives what was filled, unseen or ignored, as in batch scoring.

        Raises
        ------
        DataError
            As :meth:`enet.model.Model.predict` would for the same columns.
        """
        direct = self.direct(columns, n_rows, strict)
        if direct is None:
            return self.reference(columns, strict, counts)
        X, local = direct
        if counts is not None:
            counts.extra_columns.extend(local.extra_columns)
            for name, k in local.missing.items():
                counts.add(counts.missing, name, k)
            for name, k in local.unseen.items():
                counts.add(counts.unseen, name, k)
            counts.rows += n_rows
        return X

    def reference(self, columns: dict[str, list], strict: bool = False,
                  counts: ScoreCounts | None = None) -> np.ndarray:
        """The same matrix through the shared table path (what ``encode`` defers to)."""
        source = memory_source(columns, self.source)
        try:
            blocks = [X for X, _ in self.encoder.feature_blocks(source, strict, counts)]
        except DataError as exc:
            raise self._boolean_text(exc) from None
        return np.vstack(blocks) if blocks else np.zeros((0, self.width))

    def _boolean_text(self, exc: DataError) -> DataError:
        """Text in a boolean column is refused as in batch scoring, but the shared path
        words it for a numeric column ("not a number"): say what a boolean takes."""
        if exc.kind != "not_a_number" or exc.column not in self.booleans or exc.row is None:
            return exc
        return DataError(f"{self.source}: column '{exc.column}' row {exc.row}: value "
                         f"{exc.value!r} is not a boolean; the model needs true or false (JSON "
                         f"true/false or 1/0, not text)", kind="not_boolean",
                         column=exc.column, row=exc.row, value=exc.value)

    def direct(self, columns: dict[str, list], n_rows: int, strict: bool = False
               ) -> tuple[np.ndarray, ScoreCounts] | None:
        """The matrix and the counts of the records by the direct path, or None when
        a value needs the shared path (which :meth:`encode` then takes)."""
        names = self.input_names
        if len(columns) < len(names):
            return None                           # missing columns: named by the shared path
        extra = []
        for name, values in columns.items():
            if type(values) is not list or len(values) != n_rows or not name or \
                    name[0].isspace() or name[-1].isspace():
                return None
            if name not in names:
                extra.append(name)
        if (extra and strict) or len(columns) - len(extra) != len(names):
            return None
        local = ScoreCounts(rows=n_rows, extra_columns=extra)
        X = np.zeros((n_rows, self.width))
        try:
            for plan in self._plans:
                plan.encode(columns[plan.name], X, local, strict)
        except _Defer:
            return None
        return X, local

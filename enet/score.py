"""Batch scoring: stream a table through a model into a CSV or Parquet file."""

from __future__ import annotations

import csv
import os
import tempfile
from dataclasses import replace
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from enet._fs import public_mode
from enet.data.encode import Encoder, ScoreCounts
from enet.data.readers import CsvOptions, open_source
from enet.exceptions import DataError, UsageError
from enet.model import Model

__all__ = ["predict_file", "score_into"]

PREDICTION = "prediction"


def _output_format(path: str) -> str:
    lower = path.lower()
    if lower.endswith((".parquet", ".pq")):
        return "parquet"
    if lower.endswith(".csv"):
        return "csv"
    raise UsageError(f"{path}: unknown output type; use .csv or .parquet")


def predict_file(model: Model, input_path: str | os.PathLike, output_path: str | os.PathLike,
                 keep: list[str] = (),
                 progress: Callable[[int, "float | None"], None] | None = None,
                 strict: bool = False, csv_options: CsvOptions | None = None,
                 index_base: int | None = None) -> ScoreCounts:
    """Score every row of a table, keeping row order.

    Parameters
    ----------
    model : Model
    input_path : path
        CSV or Parquet; columns are matched by name; extra columns are ignored
        (an error with ``strict``).
    output_path : path
        ``.csv`` or ``.parquet``; written to a temporary file and renamed, so a
        failure never leaves a partial output.
    keep : list of str
        Input columns copied to the output before the ``prediction`` column.
    progress : callable, optional
        ``progress(rows, fraction)`` after each chunk (fraction None if unknown).
    strict : bool
        Reject extra columns and unseen categorical levels instead of noting them.
    csv_options : CsvOptions, optional
        Delimiter, quoting, encoding and missing-value spellings of a CSV input.
    index_base : {0, 1}, optional
        Index base of an svmlight input, when it differs from the model's training file
        (by default the model's).

    Returns
    -------
    ScoreCounts
        Rows scored, values filled, unseen levels, ignored columns.
    """
    output_path = os.fspath(output_path)
    fmt = _output_format(output_path)
    from enet.data.matrix import SVMLIGHT_SUFFIXES, is_matrix_file
    svmlight = os.fspath(input_path).lower().endswith(SVMLIGHT_SUFFIXES)
    if index_base not in (None, 0, 1) or (index_base is not None and not svmlight):
        raise UsageError("--index-base applies to an svmlight scoring file and is 0 or 1")
    if is_matrix_file(input_path):
        return _predict_matrix_file(model, os.fspath(input_path), output_path, fmt, keep,
                                    index_base)
    # the model's missing-value spellings hold wherever it scores
    csv_options = csv_options or CsvOptions()
    csv_options = replace(csv_options, default_na=model.manifest.default_na, na_values=tuple(
        dict.fromkeys(model.manifest.na_values + tuple(csv_options.na_values))))
    source = open_source(input_path, csv_options)
    matrix = model.manifest.matrix
    if matrix is not None and not set(model.manifest.input_names) <= set(source.columns):
        base, width = matrix["index_base"], matrix["n_features"]
        raise UsageError(f"{source.path}: this model was trained on a {matrix['format']} "
                         f"matrix of {width:,} features; score an svmlight or .npz file (a "
                         f"table would need the columns f{base} .. f{width - 1 + base})")
    _refuse_overwrite(output_path, source.path)
    keep = list(dict.fromkeys(keep))                      # each kept column once
    encoder = model.encoder()
    counts = ScoreCounts()
    counts.extra_columns = encoder.check_columns(source.columns, source.path, strict, keep)
    unknown = [k for k in keep if k not in source.columns]
    if unknown:
        raise DataError(f"{source.path}: --keep column(s) not found: {', '.join(unknown)}")
    if PREDICTION in keep:
        raise UsageError(f"--keep {PREDICTION} would clash with the output column; rename it")
    text = [k for k in keep if k not in model.manifest.input_names]
    with _atomic_output(output_path, fmt) as tmp:
        score_into(model, encoder, source, tmp, fmt, keep, text, progress, strict, counts)
    return counts


def _refuse_overwrite(output_path: str, input_path: str) -> None:
    if os.path.abspath(output_path) == os.path.abspath(input_path) or (
            os.path.exists(output_path) and os.path.samefile(output_path, input_path)):
        raise UsageError(f"{output_path}: the output would overwrite the input; choose "
                         f"another -o")
    if os.path.isdir(output_path):
        raise UsageError(f"{output_path} is a directory; -o needs a file name")
    if os.path.isfile(output_path) and not _is_prediction_file(output_path):
        raise UsageError(f"{output_path} exists and is not an enet predictions file (no "
                         f"'{PREDICTION}' column); choose another -o or remove it first")


def _is_prediction_file(path: str) -> bool:
    """An empty file, or one enet wrote (a ``prediction`` column): safe to replace."""
    if os.path.getsize(path) == 0:
        return True
    try:
        if _output_format(path) == "parquet":
            return PREDICTION in pq.read_schema(path).names
        with open(path, encoding="utf-8", errors="replace", newline="") as fh:
            header = next(csv.reader([fh.readline()]), [])
        return PREDICTION in [h.strip() for h in header]
    except Exception:  # noqa: BLE001 - unreadable: not ours, keep it
        return False


@contextmanager
def _atomic_output(output_path: str, fmt: str) -> Iterator[str]:
    """A temporary file next to ``output_path``, renamed onto it only on success."""
    parent = os.path.dirname(os.path.abspath(output_path))
    os.makedirs(parent, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=parent, prefix=".tmp-predict-",
                               suffix=".csv" if fmt == "csv" else ".parquet")
    os.close(fd)
    try:
        yield tmp
        public_mode(tmp, 0o666)
        os.replace(tmp, output_path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _predict_matrix_file(model: Model, input_path: str, output_path: str, fmt: str,
                         keep: list[str], index_base: int | None = None) -> ScoreCounts:
    """Score an svmlight/.npz matrix (model trained on a matrix): one prediction per row."""
    from enet.data.matrix import load_matrix

    matrix = model.manifest.matrix
    if matrix is None:
        raise UsageError(f"{input_path}: this model was trained on a table; score a table "
                         f"with its columns ({', '.join(model.manifest.input_names[:5])} ...)")
    if keep:
        raise UsageError("--keep applies to tables; a matrix file has no named columns")
    _refuse_overwrite(output_path, input_path)
    base = matrix["index_base"] if index_base is None else index_base
    data = load_matrix(input_path, n_features=matrix["n_features"], index_base=base)
    pred = model.predict_matrix(data.X)
    out = pa.table({PREDICTION: pa.array(pred, pa.float64())})
    with _atomic_output(output_path, fmt) as tmp:
        writer = _open_writer(tmp, fmt, out.schema)
        try:
            writer.write_table(out)
        finally:
            writer.close()
    return ScoreCounts(rows=len(pred))


def _open_writer(path: str, fmt: str, schema: pa.Schema):
    if fmt == "csv":
        return pacsv.CSVWriter(path, schema,
                               write_options=pacsv.WriteOptions(quoting_style="needed"))
    return pq.ParquetWriter(path, schema)


def score_into(model: Model, encoder: Encoder, source, tmp: str, fmt: str, keep: list[str],
               text: list[str], progress, strict: bool, counts: ScoreCounts) -> None:
    """Score every row of ``source`` into the file ``tmp`` (``keep`` columns, then the
    prediction); ``text`` are the kept columns that are not model inputs."""
    writer = None
    try:
        # kept columns that are not model inputs are copied verbatim (text from CSV)
        for batch, X, offset in encoder.batches(source, strict, text=text, counts=counts,
                                                verbatim=True, progress=progress):
            pred = model.predict_matrix(X, offset + 1)
            cols = [batch.column(batch.schema.get_field_index(k)) for k in keep]
            out = pa.RecordBatch.from_arrays(cols + [pa.array(pred, pa.float64())],
                                             names=list(keep) + [PREDICTION])
            if writer is None:
                writer = _open_writer(tmp, fmt, out.schema)
            writer.write_batch(out)
        if writer is None:     # header only: still write a valid, empty output
            schema = pa.schema([(k, pa.string()) for k in keep] + [(PREDICTION, pa.float64())])
            writer = _open_writer(tmp, fmt, schema)
        writer.close()
        writer = None
    finally:
        if writer is not None:
            writer.close()


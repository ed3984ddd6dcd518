"""Batch scoring on an engine: every piece scored where it is read, into a Parquet
directory of parts (``part-00000.parquet`` ...) in the pieces' order.

Each piece goes through the local scorer (:func:`enet.score`), so validation,
filling and counting are exactly those of ``enet predict`` on one file. The
parts are written into a temporary directory next to the output, renamed onto
it only when every piece succeeded.
"""

from __future__ import annotations

import fnmatch
import os
import shutil
import tempfile
from dataclasses import dataclass
from functools import reduce

import numpy as np

from enet._fs import public_mode
from enet.data.encode import ScoreCounts
from enet.data.readers import CsvOptions
from enet.exceptions import DataError, UsageError
from enet.model import Model
from enet.pieces import PieceReader, frame_kind
from enet.score import PREDICTION, score_into
from enet.train_scale import PieceTable, file_table, make_engine

__all__ = ["predict_files", "predict_frame", "merge_counts", "score_table"]

PART = "part-{:05d}.parquet"


def merge_counts(a: ScoreCounts, b: ScoreCounts) -> ScoreCounts:
    """The counts of two disjoint sets of rows."""
    out = ScoreCounts(a.rows + b.rows, dict(a.missing), dict(a.unseen),
                      list(dict.fromkeys(a.extra_columns + b.extra_columns)))
    for table, other in ((out.missing, b.missing), (out.unseen, b.unseen)):
        for name, count in other.items():
            out.add(table, name, count)
    return out


@dataclass(frozen=True)
class _ScoreJob:
    model: Model
    reader: PieceReader
    directory: str
    keep: tuple[str, ...]
    strict: bool

    def __call__(self, item) -> ScoreCounts:
        index, payload = item
        encoder = self.model.encoder()
        counts = ScoreCounts()
        text = [k for k in self.keep if k not in self.model.manifest.input_names]
        path = os.path.join(self.directory, PART.format(index))
        tmp = path + ".tmp"
        if not hasattr(payload, "columns") and not hasattr(payload, "path"):
            # a Spark partition arrives in Arrow batches: one part file per partition
            import pandas as pd
            frames = list(payload)
            if not frames:
                return counts
            payload = pd.concat(frames, ignore_index=True)
        for source in self.reader.sources(index, payload):
            encoder.check_columns(source.columns, source.path, self.strict, list(self.keep))
            with self.reader.reading(source):
                score_into(self.model, encoder, source, tmp, "parquet", list(self.keep), text,
                           None, self.strict, counts)
        os.replace(tmp, path)
        return counts


def _output_directory(output: str) -> None:
    """Refuse an output that is not a directory of earlier predictions (or absent)."""
    if not output.lower().endswith((".parquet", "/")) and os.path.splitext(output)[1]:
        raise UsageError(f"{output}: an engine writes a Parquet directory of parts; name the "
                         f"output without an extension or ending in .parquet")
    if os.path.isfile(output):
        raise UsageError(f"{output} is a file; an engine writes a directory of Parquet parts: "
                         f"choose another -o")
    if os.path.isdir(output):
        others = [f for f in os.listdir(output) if not fnmatch.fnmatch(f, "part-*.parquet")]
        if others:
            raise UsageError(f"{output}: the directory holds other files ({others[0]} ...); "
                             f"-o only replaces earlier predictions")


def score_table(model: Model, table: PieceTable, output: str, engine, keep=(),
                strict: bool = False) -> ScoreCounts:
    """Score a table in pieces with ``engine`` into the Parquet directory ``output``."""
    output = os.fspath(output).rstrip("/")
    _output_directory(output)
    keep = tuple(dict.fromkeys(keep))
    if PREDICTION in keep:
        raise UsageError(f"--keep {PREDICTION} would clash with the output column; rename it")
    encoder = model.encoder()
    extra = encoder.check_columns(list(table.reference_types), table.reader.reference, strict,
                                  list(keep))
    unknown = [k for k in keep if k not in table.reference_types]
    if unknown:
        raise DataError(f"{table.reader.reference}: --keep column(s) not found: "
                        f"{', '.join(unknown)}")
    if any(os.path.abspath(p) == os.path.abspath(output) for p in table.paths):
        raise UsageError(f"{output}: the output would overwrite the input; choose another -o")
    parent = os.path.dirname(os.path.abspath(output))
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(dir=parent, prefix=".tmp-predict-")
    public_mode(tmp, 0o777)
    try:
        job = _ScoreJob(model, table.reader, tmp, keep, strict)
        if table.spark_frame is not None:
            parts = engine.map_frames(job, table.spark_frame)
        else:
            parts = engine.map(job, table.items)
        counts = reduce(merge_counts, [p for p in parts if p is not None], ScoreCounts())
        counts.extra_columns = extra
        if os.path.isdir(output):
            shutil.rmtree(output)
        os.replace(tmp, output)
    finally:
        if os.path.isdir(tmp):
            shutil.rmtree(tmp, ignore_errors=True)
    return counts


def predict_files(model: Model, paths, output, keep=(), strict: bool = False,
                  engine="local", scheduler: str | None = None,
                  spark_master: str | None = None, csv_options: CsvOptions | None = None,
                  rows_per_piece: int | None = None) -> ScoreCounts:
    """Score CSV/Parquet files on an engine into a directory of Parquet parts.

    Parameters
    ----------
    model : Model
    paths : path, list of paths, directory or glob pattern
    output : path
        Directory written (``part-00000.parquet`` ... in input order); a directory
        of earlier predictions is replaced only when every part succeeded.
    keep : columns copied to the output before ``prediction``.
    engine : "local", "dask", "spark" or an engine object
    scheduler, spark_master : where the engine runs (see ``enet train``).

    Returns
    -------
    ScoreCounts
    """
    from dataclasses import replace

    csv_options = csv_options or CsvOptions()
    csv_options = replace(csv_options, default_na=model.manifest.default_na, na_values=tuple(
        dict.fromkeys(model.manifest.na_values + tuple(csv_options.na_values))))
    table = file_table(paths, csv_options, rows_per_piece)
    if not isinstance(engine, str):
        return score_table(model, table, output, engine, keep, strict)
    runner, release = make_engine(engine, scheduler, spark_master)
    try:
        return score_table(model, table, output, runner, keep, strict)
    finally:
        release()


def predict_frame(model: Model, frame, keep=None):
    """Predictions for a Dask or Spark DataFrame, lazily, as the same kind of frame:
    the ``keep`` columns (default: all) and a ``prediction`` column.

    Every partition is validated and encoded by :meth:`Model.predict`.
    """
    kind = frame_kind(frame)
    keep = list(frame.columns) if keep is None else list(keep)
    if kind == "dask":
        import pandas as pd
        meta = frame._meta[keep].assign(**{PREDICTION: pd.Series(dtype="float64")})
        return frame.map_partitions(_predict_pandas, model, keep, meta=meta)
    if kind == "spark":
        from pyspark.sql.types import DoubleType, StructField, StructType
        fields = [frame.schema[k] for k in keep] + [StructField(PREDICTION, DoubleType())]
        from functools import partial
        return frame.mapInPandas(partial(_predict_batches, model, keep), StructType(fields))
    raise UsageError(f"expected a Dask or Spark DataFrame; got {type(frame).__name__}")


def _predict_pandas(df, model: Model, keep: list[str]):
    out = df[keep].copy()
    out[PREDICTION] = model.predict(df) if len(df) else np.empty(0)
    return out


def _predict_batches(model: Model, keep: list[str], frames):
    for df in frames:
        yield _predict_pandas(df, model, keep)


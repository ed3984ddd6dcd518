"""Training on an engine: a table in pieces, statistics mapped and reduced, the solver
and the whole CV grid on the client.

The two passes of :mod:`enet.train` run per piece, with the same per-chunk
functions (:mod:`enet.passes`): the first learns the preprocessing and each
piece's row count; the pieces' row counts give every row its global row number,
so folds, stability blocks and the profile's row sample are those of the local
engine on the same rows in the same order, however the table is partitioned.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import os
from dataclasses import dataclass, field, replace
from functools import partial

import numpy as np

from enet.data.encode import Encoder
from enet.data.manifest import InputColumn
from enet.data.readers import CsvOptions, memory_source, open_source
from enet.data.schema import ColumnRoles, InputScan, decide_kinds, resolve_columns, scan_batches
from enet.engines.local import LocalEngine
from enet.exceptions import UsageError
from enet.model import Model
from enet.monitor.profile import TrainingProfiler
from enet.passes import FoldRule, StatsPartial
from enet.pieces import (PieceReader, expand_paths, file_pieces, frame_kind, source_digest,
                         type_kind)
from enet.train import (TrainConfig, fold_rule, group_folds_of, model_from_statistics,
                        package_versions, row_summary)

__all__ = ["train_files", "train_frame", "PieceTable", "train_pieces", "make_engine",
           "file_table", "dask_table", "spark_table"]


@dataclass
class PieceTable:
    """A table as pieces for an engine.

    Attributes
    ----------
    reader : PieceReader
        Opens and checks pieces (runs where the pieces are read).
    items : list
        ``(index, payload)`` per piece: a FilePiece or a Dask partition.
    spark_frame : pyspark DataFrame, optional
        Set instead of ``items`` for a Spark DataFrame (its partitions are the pieces).
    reference_types : dict
        Arrow type of every column (from the first piece), for the column kinds.
    paths : list of str
        The files, for the lineage (empty for data frames).
    fmt : str
    """

    reader: PieceReader
    items: list
    reference_types: dict
    paths: list[str] = field(default_factory=list)
    fmt: str = "parquet"
    spark_frame: object = None

    def run(self, engine, fn, combine, empty):
        """(combined, per-piece results described by ``fn``'s ``describe``)."""
        if self.spark_frame is not None:
            parts = engine.map_frames(fn, self.spark_frame)
            parts = [p if p is not None else empty() for p in parts]
            from enet.engines import tree_reduce
            return tree_reduce(parts, combine), parts
        return engine.map_reduce(fn, self.items, combine, _Described.describe)


@dataclass
class _Described:
    """A piece's partial result with its row count and content digest."""

    value: object
    rows: int = 0
    digests: list[str] = field(default_factory=list)

    def describe(self) -> "_Described":
        return _Described(None, self.rows, self.digests)

    def __add__(self, other: "_Described") -> "_Described":
        return _Described(self.value + other.value, self.rows + other.rows, [])


@dataclass(frozen=True)
class _ScanJob:
    reader: PieceReader
    roles: ColumnRoles
    kinds: dict
    options: object

    def empty(self) -> _Described:
        return _Described(InputScan(self.roles, self.kinds, self.options))

    def __call__(self, item) -> _Described:
        index, payload = item
        scan = InputScan(self.roles, self.kinds, self.options)
        digests = []
        for source in self.reader.sources(index, payload):
            start = scan.rows
            with self.reader.reading(source):
                for batch in scan_batches(source, self.roles, self.kinds):
                    scan.update(batch, source.path, scan.rows - start)
                digests.append(source_digest(source))
        return _Described(scan, scan.rows, digests)


@dataclass(frozen=True)
class _StatsJob:
    reader: PieceReader
    roles: ColumnRoles
    inputs: list[InputColumn]
    na_values: tuple[str, ...]
    rule: FoldRule
    offsets: tuple[int, ...]

    def _new(self) -> StatsPartial:
        encoder_width = Encoder(self.inputs, na_values=self.na_values).width
        return StatsPartial(encoder_width, self.rule,
                            TrainingProfiler(self.inputs, self.na_values, self.rule.seed))

    def empty(self) -> _Described:
        return _Described(self._new().finalize())

    def __call__(self, item) -> _Described:
        index, payload = item
        encoder = Encoder(self.inputs, na_values=self.na_values)
        partial_stats = self._new()
        for source in self.reader.sources(index, payload):
            with self.reader.reading(source):
                partial_stats.read(source, encoder, self.roles,
                                   first_row=self.offsets[index] + partial_stats.counts.read)
        return _Described(partial_stats.finalize(), partial_stats.counts.read)


def train_pieces(table: PieceTable, config: TrainConfig, engine) -> Model:
    """Train on a table in pieces with ``engine`` (local, Dask or Spark).

    Both passes map over the pieces and reduce with ``+``; the cross-validation
    and the fit run here, on the statistics.

    Raises
    ------
    DataError, UsageError, EngineError
    """
    config.validate()
    if config.solver == "naive":
        raise UsageError("the naive solver needs the rows in memory; on an engine training "
                         "works from sufficient statistics: pass --solver covariance (or "
                         "auto), or train with the local engine")
    label = table.reader.label
    columns = list(table.reference_types)
    roles = resolve_columns(columns, config.target, config.exclude, config.weight,
                            config.group, config.categorical, table.reader.reference)
    reference = memory_source(_empty_table(table.reference_types), table.reader.reference)
    kinds = decide_kinds(reference, roles)
    used = roles.features + [roles.target] + [c for c in (roles.weight, roles.group) if c]
    reader = replace(table.reader, columns={c: type_kind(table.reference_types[c])
                                            for c in used})
    table = replace(table, reader=reader)

    scan_job = _ScanJob(reader, roles, kinds, config.schema_options)
    scan_total, scan_parts = table.run(engine, scan_job, _Described.__add__, scan_job.empty)
    scan = scan_total.value.finish(label)
    group_folds = group_folds_of(scan.group_counts, config.folds, config.seed, label) \
        if config.group else None
    rows = [p.rows for p in scan_parts]
    offsets = tuple(int(x) for x in np.concatenate([[0], np.cumsum(rows)[:-1]])) if rows \
        else ()
    digest = hashlib.sha256("".join(d for p in scan_parts for d in p.digests).encode())

    width = Encoder(scan.inputs, na_values=tuple(config.na_values)).width
    stats_job = _StatsJob(reader, roles, scan.inputs, tuple(config.na_values),
                          fold_rule(config, group_folds, width), offsets)
    stats_total, _ = table.run(engine, stats_job, _Described.__add__, stats_job.empty)
    stats: StatsPartial = stats_total.value
    summary = row_summary(stats.counts, label, roles, config)
    folds, blocks = stats.fold_stats(label)
    lineage = partial(_lineage, table, label, digest.hexdigest(), engine.name)
    return model_from_statistics(folds, stats.ranges, summary,
                                 blocks if config.stability else None, scan.inputs,
                                 scan.profile, roles, config, label, lineage, stats.profiler)


def _empty_table(types: dict):
    import pyarrow as pa
    return pa.schema(list(types.items())).empty_table()


def _lineage(table: PieceTable, label: str, sha256: str, engine: str, rows: int) -> dict:
    data = {"path": label, "sha256": sha256, "format": table.fmt, "rows": int(rows),
            "engine": engine, "pieces": len(table.items) if table.spark_frame is None else None}
    if table.paths:
        data["paths"] = [os.path.abspath(p) for p in table.paths]
    return {"data": data,
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "versions": package_versions()}


# ---------------------------------------------------------------- building tables
def file_table(paths, csv_options: CsvOptions | None = None,
               rows_per_piece: int | None = None) -> PieceTable:
    """Files (paths, directories or glob patterns) as a table in pieces."""
    files = expand_paths(paths)
    first = open_source(files[0], csv_options)
    types = first.arrow_types
    if types is None:
        types = first.infer_csv_types(first.columns)
    pieces = file_pieces(files, rows_per_piece) if rows_per_piece else file_pieces(files)
    label = files[0] if len(files) == 1 else f"{os.path.dirname(files[0]) or '.'}/ " \
        f"({len(files)} files)"
    reader = PieceReader(label, {}, files[0], first.csv)
    fmt = first.format if all(f.lower().endswith(os.path.splitext(files[0])[1].lower())
                              for f in files) else "mixed"
    return PieceTable(reader, list(enumerate(pieces)), dict(types), files, fmt)


def dask_table(frame, client) -> PieceTable:
    """A Dask DataFrame as a table: one piece per partition."""
    head = client.compute(frame.head(1000, npartitions=1, compute=False)).result()
    types = {f.name: f.type for f in memory_source(head, "dask DataFrame").table.schema}
    reader = PieceReader("dask DataFrame", {}, "the first partition of the dask DataFrame")
    return PieceTable(reader, list(enumerate(frame.to_delayed())), types, fmt="dask")


def spark_table(frame) -> PieceTable:
    """A Spark DataFrame as a table: its partitions are the pieces (``mapInPandas``)."""
    from pyspark.sql.pandas.types import to_arrow_schema

    schema = to_arrow_schema(frame.schema)
    reader = PieceReader("Spark DataFrame", {}, "the Spark DataFrame's schema")
    return PieceTable(reader, [], {f.name: f.type for f in schema}, fmt="spark",
                      spark_frame=frame)


def make_engine(engine: str, scheduler: str | None = None, spark_master: str | None = None):
    """The engine named by ``--engine``, and a function that releases what it started.

    Raises
    ------
    UsageError, EngineError
    """
    if engine == "local":
        if scheduler or spark_master:
            raise UsageError("--scheduler and --spark-master need --engine dask or spark")
        return LocalEngine(), lambda: None
    if engine == "dask":
        if not scheduler:
            raise UsageError("--engine dask needs --scheduler ADDRESS (e.g. "
                             "tcp://10.0.0.5:8786)")
        from enet.engines.dask import DaskEngine, connect
        client = connect(scheduler)
        return DaskEngine(client), client.close
    if engine == "spark":
        from enet.engines.spark import DEFAULT_MASTER, SparkEngine, session
        spark = session(spark_master or DEFAULT_MASTER)
        return SparkEngine(spark), lambda: None
    raise UsageError(f"--engine must be local, dask or spark; got {engine!r}")


def train_files(paths, config: TrainConfig, engine="local", scheduler: str | None = None,
                spark_master: str | None = None, csv_options: CsvOptions | None = None,
                rows_per_piece: int | None = None) -> Model:
    """Train on one or more CSV/Parquet files with an engine.

    Parameters
    ----------
    paths : path, list of paths, directory or glob pattern
        The files of one table, in order (their rows are numbered in this order).
    config : TrainConfig
    engine : "local", "dask", "spark", or an engine object
    scheduler : str
        Dask scheduler address (``--engine dask``).
    spark_master : str
        Spark master URL (``--engine spark``; default ``local[2]``).
    rows_per_piece : int, optional
        Rows per piece of a Parquet file (whole row groups; default 1,000,000).

    Returns
    -------
    Model
    """
    config.validate()
    csv_options = replace(csv_options or CsvOptions(), na_values=tuple(config.na_values),
                          default_na=config.default_na)
    table = file_table(paths, csv_options, rows_per_piece)
    if not isinstance(engine, str):
        return train_pieces(table, config, engine)
    runner, release = make_engine(engine, scheduler, spark_master)
    try:
        return train_pieces(table, config, runner)
    finally:
        release()


def train_frame(frame, config: TrainConfig, client=None) -> Model:
    """Train on a Dask DataFrame (with ``client``, else the default distributed client)
    or a Spark DataFrame (with its own session)."""
    kind = frame_kind(frame)
    if kind == "spark":
        from enet.engines.spark import SparkEngine
        return train_pieces(spark_table(frame), config, SparkEngine(frame.sparkSession))
    if kind == "dask":
        from enet.engines.dask import DaskEngine
        if client is None:
            from distributed import get_client
            try:
                client = get_client()
            except ValueError:
                raise UsageError("a dask DataFrame needs a dask.distributed Client: create "
                                 "one (Client(address)) or pass client=") from None
        return train_pieces(dask_table(frame, client), config, DaskEngine(client))
    raise UsageError(f"expected a Dask or Spark DataFrame; got {type(frame).__name__}")


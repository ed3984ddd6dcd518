"""A table in pieces: Parquet files and row groups, CSV files, Dask or Spark partitions.

Training and scoring on an engine hand every piece to a function that runs
where the piece is read (a worker, an executor, or this process). This module
turns a piece into :class:`TableSource` objects the local readers stream, and
checks that every piece has the columns and types of the first one, naming the
file (or partition) that differs.
"""

from __future__ import annotations

import glob
import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.parquet as pq

from enet.data.readers import DEFAULT_CHUNK_BYTES, CsvOptions, TableSource, memory_source, \
    open_source
from enet.exceptions import DataError, UsageError

__all__ = ["FilePiece", "file_pieces", "PieceReader", "ROWS_PER_PIECE", "type_kind",
           "expand_paths", "frame_kind", "source_digest"]

#: Parquet row groups are grouped into pieces of about this many rows
ROWS_PER_PIECE = 1_000_000


@dataclass(frozen=True)
class FilePiece:
    """A whole CSV/Parquet file, or some row groups of a Parquet file."""

    path: str
    row_groups: tuple[int, ...] | None = None


# the files of a directory that are read as pieces of its table
TABLE_PIECE_SUFFIXES = (".parquet", ".pq", ".csv", ".csv.gz", ".tsv")


def expand_paths(paths) -> list[str]:
    """File names from paths, directories (their Parquet/CSV files, sorted) and glob
    patterns (sorted), in the order given.

    Raises
    ------
    DataError
        A path that names nothing.
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    out: list[str] = []
    for p in map(os.fspath, paths):
        if os.path.isdir(p):
            found = sorted(f for f in glob.glob(os.path.join(p, "*"))
                           if f.lower().endswith(TABLE_PIECE_SUFFIXES))
            if not found:
                raise DataError(f"{p}: the directory holds no Parquet or CSV files")
            out.extend(found)
        elif any(ch in p for ch in "*?[") and not os.path.exists(p):
            found = sorted(glob.glob(p))
            if not found:
                raise DataError(f"{p}: no file matches")
            out.extend(found)
        else:
            out.append(p)
    if not out:
        raise UsageError("no data files given")
    return out


def file_pieces(paths: list[str], rows_per_piece: int = ROWS_PER_PIECE) -> list[FilePiece]:
    """The files as pieces: a Parquet file split at row-group boundaries into pieces
    of about ``rows_per_piece`` rows, any other file whole."""
    pieces = []
    for path in paths:
        if not path.lower().endswith((".parquet", ".pq", ".parq")) or not os.path.isfile(path):
            pieces.append(FilePiece(path))
            continue
        try:
            meta = pq.ParquetFile(path).metadata
        except (pa.ArrowInvalid, OSError) as exc:
            raise DataError(f"{path}: not a readable Parquet file ({exc})") from None
        groups: list[int] = []
        rows = 0
        for i in range(meta.num_row_groups):
            groups.append(i)
            rows += meta.row_group(i).num_rows
            if rows >= rows_per_piece:
                pieces.append(FilePiece(path, tuple(groups)))
                groups, rows = [], 0
        if groups or meta.num_row_groups == 0:
            pieces.append(FilePiece(path, tuple(groups) if groups else None))
    return pieces


def type_kind(t: pa.DataType) -> str:
    """"number", "boolean", "text" or the type itself, for comparing pieces' schemas."""
    if pa.types.is_dictionary(t):
        t = t.value_type
    if pa.types.is_boolean(t):
        return "boolean"
    if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t):
        return "number"
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return "text"
    if pa.types.is_null(t):
        return "null"
    return str(t)


def frame_kind(data) -> str | None:
    """"dask" or "spark" for a Dask or Spark DataFrame, else None."""
    module = type(data).__module__.split(".")[0]
    if module in ("dask", "dask_expr") and hasattr(data, "to_delayed"):
        return "dask"
    if module == "pyspark" and hasattr(data, "mapInPandas"):
        return "spark"
    return None


@dataclass(frozen=True)
class PieceReader:
    """Opens pieces as sources and checks them against the table's first piece.

    Attributes
    ----------
    label : str
        The table's name in messages (a file pattern, "dask DataFrame" ...).
    columns : dict column -> kind (:func:`type_kind`) every piece must have.
    reference : str
        Where ``columns`` were read (named when a piece differs).
    """

    label: str
    columns: dict[str, str]
    reference: str
    csv: CsvOptions = CsvOptions()
    chunk_bytes: int = DEFAULT_CHUNK_BYTES

    def sources(self, index: int, payload) -> Iterator[TableSource]:
        """The piece's rows as one or more consecutive sources: a FilePiece, a pandas
        DataFrame (a Dask partition) or an iterator of pandas DataFrames (a Spark
        partition, in Arrow batches)."""
        if isinstance(payload, FilePiece):
            source = open_source(payload.path, self.csv, self.chunk_bytes, payload.row_groups)
            self.check(source)
            yield source
            return
        frames = [payload] if hasattr(payload, "columns") else payload
        for frame in frames:
            source = memory_source(frame, f"{self.label} partition {index}",
                                   chunk_bytes=self.chunk_bytes)
            self.check(source)
            yield source

    def check(self, source: TableSource) -> None:
        """Raise DataError naming ``source`` if a needed column is absent or of another
        kind than in the reference piece."""
        missing = [c for c in self.columns if c not in source.columns]
        if missing:
            raise DataError(f"{source.path}: column(s) {', '.join(missing)} missing, but "
                            f"{self.reference} has them; every piece of a table needs the same "
                            f"columns")
        if source.arrow_types is None:          # CSV: types are checked as values are read
            return
        for name, kind in self.columns.items():
            got = type_kind(source.arrow_types[name])
            if got != kind and "null" not in (got, kind):
                raise DataError(f"{source.path}: column '{name}' holds {got} values, but in "
                                f"{self.reference} it holds {kind} values; every piece of a "
                                f"table needs the same column types")

    @contextmanager
    def reading(self, source: TableSource):
        """Name the source in any error its file raises while it is read."""
        try:
            yield
        except (OSError, pa.ArrowException) as exc:
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise DataError(f"{source.path}: cannot read the file ({first}); it may be "
                            f"corrupt or truncated: replace it or leave it out") from None


def source_digest(source: TableSource) -> str:
    """sha256 of a piece's content: a Parquet piece's column chunks, a CSV file, or an
    in-memory partition's buffers (lineage of a model trained on pieces)."""
    h = hashlib.sha256()
    if source.format == "memory":
        h.update(str(source.table.schema).encode())
        for batch in source.table.to_batches():
            for col in batch.columns:
                for buf in col.buffers():
                    if buf is not None:
                        h.update(memoryview(buf))
        return h.hexdigest()
    with open(source.path, "rb") as fh:
        if source.format == "parquet":
            meta = pq.ParquetFile(source.path).metadata
            groups = source.row_groups if source.row_groups is not None else \
                range(meta.num_row_groups)
            for g in groups:
                rg = meta.row_group(g)
                for j in range(rg.num_columns):
                    c = rg.column(j)
                    start = c.dictionary_page_offset or c.data_page_offset
                    fh.seek(start)
                    h.update(fh.read(c.total_compressed_size))
        else:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()

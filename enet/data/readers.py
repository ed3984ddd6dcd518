"""Chunked readers for CSV (optionally gzipped) and Parquet files.

Rows are never all in memory: every reader yields pyarrow RecordBatches of a
bounded size. Conversion failures are turned into one-line errors naming the
file, column, row and value.
"""

from __future__ import annotations

import csv
import gzip
import os
from collections.abc import Iterator
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from enet.exceptions import DataError

__all__ = ["TableSource", "open_source", "DEFAULT_CHUNK_BYTES", "InferredTypeError"]

DEFAULT_CHUNK_BYTES = 16 << 20
_PARQUET_SUFFIXES = (".parquet", ".pq", ".parq")
_CSV_SUFFIXES = (".csv", ".csv.gz", ".txt", ".tsv", ".tsv.gz")


class InferredTypeError(DataError):
    """A column read with an inferred type changed type between chunks."""


@dataclass(frozen=True)
class TableSource:
    """A tabular file: its path, format, column names and (where known) row count."""

    path: str
    format: str
    columns: list[str]
    arrow_types: dict[str, pa.DataType] | None
    n_rows: int | None
    delimiter: str = ","

    def batches(self, numeric: list[str], text: list[str] = (),
                chunk_bytes: int = DEFAULT_CHUNK_BYTES,
                infer_text: bool = False) -> Iterator[pa.RecordBatch]:
        """Stream the named columns: ``numeric`` as float64, ``text`` as strings.

        From Parquet, ``text`` columns keep their stored type. From CSV they are
        strings, or with ``infer_text`` the type Arrow infers from the first chunk
        (a later chunk that does not fit raises ``InferredTypeError``).

        Raises
        ------
        DataError
            A value that is not a number, with its column, row and value.
        """
        if self.format == "parquet":
            yield from self._parquet_batches(numeric, text, chunk_bytes)
        else:
            yield from self._csv_batches(numeric, text, chunk_bytes, infer_text)

    def _parquet_batches(self, numeric, text, chunk_bytes):
        pf = pq.ParquetFile(self.path)
        for name in numeric:
            t = self.arrow_types[name]
            if not (pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t)
                    or pa.types.is_decimal(t) or pa.types.is_null(t)):
                raise DataError(f"{self.path}: column '{name}' has type {t}, not a number; "
                                f"pass --exclude {name} to leave it out")
        width = max(1, len(numeric) + len(text))
        batch_rows = max(1024, chunk_bytes // (8 * width))
        offset = 0
        for batch in pf.iter_batches(batch_size=batch_rows, columns=list(numeric) + list(text)):
            arrays = []
            for n in list(numeric) + list(text):
                col = batch.column(batch.schema.get_field_index(n))
                if n not in numeric:
                    arrays.append(col)
                    continue
                try:
                    arrays.append(col.cast(pa.float64()))
                except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                    raise DataError(f"{self.path}: column '{n}' (rows {offset + 1}-"
                                    f"{offset + batch.num_rows}) cannot be read as "
                                    f"{'a number' if n in numeric else 'text'}: "
                                    f"{str(exc).splitlines()[0]}") from None
            offset += batch.num_rows
            yield pa.RecordBatch.from_arrays(arrays, names=list(numeric) + list(text))

    def _csv_batches(self, numeric, text, chunk_bytes, infer_text=False):
        types = {n: pa.float64() for n in numeric}
        if not infer_text:
            types.update({n: pa.string() for n in text})
        convert = pacsv.ConvertOptions(column_types=types,
                                       include_columns=list(numeric) + list(text))
        # our own (stripped, BOM-free) header names; the header line itself is skipped
        read = pacsv.ReadOptions(block_size=chunk_bytes, column_names=self.columns, skip_rows=1)
        bad_rows: list = []

        def on_invalid_row(row) -> str:
            bad_rows.append(row)
            return "error"

        parse = pacsv.ParseOptions(delimiter=self.delimiter, invalid_row_handler=on_invalid_row)
        try:
            reader = pacsv.open_csv(self.path, read_options=read, parse_options=parse,
                                    convert_options=convert)
            for batch in reader:
                yield batch
        except pa.ArrowInvalid as exc:
            if bad_rows:
                row = bad_rows[0]
                number = _first_ragged_row(self, row.expected_columns)
                where = f"row {number}" if number else "a row"
                raise DataError(f"{self.path}: {where} has {row.actual_columns} fields, the "
                                f"header has {row.expected_columns}: {row.text[:80]!r}; fix "
                                f"the row") from None
            raise self._explain_csv_error(exc, numeric, text) from None

    def _explain_csv_error(self, exc: Exception, numeric, text) -> DataError:
        msg = str(exc)
        if "conversion error" in msg and "column #" in msg:
            idx = int(msg.split("column #")[1].split(":")[0])   # index in the file
            name = self.columns[idx]
            if name not in numeric:
                return InferredTypeError(f"{self.path}: column '{name}' changes type: "
                                         f"{msg.splitlines()[0]}")
            row, value = _first_non_number(self, name)
            return DataError(f"{self.path}: column '{name}' row {row}: value {value!r} is not a "
                             f"number; fix or remove the value")
        return DataError(f"{self.path}: cannot parse CSV: {msg.splitlines()[0]}")


def _first_non_number(source: TableSource, column: str) -> tuple[int, str]:
    """Find the first value of a CSV column Arrow cannot parse as a number (slow path).

    Arrow's own parser decides, by bisection over casts, so the value reported is
    exactly the one the fast path rejected.
    """
    convert = pacsv.ConvertOptions(column_types={column: pa.string()}, include_columns=[column])
    read = pacsv.ReadOptions(column_names=source.columns, skip_rows=1)
    reader = pacsv.open_csv(source.path, read_options=read,
                            parse_options=pacsv.ParseOptions(delimiter=source.delimiter),
                            convert_options=convert)

    def parses(arr: pa.Array) -> bool:
        try:
            arr.cast(pa.float64())
            return True
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return False

    offset = 0
    for batch in reader:
        col = batch.column(0)
        if not parses(col):
            lo, hi = 0, len(col)          # the first bad value lies in [lo, hi)
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if parses(col.slice(lo, mid - lo)):
                    lo = mid
                else:
                    hi = mid
            return offset + lo + 1, col[lo].as_py()
        offset += batch.num_rows
    return -1, "?"


def _open_text(path: str):
    """A CSV file (optionally gzipped) as text, any UTF-8 byte-order mark dropped."""
    opener = gzip.open if path.endswith(".gz") else open
    return opener(path, "rt", encoding="utf-8-sig", newline="")


def _first_ragged_row(source: TableSource, expected: int) -> int | None:
    """1-based data row number of the first row with the wrong field count (slow path)."""
    with _open_text(source.path) as fh:
        for i, record in enumerate(csv.reader(fh, delimiter=source.delimiter)):
            if i > 0 and record and len(record) != expected:
                return i
    return None


def _sniff_csv_header(path: str) -> tuple[list[str], str]:
    try:
        with _open_text(path) as fh:
            head = fh.read(64 * 1024)
            if not head.strip():
                raise DataError(f"{path}: the file is empty; it needs a header row and data rows")
            first_line = head.splitlines()[0]
            delimiter = "\t" if ".tsv" in path.lower() else ","
            if delimiter == "," and first_line.count(";") > 0 and first_line.count(",") == 0:
                delimiter = ";"
            fh.seek(0)
            header = next(csv.reader(fh, delimiter=delimiter))
    except UnicodeDecodeError:
        raise DataError(f"{path}: not UTF-8 text; convert the file to UTF-8") from None
    except (OSError, EOFError, csv.Error) as exc:
        raise DataError(f"{path}: cannot read the header: {exc}") from None
    header = [h.strip() for h in header]
    broken = next((h for h in header if "\n" in h or "\r" in h), None)
    if broken is not None:
        raise DataError(f"{path}: column name {broken!r} contains a line break; rename it")
    if any(h == "" for h in header):
        raise DataError(f"{path}: the header has an empty column name (column "
                        f"{header.index('') + 1}); name every column")
    seen = set()
    for h in header:
        if h in seen:
            raise DataError(f"{path}: column name '{h}' appears twice in the header; "
                            f"rename one of them")
        seen.add(h)
    return header, delimiter


def open_source(path: str | os.PathLike) -> TableSource:
    """Open a CSV or Parquet file and read its column names (not its rows).

    Raises
    ------
    DataError
        Missing, empty or unreadable file, or an unknown extension.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise DataError(f"{path}: no such file")
    if os.path.isdir(path):
        raise DataError(f"{path}: is a directory; pass a CSV or Parquet file")
    lower = path.lower()
    if lower.endswith(_PARQUET_SUFFIXES):
        try:
            pf = pq.ParquetFile(path)
        except (pa.ArrowInvalid, OSError) as exc:
            raise DataError(f"{path}: not a readable Parquet file ({exc})") from None
        schema = pf.schema_arrow
        meta = schema.pandas_metadata or {}
        index = {c for c in meta.get("index_columns", []) if isinstance(c, str)}
        # a pandas index stored with the frame is row labels, not data
        names = [n for n in schema.names if n not in index and not n.startswith("__index_level_")]
        if "" in names:
            raise DataError(f"{path}: a column has an empty name; name every column")
        dup = next((n for n in names if names.count(n) > 1), None)
        if dup is not None:
            raise DataError(f"{path}: column name '{dup}' appears twice; rename one of them")
        return TableSource(path, "parquet", names, {f.name: f.type for f in schema},
                           pf.metadata.num_rows)
    if lower.endswith(_CSV_SUFFIXES):
        if os.path.getsize(path) == 0:
            raise DataError(f"{path}: the file is empty; it needs a header row and data rows")
        header, delimiter = _sniff_csv_header(path)
        return TableSource(path, "csv", header, None, None, delimiter)
    raise DataError(f"{path}: unknown file type; use .csv, .csv.gz, .tsv or .parquet")


"""Chunked readers for CSV (optionally gzipped), Parquet and in-memory tables.

Rows are never all in memory: every reader yields pyarrow RecordBatches of a
bounded size. Conversion failures are turned into one-line errors naming the
source, column, row and value.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from enet.exceptions import DataError, UsageError

__all__ = ["TableSource", "CsvOptions", "BatchStream", "open_source", "memory_source",
           "DEFAULT_CHUNK_BYTES", "first_unconvertible", "missing_marker_hint", "NULL_VALUES",
           "value_kind"]

DEFAULT_CHUNK_BYTES = 16 << 20
# Arrow's streaming CSV reader holds on to memory in proportion to the file with large
# blocks; with 2 MiB blocks its footprint stays flat (and parsing is faster). Small
# blocks are merged into chunks of DEFAULT_CHUNK_BYTES before they are handed on.
CSV_BLOCK_BYTES = 2 << 20
_PARQUET_SUFFIXES = (".parquet", ".pq", ".parq")
_CSV_SUFFIXES = (".csv", ".csv.gz", ".txt", ".txt.gz", ".tsv", ".tsv.gz")
# Arrow's default spellings of a missing value in CSV (pandas uses nearly the same list)
NULL_VALUES = ("", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND",
               "1.#QNAN", "N/A", "NA", "NULL", "NaN", "n/a", "nan", "null", "None")


@dataclass(frozen=True)
class CsvOptions:
    """How to parse a delimited text file.

    Attributes
    ----------
    delimiter : str or None
        Field separator; None sniffs ',' / ';' (and uses tab for .tsv).
    quote_char : str or None
        Quoting character; None turns quoting off.
    encoding : str
        Text encoding of the file (any Python codec name).
    na_values : tuple of str
        Extra spellings of a missing value, on top of :data:`NULL_VALUES`.
    default_na : bool
        Whether :data:`NULL_VALUES` count as missing (an empty field always does).
    """

    delimiter: str | None = None
    quote_char: str | None = '"'
    encoding: str = "utf-8"
    na_values: tuple[str, ...] = ()
    default_na: bool = True

    @property
    def null_values(self) -> list[str]:
        """Every text that means "missing"."""
        base = list(NULL_VALUES) if self.default_na else [""]
        return base + [v for v in self.na_values if v not in base]

    def validate(self) -> None:
        """Raise UsageError for an unusable option."""
        if self.delimiter is not None and len(self.delimiter) != 1:
            raise UsageError(f"--delimiter must be one character; got {self.delimiter!r} "
                             f"(use $'\\t' for tab)")
        if self.quote_char is not None and len(self.quote_char) != 1:
            raise UsageError(f"--quote-char must be one character; got {self.quote_char!r}")
        try:
            codecs.lookup(self.encoding)
        except LookupError:
            raise UsageError(f"--encoding {self.encoding!r} is not a known text encoding; "
                             f"try utf-8, latin-1 or cp1252") from None


class BatchStream:
    """Record batches plus an estimate of how much of the source has been read."""

    def __init__(self, batches: Iterator[pa.RecordBatch], fraction: Callable[[], float | None]):
        self._batches = batches
        self._fraction = fraction

    def __iter__(self) -> Iterator[pa.RecordBatch]:
        return self._batches

    @property
    def fraction(self) -> float | None:
        """Share of the source consumed so far (None when the size is unknown)."""
        return self._fraction()


class _CountingReader(io.RawIOBase):
    """A binary file that counts the bytes handed out (progress of a CSV read)."""

    def __init__(self, raw):
        self._raw = raw
        self.consumed = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        n = self._raw.readinto(buffer)
        self.consumed += n or 0
        return n

    def close(self) -> None:
        self._raw.close()
        super().close()


@dataclass(frozen=True)
class TableSource:
    """A table to stream: its name, format, column names and (where known) row count.

    ``format`` is "csv", "parquet" or "memory" (an Arrow table built from a
    DataFrame, Arrow data or arrays).
    """

    path: str
    format: str
    columns: list[str]
    arrow_types: dict[str, pa.DataType] | None
    n_rows: int | None
    csv: CsvOptions = field(default_factory=CsvOptions)
    table: pa.Table | None = None
    size: int | None = None
    chunk_bytes: int = DEFAULT_CHUNK_BYTES
    row_groups: tuple[int, ...] | None = None     # Parquet: read only these row groups

    def estimated_rows(self) -> int | None:
        """Row count: exact for Parquet and memory; for plain CSV estimated from the file
        size and the length of the first lines; None for compressed CSV."""
        if self.n_rows is not None:
            return self.n_rows
        if self.format != "csv" or self.path.lower().endswith(".gz") or not self.size:
            return None
        with open(self.path, "rb") as fh:
            sample = fh.read(1 << 20)
        lines = sample.count(b"\n")
        if lines <= 1:
            return 1
        if len(sample) < (1 << 20):
            return lines - 1
        return int(self.size * (lines - 1) / len(sample))

    # ------------------------------------------------------------------ reading
    def batches(self, numeric: list[str], text: list[str] = (), booleans: list[str] = (),
                chunk_bytes: int | None = None,
                hint: str | dict[str, str] = "fix or remove the value",
                verbatim: list[str] = ()) -> BatchStream:
        """Stream the named columns: ``numeric`` and ``booleans`` as float64 (missing
        as NaN), ``text`` as strings from CSV or in their stored type otherwise.

        ``hint`` ends the message about a value that is
        not a number (``{name}`` in it becomes the column name); a dict gives
        the hint per column. CSV ``text`` columns named in ``verbatim`` keep every
        value as written (no missing-value spellings), for copying through.

        Raises
        ------
        DataError
            A value that cannot be converted, with its column, row and value.
        """
        chunk_bytes = chunk_bytes or self.chunk_bytes
        if self.format == "csv":
            return self._csv_batches(list(numeric), list(text), list(booleans), chunk_bytes,
                                     hint, set(verbatim))
        return self._native_batches(list(numeric) + list(booleans), list(text), chunk_bytes,
                                    hint)

    def _native_batches(self, numeric, text, chunk_bytes, hint) -> BatchStream:
        for name in numeric:
            t = self.arrow_types[name]
            if not _is_number_type(t) and not (pa.types.is_string(t) or
                                               pa.types.is_large_string(t)):
                raise DataError(f"{self.path}: column '{name}' has type {t}, not a number; "
                                f"{_hint_for(hint, name)}", kind="not_a_number", column=name)
        names = numeric + text
        width = max(1, len(names))
        batch_rows = max(1024, chunk_bytes // (8 * width))
        done = [0]
        if self.format == "parquet":
            # page-by-page buffered reads: pre-buffering whole column chunks costs memory
            # in proportion to the row group and is slower here
            pf = pq.ParquetFile(self.path, pre_buffer=False, buffer_size=1 << 20)
            raw = pf.iter_batches(batch_size=batch_rows, columns=names,
                                  row_groups=None if self.row_groups is None
                                  else list(self.row_groups))
        else:
            raw = self.table.select(names).to_batches(max_chunksize=batch_rows)

        def gen() -> Iterator[pa.RecordBatch]:
            for batch in raw:
                arrays = []
                for n in names:
                    col = batch.column(batch.schema.get_field_index(n))
                    if n in numeric:
                        col = self._to_float(col, n, done[0], hint)
                    arrays.append(col)
                done[0] += batch.num_rows
                yield pa.RecordBatch.from_arrays(arrays, names=names)

        return BatchStream(gen(), lambda: done[0] / self.n_rows if self.n_rows else None)

    def _to_float(self, col: pa.Array, name: str, offset: int, hint: str) -> pa.Array:
        if pa.types.is_dictionary(col.type):
            col = col.dictionary_decode()
        try:
            return col.cast(pa.float64())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
                i = first_unconvertible(col, pa.float64())
                raise DataError(f"{self.path}: column '{name}' row {offset + i + 1}: value "
                                f"{col[i].as_py()!r} is not a number; "
                                f"{_hint_for(hint, name, col[i].as_py())}", kind="not_a_number",
                                column=name, row=offset + i + 1, value=col[i].as_py()) from None
            raise DataError(f"{self.path}: column '{name}' (rows {offset + 1}-"
                            f"{offset + len(col)}) cannot be read as a number: "
                            f"{str(exc).splitlines()[0]}", kind="not_a_number",
                            column=name) from None

    def _read_options(self, chunk_bytes: int) -> pacsv.ReadOptions:
        # our own (stripped, BOM-free) header names; the header line itself is skipped
        return pacsv.ReadOptions(block_size=min(chunk_bytes, CSV_BLOCK_BYTES),
                                 column_names=self.columns, skip_rows=1,
                                 encoding=self.csv.encoding)

    def _parse_options(self, on_invalid_row=None) -> pacsv.ParseOptions:
        quote = self.csv.quote_char
        return pacsv.ParseOptions(delimiter=self.csv.delimiter, quote_char=quote or False,
                                  double_quote=quote is not None,
                                  invalid_row_handler=on_invalid_row)

    def _convert_options(self, types: dict, include: list[str]) -> pacsv.ConvertOptions:
        # text is read verbatim; the missing-value spellings are applied to the text
        # columns that are data (see _null_text), never to copied-through columns
        return pacsv.ConvertOptions(column_types=types, include_columns=include,
                                    null_values=self.csv.null_values, strings_can_be_null=False)

    def _open_counted(self) -> tuple[object, _CountingReader]:
        counter = _CountingReader(open(self.path, "rb", buffering=0))
        stream = io.BufferedReader(counter, 1 << 20)
        if self.path.lower().endswith(".gz"):
            stream = gzip.GzipFile(fileobj=stream, mode="rb")
        return stream, counter

    def _csv_batches(self, numeric, text, booleans, chunk_bytes, hint, verbatim) -> BatchStream:
        types = {n: pa.float64() for n in numeric}
        types.update({n: pa.bool_() for n in booleans})
        types.update({n: pa.string() for n in text})
        include = numeric + booleans + text
        convert = self._convert_options(types, include)
        bad_rows: list = []

        def on_invalid_row(row) -> str:
            bad_rows.append(row)
            return "error"

        stream, counter = self._open_counted()

        def gen() -> Iterator[pa.RecordBatch]:
            try:
                reader = pacsv.open_csv(stream, read_options=self._read_options(chunk_bytes),
                                        parse_options=self._parse_options(on_invalid_row),
                                        convert_options=convert)
                pending, pending_rows = [], 0
                row_bytes = 8 * max(1, len(include))
                data_text = [n for n in text if n not in verbatim]
                nulls = pa.array(self.csv.null_values, pa.string())
                for batch in reader:
                    if booleans:
                        batch = _booleans_as_float(batch, booleans)
                    if data_text:
                        batch = _null_text(batch, data_text, nulls)
                    pending.append(batch)
                    pending_rows += batch.num_rows
                    if pending_rows * row_bytes >= chunk_bytes:
                        yield _concat(pending)
                        pending, pending_rows = [], 0
                if pending:
                    yield _concat(pending)
            except pa.ArrowInvalid as exc:
                if bad_rows:
                    row = bad_rows[0]
                    number = _first_ragged_row(self, row.expected_columns)
                    where = f"row {number}" if number else "a row"
                    raise DataError(f"{self.path}: {where} has {row.actual_columns} fields, "
                                    f"the header has {row.expected_columns}: "
                                    f"{row.text[:80]!r}; fix the row") from None
                raise self._explain_csv_error(exc, numeric, booleans, text, hint) from None
            finally:
                stream.close()

        size = self.size

        def fraction() -> float | None:
            return min(counter.consumed / size, 1.0) if size else None

        return BatchStream(gen(), fraction)

    def _explain_csv_error(self, exc: Exception, numeric, booleans, text,
                           hint: str = "fix or remove the value") -> DataError:
        msg = str(exc)
        if "conversion error" in msg and "column #" in msg:
            idx = int(msg.split("column #")[1].split(":")[0])   # index in the file
            name = self.columns[idx]
            if "invalid UTF8" in msg:
                return DataError(f"{self.path}: column '{name}' has text that is not valid "
                                 f"{self.csv.encoding}; pass --encoding (e.g. latin-1)")
            if name not in numeric and name not in booleans:
                return DataError(f"{self.path}: column '{name}' cannot be read: "
                                 f"{msg.splitlines()[0]}")
            target = pa.float64() if name in numeric else pa.bool_()
            row, value = _first_unconvertible_in_csv(self, name, target)
            what = "a number" if name in numeric else "true/false"
            advice = _hint_for(hint, name, value) if name in numeric else \
                "fix or remove the value"
            return DataError(f"{self.path}: column '{name}' row {row}: value {value!r} is not "
                             f"{what}; {advice}")
        if "straddl" in msg:
            return DataError(f"{self.path}: a row is longer than {CSV_BLOCK_BYTES >> 20} MiB; "
                             f"split or shorten it (e.g. drop a long text column)")
        if "invalid UTF8" in msg or "UnicodeDecodeError" in msg or "codec" in msg or \
                "decode" in msg.lower():
            return DataError(f"{self.path}: the text is not valid {self.csv.encoding}; pass "
                             f"--encoding (e.g. latin-1)")
        return DataError(f"{self.path}: cannot parse CSV: {msg.splitlines()[0]}")

    def infer_csv_types(self, columns: list[str]) -> dict[str, pa.DataType]:
        """Arrow's type for each named CSV column, inferred from the first chunk."""
        chunk_bytes = max(self.chunk_bytes, 1 << 20)
        convert = pacsv.ConvertOptions(include_columns=list(columns),
                                       null_values=self.csv.null_values,
                                       strings_can_be_null=True)
        stream, _ = self._open_counted()
        try:
            reader = pacsv.open_csv(stream, read_options=self._read_options(chunk_bytes),
                                    parse_options=self._parse_options(lambda row: "skip"),
                                    convert_options=convert)
            return {f.name: f.type for f in reader.schema}
        except pa.ArrowInvalid as exc:
            raise self._explain_csv_error(exc, [], [], columns) from None
        finally:
            stream.close()


def _null_text(batch: pa.RecordBatch, names: list[str], nulls: pa.Array) -> pa.RecordBatch:
    """Missing-value spellings in text columns as nulls."""
    arrays = []
    for n, c in zip(batch.schema.names, batch.columns):
        if n in names and pa.types.is_string(c.type):
            c = pc.if_else(pc.is_in(c, value_set=nulls), pa.scalar(None, pa.string()), c)
        arrays.append(c)
    return pa.RecordBatch.from_arrays(arrays, names=batch.schema.names)


def _concat(batches: list[pa.RecordBatch]) -> pa.RecordBatch:
    table = pa.Table.from_batches(batches)
    if len(batches) == 1 or table.num_rows == 0:
        return batches[0]
    return table.combine_chunks().to_batches()[0]


def _hint_for(hint: str | dict[str, str], name: str, value=None) -> str:
    text = hint.get(name, "fix or remove the value") if isinstance(hint, dict) \
        else hint.format(name=name)
    return text + missing_marker_hint(value)


def missing_marker_hint(value) -> str:
    """A note for values such as '?' (usually "missing") or '0,915' (a decimal comma)."""
    if isinstance(value, str) and len(value.strip()) <= 4 and \
            not any(ch.isalnum() for ch in value):
        return f" (if {value!r} marks a missing value, pass --na-value {value!r})"
    if isinstance(value, str) and re.fullmatch(r"\s*[-+]?\d+,\d+\s*", value):
        return " (decimal commas are not read as numbers: write a '.' decimal point)"
    return ""


def _is_number_type(t: pa.DataType) -> bool:
    return (pa.types.is_floating(t) or pa.types.is_integer(t) or pa.types.is_boolean(t)
            or pa.types.is_decimal(t) or pa.types.is_null(t))


def _booleans_as_float(batch: pa.RecordBatch, booleans: list[str]) -> pa.RecordBatch:
    arrays = [c.cast(pa.float64()) if n in booleans else c
              for n, c in zip(batch.schema.names, batch.columns)]
    return pa.RecordBatch.from_arrays(arrays, names=batch.schema.names)


def first_unconvertible(arr: pa.Array, target: pa.DataType) -> int:
    """Index of the first non-null value of ``arr`` that Arrow cannot cast to ``target``.

    Bisection over casts, so the value reported is exactly one the fast path
    rejected. Returns -1 when every value converts.
    """
    def converts(a: pa.Array) -> bool:
        try:
            a.cast(target)
            return True
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return False

    if converts(arr):
        return -1
    lo, hi = 0, len(arr)          # the first bad value lies in [lo, hi)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if converts(arr.slice(lo, mid - lo)):
            lo = mid
        else:
            hi = mid
    return lo


def _first_unconvertible_in_csv(source: TableSource, column: str,
                                target: pa.DataType) -> tuple[int, str]:
    """1-based row and text of the first value of a CSV column not convertible (slow path)."""
    convert = source._convert_options({column: pa.string()}, [column])
    stream, _ = source._open_counted()
    try:
        reader = pacsv.open_csv(stream, read_options=source._read_options(DEFAULT_CHUNK_BYTES),
                                parse_options=source._parse_options(), convert_options=convert)
        offset = 0
        nulls = pa.array(source.csv.null_values, pa.string())
        for batch in reader:
            # the text is read verbatim: the missing-value spellings are not the bad value
            col = pc.if_else(pc.is_in(batch.column(0), value_set=nulls),
                             pa.scalar(None, pa.string()), batch.column(0))
            i = first_unconvertible(col, target)
            if i >= 0:
                return offset + i + 1, col[i].as_py()
            offset += batch.num_rows
    finally:
        stream.close()
    return -1, "?"


def _open_text(path: str, encoding: str = "utf-8"):
    """A CSV file (optionally gzipped) as text, any UTF-8 byte-order mark dropped."""
    opener = gzip.open if path.lower().endswith(".gz") else open
    if codecs.lookup(encoding).name == "utf-8":
        encoding = "utf-8-sig"
    return opener(path, "rt", encoding=encoding, newline="")


def _first_ragged_row(source: TableSource, expected: int) -> int | None:
    """1-based data row number of the first row with the wrong field count (slow path)."""
    quote = source.csv.quote_char
    with _open_text(source.path, source.csv.encoding) as fh:
        reader = csv.reader(fh, delimiter=source.csv.delimiter, quotechar=quote or '"',
                            quoting=csv.QUOTE_MINIMAL if quote else csv.QUOTE_NONE)
        for i, record in enumerate(reader):
            if i > 0 and record and len(record) != expected:
                return i
    return None


def _sniff_csv_header(path: str, options: CsvOptions) -> tuple[list[str], str]:
    try:
        with _open_text(path, options.encoding) as fh:
            head = fh.read(64 * 1024)
            if not head.strip():
                raise DataError(f"{path}: the file is empty; it needs a header row and data rows")
            first_line = head.splitlines()[0]
            delimiter = options.delimiter
            if delimiter is None:
                delimiter = "\t" if ".tsv" in path.lower() else ","
                if delimiter == "," and first_line.count(",") == 0:
                    # the most frequent of the other usual separators in the header
                    counts = {d: first_line.count(d) for d in (";", "\t", "|")}
                    best = max(counts, key=counts.get)
                    if counts[best] > 0:
                        delimiter = best
            fh.seek(0)
            quote = options.quote_char
            header = next(csv.reader(fh, delimiter=delimiter, quotechar=quote or '"',
                                     quoting=csv.QUOTE_MINIMAL if quote else csv.QUOTE_NONE))
    except UnicodeDecodeError:
        raise DataError(f"{path}: not valid {options.encoding} text; pass --encoding with the "
                        f"file's encoding (e.g. latin-1) or convert it to UTF-8") from None
    except (OSError, EOFError, csv.Error) as exc:
        raise DataError(f"{path}: cannot read the header: {exc}") from None
    header = [h.strip() for h in header]
    broken = next((h for h in header if "\n" in h or "\r" in h), None)
    if broken is not None:
        raise DataError(f"{path}: column name {broken!r} contains a line break; rename it")
    _check_names(path, header, "the header has an empty column name (column {i}); name every "
                               "column")
    return header, delimiter


def _check_names(path: str, names: list[str], empty_message: str) -> None:
    if "" in names:
        raise DataError(f"{path}: " + empty_message.format(i=names.index("") + 1))
    seen = set()
    for h in names:
        if h in seen:
            raise DataError(f"{path}: column name '{h}' appears twice; rename one of them")
        seen.add(h)


def open_source(path: str | os.PathLike, csv_options: CsvOptions | None = None,
                chunk_bytes: int = DEFAULT_CHUNK_BYTES,
                row_groups: tuple[int, ...] | None = None) -> TableSource:
    """Open a CSV or Parquet file and read its column names (not its rows).

    ``chunk_bytes`` bounds the size of each chunk read (memory use is about a
    few chunks plus the statistics, whatever the number of rows); ``row_groups``
    restricts a Parquet file to those row groups (a piece of a table).

    Raises
    ------
    DataError
        Missing, empty or unreadable file, or an unknown extension.
    """
    csv_options = csv_options or CsvOptions()
    csv_options.validate()
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
        _check_names(path, names, "a column has an empty name; name every column")
        n_rows = pf.metadata.num_rows if row_groups is None else sum(
            pf.metadata.row_group(i).num_rows for i in row_groups)
        return TableSource(path, "parquet", names, {f.name: f.type for f in schema},
                           n_rows, size=os.path.getsize(path), chunk_bytes=chunk_bytes,
                           row_groups=None if row_groups is None else tuple(row_groups))
    if lower.endswith(_CSV_SUFFIXES):
        if os.path.getsize(path) == 0:
            raise DataError(f"{path}: the file is empty; it needs a header row and data rows")
        if not lower.endswith(".gz"):
            with open(path, "rb") as fh:
                if fh.read(2) == b"\x1f\x8b":
                    raise DataError(f"{path}: is gzip-compressed; name it {path}.gz (or "
                                    f"decompress it)")
        header, delimiter = _sniff_csv_header(path, csv_options)
        opts = CsvOptions(delimiter, csv_options.quote_char, csv_options.encoding,
                          tuple(csv_options.na_values), csv_options.default_na)
        return TableSource(path, "csv", header, None, None, opts, size=os.path.getsize(path),
                           chunk_bytes=chunk_bytes)
    raise unknown_file_type(path)


def is_table_file(path: str | os.PathLike) -> bool:
    """True for a path whose suffix names a CSV or Parquet table."""
    return os.fspath(path).lower().endswith(_PARQUET_SUFFIXES + _CSV_SUFFIXES)


def unknown_file_type(path: str | os.PathLike) -> DataError:
    """The error for a file that is neither a table nor a matrix, by its suffix."""
    hint = (" (a .npy array is not read: save a matrix with scipy.sparse.save_npz)"
            if os.fspath(path).lower().endswith(".npy") else "")
    return DataError(f"{os.fspath(path)}: unknown file type{hint}; use .csv, .csv.gz, .tsv or "
                     f".parquet (or a .svm/.libsvm/.npz matrix)")


def memory_source(data, name: str = "input", y=None,
                  chunk_bytes: int = DEFAULT_CHUNK_BYTES) -> TableSource:
    """An in-memory table as a source: pandas or polars DataFrame, Arrow table or
    record batch, dict of columns, or a 2-D numpy array (columns x0, x1, ...).

    ``y`` (optional, with a numpy array) is added as column ``y``.
    """
    table = _to_arrow_table(data, name)
    if y is not None:
        y = np.asarray(y, dtype=np.float64).ravel()
        if len(y) != table.num_rows:
            raise DataError(f"{name}: y has {len(y)} values for {table.num_rows} rows")
        if "y" in table.column_names:
            raise DataError(f"{name}: a column is already named 'y'; pass the target by name")
        table = table.append_column("y", pa.array(y))
    names = [str(n).strip() for n in table.column_names]
    _check_names(name, names, "a column has an empty name; name every column")
    table = table.rename_columns(names)
    return TableSource(name, "memory", names, {f.name: f.type for f in table.schema},
                       table.num_rows, table=table, chunk_bytes=chunk_bytes)


def _to_arrow_table(data, name: str) -> pa.Table:
    if isinstance(data, pa.Table):
        return data
    if isinstance(data, pa.RecordBatch):
        return pa.Table.from_batches([data])
    module = type(data).__module__.split(".")[0]
    if module == "polars":
        if hasattr(data, "collect") and not hasattr(data, "to_arrow"):    # a LazyFrame
            data = data.collect()
        return data.to_arrow()
    if module == "pandas" and hasattr(data, "columns"):
        frame = data.copy(deep=False)
        frame.columns = [str(c).strip() for c in frame.columns]
        dup = frame.columns[frame.columns.duplicated()]
        if len(dup):
            raise DataError(f"{name}: column name '{dup[0]}' appears twice; rename one of them")
        try:
            return pa.Table.from_pandas(frame, preserve_index=False)
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
            raise _explain_frame(frame, name) from None
    if isinstance(data, dict):
        try:
            table = pa.table({str(k): v for k, v in data.items()})
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, OverflowError) \
                as exc:
            raise _explain_columns(data, name) or DataError(
                f"{name}: cannot read the columns: {str(exc).splitlines()[0]}") from None
        for field_ in table.schema:
            if pa.types.is_nested(field_.type):
                raise _explain_columns(data, name, field_.name) or DataError(
                    f"{name}: column '{field_.name}' holds nested values; give one number or "
                    f"text per cell", kind="nested_value", column=field_.name)
        return table
    if isinstance(data, np.ndarray) or hasattr(data, "__array__"):
        arr = np.asarray(data)
        if arr.ndim != 2:
            raise DataError(f"{name}: expected a 2-D array of rows x columns; got shape "
                            f"{arr.shape}")
        return pa.table({f"x{j}": arr[:, j] for j in range(arr.shape[1])})
    raise DataError(f"{name}: expected a file path, DataFrame (pandas or polars), Arrow table, "
                    f"dict of columns or 2-D array; got {type(data).__name__}")


def _explain_frame(frame, name: str) -> DataError:
    """Name the DataFrame column Arrow cannot convert, and its first odd value."""
    for col in frame.columns:
        try:
            pa.array(frame[col], from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as exc:
            values = frame[col].tolist()
            kinds = {type(v) for v in values if v is not None}
            if str in kinds and len(kinds) > 1:
                i = next(i for i, v in enumerate(values) if isinstance(v, str))
                return DataError(f"{name}: column '{col}' mixes numbers and text (row {i + 1}: "
                                 f"{values[i]!r}); convert it to one type")
            return DataError(f"{name}: column '{col}' cannot be used: "
                             f"{str(exc).splitlines()[0]}")
    return DataError(f"{name}: cannot read the DataFrame")


def value_kind(value) -> str:
    """The JSON-like kind of one cell: "null", "boolean", "number", "text" or "nested"."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float, np.number)):
        return "number"
    if isinstance(value, str):
        return "text"
    return "nested"


def _explain_columns(data: dict, name: str, only: str | None = None) -> DataError | None:
    """Name the first cell of a dict of Python lists that breaks its column's type: a
    nested value, an integer beyond 64 bits, or a kind other than the column's first
    non-null value."""
    for col, values in data.items():
        if (only is not None and str(col) != only) or not isinstance(values, (list, tuple)):
            continue
        first = None
        for i, v in enumerate(values):
            kind = value_kind(v)
            if kind == "nested":
                return DataError(f"{name}: column '{col}' row {i + 1}: value {v!r} is not a "
                                 f"single number or text; give one value per cell",
                                 kind="nested_value", column=str(col), row=i + 1, value=v)
            if kind == "null":
                continue
            if type(v) is int and not -2 ** 63 <= v < 2 ** 64:
                digits = str(abs(v))
                shown = digits if len(digits) <= 24 else f"{digits[:20]}...({len(digits)} digits)"
                shown = ("-" if v < 0 else "") + shown
                return DataError(f"{name}: column '{col}' row {i + 1}: integer {shown} does not "
                                 f"fit in 64 bits; write it with an exponent (e.g. 1.5e+30) or "
                                 f"fix the value", kind="integer_too_large", column=str(col),
                                 row=i + 1, value=shown)
            if first is None:
                first = kind
            elif kind != first:
                return DataError(f"{name}: column '{col}' mixes {first} and {kind} values "
                                 f"(row {i + 1}: {v!r}); give one type per column",
                                 kind="mixed_types", column=str(col), row=i + 1, value=v)
    return None

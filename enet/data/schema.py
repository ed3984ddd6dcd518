"""Schema inference: column roles, column kinds and the learned preprocessing.

Training reads the table twice. The first, streamed pass (:func:`scan_inputs`)
learns what preprocessing needs: missing counts, fill values (weighted mean,
median, exact up to a million values per column and from a t-digest beyond, or a
constant), categorical level
frequencies, and the profile stored in the model. The second pass computes the
sufficient statistics of the encoded features.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from enet.data.distribution import MedianSketch
from enet.data.manifest import MISSING, OTHER, InputColumn
from enet.data.readers import TableSource, missing_marker_hint
from enet.exceptions import DataError, UsageError

__all__ = ["ColumnRoles", "SchemaOptions", "ScanResult", "resolve_columns", "decide_kinds",
           "scan_inputs", "scan_source", "scan_batches", "InputScan", "as_text",
           "MedianSketch", "MissingMarkers",
           "level_digests", "level_digests_unsorted", "check_finite", "check_weights",
           "MAX_DISTINCT_LEVELS"]

MAX_DISTINCT_LEVELS = 100_000
MAX_POOLED_DIGESTS = 10_000
_NUMBER_RE = r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$"
TRAINING_HINT = ("fix or remove the value, or pass --categorical {name} to treat the column as "
                 "categories")
Progress = Callable[[int, "float | None"], None]


@dataclass(frozen=True)
class ColumnRoles:
    """What each column of a training table is for."""

    features: list[str]
    target: str
    weight: str | None = None
    group: str | None = None
    excluded: list[str] = field(default_factory=list)
    categorical: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class SchemaOptions:
    """Preprocessing choices (stored with the model's parameters).

    Attributes
    ----------
    impute : {"mean", "median", "constant"}
        Fill value of missing numeric entries: the weighted mean, the median (exact
        while a column has at most ~1M values, see :class:`MedianSketch`; from a
        deterministic t-digest, rank error well under 1%, beyond) or ``impute_value``.
    impute_value : float
    missing_indicator : bool
        Add a 0/1 feature for each numeric column that had missing values.
    min_frequency : int
        Categorical levels seen fewer times are pooled into "<other>".
    max_levels : int
        At most this many levels per column get their own indicator (the most
        frequent); the rest are pooled too.
    """

    impute: str = "mean"
    impute_value: float = 0.0
    missing_indicator: bool = True
    min_frequency: int = 5
    max_levels: int = 100
    na_values: tuple[str, ...] = ()

    def validate(self) -> None:
        """Raise UsageError for values outside their domain."""
        if self.impute not in ("mean", "median", "constant"):
            raise UsageError(f"--impute must be mean, median or constant; got {self.impute!r}")
        if not np.isfinite(self.impute_value):
            raise UsageError(f"--impute-value must be a finite number; got {self.impute_value}")
        if not 1 <= self.min_frequency < 2**62:
            raise UsageError(f"--min-frequency must be at least 1; got {self.min_frequency}")
        if not 1 <= self.max_levels <= MAX_DISTINCT_LEVELS:
            raise UsageError(f"--max-levels must be between 1 and {MAX_DISTINCT_LEVELS}; got "
                             f"{self.max_levels}")


def _strip(name: str | None) -> str | None:
    return name.strip() if name is not None else None


def resolve_columns(columns: list[str], target: str, exclude: list[str] = (),
                    weight: str | None = None, group: str | None = None,
                    categorical: list[str] = (), source: str = "input") -> ColumnRoles:
    """Assign roles to the columns of a training table.

    Every column that is not the target, weight, group or excluded is a feature.

    Raises
    ------
    DataError
        A named column is absent, named twice in different roles, or no feature is left.
    """
    # header names are stripped when read, so the names given for them are too
    target, weight, group = _strip(target), _strip(weight), _strip(group)
    exclude = [c.strip() for c in exclude]
    categorical = list(dict.fromkeys(c.strip() for c in categorical))
    present = set(columns)
    listing = f"{', '.join(columns[:20])}{' ...' if len(columns) > 20 else ''}"
    for role, name in (("target", target), ("weight", weight), ("group", group)):
        if name is not None and name not in present:
            hint = (" (one column only: is the delimiter right? pass --delimiter)"
                    if len(columns) == 1 else "")
            raise DataError(f"{source}: {role} column '{name}' not found; columns are: "
                            f"{listing}{hint}")
    for option, names in (("--exclude", exclude), ("--categorical", categorical)):
        unknown = [c for c in names if c not in present]
        if unknown:
            raise DataError(f"{source}: {option} column(s) not found: {', '.join(unknown)}; "
                            f"columns are: {listing}")
    for role, name in (("target", target), ("weight", weight), ("group", group)):
        if name is not None and name in exclude:
            raise DataError(f"{source}: '{name}' is the {role} column and cannot also be "
                            f"excluded; drop it from --exclude")
        if name is not None and name in categorical:
            raise DataError(f"{source}: '{name}' is the {role} column, not a feature; drop it "
                            f"from --categorical")
    both = [c for c in categorical if c in exclude]
    if both:
        raise DataError(f"{source}: '{both[0]}' is both excluded and categorical; choose one")
    roles = {target, weight, group} - {None}
    if len(roles) < len([r for r in (target, weight, group) if r is not None]):
        raise DataError(f"{source}: target, weight and group must be different columns")
    features = [c for c in columns if c not in roles and c not in set(exclude)]
    if not features:
        raise DataError(f"{source}: no feature columns left after target/weight/group/exclude")
    return ColumnRoles(features, target, weight, group, list(exclude), categorical)


def decide_kinds(source: TableSource, roles: ColumnRoles) -> dict[str, str]:
    """Kind of every feature column: declared categorical, else from its Arrow type.

    From CSV the type is the one Arrow infers from the first chunk; a later value
    that does not fit is reported, with its row, when the column is read.

    Raises
    ------
    DataError
        A column of a type that cannot be a feature (dates, binary, nested).
    """
    declared = set(roles.categorical)
    undeclared = [c for c in roles.features if c not in declared]
    if source.arrow_types is not None:
        types = source.arrow_types
    else:
        types = source.infer_csv_types(undeclared) if undeclared else {}
    kinds = {}
    for name in roles.features:
        if name in declared:
            kinds[name] = "categorical"
            continue
        t = types[name]
        if pa.types.is_dictionary(t):
            t = t.value_type
        if pa.types.is_boolean(t):
            kinds[name] = "boolean"
        elif (pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t)
              or pa.types.is_null(t)):
            kinds[name] = "numeric"
        elif pa.types.is_string(t) or pa.types.is_large_string(t):
            kinds[name] = "categorical"
        else:
            raise DataError(f"{source.path}: column '{name}' has type {t}, which cannot be a "
                            f"feature; pass --exclude {name} (or convert it to a number)")
    return kinds


def as_text(arr: pa.Array, codes: bool = False) -> pa.Array:
    """A categorical column as an Arrow string array (levels compare as text).

    With ``codes`` (columns declared categorical), numbers are written canonically,
    so "3", "3.0" and the integer 3 are one level.
    """
    if pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_decode()
    if not pa.types.is_string(arr.type):
        arr = arr.cast(pa.string())
    return canonical_codes(arr) if codes else arr


def canonical_codes(arr: pa.Array) -> pa.Array:
    """Numbers in a text array in one spelling: integral values as integers."""
    trimmed = pc.utf8_trim_whitespace(arr)
    mask = pc.fill_null(pc.match_substring_regex(trimmed, _NUMBER_RE), False)
    if not pc.any(mask).as_py():
        return arr
    f = pc.if_else(mask, trimmed, pa.scalar("0")).cast(pa.float64())
    integral = pc.and_(pc.equal(pc.floor(f), f), pc.less(pc.abs(f), 2.0 ** 53))
    as_int = pc.if_else(integral, f, 0.0).cast(pa.int64()).cast(pa.string())
    canon = pc.if_else(integral, as_int, f.cast(pa.string()))
    return pc.if_else(mask, canon, arr)


def level_digests_unsorted(levels) -> list[str]:
    """Short digests of level texts, in input order."""
    return [hashlib.blake2b(str(v).encode(), digest_size=8).hexdigest() for v in levels]


def level_digests(levels) -> list[str]:
    """Sorted digests: rare levels are recognised when scoring without being stored."""
    return sorted(level_digests_unsorted(levels))


class MissingMarkers:
    """Declared spellings of a missing value: equal text, and equal numbers in numeric
    columns (so "-999.0" matches "-999"), mean missing."""

    def __init__(self, na_values=()):
        self.text_values = pa.array(list(na_values), pa.string()) if na_values else None
        numbers = []
        for v in na_values:
            try:
                numbers.append(float(v))
            except ValueError:
                pass
        self.numbers = np.array([x for x in numbers if np.isfinite(x)], dtype=np.float64)

    def numeric(self, v: np.ndarray) -> np.ndarray:
        """``v`` with the marker numbers as NaN."""
        return np.where(np.isin(v, self.numbers), np.nan, v) if self.numbers.size else v

    def text(self, arr: pa.Array) -> pa.Array:
        """``arr`` with the marker texts as nulls."""
        if self.text_values is None:
            return arr
        return pc.if_else(pc.is_in(arr, value_set=self.text_values),
                          pa.scalar(None, pa.string()), arr)


# values kept for exact medians, over all the columns imputed with their median
EXACT_MEDIAN_BUDGET = 1 << 24


class _NumericScan:
    """Missing count, weighted mean/variance (Chan's merge), range, optional median."""

    def __init__(self, sketch: bool, cap: int = 1 << 20):
        self.n = 0
        self.missing = 0
        self.w = 0.0
        self.mean = 0.0
        self.m2 = 0.0
        self.lo = np.inf
        self.hi = -np.inf
        self.sketch = MedianSketch(cap) if sketch else None

    def update(self, v: np.ndarray, w: np.ndarray) -> None:
        present = ~np.isnan(v)
        self.missing += int(v.size - present.sum())
        v, w = v[present], w[present]
        if v.size == 0:
            return
        self.n += v.size
        self.lo = min(self.lo, float(v.min()))
        self.hi = max(self.hi, float(v.max()))
        if self.sketch is not None:
            self.sketch.update(v)
        wc = float(w.sum())
        if wc <= 0:
            return
        with np.errstate(over="ignore", invalid="ignore"):   # huge values: caught later
            mc = float(w @ v) / wc
            m2c = float(w @ (v - mc) ** 2)
        total = self.w + wc
        delta = mc - self.mean
        self.mean += delta * wc / total
        self.m2 += m2c + delta * delta * self.w * wc / total
        self.w = total

    def median(self) -> float:
        return self.sketch.median()

    def __add__(self, other: "_NumericScan") -> "_NumericScan":
        out = _NumericScan(False)
        out.n, out.missing = self.n + other.n, self.missing + other.missing
        out.lo, out.hi = min(self.lo, other.lo), max(self.hi, other.hi)
        out.w = self.w + other.w
        if out.w > 0:
            delta = other.mean - self.mean
            out.mean = self.mean + delta * other.w / out.w
            out.m2 = self.m2 + other.m2 + delta * delta * self.w * other.w / out.w
        if self.sketch is not None:
            out.sketch = self.sketch + other.sketch
        return out


class _CategoricalScan:
    def __init__(self):
        self.counts: Counter = Counter()
        self.missing = 0
        self.checked = False

    def update(self, arr: pa.Array) -> None:
        self.missing += arr.null_count
        if arr.null_count < len(arr):
            vc = pc.value_counts(arr.drop_null())
            self.counts.update(dict(zip(vc.field("values").to_pylist(),
                                        vc.field("counts").to_pylist())))

    def __add__(self, other: "_CategoricalScan") -> "_CategoricalScan":
        out = _CategoricalScan()
        out.counts = self.counts + other.counts
        out.missing = self.missing + other.missing
        out.checked = self.checked or other.checked
        return out


@dataclass
class ScanResult:
    """What the first pass learned."""

    inputs: list[InputColumn]
    profile: dict
    rows_read: int
    rows_dropped: int
    group_counts: dict[str, int] | None


def _check_looks_numeric(arr: pa.Array, name: str, offset: int, source: str) -> None:
    """An inferred-text column whose values are mostly numbers is a typo, not categories."""
    values = arr.drop_null()
    if len(values) == 0:
        return
    is_number = pc.match_substring_regex(values, _NUMBER_RE)
    share = pc.mean(is_number.cast(pa.float64())).as_py()
    if share == 1.0:
        raise DataError(f"{source}: column '{name}' holds numbers stored as text; pass "
                        f"--categorical {name} if they are codes (e.g. zip codes), or store the "
                        f"column as numbers")
    if share >= 0.5:
        bad = pc.invert(pc.fill_null(pc.match_substring_regex(arr, _NUMBER_RE), True))
        i = int(np.flatnonzero(bad.to_numpy(zero_copy_only=False))[0])
        raise DataError(f"{source}: column '{name}' row {offset + i + 1}: value "
                        f"{arr[i].as_py()!r} is not a number, but most values are; fix the "
                        f"value, or pass --categorical {name} to treat the column as categories"
                        f"{missing_marker_hint(arr[i].as_py())}")


def check_finite(values: np.ndarray, keep: np.ndarray, name: str, what: str, offset: int,
            source: str) -> None:
    bad = np.isinf(values) & keep
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataError(f"{source}: {what} '{name}' row {offset + i + 1} is {values[i]}; "
                        f"infinite values are not allowed: fix or drop the row")


def _scan_reads(roles: ColumnRoles, kinds: dict[str, str]) -> tuple[list, list, list]:
    """(numeric, text, booleans) columns the first pass reads."""
    numeric = [c for c in roles.features if kinds[c] == "numeric"]
    booleans = [c for c in roles.features if kinds[c] == "boolean"]
    text = [c for c in roles.features if kinds[c] == "categorical"]
    reads = numeric + [roles.target] + ([roles.weight] if roles.weight else [])
    return reads, text + ([roles.group] if roles.group else []), booleans


class InputScan:
    """The first pass's state: updated batch by batch, merged with ``+``.

    One chunk, one partition or a whole table: the same :meth:`update`, and two
    scans of disjoint rows merge into the scan of their union, so a local stream
    and a cluster learn the same preprocessing.
    """

    def __init__(self, roles: ColumnRoles, kinds: dict[str, str], options: SchemaOptions):
        self.roles, self.kinds, self.options = roles, kinds, options
        numeric_like = [c for c in roles.features if kinds[c] in ("numeric", "boolean")]
        cap = min(1 << 20, max(1 << 14, EXACT_MEDIAN_BUDGET // max(len(numeric_like), 1)))
        self.num_scans = {c: _NumericScan(options.impute == "median", cap)
                          for c in numeric_like}
        self.cat_scans = {c: _CategoricalScan() for c in roles.features
                          if kinds[c] == "categorical"}
        self.groups: Counter | None = Counter() if roles.group else None
        self.rows = 0
        self.dropped = 0

    def update(self, batch: pa.RecordBatch, source: str, offset: int | None = None) -> None:
        """Add a batch of the columns :func:`scan_batches` reads; ``offset`` is the row
        number of its first row in ``source`` (for messages; default: rows so far)."""
        roles, m = self.roles, batch.num_rows
        if m == 0:
            return
        offset = self.rows if offset is None else offset
        markers = MissingMarkers(self.options.na_values)
        declared = set(roles.categorical)
        col = {n: batch.column(i) for i, n in enumerate(batch.schema.names)}
        y = col[roles.target].to_numpy(zero_copy_only=False)
        keep = ~np.isnan(y)
        check_finite(y, keep, roles.target, "target", offset, source)
        self.dropped += int(m - keep.sum())
        w = np.ones(m)
        if roles.weight:
            w = col[roles.weight].to_numpy(zero_copy_only=False)
            check_weights(w, keep, roles.weight, offset, source)
        if roles.group:
            self.groups.update(_group_labels(col[roles.group], keep, roles.group, offset,
                                             source))
        all_kept = bool(keep.all())
        mask = None if all_kept else pa.array(keep)
        for name, scan in self.num_scans.items():
            v = markers.numeric(col[name].to_numpy(zero_copy_only=False))
            check_finite(v, keep, name, "column", offset, source)
            scan.update(v if all_kept else v[keep], w if all_kept else w[keep])
        for name, scan in self.cat_scans.items():
            arr = markers.text(as_text(col[name], codes=name in declared))
            if not scan.checked and name not in declared and arr.null_count < m:
                _check_looks_numeric(arr, name, offset, source)
                scan.checked = True
            scan.update(arr if mask is None else arr.filter(mask))
            _check_distinct(scan, name, source)
        self.rows += m

    def __add__(self, other: "InputScan") -> "InputScan":
        out = InputScan(self.roles, self.kinds, self.options)
        out.rows, out.dropped = self.rows + other.rows, self.dropped + other.dropped
        if self.groups is not None:
            out.groups = self.groups + other.groups
        out.num_scans = {c: s + other.num_scans[c] for c, s in self.num_scans.items()}
        out.cat_scans = {c: s + other.cat_scans[c] for c, s in self.cat_scans.items()}
        for name, scan in out.cat_scans.items():
            _check_distinct(scan, name, "input")
        return out

    def finish(self, source: str) -> ScanResult:
        """The learned inputs and profile.

        Raises
        ------
        DataError
            No rows, no target anywhere, a column without values, identifier-like text.
        """
        kept_rows = self.rows - self.dropped
        if self.rows == 0:
            raise DataError(f"{source}: no data rows (only a header?)")
        if kept_rows == 0:
            raise DataError(f"{source}: the target '{self.roles.target}' is missing in every "
                            f"row")
        inputs, profile = _build_inputs(self.roles, self.kinds, self.num_scans, self.cat_scans,
                                        self.options, kept_rows, source)
        return ScanResult(inputs, profile, self.rows, self.dropped,
                          dict(self.groups) if self.groups is not None else None)


def _check_distinct(scan: "_CategoricalScan", name: str, source: str) -> None:
    if len(scan.counts) > MAX_DISTINCT_LEVELS:
        raise DataError(f"{source}: column '{name}' has more than {MAX_DISTINCT_LEVELS:,} "
                        f"distinct values; it looks like an identifier: pass --exclude {name}")


def scan_batches(source: TableSource, roles: ColumnRoles, kinds: dict[str, str]):
    """The batches of ``source`` that :meth:`InputScan.update` takes."""
    reads, text, booleans = _scan_reads(roles, kinds)
    hint = {c: TRAINING_HINT.format(name=c) for c in roles.features
            if kinds[c] in ("numeric", "boolean")}
    return source.batches(reads, text, booleans, hint=hint)


def scan_source(source: TableSource, roles: ColumnRoles, kinds: dict[str, str],
                options: SchemaOptions, progress: Progress | None = None) -> InputScan:
    """Stream one source into an :class:`InputScan` (not finished: it may be merged)."""
    scan = InputScan(roles, kinds, options)
    stream = scan_batches(source, roles, kinds)
    for batch in stream:
        scan.update(batch, source.path)
        if progress:
            progress(batch.num_rows, stream.fraction)
    return scan


def scan_inputs(source: TableSource, roles: ColumnRoles, kinds: dict[str, str],
                options: SchemaOptions, progress: Progress | None = None) -> ScanResult:
    """First pass: learn fill values, levels and the input profile (streamed).

    Rows whose target is missing are left out of everything and counted.

    Raises
    ------
    DataError
        Non-numeric or infinite values, negative or missing weights, missing group
        labels, identifier-like categorical columns, columns with no values.
    """
    return scan_source(source, roles, kinds, options, progress).finish(source.path)


def check_weights(w: np.ndarray, keep: np.ndarray, name: str, offset: int, source: str) -> None:
    bad = keep & (np.isnan(w) | np.isinf(w) | (w < 0) | (w > 1e100))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        what = "is missing" if np.isnan(w[i]) else f"is {w[i]}"
        raise DataError(f"{source}: weight '{name}' row {offset + i + 1} {what}; weights must "
                        f"be finite numbers between 0 and 1e100 (rescale them)")


def _group_labels(arr: pa.Array, keep: np.ndarray, name: str, offset: int,
                  source: str) -> Counter:
    labels = as_text(arr).to_numpy(zero_copy_only=False)

    def missing(v) -> bool:
        return v is None or not v.strip() or v.lower() == "nan"

    bad = [i for i, v in enumerate(labels) if keep[i] and missing(v)]
    if bad:
        raise DataError(f"{source}: group column '{name}' row {offset + bad[0] + 1} is missing; "
                        f"every row needs a group")
    uniq, cnt = np.unique(labels[keep].astype(str), return_counts=True)
    return Counter(dict(zip(uniq.tolist(), cnt.tolist())))


def _build_inputs(roles, kinds, num_scans, cat_scans, options, rows, source):
    inputs, profile = [], {}
    for name in roles.features:
        if kinds[name] == "categorical":
            scan = cat_scans[name]
            if not scan.counts:
                raise DataError(f"{source}: column '{name}' has no values in the training rows; "
                                f"pass --exclude {name}")
            ranked = sorted(scan.counts.items(), key=lambda kv: (-kv[1], kv[0]))
            kept = [lv for lv, c in ranked if c >= options.min_frequency][:options.max_levels]
            if not kept:
                raise DataError(
                    f"{source}: column '{name}' has {len(ranked):,} distinct values in "
                    f"{rows:,} rows and none occurs {options.min_frequency} times: it looks like "
                    f"an identifier or misread numbers; pass --exclude {name} (or check "
                    f"--delimiter: decimal commas are not numbers)")
            reserved = [lv for lv in kept if lv in (OTHER, MISSING)]
            if reserved:
                raise DataError(f"{source}: column '{name}' has the level '{reserved[0]}', a name "
                                f"enet reserves for pooled/missing levels; rename the level")
            rare = [lv for lv, _ in ranked[len(kept):]]
            pooled = sum(c for lv, c in ranked[len(kept):])
            # rare levels are remembered by digest only, and only up to a bound
            digests = level_digests(rare) if len(rare) <= MAX_POOLED_DIGESTS else ()
            inputs.append(InputColumn(name, "categorical", levels=tuple(kept), other=pooled > 0,
                                      missing_level=scan.missing > 0, pooled=tuple(digests),
                                      codes=name in roles.categorical))
            profile[name] = {"type": "categorical", "missing_rate": scan.missing / rows,
                             "distinct": len(scan.counts),
                             "levels": {lv: c / rows for lv, c in ranked[:len(kept)]},
                             "other_rate": pooled / rows}
            continue
        scan = num_scans[name]
        if scan.n == 0:
            raise DataError(f"{source}: column '{name}' has no values in the training rows; "
                            f"pass --exclude {name}")
        if options.impute == "median":
            fill = scan.median()
        elif options.impute == "constant":
            fill = float(options.impute_value)
        else:
            fill = scan.mean if scan.w > 0 else 0.5 * (scan.lo + scan.hi)
        indicator = options.missing_indicator and scan.missing > 0
        inputs.append(InputColumn(name, kinds[name], impute=options.impute, fill=float(fill),
                                  indicator=indicator))
        profile[name] = {"type": kinds[name], "missing_rate": scan.missing / rows,
                         "mean": scan.mean, "sd": float(np.sqrt(scan.m2 / scan.w))
                         if scan.w > 0 else 0.0, "min": scan.lo, "max": scan.hi,
                         "fill": float(fill)}
    _check_unique_features(inputs, source)
    return inputs, profile


def _check_unique_features(inputs: list[InputColumn], source: str) -> None:
    seen: dict[str, str] = {}
    for col in inputs:
        for f in col.feature_names():
            if f in seen:
                raise DataError(f"{source}: feature name '{f}' arises from both column "
                                f"'{seen[f]}' and column '{col.name}'; rename one of them")
            seen[f] = col.name

"""The training job: a table in, a cross-validated Model out.

Two streamed passes: the first learns the schema's preprocessing (fill values,
categorical levels, group sizes, the input profile); the second computes every
fold's sufficient statistics of the encoded features. The solver and the whole
CV grid then run on statistics only.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import hashlib
import os
import platform
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace

import numpy as np
import scipy.sparse as sp

from enet.core.cv import CVResult, assign_group_folds, cross_validated_fit, kfold_ids, sum_stats
from enet.core.path import (DEFAULT_MAX_ITER, DEFAULT_TOL, PathResult, first_tiny_feature,
                            path_from_stats)
from enet.core.stats import FoldAccumulator, SufficientStats
from enet.data.encode import Encoder, MissingValueFound
from enet.data.manifest import FeatureManifest, InputColumn
from enet.data.readers import (DEFAULT_CHUNK_BYTES, CsvOptions, TableSource, memory_source,
                               open_source)
from enet.data.schema import ColumnRoles, SchemaOptions, decide_kinds, resolve_columns, scan_inputs
from enet.exceptions import DataError, UsageError
from enet.model import Model
from enet.monitor.profile import TrainingProfiler
from enet.passes import FoldRule, Ranges, RowCounts, StatsPartial, training_blocks
from enet.pieces import TABLE_PIECE_SUFFIXES, source_digest
from enet.stability_selection import block_ids, blocks_per_fold, selection_frequencies

__all__ = ["TrainConfig", "check_input_options", "train_file", "train_table", "train_matrix",
           "train_model",
           "build_model", "TrainSummary", "model_from_statistics", "row_summary", "fold_rule",
           "group_folds_of", "package_versions"]

SOLVERS = ("auto", "covariance", "naive")
# a wide table is held in memory for the naive solver only below this size
MATERIALIZE_BUDGET = 4 << 30
# tables of unknown length with more input columns than this are scanned first, to
# choose the solver from the exact row count
WIDE_COLUMNS = 1000

# progress(stage, rows, fraction of the source read or None)
Progress = Callable[[str, int, "float | None"], None]


@dataclass
class TrainConfig:
    """Everything a training run is parameterised by (stored in the model)."""

    target: str
    exclude: list[str] = field(default_factory=list)
    weight: str | None = None
    group: str | None = None
    l1_ratios: list[float] = field(default_factory=lambda: [0.1, 0.5, 0.9, 1.0])
    n_alphas: int = 100
    eps: float | None = None
    folds: int = 5
    seed: int = 0
    selection: str = "min"
    standardize: bool = True
    fit_intercept: bool = True
    tol: float = DEFAULT_TOL
    max_iter: int = DEFAULT_MAX_ITER
    categorical: list[str] = field(default_factory=list)
    impute: str = "mean"
    impute_value: float = 0.0
    missing_indicator: bool = True
    min_frequency: int = 5
    max_levels: int = 100
    solver: str = "auto"
    na_values: list[str] = field(default_factory=list)
    default_na: bool = True
    stability: int = 0

    @property
    def schema_options(self) -> SchemaOptions:
        return SchemaOptions(self.impute, self.impute_value, self.missing_indicator,
                             self.min_frequency, self.max_levels, tuple(self.na_values))

    def validate(self) -> None:
        """Raise UsageError for values outside their domain."""
        if isinstance(self.l1_ratios, (int, float)) and not isinstance(self.l1_ratios, bool):
            self.l1_ratios = [float(self.l1_ratios)]
        if isinstance(self.l1_ratios, str) or not all(
                isinstance(r, (int, float)) and not isinstance(r, bool) for r in self.l1_ratios):
            raise UsageError(f"l1_ratios must be numbers in [0, 1]; got {self.l1_ratios!r}")
        self.na_values = [v if isinstance(v, str) else repr(v) if isinstance(v, float) else
                          str(v) for v in self.na_values]
        if self.impute != "constant" and self.impute_value != 0.0:
            raise UsageError("--impute-value needs --impute constant")
        self.schema_options.validate()
        if self.solver not in SOLVERS:
            raise UsageError(f"--solver must be one of {', '.join(SOLVERS)}; got {self.solver!r}")
        if not self.l1_ratios:
            raise UsageError("--l1-ratio needs at least one value")
        for r in self.l1_ratios:
            if not (0.0 <= r <= 1.0) or np.isnan(r):
                raise UsageError(f"--l1-ratio values must be in [0, 1]; got {r}")
        if not 2 <= self.folds <= 1000:
            raise UsageError(f"--folds must be between 2 and 1000; got {self.folds}")
        if not 1 <= self.n_alphas <= 100_000:
            raise UsageError(f"--n-alphas must be between 1 and 100000; got {self.n_alphas}")
        if self.selection not in ("min", "1se"):
            raise UsageError(f"--selection must be 'min' or '1se'; got {self.selection!r}")
        if self.eps is not None and not (0.0 < self.eps < 1.0):
            raise UsageError(f"--eps must be in (0, 1); got {self.eps}")
        if not 0 <= self.seed < 2**63:
            raise UsageError(f"--seed must be in [0, 2^63); got {self.seed}")
        if not (np.isfinite(self.tol) and self.tol > 0):
            raise UsageError(f"--tol must be a positive number; got {self.tol}")
        if not 1 <= self.max_iter < 2**62:
            raise UsageError(f"--max-iter must be between 1 and 2^62; got {self.max_iter}")
        if isinstance(self.stability, bool) or not 0 <= self.stability <= 100_000:
            raise UsageError(f"--stability must be a number of fits between 0 and 100000; got "
                             f"{self.stability}")
        if self.stability and self.solver == "naive":
            raise UsageError("--stability works from the statistics of row blocks, which the "
                             "naive solver does not use; drop --stability or pass --solver "
                             "covariance")


@dataclass
class TrainSummary:
    """Row accounting of a training run (shown by the CLI, stored in the profile)."""

    rows_read: int
    rows_dropped_missing_target: int

    @property
    def rows_used(self) -> int:
        return self.rows_read - self.rows_dropped_missing_target


def _file_sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def group_folds_of(counts: dict[str, int], n_folds: int, seed: int, source: str
                 ) -> dict[str, int]:
    labels = sorted(counts)
    try:
        folds = assign_group_folds(np.array([counts[g] for g in labels], dtype=float), n_folds,
                                   seed)
    except ValueError as exc:
        raise DataError(f"{source}: {exc}; use fewer --folds") from None
    return dict(zip(labels, folds.tolist()))


def row_summary(counts: RowCounts, source: str, roles: ColumnRoles, config: TrainConfig
                 ) -> TrainSummary:
    """The row accounting of a statistics pass, checked for enough rows."""
    if counts.read == 0:
        raise DataError(f"{source}: no data rows (only a header?)")
    if counts.read == counts.dropped:
        raise DataError(f"{source}: the target '{roles.target}' is missing in every row")
    summary = TrainSummary(counts.read, counts.dropped)
    if summary.rows_used < max(config.folds, 2):
        advice = (f"use --folds {summary.rows_used} or fewer" if summary.rows_used >= 2
                  else "add rows")
        raise DataError(f"{source}: {summary.rows_used} row(s) with a target are too "
                        f"few for {config.folds}-fold cross-validation; {advice}")
    return summary


def fold_rule(config: TrainConfig, group_folds: dict[str, int] | None, width: int) -> FoldRule:
    per_fold = blocks_per_fold(config.folds, width) if config.stability else 1
    return FoldRule(config.folds, config.seed, group_folds, per_fold)


def _reading(progress: Progress | None):
    return (lambda n, frac: progress("reading", n, frac)) if progress else None


def _accumulate(source: TableSource, encoder: Encoder, roles: ColumnRoles, config: TrainConfig,
                group_folds: dict[str, int] | None, progress: Progress | None,
                profiler: TrainingProfiler | None = None
                ) -> tuple[list[SufficientStats], Ranges, TrainSummary, list | None]:
    """Per-fold statistics (and, with ``config.stability``, per-block statistics whose
    sums per fold are the folds': the same pass, the same work)."""
    partial = StatsPartial(encoder.width, fold_rule(config, group_folds, encoder.width),
                           profiler).read(source, encoder, roles, progress=_reading(progress))
    summary = row_summary(partial.counts, source.path, roles, config)
    folds, blocks = partial.fold_stats(source.path)
    return folds, partial.ranges, summary, (blocks if config.stability else None)


def _materialize(source: TableSource, encoder: Encoder, roles: ColumnRoles, config: TrainConfig,
                 group_folds: dict[str, int] | None, progress: Progress | None, n_rows: int,
                 profiler: TrainingProfiler | None = None):
    """The encoded training rows in one Fortran-ordered matrix (for the naive solver)."""
    X = np.empty((n_rows, encoder.width), order="F")
    y, w, fold = np.empty(n_rows), np.ones(n_rows), np.empty(n_rows, dtype=np.int64)
    counts, at = RowCounts(), 0
    for Xb, yb, wb, fb, _ in training_blocks(source, encoder, roles,
                                             fold_rule(config, group_folds, 0), counts,
                                             progress=_reading(progress), profiler=profiler):
        m = Xb.shape[0]
        if at + m > n_rows:
            raise DataError(f"{source.path}: the file changed while it was read")
        X[at:at + m], y[at:at + m], fold[at:at + m] = Xb, yb, fb
        if wb is not None:
            w[at:at + m] = wb
        at += m
    if at != n_rows:
        raise DataError(f"{source.path}: the file changed while it was read")
    return X, y, (w if roles.weight else None), fold, row_summary(counts, source.path, roles,
                                                                   config)


def _one_pass_inputs(roles: ColumnRoles, kinds: dict[str, str], config: TrainConfig
                     ) -> list[InputColumn] | None:
    """Inputs for training in one pass, when no first pass is needed: every feature
    numeric or boolean, no groups, no median. None otherwise."""
    if roles.group or config.impute == "median" or \
            any(kinds[c] == "categorical" for c in roles.features):
        return None
    fill = config.impute_value if config.impute == "constant" else 0.0
    return [InputColumn(c, kinds[c], impute=config.impute, fill=fill) for c in roles.features]


def _fills_from_stats(inputs: list[InputColumn], total: SufficientStats, xx: np.ndarray,
                      ranges: Ranges) -> tuple[list[InputColumn], dict]:
    """Mean fills and the input profile of a one-pass run (no value was missing)."""
    out, profile = [], {}
    for j, col in enumerate(inputs):
        mean = float(total.mean_x[j])
        if col.impute == "mean":
            col = replace(col, fill=mean)
        out.append(col)
        profile[col.name] = {"type": col.kind, "missing_rate": 0.0, "mean": mean,
                             "sd": float(np.sqrt(max(xx[j, j], 0.0))),
                             "min": float(ranges.lo[j]), "max": float(ranges.hi[j]),
                             "fill": col.fill}
    return out, profile


def _check_learnable(total: SufficientStats, source: str, manifest: FeatureManifest,
                     ranges: Ranges | None = None) -> None:
    target = manifest.target
    if total.sum_w <= 0:
        raise DataError(f"{source}: the weights sum to zero; nothing to fit")
    xx, xy, yy = total.moments(centred=True)
    bad = np.flatnonzero(~np.isfinite(np.diag(xx)) | ~np.isfinite(xy))
    if bad.size:
        raise DataError(f"{source}: column '{manifest.features[bad[0]]}' has values too large "
                        f"to square in float64 (beyond ~1e150); rescale it")
    if ranges is not None:
        top = np.maximum(np.abs(ranges.lo), np.abs(ranges.hi))
        j = first_tiny_feature(top)
        if j >= 0:
            raise DataError(f"{source}: column '{manifest.features[j]}' has values too small "
                            f"to square in float64 (largest |value| {top[j]:.3g}); "
                            f"rescale it (e.g. multiply by 1e150)")
    if not np.isfinite(yy):
        raise DataError(f"{source}: target '{target}' has values too large to square in "
                        f"float64 (beyond ~1e150); rescale it")
    if yy <= 1e-28 * max(total.mean_y ** 2, 1e-300):
        raise DataError(f"{source}: target '{target}' is constant ({total.mean_y:g}); "
                        f"there is nothing to learn")


def build_model(folds: list[SufficientStats], manifest: FeatureManifest, config: TrainConfig,
                profile: dict | None = None, lineage: dict | None = None,
                profiler: TrainingProfiler | None = None,
                blocks: list[SufficientStats] | None = None) -> Model:
    """Cross-validate per-fold statistics and package the selected fit as a Model.

    Parameters
    ----------
    profiler : TrainingProfiler, optional
        What the statistics pass profiled: adds the drift profile to the model.
    blocks : list of SufficientStats, optional
        Statistics of row blocks, for stability selection (``config.stability`` fits).
    """
    try:
        cvr, path = cross_validated_fit(
            folds, l1_ratios=config.l1_ratios, n_alphas=config.n_alphas, eps=config.eps,
            selection=config.selection, fit_intercept=config.fit_intercept,
            standardize=config.standardize, tol=config.tol, max_iter=config.max_iter)
    except (ValueError, OverflowError) as exc:    # e.g. a fold whose weights are all zero
        raise DataError(f"{exc}") from None
    total = sum_stats(folds)
    li, ai = cvr.best_index
    coef, intercept = path.coef_at(ai), float(path.intercept[ai])
    train_mse = float(total.weighted_sse(coef[None, :], np.array([intercept]))[0] / total.sum_w)
    xx, _, yy = total.moments(centred=True)
    model = _assemble(cvr, path, train_mse, yy, manifest, config, profile or {}, lineage or {})
    grid = cvr.alphas[li, :ai + 1]
    settings = dict(fit_intercept=config.fit_intercept, standardize=config.standardize,
                    tol=config.tol, max_iter=config.max_iter)
    if profiler is not None:
        # each fold's model at the chosen point: held-out residuals of the row sample
        fold_models = {}
        for k, f in enumerate(folds):
            res = path_from_stats(total - f, l1_ratio=float(cvr.l1_ratios[li]), alphas=grid,
                                  warn=False, **settings)
            fold_models[k] = (res.coef[-1], float(res.intercept[-1]))
        mean = intercept + float(coef @ total.mean_x)
        sd = float(np.sqrt(max(coef @ xx @ coef, 0.0)))
        _attach_profile(model, profiler, fold_models, mean, sd)
    if blocks is not None and config.stability:
        freq, info = selection_frequencies(blocks, l1_ratio=float(cvr.l1_ratios[li]),
                                           alphas=grid, n_fits=config.stability,
                                           seed=config.seed, **settings)
        model.arrays["stability_frequency"] = freq
        model.metrics["stability_selection"] = info
    return model


def _attach_profile(model: Model, profiler: TrainingProfiler, fold_models: dict | None,
                    mean: float | None, sd: float | None) -> None:
    doc, arrays = profiler.finish(model.coef, model.intercept, fold_models, mean, sd,
                                  model.features)
    model.profile["drift"] = doc
    model.arrays.update(arrays)


def _assemble(cvr: CVResult, path: PathResult, train_mse: float, yy: float,
              manifest: FeatureManifest, config: TrainConfig, profile: dict,
              lineage: dict) -> Model:
    """Package the selected fit; ``yy`` is the weighted variance of the target."""
    li, ai = cvr.best_index
    cert = path.certificate
    coef = path.coef_at(ai)
    intercept = float(path.intercept[ai])
    metrics = {
        "cv_mse": float(cvr.mean[li, ai]), "cv_mse_se": float(cvr.se[li, ai]),
        "cv_rmse": float(np.sqrt(cvr.mean[li, ai])),
        "cv_mse_min": float(cvr.mean[cvr.min_index]),
        "cv_r2": float(1.0 - cvr.mean[li, ai] / yy) if yy > 0 else None,
        "train_mse": train_mse, "train_r2": float(1.0 - train_mse / yy) if yy > 0 else None,
        "n_nonzero": int(np.count_nonzero(coef)),
        # the smallest alpha of the grid won: the optimum may lie below it
        "at_grid_edge": bool(ai == cvr.alphas.shape[1] - 1 and cvr.alphas.shape[1] > 1),
    }
    certificate = {
        "n_iter": int(cert.n_iter[ai]), "duality_gap": float(cert.duality_gap[ai]),
        "relative_gap": float(cert.relative_gap[ai]),
        "kkt_violation": float(cert.kkt_violation[ai]), "converged": bool(cert.converged[ai]),
        "tol": cert.tol, "path_converged": bool(cert.converged.all()),
        "cv_converged": cvr.all_converged, "solver": getattr(path, "solver", "covariance"),
    }
    params = asdict(config)
    params.update(fold_sizes=cvr.fold_sizes.tolist(), fold_rule="group" if config.group else
                  "kfold-block-permutation")
    arrays = {"cv_l1_ratios": cvr.l1_ratios, "cv_alphas": cvr.alphas, "cv_mean": cvr.mean,
              "cv_se": cvr.se, "cv_mse_path": cvr.mse_path, "path_alphas": path.alphas,
              "path_intercept": path.intercept}
    if manifest.layout == "matrix":      # up to millions of features: the path kept sparse
        path_coef = sp.csr_matrix(path.coef)
        arrays.update(path_coef_data=path_coef.data, path_coef_indices=path_coef.indices,
                      path_coef_indptr=path_coef.indptr)
    else:
        arrays["path_coef"] = path.coef.toarray() if sp.issparse(path.coef) else path.coef
    return Model(manifest, coef, intercept, path.coef_std_at(ai), path.x_mean.copy(),
                 path.x_scale.copy(), float(cvr.alphas[li, ai]), float(cvr.l1_ratios[li]),
                 params, certificate, metrics, profile, lineage, arrays)


def package_versions() -> dict[str, str]:
    import numba
    import pyarrow
    import scipy
    import sklearn

    import enet
    return {"enet": enet.__version__, "numpy": np.__version__, "scipy": scipy.__version__,
            "numba": numba.__version__, "pyarrow": pyarrow.__version__,
            "scikit-learn": sklearn.__version__, "python": platform.python_version()}


def train_file(path: str | os.PathLike, config: TrainConfig, progress: Progress | None = None,
               csv_options: CsvOptions | None = None,
               chunk_bytes: int = DEFAULT_CHUNK_BYTES) -> Model:
    """Train on a CSV or Parquet file with cross-validation over alpha x l1_ratio.

    Parameters
    ----------
    path : path
        Training table (CSV, CSV.gz, TSV or Parquet); read in chunks, twice.
    config : TrainConfig
    progress : callable, optional
        ``progress(stage, rows, fraction)`` after each chunk; stage is "scanning"
        (first pass) or "reading" (second pass); fraction is None when unknown.
    csv_options : CsvOptions, optional
        Delimiter, quoting, encoding and extra missing-value spellings.
    chunk_bytes : int
        Size of each chunk read; memory is O(chunk x features + features^2).

    Returns
    -------
    Model

    Raises
    ------
    DataError, UsageError
        Bad input, with a one-line message.
    """
    config.validate()
    csv_options = replace(csv_options or CsvOptions(), na_values=tuple(config.na_values),
                          default_na=config.default_na)
    return _train_source(open_source(path, csv_options, chunk_bytes), config, progress)


def train_table(data, config: TrainConfig, progress: Progress | None = None, y=None,
                chunk_bytes: int = DEFAULT_CHUNK_BYTES) -> Model:
    """Train on an in-memory table: pandas or polars DataFrame, Arrow table, dict of
    columns, or a 2-D numpy array (columns ``x0, x1, ...``; pass ``y`` and use
    target "y").

    Same preprocessing, validation and result as :func:`train_file`.
    """
    config.validate()
    return _train_source(memory_source(data, "input", y=y, chunk_bytes=chunk_bytes), config,
                         progress)


def _manifest(inputs: list[InputColumn], roles: ColumnRoles, config: TrainConfig
              ) -> FeatureManifest:
    return FeatureManifest(inputs, roles.target, roles.weight, roles.group, roles.excluded,
                           na_values=tuple(config.na_values), default_na=config.default_na)


def _table_solver(config: TrainConfig, n: int, p: int) -> str:
    """Solver for a streamed table: naive only when the encoded rows fit in memory."""
    from enet.core.naive import choose_solver

    if config.solver != "auto":
        return config.solver
    if choose_solver(n, p) == "naive" and n * p * 8 <= MATERIALIZE_BUDGET:
        return "naive"
    return "covariance"


def _lineage(source: TableSource, rows: int) -> dict:
    if source.format == "memory":
        data = {"path": None, "sha256": source_digest(source), "format": "memory"}
    else:
        data = {"path": os.path.abspath(source.path), "sha256": _file_sha256(source.path),
                "format": source.format}
    data["rows"] = int(rows)
    return {"data": data,
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "versions": package_versions()}


def _train_source(source: TableSource, config: TrainConfig, progress: Progress | None) -> Model:
    roles = resolve_columns(source.columns, config.target, config.exclude, config.weight,
                            config.group, config.categorical, source.path)
    kinds = decide_kinds(source, roles)
    # a wide table is scanned first: the exact row count decides between the solvers
    rows = source.estimated_rows()
    wide = config.solver == "naive" or (
        config.solver == "auto" and (len(roles.features) > WIDE_COLUMNS if rows is None
                                     else _table_solver(config, rows, len(roles.features))
                                     == "naive"))
    inputs = None if wide else _one_pass_inputs(roles, kinds, config)
    input_profile = None
    if inputs is not None:
        # optimistic single pass; the first missing feature value sends us to two passes
        try:
            encoder = Encoder(inputs, allow_missing=False, na_values=tuple(config.na_values))
            profiler = TrainingProfiler(inputs, config.na_values, config.seed)
            folds, ranges, summary, blocks = _accumulate(source, encoder, roles, config, None,
                                                         progress, profiler)
        except MissingValueFound:
            inputs = None
    if inputs is None:
        scan = scan_inputs(source, roles, kinds, config.schema_options,
                           (lambda rows, frac: progress("scanning", rows, frac)) if progress
                           else None)
        group_folds = None
        if config.group:
            group_folds = group_folds_of(scan.group_counts, config.folds, config.seed,
                                       source.path)
        inputs, input_profile = scan.inputs, scan.profile
        encoder = Encoder(inputs, na_values=tuple(config.na_values))
        n_used = scan.rows_read - scan.rows_dropped
        profiler = TrainingProfiler(inputs, config.na_values, config.seed)
        if _table_solver(config, n_used, encoder.width) == "naive":
            if config.stability:
                raise UsageError(f"{source.path}: this table is trained with the naive solver "
                                 f"(wide data), and --stability needs the statistics of row "
                                 f"blocks; drop --stability or pass --solver covariance")
            X, y, w, fold, summary = _materialize(source, encoder, roles, config, group_folds,
                                                  progress, n_used, profiler)
            manifest = _manifest(inputs, roles, config)
            profile = {"n_rows": int(n_used), "rows_read": summary.rows_read,
                       "rows_dropped_missing_target": summary.rows_dropped_missing_target,
                       "inputs": input_profile}
            return _fit_arrays(X, y, w, fold, manifest, config, profile,
                               _lineage(source, n_used), source.path, profiler)
        folds, ranges, summary, blocks = _accumulate(source, encoder, roles, config,
                                                     group_folds, progress, profiler)
    return model_from_statistics(folds, ranges, summary, blocks, inputs, input_profile,
                                 roles, config, source.path,
                                 lambda rows: _lineage(source, rows), profiler)


def model_from_statistics(folds: list[SufficientStats], ranges: Ranges, summary: TrainSummary,
                          blocks: list | None, inputs: list[InputColumn],
                          input_profile: dict | None, roles: ColumnRoles, config: TrainConfig,
                          source: str, lineage: Callable[[int], dict],
                          profiler: TrainingProfiler | None) -> Model:
    """Cross-validate the statistics of a covariance-solver training pass and package
    the model (whatever engine computed them).

    ``input_profile`` is None after a one-pass run (fills then come from the
    statistics); ``lineage(rows)`` gives the model's lineage.
    """
    total = sum_stats(folds)
    if total.sum_w <= 0:
        raise DataError(f"{source}: the weights sum to zero; nothing to fit")
    xx, _, yy = total.moments(centred=True)
    if input_profile is None:
        inputs, input_profile = _fills_from_stats(inputs, total, xx, ranges)
    manifest = _manifest(inputs, roles, config)
    _check_learnable(total, source, manifest, ranges)
    profile = {"n_rows": int(total.n_rows), "rows_read": summary.rows_read,
               "rows_dropped_missing_target": summary.rows_dropped_missing_target,
               "sum_weights": float(total.sum_w), "inputs": input_profile,
               "features": {f: {"mean": float(total.mean_x[j]),
                                "sd": float(np.sqrt(max(xx[j, j], 0.0))),
                                "min": float(ranges.lo[j]), "max": float(ranges.hi[j])}
                            for j, f in enumerate(manifest.features)},
               "target": {"mean": float(total.mean_y), "sd": float(np.sqrt(yy))}}
    try:
        return build_model(folds, manifest, config, profile, lineage(total.n_rows),
                           profiler, blocks)
    except DataError as exc:
        raise DataError(f"{source}: {exc}") from None


def _fit_arrays(X, y: np.ndarray, w: np.ndarray | None, fold: np.ndarray,
                manifest: FeatureManifest, config: TrainConfig, profile: dict, lineage: dict,
                source: str, profiler: TrainingProfiler | None = None) -> Model:
    """Cross-validate and fit with the naive solver on X in memory (dense or sparse)."""
    from enet.core.cv_naive import cross_validated_fit_arrays

    wn = np.ones(len(y)) if w is None else w
    if wn.sum() <= 0:
        raise DataError(f"{source}: the weights sum to zero; nothing to fit")
    mean_y = float(wn @ y / wn.sum())
    yy = float(wn @ (y - mean_y) ** 2 / wn.sum())
    if yy <= 1e-28 * max(mean_y ** 2, 1e-300):
        raise DataError(f"{source}: target '{manifest.target}' is constant ({mean_y:g}); there "
                        f"is nothing to learn")
    try:
        cvr, path = cross_validated_fit_arrays(
            X, y, fold, sample_weight=w, l1_ratios=config.l1_ratios, n_alphas=config.n_alphas,
            eps=config.eps, selection=config.selection, fit_intercept=config.fit_intercept,
            standardize=config.standardize, tol=config.tol, max_iter=config.max_iter)
    except (ValueError, OverflowError) as exc:
        raise DataError(f"{source}: {exc}") from None
    ai = cvr.best_index[1]
    resid = y - (np.asarray(X @ path.coef_at(ai)).ravel() + path.intercept[ai])
    train_mse = float(wn @ (resid * resid) / wn.sum())
    profile = dict(profile, sum_weights=float(wn.sum()),
                   target={"mean": mean_y, "sd": float(np.sqrt(yy))})
    model = _assemble(cvr, path, train_mse, yy, manifest, config, profile, lineage)
    if profiler is not None:
        # X is in memory: the predictions' mean and sd are exact; the naive CV keeps no
        # fold models, so the residual summary is the training (in-sample) one only
        fitted = y - resid
        mean = float(wn @ fitted / wn.sum())
        sd = float(np.sqrt(wn @ (fitted - mean) ** 2 / wn.sum()))
        _attach_profile(model, profiler, None, mean, sd)
    return model


MATRIX_TARGET_HINT = ("--target names a table's column; a matrix file has no columns to name: "
                      "an svmlight file carries its target values and a .npz matrix takes "
                      "--target-file")


def check_table_pieces(paths, engine: str | None = "local", job: str = "trained") -> None:
    """Refuse matrix files where a table in pieces is expected (several files, a directory,
    or a Dask/Spark engine): a matrix is trained from one file, in memory, on this machine."""
    from enet.data.matrix import MATRIX_SUFFIXES, is_matrix_file

    paths = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
    for path in map(os.fspath, paths):
        inside = []
        if os.path.isdir(path):         # matrix files only (a directory's tables are read)
            names = sorted(os.listdir(path))
            inside = [f for f in names if is_matrix_file(f)]
            if any(f.lower().endswith(TABLE_PIECE_SUFFIXES) for f in names):
                inside = []
        if is_matrix_file(path) or inside:
            what = os.path.join(path, inside[0]) if inside else path
            why = (f"--engine {engine} reads tables" if engine not in (None, "local")
                   else "several files or a directory are the pieces of one table")
            raise UsageError(f"{what}: a sparse matrix is {job} from one file on the local "
                             f"engine ({why}); pass a single {'/'.join(MATRIX_SUFFIXES[:3])} "
                             f"or .npz file")


def check_input_options(path: str | os.PathLike, target_file=None,
                        index_base: int | None = None, n_features: int | None = None) -> None:
    """Refuse input options that do not apply to ``path``: ``index_base`` and ``n_features``
    belong to svmlight files, ``target_file`` to .npz matrices (an svmlight file carries
    its own target, which :func:`enet.data.matrix.load_matrix` says)."""
    from enet.data.matrix import is_matrix_file

    if index_base not in (None, 0, 1):
        raise UsageError(f"--index-base must be 0, 1 or auto; got {index_base!r}")
    if n_features is not None and n_features < 1:
        raise UsageError(f"n_features must be a positive number of features; got {n_features}")
    matrix = is_matrix_file(path)
    npz = os.fspath(path).lower().endswith(".npz")
    if (index_base is not None or n_features is not None) and (npz or not matrix):
        raise UsageError("--index-base and --n-features apply to svmlight files, not to "
                         + ("a .npz matrix (it has its own width)" if npz else "tables"))
    if target_file and not matrix:
        raise UsageError("--target-file gives the target of a .npz matrix; a table names its "
                         "target column with --target")


def train_matrix(path: str | os.PathLike, config: TrainConfig,
                 target_file: str | os.PathLike | None = None, index_base: int | None = None,
                 n_features: int | None = None) -> Model:
    """Train on a sparse matrix file: svmlight/libsvm (target inside) or scipy ``.npz``
    with ``target_file``.

    The matrix is loaded whole and never densified; the solver is chosen from its
    shape and sparsity (``config.solver`` overrides).

    Parameters
    ----------
    index_base : {0, 1}, optional
        Index base of an svmlight file (default: one-based unless index 0 occurs). The
        model keeps it, and reads scoring files with the same base.
    n_features : int, optional
        Width of an svmlight file's feature space, when its largest index (the default)
        is not the last feature: scoring rows may then use the features absent here.
    """
    from enet.data.matrix import load_matrix

    config.validate()
    check_input_options(path, target_file, index_base, n_features)
    data = load_matrix(path, target_file, n_features=n_features, index_base=index_base,
                       for_model=False)
    path = os.fspath(path)
    if data.y is None:
        raise UsageError(f"{path}: a .npz matrix needs its target values: pass --target-file")
    lineage = {"path": os.path.abspath(path), "sha256": _file_sha256(path),
               "format": data.format}
    return _train_on_matrix(data.X, data.y, data.index_base, data.format, config, path, lineage)


def _train_on_matrix(X, y: np.ndarray, index_base: int, fmt: str, config: TrainConfig,
                     label: str, data_lineage: dict) -> Model:
    from enet.core.naive import choose_solver

    n, p = X.shape
    if n == 0:
        raise DataError(f"{label}: the matrix has no rows; nothing to train on")
    if n < max(config.folds, 2):
        raise DataError(f"{label}: {n} row(s) are too few for {config.folds}-fold "
                        f"cross-validation; use more rows or fewer --folds (at least 2)")
    if p == 0:
        raise DataError(f"{label}: the matrix has no feature columns")
    fold = kfold_ids(0, n, config.folds, config.seed)
    manifest = FeatureManifest.for_matrix(p, index_base, fmt)
    if sp.issparse(X) and np.count_nonzero(X.data) < X.nnz:
        X = X.copy()            # stored zeros cost sweeps and misstate the density
        X.eliminate_zeros()
    nnz = X.nnz if sp.issparse(X) else n * p
    solver = config.solver
    if solver == "auto":
        solver = choose_solver(n, p, nnz / max(n * p, 1))
    profile = {"n_rows": int(n), "rows_read": int(n), "rows_dropped_missing_target": 0,
               "density": nnz / max(n * p, 1)}
    lineage = {"data": dict(data_lineage, rows=int(n)),
               "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
               "versions": package_versions()}
    if solver == "naive":
        if config.stability:
            raise UsageError(f"{label}: this matrix is trained with the naive solver (wide or "
                             f"sparse data), and --stability needs the statistics of row "
                             f"blocks; drop --stability or pass --solver covariance")
        return _fit_arrays(X.tocsc() if sp.issparse(X) else X, y, None, fold, manifest, config,
                           profile, lineage, label)
    per_fold = blocks_per_fold(config.folds, p) if config.stability else 1
    acc = FoldAccumulator(p, config.folds * per_fold)
    acc.update_blocks(X, y, None, block_ids(np.arange(n), fold, per_fold, config.seed))
    blocks = acc.folds()
    folds = [sum_stats(blocks[k * per_fold:(k + 1) * per_fold]) for k in range(config.folds)]
    total = sum_stats(folds)
    _check_learnable(total, label, manifest)
    _, _, yy = total.moments(centred=True)
    profile["target"] = {"mean": float(total.mean_y), "sd": float(np.sqrt(yy))}
    return build_model(folds, manifest, config, profile, lineage,
                       blocks=blocks if config.stability else None)


def _train_sparse(X, y, config: TrainConfig) -> Model:
    """Train on an in-memory scipy.sparse matrix (features f0, f1, ...)."""
    from enet.data.matrix import first_non_finite

    config.validate()
    if y is None:
        raise UsageError("a sparse matrix needs its target: pass y=")
    X = sp.csr_matrix(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64).ravel()
    if y.shape[0] != X.shape[0]:
        raise DataError(f"input: y has {y.shape[0]} values for {X.shape[0]} rows")
    if not np.all(np.isfinite(y)):
        i = int(np.flatnonzero(~np.isfinite(y))[0])
        raise DataError(f"input: y[{i}] is {y[i]}; the target must be finite (drop that row)")
    bad = first_non_finite(X)
    if bad is not None:
        raise DataError(f"input: X[{bad[0]}, {bad[1]}] is {bad[2]}; missing and infinite "
                        f"values are not allowed in a matrix (fill or drop them)")
    h = hashlib.sha256()
    for arr in (X.data, X.indices, X.indptr, y):
        h.update(np.ascontiguousarray(arr).tobytes())
    return _train_on_matrix(X, y, 0, "memory", config, "input",
                            {"path": None, "sha256": h.hexdigest(), "format": "memory"})


def _given(value) -> bool:
    """An option was given: not None, not an empty name or list (arrays count as given)."""
    if value is None:
        return False
    if isinstance(value, (str, list, tuple)):
        return len(value) > 0
    return True


def train_model(data, target: str = "y", *, y=None, progress: Progress | None = None,
                csv_options: CsvOptions | None = None, target_file=None,
                index_base: int | None = None, n_features: int | None = None,
                **options) -> Model:
    """Train a cross-validated model from a file or an in-memory table.

    Parameters
    ----------
    data : path, list of paths, DataFrame (pandas, polars, Dask or Spark), Arrow table, dict
        of columns or 2-D array
        A CSV/Parquet path is streamed; in-memory data is read in chunks the same way.
        A list of files is one table in pieces; a Dask DataFrame (with ``client=`` or
        the default distributed client) or a Spark DataFrame is trained on its
        cluster (:mod:`enet.train_scale`): statistics there, the solver here.
    target : str
        Name of the target column ("y" for a numpy array with ``y`` given).
    y : array, optional
        Target values for a numpy ``data`` (columns are named x0, x1, ...) or a scipy
        sparse matrix (features f0, f1, ...).
    target_file : path, optional
        Target values for a ``.npz`` matrix file (svmlight files carry their own).
    index_base, n_features : int, optional
        For an svmlight file: its index base and width (:func:`train_matrix`).
    **options
        Any :class:`TrainConfig` field: ``l1_ratios``, ``folds``, ``categorical``,
        ``impute``, ``exclude``, ``weight``, ``group``, ``standardize`` ...; for files
        also ``engine`` ("local", "dask", "spark"), ``scheduler``, ``spark_master``.

    Returns
    -------
    Model

    Examples
    --------
    >>> model = enet.train_model(df, target="price", categorical=["zip"])  # doctest: +SKIP
    >>> model.predict(new_df)                                              # doctest: +SKIP
    """
    scale = {k: options.pop(k) for k in ("engine", "scheduler", "spark_master", "client")
             if k in options}
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    unknown = [k for k in options if k not in known]
    if unknown:
        raise UsageError(f"unknown training option(s): {', '.join(unknown)}; train_model takes "
                         f"{', '.join(sorted(known - {'target'}))}")
    config = TrainConfig(target=target, **options)
    path_given = isinstance(data, (str, os.PathLike))
    if not path_given and (target_file is not None or index_base is not None or
                           n_features is not None):
        raise UsageError("target_file, index_base and n_features describe a matrix file; for "
                         "in-memory data pass y= (and the matrix at its full width)")
    if path_given and y is not None:
        raise UsageError("y= gives the target of in-memory data; a .npz matrix file takes "
                         "target_file=, an svmlight file carries its own, a table names its "
                         "target column")
    from enet.pieces import frame_kind
    if frame_kind(data) or isinstance(data, (list, tuple)) or scale:
        # a Dask/Spark DataFrame, several files, or an engine: map over pieces
        from enet.train_scale import train_files, train_frame
        if frame_kind(data):
            return train_frame(data, config, scale.get("client"))
        check_table_pieces(data, scale.get("engine", "local"))
        return train_files(data, config, scale.get("engine", "local"), scale.get("scheduler"),
                           scale.get("spark_master"), csv_options)
    if isinstance(data, (str, os.PathLike)):
        from enet.data.matrix import is_matrix_file
        if is_matrix_file(data):
            if target != "y":
                raise UsageError(MATRIX_TARGET_HINT)
            return train_matrix(data, config, target_file, index_base, n_features)
        check_input_options(data, target_file, index_base, n_features)
        return train_file(data, config, progress, csv_options)
    if sp.issparse(data):
        table_only = [k for k in ("exclude", "weight", "group", "categorical", "na_values")
                      if _given(options.get(k))]
        if "weight" in table_only and not isinstance(options["weight"], str):
            raise UsageError("weight= names a table's weight column; for a sparse matrix with "
                             "row weights use enet.ElasticNetCV().fit(X, y, sample_weight=w)")
        if table_only or target != "y":
            raise UsageError(f"{', '.join(table_only) or 'target'} applies to tables, not to "
                             f"a sparse matrix (pass y=)")
        return _train_sparse(data, y, config)
    return train_table(data, config, progress, y=y)

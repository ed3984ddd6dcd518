"""The training job: a tabular file in, a cross-validated Model out.

One streamed pass computes every fold's sufficient statistics (plus a pass
over the group column when folds come from groups); the solver and the whole
CV grid then run on statistics only.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import os
import platform
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np
import pyarrow as pa

from enet.core.cv import CVResult, assign_group_folds, cross_validated_fit, kfold_ids, sum_stats
from enet.core.path import DEFAULT_MAX_ITER, DEFAULT_TOL, PathResult
from enet.core.stats import FoldAccumulator, SufficientStats
from enet.data.readers import TableSource, open_source
from enet.data.tabular import FeatureManifest, design_matrix, numeric_column, resolve_columns
from enet.exceptions import DataError, UsageError
from enet.model import Model

__all__ = ["TrainConfig", "train_file", "build_model"]

Progress = Callable[[int], None]


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

    def validate(self) -> None:
        """Raise UsageError for values outside their domain."""
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


@dataclass
class _Profile:
    """Running per-column min/max (mean and sd come from the statistics)."""

    lo: np.ndarray | None = None
    hi: np.ndarray | None = None

    def update(self, X: np.ndarray) -> None:
        lo, hi = X.min(axis=0), X.max(axis=0)
        self.lo = lo if self.lo is None else np.minimum(self.lo, lo)
        self.hi = hi if self.hi is None else np.maximum(self.hi, hi)


def _file_sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _group_folds(source: TableSource, group: str, n_folds: int, seed: int,
                 progress: Progress | None) -> dict[str, int]:
    """First pass over the group column only: fold of every group label."""
    counts: dict[str, int] = {}
    offset = 0
    for batch in source.batches([], [group]):
        # labels compared as text, the same way as in the accumulation pass
        labels = batch.column(0).cast(pa.string()).to_numpy(zero_copy_only=False)
        def missing(v) -> bool:
            return v is None or not v.strip() or v.lower() == "nan"

        if any(missing(v) for v in labels):
            i = next(i for i, v in enumerate(labels) if missing(v))
            raise DataError(f"{source.path}: group column '{group}' row {offset + i + 1} is "
                            f"missing; every row needs a group")
        uniq, cnt = np.unique(labels.astype(str), return_counts=True)
        for u, c in zip(uniq, cnt):
            counts[u] = counts.get(u, 0) + int(c)
        offset += batch.num_rows
        if progress:
            progress(batch.num_rows)
    labels = sorted(counts)
    try:
        folds = assign_group_folds(np.array([counts[g] for g in labels], dtype=float), n_folds,
                                   seed)
    except ValueError as exc:
        raise DataError(f"{source.path}: {exc}; use fewer --folds") from None
    return dict(zip(labels, folds.tolist()))


def _accumulate(source: TableSource, manifest: FeatureManifest, config: TrainConfig,
                group_folds: dict[str, int] | None, progress: Progress | None
                ) -> tuple[list[SufficientStats], _Profile]:
    numeric = manifest.features + [manifest.target] + ([manifest.weight] if manifest.weight else [])
    text = [manifest.group] if manifest.group else []
    acc = FoldAccumulator(len(manifest.features), config.folds)
    profile = _Profile()
    offset = 0
    for batch in source.batches(numeric, text):
        m = batch.num_rows
        if m == 0:
            continue
        X = design_matrix(batch, manifest.features, offset, source.path)
        y = numeric_column(batch, manifest.target, offset, source.path, "target",
                           hint="the target must be numeric")
        w = None
        if manifest.weight:
            w = numeric_column(batch, manifest.weight, offset, source.path, "weight",
                               hint="weights must be numeric")
            if (w < 0).any():
                i = int(np.flatnonzero(w < 0)[0])
                raise DataError(f"{source.path}: weight '{manifest.weight}' row {offset + i + 1} "
                                f"is {w[i]}; weights must be >= 0")
        if group_folds is not None:
            labels = batch.column(batch.schema.get_field_index(manifest.group))
            fold = np.array([group_folds[v] for v in labels.cast(pa.string()).to_pylist()],
                            dtype=np.int64)
        else:
            fold = kfold_ids(offset, m, config.folds, config.seed)
        acc.update(X, y, w, fold)
        profile.update(X)
        offset += m
        if progress:
            progress(m)
    if offset == 0:
        raise DataError(f"{source.path}: no data rows (only a header?)")
    if offset < max(config.folds, 2):
        advice = (f"use --folds {offset} or fewer" if offset >= 2 else "add rows")
        raise DataError(f"{source.path}: {offset} row(s) are too few for {config.folds}-fold "
                        f"cross-validation; {advice}")
    return acc.folds(), profile


def _check_learnable(total: SufficientStats, source: str, manifest: FeatureManifest) -> None:
    target = manifest.target
    if total.sum_w <= 0:
        raise DataError(f"{source}: the weights sum to zero; nothing to fit")
    xx, xy, yy = total.moments(centred=True)
    bad = np.flatnonzero(~np.isfinite(np.diag(xx)) | ~np.isfinite(xy))
    if bad.size:
        raise DataError(f"{source}: column '{manifest.features[bad[0]]}' has values too large "
                        f"to square in float64 (beyond ~1e150); rescale it")
    if not np.isfinite(yy):
        raise DataError(f"{source}: target '{target}' has values too large to square in "
                        f"float64 (beyond ~1e150); rescale it")
    if yy <= 1e-28 * max(total.mean_y ** 2, 1e-300):
        raise DataError(f"{source}: target '{target}' is constant ({total.mean_y:g}); "
                        f"there is nothing to learn")


def build_model(folds: list[SufficientStats], manifest: FeatureManifest, config: TrainConfig,
                profile: dict | None = None, lineage: dict | None = None) -> Model:
    """Cross-validate per-fold statistics and package the selected fit as a Model."""
    try:
        cvr, path = cross_validated_fit(
            folds, l1_ratios=config.l1_ratios, n_alphas=config.n_alphas, eps=config.eps,
            selection=config.selection, fit_intercept=config.fit_intercept,
            standardize=config.standardize, tol=config.tol, max_iter=config.max_iter)
    except (ValueError, OverflowError) as exc:    # e.g. a fold whose weights are all zero
        raise DataError(f"{exc}") from None
    return _assemble(cvr, path, sum_stats(folds), manifest, config, profile or {}, lineage or {})


def _assemble(cvr: CVResult, path: PathResult, total: SufficientStats, manifest: FeatureManifest,
              config: TrainConfig, profile: dict, lineage: dict) -> Model:
    li, ai = cvr.best_index
    cert = path.certificate
    coef = path.coef[ai]
    intercept = float(path.intercept[ai])
    train_mse = float(total.weighted_sse(coef[None, :], np.array([intercept]))[0] / total.sum_w)
    _, _, yy = total.moments(centred=True)
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
        "cv_converged": cvr.all_converged, "solver": "covariance",
    }
    params = asdict(config)
    params.update(fold_sizes=cvr.fold_sizes.tolist(), fold_rule="group" if config.group else
                  "kfold-block-permutation")
    arrays = {"cv_l1_ratios": cvr.l1_ratios, "cv_alphas": cvr.alphas, "cv_mean": cvr.mean,
              "cv_se": cvr.se, "cv_mse_path": cvr.mse_path, "path_alphas": path.alphas,
              "path_coef": path.coef, "path_intercept": path.intercept}
    return Model(manifest, coef.copy(), intercept, path.coef_std[ai].copy(), path.x_mean.copy(),
                 path.x_scale.copy(), float(cvr.alphas[li, ai]), float(cvr.l1_ratios[li]),
                 params, certificate, metrics, profile, lineage, arrays)


def _versions() -> dict[str, str]:
    import numba
    import pyarrow
    import scipy
    import sklearn

    import enet
    return {"enet": enet.__version__, "numpy": np.__version__, "scipy": scipy.__version__,
            "numba": numba.__version__, "pyarrow": pyarrow.__version__,
            "scikit-learn": sklearn.__version__, "python": platform.python_version()}


def train_file(path: str | os.PathLike, config: TrainConfig,
               progress: Progress | None = None) -> Model:
    """Train on a CSV or Parquet file with cross-validation over alpha x l1_ratio.

    Parameters
    ----------
    path : path
        Training table (CSV, CSV.gz, TSV or Parquet); read in chunks.
    config : TrainConfig
    progress : callable, optional
        Called with the number of rows after each chunk.

    Returns
    -------
    Model

    Raises
    ------
    DataError, UsageError
        Bad input, with a one-line message.
    """
    config.validate()
    source = open_source(path)
    manifest = resolve_columns(source.columns, config.target, config.exclude, config.weight,
                               config.group, source.path)
    group_folds = None
    if config.group:
        group_folds = _group_folds(source, config.group, config.folds, config.seed, progress)
    folds, prof = _accumulate(source, manifest, config, group_folds, progress)
    total = sum_stats(folds)
    _check_learnable(total, source.path, manifest)
    xx, _, yy = total.moments(centred=True)
    profile = {"n_rows": int(total.n_rows), "sum_weights": float(total.sum_w),
               "features": {f: {"mean": float(total.mean_x[j]),
                                "sd": float(np.sqrt(max(xx[j, j], 0.0))),
                                "min": float(prof.lo[j]), "max": float(prof.hi[j])}
                            for j, f in enumerate(manifest.features)},
               "target": {"mean": float(total.mean_y), "sd": float(np.sqrt(yy))}}
    lineage = {"data": {"path": os.path.abspath(source.path), "sha256": _file_sha256(source.path),
                        "rows": int(total.n_rows), "format": source.format},
               "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
               "versions": _versions()}
    try:
        return build_model(folds, manifest, config, profile, lineage)
    except DataError as exc:
        raise DataError(f"{source.path}: {exc}") from None

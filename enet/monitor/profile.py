"""The training profile stored in a model, for drift and accuracy monitoring.

Computed during training's statistics pass (the last pass over the rows, which
one-pass and two-pass training share), on the rows that have a target:

* numeric and boolean inputs: the distribution of the non-missing values
  (:class:`~enet.data.distribution.ValueDistribution`), kept as a compact
  empirical CDF of at most 600 points: exact while the column has at most 600
  distinct values (booleans, codes, small tables), otherwise read from a t-digest
  (k = 1000) at 600 ranks, within ~1% in rank (bench/profile_sketch.py measures
  it against the exact CDF). Decile bin edges and each bin's frequency are read
  from that CDF, since the edges are not known until the pass ends; mean, sd
  (unweighted), min, max and missing rate. Everything is deterministic: the same
  rows in the same chunks (and, on a cluster, the same pieces merged in the same
  order) give the same profile, byte for byte, so two trainings on the same
  data write identical artifacts;
* categorical inputs: the share of rows on each of the model's indicators
  (kept levels, ``<other>``, ``<missing>``) and on none of them, plus the missing
  rate;
* every encoded feature: its sd (for the impact weights ``|b_j| x sd_j``);
* predictions and residuals: a uniform sample of up to 5,000 rows (bottom-k by a
  hash of the row number, so independent of chunking) is kept during the pass;
  after the fit, the sample's predictions give the prediction CDF and decile bins
  (sampling error ~1/sqrt(5000) per bin share), while the mean and sd of the
  predictions are exact from the statistics (``b' Sigma b``). Each sampled row's
  held-out residual under its fold's model at the chosen (alpha, l1_ratio)
  gives the CV residual summary (MAE, quantiles); the CV MSE itself is exact.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from enet.data.distribution import CDF_POINTS, DIGEST_K, ValueDistribution
from enet.data.manifest import InputColumn
from enet.data.schema import MissingMarkers, as_text
from enet.monitor.drift import bin_frequencies, ecdf_from_sample, quantile_edges, quantiles

__all__ = ["TrainingProfiler", "RowSample", "PROFILE_VERSION", "N_BINS", "SAMPLE_ROWS",
           "numeric_values", "categorical_bins", "feature_slices", "has_profile"]

PROFILE_VERSION = 1
N_BINS = 10
SAMPLE_ROWS = 5000
# the row sample stays below this many float64 values (16 MiB)
SAMPLE_ELEMENTS = 1 << 21
NONE_BIN = "(none)"
QUANTILE_PROBS = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)


def has_profile(model) -> bool:
    """Whether a model carries the drift profile (models before format 3 do not)."""
    return isinstance(model.profile.get("drift"), dict)


def feature_slices(inputs: list[InputColumn]) -> dict[str, slice]:
    """The encoded features (columns of X) of each input column."""
    out, j = {}, 0
    for col in inputs:
        w = len(col.feature_names())
        out[col.name] = slice(j, j + w)
        j += w
    return out


def numeric_values(batch: pa.RecordBatch, name: str, markers: MissingMarkers) -> np.ndarray:
    """A numeric or boolean input as float64 with every missing spelling as NaN."""
    arr = batch.column(batch.schema.get_field_index(name))
    if arr.type != pa.float64():
        arr = arr.cast(pa.float64())
    return markers.numeric(arr.to_numpy(zero_copy_only=False))


def categorical_missing(batch: pa.RecordBatch, col: InputColumn,
                        markers: MissingMarkers) -> np.ndarray:
    """Rows where a categorical input is missing."""
    arr = markers.text(as_text(batch.column(batch.schema.get_field_index(col.name)),
                               codes=col.codes))
    return arr.is_null().to_numpy(zero_copy_only=False)


def categorical_bins(col: InputColumn) -> list[str]:
    """Bins of a categorical input: its indicators, then rows on none of them."""
    return col.feature_names() + [f"{col.name}={NONE_BIN}"]


def present_shares(col: InputColumn, values, missing: float) -> np.ndarray:
    """A categorical input's bin counts (or shares) with its ``missing`` rows (or share)
    taken out: from the ``<missing>`` indicator when the model has one, else from the
    "none" bin, where missing rows land then.

    Drift of the levels is measured on the rows that have a level, so a change in
    missingness alone (reported and thresholded as the missing-rate change) does not
    also count as a level shift.
    """
    v = np.array(values, dtype=np.float64)
    if col.missing_level:
        return np.delete(v, len(col.feature_names()) - 1)     # <missing> is the last one
    v[-1] = max(v[-1] - missing, 0.0)
    return v


def categorical_counts(X: np.ndarray, sl: slice) -> np.ndarray:
    """Rows on each indicator of a categorical input, then rows on none."""
    block = X[:, sl]
    on = block.sum(axis=0)
    return np.append(on, X.shape[0] - on.sum())


class _Moments:
    """Count, mean and sum of squared deviations, merged chunk by chunk (Chan)."""

    def __init__(self, width: int = 1):
        self.n = 0.0
        self.mean = np.zeros(width)
        self.m2 = np.zeros(width)

    def update(self, v: np.ndarray) -> None:
        m = v.shape[0]
        if m == 0:
            return
        mc = v.mean(axis=0)
        m2c = ((v - mc) ** 2).sum(axis=0)
        if self.n == 0:
            self.n, self.mean, self.m2 = float(m), np.atleast_1d(mc), np.atleast_1d(m2c)
            return
        total = self.n + m
        delta = mc - self.mean
        self.mean = self.mean + delta * m / total
        self.m2 = self.m2 + m2c + delta * delta * self.n * m / total
        self.n = total

    @property
    def sd(self) -> np.ndarray:
        return np.sqrt(self.m2 / self.n) if self.n > 0 else np.zeros_like(self.m2)

    def __add__(self, other: "_Moments") -> "_Moments":
        if other.n == 0:
            return self
        if self.n == 0:
            return other
        out = _Moments()
        out.n = self.n + other.n
        delta = other.mean - self.mean
        out.mean = self.mean + delta * other.n / out.n
        out.m2 = self.m2 + other.m2 + delta * delta * self.n * other.n / out.n
        return out


def _row_priority(rows: np.ndarray, seed: int) -> np.ndarray:
    """A well-mixed 64-bit hash of row numbers (splitmix64)."""
    with np.errstate(over="ignore"):
        z = rows.astype(np.uint64) ^ np.uint64(seed * 0x9E3779B97F4A7C15 % 2**64)
        z = z + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


class RowSample:
    """A uniform sample of encoded rows: the ``capacity`` rows of smallest hash.

    The choice depends only on row numbers, never on chunk boundaries, and two
    samples merge by keeping the smallest hashes again.
    """

    def __init__(self, width: int, capacity: int = SAMPLE_ROWS, seed: int = 0):
        self.capacity = max(1, min(capacity, SAMPLE_ELEMENTS // max(width, 1)))
        self.seed = seed
        self.key = np.empty(0, dtype=np.uint64)
        self.X = np.empty((0, width))
        self.y = np.empty(0)
        self.w = np.empty(0)
        self.fold = np.empty(0, dtype=np.int64)

    def update(self, X, y, w, fold, rows) -> None:
        key = _row_priority(rows, self.seed)
        w = np.ones(len(y)) if w is None else w
        if len(key) + len(self.key) > self.capacity:
            # only this chunk's candidates below the current cut-off can enter
            if len(self.key) >= self.capacity:
                cut = self.key.max()
                take = key < cut
                X, y, w, fold, key = X[take], y[take], w[take], fold[take], key[take]
        if len(key) == 0:
            return
        keys = np.concatenate([self.key, key])
        keep = np.argsort(keys, kind="stable")[:self.capacity]
        self.key = keys[keep]
        self.X = np.concatenate([self.X, np.asarray(X)])[keep]
        self.y = np.concatenate([self.y, y])[keep]
        self.w = np.concatenate([self.w, w])[keep]
        self.fold = np.concatenate([self.fold, fold])[keep]

    def __add__(self, other: "RowSample") -> "RowSample":
        out = RowSample(self.X.shape[1], self.capacity, self.seed)
        out.capacity = self.capacity
        for part in (self, other):
            if len(part.key):
                keys = np.concatenate([out.key, part.key])
                keep = np.argsort(keys, kind="stable")[:out.capacity]
                out.key = keys[keep]
                out.X = np.concatenate([out.X, part.X])[keep]
                out.y = np.concatenate([out.y, part.y])[keep]
                out.w = np.concatenate([out.w, part.w])[keep]
                out.fold = np.concatenate([out.fold, part.fold])[keep]
        return out


class TrainingProfiler:
    """Accumulates the input profile and the row sample during the statistics pass.

    Parameters
    ----------
    inputs : list of InputColumn
        The model's inputs (fill values may still be placeholders: only kinds,
        levels and feature layout are used).
    na_values : sequence of str
        Declared missing-value spellings.
    seed : int
        Seed of the row sample's hash.
    """

    def __init__(self, inputs: list[InputColumn], na_values=(), seed: int = 0):
        self.inputs = list(inputs)
        self.markers = MissingMarkers(tuple(na_values))
        self.slices = feature_slices(self.inputs)
        width = sum(len(c.feature_names()) for c in self.inputs)
        self.rows = 0
        self.distribution = {c.name: ValueDistribution() for c in self.inputs
                             if c.kind != "categorical"}
        self.moments = {name: _Moments() for name in self.distribution}
        self.missing = {c.name: 0 for c in self.inputs}
        self.cat_counts = {c.name: np.zeros(len(categorical_bins(c))) for c in self.inputs
                           if c.kind == "categorical"}
        self.features = _Moments(width)
        self.sample = RowSample(width, seed=seed)

    def update(self, batch: pa.RecordBatch, keep: np.ndarray, X: np.ndarray, y: np.ndarray,
               w: np.ndarray | None, fold: np.ndarray, rows: np.ndarray) -> None:
        """Add one block: the raw ``batch`` (all rows), ``keep`` (rows with a target) and
        the kept rows' encoded ``X``, target, weights, folds and row numbers."""
        all_kept = bool(keep.all())
        self.rows += X.shape[0]
        for col in self.inputs:
            if col.kind == "categorical":
                miss = categorical_missing(batch, col, self.markers)
                self.missing[col.name] += int((miss if all_kept else miss[keep]).sum())
                self.cat_counts[col.name] += categorical_counts(X, self.slices[col.name])
                continue
            v = numeric_values(batch, col.name, self.markers)
            if not all_kept:
                v = v[keep]
            present = v[~np.isnan(v)]
            self.missing[col.name] += int(v.size - present.size)
            if present.size:
                self.distribution[col.name].update(present)
                self.moments[col.name].update(present)
        self.features.update(X)
        self.sample.update(X, y, w, fold, rows)

    def __add__(self, other: "TrainingProfiler") -> "TrainingProfiler":
        """The profile of the rows of both (disjoint) parts."""
        out = TrainingProfiler.__new__(TrainingProfiler)
        out.inputs, out.markers, out.slices = self.inputs, self.markers, self.slices
        out.rows = self.rows + other.rows
        out.distribution = {c: d + other.distribution[c] for c, d in self.distribution.items()}
        out.moments = {c: m + other.moments[c] for c, m in self.moments.items()}
        out.missing = {c: v + other.missing[c] for c, v in self.missing.items()}
        out.cat_counts = {c: v + other.cat_counts[c] for c, v in self.cat_counts.items()}
        out.features = self.features + other.features
        out.sample = self.sample + other.sample
        return out

    # ------------------------------------------------------------------ results
    def inputs_profile(self) -> tuple[dict, dict[str, np.ndarray]]:
        """Per-input profile (JSON) and the numeric inputs' CDFs (arrays)."""
        out, arrays = {}, {}
        n = max(self.rows, 1)
        points_all, cdf_all, offsets = [], [], [0]
        ecdf_names = []
        for col in self.inputs:
            entry = {"kind": col.kind, "missing_rate": self.missing[col.name] / n}
            if col.kind == "categorical":
                counts = self.cat_counts[col.name]
                entry.update(bins=categorical_bins(col),
                             freq=(counts / max(counts.sum(), 1)).tolist(), unseen_rate=0.0)
            else:
                dist = self.distribution[col.name]
                points, cdf = dist.ecdf()
                mom = self.moments[col.name]
                edges = quantile_edges(points, cdf, N_BINS)
                entry.update(count=int(mom.n), cdf_source=dist.method(), mean=float(mom.mean[0]), sd=float(mom.sd[0]),
                             min=float(points[0]) if points.size else None,
                             max=float(points[-1]) if points.size else None,
                             edges=edges.tolist(),
                             freq=bin_frequencies(points, cdf, edges).tolist()
                             if points.size else [],
                             quantiles=dict(zip(map(str, QUANTILE_PROBS), quantiles(
                                 points, cdf, QUANTILE_PROBS).tolist())) if points.size else {})
                ecdf_names.append(col.name)
                points_all.append(points)
                cdf_all.append(cdf)
                offsets.append(offsets[-1] + points.size)
            out[col.name] = entry
        arrays["drift_points"] = np.concatenate(points_all) if points_all else np.empty(0)
        arrays["drift_cdf"] = np.concatenate(cdf_all) if cdf_all else np.empty(0)
        arrays["drift_offsets"] = np.array(offsets, dtype=np.int64)
        return {"inputs": out, "ecdf_inputs": ecdf_names}, arrays

    def finish(self, coef: np.ndarray, intercept: float, fold_models: dict | None,
               exact_mean: float | None, exact_sd: float | None, features: list[str]
               ) -> tuple[dict, dict[str, np.ndarray]]:
        """The whole drift profile once the model is fitted.

        Parameters
        ----------
        coef, intercept : the selected fit.
        fold_models : dict fold -> (coef, intercept), optional
            Each fold's model at the selected (alpha, l1_ratio): gives held-out
            residuals for the sampled rows.
        exact_mean, exact_sd : float, optional
            Mean and sd of the training predictions from the statistics.
        features : list of str
            Encoded feature names.
        """
        doc, arrays = self.inputs_profile()
        s = self.sample
        fitted = s.X @ coef + intercept if len(s.y) else np.empty(0)
        points, cdf = ecdf_from_sample(fitted)
        edges = quantile_edges(points, cdf, N_BINS)
        pred = {"edges": edges.tolist(), "freq": bin_frequencies(points, cdf, edges).tolist()
                if points.size else [], "sample_rows": int(len(s.y)),
                "mean": exact_mean if exact_mean is not None else float(fitted.mean()),
                "sd": exact_sd if exact_sd is not None else float(fitted.std()),
                "source": "bins from a uniform row sample; mean and sd exact"
                if exact_mean is not None else "uniform row sample"}
        arrays["drift_prediction_points"], arrays["drift_prediction_cdf"] = points, cdf
        resid = s.y - fitted
        residuals = {"train": _residual_summary(resid, s.w)}
        if fold_models:
            held = np.empty_like(s.y)
            for k, (b, b0) in fold_models.items():
                rows = s.fold == k
                held[rows] = s.y[rows] - (s.X[rows] @ b + b0)
            ok = np.isin(s.fold, list(fold_models))
            residuals["cv"] = _residual_summary(held[ok], s.w[ok])
        # a thinned sample of (fitted, residual) pairs for the report's residual plot
        show = np.argsort(s.key, kind="stable")[:1000]
        arrays["report_fitted"], arrays["report_residual"] = fitted[show], resid[show]
        feat_sd = self.features.sd
        doc.update(version=PROFILE_VERSION, rows=int(self.rows), n_bins=N_BINS,
                   prediction=pred, residuals=residuals,
                   feature_sd=dict(zip(features, map(float, feat_sd))),
                   method={"numeric_cdf": f"exact up to {CDF_POINTS} distinct values, else "
                                          f"t-digest k={DIGEST_K} read at {CDF_POINTS} ranks "
                                          "(rank error ~1%); deterministic",
                           "bins": f"{N_BINS} quantile bins, right-closed, frequencies from "
                                   "that CDF",
                           "weights": "unweighted"})
        return doc, arrays


def _residual_summary(r: np.ndarray, w: np.ndarray) -> dict:
    if r.size == 0:
        return {"rows": 0}
    w = w / w.sum() if w.sum() > 0 else np.full(r.size, 1.0 / r.size)
    mean = float(w @ r)
    qs = np.quantile(r, QUANTILE_PROBS)
    return {"rows": int(r.size), "mean": mean, "sd": float(np.sqrt(w @ (r - mean) ** 2)),
            "mae": float(w @ np.abs(r)), "rmse": float(np.sqrt(w @ (r * r))),
            "quantiles": dict(zip(map(str, QUANTILE_PROBS), map(float, qs)))}

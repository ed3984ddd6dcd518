"""The monitoring job: stream a new table through a model and compare it with the
training profile stored in the model.

One streamed pass (memory O(chunk x features + profile size)) reduces the new
rows to additive summaries (:mod:`enet.monitor.drift`): bin counts on the
training quantile bins, interval counts and sums between the training CDF's
points, moments, missing and unseen-level counts, the same for the predictions,
and with labels the squared and absolute errors. Everything is computed from
those summaries, so the result does not depend on how the table is chunked.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field, replace

import numpy as np

from enet._fs import GENERATOR
from enet.data.encode import ScoreCounts
from enet.data.manifest import InputColumn
from enet.data.readers import DEFAULT_CHUNK_BYTES, CsvOptions, open_source
from enet.exceptions import DataError, ModelError
from enet.model import Model
from enet.monitor.drift import IntervalCounts, bin_counts, ks_pvalue, psi
from enet.monitor.profile import (categorical_counts, categorical_missing, feature_slices,
                                  has_profile, numeric_values, present_shares)
from enet.monitor.thresholds import Thresholds

__all__ = ["monitor_file", "monitor_table", "MonitorResult", "impact_shares", "profile_ecdf"]


@dataclass
class MonitorResult:
    """What a monitor run found (``to_json`` is the ``--json`` output).

    Attributes
    ----------
    status : {"healthy", "breached", "insufficient"}
    breaches : list of str
        One line per breached threshold.
    features : list of dict
        Per input column, most impactful drift first.
    prediction : dict
        Drift of the predictions.
    accuracy : dict or None
        With labels: RMSE, MAE, R^2 and their gaps to the CV estimate.
    """

    rows: int
    status: str
    breaches: list[str]
    features: list[dict]
    prediction: dict
    accuracy: dict | None
    thresholds: dict
    data: str
    model: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        """0 healthy (or too few rows to judge), 1 thresholds breached."""
        return 1 if self.status == "breached" else 0

    def to_json(self) -> dict:
        return _finite({"generator": GENERATOR, "status": self.status, "exit_code": self.exit_code, "rows": self.rows,
                        "data": self.data, "model": self.model, "breaches": self.breaches,
                        "notes": self.notes, "features": self.features,
                        "prediction": self.prediction, "accuracy": self.accuracy,
                        "thresholds": self.thresholds})


def _finite(obj):
    """JSON-safe: NaN and infinities become None."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    if isinstance(obj, np.generic):
        return _finite(obj.item())
    return obj


def profile_ecdf(model: Model, name: str) -> tuple[np.ndarray, np.ndarray]:
    """The training CDF (points, cdf) of a numeric input, from the model's arrays."""
    drift = model.profile["drift"]
    k = drift["ecdf_inputs"].index(name)
    off = model.arrays["drift_offsets"]
    sl = slice(int(off[k]), int(off[k + 1]))
    return model.arrays["drift_points"][sl], model.arrays["drift_cdf"][sl]


def impact_shares(model: Model) -> dict[str, float]:
    """Each input's share of the model's output: ``sum |b_j| sd_j`` over its features,
    divided by the sum over all features (sd from the training profile)."""
    sd = model.profile["drift"]["feature_sd"]
    contrib = np.array([abs(b) * sd.get(f, 0.0) for f, b in zip(model.features, model.coef)])
    total = contrib.sum()
    return {name: float(contrib[sl].sum() / total) if total > 0 else 0.0
            for name, sl in feature_slices(model.inputs).items()}


class _Moments:
    def __init__(self):
        self.n = 0
        self.s = 0.0
        self.ss = 0.0
        self.shift = None

    def update(self, v: np.ndarray) -> None:
        if v.size == 0:
            return
        if self.shift is None:
            self.shift = float(v[0])
        d = v - self.shift
        self.n += v.size
        self.s += float(d.sum())
        self.ss += float(d @ d)

    @property
    def mean(self) -> float:
        return self.shift + self.s / self.n if self.n else float("nan")

    @property
    def sd(self) -> float:
        if not self.n:
            return float("nan")
        m = self.s / self.n
        return math.sqrt(max(self.ss / self.n - m * m, 0.0))


class _NumericMonitor:
    def __init__(self, entry: dict, points: np.ndarray):
        self.edges = np.asarray(entry["edges"], dtype=np.float64)
        self.bins = np.zeros(self.edges.size + 1)
        self.intervals = IntervalCounts(points)
        self.moments = _Moments()
        self.missing = 0

    def update(self, v: np.ndarray) -> None:
        present = v[~np.isnan(v)]
        self.missing += int(v.size - present.size)
        self.bins += bin_counts(present, self.edges)
        self.intervals.update(present)
        self.moments.update(present)


class _Accuracy:
    def __init__(self, shift: float):
        self.shift = shift
        self.n = 0
        self.sse = self.sae = self.s = self.ss = 0.0

    def update(self, y: np.ndarray, pred: np.ndarray) -> None:
        ok = ~np.isnan(y)
        y, pred = y[ok], pred[ok]
        r = y - pred
        d = y - self.shift
        self.n += y.size
        self.sse += float(r @ r)
        self.sae += float(np.abs(r).sum())
        self.s += float(d.sum())
        self.ss += float(d @ d)


def monitor_file(model: Model, path: str | os.PathLike, target: str | None = None,
                 thresholds: Thresholds | None = None, csv_options: CsvOptions | None = None,
                 chunk_bytes: int = DEFAULT_CHUNK_BYTES, progress=None) -> MonitorResult:
    """Compare a CSV/Parquet table with the model's training profile (streamed).

    Parameters
    ----------
    model : Model
        A table model with a drift profile (trained by enet >= format version 3).
    path : path
        New data with the model's input columns (extra columns are ignored).
    target : str, optional
        Label column: adds RMSE, MAE and R^2 against the CV estimate.
    thresholds : Thresholds, optional
        Defaults as documented in :class:`Thresholds`.
    csv_options : CsvOptions, optional
        The model's missing-value spellings are always added.
    chunk_bytes : int
        Size of each chunk read.
    progress : callable, optional
        ``progress(rows, fraction)`` after each chunk.

    Returns
    -------
    MonitorResult

    Raises
    ------
    ModelError
        The model has no training profile (older format, or a matrix model).
    DataError
        Missing columns, values of the wrong type, an empty table.
    """
    _require_profile(model)
    csv_options = replace(csv_options or CsvOptions(), default_na=model.manifest.default_na,
                          na_values=tuple(dict.fromkeys(model.manifest.na_values + tuple(
                              (csv_options or CsvOptions()).na_values))))
    source = open_source(path, csv_options, chunk_bytes)
    return _monitor_source(model, source, target, thresholds or Thresholds(), progress)


def monitor_table(model: Model, data, target: str | None = None,
                  thresholds: Thresholds | None = None,
                  chunk_bytes: int = DEFAULT_CHUNK_BYTES) -> MonitorResult:
    """:func:`monitor_file` for an in-memory table (pandas/polars DataFrame, Arrow)."""
    from enet.data.readers import memory_source

    _require_profile(model)
    return _monitor_source(model, memory_source(data, "input", chunk_bytes=chunk_bytes), target,
                           thresholds or Thresholds(), None)


def _require_profile(model: Model) -> None:
    if model.manifest.layout == "matrix":
        raise ModelError("this model was trained on a sparse matrix; drift monitoring needs a "
                         "model trained on a table (CSV, Parquet or a DataFrame)")
    if not has_profile(model):
        raise ModelError("this model has no training profile (it was written before enet "
                         "model format 3); retrain it with this version of enet to monitor it")


def _monitor_source(model: Model, source, target: str | None, th: Thresholds,
                    progress) -> MonitorResult:
    drift = model.profile["drift"]
    encoder = model.encoder()
    encoder.check_columns(source.columns, source.path, allowed=[target] if target else [])
    if target is not None and target not in source.columns:
        raise DataError(f"{source.path}: target column '{target}' not found; pass the label "
                        f"column with --target, or leave --target out to check drift only")
    if target is not None and target in model.manifest.input_names:
        raise DataError(f"{source.path}: '{target}' is an input of the model, not its target "
                        f"({model.manifest.target})")
    slices = feature_slices(model.inputs)
    numeric = {c.name: _NumericMonitor(drift["inputs"][c.name], profile_ecdf(model, c.name)[0])
               for c in model.inputs if c.kind != "categorical"}
    categorical = {c.name: np.zeros(len(drift["inputs"][c.name]["bins"]))
                   for c in model.inputs if c.kind == "categorical"}
    cat_missing = {name: 0 for name in categorical}
    pred_mon = _NumericMonitor(drift["prediction"],
                               model.arrays["drift_prediction_points"])
    accuracy = _Accuracy(model.profile.get("target", {}).get("mean", 0.0)) if target else None
    counts = ScoreCounts()
    cols = {c.name: c for c in model.inputs}
    for batch, X, _ in encoder.batches(source, numeric=[target] if target else [],
                                       counts=counts,
                                       progress=progress and (lambda n, f: progress(n, f))):
        for name, mon in numeric.items():
            mon.update(numeric_values(batch, name, encoder.markers))
        for name in categorical:
            categorical[name] += categorical_counts(X, slices[name])
            cat_missing[name] += int(categorical_missing(batch, cols[name],
                                                         encoder.markers).sum())
        pred = X @ model.coef + model.intercept
        pred_mon.update(pred)
        if accuracy is not None:
            y = batch.column(batch.schema.get_field_index(target)).to_numpy(
                zero_copy_only=False).astype(np.float64)
            bad = np.isinf(y)
            if bad.any():
                i = int(np.flatnonzero(bad)[0])
                raise DataError(f"{source.path}: target '{target}' row {counts.rows - len(y) + i + 1}"
                                f" is {y[i]}; infinite values are not allowed: fix or drop the "
                                f"row")
            accuracy.update(y, pred)
    n = counts.rows
    if n == 0:
        raise DataError(f"{source.path}: no data rows (only a header?)")
    impact = impact_shares(model)
    features = []
    for col in model.inputs:
        entry = drift["inputs"][col.name]
        if col.kind == "categorical":
            row = _categorical_drift(col, entry, categorical[col.name], cat_missing[col.name],
                                     n, counts.unseen.get(col.name, 0) / n)
        else:
            row = _numeric_drift(col.name, entry, numeric[col.name], profile_ecdf(model,
                                                                                  col.name)[1], n)
        row["impact"] = impact[col.name]
        row["weighted_drift"] = row["impact"] * (row["psi"] if math.isfinite(row["psi"]) else 0)
        features.append(row)
    features.sort(key=lambda r: (-r["weighted_drift"], -_num(r["psi"]), r["name"]))
    pred_row = _numeric_drift("prediction", drift["prediction"], pred_mon,
                              model.arrays["drift_prediction_cdf"], n)
    pred_row.update(mean_train=drift["prediction"]["mean"], sd_train=drift["prediction"]["sd"])
    acc = _accuracy_summary(model, accuracy) if accuracy is not None else None
    breaches, notes = _judge(features, pred_row, acc, th)
    status = "breached" if breaches else "healthy"
    if n < th.min_rows:
        notes.append(f"only {n} rows (< min_rows {th.min_rows}): statistics are shown but do "
                     f"not alarm")
        status = "insufficient"
    if counts.extra_columns:
        notes.append(f"ignored {len(counts.extra_columns)} column(s) the model does not use")
    return MonitorResult(n, status, breaches, features, pred_row, acc, th.to_json(),
                         source.path, notes=notes)


def _num(x) -> float:
    return x if isinstance(x, float) and math.isfinite(x) else -1.0


def _numeric_drift(name: str, entry: dict, mon: _NumericMonitor, cdf: np.ndarray,
                   n: int) -> dict:
    iv = mon.intervals
    sd = entry.get("sd") or 0.0
    ks = iv.ks(cdf) if iv.n else float("nan")
    w = iv.wasserstein(cdf) if iv.n else float("nan")
    count = entry.get("count", entry.get("sample_rows", 0))
    miss_train = entry.get("missing_rate", 0.0)
    return {"name": name, "kind": entry.get("kind", "numeric"),
            "psi": psi(entry["freq"], mon.bins) if iv.n else float("nan"),
            "ks": ks, "ks_pvalue": ks_pvalue(ks, count, iv.n) if iv.n else float("nan"),
            "wasserstein": w, "wasserstein_sd": w / sd if sd > 0 else
            (0.0 if w == 0 else float("inf")),
            "missing_rate_train": miss_train, "missing_rate_new": mon.missing / n,
            "missing_change": mon.missing / n - miss_train, "unseen_rate": 0.0,
            "mean_train": entry.get("mean"), "mean_new": mon.moments.mean,
            "sd_train": sd, "sd_new": mon.moments.sd,
            "bins": {"edges": list(entry["edges"]), "train": list(entry["freq"]),
                     "new": (mon.bins / max(mon.bins.sum(), 1)).tolist()}}


def _categorical_drift(col: InputColumn, entry: dict, counts: np.ndarray, missing: int,
                       n: int, unseen_rate: float) -> dict:
    miss_train = entry.get("missing_rate", 0.0)
    missing_rate = missing / n
    level_psi = psi(present_shares(col, entry["freq"], miss_train),
                    present_shares(col, counts, missing))
    return {"name": col.name, "kind": "categorical", "psi": level_psi,
            "ks": float("nan"), "ks_pvalue": float("nan"), "wasserstein": float("nan"),
            "wasserstein_sd": float("nan"), "missing_rate_train": miss_train,
            "missing_rate_new": missing_rate, "missing_change": missing_rate - miss_train,
            "unseen_rate": unseen_rate,
            "bins": {"labels": list(entry["bins"]), "train": list(entry["freq"]),
                     "new": (counts / max(counts.sum(), 1)).tolist()}}


def _accuracy_summary(model: Model, acc: _Accuracy) -> dict:
    if acc.n == 0:
        return {"rows": 0, "note": "every label is missing"}
    m = model.metrics
    mean_d = acc.s / acc.n
    sst = acc.ss - acc.n * mean_d * mean_d
    rmse = math.sqrt(acc.sse / acc.n)
    mae = acc.sae / acc.n
    cv = model.profile["drift"].get("residuals", {}).get("cv", {})
    cv_mae = cv.get("mae")
    out = {"rows": acc.n, "rmse": rmse, "mae": mae,
           "r2": 1.0 - acc.sse / sst if sst > 0 else float("nan"),
           "cv_rmse": m["cv_rmse"], "cv_mae": cv_mae, "cv_r2": m.get("cv_r2"),
           "rmse_gap": rmse / m["cv_rmse"] - 1.0 if m["cv_rmse"] > 0 else float("nan"),
           "mae_gap": mae / cv_mae - 1.0 if cv_mae else float("nan")}
    return out


def _judge(features: list[dict], pred: dict, acc: dict | None, th: Thresholds
           ) -> tuple[list[str], list[str]]:
    """Breached thresholds (one line each) and notes (drift that does not alarm)."""
    breaches, notes = [], []
    for r in features:
        reasons = []
        if _num(r["psi"]) > th.psi:
            reasons.append(f"PSI {r['psi']:.3g} > {th.psi:g}")
        if th.ks is not None and _num(r["ks"]) > th.ks:
            reasons.append(f"KS {r['ks']:.3g} > {th.ks:g}")
        if _num(r["wasserstein_sd"]) > th.wasserstein_sd:
            reasons.append(f"Wasserstein/sd {r['wasserstein_sd']:.3g} > {th.wasserstein_sd:g}")
        if abs(r["missing_change"]) > th.missing_rate_change:
            reasons.append(f"missing rate {r['missing_rate_train']:.1%} -> "
                           f"{r['missing_rate_new']:.1%}")
        if r["unseen_rate"] > th.unseen_rate:
            reasons.append(f"unseen levels in {r['unseen_rate']:.1%} of rows")
        r["drift"] = reasons
        r["alarm"] = bool(reasons) and r["impact"] >= th.min_impact
        if r["alarm"]:
            breaches.append(f"input '{r['name']}' (impact {r['impact']:.1%}): "
                            + "; ".join(reasons))
        elif reasons:
            notes.append(f"input '{r['name']}' drifts ({'; '.join(reasons)}) but has impact "
                         f"{r['impact']:.1%} < {th.min_impact:.0%}: not alarming")
    if _num(pred["psi"]) > th.prediction_psi:
        breaches.append(f"predictions: PSI {pred['psi']:.3g} > {th.prediction_psi:g}")
    if acc and acc.get("rows"):
        if _num(acc["rmse_gap"]) > th.rmse_increase:
            breaches.append(f"RMSE {acc['rmse']:.4g} is {acc['rmse_gap']:.1%} above the CV "
                            f"estimate {acc['cv_rmse']:.4g} (limit {th.rmse_increase:.0%})")
        if _num(acc["mae_gap"]) > th.mae_increase:
            breaches.append(f"MAE {acc['mae']:.4g} is {acc['mae_gap']:.1%} above the CV "
                            f"estimate {acc['cv_mae']:.4g} (limit {th.mae_increase:.0%})")
    return breaches, notes

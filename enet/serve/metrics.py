"""Prometheus metrics of one service instance, on its own CollectorRegistry.

Nothing is registered at import time: :class:`ServeMetrics` builds every metric on
the registry it is given (one per app, so tests and workers never share state).
Predictions and shadow divergences are recorded with :class:`ArrayHistogram`, which
bins a whole request's values with numpy instead of one ``observe`` per row. The
drift gauges (``enet_drift_*``) are computed at scrape time by :class:`DriftCollector`
from the serving deployments' rolling windows (:mod:`enet.serve.window`).
"""

from __future__ import annotations

import bisect
import threading

import numpy as np
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector
from prometheus_client.samples import Sample

__all__ = ["ServeMetrics", "ArrayHistogram", "RouteMetrics", "DriftCollector",
           "LATENCY_BUCKETS", "prediction_buckets"]

LATENCY_BUCKETS = (0.0001, 0.00025, 0.0005, 0.00075, 0.001, 0.0015, 0.002, 0.003, 0.005,
                   0.0075, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
DIVERGENCE_BUCKETS = tuple(float(x) for x in 10.0 ** np.arange(-9, 4))


def prediction_buckets(model) -> tuple[float, ...]:
    """Bucket bounds for a model's predictions: the training deciles (from the drift
    profile) and mean +- 2 and 3 sd; mean + sd x (-3 ... 3) without a profile."""
    pred = ((model.profile or {}).get("drift") or {}).get("prediction") or {}
    mean, sd = pred.get("mean"), pred.get("sd")
    if mean is None or not sd or not np.isfinite(sd) or sd <= 0:
        mean = float(model.intercept)
        sd = max(float(model.metrics.get("cv_rmse") or 1.0), 1e-12)
    edges = list(pred.get("edges") or [mean + s * sd for s in (-1, -0.5, 0, 0.5, 1)])
    edges += [mean + s * sd for s in (-3, -2, 2, 3)]
    return tuple(sorted({float(f"{e:.6g}") for e in edges if np.isfinite(e)}))


class _Series:
    __slots__ = ("edges", "edge_list", "counts", "total", "lock")

    def __init__(self, edges):
        self.edges = np.asarray(sorted(set(edges)), dtype=np.float64)
        self.edge_list = self.edges.tolist()
        self.counts = np.zeros(self.edges.size + 1, dtype=np.int64)
        self.total = 0.0
        self.lock = threading.Lock()

    def observe(self, values: np.ndarray) -> None:
        """Add a request's values: bucket i counts values <= edges[i] (Prometheus ``le``)."""
        if values.size == 1:
            v = float(values[0])
            with self.lock:
                self.counts[bisect.bisect_left(self.edge_list, v)] += 1
                self.total += v
            return
        idx = np.searchsorted(self.edges, values, side="left")
        binned = np.bincount(idx, minlength=self.counts.size)
        with self.lock:
            self.counts += binned
            self.total += float(values.sum())


class ArrayHistogram(Collector):
    """A histogram family whose series each have their own bucket bounds."""

    def __init__(self, name: str, documentation: str, labelnames: tuple[str, ...],
                 registry: CollectorRegistry):
        self.name, self.documentation, self.labelnames = name, documentation, labelnames
        self._series: dict[tuple[str, ...], _Series] = {}
        registry.register(self)

    def series(self, labels: tuple[str, ...], edges) -> _Series:
        """The series for ``labels`` (created with ``edges`` on first use)."""
        s = self._series.get(labels)
        if s is None:
            s = self._series.setdefault(labels, _Series(edges))
        return s

    def collect(self):
        family = HistogramMetricFamily(self.name, self.documentation, labels=self.labelnames)
        for labels, s in list(self._series.items()):
            with s.lock:
                counts, total = s.counts.copy(), s.total
            cumulative = np.cumsum(counts)
            buckets = [(repr(float(e)), int(c)) for e, c in zip(s.edges, cumulative[:-1])]
            buckets.append(("+Inf", int(cumulative[-1])))
            family.add_metric(list(labels), buckets, None)
            # _count and _sum even with negative bounds (add_metric drops them then)
            named = dict(zip(self.labelnames, labels))
            family.samples.append(Sample(self.name + "_count", named, int(cumulative[-1])))
            family.samples.append(Sample(self.name + "_sum", named, total))
        yield family

    def describe(self):
        return [HistogramMetricFamily(self.name, self.documentation, labels=self.labelnames)]


class ServeMetrics:
    """Every metric the service exports (names start with ``enet_``)."""

    def __init__(self, registry: CollectorRegistry | None = None):
        r = self.registry = registry if registry is not None else CollectorRegistry()
        self.requests = Counter("enet_requests", "HTTP requests by endpoint, model version, "
                                "route (champion, canary) and status code",
                                ["endpoint", "model", "version", "route", "status"], registry=r)
        self.latency = Histogram("enet_request_duration_seconds", "Time from the request's "
                                 "arrival to the end of its response",
                                 ["endpoint", "model", "version", "route"],
                                 buckets=LATENCY_BUCKETS, registry=r)
        self.in_flight = Gauge("enet_requests_in_flight", "Requests being handled", registry=r)
        self.rows = Counter("enet_rows_scored", "Rows scored, by model version and route "
                            "(champion, canary, shadow)", ["model", "version", "route"],
                            registry=r)
        self.predictions = ArrayHistogram("enet_prediction", "Predictions returned (buckets "
                                          "around the training predictions)",
                                          ("model", "version", "route"), r)
        self.validation_failures = Counter("enet_validation_failures", "Requests refused, by "
                                           "kind of error", ["endpoint", "kind"], registry=r)
        self.missing = Counter("enet_missing_values", "Missing values filled as in training, "
                               "by input column", ["model", "version", "feature"], registry=r)
        self.unseen = Counter("enet_unseen_levels", "Levels not seen in training (scored as "
                              "<other>), by input column", ["model", "version", "feature"],
                              registry=r)
        self.shadow_divergence = ArrayHistogram("enet_shadow_divergence", "|shadow - champion| "
                                                "prediction per row", ("model", "version"), r)
        self.divergence_buckets = DIVERGENCE_BUCKETS
        self.shadow_failures = Counter("enet_shadow_failures", "Requests the shadow model "
                                       "could not score", ["model", "version", "kind"],
                                       registry=r)
        self.model_info = Gauge("enet_model_info", "The model version serving each role (1)",
                                ["role", "model", "version", "sha256"], registry=r)
        self.load_seconds = Gauge("enet_model_load_seconds", "Time to load and verify the "
                                  "serving version", ["role", "model", "version"], registry=r)
        self.reloads = Counter("enet_model_reloads", "Reload attempts by role and result "
                               "(swapped, failed)", ["role", "result"], registry=r)
        self.reload_failed = Gauge("enet_model_reload_failed", "1 while the newest version of "
                                   "a role failed to load and an older one serves",
                                   ["role", "model", "version"], registry=r)

    def watch_drift(self, deployments) -> None:
        """Export the drift gauges of ``deployments``' serving versions (at scrape time)."""
        self.registry.register(DriftCollector(deployments))

    def route(self, model: str, version: str, route: str, buckets) -> "RouteMetrics":
        return RouteMetrics(self, model, version, route, buckets)


class RouteMetrics:
    """The metric children of one (model, version, route), resolved once."""

    def __init__(self, metrics: ServeMetrics, model: str, version: str, route: str, buckets):
        self.metrics, self.model, self.version, self.route = metrics, model, version, route
        self.rows = metrics.rows.labels(model, version, route)
        self.predictions = metrics.predictions.series((model, version, route), buckets)
        self._requests: dict[tuple[str, int], object] = {}
        self._latency: dict[str, object] = {}

    def scored(self, predictions: np.ndarray, counts) -> None:
        """Rows, predictions, and what was filled or unseen (by input column)."""
        self.rows.inc(predictions.size)
        if predictions.size:
            self.predictions.observe(predictions)
        for name, k in counts.missing.items():
            self.metrics.missing.labels(self.model, self.version, name).inc(k)
        for name, k in counts.unseen.items():
            self.metrics.unseen.labels(self.model, self.version, name).inc(k)

    def finished(self, endpoint: str, status: int, seconds: float) -> None:
        key = (endpoint, status)
        child = self._requests.get(key)
        if child is None:
            child = self._requests[key] = self.metrics.requests.labels(
                endpoint, self.model, self.version, self.route, str(status))
        child.inc()
        hist = self._latency.get(endpoint)
        if hist is None:
            hist = self._latency[endpoint] = self.metrics.latency.labels(
                endpoint, self.model, self.version, self.route)
        hist.observe(seconds)


_SERIES = ("model", "version", "route")
_FEATURE = (*_SERIES, "feature")


class DriftCollector(Collector):
    """Drift gauges of every serving deployment with a window, computed when scraped.

    Only the current deployments are exported, so a reloaded version's gauges
    replace the previous version's (and start from an empty window).
    """

    def __init__(self, deployments):
        self.deployments = deployments

    @staticmethod
    def _families() -> dict[str, GaugeMetricFamily]:
        spec = {
            "psi": ("enet_drift_psi", "PSI of an input over the drift window against the "
                    "training profile (numeric: training quantile bins; categorical: the "
                    "model's level indicators)", _FEATURE),
            "missing": ("enet_drift_missing_rate", "Share of the window's rows with the input "
                        "missing", _FEATURE),
            "unseen": ("enet_drift_unseen_rate", "Share of the window's rows with a level not "
                       "seen in training (categorical inputs)", _FEATURE),
            "train_missing": ("enet_drift_training_missing_rate", "Share of the training rows "
                              "with the input missing", _FEATURE),
            "impact": ("enet_drift_impact", "The input's share of the model's output "
                       "(sum |b_j| sd_j over its features, as in enet monitor)", _FEATURE),
            "prediction": ("enet_drift_prediction_psi", "PSI of the predictions over the drift "
                           "window against the training predictions", _SERIES),
            "rows": ("enet_drift_window_rows", "Rows in the drift window", _SERIES),
            "seconds": ("enet_drift_window_seconds", "Seconds of traffic the drift window "
                        "spans (less than its length after a start or a reload)", _SERIES),
        }
        return {key: GaugeMetricFamily(name, doc, labels=labels)
                for key, (name, doc, labels) in spec.items()}

    def collect(self):
        families = self._families()
        for dep in list(self.deployments.roles.values()):
            if dep.drift is None:
                continue
            stats = dep.drift.stats()
            series = [dep.name, dep.version, dep.metrics.route]
            families["rows"].add_metric(series, stats.rows)
            families["seconds"].add_metric(series, stats.seconds)
            families["prediction"].add_metric(series, stats.prediction_psi)
            for d in stats.inputs:
                labels = [*series, d.name]
                families["psi"].add_metric(labels, d.psi)
                families["missing"].add_metric(labels, d.missing_rate)
                families["train_missing"].add_metric(labels, d.training_missing_rate)
                families["impact"].add_metric(labels, d.impact)
                if d.unseen_rate is not None:
                    families["unseen"].add_metric(labels, d.unseen_rate)
        yield from families.values()

    def describe(self):
        return list(self._families().values())

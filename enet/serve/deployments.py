"""Model deployments: load and verify a version, hold the serving ones, swap atomically.

A :class:`Deployment` is a verified model with its record encoder, metric
children and drift window (:mod:`enet.serve.window`; a new version starts with an
empty one). :class:`Deployments` keeps the current one per role (champion,
challenger, shadow) in a dict that is replaced, never mutated, so a request
that picked a deployment finishes on it while a reload swaps in the next.
:class:`Reloader` watches registry aliases (and serves ``POST /admin/reload``):
a new version is loaded and verified in a worker thread, then swapped in; a
version that fails stays out, and the failure is counted, logged and shown by
``enet_model_reload_failed``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from dataclasses import dataclass

import numpy as np

from enet.data.encode import ScoreCounts
from enet.data.records import RecordEncoder
from enet.exceptions import EnetError, ModelError
from enet.model import Model, check_predictions
from enet.registry import Registry, open_registry, parse_ref
from enet.serve.metrics import RouteMetrics, ServeMetrics, prediction_buckets
from enet.serve.window import DriftWindow, WindowSpec

__all__ = ["ModelSource", "Deployment", "Deployments", "Reloader", "load_deployment"]

log = logging.getLogger("enet.serve")


@dataclass(frozen=True)
class ModelSource:
    """Where a role's model comes from: a registry alias (watched), a fixed registry
    version, or a model directory."""

    ref: str
    name: str
    version: int | None = None
    alias: str | None = None
    path: str | None = None

    @classmethod
    def parse(cls, ref: str) -> "ModelSource":
        import re

        if os.path.exists(ref) or ("@" not in ref and not re.match(r"^[^/]+/\d+$", ref)):
            path = os.path.abspath(ref)
            return cls(ref, os.path.basename(path.rstrip(os.sep)) or "model", path=path)
        name, version, alias = parse_ref(ref)
        return cls(ref, name, version=version, alias=alias)

    @property
    def watched(self) -> bool:
        return self.alias is not None

    def current_version(self, registry: Registry | None) -> int | None:
        """The version the reference points at now (None for a directory)."""
        if self.path is not None:
            return None
        if self.alias is None:
            return self.version
        version = registry.alias_version(self.name, self.alias)
        if version is None:
            raise ModelError(f"{self.ref}: no alias '{self.alias}' for model '{self.name}' in "
                             f"{registry.root}")
        return version


class Deployment:
    """A loaded, verified model serving one role."""

    def __init__(self, role: str, source: ModelSource, version: int | None, model: Model,
                 sha256: str, load_seconds: float, strict: bool, metrics: ServeMetrics,
                 window: WindowSpec | None = None):
        self.role, self.source, self.model, self.sha256 = role, source, model, sha256
        self.number = version
        self.name = source.name
        self.version = str(version) if version is not None else sha256[:12]
        self.load_seconds = load_seconds
        self.strict = strict
        self.records = RecordEncoder(model.encoder(), source="request")
        self._coef, self._intercept = model.coef, float(model.intercept)
        buckets = prediction_buckets(model)
        route = "champion" if role == "champion" else ("canary" if role == "challenger"
                                                       else "shadow")
        self.metrics: RouteMetrics = metrics.route(self.name, self.version, route, buckets)
        # a new version starts with an empty window (None: not tracked, or no profile)
        self.drift = DriftWindow.for_model(model, window)

    def score(self, columns: dict[str, list], n_rows: int) -> tuple[np.ndarray, ScoreCounts]:
        """Predictions and counts for a request's columns (counted in the drift window).

        Raises
        ------
        DataError
            Exactly as ``Model.predict`` on the same columns; or kind
            "non_finite_prediction" when a row's prediction overflows (JSON has no
            infinity, and a null would pass for a prediction).
        """
        X, predictions, counts = self._score(columns, n_rows)
        check_predictions(predictions, X, self._coef, self.model.features, source="request")
        if self.drift is not None:
            self.drift.add(X, predictions, counts)
        return predictions, counts

    def _score(self, columns: dict[str, list], n_rows: int
               ) -> tuple[np.ndarray, np.ndarray, ScoreCounts]:
        counts = ScoreCounts()
        X = self.records.encode(columns, n_rows, self.strict, counts)
        with np.errstate(over="ignore", invalid="ignore"):    # score() checks finiteness
            predictions = X @ self._coef + self._intercept
        return X, predictions, counts

    def verify(self) -> None:
        """Score one row of missing values: the model must give a finite prediction."""
        columns = {c.name: [None] for c in self.model.inputs}
        _, pred, _ = self._score(columns, 1)
        if not np.all(np.isfinite(pred)):
            raise ModelError(f"{self.name}/{self.version}: scoring a test row gave {pred[0]}")

    def describe(self) -> dict:
        return {"role": self.role, "model": self.name, "version": self.version,
                "reference": self.source.ref, "sha256": self.sha256,
                "load_seconds": round(self.load_seconds, 6)}


def load_deployment(role: str, source: ModelSource, registry: Registry | None,
                    version: int | None, strict: bool, metrics: ServeMetrics,
                    window: WindowSpec | None = None) -> Deployment:
    """Load a model version (sha256 checked), build its encoder and score a test row;
    ``window`` sets its drift window (None: no drift tracking)."""
    from enet.artifact import load_model, model_digest

    t0 = time.perf_counter()
    if source.path is not None:
        model = load_model(source.path)
        sha = model_digest(source.path)
    else:
        model = registry.load(source.name, version)
        sha = registry.get(source.name, version).sha256
    if model.manifest.layout == "matrix" and len(model.features) > 100_000:
        raise ModelError(f"{source.ref}: a matrix model with {len(model.features):,} features "
                         f"is not served by name; score it in batch")
    dep = Deployment(role, source, version, model, sha, 0.0, strict, metrics, window)
    dep.verify()
    dep.load_seconds = time.perf_counter() - t0
    return dep


class Deployments:
    """The serving deployment of each role; replaced as a whole on every swap."""

    def __init__(self, current: dict[str, Deployment], metrics: ServeMetrics):
        self._current = dict(current)
        self.metrics = metrics
        for dep in current.values():
            self._show(dep, None)

    def get(self, role: str) -> Deployment | None:
        return self._current.get(role)

    @property
    def roles(self) -> dict[str, Deployment]:
        return self._current

    def swap(self, dep: Deployment) -> Deployment | None:
        old = self._current.get(dep.role)
        current = dict(self._current)
        current[dep.role] = dep
        self._current = current                      # one reference assignment: atomic
        self._show(dep, old)
        return old

    def _show(self, dep: Deployment, old: Deployment | None) -> None:
        m = self.metrics
        if old is not None:
            try:
                m.model_info.remove(old.role, old.name, old.version, old.sha256)
                m.load_seconds.remove(old.role, old.name, old.version)
            except KeyError:
                pass
        m.model_info.labels(dep.role, dep.name, dep.version, dep.sha256).set(1)
        m.load_seconds.labels(dep.role, dep.name, dep.version).set(dep.load_seconds)


class Reloader:
    """Keeps each role on the version its reference points at."""

    def __init__(self, sources: dict[str, ModelSource], registry_path: str | None,
                 deployments: Deployments, strict: bool, metrics: ServeMetrics,
                 window: WindowSpec | None = None):
        self.sources, self.registry_path = sources, registry_path
        self.deployments, self.strict, self.metrics = deployments, strict, metrics
        self.window = window
        self._lock = asyncio.Lock()
        self._failed: dict[str, int | None] = {}
        self._registry: Registry | None = None

    def registry(self) -> Registry | None:
        if self._registry is None and any(s.path is None for s in self.sources.values()):
            self._registry = open_registry(self.registry_path)
        return self._registry

    async def check(self, retry: bool = False) -> dict[str, dict]:
        """Reload every role whose reference moved; with ``retry`` (``POST /admin/reload``)
        also versions that failed before and model directories (reread from disk).

        Returns
        -------
        dict
            Per role: ``status`` ("unchanged", "swapped" or "failed"), ``version``
            and, on failure, ``error``.
        """
        async with self._lock:
            results = {}
            for role, source in self.sources.items():
                results[role] = await asyncio.to_thread(self._check_role, role, source, retry)
            return results

    def _check_role(self, role: str, source: ModelSource, retry: bool) -> dict:
        current = self.deployments.get(role)
        try:
            version = source.current_version(self.registry())
        except EnetError as exc:
            return self._failure(role, source, None, exc)
        reread = retry and source.path is not None
        if current is not None and not reread and version == current.number:
            self._clear(role, current)
            return {"status": "unchanged", "version": current.version}
        if not retry and self._failed.get(role, -1) == version:
            return {"status": "failed", "version": str(version),
                    "error": "this version failed to load before; it is not retried until "
                             "the alias moves or POST /admin/reload"}
        try:
            dep = load_deployment(role, source, self.registry(), version, self.strict,
                                  self.metrics, self.window)
        except (EnetError, OSError, ValueError, KeyError) as exc:
            return self._failure(role, source, version, exc)
        old = self.deployments.swap(dep)
        self._clear(role, dep)
        self.metrics.reloads.labels(role, "swapped").inc()
        log.info("model swapped", extra={"event": {
            "event": "model_swapped", "role": role, "model": dep.name, "version": dep.version,
            "previous": old.version if old else None, "load_seconds": dep.load_seconds}})
        return {"status": "swapped", "version": dep.version,
                "previous": old.version if old else None}

    def _failure(self, role: str, source: ModelSource, version, exc: Exception) -> dict:
        self._failed[role] = version
        self.metrics.reloads.labels(role, "failed").inc()
        self.metrics.reload_failed.labels(role, source.name, str(version)).set(1)
        current = self.deployments.get(role)
        log.error("model reload failed", extra={"event": {
            "event": "model_reload_failed", "role": role, "model": source.name,
            "version": version, "serving": current.version if current else None,
            "error": str(exc)}})
        return {"status": "failed", "version": str(version), "error": str(exc),
                "serving": current.version if current else None}

    def _clear(self, role: str, dep: Deployment) -> None:
        if role in self._failed:
            failed = self._failed.pop(role)
            try:
                self.metrics.reload_failed.remove(role, dep.name, str(failed))
            except KeyError:
                pass

    async def watch(self, interval: float) -> None:
        """Poll the aliases every ``interval`` seconds until cancelled."""
        while True:
            await asyncio.sleep(interval)
            try:
                await self.check()
            except Exception as exc:           # keep watching whatever happens in one poll
                log.error("alias check failed", extra={"event": {
                    "event": "alias_check_failed", "error": str(exc)}})

"""The data plane: pick the deployment for a request, score it, record what happened.

Independent of HTTP (routes in :mod:`enet.serve.app` only translate), so every
decision here is a plain function of the request's columns and key.
"""

from __future__ import annotations

import hashlib
import logging
import random
from dataclasses import dataclass

import numpy as np

from enet.data.encode import ScoreCounts
from enet.exceptions import EnetError
from enet.serve.deployments import Deployment, Deployments
from enet.serve.errors import NotFound, NotReady, from_enet_error
from enet.serve.settings import ServeSettings

__all__ = ["DataPlane", "Scored", "canary_share"]

log = logging.getLogger("enet.serve")
_DATATYPES = {"numeric": "FP64", "boolean": "BOOL", "categorical": "BYTES"}


def canary_share(key: str) -> float:
    """A request key's position in [0, 1): the same key always takes the same route."""
    digest = hashlib.blake2b(key.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2.0 ** 64


@dataclass
class Scored:
    deployment: Deployment
    route: str
    predictions: np.ndarray
    counts: ScoreCounts


class DataPlane:
    """Scoring, canary and shadow routing, metadata and readiness."""

    def __init__(self, settings: ServeSettings, deployments: Deployments,
                 rng: random.Random | None = None):
        self.settings = settings
        self.deployments = deployments
        self.canary = settings.canary if settings.challenger else 0.0
        self._random = (rng or random.Random()).random

    @property
    def name(self) -> str:
        dep = self.deployments.get("champion")
        if dep is None:
            raise NotReady("the model is not loaded yet")
        return dep.name

    def ready(self) -> bool:
        return self.deployments.get("champion") is not None

    def choose(self, key: str | None) -> tuple[Deployment, str]:
        """The champion, or the challenger for a canary share of the requests."""
        roles = self.deployments.roles
        champion = roles.get("champion")
        if champion is None:
            raise NotReady("the model is not loaded yet")
        if self.canary:
            challenger = roles.get("challenger")
            share = canary_share(key) if key else self._random()
            if challenger is not None and share < self.canary:
                return challenger, "canary"
        return champion, "champion"

    def check_model(self, name: str, version: str | None = None) -> Deployment:
        """The champion if ``name`` names the served model; with ``version``, the
        champion or challenger serving that version; else 404."""
        dep = self.deployments.get("champion")
        if dep is None:
            raise NotReady("the model is not loaded yet")
        if name != dep.name:
            raise NotFound(f"model '{name}' is not served here; this server serves "
                           f"'{dep.name}'", kind="unknown_model")
        if version is not None:
            if dep.version == version:            # the champion first, whatever else serves
                return dep
            for other in self.deployments.roles.values():
                if other.name == name and other.version == version and other.role != "shadow":
                    return other
            raise NotFound(f"version '{version}' of '{name}' is not served here (serving "
                           f"{dep.version})", kind="unknown_model")
        return dep

    def predict(self, columns: dict[str, list], n_rows: int, dep: Deployment,
                route: str) -> Scored:
        """Score the columns on a deployment (from :meth:`choose` or :meth:`check_model`).

        A request with no rows and no columns (``{"rows": []}``) has no predictions;
        named columns are checked even without rows.

        Raises
        ------
        ServeError
            InvalidInput (422) naming the column, row and value.
        """
        if n_rows == 0 and not columns:
            return Scored(dep, route, np.zeros(0), ScoreCounts())
        try:
            predictions, counts = dep.score(columns, n_rows)
        except EnetError as exc:
            raise from_enet_error(exc) from None
        dep.metrics.scored(predictions, counts)
        return Scored(dep, route, predictions, counts)

    def shadow(self, columns: dict[str, list], n_rows: int, champion: Scored) -> None:
        """Score the shadow model and record its divergence (after the response)."""
        dep = self.deployments.get("shadow")
        if dep is None:
            return
        try:
            predictions, counts = dep.score(columns, n_rows)
        except EnetError as exc:
            kind = getattr(exc, "kind", "invalid")
            dep.metrics.metrics.shadow_failures.labels(dep.name, dep.version, kind).inc()
            return
        except Exception as exc:                   # the shadow must never hurt the champion
            dep.metrics.metrics.shadow_failures.labels(dep.name, dep.version, "error").inc()
            log.error("shadow scoring failed", extra={"event": {
                "event": "shadow_failed", "model": dep.name, "version": dep.version,
                "error": f"{exc.__class__.__name__}: {exc}"}})
            return
        dep.metrics.scored(predictions, counts)
        dep.metrics.metrics.shadow_divergence.series(
            (dep.name, dep.version), dep.metrics.metrics.divergence_buckets).observe(
            np.abs(predictions - champion.predictions))

    def metadata(self, name: str, version: str | None = None) -> dict:
        """Open Inference Protocol model metadata, with each input's kind and levels
        (of the champion, or of the served ``version``; 404 for any other)."""
        dep = self.check_model(name, version)
        inputs = []
        for col in dep.model.inputs:
            params = {"kind": col.kind}
            if col.kind == "categorical":
                params["levels"] = list(col.levels)
            else:
                params["fill"] = col.fill
            inputs.append({"name": col.name, "datatype": _DATATYPES[col.kind], "shape": [-1],
                           "parameters": params})
        versions = sorted({d.version for d in self.deployments.roles.values()
                           if d.name == dep.name and d.role != "shadow"})
        return {"name": dep.name, "versions": versions, "platform": "enet",
                "inputs": inputs,
                "outputs": [{"name": "prediction", "datatype": "FP64", "shape": [-1]}],
                "parameters": {"version": dep.version, "role": dep.role,
                               "alpha": dep.model.alpha,
                               "l1_ratio": dep.model.l1_ratio,
                               "target": dep.model.manifest.target,
                               "deployments": [d.describe()
                                               for d in self.deployments.roles.values()]}}

"""Service settings: one validated object, built by the CLI or from the environment."""

from __future__ import annotations

import json
import os

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["ServeSettings", "SETTINGS_ENV", "TOKEN_ENV"]

#: where ``--workers N`` passes the settings to each worker process (JSON)
SETTINGS_ENV = "ENET_SERVE_SETTINGS"
#: the bearer token of the admin endpoints (they are disabled without one)
TOKEN_ENV = "ENET_ADMIN_TOKEN"


class ServeSettings(BaseModel):
    """What ``enet serve`` runs.

    Attributes
    ----------
    model : str
        The champion: ``NAME@alias`` (watched), ``NAME/3`` or a model directory.
    registry : str, optional
        Registry directory (default ``$ENET_REGISTRY`` or ``./enet-registry``).
    challenger : str, optional
        A second model that takes a ``canary`` share of the traffic.
    canary : float
        Share of requests for the challenger, by a hash of the request-key header when
        present, at random otherwise.
    shadow : str, optional
        A model scored on every request after the response is sent; its predictions
        are compared with the champion's but never returned.
    drift_window : float
        Seconds of traffic in each served version's drift window (0: no drift
        tracking); the window advances in ``drift_slices`` steps.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str
    registry: str | None = None
    challenger: str | None = None
    canary: float = Field(0.0, ge=0.0, le=1.0)
    shadow: str | None = None
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    workers: int = Field(1, ge=1, le=64)
    max_body_bytes: int = Field(1 << 20, ge=1024)
    max_rows: int = Field(10_000, ge=1)
    poll_interval: float = Field(2.0, ge=0.0)
    admin_token: str | None = Field(None, repr=False)
    log_inputs: bool = False
    strict: bool = False
    request_key_header: str = "x-request-key"
    drift_window: float = Field(600.0, ge=0.0)
    drift_slices: int = Field(10, ge=1, le=3600)

    @model_validator(mode="after")
    def _routes(self) -> "ServeSettings":
        if self.challenger and self.shadow:
            raise ValueError("--challenger (canary) and --shadow exclude each other; pick one")
        if self.canary > 0 and not self.challenger:
            raise ValueError("--canary needs --challenger NAME@challenger")
        if self.challenger and self.canary == 0:
            raise ValueError("--challenger needs --canary FRACTION (e.g. 0.1)")
        return self

    def to_environment(self) -> str:
        """JSON for :data:`SETTINGS_ENV` (the token stays in :data:`TOKEN_ENV`)."""
        return json.dumps(self.model_dump(exclude={"admin_token"}))

    @classmethod
    def from_environment(cls) -> "ServeSettings":
        data = json.loads(os.environ[SETTINGS_ENV])
        return cls(**data, admin_token=os.environ.get(TOKEN_ENV) or None)

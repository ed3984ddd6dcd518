"""Alert thresholds of ``enet monitor`` and their documented defaults.

A thresholds file is TOML (``.toml``) or JSON (``.json``) with any of the keys
below at the top level (or under a ``[thresholds]`` table); keys not given keep
their defaults, unknown keys are refused so that a typo never silently disables
an alert.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, fields

from enet.exceptions import UsageError

__all__ = ["Thresholds", "load_thresholds"]


@dataclass(frozen=True)
class Thresholds:
    """When a monitor run counts as breached (exit code 1).

    Attributes
    ----------
    psi : float
        Feature PSI above this is drift (0.2: the usual "significant shift").
    wasserstein_sd : float
        Wasserstein-1 distance divided by the training sd above this is drift
        (numeric inputs; 0.25 = a quarter of a standard deviation of mass moved).
    ks : float or None
        KS statistic above this is drift; None (default) reports KS without
        alarming on it (with many rows its p-value is tiny for any shift).
    missing_rate_change : float
        Absolute change of an input's missing rate above this is drift (0.05).
    unseen_rate : float
        Share of rows with a categorical level not seen in training above this is
        drift (0.01).
    min_impact : float
        A drifting input alarms only if its share of the model's output
        (``sum |b_j| sd_j`` over its features / the total) is at least this
        (0.05); inputs with zero coefficients are shown but never alarm.
    prediction_psi : float
        PSI of the predictions above this is drift (0.2).
    rmse_increase, mae_increase : float
        With labels: RMSE (MAE) more than this fraction above the model's CV
        estimate is a breach (0.2 = 20% worse).
    min_rows : int
        Fewer rows than this: statistics are reported but nothing alarms (the
        run's status is "insufficient"), so that a trickle of rows cannot raise
        noisy alerts (100).
    """

    psi: float = 0.2
    wasserstein_sd: float = 0.25
    ks: float | None = None
    missing_rate_change: float = 0.05
    unseen_rate: float = 0.01
    min_impact: float = 0.05
    prediction_psi: float = 0.2
    rmse_increase: float = 0.2
    mae_increase: float = 0.2
    min_rows: int = 100

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict, source: str = "thresholds") -> "Thresholds":
        """Thresholds from a mapping, validated (unknown keys and bad values refused)."""
        if not isinstance(data, dict):
            raise UsageError(f"{source}: expected a table of thresholds")
        data = dict(data.get("thresholds", data))
        known = {f.name: f for f in fields(cls)}
        unknown = [k for k in data if k not in known]
        if unknown:
            raise UsageError(f"{source}: unknown threshold(s) {', '.join(unknown)}; known: "
                             f"{', '.join(known)}")
        for key, value in data.items():
            optional = key == "ks"
            if value is None and optional:
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)) or \
                    not value >= 0 or value != value:
                raise UsageError(f"{source}: threshold {key} must be a number >= 0; got "
                                 f"{value!r}")
            if key == "min_rows":
                if value == float("inf") or value != int(value):
                    raise UsageError(f"{source}: threshold min_rows must be a whole number of "
                                     f"rows; got {value!r}")
                data[key] = int(value)
            else:
                data[key] = float(value)
        return cls(**data)


def load_thresholds(path: str | os.PathLike | None) -> Thresholds:
    """Thresholds from a ``.toml`` or ``.json`` file; the defaults when ``path`` is None.

    Raises
    ------
    UsageError
        Missing or unreadable file, a syntax error, an unknown key or a bad value.
    """
    if path is None:
        return Thresholds()
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise UsageError(f"{path}: no such thresholds file")
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
        if path.lower().endswith(".json"):
            data = json.loads(raw)
        else:
            import tomllib
            data = tomllib.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeError) as exc:
        raise UsageError(f"{path}: cannot parse the file ({str(exc).splitlines()[0]}); write "
                         f"TOML (key = value) or JSON") from None
    return Thresholds.from_dict(data, path)

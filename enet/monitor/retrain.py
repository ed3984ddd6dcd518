"""Retrain policy: when to retrain, and retraining with the champion's settings.

A policy file (TOML or JSON) says when monitoring justifies a retrain, so that
noise does not cause retraining thrash:

* ``consecutive_breaches`` (default 3): retrain only after this many breached
  monitor runs in a row of the current champion version (a healthy run resets
  the count; runs with too few rows to judge neither count nor reset);
* ``cooldown_hours`` (default 168, one week): no retrain within this long of the
  previous one;
* ``max_rmse_increase`` (0.05) and ``allow_schema_change`` (false): the
  registry's promotion gates for the challenger against the champion;
* ``promote`` (false): move ``@champion`` to the challenger when the gates pass
  (otherwise only ``@challenger`` moves, and a person promotes);
* ``challenger_alias`` ("challenger").

Every decision, a skip included, is logged with its reason in the registry
database (:class:`enet.monitor.history.History`).
"""

from __future__ import annotations

import datetime as _dt
import json
import os
from dataclasses import asdict, dataclass, fields

from enet.exceptions import UsageError
from enet.monitor.history import History, now_utc

__all__ = ["RetrainPolicy", "load_policy", "decide", "retrain", "config_from_params"]


@dataclass(frozen=True)
class RetrainPolicy:
    """When to retrain and what to do with the result (see the module notes)."""

    consecutive_breaches: int = 3
    cooldown_hours: float = 168.0
    max_rmse_increase: float = 0.05
    allow_schema_change: bool = False
    promote: bool = False
    challenger_alias: str = "challenger"

    @classmethod
    def from_dict(cls, data: dict, source: str = "policy") -> "RetrainPolicy":
        """A validated policy (unknown keys and bad values refused)."""
        if not isinstance(data, dict):
            raise UsageError(f"{source}: expected a table of policy settings")
        data = dict(data.get("retrain", data))
        known = {f.name for f in fields(cls)}
        unknown = [k for k in data if k not in known]
        if unknown:
            raise UsageError(f"{source}: unknown setting(s) {', '.join(unknown)}; known: "
                             f"{', '.join(sorted(known))}")
        for key in ("consecutive_breaches",):
            if key in data and (isinstance(data[key], bool) or not isinstance(data[key], int)
                                or data[key] < 1):
                raise UsageError(f"{source}: {key} must be a whole number >= 1; got "
                                 f"{data[key]!r}")
        for key in ("cooldown_hours", "max_rmse_increase"):
            if key in data and (isinstance(data[key], bool) or
                                not isinstance(data[key], (int, float)) or not data[key] >= 0):
                raise UsageError(f"{source}: {key} must be a number >= 0; got {data[key]!r}")
        for key in ("allow_schema_change", "promote"):
            if key in data and not isinstance(data[key], bool):
                raise UsageError(f"{source}: {key} must be true or false; got {data[key]!r}")
        if "challenger_alias" in data:
            from enet.registry import check_name
            check_name(data["challenger_alias"], "alias")
            if data["challenger_alias"] == "champion":
                raise UsageError(f"{source}: challenger_alias cannot be 'champion'")
        return cls(**data)


def load_policy(path: str | os.PathLike | None) -> RetrainPolicy:
    """The policy in a ``.toml`` or ``.json`` file (defaults when ``path`` is None)."""
    if path is None:
        return RetrainPolicy()
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise UsageError(f"{path}: no such policy file")
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
    return RetrainPolicy.from_dict(data, path)


def decide(history: History, name: str, champion: int, policy: RetrainPolicy,
           now: _dt.datetime | None = None) -> tuple[bool, str, int]:
    """Whether the policy calls for a retrain now.

    Returns
    -------
    (retrain, reason, breaches)
        ``breaches`` is the number of consecutive breached runs of the champion.
    """
    now = now or now_utc()
    streak = 0
    for run in history.runs(name):
        if run["version"] != champion or run["status"] == "insufficient":
            continue
        if run["status"] != "breached":
            break
        streak += 1
    if streak < policy.consecutive_breaches:
        return False, (f"{streak} consecutive breached monitor run(s) of {name}/{champion}; "
                       f"the policy retrains after {policy.consecutive_breaches}"), streak
    last = [d for d in history.decisions(name) if d["decision"] == "retrained"]
    if last:
        since = now - _dt.datetime.fromisoformat(last[-1]["time"])
        wait = _dt.timedelta(hours=policy.cooldown_hours)
        if since < wait:
            until = (_dt.datetime.fromisoformat(last[-1]["time"]) + wait).isoformat(
                timespec="seconds")
            return False, (f"cool-down: last retrain at {last[-1]['time']}, next allowed from "
                           f"{until}"), streak
    return True, (f"{streak} consecutive breached monitor runs (policy: "
                  f"{policy.consecutive_breaches})"), streak


def config_from_params(params: dict, target: str):
    """The TrainConfig a model was trained with (settings added later keep defaults)."""
    from enet.train import TrainConfig

    known = {f.name for f in fields(TrainConfig)}
    kwargs = {k: v for k, v in params.items() if k in known}
    kwargs["target"] = target
    return TrainConfig(**kwargs)


def retrain(registry, ref: str, data: str | os.PathLike, policy: RetrainPolicy | None = None,
            force: bool = False, reason: str = "", csv_options=None, progress=None,
            now: _dt.datetime | None = None) -> dict:
    """Retrain a registered model on new data when the policy (or ``force``) says so.

    The challenger is trained with the champion's settings (preprocessing options,
    l1_ratio grid, folds, seed, selection, solver, stability fits), registered with
    the champion as its parent and pointed at by the challenger alias; then the
    registry's promotion gates run against the champion (and, with
    ``policy.promote``, move ``@champion`` if they pass).

    Parameters
    ----------
    registry : Registry
    ref : str
        ``NAME@alias`` (normally ``NAME@champion``) or ``NAME/V``.
    data : path
        New training table (CSV or Parquet).
    force : bool
        Retrain regardless of the policy (needs ``reason``; logged).

    Returns
    -------
    dict
        ``decision`` ("skipped" or "retrained"), ``reason``, ``champion``, and for a
        retrain ``challenger``, ``gates``, ``passed``, ``promoted``, ``stability``.
    """
    from enet.registry import parse_ref
    from enet.train import train_file

    policy = policy or RetrainPolicy()
    name, version, alias = parse_ref(str(ref))
    if alias is not None:
        version = registry.alias_version(name, alias)
        if version is None:
            raise UsageError(f"{ref}: no alias '{alias}' for model '{name}' in {registry.root}")
    if force and not reason.strip():
        raise UsageError("--force needs --reason (it is kept in the retrain log)")
    champion = registry.load(name, version)
    history = History(registry.root)
    if force:
        why = f"forced: {reason}"
    else:
        ok, why, _ = decide(history, name, version, policy, now)
        if not ok:
            history.log_decision(name, "skipped", why, version, time=now)
            return {"decision": "skipped", "reason": why, "champion": version}
    if not os.path.exists(os.fspath(data)):
        raise UsageError(f"{data}: no such file")
    config = config_from_params(champion.params, champion.manifest.target)
    model = train_file(data, config, progress, csv_options)
    v = registry.register(name, model, f"retrained from {name}/{version} on "
                          f"{os.path.basename(os.fspath(data))}",
                          {"retrained_from": str(version)}, parent=version)
    registry.set_alias(name, policy.challenger_alias, v.version, why, action="retrain")
    gates = registry.promote(name, v.version, "champion", policy.max_rmse_increase,
                             policy.allow_schema_change, dry_run=True)
    promoted = False
    if policy.promote and gates["passed"]:
        registry.promote(name, v.version, "champion", policy.max_rmse_increase,
                         policy.allow_schema_change, reason=f"retrain policy: {why}")
        promoted = True
    detail = {"gates": gates["gates"], "passed": gates["passed"], "promoted": promoted,
              "data": os.path.abspath(os.fspath(data)), "policy": asdict(policy)}
    history.log_decision(name, "retrained", why, version, v.version, detail, time=now)
    return {"decision": "retrained", "reason": why, "champion": version,
            "challenger": v.version, "gates": gates["gates"], "passed": gates["passed"],
            "promoted": promoted, "stability": gates["stability"], "model": model}

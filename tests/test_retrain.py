"""Retrain policy with a real SQLite registry and real files: consecutive breaches,
cool-down, the challenger's parent and settings, promotion gates, the decision log."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from sklearn.datasets import load_diabetes
from typer.testing import CliRunner

from enet.cli import app
from enet.monitor.history import History
from enet.monitor.retrain import RetrainPolicy, retrain
from enet.registry import Registry

runner = CliRunner()


def cli(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture
def setup(tmp_path):
    d = load_diabetes(as_frame=True).frame.rename(columns={"target": "y"})
    d["sex"] = np.where(d.sex > 0, "M", "F")
    d.to_csv(tmp_path / "train.csv", index=False)
    d.assign(bmi=d.bmi + 0.04).to_csv(tmp_path / "shifted.csv", index=False)
    d.to_parquet(tmp_path / "same.parquet")
    reg = tmp_path / "reg"
    r = cli("train", tmp_path / "train.csv", "-t", "y", "-o", tmp_path / "m", "--l1-ratio",
            "0.5,1", "--folds", "4", "--impute", "median", "--min-frequency", "3", "--seed", "5",
            "--register", "dia", "--registry", reg, "--no-report", "-q")
    assert r.exit_code == 0, r.output
    assert cli("registry", "promote", "dia", "1", "--registry", reg).exit_code == 0
    return tmp_path, reg


def monitor(reg, data):
    return cli("monitor", "--model", "dia@champion", "--data", data, "--registry", reg, "-q")


def test_policy_consecutive_breaches_cooldown_and_log(setup):
    tmp, reg = setup
    (tmp / "policy.toml").write_text("[retrain]\nconsecutive_breaches = 2\n"
                                     "cooldown_hours = 24\n")
    pol = ["--policy", tmp / "policy.toml", "--registry", reg]
    # one breached run: not enough
    assert monitor(reg, tmp / "shifted.csv").exit_code == 1
    r = cli("retrain", "--model", "dia@champion", "--data", tmp / "shifted.csv", *pol)
    assert r.exit_code == 0 and "skipped: 1 consecutive" in r.output
    # a healthy run resets the streak
    assert monitor(reg, tmp / "same.parquet").exit_code == 0
    assert monitor(reg, tmp / "shifted.csv").exit_code == 1
    r = cli("retrain", "--model", "dia@champion", "--data", tmp / "shifted.csv", *pol)
    assert "skipped: 1 consecutive" in r.output
    # two in a row: retrain
    assert monitor(reg, tmp / "shifted.csv").exit_code == 1
    r = cli("retrain", "--model", "dia@champion", "--data", tmp / "shifted.csv", *pol,
            "--report", tmp / "challenger.html")
    assert r.exit_code == 0, r.output
    assert "registered dia/2 (parent 1) as @challenger" in r.output
    assert "gate cv_rmse: pass" in r.output
    registry = Registry(reg)
    v2 = registry.get("dia", 2)
    assert v2.parent == 1 and v2.aliases == ["challenger"]
    assert registry.alias_version("dia", "champion") == 1          # the policy does not promote
    old, new = registry.load("dia", 1), registry.load("dia", 2)
    for key in ("l1_ratios", "folds", "impute", "min_frequency", "seed", "selection",
                "n_alphas", "standardize", "categorical", "exclude"):
        assert new.params[key] == old.params[key], key
    assert new.lineage["data"]["path"].endswith("shifted.csv")
    assert (tmp / "challenger.html").exists()
    # cool-down: more breaches do not retrain again within 24 hours
    assert monitor(reg, tmp / "shifted.csv").exit_code == 1
    assert monitor(reg, tmp / "shifted.csv").exit_code == 1
    r = cli("retrain", "--model", "dia@champion", "--data", tmp / "shifted.csv", *pol)
    assert r.exit_code == 0 and "skipped: cool-down" in r.output
    log = History(reg).decisions("dia")
    assert [d["decision"] for d in log] == ["skipped", "skipped", "retrained", "skipped"]
    assert log[2]["challenger"] == 2 and log[2]["detail"]["passed"] is True
    assert [g["gate"] for g in log[2]["detail"]["gates"]] == ["schema", "cv_rmse"]
    # after the cool-down (a day later) the policy retrains, and promotes when asked to
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=25)
    res = retrain(registry, "dia@champion", tmp / "shifted.csv",
                  RetrainPolicy(consecutive_breaches=2, cooldown_hours=24, promote=True),
                  now=later)
    assert res["decision"] == "retrained" and res["promoted"]
    assert registry.alias_version("dia", "champion") == 3 == res["challenger"]
    assert registry.get("dia", 3).parent == 1
    r = cli("retrain-log", "dia", "--registry", reg)
    assert r.exit_code == 0 and "retrained" in r.output and "breached" in r.output


def test_failed_gate_exits_1_and_leaves_the_champion(setup, rng):
    tmp, reg = setup
    import pandas as pd
    d = pd.read_csv(tmp / "train.csv")
    d.assign(y=rng.permutation(d.y.values)).to_csv(tmp / "noise.csv", index=False)
    r = cli("retrain", "--model", "dia@champion", "--data", tmp / "noise.csv", "--force",
            "--reason", "new quarter", "--registry", reg)
    assert r.exit_code == 1, r.output
    assert "gate cv_rmse: FAIL" in r.output and "failed the promotion gates" in r.output
    registry = Registry(reg)
    assert registry.alias_version("dia", "champion") == 1
    assert registry.alias_version("dia", "challenger") == 2
    log = History(reg).decisions("dia")
    assert log[-1]["decision"] == "retrained" and log[-1]["reason"] == "forced: new quarter"
    assert log[-1]["detail"]["passed"] is False


def test_retrain_bad_input(setup):
    tmp, reg = setup
    base = ["--registry", reg]
    for args, needle in [
        (("--model", "dia@champion", "--data", tmp / "shifted.csv", "--force"),
         "--force needs --reason"),
        (("--model", tmp / "m", "--data", tmp / "shifted.csv"), "registry reference"),
        (("--model", "dia@nobody", "--data", tmp / "shifted.csv"), "no alias 'nobody'"),
        (("--model", "dia@champion", "--data", tmp / "x.csv", "--force", "--reason", "r"),
         "x.csv: no such file"),
    ]:
        r = cli("retrain", *args, *base)
        assert r.exit_code == 2 and needle in r.output and "Traceback" not in r.output, r.output
    (tmp / "p.toml").write_text("consecutive_breaches = 0\n")
    r = cli("retrain", "--model", "dia@champion", "--data", tmp / "shifted.csv", "--policy",
            tmp / "p.toml", *base)
    assert r.exit_code == 2 and "consecutive_breaches must be a whole number" in r.output
    (tmp / "p.toml").write_text("cooldown = 3\n")
    r = cli("retrain", "--model", "dia@champion", "--data", tmp / "shifted.csv", "--policy",
            tmp / "p.toml", *base)
    assert r.exit_code == 2 and "unknown setting(s) cooldown" in r.output

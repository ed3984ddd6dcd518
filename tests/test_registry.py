"""Model registry: versions, aliases, gates, rollback, integrity under concurrency and kills.

Everything runs on a real SQLite registry in a temporary directory, with real
processes for the concurrency and SIGKILL tests.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import enet
from enet.artifact import model_digest
from enet.cli import app
from enet.exceptions import ModelError, UsageError
from enet.registry import GateError, Registry, resolve_model

runner = CliRunner()
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def cli(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture
def frame(rng):
    n = 300
    df = pd.DataFrame(rng.standard_normal((n, 4)), columns=["a", "b", "c", "d"])
    df["y"] = 2 * df.a - df.b + 0.5 * df.c + 0.2 * rng.standard_normal(n)
    return df


@pytest.fixture
def models(frame, rng):
    good = enet.train_model(frame, "y")
    other = enet.train_model(frame.assign(a=-frame.a), "y")          # coefficient a flips
    fewer = enet.train_model(frame.drop(columns=["d"]), "y")         # an input dropped
    noise = enet.train_model(frame.assign(y=rng.standard_normal(len(frame))), "y")
    return {"good": good, "other": other, "fewer": fewer, "noise": noise}


def test_versions_aliases_rollback_delete_and_audit(tmp_path, models):
    reg = Registry(tmp_path / "reg")
    v1 = reg.register("house", models["good"], "first", {"team": "pricing"})
    v2 = reg.register("house", models["other"], parent=1)
    assert (v1.version, v2.version, v2.parent) == (1, 2, 1)
    assert v1.sha256 == model_digest(tmp_path / "reg" / "artifacts" / "house" / "1")
    assert reg.get("house", 1).tags == {"team": "pricing"}
    reg.promote("house", 1)
    res = reg.promote("house", 2, force=True, reason="sign flip is expected")
    assert res["previous"] == 1 and res["stability"]["sign_flips"] == ["a"]
    assert reg.alias_version("house", "champion") == 2
    np.testing.assert_array_equal(resolve_model("house@champion", tmp_path / "reg").coef,
                                  models["other"].coef)
    assert reg.rollback("house") == (2, 1)
    with pytest.raises(UsageError, match="no earlier version"):
        reg.rollback("house")
    with pytest.raises(UsageError, match="is @champion; move the alias first"):
        reg.delete("house", 1)
    reg.delete("house", 2, "superseded")
    assert [v.version for v in reg.versions("house")] == [1]
    assert not (tmp_path / "reg" / "artifacts" / "house" / "2").exists()
    actions = [(e["action"], e["from"], e["to"]) for e in reg.audit_log("house")]
    assert actions == [("register", None, 1), ("register", None, 2), ("promote", None, 1),
                       ("promote", 1, 2), ("rollback", 2, 1), ("delete", 2, None)]
    assert reg.audit_log("house")[3]["reason"] == "sign flip is expected"   # no gate failed
    assert reg.register("house", models["good"]).version == 3      # numbers never reused


def test_promotion_gates(tmp_path, models):
    reg = Registry(tmp_path / "reg")
    for key in ("good", "fewer", "noise"):
        reg.register("m", models[key])
    reg.promote("m", 1)
    with pytest.raises(GateError, match="schema gate failed .*input 'd' dropped"):
        reg.promote("m", 2)
    res = reg.promote("m", 2, allow_schema_change=True, max_rmse_increase=0.5)
    assert all(g["passed"] for g in res["gates"])
    assert res["stability"]["left"] == ["d"] or models["good"].coef[3] == 0
    reg.rollback("m")
    with pytest.raises(GateError, match="cv_rmse gate failed"):
        reg.promote("m", 3)
    assert reg.alias_version("m", "champion") == 1                   # unchanged
    with pytest.raises(UsageError, match="--force needs --reason"):
        reg.promote("m", 3, force=True)
    r = cli("registry", "promote", "m", "3", "--registry", tmp_path / "reg")
    assert r.exit_code == 1 and "cv_rmse gate failed" in r.output
    reg.promote("m", 3, force=True, reason="testing the override")
    assert reg.audit_log("m")[-1]["reason"] == "forced past cv_rmse: testing the override"


def test_modified_artifact_is_refused(tmp_path, models):
    reg = Registry(tmp_path / "reg")
    reg.register("m", models["good"])
    doc_path = tmp_path / "reg" / "artifacts" / "m" / "1" / "model.json"
    doc = json.loads(doc_path.read_text())
    doc["intercept"] += 1.0
    doc_path.write_text(json.dumps(doc))
    with pytest.raises(ModelError, match="modified after registration"):
        reg.load("m", 1)
    r = cli("inspect", "m/1", "--registry", tmp_path / "reg")
    assert r.exit_code == 2 and "modified after registration" in r.output


def test_force_moves_the_alias_off_a_damaged_version(tmp_path, models):
    reg = Registry(tmp_path / "reg")
    reg.register("m", models["good"])
    reg.register("m", models["good"])
    reg.promote("m", 2)
    doc_path = tmp_path / "reg" / "artifacts" / "m" / "2" / "model.json"
    doc_path.write_text(doc_path.read_text().replace('"intercept": ', '"intercept": 1'))
    with pytest.raises(GateError, match="current gate failed .*cannot be loaded"):
        reg.promote("m", 1)
    assert reg.alias_version("m", "champion") == 2
    reg.promote("m", 1, force=True, reason="champion artifact damaged")
    assert reg.alias_version("m", "champion") == 1
    assert reg.audit_log("m")[-1]["reason"] == "forced past current: champion artifact damaged"


@pytest.mark.parametrize("bad", ["../escape", "a/b", "x\ny", "", ".", "-lead", "a" * 200,
                                 "name with space"])
def test_names_are_validated(tmp_path, models, bad):
    reg = Registry(tmp_path / "reg")
    with pytest.raises(UsageError, match="invalid model name"):
        reg.register(bad, models["good"])
    assert not any((tmp_path / "reg" / "artifacts").iterdir()) or \
        list((tmp_path / "reg" / "artifacts").iterdir()) == [tmp_path / "reg" / "artifacts" /
                                                              ".staging"]


def test_tags_and_descriptions_reject_control_characters(tmp_path, models):
    reg = Registry(tmp_path / "reg")
    with pytest.raises(UsageError, match="control characters"):
        reg.register("m", models["good"], "line\x1b[31m")
    reg.register("m", models["good"])
    with pytest.raises(UsageError, match="invalid tag key"):
        reg.tag("m", 1, "../k", "v")


_WORKER = """
import sys, numpy as np, enet
from enet.registry import Registry
rng = np.random.default_rng(int(sys.argv[2]))
X = rng.standard_normal((100, 3)); y = X @ [1.0, 2.0, 0.0] + rng.standard_normal(100)
model = enet.train_model(X, y=y, n_alphas=5, folds=3)
reg = Registry(sys.argv[1])
print("registering", flush=True)
count = int(sys.argv[3])
while count:                       # count < 0: until killed
    reg.register("race", model)
    count -= 1
print("ok")
"""


def _run_workers(root, n_proc, per_proc):
    procs = [subprocess.Popen([sys.executable, "-c", _WORKER, str(root), str(i), str(per_proc)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i in range(n_proc)]
    return [p.communicate(timeout=300) + (p.returncode,) for p in procs]


def test_concurrent_registration_gives_unique_versions(tmp_path):
    root = tmp_path / "reg"
    Registry(root)
    results = _run_workers(root, 4, 5)
    assert all(code == 0 and "ok" in out for out, err, code in results), results
    versions = Registry(root).versions("race")
    assert [v.version for v in versions] == list(range(1, 21))
    for v in versions:                             # every one complete and verified
        Registry(root).load("race", v.version)


def test_sigkill_during_registration_never_leaves_a_partial_version(tmp_path):
    root = tmp_path / "reg"
    Registry(root)
    rng = np.random.default_rng(0)
    for trial in range(12):
        p = subprocess.Popen([sys.executable, "-c", _WORKER, str(root), str(trial), "-1"],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        assert p.stdout.readline().strip() == "registering"
        time.sleep(float(rng.uniform(0.02, 0.5)))  # somewhere inside a registration loop
        p.send_signal(signal.SIGKILL)
        p.wait()
    assert len(Registry(root).versions("race")) >= 12      # the kills hit busy writers
    with sqlite3.connect(root / "registry.db") as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    reg = Registry(root)
    versions = reg.versions("race")
    assert [v.version for v in versions] == list(range(1, len(versions) + 1))
    for v in versions:                             # listed => complete and verified
        reg.load("race", v.version)
    removed = reg.collect_garbage()                # orphans (renamed, never committed)
    assert all(not r.split(os.sep)[0] == "race" or int(r.split(os.sep)[1]) > len(versions)
               for r in removed)
    assert [v.version for v in reg.versions("race")] == [v.version for v in versions]
    left = os.listdir(root / "artifacts" / "race")
    assert sorted(map(int, left)) == [v.version for v in versions]
    assert os.listdir(root / "artifacts" / ".staging") == []


def test_cli_register_predict_by_reference(tmp_path, frame):
    frame.to_csv(tmp_path / "d.csv", index=False)
    reg = tmp_path / "reg"
    r = cli("train", tmp_path / "d.csv", "-t", "y", "-o", tmp_path / "m", "-q", "--register",
            "sales", "--registry", reg, "--description", "baseline")
    assert r.exit_code == 0, r.output
    r = cli("registry", "promote", "sales", "1", "--registry", reg)
    assert r.exit_code == 0, r.output
    r = cli("predict", "sales@champion", tmp_path / "d.csv", "-o", tmp_path / "p.csv",
            "--registry", reg)
    assert r.exit_code == 0, r.output
    pred = pd.read_csv(tmp_path / "p.csv").prediction.to_numpy()
    np.testing.assert_allclose(pred, enet.load_model(tmp_path / "m").predict(frame),
                               rtol=1e-12)
    r = cli("registry", "list", "--registry", reg)
    assert r.exit_code == 0 and "baseline" in r.output
    assert Registry(reg).get("sales", 1).aliases == ["champion"]
    r = cli("inspect", "sales@nosuch", "--registry", reg)
    assert r.exit_code == 2 and "no alias 'nosuch'" in r.output
    r = cli("train", tmp_path / "d.csv", "-t", "y", "-o", tmp_path / "m2", "-q", "--register",
            "../bad", "--registry", reg)
    assert r.exit_code == 2 and "invalid model name" in r.output


def test_rollback_returns_to_the_version_before_the_current_promotion(tmp_path, models):
    reg = Registry(tmp_path / "reg")
    for _ in range(4):
        reg.register("m", models["good"])
    reg.promote("m", 1)
    reg.promote("m", 2)
    assert reg.rollback("m") == (2, 1)
    reg.promote("m", 3)
    assert reg.rollback("m") == (3, 1)          # not 2, which was rolled back from
    with pytest.raises(UsageError, match="no earlier version"):
        reg.rollback("m")
    reg.promote("m", 2)
    reg.promote("m", 4)
    reg.delete("m", 2, reason="bad")
    assert reg.rollback("m") == (4, 1)          # 2 deleted: skipped

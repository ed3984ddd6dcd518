"""Monitoring on real data: the training profile, drift scenarios on the diabetes data,
accuracy against the CV estimate, thresholds and exit codes, bad input, streaming."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from sklearn.datasets import load_diabetes
from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score
from typer.testing import CliRunner

import enet
from enet.artifact import FORMAT_VERSION, _canonical, _sha256, load_model, save_model
from enet.cli import app
from enet.exceptions import ModelError
from enet.monitor.monitor import impact_shares, monitor_file, monitor_table
from enet.monitor.thresholds import Thresholds

runner = CliRunner()


def cli(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def diabetes():
    """Diabetes (442 rows) with sex as text, a pure-noise column and a random region,
    split at random into 300 training rows and 142 'new' rows."""
    d = load_diabetes(as_frame=True).frame.rename(columns={"target": "y"})
    rng = np.random.default_rng(7)
    d["sex"] = np.where(d.sex > 0, "M", "F")
    d["noise"] = rng.standard_normal(len(d))
    d["region"] = rng.choice(["north", "south", "east", "west"], len(d))
    order = rng.permutation(len(d))
    return d.iloc[order[:300]].reset_index(drop=True), d.iloc[order[300:]].reset_index(drop=True)


@pytest.fixture(scope="module")
def sparse_model(diabetes):
    """A sparse model: 'noise', 'region' and 'sex' get zero coefficients."""
    return enet.train_model(diabetes[0], "y", selection="1se")


@pytest.fixture(scope="module")
def full_model(diabetes):
    return enet.train_model(diabetes[0], "y")


def test_profile_is_stored_and_survives_the_artifact(tmp_path, full_model, diabetes):
    train = diabetes[0]
    drift = full_model.profile["drift"]
    assert set(drift["inputs"]) == set(full_model.manifest.input_names)
    bmi = drift["inputs"]["bmi"]
    assert bmi["mean"] == pytest.approx(train.bmi.mean(), rel=1e-9)
    assert bmi["sd"] == pytest.approx(train.bmi.std(ddof=0), rel=1e-9)
    assert bmi["missing_rate"] == 0.0 and len(bmi["freq"]) == len(bmi["edges"]) + 1
    # sketch in estimation mode: bin shares within the rank error of the exact ones
    exact = np.bincount(np.searchsorted(bmi["edges"], train.bmi, side="left"),
                        minlength=len(bmi["freq"])) / len(train)
    np.testing.assert_allclose(bmi["freq"], exact, atol=0.03)
    sex = drift["inputs"]["sex"]
    assert sex["bins"] == ["sex=F", "sex=M", "sex=(none)"] or \
        sex["bins"] == ["sex=M", "sex=F", "sex=(none)"]
    share = dict(zip(sex["bins"], sex["freq"]))
    assert share["sex=M"] == pytest.approx((train.sex == "M").mean())
    # predictions: mean and sd exact from the statistics
    fitted = full_model.predict(train)
    assert drift["prediction"]["mean"] == pytest.approx(fitted.mean(), rel=1e-9)
    assert drift["prediction"]["sd"] == pytest.approx(fitted.std(), rel=1e-7)
    # the sampled held-out residuals agree with the exact CV error
    assert drift["residuals"]["cv"]["rmse"] == pytest.approx(full_model.metrics["cv_rmse"],
                                                             rel=0.02)
    save_model(full_model, tmp_path / "m")
    back = load_model(tmp_path / "m")
    assert back.profile["drift"] == json.loads(json.dumps(drift))
    np.testing.assert_array_equal(back.arrays["drift_points"], full_model.arrays["drift_points"])
    assert json.load(open(tmp_path / "m" / "model.json"))["format_version"] == FORMAT_VERSION == 3


def _as_version_2(path):
    """Rewrite a saved model as enet wrote it at format version 2 (no drift profile)."""
    doc = json.load(open(path / "model.json"))
    doc.pop("checksum")
    doc["format_version"] = 2
    doc["profile"].pop("drift")
    for name in list(doc["files"]):
        if "drift_" in name or "report_" in name:
            doc["files"].pop(name)
            os.unlink(path / name)
    doc["checksum"] = _sha256(_canonical(doc))
    with open(path / "model.json", "w") as fh:
        json.dump(doc, fh)


def test_version_2_model_loads_and_monitor_says_it_has_no_profile(tmp_path, full_model,
                                                                   diabetes):
    save_model(full_model, tmp_path / "old")
    _as_version_2(tmp_path / "old")
    old = load_model(tmp_path / "old")
    np.testing.assert_array_equal(old.coef, full_model.coef)
    with pytest.raises(ModelError, match="no training profile"):
        monitor_table(old, diabetes[1])
    diabetes[1].to_csv(tmp_path / "new.csv", index=False)
    r = cli("monitor", "--model", tmp_path / "old", "--data", tmp_path / "new.csv")
    assert r.exit_code == 2
    assert "no training profile" in r.output and "Traceback" not in r.output


def test_no_drift_on_held_out_rows_of_the_same_data(sparse_model, diabetes):
    res = monitor_table(sparse_model, diabetes[1], "y")
    assert res.status == "healthy", res.breaches
    assert res.exit_code == 0
    assert not any(r["alarm"] for r in res.features)
    # sampling noise of 142 rows stays below the thresholds on every input with impact
    assert all(not r["drift"] for r in res.features if r["impact"] > 0), res.notes


def test_shifted_feature_is_flagged_and_no_other(sparse_model, diabetes):
    """bmi (a large coefficient) shifted by half an sd; 'noise' (coefficient 0) shifted by
    two sd; the region mix changed (coefficients 0): only bmi alarms."""
    new = diabetes[1].copy()
    sd = diabetes[0].bmi.std()
    new["bmi"] += 0.5 * sd
    new["noise"] += 2.0
    new["region"] = np.where(np.arange(len(new)) % 4 == 0, "north", "south")
    impact = impact_shares(sparse_model)
    assert impact["noise"] == impact["region"] == 0.0 and impact["bmi"] > 0.2
    res = monitor_table(sparse_model, new, "y")
    assert res.status == "breached" and res.exit_code == 1
    alarms = [r["name"] for r in res.features if r["alarm"]]
    assert alarms == ["bmi"]
    assert res.features[0]["name"] == "bmi"                   # ranked first by impact
    drifted = {r["name"] for r in res.features if r["drift"]}
    assert drifted >= {"bmi", "noise", "region"}              # shown, not alarming
    # anything else that drifts by sampling noise has no impact on the output
    assert all(impact[name] == 0 for name in drifted - {"bmi"})
    by_name = {r["name"]: r for r in res.features}
    # the Wasserstein distance of a pure shift is the shift (up to the sketch's CDF)
    assert by_name["bmi"]["wasserstein_sd"] == pytest.approx(0.5 * sd / by_name["bmi"]["sd_train"],
                                                             rel=0.15)
    assert by_name["noise"]["psi"] > 1.0
    assert any("noise" in n and "not alarming" in n for n in res.notes)
    assert len(res.breaches) == 1 + ("predictions" in " ".join(res.breaches))


def test_category_mix_shift_missing_values_and_unseen_levels(full_model, diabetes):
    impact = impact_shares(full_model)
    assert impact["sex"] >= 0.05
    new = diabetes[1].copy()
    new["sex"] = np.where(np.arange(len(new)) % 10 == 0, "F", "M")      # 90% M
    res = monitor_table(full_model, new)
    assert [r["name"] for r in res.features if r["alarm"]] == ["sex"]
    sex = next(r for r in res.features if r["name"] == "sex")
    freq = dict(zip(sex["bins"]["labels"], sex["bins"]["new"]))
    assert freq["sex=M"] == pytest.approx(0.9, abs=0.01)
    # missing values and an unseen level
    new = diabetes[1].copy()
    new.loc[new.index[:30], "bmi"] = np.nan
    new.loc[new.index[:10], "sex"] = "X"
    res = monitor_table(full_model, new)
    by_name = {r["name"]: r for r in res.features}
    assert by_name["bmi"]["missing_rate_new"] == pytest.approx(30 / len(new))
    assert by_name["sex"]["unseen_rate"] == pytest.approx(10 / len(new))
    assert {r["name"] for r in res.features if r["alarm"]} == {"bmi", "sex"}
    assert any("missing rate" in b for b in res.breaches)
    assert any("unseen levels" in b for b in res.breaches)


def test_accuracy_against_the_cv_estimate(full_model, diabetes):
    new = diabetes[1]
    res = monitor_table(full_model, new, "y")
    pred = full_model.predict(new)
    acc = res.accuracy
    assert acc["rows"] == len(new)
    assert acc["rmse"] == pytest.approx(np.sqrt(mean_squared_error(new.y, pred)), rel=1e-10)
    assert acc["mae"] == pytest.approx(mean_absolute_error(new.y, pred), rel=1e-10)
    assert acc["r2"] == pytest.approx(r2_score(new.y, pred), rel=1e-9)
    assert acc["cv_rmse"] == full_model.metrics["cv_rmse"]
    assert acc["rmse_gap"] == pytest.approx(acc["rmse"] / acc["cv_rmse"] - 1)
    # a drifted relation between inputs and target: the validation gap breaches
    worse = new.assign(y=new.y + 0.8 * (new.y - new.y.mean()))
    res = monitor_table(full_model, worse, "y")
    assert any(b.startswith("RMSE") for b in res.breaches)
    # missing labels are skipped
    some = new.assign(y=np.where(np.arange(len(new)) < 40, np.nan, new.y))
    assert monitor_table(full_model, some, "y").accuracy["rows"] == len(new) - 40


def test_monitor_streams_chunked_equals_whole(tmp_path, full_model, diabetes):
    new = diabetes[1].copy()
    new["bmi"] += 0.02
    new.loc[new.index[::7], "s1"] = np.nan
    new.to_csv(tmp_path / "new.csv", index=False)
    whole = monitor_file(full_model, tmp_path / "new.csv", "y").to_json()
    chunked = monitor_file(full_model, tmp_path / "new.csv", "y", chunk_bytes=1500).to_json()
    memory = monitor_table(full_model, new, "y").to_json()
    for other in (chunked, memory):
        assert other["status"] == whole["status"]
        assert other["breaches"] == whole["breaches"]
        for a, b in zip(whole["features"], other["features"]):
            assert a["name"] == b["name"]
            for key in ("psi", "ks", "wasserstein_sd", "missing_rate_new", "impact"):
                if a[key] is None:
                    assert b[key] is None
                else:
                    assert a[key] == pytest.approx(b[key], rel=1e-9, abs=1e-12), (a["name"], key)
        assert other["accuracy"]["rmse"] == pytest.approx(whole["accuracy"]["rmse"], rel=1e-12)
        assert other["prediction"]["psi"] == pytest.approx(whole["prediction"]["psi"],
                                                           rel=1e-9)


def test_cli_exit_codes_thresholds_and_outputs(tmp_path, sparse_model, diabetes):
    save_model(sparse_model, tmp_path / "model")
    diabetes[1].to_csv(tmp_path / "same.csv", index=False)
    shifted = diabetes[1].assign(bmi=diabetes[1].bmi + 0.5 * diabetes[0].bmi.std())
    shifted.to_parquet(tmp_path / "shifted.parquet")
    m = tmp_path / "model"
    r = cli("monitor", "--model", m, "--data", tmp_path / "same.csv", "--target", "y")
    assert r.exit_code == 0, r.output
    assert "healthy" in r.output
    r = cli("monitor", "--model", m, "--data", tmp_path / "shifted.parquet", "--json",
            tmp_path / "out.json", "--out", tmp_path / "out.html")
    assert r.exit_code == 1, r.output
    doc = json.load(open(tmp_path / "out.json"))
    assert doc["status"] == "breached" and doc["exit_code"] == 1
    assert doc["features"][0]["name"] == "bmi" and doc["features"][0]["alarm"]
    assert (tmp_path / "out.html").stat().st_size > 1000
    # looser thresholds from a file: the same data passes
    (tmp_path / "loose.toml").write_text("[thresholds]\npsi = 5.0\nwasserstein_sd = 5\n"
                                         "prediction_psi = 5\n")
    r = cli("monitor", "--model", m, "--data", tmp_path / "shifted.parquet", "--thresholds",
            tmp_path / "loose.toml")
    assert r.exit_code == 0, r.output
    # KS alarms only when asked to; JSON works as well
    (tmp_path / "ks.json").write_text(json.dumps({"psi": 5.0, "wasserstein_sd": 5.0,
                                                  "prediction_psi": 5, "ks": 0.1}))
    r = cli("monitor", "--model", m, "--data", tmp_path / "shifted.parquet", "--thresholds",
            tmp_path / "ks.json")
    assert r.exit_code == 1 and "KS" in r.output
    # too few rows to judge: reported, not alarming
    shifted.head(20).to_csv(tmp_path / "few.csv", index=False)
    r = cli("monitor", "--model", m, "--data", tmp_path / "few.csv")
    assert r.exit_code == 0 and "insufficient" in r.output


def _one_line_error(r, *needles):
    assert r.exit_code == 2, r.output
    assert "Traceback" not in r.output
    lines = [ln for ln in r.output.strip().splitlines() if ln.strip()]
    text = " ".join(ln.strip() for ln in lines)
    assert text.startswith("error:"), r.output
    for n in needles:
        assert n in text, (n, r.output)


def test_cli_bad_input_is_one_line_and_exit_2(tmp_path, sparse_model, diabetes):
    save_model(sparse_model, tmp_path / "model")
    m = tmp_path / "model"
    new = diabetes[1]
    new.drop(columns=["bmi", "s5"]).to_csv(tmp_path / "missing.csv", index=False)
    _one_line_error(cli("monitor", "--model", m, "--data", tmp_path / "missing.csv"),
                    "missing required column(s): bmi, s5")
    bad = new.astype({"bp": object})
    bad.loc[5, "bp"] = "high"
    bad.to_csv(tmp_path / "bad.csv", index=False)
    _one_line_error(cli("monitor", "--model", m, "--data", tmp_path / "bad.csv"),
                    "'bp'", "row 6", "'high'")
    _one_line_error(cli("monitor", "--model", m, "--data", tmp_path / "nope.csv"),
                    "nope.csv: no such file")
    new.to_csv(tmp_path / "new.csv", index=False)
    _one_line_error(cli("monitor", "--model", m, "--data", tmp_path / "new.csv", "--target",
                        "label"), "target column 'label' not found")
    _one_line_error(cli("monitor", "--model", tmp_path / "nomodel", "--data",
                        tmp_path / "new.csv"), "no such model")
    (tmp_path / "t.toml").write_text("psi_limit = 0.3\n")
    _one_line_error(cli("monitor", "--model", m, "--data", tmp_path / "new.csv",
                        "--thresholds", tmp_path / "t.toml"), "unknown threshold(s) psi_limit")
    (tmp_path / "t.json").write_text('{"psi": "high"}')
    _one_line_error(cli("monitor", "--model", m, "--data", tmp_path / "new.csv",
                        "--thresholds", tmp_path / "t.json"), "psi must be a number")
    # no half-written output when the run fails
    _one_line_error(cli("monitor", "--model", m, "--data", tmp_path / "bad.csv", "--json",
                        tmp_path / "o.json", "--out", tmp_path / "o.html"), "'bp'")
    assert not (tmp_path / "o.json").exists() and not (tmp_path / "o.html").exists()


def test_thresholds_defaults_are_documented():
    readme = open(os.path.join(os.path.dirname(__file__), "..", "README.md")).read()
    for key, value in Thresholds().to_json().items():
        if value is None:
            assert f"# {key} = " in readme, key
        else:
            assert f"\n{key} = {value:g}" in readme, key


def _feature_row(result, name):
    return next(f for f in result.to_json()["features"] if f["name"] == name)


@pytest.mark.parametrize("missing_level", [True, False])
def test_missingness_alone_is_not_a_level_shift(missing_level):
    """A categorical input that loses its missing values keeps its level mix: no PSI alarm
    (the missing-rate change is its own, thresholded figure)."""
    import pandas as pd
    rng = np.random.default_rng(3)
    n = 4000

    def table(missing_share):
        cat = rng.choice(["a", "b", "c", "d"], size=n, p=[0.4, 0.3, 0.2, 0.1]).astype(object)
        cat[rng.random(n) < missing_share] = None
        x = rng.normal(size=n)
        y = x + (pd.Series(cat).map({"a": 0, "b": 1, "c": 2, "d": 3}).fillna(1.5).to_numpy())
        return pd.DataFrame({"cat": cat, "x": x, "y": y + 0.3 * rng.normal(size=n)})

    train = table(0.03 if missing_level else 0.0)
    model = enet.train_model(train, target="y", folds=3, l1_ratios=[0.5])
    col = next(c for c in model.inputs if c.name == "cat")
    assert bool(col.missing_level) == missing_level
    # the level mix is unchanged; only the missing values differ
    new = table(0.0 if missing_level else 0.03)
    res = monitor_table(model, new)
    row = _feature_row(res, "cat")
    assert row["psi"] < 0.02, row
    assert abs(row["missing_change"]) == pytest.approx(0.03, abs=0.01)
    assert res.exit_code == 0, res.breaches
    # a real shift in the levels is still seen
    shifted = new.copy()
    shifted.loc[shifted["cat"] == "a", "cat"] = "d"
    assert _feature_row(monitor_table(model, shifted), "cat")["psi"] > 0.2


@pytest.mark.parametrize("value", ["2.5", "inf", "-1", "true"])
def test_min_rows_must_be_a_whole_number(tmp_path, value):
    from enet.exceptions import UsageError
    from enet.monitor.thresholds import load_thresholds
    path = tmp_path / "t.toml"
    path.write_text(f"[thresholds]\nmin_rows = {value}\n")
    with pytest.raises(UsageError, match="min_rows"):
        load_thresholds(path)
    path.write_text("[thresholds]\nmin_rows = 250\n")
    assert load_thresholds(path).min_rows == 250

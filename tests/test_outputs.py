"""Outputs never replace data by mistake; scoring refuses predictions that overflow; a bad
value is named even when missing-value markers precede it."""

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import enet
from enet.cli import app
from enet.exceptions import DataError

runner = CliRunner()


def cli(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    d = tmp_path_factory.mktemp("outputs")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 3))
    df = pd.DataFrame(X, columns=["a", "b", "c"])
    df["y"] = X @ [1.0, 2.0, 3.0] + rng.normal(size=300)
    data = d / "train.csv"
    df.to_csv(data, index=False)
    model = d / "model"
    r = cli("train", data, "-t", "y", "-o", model, "--quiet", "--no-report")
    assert r.exit_code == 0, r.output
    return d, data, model


def test_predict_replaces_only_its_own_outputs(setup):
    d, data, model = setup
    precious = d / "precious.csv"
    precious.write_text("id,value\n1,2\n")
    r = cli("predict", model, data, "-o", precious)
    assert r.exit_code == 2 and "not an enet predictions file" in r.output
    assert precious.read_text() == "id,value\n1,2\n"
    out = d / "pred.csv"
    for _ in range(2):          # a previous predictions file is replaced
        r = cli("predict", model, data, "-o", out)
        assert r.exit_code == 0, r.output
    assert pd.read_csv(out).shape == (300, 1)


@pytest.mark.parametrize("flag, name", [("--out", "data.csv"), ("--json", "data.parquet")])
def test_monitor_outputs_never_replace_data(setup, flag, name):
    d, data, model = setup
    target = d / name
    target.write_bytes(b"not to be lost")
    r = cli("monitor", "--model", model, "--data", data, flag, target)
    assert r.exit_code == 2 and "must go to a path ending in" in r.output
    assert target.read_bytes() == b"not to be lost"


def test_report_must_be_html(setup):
    d, data, model = setup
    r = cli("report", model, "-o", data)
    assert r.exit_code == 2 and ".html" in r.output
    assert pd.read_csv(data).shape == (300, 4)


def test_overflowing_prediction_is_refused_with_its_row(setup):
    d, data, model = setup
    rows = pd.read_csv(data).drop(columns="y").head(6)
    rows.loc[4, "c"] = 1.7e308          # times a coefficient near 3: overflows to inf
    path = d / "huge.csv"
    rows.to_csv(path, index=False)
    out = d / "huge_pred.csv"
    r = cli("predict", model, path, "-o", out)
    assert r.exit_code == 2 and "row 5" in r.output and "not finite" in r.output
    assert not out.exists()
    with pytest.raises(DataError, match="row 5") as info:
        enet.load_model(model).predict(rows)
    assert info.value.kind == "non_finite_prediction"
    assert np.isfinite(enet.load_model(model).predict(rows.drop(index=4))).all()


@pytest.mark.parametrize("marker", ["NA", ""])
def test_bad_value_named_after_missing_markers(setup, marker):
    d, _, model = setup
    path = d / "mixed.csv"
    path.write_text(f"a,b,c\n1,1,1\n{marker},1,1\nabc,1,1\n")
    r = cli("predict", model, path, "-o", d / "mixed_pred.csv")
    assert r.exit_code == 2
    assert "row 3" in r.output and "'abc'" in r.output


def test_tiny_scale_columns_are_refused_not_zeroed(tmp_path):
    rng = np.random.default_rng(1)
    x = rng.normal(size=200)
    y = x + 0.1 * rng.normal(size=200)
    with pytest.raises(DataError, match="too small to square"):
        enet.train_model(pd.DataFrame({"x": x * 1e-160, "y": y}), target="y")
    with pytest.raises(ValueError, match="too small to square"):
        enet.ElasticNet(alpha=0.01).fit((x * 1e-160)[:, None], y)
    # a small but safe scale still gives the scale-free answer (standardize=True)
    ref = enet.ElasticNet(alpha=0.01).fit(x[:, None], y).coef_[0]
    got = enet.ElasticNet(alpha=0.01).fit((x * 1e-120)[:, None], y).coef_[0] * 1e-120
    assert got == pytest.approx(ref, rel=1e-10)


def test_reports_and_results_replace_only_what_enet_wrote(setup):
    d, data, model = setup
    notes = d / "notes.html"
    notes.write_text("my notes")
    r = cli("report", model, "-o", notes)
    assert r.exit_code == 2 and "not written by enet" in r.output
    assert notes.read_text() == "my notes"
    model_json = model / "model.json"
    before = model_json.read_bytes()
    r = cli("monitor", "--model", model, "--data", data, "--json", model_json, "-q")
    assert r.exit_code == 2 and model_json.read_bytes() == before
    for _ in range(2):               # enet's own report and result are replaced
        assert cli("report", model, "-o", d / "r.html").exit_code == 0
        assert cli("monitor", "--model", model, "--data", data, "--json", d / "r.json",
                   "-q").exit_code == 0
    mine = d / "mine.report.html"
    mine.write_text("my notes")
    r = cli("train", data, "-t", "y", "-o", d / "mine", "--quiet")
    assert r.exit_code == 2 and "--no-report" in r.output and not (d / "mine").exists()
    assert mine.read_text() == "my notes"


def test_model_written_through_a_symbolic_link_replaces_its_target(setup, tmp_path):
    _, data, _ = setup
    target = tmp_path / "v1"
    assert cli("train", data, "-t", "y", "-o", target, "--quiet", "--no-report").exit_code == 0
    link = tmp_path / "current"
    link.symlink_to(target)
    r = cli("train", data, "-t", "y", "-o", link, "--quiet", "--no-report", "--folds", "3")
    assert r.exit_code == 0, r.output
    assert link.is_symlink() and sorted(p.name for p in tmp_path.iterdir()) == ["current", "v1"]
    assert enet.load_model(target).params["folds"] == 3

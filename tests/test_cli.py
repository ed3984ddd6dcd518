"""The CLI end to end on the diabetes data, and one-line errors for bad input."""

import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_diabetes
from typer.testing import CliRunner

from enet.artifact import load_model
from enet.cli import app
from kkt import kkt_violation

runner = CliRunner()


def enet(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def diabetes_csv(tmp_path_factory):
    d = load_diabetes(scaled=False, as_frame=True)
    df = d.frame.rename(columns={"target": "y"})
    path = tmp_path_factory.mktemp("data") / "diabetes.csv"
    df.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def trained(diabetes_csv, tmp_path_factory):
    out = tmp_path_factory.mktemp("model") / "model"
    r = enet("train", diabetes_csv, "--target", "y", "-o", out, "--quiet")
    assert r.exit_code == 0, r.output
    return out


def test_train_inspect_predict_diabetes(diabetes_csv, trained, tmp_path):
    model = load_model(trained)
    df = pd.read_csv(diabetes_csv)
    X = df.drop(columns="y").to_numpy(float)
    y = df["y"].to_numpy(float)
    assert model.features == list(df.columns[:-1])
    assert 0.45 < model.metrics["cv_r2"] < 0.55          # the classic ~0.49 on this data
    assert model.certificate["converged"]
    assert kkt_violation(X, y, model.coef, model.intercept, model.alpha, model.l1_ratio,
                         standardize=True) < 1e-5    # default tol (1e-7 relative gap)

    r = enet("inspect", trained)
    assert r.exit_code == 0, r.output
    for text in ("alpha", "l1_ratio", "CV MSE", "+-", "nonzero", "certificate", "bmi", "s5"):
        assert text in r.output

    out = tmp_path / "pred.csv"
    r = enet("predict", trained, diabetes_csv, "-o", out, "--keep", "y", "--quiet")
    assert r.exit_code == 0, r.output
    pred = pd.read_csv(out)
    assert list(pred.columns) == ["y", "prediction"]
    assert pd.read_csv(out, dtype=str).y[0] == "151.0"              # kept as written
    np.testing.assert_array_equal(pred["y"], y)                  # row order kept
    by_hand = X @ model.coef + model.intercept
    np.testing.assert_allclose(pred["prediction"], by_hand, rtol=1e-12)


def test_train_matches_python_api(diabetes_csv, trained):
    from enet import ElasticNetCV

    df = pd.read_csv(diabetes_csv)
    X, y = df.drop(columns="y").to_numpy(float), df["y"].to_numpy(float)
    est = ElasticNetCV(l1_ratio=[0.1, 0.5, 0.9, 1.0], cv=5).fit(X, y)
    model = load_model(trained)
    assert est.alpha_ == model.alpha and est.l1_ratio_ == model.l1_ratio
    np.testing.assert_allclose(est.coef_, model.coef, rtol=1e-10)


def test_parquet_and_options(diabetes_csv, tmp_path):
    df = pd.read_csv(diabetes_csv)
    df["id"] = [f"p{i}" for i in range(len(df))]
    df["w"] = 1.0 + (np.arange(len(df)) % 3)
    df["site"] = np.arange(len(df)) % 11
    pq = tmp_path / "d.parquet"
    df.to_parquet(pq)
    out = tmp_path / "m"
    r = enet("train", pq, "--target", "y", "-o", out, "--exclude", "id", "--weight", "w",
             "--group", "site", "--l1-ratio", "0.5,1", "--n-alphas", "30", "--folds", "4",
             "--selection", "1se", "--no-standardize", "--seed", "3", "--quiet")
    assert r.exit_code == 0, r.output
    m = load_model(out)
    assert "id" not in m.features and "w" not in m.features and "site" not in m.features
    assert m.params["selection"] == "1se" and m.params["standardize"] is False
    assert m.params["fold_rule"] == "group"
    pred = tmp_path / "p.parquet"
    r = enet("predict", out, pq, "-o", pred, "--keep", "id", "--quiet")
    assert r.exit_code == 0, r.output
    got = pd.read_parquet(pred)
    assert list(got["id"]) == list(df["id"])


def test_real_subprocess_entry_point(diabetes_csv, tmp_path):
    exe = os.path.join(os.path.dirname(sys.executable), "enet")
    out = tmp_path / "m"
    p = subprocess.run([exe, "train", str(diabetes_csv), "--target", "y", "-o", str(out)],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    assert "CV RMSE" in p.stdout
    p = subprocess.run([exe, "train", str(tmp_path / "missing.csv"), "--target", "y", "-o",
                        str(out)], capture_output=True, text=True, timeout=300)
    assert p.returncode == 2
    assert "Traceback" not in p.stderr and "no such file" in p.stderr


def _bad(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


def _assert_one_line_error(r, *needles):
    assert r.exit_code == 2, r.output
    assert "Traceback" not in r.output
    msg = " ".join(r.output.split())
    for n in needles:
        assert n in msg, msg


@pytest.mark.parametrize("content,args,needles", [
    (None, [], ["no such file"]),
    ("", [], ["empty"]),
    ("a,b,y\n", [], ["no data rows"]),
    ("a,b,y\n1,2,3\n2,3,4\n", [], ["2 row(s) with a target are too few for 5-fold", "--folds 2"]),
    ("\ufeffa, b,y\n1,2,3\n4,1_000,6\n", [], ["column 'b' row 2: value '1_000' is not a number"]),
    ("a,b,y\n1,2,3\n4,5\n", [], ["row 2 has 2 fields, the header has 3"]),
    ("a,b,y\n1,2,3\n", ["--exclude", "y"], ["'y' is the target column and cannot also be excluded"]),
    ("a,b,y,g\n1,2,3,x\n2,1,4,\n", ["--group", "g", "--folds", "2"], ["group column 'g' row 2 is missing"]),
    ("a,b,y,w\n" + "".join(f"{i},{i % 3},{i},{int(i % 5 == 1)}\n" for i in range(10)),
     ["--weight", "w"], ["fold", "has no rows with positive weight"]),
    ("a,b,y\n1,2,3\n", ["--tol", "nan"], ["--tol must be a positive number"]),
    ("a,b,y\n1,2,3\n", ["--seed", "99999999999999999999"], ["--seed must be in [0, 2^63)"]),
    ("a,b,y\n1,1e300,3\n2,3e300,4\n3,1,5\n4,2,1\n5,3,2\n6,1,1\n", [],
     ["column 'b' has values too large"]),
    ("a,b,y\n1,2,3\n2,3,3\n3,1,3\n4,4,3\n5,1,3\n6,2,3\n", [], ["target 'y' is constant"]),
    ("a,b,z\n1,2,3\n", [], ["target column 'y' not found"]),
    ("a,b,y\n1,2,3\n4,x,6\n", [], ["column 'b' row 2", "'x' is not a number"]),
    ("a,b,y\n1,,3\n4,,6\n", [], ["column 'b' has no values", "--exclude b"]),
    ("a,b,y\n1,2,\n4,5,NA\n", [], ["the target 'y' is missing in every row"]),
    ("a,b,y\n1,2,3\n4,5,x\n", [], ["column 'y' row 2: value 'x' is not a number"]),
    ("a,b,y,w\n1,2,3,1\n4,5,6,\n", ["--weight", "w"], ["weight 'w' row 2 is missing"]),
    ("a,b,y\n1,2,3\n4,5,6\n", ["--impute", "mode"], ["--impute must be mean, median"]),
    ("a,b,y\n1,2,3\n4,5,6\n", ["--categorical", "q"], ["--categorical column(s) not found: q"]),
    ("a,b,y\n1,2,3\n4,5,6\n", ["--categorical", "y"], ["'y' is the target column"]),
    ("a,b,y\n1,2,3\n4,5,6\n", ["--encoding", "klingon"], ["not a known text encoding"]),
    ("a,b,y\n1,2,3\n4,5,6\n", ["--delimiter", "::"], ["--delimiter must be one character"]),
    ("a,b,y\n1,2,3\n4,5,6\n", ["--min-frequency", "0"], ["--min-frequency must be at least 1"]),
    ("a,d,y\n1,2024-01-02,3\n4,2024-01-03,6\n", [], ["column 'd' has type", "--exclude d"]),
    ("a,b,y\n1,2,3\n4,inf,6\n", [], ["column 'b' row 2 is inf"]),
    ("a,b,y,w\n1,2,3,1\n4,5,6,-1\n", ["--weight", "w"], ["weight 'w' row 2 is -1"]),
    ("a,b,y\n1,2,3\n", ["--l1-ratio", "1.5"], ["--l1-ratio values must be in [0, 1]"]),
    ("a,b,y\n1,2,3\n", ["--l1-ratio", "abc"], ["--l1-ratio must be comma-separated"]),
    ("a,b,y\n1,2,3\n", ["--selection", "best"], ["--selection must be 'min' or '1se'"]),
    ("a,b,y\n1,2,3\n", ["--folds", "1"], ["--folds must be between 2 and 1000"]),
    ("a,b,y\n1,2,3\n", ["--exclude", "q"], ["--exclude column(s) not found: q"]),
])
def test_bad_training_input(tmp_path, content, args, needles):
    path = tmp_path / "missing.csv" if content is None else _bad(tmp_path, "d.csv", content)
    r = enet("train", path, "--target", "y", "-o", tmp_path / "m", "--quiet", *args)
    _assert_one_line_error(r, *needles)
    assert not (tmp_path / "m").exists()                       # nothing half-written


def test_bad_prediction_input(trained, tmp_path):
    r = enet("predict", trained, _bad(tmp_path, "x.csv", "age,sex\n1,2\n"), "-o",
             tmp_path / "p.csv")
    _assert_one_line_error(r, "missing required column(s): bmi, bp, s1")
    assert not (tmp_path / "p.csv").exists()
    r = enet("predict", tmp_path / "nomodel", tmp_path / "x.csv", "-o", tmp_path / "p.csv")
    _assert_one_line_error(r, "no such model")
    r = enet("predict", trained, tmp_path / "x.csv", "-o", tmp_path / "p.txt")
    _assert_one_line_error(r, "unknown output type")


def test_bad_value_in_prediction_leaves_no_partial_output(trained, diabetes_csv, tmp_path):
    df = pd.read_csv(diabetes_csv)
    df.loc[300, "bmi"] = np.inf
    src = tmp_path / "in.csv"
    df.to_csv(src, index=False)
    r = enet("predict", trained, src, "-o", tmp_path / "p.csv")
    _assert_one_line_error(r, "column 'bmi' row 301 is inf")
    assert not (tmp_path / "p.csv").exists()
    assert [f for f in os.listdir(tmp_path) if f.startswith(".tmp")] == []


def test_refuses_to_overwrite_input_or_bad_model_json(trained, diabetes_csv, tmp_path):
    import shutil

    src = tmp_path / "in.csv"
    shutil.copy(diabetes_csv, src)
    r = enet("predict", trained, src, "-o", src)
    _assert_one_line_error(r, "would overwrite the input")
    assert src.read_bytes() == open(diabetes_csv, "rb").read()
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "model.json").write_text("[]")
    r = enet("inspect", broken)
    _assert_one_line_error(r, "not a model description")


def test_output_never_clobbers_foreign_files(diabetes_csv, tmp_path, monkeypatch):
    import zipfile

    mine = tmp_path / "mine.zip"
    with zipfile.ZipFile(mine, "w") as zf:
        zf.writestr("important.txt", "precious")
    r = enet("train", diabetes_csv, "--target", "y", "-o", mine, "-q")
    _assert_one_line_error(r, "not an enet model zip")
    other = tmp_path / "other"
    other.mkdir()
    (other / "model.json").write_text('{"foo": 1}')
    (other / "precious.txt").write_text("data")
    r = enet("train", diabetes_csv, "--target", "y", "-o", other, "-q")
    _assert_one_line_error(r, "not an enet model")
    assert (other / "precious.txt").exists() and zipfile.ZipFile(mine).namelist() == ["important.txt"]
    monkeypatch.chdir(tmp_path)
    r = enet("train", diabetes_csv, "--target", "y", "-o", ".", "-q")
    _assert_one_line_error(r, "is the current directory")


def test_tampered_model_with_recomputed_checksum_is_refused(trained, tmp_path):
    import hashlib
    import json
    import shutil

    m = tmp_path / "m"
    shutil.copytree(trained, m)
    doc = json.loads((m / "model.json").read_text())
    doc.pop("checksum")
    doc["manifest"]["features"][0]["coef"] = None
    canon = json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()
    doc["checksum"] = hashlib.sha256(canon).hexdigest()
    (m / "model.json").write_text(json.dumps(doc))
    r = enet("inspect", m)
    _assert_one_line_error(r, "model.json is malformed")
    doc = json.loads((tmp_path / "m" / "model.json").read_text())
    (m / "model.json").write_text(json.dumps(doc).replace('"intercept": ', '"intercept": NaN, "x": '))
    r = enet("inspect", m)
    _assert_one_line_error(r, "checksum mismatch")


def test_kept_columns_are_copied_verbatim(trained, tmp_path):
    src = tmp_path / "ids.csv"
    lines = ["age,sex,bmi,bp,s1,s2,s3,s4,s5,s6,id,note"]
    lines += [f"50,1,25,90,180,100,50,4,4.5,90,{i:05d},{'NA' if i % 2 else 'true'}"
              for i in range(4000)]
    lines[-1] = lines[-1].replace(",03999,", ",x3999,")      # the type drifts far down
    src.write_text("\n".join(lines) + "\n")
    r = enet("predict", trained, src, "-o", tmp_path / "p.csv", "--keep", "id", "--keep",
             "note")
    assert r.exit_code == 0, r.output
    out = pd.read_csv(tmp_path / "p.csv", dtype=str, keep_default_na=False)
    assert list(out.id[:2]) == ["00000", "00001"] and list(out.note[:2]) == ["true", "NA"]
    assert out.id.iloc[-1] == "x3999"


def test_version_flag():
    import enet as pkg

    r = runner.invoke(app, ["--version"])
    assert r.exit_code == 0 and pkg.__version__ in r.output


def test_help_on_every_command():
    for cmd in ([], ["train"], ["predict"], ["inspect"]):
        r = runner.invoke(app, cmd + ["--help"])
        assert r.exit_code == 0 and "--help" in r.output


def test_group_folds_same_in_cli_and_python(diabetes_csv, tmp_path):
    from enet import ElasticNetCV

    df = pd.read_csv(diabetes_csv)
    df["site"] = [f"s{i % 13}" for i in range(len(df))]
    src = tmp_path / "g.csv"
    df.to_csv(src, index=False)
    r = enet("train", src, "--target", "y", "--group", "site", "-o", tmp_path / "m", "--quiet")
    assert r.exit_code == 0, r.output
    m = load_model(tmp_path / "m")
    X, y = df.drop(columns=["y", "site"]).to_numpy(float), df["y"].to_numpy(float)
    est = ElasticNetCV(l1_ratio=[0.1, 0.5, 0.9, 1.0]).fit(X, y, groups=df["site"].to_numpy())
    # same folds; statistics summed in a different order differ by rounding only
    np.testing.assert_allclose(est.mse_path_, m.arrays["cv_mse_path"], rtol=1e-8)
    assert est.alpha_ == m.alpha


def test_parquet_group_nulls_rejected_and_keep_types_preserved(tmp_path):
    df = pd.DataFrame({"a": np.arange(40.0), "b": np.arange(40.0) % 7,
                       "y": np.arange(40.0) ** 1.5, "id": np.arange(40, dtype=np.int64),
                       "g": pd.array([1, 2, 3, None] * 10, dtype="Int64")})
    df.to_parquet(tmp_path / "n.parquet")
    r = enet("train", tmp_path / "n.parquet", "--target", "y", "--group", "g", "--exclude", "id",
             "--folds", "2", "-o", tmp_path / "m", "-q")
    _assert_one_line_error(r, "group column 'g' row 4 is missing")
    df["g"] = [1, 2, 3, 4] * 10
    df.to_parquet(tmp_path / "ok.parquet")
    r = enet("train", tmp_path / "ok.parquet", "--target", "y", "--group", "g", "--exclude", "id",
             "--folds", "2", "-o", tmp_path / "m", "-q")
    assert r.exit_code == 0, r.output
    r = enet("predict", tmp_path / "m", tmp_path / "ok.parquet", "-o", tmp_path / "p.parquet",
             "--keep", "id", "--keep", "id", "-q")
    assert r.exit_code == 0, r.output
    got = pd.read_parquet(tmp_path / "p.parquet")
    assert list(got.columns) == ["id", "prediction"] and got["id"].dtype == np.int64

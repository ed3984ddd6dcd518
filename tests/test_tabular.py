"""Real tabular data: schema inference, imputation, categoricals, validation, streaming.

Expected values are computed here from the raw rows with pandas/numpy (an encoder
written independently of enet's), and fits are checked against scikit-learn and
the KKT conditions on that independently encoded matrix.
"""

from __future__ import annotations

import gzip
import io
import pickle

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from rich.console import Console
from sklearn.linear_model import ElasticNet as SkElasticNet
from typer.testing import CliRunner

import enet
from enet.artifact import load_model
from enet.cli import _ProgressReporter, app
from enet.data.schema import level_digests
from enet.exceptions import DataError
from kkt import kkt_violation

runner = CliRunner()


def cli(*args):
    return runner.invoke(app, [str(a) for a in args])


def messy_frame(rng, n=3000) -> pd.DataFrame:
    """Numeric with missing values, a boolean, text categories with a rare level and
    missing values, integer codes, an ID column, a target with some missing values."""
    df = pd.DataFrame({
        "id": [f"row{i}" for i in range(n)],
        "x1": rng.standard_normal(n),
        "x2": rng.standard_normal(n) * 3 + 10,
        "flag": rng.random(n) < 0.4,
        "color": rng.choice(["red", "green", "blue"], n, p=[0.5, 0.3, 0.2]).astype(object),
        "code": rng.choice([1, 2, 3], n),
    })
    df.loc[rng.random(n) < 0.15, "x1"] = np.nan
    df.loc[rng.random(n) < 0.05, "color"] = None
    df.loc[:2, "color"] = "violet"                       # 3 rows: rarer than min_frequency 5
    y = (2.0 * df.x1.fillna(0.0) - 0.5 * df.x2 + 1.5 * df.flag + 3.0 * (df.color == "red")
         - 2.0 * (df.code == 3) + rng.standard_normal(n))
    y[rng.random(n) < 0.02] = np.nan
    df["y"] = y
    return df


def encode_independently(df: pd.DataFrame, model) -> np.ndarray:
    """The feature matrix as the manifest describes it, built with pandas only."""
    cols = []
    for col in model.inputs:
        s = df[col.name]
        if col.kind == "categorical":
            text = s.map(lambda v: None if v is None or (isinstance(v, float) and np.isnan(v))
                         else str(v))
            for level in col.levels:
                cols.append((text == level).to_numpy(float))
            known = text.isin(list(col.levels)) | text.isna()
            if col.other:
                cols.append((~known).to_numpy(float))
            if col.missing_level:
                cols.append(text.isna().to_numpy(float))
        else:
            v = s.astype(float)
            cols.append(v.fillna(col.fill).to_numpy())
            if col.indicator:
                cols.append(v.isna().to_numpy(float))
    return np.column_stack(cols)


@pytest.fixture
def messy(rng):
    return messy_frame(rng)


def _kinds(model):
    return {c.name: c.kind for c in model.inputs}


def test_schema_inference_and_learned_preprocessing(messy, tmp_path):
    path = tmp_path / "d.csv"
    messy.to_csv(path, index=False)
    model = enet.train_model(path, "y", exclude=["id"], categorical=["code"])
    assert _kinds(model) == {"x1": "numeric", "x2": "numeric", "flag": "boolean",
                             "color": "categorical", "code": "categorical"}
    kept = messy[messy.y.notna()]
    assert model.profile["rows_dropped_missing_target"] == len(messy) - len(kept)
    assert model.profile["n_rows"] == len(kept)
    x1 = next(c for c in model.inputs if c.name == "x1")
    assert x1.indicator and x1.impute == "mean"
    assert x1.fill == pytest.approx(kept.x1.mean(), rel=1e-12)       # over rows with a target
    x2 = next(c for c in model.inputs if c.name == "x2")
    assert not x2.indicator                                           # no missing values
    color = next(c for c in model.inputs if c.name == "color")
    counts = kept.color.value_counts()
    assert list(color.levels) == list(counts[counts >= 5].index)      # most frequent first
    assert color.other and color.missing_level
    assert color.pooled == tuple(level_digests(["violet"]))      # a digest, not the text
    code = next(c for c in model.inputs if c.name == "code")
    assert set(code.levels) == {"1", "2", "3"} and not code.other
    assert "code=3" in model.features and "color=<other>" in model.features


@pytest.mark.parametrize("standardize", [False, True])
def test_fit_equals_sklearn_on_independently_encoded_matrix(messy, tmp_path, standardize):
    path = tmp_path / "d.parquet"
    messy.to_parquet(path, index=False)
    model = enet.train_model(path, "y", exclude=["id"], categorical=["code"], tol=1e-12,
                             standardize=standardize, l1_ratios=[0.5, 1.0])
    kept = messy[messy.y.notna()]
    X = encode_independently(kept, model)
    y = kept.y.to_numpy()
    # the model's own prediction path agrees with the independent encoding
    np.testing.assert_allclose(model.predict(kept.drop(columns="y")), X @ model.coef +
                               model.intercept, rtol=1e-12, atol=1e-12)
    Xs = X / model.x_scale if standardize else X
    sk = SkElasticNet(alpha=model.alpha, l1_ratio=model.l1_ratio, tol=1e-14, max_iter=100_000)
    sk.fit(Xs, y)
    np.testing.assert_allclose(model.coef * (model.x_scale if standardize else 1.0), sk.coef_,
                               rtol=1e-7, atol=1e-9 * np.abs(sk.coef_).max())
    viol = kkt_violation(Xs, y, model.coef_std if standardize else model.coef, model.intercept,
                         model.alpha, model.l1_ratio)
    assert viol < 1e-8


def test_dropping_target_rows_equals_removing_them(messy, tmp_path):
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    messy.to_csv(a, index=False)
    messy[messy.y.notna()].to_csv(b, index=False)
    ma = enet.train_model(a, "y", exclude=["id"], tol=1e-12)
    mb = enet.train_model(b, "y", exclude=["id"], tol=1e-12)
    assert ma.features == mb.features
    # the path on all rows does not depend on the folds
    np.testing.assert_allclose(ma.arrays["path_coef"], mb.arrays["path_coef"], rtol=1e-10,
                               atol=1e-12)


def test_chunked_reading_gives_the_same_model(messy, tmp_path):
    path = tmp_path / "d.csv.gz"
    with gzip.open(path, "wt") as fh:
        messy.to_csv(fh, index=False)
    config = enet.TrainConfig(target="y", exclude=["id"], tol=1e-12)
    whole = enet.train.train_file(path, config)
    chunked = enet.train.train_file(path, config, chunk_bytes=4096)   # dozens of chunks
    assert whole.features == chunked.features
    for a, b in zip(whole.inputs, chunked.inputs):      # fills differ in summation order only
        assert a.fill == pytest.approx(b.fill, rel=1e-14, abs=1e-15)
        assert (a.levels, a.pooled, a.indicator) == (b.levels, b.pooled, b.indicator)
    np.testing.assert_allclose(chunked.coef, whole.coef, rtol=1e-10, atol=1e-12)
    assert chunked.alpha == pytest.approx(whole.alpha, rel=1e-12)


def test_median_imputation_is_a_median(rng, tmp_path):
    n = 20_000
    df = pd.DataFrame({"x": rng.lognormal(size=n), "z": rng.standard_normal(n)})
    df.loc[rng.random(n) < 0.2, "x"] = np.nan
    df["y"] = df.x.fillna(1.0) + df.z + rng.standard_normal(n)
    model = enet.train.train_table(df, enet.TrainConfig(target="y", impute="median"),
                                   chunk_bytes=50_000)          # merged over many chunks
    x = next(c for c in model.inputs if c.name == "x")
    # exact below a million values per column, whatever the chunking
    assert x.fill == float(np.median(df.x.dropna()))
    assert x.impute == "median" and x.indicator
    again = enet.train.train_table(df, enet.TrainConfig(target="y", impute="median"),
                                   chunk_bytes=50_000)
    np.testing.assert_array_equal(again.coef, model.coef)         # reproducible
    const = enet.train_model(df, "y", impute="constant", impute_value=-1.0,
                             missing_indicator=False)
    xc = next(c for c in const.inputs if c.name == "x")
    assert xc.fill == -1.0 and not xc.indicator and "x[missing]" not in const.features


def test_scoring_validation_one_path_for_api_and_cli(messy, tmp_path):
    train = tmp_path / "t.csv"
    messy.to_csv(train, index=False)
    model_dir = tmp_path / "m"
    r = cli("train", train, "-t", "y", "--exclude", "id", "--categorical", "code", "-o",
            model_dir, "-q")
    assert r.exit_code == 0, r.output
    model = load_model(model_dir)
    new = messy.drop(columns="y").head(200).copy()
    new.loc[0, "color"] = "purple"                      # unseen level
    new.loc[1, "x2"] = np.nan                           # missing where training had none
    shuffled = new[list(reversed(new.columns))]         # column order never matters
    expected = encode_independently(new.assign(color=new.color.where(
        new.color != "purple", "__unseen__")), model) @ model.coef + model.intercept
    x2 = next(c for c in model.inputs if c.name == "x2")
    assert expected[1] == pytest.approx(model.predict(new.iloc[[1]])[0])
    counts = enet.ScoreCounts()
    pred = model.predict(shuffled, counts=counts)
    np.testing.assert_allclose(pred, expected, rtol=1e-12)
    assert counts.unseen == {"color": 1} and counts.missing["x2"] == 1
    assert counts.extra_columns == ["id"]
    assert x2.fill == pytest.approx(messy[messy.y.notna()].x2.mean())
    with pytest.raises(DataError, match="column 'color' row 1: level 'purple' was not seen"):
        model.predict(new.drop(columns="id"), strict=True)
    with pytest.raises(DataError, match="column.*the model does not use: id"):
        model.predict(new, strict=True)
    # the CLI reports the same counts and writes the same predictions
    src = tmp_path / "new.csv"
    shuffled.to_csv(src, index=False)
    r = cli("predict", model_dir, src, "-o", tmp_path / "p.csv", "--keep", "id")
    assert r.exit_code == 0, r.output
    text = " ".join(r.output.split())
    assert "color (1 row)" in text and "x2 (1 row)" in text and "not seen in training" in text
    out = pd.read_csv(tmp_path / "p.csv")
    assert list(out.columns) == ["id", "prediction"]
    np.testing.assert_allclose(out.prediction, expected, rtol=1e-12)
    r = cli("predict", model_dir, src, "-o", tmp_path / "s.csv", "--strict", "--keep", "id")
    assert r.exit_code == 2 and "Traceback" not in r.output
    assert "level 'purple' was not seen in training" in " ".join(r.output.split())
    assert not (tmp_path / "s.csv").exists()


@pytest.mark.parametrize("content,needle", [
    ("x2,flag,color\n1,true,red\n", "missing required column(s): x1, code"),
    ("id,x1,x2,flag,color,code\na,1,2,true,red,1\nb,abc,2,false,red,1\n",
     "column 'x1' row 2: value 'abc' is not a number"),
    ("id,x1,x2,flag,color,code\na,1,2,true,red,1\nb,1,-inf,false,red,1\n",
     "column 'x2' row 2 is -inf"),
    ("id,x1,x2,flag,color,code\na,1,2,true,red,1\nb,1,2,maybe,red,1\n",
     "column 'flag' row 2: value 'maybe' is not true/false"),
])
def test_bad_scoring_input_names_column_row_value(messy, tmp_path, content, needle):
    model = enet.train_model(messy, "y", categorical=["code"], exclude=["id"])
    src = tmp_path / "bad.csv"
    src.write_text(content)
    from enet.score import predict_file
    with pytest.raises(DataError) as info:
        predict_file(model, src, tmp_path / "p.csv")
    assert needle in str(info.value)
    assert "\n" not in str(info.value)
    assert not (tmp_path / "p.csv").exists()


def test_dataframe_types_pandas_polars_arrow_numpy(rng):
    pl = pytest.importorskip("polars")
    n = 600
    df = pd.DataFrame({"a": rng.standard_normal(n),
                       "cat": pd.Categorical(rng.choice(["u", "v", "w"], n)),
                       "k": pd.array(rng.integers(0, 5, n), dtype="Int64")})
    df.loc[::7, "k"] = pd.NA
    df["y"] = df.a * 2 + (df.cat == "u") + df.k.fillna(2).astype(float) + \
        rng.standard_normal(n)
    m_pd = enet.train_model(df, "y", tol=1e-12)
    assert _kinds(m_pd) == {"a": "numeric", "cat": "categorical", "k": "numeric"}
    m_pl = enet.train_model(pl.from_pandas(df), "y", tol=1e-12)
    m_pa = enet.train_model(pa.Table.from_pandas(df, preserve_index=False), "y", tol=1e-12)
    for m in (m_pl, m_pa):
        assert m.features == m_pd.features
        np.testing.assert_allclose(m.coef, m_pd.coef, rtol=1e-10, atol=1e-12)
    X = rng.standard_normal((300, 4))
    y = X @ [1.0, -1.0, 0.0, 0.5] + 0.1 * rng.standard_normal(300)
    m_np = enet.train_model(X, "y", y=y, tol=1e-12)
    assert m_np.features == ["x0", "x1", "x2", "x3"]
    ref = enet.ElasticNet(alpha=m_np.alpha, l1_ratio=m_np.l1_ratio, tol=1e-12).fit(X, y)
    np.testing.assert_allclose(m_np.coef, ref.coef_, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(m_np.predict({f"x{j}": X[:, j] for j in range(4)}),
                               ref.predict(X), rtol=1e-10)


def test_csv_dialects_delimiter_quote_encoding_na_values(tmp_path, rng):
    n = 400
    x = rng.standard_normal(n)
    town = rng.choice(["Zürich", "Genève", "Köln"], n)
    y = 2 * x + (town == "Köln") + 0.1 * rng.standard_normal(n)
    lines = ["x;town;y"] + [f"{'-999' if i % 10 == 0 else x[i]};'{t}';{v}"
                            for i, (t, v) in enumerate(zip(town, y))]
    path = tmp_path / "latin.csv"
    path.write_bytes(("\n".join(lines) + "\n").encode("latin-1"))
    r = cli("train", path, "-t", "y", "-o", tmp_path / "m", "-q", "--delimiter", ";",
            "--quote-char", "'", "--encoding", "latin-1", "--na-value", "-999")
    assert r.exit_code == 0, r.output
    m = load_model(tmp_path / "m")
    town_col = next(c for c in m.inputs if c.name == "town")
    assert set(town_col.levels) == {"Zürich", "Genève", "Köln"}
    assert next(c for c in m.inputs if c.name == "x").indicator     # -999 read as missing
    r = cli("train", path, "-t", "y", "-o", tmp_path / "m2", "-q", "--delimiter", ";")
    assert r.exit_code == 2 and "--encoding" in r.output             # not UTF-8


def test_inferred_text_column_that_is_mostly_numbers_is_an_error(tmp_path, rng):
    rows = [f"{v:.3f},{2 * v:.3f}" for v in rng.standard_normal(50)]
    rows[17] = "1.2.3," + rows[17].split(",")[1]
    path = tmp_path / "d.csv"
    path.write_text("x,y\n" + "\n".join(rows) + "\n")
    with pytest.raises(DataError, match=r"column 'x' row 18: value '1.2.3' is not a number.*"
                                        r"--categorical x"):
        enet.train_model(path, "y")


def test_identifier_like_column_is_refused(tmp_path, monkeypatch, rng):
    import enet.data.schema as schema
    monkeypatch.setattr(schema, "MAX_DISTINCT_LEVELS", 100)
    df = pd.DataFrame({"id": [f"u{i}" for i in range(300)], "x": rng.standard_normal(300)})
    df["y"] = df.x + rng.standard_normal(300)
    with pytest.raises(DataError, match="'id' has more than 100 distinct values.*--exclude id"):
        enet.train_model(df, "y")


def test_inspect_shows_the_manifest(messy, tmp_path):
    messy.to_parquet(tmp_path / "d.parquet", index=False)
    r = cli("train", tmp_path / "d.parquet", "-t", "y", "--exclude", "id", "-o", tmp_path / "m")
    assert r.exit_code == 0, r.output
    assert "skipped" in r.output and "categorical" in r.output
    r = cli("inspect", tmp_path / "m")
    text = r.output
    assert r.exit_code == 0
    assert "inputs (feature manifest)" in text and "one-hot" in text
    assert "(mean)" in text and "indicator" in text


def test_progress_reporter_shows_rows_rate_and_eta():
    buf = io.StringIO()
    console = Console(file=buf, force_terminal=True, width=120)
    reporter = _ProgressReporter(console, delay=0.0)
    reporter("scanning", 1000, 0.25)
    reporter("scanning", 1000, 0.5)
    reporter("reading", 500, None)
    reporter.close()
    out = buf.getvalue()
    assert "scanning" in out and "2,000 rows" in out and "rows/s" in out and "ETA" in out
    assert "reading" in out


def test_one_pass_and_two_pass_training_agree(rng, tmp_path, monkeypatch):
    """Clean numeric data trains in one pass; the two-pass route gives the same model,
    and a missing value late in the file falls back to two passes by itself."""
    import enet.train as train
    n = 5000
    df = pd.DataFrame(rng.standard_normal((n, 6)), columns=[f"f{j}" for j in range(6)])
    df["y"] = df.f0 - 2 * df.f3 + rng.standard_normal(n)
    path = tmp_path / "clean.csv"
    df.to_csv(path, index=False)
    config = enet.TrainConfig(target="y", tol=1e-12)
    one = train.train_file(path, config, chunk_bytes=8192)
    monkeypatch.setattr(train, "_one_pass_inputs", lambda *a: None)
    two = train.train_file(path, config, chunk_bytes=8192)
    monkeypatch.undo()
    np.testing.assert_allclose(one.coef, two.coef, rtol=1e-10, atol=1e-13)
    for a, b in zip(one.inputs, two.inputs):
        assert a.fill == pytest.approx(b.fill, rel=1e-12, abs=1e-15) and not a.indicator
    df.loc[n - 1, "f2"] = np.nan                       # found only in the last chunk
    df.to_csv(path, index=False)
    late = train.train_file(path, config, chunk_bytes=8192)
    assert "f2[missing]" in late.features
    assert late.profile["inputs"]["f2"]["missing_rate"] == pytest.approx(1 / n)


def test_fill_is_the_weighted_mean_and_progress_is_silent_off_a_terminal(rng, tmp_path):
    n = 2000
    df = pd.DataFrame({"x": rng.standard_normal(n) + 3, "z": rng.standard_normal(n),
                       "w": rng.uniform(0, 4, n)})
    df.loc[rng.random(n) < 0.3, "x"] = np.nan
    df["y"] = df.z + rng.standard_normal(n)
    df.to_csv(tmp_path / "d.csv", index=False)
    r = cli("train", tmp_path / "d.csv", "-t", "y", "--weight", "w", "-o", tmp_path / "m")
    assert r.exit_code == 0, r.output
    assert "rows/s" not in r.output and "ETA" not in r.output     # not a terminal
    x = next(c for c in load_model(tmp_path / "m").inputs if c.name == "x")
    seen = df.x.notna()
    assert x.fill == pytest.approx(np.average(df.x[seen], weights=df.w[seen]), rel=1e-12)
    assert x.fill != pytest.approx(df.x.mean(), rel=1e-6)


def test_missing_value_spellings_travel_with_the_model(rng, tmp_path):
    n = 600
    x = rng.standard_normal(n)
    y = 10 + 2 * x + 0.1 * rng.standard_normal(n)
    xs = x.round(4).astype(object)
    xs[:50] = "-999"
    pd.DataFrame({"x": xs, "y": y}).to_csv(tmp_path / "t.csv", index=False)
    r = cli("train", tmp_path / "t.csv", "-t", "y", "-o", tmp_path / "m", "-q", "--na-value",
            "-999")
    assert r.exit_code == 0, r.output
    model = load_model(tmp_path / "m")
    assert model.manifest.na_values == ("-999",)
    x_col = next(c for c in model.inputs if c.name == "x")
    assert x_col.fill == pytest.approx(x[50:].round(4).mean(), rel=1e-9)
    # scoring without repeating --na-value: -999 and -999.0 are missing, as in training
    pd.DataFrame({"x": ["-999", "-999.0", "", "0.5"]}).to_csv(tmp_path / "s.csv", index=False)
    r = cli("predict", tmp_path / "m", tmp_path / "s.csv", "-o", tmp_path / "p.csv")
    assert r.exit_code == 0, r.output
    pred = pd.read_csv(tmp_path / "p.csv").prediction.to_numpy()
    assert pred[0] == pred[1] == pred[2]
    api = model.predict(pd.DataFrame({"x": [-999.0, np.nan, 0.5]}))
    np.testing.assert_allclose(api, pred[[0, 2, 3]], rtol=1e-12)


def test_no_default_na_keeps_na_as_a_level(rng, tmp_path):
    n = 400
    country = rng.choice(["NA", "US", "FR"], n)
    y = (country == "NA") * 2.0 + rng.standard_normal(n) * 0.1
    pd.DataFrame({"country": country, "y": y}).to_csv(tmp_path / "c.csv", index=False)
    default = enet.train_model(tmp_path / "c.csv", "y")
    kept = enet.train_model(tmp_path / "c.csv", "y", default_na=False)
    assert "country=<missing>" in default.features
    assert "country=NA" in kept.features and "country=<missing>" not in kept.features


@pytest.mark.parametrize("frame,needle", [
    (lambda r: pd.DataFrame({"zip": r.choice(["01234", "02345"], 50), "y": r.random(50)}),
     "column 'zip' holds numbers stored as text; pass --categorical zip"),
    (lambda r: pd.DataFrame({"x": [1.5, "2.5"] * 25, "y": r.random(50)}),
     "column 'x' mixes numbers and text"),
    (lambda r: pd.DataFrame([[1, 2, 3]] * 20, columns=["a", "a", "y"]),
     "column name 'a' appears twice"),
])
def test_dataframe_problems_are_data_errors(rng, frame, needle):
    with pytest.raises(DataError, match=needle):
        enet.train_model(frame(rng), "y")


def test_markup_like_names_are_shown_literally(rng, tmp_path):
    n = 100
    df = pd.DataFrame({"a[/b]": rng.standard_normal(n), "c[red]": rng.standard_normal(n)})
    df["y"] = df["a[/b]"] + rng.standard_normal(n)
    df.to_csv(tmp_path / "m[x].csv", index=False)
    r = cli("train", tmp_path / "m[x].csv", "-t", "nosuch", "-o", tmp_path / "m")
    assert r.exit_code == 2 and "a[/b]" in r.output and "Traceback" not in r.output
    r = cli("train", tmp_path / "m[x].csv", "-t", "y", "-o", tmp_path / "m")
    assert r.exit_code == 0, r.output
    r = cli("inspect", tmp_path / "m")
    assert r.exit_code == 0 and "c[red]" in r.output


def test_more_bad_input_is_a_one_line_error(rng, tmp_path, messy):
    model = enet.train_model(messy, "y", exclude=["id"], categorical=["code"])
    with pytest.raises(DataError, match="column 'flag' row 2: value 7 is not true/false"):
        model.predict(messy.head(3).assign(flag=[1, 7, 0]))
    with pytest.raises(DataError, match="the array has 2 columns"):
        enet.train_model(rng.standard_normal((40, 3)), y=rng.standard_normal(40)).predict(
            rng.standard_normal((5, 2)))
    path = tmp_path / "w0.csv"
    path.write_text("a,b,y,w\n" + "".join(f"{i},{i % 3},{i % 5},0\n" for i in range(20)))
    r = cli("train", path, "-t", "y", "--weight", "w", "-o", tmp_path / "m")
    assert r.exit_code == 2 and "weights sum to zero" in r.output
    data = gzip.compress(("a,y\n" + "".join(f"{i},{i}\n" for i in range(200_000))).encode())
    (tmp_path / "cut.csv.gz").write_bytes(data[: len(data) // 2])
    r = cli("train", tmp_path / "cut.csv.gz", "-t", "y", "-o", tmp_path / "m")
    assert r.exit_code == 2 and "Traceback" not in r.output and "internal" not in r.output
    with pytest.raises(enet.UsageError, match="l1_ratios must be numbers"):
        enet.train_model(messy, "y", exclude=["id"], l1_ratios="0.5")
    assert enet.train_model(messy, "y", exclude=["id"], l1_ratios=0.5).l1_ratio == 0.5


def test_integer_codes_match_whatever_their_spelling(rng, tmp_path):
    n = 300
    k = rng.integers(0, 4, n)
    y = k * 1.5 + 0.1 * rng.standard_normal(n)
    pd.DataFrame({"k": k, "y": y}).to_csv(tmp_path / "t.csv", index=False)
    model = enet.train_model(tmp_path / "t.csv", "y", categorical=["k"])
    assert set(next(iter(model.inputs)).levels) == {"0", "1", "2", "3"}
    counts = enet.ScoreCounts()
    as_float = model.predict(pd.DataFrame({"k": k[:20].astype(float)}), counts=counts)
    as_text = model.predict(pd.DataFrame({"k": [f"{v}.0" for v in k[:20]]}))
    as_int = model.predict(pd.DataFrame({"k": k[:20]}))
    assert counts.unseen == {}
    np.testing.assert_array_equal(as_float, as_int)
    np.testing.assert_array_equal(as_text, as_int)


def test_a_missing_marker_gets_the_na_value_hint(tmp_path):
    path = tmp_path / "q.csv"
    path.write_text("x,y\n" + "".join(f"{i},{i % 7}\n" for i in range(50)) + "?,3\n")
    with pytest.raises(DataError, match=r"value '\?' is not a number.*--na-value '\?'"):
        enet.train_model(path, "y")


def test_numbers_as_missing_markers_and_decimal_comma_hint(rng, tmp_path):
    df = pd.DataFrame({"x": rng.standard_normal(100)})
    df["y"] = df.x + rng.standard_normal(100)
    df.loc[:9, "x"] = -999.0
    model = enet.train_model(df, "y", na_values=[-999])              # a number is fine
    assert model.manifest.na_values == ("-999",)
    assert model.profile["inputs"]["x"]["missing_rate"] == pytest.approx(0.1)
    path = tmp_path / "dc.csv"
    path.write_text("x;y\n" + "".join(f"{i}.5;{i % 4},25\n" for i in range(30)))
    with pytest.raises(DataError, match="decimal commas"):
        enet.train_model(path, "y")


def test_median_sketch_merges_exactly_and_falls_back_beyond_its_cap(rng):
    from enet.data.schema import MedianSketch
    parts = [rng.lognormal(size=k) for k in (500, 1, 2000, 37)]
    merged = MedianSketch(cap=10_000)
    for p in parts:
        one = MedianSketch(cap=10_000)
        one.update(p)
        merged = merged + one
    assert merged.median() == float(np.median(np.concatenate(parts)))
    big = MedianSketch(cap=1000)
    values = rng.standard_normal(50_000)
    for chunk in np.array_split(values, 7):
        big.update(chunk)
    assert big.digest is not None and big.values == []
    assert abs((values < big.median()).mean() - 0.5) < 0.01    # t-digest rank error < 1%
    again = MedianSketch(cap=1000)
    for chunk in np.array_split(values, 7):
        again.update(chunk)
    assert pickle.dumps(again) == pickle.dumps(big)            # deterministic
    assert np.isnan(MedianSketch(cap=10).median())

"""Training and scoring on Spark local[2] (one session for the module: the JVM is slow
to start) against the local streaming engine on the same rows."""

import os
import socket
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import enet
from enet.artifact import load_model, save_model
from enet.cli import app
from enet.score import predict_file
from scale_data import messy_table, relative_difference, write_pieces

pyspark = pytest.importorskip("pyspark")

runner = CliRunner()
OPTIONS = dict(weight="w", exclude=["g", "id"], l1_ratios=[0.5, 1.0], n_alphas=30)


@pytest.fixture(scope="module")
def spark():
    from enet.engines.spark import session
    s = session("local[2]")
    yield s
    s.stop()


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    df = messy_table(int(os.environ.get("ENET_TEST_SEED", "0")))
    whole, parts = write_pieces(df, tmp_path_factory.mktemp("spark"))
    return df, whole, parts, enet.train_model(whole, target="y", **OPTIONS)


def _assert_same_fit(local, other):
    assert other.params["fold_sizes"] == local.params["fold_sizes"]
    assert relative_difference(local.coef, other.coef) < 1e-10
    assert other.intercept == pytest.approx(local.intercept, rel=1e-10, abs=1e-10)
    assert other.metrics["cv_mse"] == pytest.approx(local.metrics["cv_mse"], rel=1e-10)


def test_cli_spark_equals_local(spark, data, tmp_path):
    _, _, parts, local = data
    out = tmp_path / "model"
    r = runner.invoke(app, ["train", *map(str, parts), "-t", "y", "--weight", "w",
                            "--exclude", "g", "--exclude", "id", "--l1-ratio", "0.5,1",
                            "--n-alphas", "30", "--engine", "spark", "-o", str(out),
                            "--quiet", "--no-report"])
    assert r.exit_code == 0, r.output
    model = load_model(out)
    _assert_same_fit(local, model)
    assert model.lineage["data"]["engine"] == "spark"


def test_spark_dataframe_equals_local(spark, data):
    df, _, _, local = data
    sdf = spark.createDataFrame(df).coalesce(1)                  # one ordered partition
    _assert_same_fit(local, enet.train_model(sdf, target="y", **OPTIONS))
    # several partitions in order: createDataFrame slices the frame in row order
    sdf = spark.createDataFrame(df)
    assert sdf.rdd.getNumPartitions() > 1
    _assert_same_fit(local, enet.train_model(sdf, target="y", **OPTIONS))


def test_predict_on_spark_equals_local(spark, data, tmp_path):
    df, whole, parts, local = data
    predict_file(local, whole, tmp_path / "local.parquet", keep=["id"])
    expected = pd.read_parquet(tmp_path / "local.parquet")
    save_model(local, tmp_path / "model")
    out = tmp_path / "scored"
    r = runner.invoke(app, ["predict", str(tmp_path / "model"), *map(str, parts), "-o",
                            str(out), "--keep", "id", "--engine", "spark", "--quiet"])
    assert r.exit_code == 0, r.output
    pd.testing.assert_frame_equal(pd.read_parquet(out).reset_index(drop=True), expected)
    from enet.score_scale import predict_frame
    scored = predict_frame(local, spark.createDataFrame(df), keep=["id"]).toPandas()
    np.testing.assert_array_equal(scored["prediction"].to_numpy(),
                                  expected["prediction"].to_numpy())


def test_mismatched_piece_names_the_file_on_spark(spark, data, tmp_path):
    df, _, parts, _ = data
    changed = tmp_path / "odd.parquet"
    df.iloc[:50].drop(columns=["x2"]).to_parquet(changed, index=False)
    r = runner.invoke(app, ["train", str(parts[0]), str(changed), "-t", "y", "--exclude", "g",
                            "--exclude", "id", "--engine",
                            "spark", "-o", str(tmp_path / "m"), "--quiet"])
    assert r.exit_code == 2, r.output
    assert str(changed) in r.output and "column(s) x2 missing" in r.output, r.output


def test_unreachable_master_is_one_line_exit_2(data, tmp_path):
    _, whole, _, _ = data
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.run([sys.executable, "-m", "enet.cli", "train", str(whole), "-t", "y",
                           "--engine", "spark", "--spark-master", f"spark://127.0.0.1:{port}",
                           "-o", str(tmp_path / "m")], capture_output=True, text=True,
                          timeout=120, env=dict(os.environ, PYTHONPATH=os.getcwd()))
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot reach the Spark master" in lines[0], proc.stderr


@pytest.mark.parametrize("master", ["local", "local[2]", "local[*]", "local[4,3]",
                                    "spark://10.0.0.5:7077", "spark://a:7077,b:7077",
                                    "yarn", "k8s://https://10.0.0.5:6443"])
def test_master_forms_spark_accepts_pass_the_check(master):
    from enet.engines.spark import check_master
    check_master(master)


def test_malformed_master_is_one_line_before_any_jvm(data, tmp_path):
    _, whole, _, _ = data
    for master in ["bogus", "local[x]", "spark://host-without-port"]:
        proc = subprocess.run([sys.executable, "-m", "enet.cli", "train", str(whole), "-t",
                               "y", "--engine", "spark", "--spark-master", master, "-o",
                               str(tmp_path / "m")], capture_output=True, text=True,
                              timeout=120, env=dict(os.environ, PYTHONPATH=os.getcwd()))
        assert proc.returncode == 2
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and repr(master) in lines[0] and "local[N]" in lines[0] \
            and "yarn" in lines[0], proc.stderr
        assert not (tmp_path / "m").exists()


def test_quiet_spark_run_prints_no_progress_bars_or_logs(data, tmp_path):
    _, _, parts, _ = data
    proc = subprocess.run([sys.executable, "-m", "enet.cli", "train", *map(str, parts), "-t",
                           "y", "--exclude", "g", "--exclude", "id", "--engine", "spark",
                           "-o", str(tmp_path / "m"), "--quiet", "--no-report"],
                          capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, PYTHONPATH=os.getcwd()))
    assert proc.returncode == 0, proc.stderr
    assert "[Stage " not in proc.stderr, proc.stderr
    assert "pandas >= 3.0.0" not in proc.stderr, proc.stderr
    assert " INFO " not in proc.stderr and " WARN " not in proc.stderr, proc.stderr
    assert "log4j profile" not in proc.stderr, proc.stderr

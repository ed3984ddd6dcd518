"""MLflow interoperability (runs when the mlflow extra is installed)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import enet
from enet.cli import app

mlflow = pytest.importorskip("mlflow")
runner = CliRunner()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def registered(tmp_path, rng, monkeypatch):
    monkeypatch.chdir(tmp_path)        # a sqlite store keeps run artifacts under ./mlruns
    n = 300
    df = pd.DataFrame({"x": rng.standard_normal(n), "z": rng.standard_normal(n),
                       "c": rng.choice(["a", "b", "c"], n)})
    df["y"] = 2 * df.x - df.z + (df.c == "a") + 0.1 * rng.standard_normal(n)
    df.to_csv(tmp_path / "d.csv", index=False)
    reg = tmp_path / "reg"
    r = runner.invoke(app, ["train", str(tmp_path / "d.csv"), "-t", "y", "-o",
                            str(tmp_path / "m"), "-q", "--register", "sales", "--registry",
                            str(reg), "--mlflow-uri", f"sqlite:///{tmp_path / 'mlflow.db'}"])
    assert r.exit_code == 0, r.output
    return df, reg, tmp_path


def test_training_is_logged_to_an_mlflow_store(registered):
    df, reg, tmp = registered
    client = mlflow.tracking.MlflowClient(f"sqlite:///{tmp / 'mlflow.db'}")
    exp = client.get_experiment_by_name("enet")
    (run,) = client.search_runs([exp.experiment_id])
    model = enet.load_model(tmp / "m")
    assert float(run.data.params["alpha"]) == pytest.approx(model.alpha, rel=1e-12)
    assert run.data.metrics["cv_rmse"] == pytest.approx(model.metrics["cv_rmse"], rel=1e-12)
    names = [a.path for a in client.list_artifacts(run.info.run_id, "enet_model")]
    assert "enet_model/model.json" in names


def test_exported_pyfunc_loads_and_serves(registered):
    df, reg, tmp = registered
    r = runner.invoke(app, ["registry", "export", "sales/1", str(tmp / "mlf"), "--registry",
                            str(reg)])
    assert r.exit_code == 0, r.output
    model = enet.load_model(tmp / "m")
    rows = df.drop(columns="y").head(5)
    pyfunc = mlflow.pyfunc.load_model(str(tmp / "mlf"))
    got = pyfunc.predict(rows).prediction.to_numpy()
    np.testing.assert_allclose(got, model.predict(rows), rtol=1e-12)
    assert [c.name for c in pyfunc.metadata.get_input_schema().inputs] == ["x", "z", "c"]
    # `mlflow models serve` on the exported directory, over loopback
    port = _free_port()
    env = dict(os.environ, PATH=os.path.dirname(sys.executable) + os.pathsep +
               os.environ.get("PATH", ""))
    server = subprocess.Popen([sys.executable, "-m", "mlflow", "models", "serve", "-m",
                               str(tmp / "mlf"), "--env-manager", "local", "-h", "127.0.0.1",
                               "-p", str(port)], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        body = json.dumps({"dataframe_split": {"columns": list(rows.columns),
                                               "data": rows.values.tolist()}}).encode()
        deadline = time.time() + 90
        while True:
            try:
                req = urllib.request.Request(f"http://127.0.0.1:{port}/invocations", body,
                                             {"Content-Type": "application/json"})
                with urllib.request.urlopen(req, timeout=5) as resp:
                    answer = json.loads(resp.read())
                break
            except OSError:
                if time.time() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.5)
        served = [p["prediction"] for p in answer["predictions"]]
        np.testing.assert_allclose(served, model.predict(rows), rtol=1e-12)
    finally:
        os.killpg(server.pid, 15)
        server.wait(timeout=30)

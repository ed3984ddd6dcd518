"""Stability selection from row-block statistics, and the HTML reports (every embedded
image decodes; the hyperparameters shown are the model's)."""

from __future__ import annotations

import base64
import io
import re
import time

import numpy as np
import pandas as pd
import pytest
from matplotlib.image import imread
from typer.testing import CliRunner

import enet
from enet.artifact import load_model
from enet.cli import app
from enet.core.path import path_from_stats
from enet.core.stats import SufficientStats
from enet.monitor.monitor import monitor_table
from enet.report import monitor_report, training_report
from enet.stability_selection import block_ids, blocks_per_fold

runner = CliRunner()


def cli(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def frame():
    rng = np.random.default_rng(3)
    n = 600
    df = pd.DataFrame(rng.standard_normal((n, 8)), columns=[f"x{j}" for j in range(8)])
    df["y"] = 3 * df.x0 - 2 * df.x1 + 1.0 * df.x2 + 2.0 * rng.standard_normal(n)
    return df


def test_stability_selection_equals_half_sample_fits_from_rows(frame):
    model = enet.train_model(frame, "y", stability=30, seed=4, selection="1se")
    freq = model.arrays["stability_frequency"]
    info = model.metrics["stability_selection"]
    assert info["fits"] == 30 and info["blocks"] == 20 and info["half_blocks"] == 10
    assert info["alpha"] == pytest.approx(model.alpha) and info["l1_ratio"] == model.l1_ratio
    assert freq[:3].tolist() == [1.0, 1.0, 1.0]                 # the true features
    assert freq[3:].max() < 1.0
    # the same half-samples refitted from their rows
    from enet.core.cv import kfold_ids
    n = len(frame)
    X, y = frame.drop(columns="y").to_numpy(), frame.y.to_numpy()
    fold = kfold_ids(0, n, 5, 4)
    blocks = block_ids(np.arange(n), fold, blocks_per_fold(5, X.shape[1]), 4)
    rng = np.random.default_rng(4)
    li = int(np.argmin(np.abs(model.arrays["cv_l1_ratios"] - model.l1_ratio)))
    grid = model.arrays["cv_alphas"][li]
    grid = grid[:int(np.argmin(np.abs(grid - model.alpha))) + 1]
    selected = np.zeros(X.shape[1])
    for _ in range(30):
        rows = np.isin(blocks, rng.choice(20, size=10, replace=False))
        res = path_from_stats(SufficientStats.from_arrays(X[rows], y[rows]),
                              l1_ratio=model.l1_ratio, alphas=grid, warn=False)
        selected += res.coef[-1] != 0
    np.testing.assert_array_equal(freq, selected / 30)


def test_stability_does_not_change_the_model_and_costs_little(frame):
    t0 = time.perf_counter()
    plain = enet.train_model(frame, "y")
    t1 = time.perf_counter()
    stable = enet.train_model(frame, "y", stability=100)
    t2 = time.perf_counter()
    assert stable.alpha == plain.alpha and stable.l1_ratio == plain.l1_ratio
    np.testing.assert_allclose(stable.coef, plain.coef, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(stable.arrays["cv_mean"], plain.arrays["cv_mean"], rtol=1e-9)
    print(f"one training {t1 - t0:.3f} s; with 100 stability fits {t2 - t1:.3f} s")


def test_stability_refused_for_the_naive_solver(tmp_path, frame):
    frame.to_csv(tmp_path / "d.csv", index=False)
    r = cli("train", tmp_path / "d.csv", "-t", "y", "-o", tmp_path / "m", "--solver", "naive",
            "--stability", "10")
    assert r.exit_code == 2 and "--stability" in r.output and "--solver covariance" in r.output


def images(html: str) -> list[np.ndarray]:
    """Every embedded image, decoded."""
    found = re.findall(r'src="data:image/png;base64,([^"]+)"', html)
    assert len(found) == html.count("<img")
    out = []
    for data in found:
        raw = base64.b64decode(data, validate=True)
        assert raw[:8] == b"\x89PNG\r\n\x1a\n"
        img = imread(io.BytesIO(raw), format="png")
        assert img.ndim == 3 and img.shape[0] > 100 and img.shape[1] > 100
        out.append(img)
    return out


def shown_hyperparameters(html: str) -> tuple[float, float]:
    alpha = re.search(r'id="alpha" data-value="([^"]+)"', html).group(1)
    ratio = re.search(r'id="l1_ratio" data-value="([^"]+)"', html).group(1)
    return float(alpha), float(ratio)


def test_train_writes_report_and_report_regenerates_it(tmp_path, frame):
    frame.to_csv(tmp_path / "d.csv", index=False)
    reg = tmp_path / "reg"
    r = cli("train", tmp_path / "d.csv", "-t", "y", "-o", tmp_path / "model", "--stability",
            "20", "--register", "demo", "--registry", reg, "-q")
    assert r.exit_code == 0, r.output
    model = load_model(tmp_path / "model")
    html = (tmp_path / "model.report.html").read_text()
    assert len(images(html)) == 5          # CV curve, paths, coefficients, residuals, stability
    assert shown_hyperparameters(html) == (model.alpha, model.l1_ratio)
    assert "(stability selection)" in html and "Lineage" in html
    # regenerate from the registry: the lineage shows the version and its parent
    r = cli("train", tmp_path / "d.csv", "-t", "y", "-o", tmp_path / "model2", "--register",
            "demo", "--parent", "1", "--registry", reg, "--no-report", "-q")
    assert r.exit_code == 0 and not (tmp_path / "model2.report.html").exists()
    r = cli("report", "demo/2", "--registry", reg, "-o", tmp_path / "r2.html")
    assert r.exit_code == 0, r.output
    html2 = (tmp_path / "r2.html").read_text()
    v2 = load_model(tmp_path / "model2")
    assert shown_hyperparameters(html2) == (v2.alpha, v2.l1_ratio)
    assert len(images(html2)) == 4                                  # no stability this time
    rows = re.findall(r"<tr><td class=\"num\">(\d)</td>", html2)
    assert rows == ["2", "1"]                                       # version 2, then parent 1
    # by path, default output next to the model
    r = cli("report", tmp_path / "model")
    assert r.exit_code == 0 and (tmp_path / "model.report.html").exists()
    r = cli("report", tmp_path / "missing")
    assert r.exit_code == 2 and "no such model" in r.output


def test_monitor_report_shows_histograms_of_the_drifting_inputs(tmp_path, frame):
    model = enet.train_model(frame, "y")
    new = frame.assign(x0=frame.x0 + 1.0)
    result = monitor_table(model, new, "y")
    html = monitor_report(result, model, "m")
    imgs = images(html)
    assert 'alt="histogram of x0"' in html
    assert len(imgs) == 2                  # x0 (the only drifting input) and the predictions
    assert shown_hyperparameters(html) == (model.alpha, model.l1_ratio)
    assert "ALARM" in html and "validation gap" in html
    text = training_report(model)
    assert shown_hyperparameters(text) == (model.alpha, model.l1_ratio)
    # through the CLI, into a file
    model_dir = tmp_path / "m"
    enet.save_model(model, model_dir)
    new.to_csv(tmp_path / "new.csv", index=False)
    r = cli("monitor", "-m", model_dir, "-d", tmp_path / "new.csv", "-o", tmp_path / "mon.html")
    assert r.exit_code == 1
    html = (tmp_path / "mon.html").read_text()
    assert images(html) and shown_hyperparameters(html) == (model.alpha, model.l1_ratio)

"""Training twice on the same file writes the same model directory, byte for byte, except
the lineage's creation time (and model.json's checksum, which covers it).

The data have more rows, and more distinct values per numeric column, than the profile
keeps exactly, so the t-digest path is the one exercised; the profile's decile edges are
checked against numpy's quantiles of the same column.
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from artifact_files import assert_same_but_time
from enet.monitor.monitor import profile_ecdf

RANK_ERROR = 0.013          # the KLL sketch's bound the profile keeps (bench/profile_sketch.py)


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    rng = np.random.default_rng(int(os.environ.get("ENET_TEST_SEED", "0")))
    n = 40_000
    df = pd.DataFrame({
        "x": rng.normal(3.0, 2.0, n),
        "heavy": rng.standard_cauchy(n),
        "spend": np.where(rng.random(n) < 0.4, 0.0, rng.lognormal(size=n)),   # 40% zeros
        "flag": rng.random(n) < 0.3,
        "grade": rng.choice(["a", "b", "c", "d"], n, p=[0.4, 0.3, 0.2, 0.1]),
    })
    df["y"] = (1.5 * df.x + 0.01 * df.heavy + 2.0 * df.spend + df.flag
               + (df.grade == "b") + rng.normal(size=n))
    df.loc[rng.random(n) < 0.05, "x"] = np.nan
    path = tmp_path_factory.mktemp("repro") / "train.csv"
    df.to_csv(path, index=False)
    return df, path


def _train(csv, out) -> None:
    proc = subprocess.run([sys.executable, "-m", "enet.cli", "train", str(csv), "-t", "y",
                           "-o", str(out), "--quiet", "--no-report", "--n-alphas", "20"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr


def test_two_trainings_write_identical_files(table, tmp_path):
    _, csv = table
    first, second = tmp_path / "first", tmp_path / "second"
    _train(csv, first)
    _train(csv, second)
    a = assert_same_but_time(first, second)
    # the profile came from the t-digest where it should, exact counts elsewhere
    inputs = a["profile"]["drift"]["inputs"]
    assert inputs["x"]["cdf_source"].startswith("t-digest")
    assert inputs["spend"]["cdf_source"].startswith("t-digest")
    assert inputs["flag"]["cdf_source"] == "exact"


@pytest.mark.parametrize("column", ["x", "heavy", "spend"])
def test_profile_decile_edges_within_the_rank_error(table, tmp_path, column):
    import enet

    df, csv = table
    model = enet.train_model(csv, "y", n_alphas=5, l1_ratios=[1.0])
    entry = model.profile["drift"]["inputs"][column]
    values = np.sort(df[column].dropna().to_numpy())
    n = values.size
    edges = np.array(entry["edges"])
    # the decile edges are the stored CDF's lower quantiles, ties merged
    points, cdf = profile_ecdf(model, column)
    targets = np.arange(1, 10) / 10
    deciles = np.array([points[np.argmax(cdf >= t - 1e-12)] for t in targets])
    np.testing.assert_array_equal(edges, np.unique(deciles[deciles < points[-1]]))
    # each decile's rank interval [F(q-), F(q)] from numpy holds it within the rank error
    below = np.searchsorted(values, deciles, side="left") / n
    upto = np.searchsorted(values, deciles, side="right") / n
    assert np.all(below - RANK_ERROR <= targets) and np.all(targets <= upto + RANK_ERROR)
    # the bins' shares against numpy's counts in the same bins
    shares = np.bincount(np.searchsorted(edges, values, side="left"),
                         minlength=edges.size + 1) / n
    np.testing.assert_allclose(entry["freq"], shares, atol=RANK_ERROR)
    assert entry["min"] == values[0] and entry["max"] == values[-1]

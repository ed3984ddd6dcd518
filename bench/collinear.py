"""Collinear designs: sparse fingerprints with duplicated columns, one-hot tables.

Case 1: the solubility fingerprints (1025 x 4095 counts, ~22 nonzeros per row, many
duplicated and nearly duplicated columns), the standardised lasso path (100 alphas down to
1e-2 alpha_max, tol 1e-7) with the naive solver on the CSR matrix and with the covariance
solver on the densified matrix. Case 2: ``enet.train_model`` on a 3,600-row table with a
600-level categorical (every level kept: the indicators sum to one) and a numeric column,
5-fold CV x 4 l1_ratios x 100 alphas on the covariance solver. Times are wall seconds after
a warm-up (compilation) call.

    python bench/collinear.py [--svm PATH] [--skip-covariance]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

import numpy as np
import pandas as pd

import enet
from enet.core.naive import path_from_arrays
from enet.core.path import enet_path
from enet.data.matrix import load_matrix


def _report(label, seconds, res):
    c = res.certificate
    print(f"{label:<34} {seconds:8.2f} s  sweeps {int(c.n_iter.sum()):6d} (max {int(c.n_iter.max())})"
          f"  nonzeros at the end {int(np.count_nonzero(res.coef_at(-1)))}  converged {bool(c.converged.all())}")


def fingerprints(path: str, covariance: bool) -> None:
    d = load_matrix(path)
    path_from_arrays(d.X[:50], d.y[:50], l1_ratio=1.0, n_alphas=3)
    for tol in (1e-7, 1e-4):
        t = time.perf_counter()
        res = path_from_arrays(d.X, d.y, l1_ratio=1.0, eps=1e-2, tol=tol, warn=False)
        _report(f"case 1 naive (CSR) tol {tol:g}", time.perf_counter() - t, res)
    if covariance:
        X = np.asfortranarray(d.X.toarray())
        enet_path(X[:50, :40], d.y[:50], l1_ratio=1.0, n_alphas=3)
        t = time.perf_counter()
        res = enet_path(X, d.y, l1_ratio=1.0, eps=1e-2, warn=False)
        _report("case 1 covariance (dense) tol 1e-07", time.perf_counter() - t, res)


def one_hot_table(levels: int = 600, rows: int = 3600) -> None:
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"c": rng.choice([f"L{i}" for i in range(levels)], rows),
                       "x": rng.standard_normal(rows)})
    df["y"] = df.x + (df.c.str[1:].astype(int) % 7) * 0.3 + rng.standard_normal(rows)
    enet.train_model(df[["x", "y"]].head(200), "y")         # compiles the kernels
    t = time.perf_counter()
    enet.train_model(df, "y", max_levels=1000)
    print(f"case 2 train_model, {levels} levels   {time.perf_counter() - t:8.2f} s")


def _packaged_fingerprints() -> str:
    """The solubility fingerprints, generated on first use from the packaged data."""
    here = os.path.dirname(os.path.abspath(__file__))
    out = os.path.join(here, "data")
    path = os.path.join(out, "solubility_train.svm")
    if not os.path.exists(path):
        script = os.path.join(os.path.dirname(here), "examples", "solubility_fingerprints.py")
        subprocess.run([sys.executable, script, out], check=True)
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--svm", default=None, help="default: bench/data/solubility_train.svm, "
                                                "written by examples/solubility_fingerprints.py")
    ap.add_argument("--skip-covariance", action="store_true")
    args = ap.parse_args()
    svm = args.svm or _packaged_fingerprints()
    fingerprints(svm, not args.skip_covariance)
    one_hot_table()


if __name__ == "__main__":
    main()

"""Write the small deterministic CSV datasets used by make_reference.R.

Run from anywhere:  python make_data.py
"""
from pathlib import Path

import numpy as np
from sklearn.datasets import load_diabetes

HERE = Path(__file__).resolve().parent


def write_diabetes():
    d = load_diabetes(scaled=False)
    X, y = d.data, d.target
    names = ["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"]
    with open(HERE / "diabetes.csv", "w") as f:
        f.write(",".join(names + ["y"]) + "\n")
        for row, t in zip(X, y):
            f.write(",".join(repr(float(v)) for v in row) + "," + repr(float(t)) + "\n")


def write_synthetic():
    rng = np.random.default_rng(20240521)
    n, p = 200, 8
    # AR(1)-style correlation 0.6^|i-j|
    idx = np.arange(p)
    cov = 0.6 ** np.abs(idx[:, None] - idx[None, :])
    Z = rng.multivariate_normal(np.zeros(p), cov, size=n)
    scales = 10.0 ** (idx - 3)            # 1e-3 .. 1e4
    offsets = 100.0 * idx
    X = Z * scales + offsets
    # coefficients on the standardised scale, converted to raw scale
    beta_std = np.array([3.0, -2.0, 0.0, 1.5, 0.0, 0.0, 2.5, 0.0])
    beta = beta_std / scales
    y = 5.0 + (X - offsets) @ beta + rng.normal(scale=1.0, size=n)
    w = rng.uniform(0.5, 2.0, size=n)
    # round to 10 significant digits so the CSV is exactly what both sides read
    X = np.array([[float(f"{v:.10g}") for v in row] for row in X])
    y = np.array([float(f"{v:.10g}") for v in y])
    w = np.array([float(f"{v:.10g}") for v in w])
    names = [f"x{j}" for j in range(p)]
    with open(HERE / "synthetic.csv", "w") as f:
        f.write(",".join(names + ["y", "w"]) + "\n")
        for row, t, wi in zip(X, y, w):
            f.write(",".join(repr(float(v)) for v in row) + f",{float(t)!r},{float(wi)!r}\n")


if __name__ == "__main__":
    write_diabetes()
    write_synthetic()
    print("wrote diabetes.csv, synthetic.csv in", HERE)

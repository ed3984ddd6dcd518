"""Accuracy report: enet against scikit-learn and R glmnet, with KKT violations.

    python bench/accuracy.py [--seeds 5]

For random problems (n > p and n < p, with and without sample weights,
l1_ratio in {0, 0.01, 0.5, 1}, positive on and off) prints the largest relative
coefficient difference to scikit-learn's ElasticNet (both at tight tolerance)
and the largest KKT violation of enet's solutions (computed from the data,
relative to sd(y) sd(x_j)); then the same against the glmnet reference cases
in tests/reference/glmnet.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings

import numpy as np
import pandas as pd
from sklearn.linear_model import ElasticNet as SkElasticNet

from enet import ElasticNet

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))
from kkt import kkt_violation  # noqa: E402


def random_problems(seeds: int):
    for seed in range(seeds):
        rng = np.random.default_rng(seed)
        for n, p in ((200, 12), (40, 90)):
            X = rng.standard_normal((n, p)) * rng.uniform(0.5, 3.0, p) + rng.uniform(-5, 5, p)
            X[:, 1:] += 0.6 * X[:, :-1]
            y = X[:, :3] @ [2.0, -1.5, 1.0] + 3.0 + rng.standard_normal(n)
            w = rng.uniform(0.2, 3.0, n)
            yield f"n={n} p={p}", X, y, w


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=5)
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    rows = []
    for shape, X, y, w in random_problems(args.seeds):
        for weighted in (False, True):
            sw = w if weighted else None
            for r in (0.0, 0.01, 0.5, 1.0):
                for positive in (False, True):
                    alpha = 0.05 * np.max(np.abs((X - X.mean(0)).T @ (y - y.mean()))) / len(y)
                    ours = ElasticNet(alpha=alpha, l1_ratio=r, standardize=False,
                                      positive=positive, tol=1e-13).fit(X, y, sample_weight=sw)
                    ref = SkElasticNet(alpha=alpha, l1_ratio=r, positive=positive, tol=1e-15,
                                       max_iter=10**6).fit(X, y, sample_weight=sw)
                    diff = np.max(np.abs(ours.coef_ - ref.coef_)) / np.max(np.abs(ref.coef_))
                    kkt = kkt_violation(X, y, ours.coef_, ours.intercept_, alpha, r,
                                        sample_weight=sw, positive=positive)
                    rows.append((shape, weighted, r, positive, diff, kkt))
    df = pd.DataFrame(rows, columns=["shape", "weighted", "l1_ratio", "positive", "rel_diff",
                                     "kkt"])
    print(f"scikit-learn parity over {len(df)} fits (enet tol 1e-13, sklearn tol 1e-15):")
    print(df.groupby(["shape", "weighted", "positive"])[["rel_diff", "kkt"]].max()
          .to_string(float_format=lambda v: f"{v:.1e}"))
    print(f"max relative coefficient difference {df.rel_diff.max():.2e}, "
          f"max KKT violation {df.kkt.max():.2e}")

    ref_dir = os.path.join(HERE, "..", "tests", "reference", "glmnet")
    cases = json.load(open(os.path.join(ref_dir, "cases.json")))
    worst_diff = worst_kkt = 0.0
    for case in cases:
        df = pd.read_csv(os.path.join(ref_dir, case["data"]))
        X = df[case["features"]].to_numpy(float)
        y = df[case["target"]].to_numpy(float)
        w = df[case["weight"]].to_numpy(float) if case["weight"] else None
        params = dict(standardize=case["standardize"], fit_intercept=case["fit_intercept"],
                      penalty_factor=case["penalty_factor"], lower_bounds=case["lower_bounds"],
                      upper_bounds=case["upper_bounds"])
        m = ElasticNet(alpha=case["alpha"], l1_ratio=case["l1_ratio"], tol=1e-13,
                       **params).fit(X, y, sample_weight=w)
        sd_x = np.sqrt(np.cov(X, rowvar=False, aweights=w, bias=True).diagonal())
        sd_y = np.sqrt(np.cov(y, aweights=w, bias=True))
        worst_diff = max(worst_diff, np.max(np.abs(m.coef_ - case["coef"]) * sd_x) / sd_y)
        worst_kkt = max(worst_kkt, kkt_violation(X, y, m.coef_, m.intercept_, case["alpha"],
                                                 case["l1_ratio"], sample_weight=w, **params))
    print(f"R glmnet reference ({len(cases)} cases): max coefficient difference "
          f"{worst_diff:.2e} (standardised, relative to sd(y)), max KKT violation {worst_kkt:.2e}")


if __name__ == "__main__":
    main()

"""enet.ElasticNetCV against scikit-learn's ElasticNetCV, side by side in one process.

Tall dense problem: n rows x p Toeplitz-correlated features (S_ij = rho^|i-j|),
10 nonzero true coefficients, noise for SNR 3. Both libraries get the same
folds, the same 100-alpha grid per l1_ratio and l1_ratio in {0.1, 0.5, 0.9, 1};
scikit-learn runs with n_jobs=2. Reports median wall time over repetitions,
the ratio, and both selected models' error on an independent test set.

    python bench/cv_vs_sklearn.py [--n 200000] [--p 100] [--reps 3]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import numpy as np
import sklearn
from sklearn.linear_model import ElasticNetCV as SkElasticNetCV

import enet
from enet import ElasticNetCV
from enet.core.cv import cross_validated_fit, kfold_ids
from enet.core.stats import FoldAccumulator

L1_RATIOS = [0.1, 0.5, 0.9, 1.0]


def make_data(n: int, p: int, seed: int, rho: float = 0.5):
    rng = np.random.default_rng(seed)
    # AR(1) columns have exactly the Toeplitz correlation rho^|i-j|
    X = np.empty((n, p))
    X[:, 0] = rng.standard_normal(n)
    for j in range(1, p):
        X[:, j] = rho * X[:, j - 1] + np.sqrt(1 - rho**2) * rng.standard_normal(n)
    beta = np.zeros(p)
    idx = np.arange(0, p, max(1, p // 10))[:10]
    beta[idx] = np.linspace(1.0, 2.0, len(idx)) * (-1.0) ** np.arange(len(idx))
    signal = X @ beta
    y = signal + rng.standard_normal(n) * signal.std() / 3.0
    return X, y


def timed(fn, reps: int):
    times, result = [], None
    for _ in range(reps):
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=200_000)
    ap.add_argument("--p", type=int, default=100)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    X, y = make_data(args.n, args.p, args.seed)
    Xt, yt = make_data(50_000, args.p, args.seed + 1)
    fold = kfold_ids(0, args.n, 5, 0)
    splits = [(np.flatnonzero(fold != k), np.flatnonzero(fold == k)) for k in range(5)]

    # warm the JIT cache outside the timing (a cold start is reported separately)
    t = time.perf_counter()
    ElasticNetCV(l1_ratio=L1_RATIOS, cv=3, n_alphas=5).fit(X[:500], y[:500])
    cold = time.perf_counter() - t

    ours = ElasticNetCV(l1_ratio=L1_RATIOS, cv=splits, n_alphas=100, standardize=False)
    t_ours, ours = timed(lambda: ours.fit(X, y), args.reps)
    # scikit-learn builds the same grid (alpha_max from X'y / l1_ratio, eps 1e-3, 100 values)
    sk = SkElasticNetCV(l1_ratio=L1_RATIOS, cv=splits, alphas=100, n_jobs=2)
    t_sk, sk = timed(lambda: sk.fit(X, y), max(1, args.reps))

    def test_mse(model):
        return float(np.mean((yt - model.predict(Xt)) ** 2))

    print(f"machine: {platform.machine()} {platform.processor() or ''}, "
          f"python {platform.python_version()}, numpy {np.__version__}, "
          f"scikit-learn {sklearn.__version__}, enet {enet.__version__}")
    print(f"problem: n={args.n:,} p={args.p} folds=5 alphas=100 l1_ratio={L1_RATIOS}, "
          f"median of {args.reps}")
    print(f"{'library':<28}{'seconds':>10}{'ratio':>9}{'alpha':>12}{'l1_ratio':>10}"
          f"{'test MSE':>12}")
    print(f"{'enet ElasticNetCV':<28}{t_ours:>10.3f}{1.0:>9.1f}{ours.alpha_:>12.5g}"
          f"{ours.l1_ratio_:>10g}{test_mse(ours):>12.6g}")
    print(f"{'sklearn ElasticNetCV n_jobs=2':<28}{t_sk:>10.3f}{t_sk / t_ours:>9.1f}"
          f"{sk.alpha_:>12.5g}{sk.l1_ratio_:>10g}{test_mse(sk):>12.6g}")
    print(f"enet first call in a fresh process (JIT cache load or compile): {cold:.2f} s")

    # where enet's time goes: the floor (X'X once), the one statistics pass, the solves
    t_floor, _ = timed(lambda: X.T @ X, args.reps)

    def stats_pass():
        acc = FoldAccumulator(args.p, 5)
        acc.update(X, y, None, fold)
        return acc.folds()

    t_stats, folds = timed(stats_pass, args.reps)
    t_cv, _ = timed(lambda: cross_validated_fit(folds, l1_ratios=L1_RATIOS, standardize=False),
                    args.reps)
    print(f"enet breakdown: X'X once {t_floor:.3f} s | statistics pass, 5 folds "
          f"{t_stats:.3f} s | 20 fold paths + final path {t_cv:.3f} s")


if __name__ == "__main__":
    main()

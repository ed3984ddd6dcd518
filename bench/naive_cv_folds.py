"""Where the naive solver's cross-validation time goes: one path per (fold, l1_ratio).

Runs the T3 fold paths of ``bench/run.py`` one at a time (held-out rows weighted 0, as
``enet.core.cv_naive`` does, the same folds and grids) and prints, for each, the CPU
seconds, the sweeps, the alpha that took the most sweeps and the nonzeros there against the
training rows. With ``--celer`` it also re-solves that worst alpha and the last one with celer at tol 1e-12,
warm-started from enet's answer, and prints both objectives (celer for the lasso only).
``all`` among ``--folds`` solves the path on all rows (no held-out fold); ``--no-homotopy``
turns off the lasso homotopy (``enet.core.naive.HOMOTOPY_MIN_SUPPORT``), for comparison.

    python bench/naive_cv_folds.py [--dataset D2] [--small] [--l1-ratio 1.0] [--folds 0,1|all]
                                   [--tol 1e-6] [--celer] [--no-homotopy]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import datasets  # noqa: E402
import peers  # noqa: E402
from objective import alpha_grid, objectives  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="D2")
    ap.add_argument("--small", action="store_true")
    ap.add_argument("--l1-ratio", default="0.1,0.5,0.9,1.0")
    ap.add_argument("--folds", default="0,1,2,3,4")
    ap.add_argument("--tol", type=float, default=peers.ENET_NAIVE_TOL)
    ap.add_argument("--max-iter", type=int, default=peers.MAX_ITER)
    ap.add_argument("--celer", action="store_true")
    ap.add_argument("--no-homotopy", action="store_true")
    args = ap.parse_args()
    from enet.core import naive
    from enet.core.cv import kfold_ids
    from enet.core.naive import path_from_arrays
    if args.no_homotopy:
        naive.HOMOTOPY_MIN_SUPPORT = np.iinfo(np.int64).max

    X, y = datasets.load(args.dataset, args.small)
    n = X.shape[0]
    fold = kfold_ids(0, n, peers.N_FOLDS, 0)
    path_from_arrays(X[:200][:, :50], y[:200], l1_ratio=0.5, alphas=np.array([1.0, 0.5]),
                     standardize=False, tol=args.tol, warn=False)        # compile
    print(f"{args.dataset}{' (small)' if args.small else ''}: {datasets.describe(X, y)}, "
          f"tol {args.tol:g}{', homotopy off' if args.no_homotopy else ''}")
    for r in (float(v) for v in args.l1_ratio.split(",")):
        grid = alpha_grid(X, y, r, peers.N_ALPHAS, peers.EPS)
        for k in (-1 if v == "all" else int(v) for v in args.folds.split(",")):
            w = np.ones(n)
            w[fold == k] = 0.0              # k = -1: all rows
            c0 = time.process_time()
            res = path_from_arrays(X, y, sample_weight=w, l1_ratio=r, alphas=grid,
                                   standardize=False, tol=args.tol, max_iter=args.max_iter,
                                   warn=False)
            cpu = time.process_time() - c0
            cert = res.certificate
            worst = int(cert.n_iter.argmax())
            b = res.coef_at(worst)
            print(f"l1_ratio {r:g} {'all rows' if k < 0 else f'fold {k}'}: cpu {cpu:7.2f} s, {int(cert.n_iter.sum()):6,} "
                  f"sweeps, worst alpha #{worst} {int(cert.n_iter[worst]):,} sweeps, "
                  f"{np.count_nonzero(b)} nonzeros for {int((w > 0).sum())} training rows, "
                  f"converged {bool(cert.converged.all())}", flush=True)
            if args.celer and r == 1.0:
                last = len(grid) - 1
                for a in sorted({worst, last}):         # the slowest and the deepest alpha
                    _celer_check(X[w > 0], y[w > 0], a, grid[a], res.intercept[a],
                                 res.coef_at(a))


def _celer_check(X, y, index, alpha, b0, b) -> None:
    from celer import Lasso
    Xc, yc = X - X.mean(axis=0), y - y.mean()
    t = time.perf_counter()
    m = Lasso(alpha=alpha, tol=1e-12, max_iter=10_000, max_epochs=200_000,
              fit_intercept=False, warm_start=True)
    m.coef_ = b.copy()
    m.fit(Xc, yc)
    el = time.perf_counter() - t
    c0 = y.mean() - X.mean(axis=0) @ m.coef_
    f_enet = objectives(X, y, np.array([b0]), b[None, :], np.array([alpha]), 1.0)[0]
    f_celer = objectives(X, y, np.array([c0]), m.coef_[None, :], np.array([alpha]), 1.0)[0]
    print(f"    alpha #{index} ({np.count_nonzero(b)} nonzeros): celer tol 1e-12 (warm start) "
          f"{el:.1f} s; objective enet {f_enet:.12g}, "
          f"celer {f_celer:.12g}, relative difference {(f_enet - f_celer) / f_celer:.2e}")


if __name__ == "__main__":
    main()

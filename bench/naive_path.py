"""The naive (on-X) solver against python-glmnet and scikit-learn on the wide and sparse data.

Task T2 (see bench/README.md): the 100-alpha path, l1_ratio 0.5, alpha_max -> 1e-3 alpha_max,
intercept, no standardisation, scikit-learn's objective scaling. All peers run in this one
process on the same arrays, one after another; every solution is scored with the shared
``bench/objective.py`` and compared with the best objective any peer reached at each alpha.

Peak memory is the process's peak resident set during the call above its resident set just
before it (the peak is reset through /proc/self/clear_refs before each call), shown also as a
multiple of the size of X (data + indices + indptr for sparse X). Times are wall-clock
seconds; CPU seconds are shown too because the machine may be shared.

    python bench/naive_path.py [--small] [--datasets D2,D3] [--peers enet,glmnet,sklearn]
                               [--reps 1] [--enet-tol 1e-7,1e-6] [--format csr|csc]
                               [--markdown PATH]
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import sys
import time

import numpy as np
import scipy.sparse as sp

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import datasets  # noqa: E402
import peers  # noqa: E402
from objective import alpha_grid, objectives  # noqa: E402

L1_RATIO = 0.5


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def x_bytes(X) -> int:
    if sp.issparse(X):
        return X.data.nbytes + X.indices.nbytes + X.indptr.nbytes
    return X.nbytes


# ---------------------------------------------------------------------------------------------
# the peers: (X, y, grid, tol) -> (intercepts (k,), coefs (k, p))
# ---------------------------------------------------------------------------------------------
SWEEPS: list[int] = []      # coordinate-descent sweeps of enet's last path
PATH_SIZE: list[str] = []   # its coefficient path's nonzeros and bytes (sparse X)


def run_enet(X, y, grid, tol):
    from enet.core.naive import path_from_arrays
    res = path_from_arrays(X, y, l1_ratio=L1_RATIO, alphas=grid, standardize=False, tol=tol,
                           max_iter=peers.MAX_ITER, warn=False)
    SWEEPS[:] = [int(res.certificate.n_iter.sum())]
    PATH_SIZE[:] = []
    if sp.issparse(res.coef):
        c = res.coef
        mib = (c.data.nbytes + c.indices.nbytes + c.indptr.nbytes) / 2**20
        PATH_SIZE[:] = [f", path {c.nnz:,} nonzeros ({mib:.1f} MiB)"]
    if not res.certificate.converged.all():
        print(f"  enet: {int((~res.certificate.converged).sum())} points not converged")
    return res.intercept, res.coef


def run_glmnet(X, y, grid, tol):
    return peers._glmnet_path(X, y, L1_RATIO, grid, tol)


def run_sklearn(X, y, grid, tol):
    out = peers.sklearn_fit("T2", X, y, {"grid": grid, "l1_ratio": L1_RATIO}, tol)
    return out["intercepts"], out["coefs"]


RUNNERS = {"enet": run_enet, "glmnet": run_glmnet, "sklearn": run_sklearn}


def measure(fn, X, y, grid, tol, reps: int):
    """(median wall s, median cpu s, peak extra MiB or nan, result of the last call)."""
    walls, cpus, peaks = [], [], []
    out = None
    for _ in range(reps):
        out = None
        gc.collect()
        ok = _reset_peak()
        base = _status_kb("VmRSS")
        t, c = time.perf_counter(), time.process_time()
        out = fn(X, y, grid, tol)
        walls.append(time.perf_counter() - t)
        cpus.append(time.process_time() - c)
        peaks.append((_status_kb("VmHWM") - base) / 1024.0 if ok else float("nan"))
    return float(np.median(walls)), float(np.median(cpus)), float(np.max(peaks)), out


def warm_up(names, X, y):
    """Compile / import every peer on a tiny slice of the same kind of data."""
    Xs = X[:200][:, :50]
    Xs = Xs.tocsr() if sp.issparse(Xs) else np.ascontiguousarray(Xs)
    ys = np.ascontiguousarray(y[:200])
    grid = alpha_grid(Xs, ys, L1_RATIO, 5, 1e-2)
    for name in names:
        RUNNERS[name](Xs, ys, grid, peers.TOLS.get(name, 1e-7))


def bench_dataset(name, small, names, reps, enet_tols, lines, fmt=None):
    X, y = datasets.load(name, small)
    if fmt and sp.issparse(X) and X.format != fmt:
        X = X.asformat(fmt)     # every peer receives the same format
    grid = alpha_grid(X, y, L1_RATIO, peers.N_ALPHAS, peers.EPS)
    xmb = x_bytes(X) / 2**20
    head = (f"{name}{' (small)' if small else ''}: {datasets.describe(X, y)}, X {xmb:.1f} MiB, "
            f"T2 path: {len(grid)} alphas, l1_ratio {L1_RATIO}")
    print(head)
    lines.append(head)
    warm_up(names, X, y)
    rows = {}
    runs = [(peer, tol) for peer in names
            for tol in (enet_tols if peer == "enet" else [peers.TOLS[peer]])]
    for peer, tol in runs:
        label = f"{peer}@{tol:g}" if peer == "enet" and len(enet_tols) > 1 else peer
        try:
            wall, cpu, peak, (b0, B) = measure(RUNNERS[peer], X, y, grid, tol, reps)
        except Exception as exc:  # noqa: BLE001 - a failing peer is reported, not fatal
            print(f"  {label}: failed ({type(exc).__name__}: {exc})")
            lines.append(f"  {label}: failed ({type(exc).__name__}: {exc})")
            continue
        f = objectives(X, y, b0, B, grid, L1_RATIO)
        rows[label] = (wall, cpu, peak, tol, f)
        sweeps = f", {SWEEPS[0]:,} sweeps" if peer == "enet" and SWEEPS else ""
        sweeps += "".join(PATH_SIZE) if peer == "enet" else ""
        print(f"  {label}: {wall:.3f} s{sweeps}")
        lines.append(f"  {label}: {wall:.3f} s{sweeps}")
    if not rows:
        return
    best = np.min(np.vstack([r[4] for r in rows.values()]), axis=0)
    ref = rows["glmnet"][0] if "glmnet" in rows else next(iter(rows.values()))[0]
    fmt = "{:<12} {:>9} {:>9} {:>9} {:>8} {:>14} {:>11} {:>9}"
    table = [fmt.format("peer", "tol", "wall s", "cpu s", "glmnet/x", "max obj gap", "peak MiB",
                        "peak / X")]
    for peer, (wall, cpu, peak, tol, f) in rows.items():
        gap = float(np.max((f - best) / np.abs(best)))
        table.append(fmt.format(peer, f"{tol:g}", f"{wall:.3f}", f"{cpu:.3f}",
                                f"{ref / wall:.2f}", f"{gap:.2e}", f"{peak:.1f}",
                                f"{peak / xmb:.2f}"))
    for line in table:
        print(line)
    lines.extend(table)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--small", action="store_true")
    ap.add_argument("--datasets", default="D2,D3")
    ap.add_argument("--peers", default="enet,glmnet,sklearn")
    ap.add_argument("--reps", type=int, default=1)
    ap.add_argument("--enet-tol", default=str(peers.TOLS["enet"]),
                    help="comma-separated: one enet run per tolerance")
    ap.add_argument("--markdown", default=None, help="append the tables to this file")
    ap.add_argument("--format", choices=["csr", "csc"], default=None,
                    help="give sparse X to every peer in this format (default: as generated, CSR)")
    args = ap.parse_args()
    names = [p for p in args.peers.split(",") if p]
    for p in names:
        if p not in RUNNERS:
            raise SystemExit(f"unknown peer {p!r}; choose from {', '.join(RUNNERS)}")
    import numba
    import sklearn
    lines = [f"machine: {platform.machine()}, {os.cpu_count()} cpus, load average "
             f"{os.getloadavg()[0]:.2f}; python {platform.python_version()}, numpy "
             f"{np.__version__}, numba {numba.__version__}, scikit-learn {sklearn.__version__}, "
             f"python-glmnet {peers.version('glmnet')}"]
    print(lines[0])
    for name in args.datasets.split(","):
        bench_dataset(name, args.small, names, args.reps,
                      [float(t) for t in args.enet_tol.split(",")], lines, args.format)
    if args.markdown:
        with open(args.markdown, "a") as fh:
            fh.write("```\n" + "\n".join(lines) + "\n```\n")


if __name__ == "__main__":
    main()

"""Scale-out benchmark: the same Parquet table trained with the local engine and with a
Dask LocalCluster, side by side in one run; then the costs the cluster estimate in
docs/scaling.md needs (the p x p reduce and the solve, at p = 100 and p = 200).

    python bench/scale_out.py --rows 20000000 --features 100 --workers 2

The table (float32 features, a float64 target, row groups of 100,000 rows, files of
1,000,000 rows) is generated once under bench/data/ (git-ignored). Each engine runs
in its own process, so its peak memory is its own; Dask workers report theirs.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ROW_GROUP = 100_000
FILE_ROWS = 1_000_000


def generate(directory: str, rows: int, p: int, seed: int = 0) -> list[str]:
    """Write the table (if absent): y = X b + noise, b sparse."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    os.makedirs(directory, exist_ok=True)
    rng = np.random.default_rng(seed)
    beta = np.where(rng.random(p) < 0.3, rng.normal(size=p), 0.0)
    paths = []
    for i, start in enumerate(range(0, rows, FILE_ROWS)):
        path = os.path.join(directory, f"part-{i:04d}.parquet")
        paths.append(path)
        if os.path.exists(path):
            continue
        m = min(FILE_ROWS, rows - start)
        local = np.random.default_rng([seed, i])
        X = local.standard_normal((m, p), dtype=np.float32)
        y = X.astype(np.float64) @ beta + local.standard_normal(m)
        cols = {f"x{j}": X[:, j] for j in range(p)}
        cols["y"] = y
        tmp = path + ".tmp"
        pq.write_table(pa.table(cols), tmp, row_group_size=ROW_GROUP, compression="none")
        os.replace(tmp, path)
    return paths


def peak_rss_mib() -> float:
    """This process's peak resident memory (VmHWM: its own, unlike ru_maxrss, which a
    child keeps from the process that forked it)."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_engine(engine: str, paths: list[str], workers: int) -> dict:
    """Train in this (child) process; returns times and peak memory."""
    from enet.train import TrainConfig
    from enet.train_scale import train_files

    config = TrainConfig(target="y", l1_ratios=[0.5, 1.0], n_alphas=50)
    result = {"engine": engine}
    cluster = None
    if engine == "dask":
        from distributed import Client, LocalCluster
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                               host="127.0.0.1", dashboard_address=None,
                               memory_limit="8GiB")
        address = cluster.scheduler_address
    start = time.perf_counter()
    if engine == "dask":
        model = train_files(paths, config, "dask", address)
    else:
        model = train_files(paths, config, "local")
    result["seconds"] = time.perf_counter() - start
    result["rows"] = model.profile["n_rows"]
    result["coef"] = model.coef.tolist()
    # the LocalCluster's scheduler runs inside the client process
    result["peak_rss_mib"] = {"client" if engine == "local" else "client+scheduler":
                              peak_rss_mib()}
    if cluster is not None:
        with Client(cluster) as client:
            peaks = client.run(peak_rss_mib)
            result["peak_rss_mib"].update({f"worker {i}": v for i, v in
                                           enumerate(sorted(peaks.values()))})
        cluster.close()
    return result


def client_costs(p: int, folds: int = 5) -> dict:
    """Time of one merge of two pieces' statistics and of the CV solve, at ``p``."""
    from enet.core.cv import cross_validated_fit
    from enet.passes import FoldRule, StatsPartial

    rng = np.random.default_rng(1)
    n = max(20 * p, 20_000)
    X = rng.standard_normal((n, p))
    y = X @ np.where(rng.random(p) < 0.3, rng.normal(size=p), 0.0) + rng.standard_normal(n)

    def partial_of(rows):
        s = StatsPartial(p, FoldRule(folds, 0))
        s.acc.update(X[rows], y[rows], None, rows % folds)
        s.ranges.update(X[rows])
        s.counts.read = len(rows)
        return s.finalize()

    a, b = partial_of(np.arange(0, n // 2)), partial_of(np.arange(n // 2, n))
    reps = 50
    t = time.perf_counter()
    for _ in range(reps):
        total = a + b
    merge = (time.perf_counter() - t) / reps
    t = time.perf_counter()
    cross_validated_fit(total.stats, l1_ratios=[0.5, 1.0], n_alphas=50)
    solve = time.perf_counter() - t
    size = sum(8 * (p + 1) ** 2 for _ in range(folds))
    return {"p": p, "merge_seconds": merge, "solve_seconds": solve,
            "partial_bytes": size}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=20_000_000)
    ap.add_argument("--features", type=int, default=100)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--engine", help=argparse.SUPPRESS)        # child process
    ap.add_argument("--data", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.engine:
        paths = sorted(os.path.join(args.data, f) for f in os.listdir(args.data)
                       if f.endswith(".parquet"))
        print(json.dumps(run_engine(args.engine, paths, args.workers)))
        return
    directory = os.path.join(ROOT, "bench", "data", f"scale_{args.rows}x{args.features}")
    t = time.perf_counter()
    paths = generate(directory, args.rows, args.features)
    size = sum(os.path.getsize(f) for f in paths)
    print(f"data: {len(paths)} files, {size / 2**30:.2f} GiB, {args.rows:,} rows x "
          f"{args.features} features (float32), ready in {time.perf_counter() - t:.1f} s")
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores (shared), "
          f"python {platform.python_version()}")
    env = dict(os.environ, PYTHONPATH=ROOT)
    results = {}
    for engine in ("local", "dask"):
        out = subprocess.run([sys.executable, __file__, "--engine", engine, "--data", directory,
                              "--workers", str(args.workers)], capture_output=True, text=True,
                             env=env, check=True)
        results[engine] = json.loads(out.stdout.strip().splitlines()[-1])
    print("\n| engine | processes | time (s) | s per 1M rows per core | peak RSS per "
          "process (MiB) |\n|---|---|---|---|---|")
    for engine, r in results.items():
        # one core per worker process; the local engine is one process (BLAS may add a
        # thread in the Gram update only)
        cores = 1 if engine == "local" else args.workers
        per = r["seconds"] * cores / (r["rows"] / 1e6)
        peaks = ", ".join(f"{k} {v:,.0f}" for k, v in r["peak_rss_mib"].items())
        procs = 1 if engine == "local" else args.workers + 1
        print(f"| {engine} | {procs} | {r['seconds']:.1f} | {per:.3f} | {peaks} |")
    a, b = np.array(results["local"]["coef"]), np.array(results["dask"]["coef"])
    print(f"\ncoefficients dask vs local: max |diff| / max |coef| = "
          f"{np.max(np.abs(a - b)) / np.max(np.abs(a)):.2e}")
    print(f"ratio dask / local time: {results['dask']['seconds'] / results['local']['seconds']:.2f}")
    print("\nclient-side costs (5 folds, l1_ratio 0.5 and 1, 50 alphas):")
    for p in (args.features, 200):
        c = client_costs(p)
        print(f"  p={p}: merge of two partial results {c['merge_seconds'] * 1e3:.2f} ms, "
              f"CV solve {c['solve_seconds']:.2f} s, partial result "
              f"{c['partial_bytes'] / 2**20:.2f} MiB")


if __name__ == "__main__":
    main()

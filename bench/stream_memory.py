"""Training memory does not grow with the number of rows (streamed two-pass training).

Generates messy CSV files (numeric columns with missing values, a boolean, two
categoricals, an ID column) of increasing length, trains each with the CLI in a
fresh process, and prints wall time, rows/s and peak memory (ru_maxrss). Files are
written to bench/data/ (kept out of git) and reused.

    python bench/stream_memory.py [--rows 250000,1000000,4000000] [--features 30]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "data")


def generate(path: str, n_rows: int, n_features: int, seed: int = 0) -> None:
    """Write the file in blocks of 100,000 rows (the generator's memory stays flat too)."""
    rng = np.random.default_rng(seed)
    coef = rng.standard_normal(n_features)
    levels = np.array([f"L{k:02d}" for k in range(50)])
    tmp = path + ".tmp"
    writer = None
    for start in range(0, n_rows, 100_000):
        m = min(100_000, n_rows - start)
        X = rng.standard_normal((m, n_features))
        city = levels[rng.zipf(1.5, m) % 50]
        flag = rng.random(m) < 0.3
        y = X @ coef + 2.0 * (city == "L01") + flag + rng.standard_normal(m)
        cols = {"id": pa.array([f"r{start + i}" for i in range(m)])}
        for j in range(n_features):
            v = X[:, j].copy()
            if j % 5 == 0:
                v[rng.random(m) < 0.05] = np.nan
            cols[f"x{j}"] = pa.array(v, from_pandas=True)
        cols.update(city=pa.array(city), plan=pa.array(rng.choice(["a", "b", "c"], m)),
                    flag=pa.array(flag), y=pa.array(y))
        table = pa.table(cols)
        if writer is None:
            writer = pacsv.CSVWriter(tmp, table.schema)
        writer.write_table(table)
    writer.close()
    os.replace(tmp, path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", default="250000,1000000,4000000")
    ap.add_argument("--features", type=int, default=30)
    args = ap.parse_args()
    os.makedirs(DATA, exist_ok=True)
    # the child reports its own peak resident memory when the command finishes
    enet_cmd = [sys.executable, "-c", "import resource, sys\nfrom enet.cli import main\n"
                "try:\n    main()\nexcept SystemExit:\n    pass\n"
                "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)", "--"]
    print(f"{'rows':>10} {'file MB':>8} {'train s':>8} {'rows/s':>10} {'peak MB':>8}")
    for n in [int(v) for v in args.rows.split(",")]:
        path = os.path.join(DATA, f"stream_{n}_{args.features}.csv")
        if not os.path.exists(path):
            generate(path, n, args.features)
        out = os.path.join(DATA, f"stream_model_{n}")
        start = time.perf_counter()
        run = subprocess.run(enet_cmd + ["train", path, "-t", "y", "--exclude", "id", "-o", out,
                                         "-q"], check=True, capture_output=True, text=True)
        elapsed = time.perf_counter() - start
        peak_kb = int(run.stdout.strip().splitlines()[-1])
        print(f"{n:>10,} {os.path.getsize(path) / 2**20:>8.0f} {elapsed:>8.2f} "
              f"{n / elapsed:>10,.0f} {peak_kb / 1024:>8.0f}", flush=True)


if __name__ == "__main__":
    main()

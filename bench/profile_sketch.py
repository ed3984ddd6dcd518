"""Accuracy, size, speed and reproducibility of the training profile's numeric CDF:
the KLL sketch (k = 200, the method before) against the t-digest at several k, and the
profile's method (exact counts up to 600 distinct values, else t-digest k = 1000 fed
sorted chunks).

Every summary is fed the same values in the same chunks (65,536 values, as training's
reader). Errors are measured against the exact distribution of the same values:

* ``cdf``:   sup_x |F_summary(x) - F(x)| over all x (the CDF that KS, Wasserstein and
             the service's rolling window read), exact through IntervalCounts;
* ``edges``: worst rank distance of the 9 decile edges from 0.1, ..., 0.9 (for a tied
             edge, the distance from the target to the edge's rank interval);
* ``bins``:  worst |profile share - exact share| over the decile bins of the summary's
             own edges (the shares PSI compares);
* ``median``: rank distance of the summary's median from 0.5 (the imputation median
             beyond a million values per column; the profile row shows MedianSketch's);
* ``psi``:   PSI of the exact shares against the profile's (what identical data scores);
* ``repro``: two fresh summaries of the same chunks serialise to the same bytes.

Run:  python bench/profile_sketch.py [--rows 1000000] [--seed 0]
"""

from __future__ import annotations

import argparse
import datetime
import platform
import time

import numpy as np
from datasketches import kll_doubles_sketch, tdigest_double

from enet.data.distribution import MedianSketch, ValueDistribution, digest_cdf, ecdf_from_sample
from enet.monitor.drift import (IntervalCounts, bin_counts, bin_frequencies, psi, quantile_edges,
                                quantiles)

CHUNK = 65_536
DIGEST_KS = (200, 1000, 2000)


def distributions(rows: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """The test columns: continuous, heavy-tailed, discrete, tied, tiny."""
    zero_inflated = np.where(rng.random(rows) < 0.4, 0.0, rng.lognormal(size=rows))
    return {
        "normal": rng.standard_normal(rows),
        "lognormal": rng.lognormal(sigma=1.5, size=rows),
        "cauchy": rng.standard_cauchy(rows),
        "pareto a=1.2": rng.pareto(1.2, rows),
        "normal, sorted": np.sort(rng.standard_normal(rows)),
        "40% zeros + lognormal": zero_inflated,
        "normal, 30% at 0 (median)": np.where(rng.random(rows) < 0.3, 0.0,
                                              rng.standard_normal(rows)),
        "integers 0..9999": rng.integers(0, 10_000, rows).astype(float),
        "integers, 2 dp (ties)": np.round(rng.normal(50, 10, rows), 2),
        "poisson(50)": rng.poisson(50, rows).astype(float),
        "5 values (skewed)": rng.choice([1.0, 2.0, 3.0, 5.0, 8.0], rows,
                                        p=[0.6, 0.2, 0.1, 0.07, 0.03]),
        "boolean p=0.3": (rng.random(rows) < 0.3).astype(float),
        "normal n=50": rng.standard_normal(50),
        "normal n=500": rng.standard_normal(500),
        "normal n=5000": rng.standard_normal(5000),
    }


def chunks(v: np.ndarray):
    return [np.ascontiguousarray(v[s:s + CHUNK]) for s in range(0, v.size, CHUNK)]


def fed(summary, v: np.ndarray):
    """``summary`` updated with ``v`` chunk by chunk, and the seconds the updates took."""
    parts = chunks(v)
    t = time.perf_counter()
    for part in parts:
        summary.update(part)
    return summary, time.perf_counter() - t


def kll_summary(v: np.ndarray):
    sk, sec = fed(kll_doubles_sketch(200), v)
    pairs = np.array(list(sk), dtype=np.float64).reshape(-1, 2)
    return ecdf_from_sample(pairs[:, 0], pairs[:, 1]), sk.serialize(), sk.get_quantile(0.5), sec


def digest_summary(v: np.ndarray, k: int):
    td, sec = fed(tdigest_double(k), v)
    return digest_cdf(td), td.serialize(), td.get_quantile(0.5), sec


def sorted_digest_summary(v: np.ndarray, k: int):
    """The t-digest fed each chunk sorted (as the profile does): half the update time."""
    td = tdigest_double(k)
    t = time.perf_counter()
    for part in chunks(v):
        td.update(np.sort(part))
    sec = time.perf_counter() - t
    return digest_cdf(td), td.serialize(), td.get_quantile(0.5), sec


def profile_summary(v: np.ndarray):
    dist, sec = fed(ValueDistribution(), v)
    state = dist.__getstate__()
    median = MedianSketch(cap=0)          # the imputation median beyond its exact cap
    median.update(v)
    return dist.ecdf(), repr(state).encode(), median.median(), sec


def rank_distance(sorted_v: np.ndarray, values: np.ndarray, targets: np.ndarray) -> float:
    """Worst distance of each target rank from its value's rank interval [F(v-), F(v)]."""
    below = np.searchsorted(sorted_v, values, side="left") / sorted_v.size
    upto = np.searchsorted(sorted_v, values, side="right") / sorted_v.size
    return float(np.maximum(np.maximum(below - targets, targets - upto), 0.0).max())


def errors(v: np.ndarray, points: np.ndarray, cdf: np.ndarray, median: float
           ) -> dict[str, float]:
    """Rank errors of a step CDF (and a median) against the exact distribution of ``v``."""
    n = v.size
    counts = IntervalCounts(points)
    counts.update(v)
    sorted_v = np.sort(v)
    targets = np.arange(1, 10) / 10
    edge_err = rank_distance(sorted_v, quantiles(points, cdf, targets), targets)
    edges = quantile_edges(points, cdf, 10)
    exact = bin_counts(v, edges) / n
    freq = bin_frequencies(points, cdf, edges)
    return {"cdf": counts.ks(cdf), "edges": float(edge_err),
            "bins": float(np.abs(freq - exact).max()), "psi": psi(freq, exact),
            "median": rank_distance(sorted_v, np.array([median]), np.array([0.5])),
            "points": points.size}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    import datasketches
    print(f"date {datetime.date.today()}, {platform.machine()} {platform.processor() or ''}, "
          f"python {platform.python_version()}, numpy {np.__version__}, "
          f"datasketches {datasketches.__version__ if hasattr(datasketches, '__version__') else '?'}"
          f", rows {args.rows:,}, chunks of {CHUNK:,}, seed {args.seed}")
    methods = {"KLL k=200": kll_summary}
    methods.update({f"t-digest k={k}": (lambda v, k=k: digest_summary(v, k)) for k in DIGEST_KS})
    methods["t-digest k=1000, sorted chunks"] = lambda v: sorted_digest_summary(v, 1000)
    methods["profile (exact<=600 distinct)"] = profile_summary
    worst = {m: dict(cdf=0.0, edges=0.0, bins=0.0, psi=0.0, median=0.0) for m in methods}
    seconds = {m: 0.0 for m in methods}
    print(f"{'distribution':24s} {'method':30s} {'cdf err':>8s} {'edge err':>8s} "
          f"{'bin err':>8s} {'psi':>9s} {'median':>7s} {'points':>6s} {'repro':>5s} {'s':>6s}")
    for name, v in distributions(args.rows, np.random.default_rng(args.seed)).items():
        for m, fn in methods.items():
            (points, cdf), state, median, sec = fn(v)
            again = fn(v)[1]
            err = errors(v, points, cdf, median)
            for key in worst[m]:
                worst[m][key] = max(worst[m][key], err[key])
            seconds[m] += sec
            print(f"{name:24s} {m:30s} {err['cdf']:8.4f} {err['edges']:8.4f} "
                  f"{err['bins']:8.4f} {err['psi']:9.2e} {err['median']:7.4f} {err['points']:6d} "
                  f"{'yes' if state == again else 'NO':>5s} {sec:6.3f}")
    print("\nworst over all distributions (rank errors as shares of rows); seconds of "
          "the updates summed, ratio to KLL")
    base = seconds["KLL k=200"]
    for m in methods:
        w = worst[m]
        print(f"{m:30s} cdf {w['cdf']:.4f}  edges {w['edges']:.4f}  bins {w['bins']:.4f}  "
              f"psi {w['psi']:.2e}  median {w['median']:.4f}  seconds {seconds[m]:.2f} ({seconds[m] / base:.2f}x)")


if __name__ == "__main__":
    main()

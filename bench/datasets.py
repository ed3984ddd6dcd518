"""Deterministic benchmark datasets, generated on demand and cached under ``bench/data/``.

Nothing is downloaded: D1-D3 are simulated with ``numpy.random.default_rng(seed)`` and R1 is
scikit-learn's bundled diabetes data (shipped inside the wheel).

    D1 "tall"   n=500,000  p=100      rows ~ N(0, S), S_ij = 0.5^|i-j| (AR(1) across columns),
                                      10 nonzero coefficients at 0, 10, ..., 90
    D2 "wide"   n=400      p=10,000   blocks of 10 features, within-block correlation 0.8,
                                      20 nonzero coefficients (the first two blocks)
    D3 "sparse" n=50,000   p=100,000  CSR, density 0.001, standard-normal values,
                                      50 nonzero coefficients
    R1          diabetes, raw scale (load_diabetes(scaled=False)), n=442, p=10

True coefficients alternate in sign with magnitudes linspace(1, 2); noise sd is chosen so that
sd(signal) / sd(noise) = 3. ``small=True`` gives scaled-down versions (same recipe, same seed).

    python bench/datasets.py [--small] [D1 D2 D3 R1]   # generate / show the cache
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

DATA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
SNR = 3.0


@dataclass(frozen=True)
class Spec:
    name: str
    kind: str          # "tall" | "wide" | "sparse" | "real"
    n: int
    p: int
    seed: int
    density: float = 0.0


FULL = {
    "D1": Spec("D1", "tall", 500_000, 100, 0),
    "D2": Spec("D2", "wide", 400, 10_000, 1),
    "D3": Spec("D3", "sparse", 50_000, 100_000, 2, 0.001),
    "R1": Spec("R1", "real", 442, 10, 0),
}
SMALL = {
    "D1": Spec("D1", "tall", 20_000, 100, 0),
    "D2": Spec("D2", "wide", 200, 1_000, 1),
    "D3": Spec("D3", "sparse", 5_000, 10_000, 2, 0.001),
    "R1": FULL["R1"],
}
NAMES = list(FULL)


def spec(name: str, small: bool = False) -> Spec:
    return (SMALL if small else FULL)[name]


def _beta(p: int, idx: np.ndarray) -> np.ndarray:
    beta = np.zeros(p)
    beta[idx] = np.linspace(1.0, 2.0, len(idx)) * (-1.0) ** np.arange(len(idx))
    return beta


def _response(rng: np.random.Generator, X, beta: np.ndarray) -> np.ndarray:
    signal = np.asarray(X @ beta).ravel()
    return signal + rng.standard_normal(signal.shape[0]) * (signal.std() / SNR)


def _make_tall(s: Spec):
    rng = np.random.default_rng(s.seed)
    rho = 0.5
    X = rng.standard_normal((s.n, s.p))
    # AR(1) across columns: x_j = rho x_{j-1} + sqrt(1 - rho^2) e_j has corr rho^|i-j| exactly
    c = np.sqrt(1.0 - rho**2)
    for j in range(1, s.p):
        X[:, j] *= c
        X[:, j] += rho * X[:, j - 1]
    beta = _beta(s.p, np.arange(0, s.p, max(1, s.p // 10))[:10])
    return X, _response(rng, X, beta)


def _make_wide(s: Spec):
    rng = np.random.default_rng(s.seed)
    rho, block = 0.8, 10
    n_blocks = s.p // block
    shared = rng.standard_normal((s.n, n_blocks))
    X = np.sqrt(1.0 - rho) * rng.standard_normal((s.n, s.p))
    X += np.sqrt(rho) * np.repeat(shared, block, axis=1)
    beta = _beta(s.p, np.arange(2 * block))
    return X, _response(rng, X, beta)


def _make_sparse(s: Spec):
    rng = np.random.default_rng(s.seed)
    X = sp.random(s.n, s.p, density=s.density, format="csr", dtype=np.float64,
                  random_state=rng, data_rvs=rng.standard_normal)
    X.sort_indices()
    idx = np.sort(rng.choice(s.p, size=50, replace=False))
    return X, _response(rng, X, _beta(s.p, idx))


def _make_real(s: Spec):
    from sklearn.datasets import load_diabetes
    X, y = load_diabetes(return_X_y=True, scaled=False)
    return np.ascontiguousarray(X, dtype=np.float64), np.asarray(y, dtype=np.float64)


_MAKERS = {"tall": _make_tall, "wide": _make_wide, "sparse": _make_sparse, "real": _make_real}


def _paths(s: Spec, small: bool):
    stem = os.path.join(DATA_DIR, f"{s.name}{'_small' if small and s.kind != 'real' else ''}")
    xpath = stem + ("_X.npz" if s.kind == "sparse" else "_X.npy")
    return xpath, stem + "_y.npy"


def load(name: str, small: bool = False, mmap: bool = False):
    """(X, y) of a dataset; generated and cached on the first call.

    X is a C-contiguous float64 ndarray, or a CSR matrix for D3.
    """
    s = spec(name, small)
    xpath, ypath = _paths(s, small)
    if not (os.path.exists(xpath) and os.path.exists(ypath)):
        os.makedirs(DATA_DIR, exist_ok=True)
        X, y = _MAKERS[s.kind](s)
        tmp = xpath + ".tmp" + os.path.splitext(xpath)[1]
        if sp.issparse(X):
            sp.save_npz(tmp, X, compressed=False)
        else:
            np.save(tmp, X)
        os.replace(tmp, xpath)
        np.save(ypath, y)
    y = np.load(ypath)
    if xpath.endswith(".npz"):
        X = sp.load_npz(xpath).tocsr()
    else:
        X = np.load(xpath, mmap_mode="r" if mmap else None)
    return X, y


def describe(X, y) -> str:
    kind = f"{X.format.upper()} nnz={X.nnz:,}" if sp.issparse(X) else "dense"
    return f"n={X.shape[0]:,} p={X.shape[1]:,} {kind}"


def main() -> None:
    ap = argparse.ArgumentParser(description="generate / inspect the benchmark datasets")
    ap.add_argument("names", nargs="*", default=NAMES)
    ap.add_argument("--small", action="store_true")
    args = ap.parse_args()
    for name in args.names:
        t = time.perf_counter()
        X, y = load(name, args.small)
        print(f"{name}: {describe(X, y)}  ({time.perf_counter() - t:.1f} s)")


if __name__ == "__main__":
    main()

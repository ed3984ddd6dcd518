"""A messy table written whole and in pieces, for the engine tests."""

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq


def messy_table(seed: int, n: int = 6000) -> pd.DataFrame:
    """Numeric columns with offsets and scales, missing values, a categorical, weights
    and a group label."""
    rng = np.random.default_rng(seed)
    scale = np.array([1.0, 10.0, 1e3, 0.1, 1.0, 5.0])
    X = rng.normal(size=(n, 6)) * scale + np.array([0.0, 50.0, 1e4, 0.0, -3.0, 0.0])
    df = pd.DataFrame(X, columns=[f"x{j}" for j in range(6)])
    df["city"] = rng.choice(["oslo", "lima", "pune", "kiev", "rare"], n, p=[.3, .3, .2, .199, .001])
    beta = np.array([1.0, -0.2, 0.003, 4.0, 0.0, 0.1])
    df["y"] = X @ beta + (df["city"] == "lima") * 2.0 + rng.normal(size=n)
    df.loc[rng.random(n) < 0.03, "x1"] = np.nan
    df.loc[rng.random(n) < 0.01, "y"] = np.nan
    df["w"] = rng.uniform(0.5, 2.0, n)
    df["g"] = rng.integers(0, 40, n).astype(str)
    df["id"] = np.arange(n).astype(str)
    return df


def write_pieces(df: pd.DataFrame, directory, n_files: int = 3, row_group: int = 700):
    """``whole.parquet`` (one file) and ``parts/part-i.parquet`` (the same rows, in order,
    split into files of several row groups). Returns (whole path, part paths)."""
    directory.mkdir(parents=True, exist_ok=True)
    whole = directory / "whole.parquet"
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), whole, row_group_size=2000)
    parts_dir = directory / "parts"
    parts_dir.mkdir(exist_ok=True)
    bounds = np.linspace(0, len(df), n_files + 1).astype(int)
    paths = []
    for i in range(n_files):
        path = parts_dir / f"part-{i}.parquet"
        chunk = df.iloc[bounds[i]:bounds[i + 1]]
        pq.write_table(pa.Table.from_pandas(chunk, preserve_index=False), path,
                       row_group_size=row_group)
        paths.append(path)
    return whole, paths


def relative_difference(a: np.ndarray, b: np.ndarray) -> float:
    """max |a - b| / max |a| (coefficients of two fits)."""
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(a)), 1e-300))

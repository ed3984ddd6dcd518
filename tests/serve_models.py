"""A small registry for the service tests: versions 1 and 2 of 'shop' (same inputs)."""

from __future__ import annotations

import numpy as np
import pandas as pd

import enet
from enet.registry import Registry


def frame(seed: int, n: int = 300) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({"x": rng.standard_normal(n), "z": rng.standard_normal(n),
                       "b": rng.random(n) < 0.4,
                       "c": rng.choice(["red", "green", "blue"], n)})
    df.loc[::9, "x"] = np.nan
    df["y"] = (2 * df.x.fillna(0) - df.z + df.b + (df.c == "red") * (1 + seed)
               + 0.1 * rng.standard_normal(n))
    return df


def make_registry(root) -> tuple[Registry, dict[int, enet.Model]]:
    reg = Registry(root)
    models = {}
    for version, seed in ((1, 0), (2, 1)):
        model = enet.train_model(frame(seed), target="y")
        v = reg.register("shop", model)
        assert v.version == version
        models[version] = reg.load("shop", version)
    reg.set_alias("shop", "champion", 1)
    reg.set_alias("shop", "challenger", 2)
    return reg, models


def rows(seed: int, n: int) -> list[dict]:
    """Request rows, as JSON would carry them (missing values as None)."""
    df = frame(seed + 100, n).drop(columns="y")
    out = []
    for rec in df.to_dict("records"):
        rec = {k: (None if isinstance(v, float) and v != v else v) for k, v in rec.items()}
        rec["b"] = bool(rec["b"])
        out.append(rec)
    return out

"""The diabetes table the service benchmarks serve (scikit-learn's copy, ``sex`` as 1/2)."""

import pandas as pd


def diabetes() -> pd.DataFrame:
    from sklearn.datasets import load_diabetes

    d = load_diabetes(scaled=False)
    df = pd.DataFrame(d.data, columns=d.feature_names)
    df["sex"] = df["sex"].astype(int)
    df["y"] = d.target
    return df

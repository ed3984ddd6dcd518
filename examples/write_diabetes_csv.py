"""Write scikit-learn's bundled diabetes data (Efron et al. 2004) to a CSV file.

Usage: python examples/write_diabetes_csv.py OUT.csv

The raw (unscaled) version: age, sex, bmi, bp, s1..s6 and the target y.
"""

import sys

import numpy as np
from sklearn.datasets import load_diabetes


def main(path: str) -> None:
    data = load_diabetes(scaled=False)
    table = np.column_stack([data.data, data.target])
    header = ",".join(list(data.feature_names) + ["y"])
    np.savetxt(path, table, delimiter=",", header=header, comments="", fmt="%.10g")


if __name__ == "__main__":
    main(sys.argv[1])

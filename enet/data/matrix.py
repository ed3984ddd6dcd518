"""Sparse matrix inputs: svmlight/libsvm text files and scipy ``.npz`` matrices.

Wide and sparse data (fingerprints, text, one-hot heavy tables) come as matrices rather
than tables. Features are named by column index: ``f0, f1, ...`` (``f1, f2, ...`` for a
one-based svmlight file, so names match the file's own indices). The whole matrix is
loaded (sparse, never densified): the naive solver needs X itself.
"""

from __future__ import annotations

import os
import warnings
import zipfile
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from enet.exceptions import DataError, UsageError

__all__ = ["MatrixData", "is_matrix_file", "load_matrix", "first_non_finite", "MATRIX_SUFFIXES",
           "SVMLIGHT_SUFFIXES"]

SVMLIGHT_SUFFIXES = (".svm", ".svmlight", ".libsvm", ".svm.gz", ".svmlight.gz", ".libsvm.gz",
                     ".svm.bz2", ".svmlight.bz2", ".libsvm.bz2")
MATRIX_SUFFIXES = SVMLIGHT_SUFFIXES + (".npz",)


@dataclass(frozen=True)
class MatrixData:
    """A loaded matrix input.

    Attributes
    ----------
    X : scipy.sparse.csr_matrix (n, p), float64
    y : ndarray (n,) or None
    index_base : int
        0, or 1 for a one-based svmlight file (column j is the file's index j + 1).
    format : str
        "svmlight" or "npz".
    """

    X: sp.csr_matrix
    y: np.ndarray | None
    index_base: int
    format: str


def is_matrix_file(path: str | os.PathLike) -> bool:
    """True for an svmlight/libsvm or .npz path (by its suffix)."""
    return os.fspath(path).lower().endswith(MATRIX_SUFFIXES)


def _read_target(path: str, n: int) -> np.ndarray:
    if not os.path.exists(path):
        raise DataError(f"{path}: no such target file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")     # numpy's "input contained no data": said below
            if path.lower().endswith(".npy"):
                y = np.load(path, allow_pickle=False)
            else:
                y = np.loadtxt(path, dtype=np.float64, ndmin=1)
        _require_real(y.dtype)
    except (ValueError, TypeError, OSError, EOFError) as exc:
        line = None if path.lower().endswith(".npy") else _first_bad_line(path)
        why = (f"line {line[0]} is {line[1]!r}, not a number" if line
               else str(exc).splitlines()[0].rstrip("."))
        raise DataError(f"{path}: cannot read the target values: {why}; use .npy or a text "
                        f"file with one number per line (no header)") from None
    if y.ndim > 1 and sum(d > 1 for d in y.shape) > 1:
        raise DataError(f"{path}: the target is a {' x '.join(map(str, y.shape))} array; it "
                        f"needs one value per row (a 1-d array or a single column)")
    y = np.asarray(y, dtype=np.float64).ravel()
    if y.size != n:
        raise DataError(f"{path}: {y.size} target values for {n} rows of the matrix")
    if not np.all(np.isfinite(y)):
        i = int(np.flatnonzero(~np.isfinite(y))[0])
        raise DataError(f"{path}: target value {i + 1} is {y[i]}; fix or drop that row")
    return y


def _first_bad_line(path: str) -> tuple[int, str] | None:
    """The first line of a text target file that is not a number (blank lines and #
    comments are skipped, as numpy does): its number, counted from 1, and its text."""
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            for number, line in enumerate(fh, 1):
                text = line.split("#", 1)[0].strip()
                if not text:
                    continue
                try:
                    float(text)
                except ValueError:
                    return number, text[:40]
    except OSError:
        return None
    return None


def _require_real(dtype: np.dtype) -> None:
    """Raise ValueError unless values of ``dtype`` are real numbers (or booleans)."""
    if np.issubdtype(dtype, np.complexfloating):
        raise ValueError(f"complex values ({dtype}); a matrix of real numbers is needed")
    if not (np.issubdtype(dtype, np.number) or dtype == np.bool_):
        raise ValueError(f"values of type {dtype}; numbers are needed")


def _checked_npz(X) -> sp.csr_matrix:
    """A loaded .npz as float64 CSR, its structure checked first: scipy's conversions trust
    the stored indices, and out-of-range ones would corrupt memory."""
    if X.ndim != 2:
        raise ValueError(f"a {X.ndim}-d array; a matrix (rows x features) is needed")
    _require_real(X.dtype)
    n, p = X.shape
    try:
        if X.format in ("csr", "csc", "bsr"):
            X.check_format(full_check=True)         # indptr and indices within the shape
        elif X.format == "coo":
            row, col = X.coords if hasattr(X, "coords") else (X.row, X.col)
            if row.size and (row.min() < 0 or row.max() >= n or col.min() < 0 or
                             col.max() >= p):
                raise ValueError("entries outside the matrix's shape")
    except ValueError as exc:
        raise ValueError(f"the file is damaged ({str(exc).splitlines()[0]}); save the matrix "
                         f"again with scipy.sparse.save_npz") from None
    if X.format not in ("csr", "csc", "bsr", "coo", "dia"):
        raise ValueError(f"an unsupported sparse format ({X.format}); save it as CSR or CSC")
    return sp.csr_matrix(X, dtype=np.float64)


def first_non_finite(X) -> tuple[int, int, float] | None:
    """``(row, column, value)`` of the first missing or infinite entry of a dense or sparse
    matrix (in storage order for sparse), or None."""
    values = X.data if sp.issparse(X) else np.asarray(X)
    if np.all(np.isfinite(values)):
        return None
    if sp.issparse(X):
        coo = X.tocoo()
        k = int(np.flatnonzero(~np.isfinite(coo.data))[0])
        return int(coo.row[k]), int(coo.col[k]), float(coo.data[k])
    i, j = (int(v) for v in np.argwhere(~np.isfinite(values))[0])
    return i, j, float(values[i, j])


def _check_values(X: sp.spmatrix, path: str, base: int) -> None:
    bad = first_non_finite(X)
    if bad is not None:
        i, j, value = bad
        raise DataError(f"{path}: row {i + 1}, feature f{j + base} is {value}; missing and "
                        f"infinite values are not allowed in a matrix file")


def load_matrix(path: str | os.PathLike, target_file: str | os.PathLike | None = None,
                n_features: int | None = None, index_base: int | None = None,
                for_model: bool = True) -> MatrixData:
    """Load an svmlight/libsvm file or a scipy sparse ``.npz`` matrix.

    Parameters
    ----------
    path : path
    target_file : path, optional
        Target values for a ``.npz`` matrix (``.npy``, or text with one value per line);
        an svmlight file carries its own.
    n_features : int, optional
        Number of features: an svmlight file with fewer columns is widened (features
        absent from the file), an entry beyond it and a .npz of another width are errors.
        By default the file's own width (the largest index it uses).
    index_base : {0, 1}, optional
        svmlight index base; by default one-based unless some row uses index 0 (the
        libsvm convention). A zero-based file whose first column is empty cannot be told
        from a one-based one: give the base where it matters.
    for_model : bool
        Scoring for a model whose width and base these are (error messages say so).

    Raises
    ------
    DataError
        Unreadable file, non-finite values, a target of the wrong length.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise DataError(f"{path}: no such file")
    if path.lower().endswith(".npz"):
        try:
            X = sp.load_npz(path)
        except (ValueError, TypeError, OSError, KeyError, EOFError, IndexError, MemoryError,
                zipfile.BadZipFile) as exc:
            raise DataError(f"{path}: not a scipy sparse matrix saved with "
                            f"scipy.sparse.save_npz ({str(exc).splitlines()[0]})") from None
        try:
            X = _checked_npz(X)
        except (ValueError, TypeError, IndexError, MemoryError) as exc:
            raise DataError(f"{path}: {str(exc).splitlines()[0]}") from None
        y = _read_target(os.fspath(target_file), X.shape[0]) if target_file else None
        fmt, base = "npz", 0
    else:
        from sklearn.datasets import load_svmlight_file
        try:
            X, y = load_svmlight_file(path, dtype=np.float64, zero_based=True)
        except (ValueError, OSError, RuntimeError, OverflowError, EOFError) as exc:
            why = str(exc).splitlines()[0].rstrip(".")
            hint = ""
            if "could not convert" in why and ":" in why.split("string to float", 1)[-1]:
                hint = ("; each line starts with its target value (for scoring, any number, "
                        "e.g. 0) before the index:value pairs")
            elif "sorted" in why:
                hint = "; write each row's index:value pairs in increasing index order, once each"
            raise DataError(f"{path}: not a valid svmlight/libsvm file: {why}{hint}") from None
        if target_file:
            raise UsageError(f"{path}: an svmlight file carries its own target values; drop "
                             f"--target-file")
        base = index_base
        if base is None:
            base = 0 if X.shape[1] > 0 and X[:, 0].nnz > 0 else 1
        if base == 1:
            if X.shape[1] > 0 and X[:, 0].nnz > 0:
                row = int(X[:, 0].tocoo().row.min()) + 1
                fix = ("the model reads one-based indices, as it took its training file to "
                       "be; if that file was zero-based, retrain with --index-base 0"
                       if for_model else "--index-base 1 was given; pass --index-base 0 (or "
                       "auto) for a zero-based file")
                raise DataError(f"{path}: row {row} uses feature index 0, but {fix}")
            X = X[:, 1:] if X.shape[1] > 0 else X
        fmt = "svmlight"
    X.sum_duplicates()
    _check_values(X, path, base)
    if y is not None and not np.all(np.isfinite(y)):
        i = int(np.flatnonzero(~np.isfinite(y))[0])
        raise DataError(f"{path}: the target of row {i + 1} is {y[i]}; fix or drop the row")
    if n_features is not None:
        if fmt == "npz" and X.shape[1] != n_features:
            raise DataError(f"{path}: the matrix has {X.shape[1]} columns; " + (
                f"the model reads {n_features} (in the order it was trained on)" if for_model
                else f"--n-features says {n_features} (a .npz matrix has its own width)"))
        if X.shape[1] > n_features:
            coo = X[:, n_features:].tocoo()
            if coo.nnz:
                where = (f"the model's last feature f{n_features - 1 + base}: check the "
                         f"file's index base (predict --index-base 0|1) and layout, or "
                         f"retrain with --n-features to widen the model"
                         if for_model else
                         f"the last of --n-features {n_features} (f{n_features - 1 + base}); "
                         f"raise --n-features")
                raise DataError(
                    f"{path}: row {coo.row.min() + 1} uses feature index "
                    f"{coo.col[np.argmin(coo.row)] + n_features + base}, beyond {where}")
            X = X[:, :n_features]
        elif X.shape[1] < n_features:
            X = sp.csr_matrix((X.data, X.indices, X.indptr), shape=(X.shape[0], n_features))
    return MatrixData(sp.csr_matrix(X), y, base, fmt)

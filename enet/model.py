"""A fitted model: feature manifest + coefficients + metadata; one way to score."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

from enet.data.encode import Encoder, ScoreCounts
from enet.data.manifest import FeatureManifest, InputColumn
from enet.data.readers import CsvOptions, memory_source, open_source
from enet.exceptions import DataError

__all__ = ["Model", "MATRIX_VECTORS", "check_predictions"]

# a matrix-layout model (up to millions of features) keeps its per-feature vectors as arrays
MATRIX_VECTORS = ("coef", "coef_std", "x_mean", "x_scale")


def check_predictions(pred: np.ndarray, X, coef: np.ndarray, features: list[str],
                      first_row: int = 1, source: str = "input") -> None:
    """Refuse predictions that are not finite (a linear model overflows only on inputs
    far outside anything it was trained on), naming the row (``first_row`` numbers
    ``pred[0]``) and the feature whose term is largest in it."""
    finite = np.isfinite(pred)
    if finite.all():
        return
    i = int(np.argmin(finite))
    row = X[i].toarray().ravel() if hasattr(X, "tocsr") else np.asarray(X[i])
    with np.errstate(over="ignore", invalid="ignore"):
        terms = np.abs(row * coef)
    j = int(np.argmax(np.where(np.isnan(terms), np.inf, terms)))
    raise DataError(f"{source}: row {first_row + i}: the prediction is not finite "
                    f"({pred[i]}); input values far outside the training range (feature "
                    f"'{features[j]}' = {row[j]:.6g}); check the row's values",
                    kind="non_finite_prediction", row=first_row + i)


@dataclass
class Model:
    """What training produces and every consumer loads.

    Attributes
    ----------
    manifest : FeatureManifest
        Input columns and their preprocessing; its features follow the coefficients.
    coef : ndarray (p,)
        Raw-scale coefficients: standardisation is folded in, so scoring is
        ``X @ coef + intercept`` on the original columns.
    intercept : float
    coef_std : ndarray (p,)
        Coefficients on the standardised scale (comparable across features).
    x_mean, x_scale : ndarray (p,)
        Centring and scaling used in training.
    alpha, l1_ratio : float
        The selected hyperparameters.
    params : dict
        Training parameters (standardize, fit_intercept, folds, seed, grid ...).
    certificate : dict
        Convergence certificate of the final fit.
    metrics : dict
        CV error at the selected point (mse, se, rmse) and training fit.
    profile : dict
        Training data profile per column (mean, sd, min, max) for drift checks.
    lineage : dict
        Data fingerprint, row count, package versions, creation time.
    arrays : dict of str -> ndarray
        CV grid and errors, coefficient path.
    """

    manifest: FeatureManifest
    coef: np.ndarray
    intercept: float
    coef_std: np.ndarray
    x_mean: np.ndarray
    x_scale: np.ndarray
    alpha: float
    l1_ratio: float
    params: dict = field(default_factory=dict)
    certificate: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)
    profile: dict = field(default_factory=dict)
    lineage: dict = field(default_factory=dict)
    arrays: dict = field(default_factory=dict)

    @property
    def features(self) -> list[str]:
        """Feature (coefficient) names: inputs after encoding."""
        return self.manifest.features

    @property
    def inputs(self) -> list[InputColumn]:
        """The input columns a table to score must have."""
        return self.manifest.columns

    def encoder(self) -> Encoder:
        """The encoder from input rows to this model's features."""
        return Encoder(self.manifest.columns, na_values=self.manifest.na_values)

    @property
    def n_nonzero(self) -> int:
        return int(np.count_nonzero(self.coef))

    def predict_matrix(self, X, first_row: int = 1) -> np.ndarray:
        """Predictions for a numeric matrix (dense, or scipy.sparse) whose columns follow
        :attr:`features`; ``first_row`` numbers its rows in error messages.

        Raises
        ------
        DataError
            A prediction overflows (input values far outside the training range).
        """
        if not hasattr(X, "tocsr"):
            X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.coef.shape[0]:
            raise DataError(f"input: the matrix has {X.shape[-1]} columns; the model reads "
                            f"{self.coef.shape[0]} (in the order it was trained on)")
        with np.errstate(over="ignore", invalid="ignore"):
            pred = np.asarray(X @ self.coef).ravel() + self.intercept
        check_predictions(pred, X, self.coef, self.features, first_row)
        return pred

    def _checked_matrix(self, X):
        """A user's matrix as 2-d float64 (sparse kept sparse), refused with its first
        missing or infinite value named: a matrix has no fill values."""
        sparse = hasattr(X, "tocsr")
        X = X.tocsr().astype(np.float64) if sparse else np.asarray(X, dtype=np.float64)
        if X.ndim != 2:
            hint = "; for one row use x.reshape(1, -1)" if X.ndim == 1 else ""
            raise DataError(f"input: a {X.ndim}-d array of shape {X.shape}; a matrix (rows x "
                            f"features) is needed{hint}")
        from enet.data.matrix import first_non_finite

        bad = first_non_finite(X)
        if bad is not None:
            i, j, value = bad
            name = self.features[j] if j < len(self.features) else f"column {j}"
            raise DataError(f"input: row {i + 1}, feature {name} is {value}; missing and "
                            f"infinite values are not allowed in a matrix (fill or drop them)")
        return X

    def predict(self, data, strict: bool = False, counts: ScoreCounts | None = None
                ) -> np.ndarray:
        """Predictions for a pandas or polars DataFrame, Arrow table, dict of columns,
        2-D array (columns in training order) or a CSV/Parquet path (streamed).

        The same validation as batch scoring: columns are matched by name (order
        does not matter; extra columns are ignored, or rejected with ``strict``);
        missing values are filled as in training; unseen categorical levels are
        scored as "<other>" (rejected with ``strict``). ``counts``, if given,
        records what was filled, unseen or ignored.

        Raises
        ------
        DataError
            Missing columns, a value of the wrong type, an infinite value.
        """
        from enet.data.matrix import is_matrix_file, load_matrix

        matrix = self.manifest.matrix
        if isinstance(data, (str, os.PathLike)) and is_matrix_file(data):
            if matrix is None:
                raise DataError(f"{data}: this model was trained on a table; score a table")
            return self.predict_matrix(load_matrix(data, n_features=matrix["n_features"],
                                                   index_base=matrix["index_base"]).X)
        if hasattr(data, "tocsr") or (matrix is not None and isinstance(data, np.ndarray)):
            return self.predict_matrix(self._checked_matrix(data))   # positional columns
        if isinstance(data, (str, os.PathLike)):
            source = open_source(data, CsvOptions(na_values=self.manifest.na_values,
                                                  default_na=self.manifest.default_na))
        else:
            if isinstance(data, np.ndarray) and data.ndim == 2 and \
                    data.shape[1] != len(self.inputs):
                raise DataError(f"input: the array has {data.shape[1]} columns; the model "
                                f"reads {len(self.inputs)} (in the order it was trained on)")
            source = memory_source(data, "input")
        parts = [self.predict_matrix(X, offset + 1)
                 for X, offset in self.encoder().feature_blocks(source, strict, counts)]
        return np.concatenate(parts) if parts else np.empty(0)

    def nonzero_coefficients(self) -> list[tuple[str, float, float]]:
        """(name, raw coefficient, standardised coefficient), largest |standardised| first."""
        idx = np.flatnonzero(self.coef)
        order = idx[np.argsort(-np.abs(self.coef_std[idx]), kind="stable")]
        return [(self.features[j], float(self.coef[j]), float(self.coef_std[j])) for j in order]

    def validate(self) -> None:
        """Raise ValueError unless the model is internally consistent (after loading)."""
        p = len(self.features)
        if p == 0 or len(set(self.features)) != p:
            raise ValueError("the feature list is empty or has duplicates")
        if len(set(self.manifest.input_names)) != len(self.inputs):
            raise ValueError("an input column is listed twice")
        for name, arr in (("coef", self.coef), ("coef_std", self.coef_std),
                          ("mean", self.x_mean), ("scale", self.x_scale)):
            if arr.shape != (p,) or not np.all(np.isfinite(arr)):
                raise ValueError(f"{name} must be {p} finite numbers")
        if not np.all(self.x_scale > 0):
            raise ValueError("scale must be positive")
        if not (np.isfinite(self.intercept) and np.isfinite(self.alpha) and self.alpha >= 0
                and 0 <= self.l1_ratio <= 1):
            raise ValueError("intercept, alpha or l1_ratio out of range")
        for name in ("params", "certificate", "metrics", "profile", "lineage"):
            if not isinstance(getattr(self, name), dict):
                raise ValueError(f"{name} must be an object")
        for key in ("converged", "relative_gap", "duality_gap", "kkt_violation", "n_iter", "tol"):
            if key not in self.certificate:
                raise ValueError(f"certificate lacks '{key}'")
        for key in ("cv_mse", "cv_mse_se", "cv_rmse", "n_nonzero"):
            if key not in self.metrics:
                raise ValueError(f"metrics lack '{key}'")

    # -- serialisation (the artifact module owns files and checksums) ------------------
    def artifact_arrays(self) -> dict[str, np.ndarray]:
        """Arrays stored next to model.json (plus the coefficient vectors of a matrix)."""
        arrays = dict(self.arrays)
        if self.manifest.layout == "matrix":
            arrays.update(zip(MATRIX_VECTORS, (self.coef, self.coef_std, self.x_mean,
                                               self.x_scale)))
        return arrays

    def to_json(self) -> dict:
        manifest = self.manifest.to_json()
        for j, f in enumerate(manifest.get("features", [])):   # a matrix keeps them in arrays
            f.update(coef=float(self.coef[j]), coef_std=float(self.coef_std[j]),
                     mean=float(self.x_mean[j]), scale=float(self.x_scale[j]))
        return {"manifest": manifest, "intercept": float(self.intercept), "alpha": self.alpha,
                "l1_ratio": self.l1_ratio, "params": self.params,
                "certificate": self.certificate, "metrics": self.metrics,
                "profile": self.profile, "lineage": self.lineage}

    @classmethod
    def from_json(cls, data: dict, arrays: dict[str, np.ndarray]) -> "Model":
        manifest = FeatureManifest.from_json(data["manifest"])
        arrays = dict(arrays)
        if manifest.layout == "matrix":
            vectors = [arrays.pop(k) for k in MATRIX_VECTORS]
        else:
            feats = data["manifest"]["features"]
            if [f["name"] for f in feats] != manifest.features:
                raise ValueError("the feature list does not match the inputs' encoding")
            vectors = [np.array([f[k] for f in feats], dtype=np.float64)
                       for k in ("coef", "coef_std", "mean", "scale")]
        coef, coef_std, x_mean, x_scale = (np.asarray(v, dtype=np.float64) for v in vectors)
        return cls(manifest, coef, float(data["intercept"]), coef_std, x_mean, x_scale,
                   float(data["alpha"]), float(data["l1_ratio"]), data.get("params", {}),
                   data.get("certificate", {}), data.get("metrics", {}),
                   data.get("profile", {}), data.get("lineage", {}), arrays)

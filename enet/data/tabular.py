"""Column roles and the conversion of tabular batches to validated arrays.

One code path turns rows into the feature matrix for training, batch scoring
and (later) the HTTP service, so every consumer validates the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from enet.exceptions import DataError

__all__ = ["FeatureManifest", "resolve_columns", "design_matrix", "numeric_column",
           "to_record_batch"]


@dataclass(frozen=True)
class FeatureManifest:
    """The model's inputs: feature names in coefficient order and their kind.

    Attributes
    ----------
    features : list of str
        Numeric feature columns, in the order of the coefficients.
    target : str
    weight, group : str or None
        Training-only columns.
    excluded : list of str
        Columns present in training data but deliberately ignored.
    """

    features: list[str]
    target: str
    weight: str | None = None
    group: str | None = None
    excluded: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return {"features": [{"name": f, "type": "numeric"} for f in self.features],
                "target": self.target, "weight": self.weight, "group": self.group,
                "excluded": list(self.excluded)}

    @classmethod
    def from_json(cls, data: dict) -> "FeatureManifest":
        return cls([f["name"] for f in data["features"]], data["target"], data.get("weight"),
                   data.get("group"), list(data.get("excluded", [])))


def resolve_columns(columns: list[str], target: str, exclude: list[str] = (),
                    weight: str | None = None, group: str | None = None,
                    source: str = "input") -> FeatureManifest:
    """Assign roles to the columns of a training table.

    Every column that is not the target, weight, group or excluded is a feature.

    Raises
    ------
    DataError
        A named column is absent, or no feature is left.
    """
    # header names are stripped when read, so the names given for them are too
    target = target.strip()
    weight = weight.strip() if weight is not None else None
    group = group.strip() if group is not None else None
    exclude = [c.strip() for c in exclude]
    present = set(columns)
    for role, name in (("target", target), ("weight", weight), ("group", group)):
        if name is not None and name not in present:
            raise DataError(f"{source}: {role} column '{name}' not found; columns are: "
                            f"{', '.join(columns[:20])}{' ...' if len(columns) > 20 else ''}")
    unknown = [c for c in exclude if c not in present]
    if unknown:
        raise DataError(f"{source}: --exclude column(s) not found: {', '.join(unknown)}")
    for role, name in (("target", target), ("weight", weight), ("group", group)):
        if name is not None and name in exclude:
            raise DataError(f"{source}: '{name}' is the {role} column and cannot also be "
                            f"excluded; drop it from --exclude")
    roles = {target, weight, group} - {None}
    if len(roles) < len([r for r in (target, weight, group) if r is not None]):
        raise DataError(f"{source}: target, weight and group must be different columns")
    features = [c for c in columns if c not in roles and c not in set(exclude)]
    if not features:
        raise DataError(f"{source}: no feature columns left after target/weight/group/exclude")
    return FeatureManifest(features, target, weight, group, list(exclude))


def numeric_column(batch: pa.RecordBatch, name: str, row_offset: int, source: str,
                   what: str = "column", hint: str | None = None) -> np.ndarray:
    """A batch column as float64 with every value finite.

    ``hint`` ends a type error's message (default: how to exclude the column).

    Raises
    ------
    DataError
        Naming the column, the first bad row (1-based, counted from the first
        data row) and the value.
    """
    col = batch.column(batch.schema.get_field_index(name))
    if not (pa.types.is_floating(col.type) or pa.types.is_integer(col.type)
            or pa.types.is_boolean(col.type) or pa.types.is_null(col.type)
            or pa.types.is_decimal(col.type)):
        hint = hint or f"pass --exclude {name} to leave it out"
        raise DataError(f"{source}: {what} '{name}' has type {col.type}, not a number; {hint}")
    values = col.cast(pa.float64()).to_numpy(zero_copy_only=False)
    bad = ~np.isfinite(values)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        v = values[i]
        kind = "is missing" if np.isnan(v) else f"is {v} (not finite)"
        raise DataError(f"{source}: {what} '{name}' row {row_offset + i + 1} {kind}; "
                        f"missing and infinite values are not supported yet: fill or drop "
                        f"the row")
    return values


def design_matrix(batch: pa.RecordBatch, features: list[str], row_offset: int,
                  source: str, hint: str | None = None) -> np.ndarray:
    """The (rows x features) float64 matrix of a batch, columns in model order."""
    names = set(batch.schema.names)
    missing = [f for f in features if f not in names]
    if missing:
        raise DataError(f"{source}: missing required column(s): {', '.join(missing)}")
    X = np.empty((batch.num_rows, len(features)))
    for j, name in enumerate(features):
        X[:, j] = numeric_column(batch, name, row_offset, source, hint=hint)
    return X


def to_record_batch(data, source: str = "input") -> pa.RecordBatch:
    """A pandas DataFrame, Arrow table/batch or dict of columns as one RecordBatch."""
    if isinstance(data, pa.RecordBatch):
        return data
    if isinstance(data, pa.Table):
        return data.combine_chunks().to_batches()[0] if data.num_rows else \
            pa.RecordBatch.from_pylist([], schema=data.schema)
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - pandas is a dependency
        pd = None
    if pd is not None and isinstance(data, pd.DataFrame):
        data = data.copy()
        data.columns = [str(c) for c in data.columns]
        return pa.RecordBatch.from_pandas(data, preserve_index=False)
    if isinstance(data, dict):
        return pa.RecordBatch.from_pydict({str(k): list(v) if not isinstance(v, np.ndarray)
                                           else v for k, v in data.items()})
    raise DataError(f"{source}: expected a DataFrame, Arrow table or dict of columns; "
                    f"got {type(data).__name__}")

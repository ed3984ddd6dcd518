"""The feature manifest: which input columns a model reads and how each becomes features.

An input column is numeric, boolean or categorical. Numeric and boolean columns
give one feature (missing values replaced by a learned fill value) plus, when
training saw missing values, a missing-indicator feature. A categorical column
gives one indicator per kept level, one for the pooled rare levels ("other")
and one for missing values, each only when training needed it. All indicators
are penalised like any feature, so no reference level is dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["InputColumn", "FeatureManifest", "KINDS", "OTHER", "MISSING"]

KINDS = ("numeric", "boolean", "categorical")
OTHER = "<other>"
MISSING = "<missing>"


@dataclass(frozen=True)
class InputColumn:
    """One input column and its learned preprocessing.

    Attributes
    ----------
    name : str
    kind : {"numeric", "boolean", "categorical"}
    impute : {"mean", "median", "constant"}
        How ``fill`` was learned (numeric and boolean columns).
    fill : float
        Value that replaces a missing numeric/boolean entry.
    indicator : bool
        A 0/1 feature marks rows where the value was missing.
    levels : tuple of str
        Categorical levels with their own indicator, most frequent first.
    other : bool
        An indicator for levels pooled as rare in training (and unseen ones
        when scoring).
    pooled : tuple of str
        Digests (blake2b, 8 bytes, hex) of the rare levels training pooled into
        "<other>": scoring them is not "unseen", and their texts are not stored.
    codes : bool
        Declared categorical (e.g. integer codes): numeric texts are compared in a
        canonical spelling ("3.0" is level "3").
    missing_level : bool
        An indicator for missing categorical values.
    """

    name: str
    kind: str
    impute: str = "mean"
    fill: float = 0.0
    indicator: bool = False
    levels: tuple[str, ...] = ()
    other: bool = False
    missing_level: bool = False
    pooled: tuple[str, ...] = ()
    codes: bool = False

    def feature_names(self) -> list[str]:
        """Names of the features (coefficients) this column produces, in order."""
        if self.kind == "categorical":
            names = [f"{self.name}={level}" for level in self.levels]
            if self.other:
                names.append(f"{self.name}={OTHER}")
            if self.missing_level:
                names.append(f"{self.name}={MISSING}")
            return names
        return [self.name] + ([f"{self.name}[missing]"] if self.indicator else [])

    def to_json(self) -> dict:
        if self.kind == "categorical":
            return {"name": self.name, "type": self.kind, "levels": list(self.levels),
                    "other": self.other, "missing_level": self.missing_level,
                    "pooled_level_digests": list(self.pooled), "numeric_codes": self.codes}
        return {"name": self.name, "type": self.kind, "impute": self.impute, "fill": self.fill,
                "missing_indicator": self.indicator}

    @classmethod
    def from_json(cls, d: dict) -> "InputColumn":
        kind = d["type"]
        if kind not in KINDS:
            raise ValueError(f"unknown input type {kind!r}")
        if kind == "categorical":
            levels, pooled = d["levels"], d.get("pooled_level_digests", [])
            for values in (levels, pooled):
                if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
                    raise ValueError(f"levels of '{d['name']}' must be a list of strings")
            return cls(str(d["name"]), kind, levels=tuple(levels), other=bool(d["other"]),
                       missing_level=bool(d["missing_level"]), pooled=tuple(pooled),
                       codes=bool(d.get("numeric_codes", False)))
        fill = d.get("fill", 0.0)
        if not isinstance(fill, (int, float)) or isinstance(fill, bool) or fill != fill or \
                abs(fill) == float("inf"):
            raise ValueError(f"fill value of '{d['name']}' must be a finite number")
        return cls(str(d["name"]), kind, impute=str(d.get("impute", "mean")), fill=float(fill),
                   indicator=bool(d.get("missing_indicator", False)))


@dataclass(frozen=True)
class FeatureManifest:
    """The model's inputs and the roles of the training table's other columns.

    Attributes
    ----------
    inputs : list of InputColumn
        Input columns in feature order.
    target : str
    weight, group : str or None
        Training-only columns.
    excluded : list of str
        Columns present in training data but deliberately ignored.
    matrix : dict or None
        For a model trained on a sparse matrix (layout "matrix"): ``n_features``,
        ``index_base`` and the input ``format``. Its inputs are the numeric columns
        ``f{j + index_base}``, generated rather than listed.
    na_values : tuple of str
        Spellings of a missing value declared in training (e.g. "-999"): they mean
        missing wherever the model scores (numerically equal numbers too).
    default_na : bool
        Whether the usual CSV spellings (NA, NaN, null, N/A ...) meant missing.
    """

    inputs: list[InputColumn]
    target: str
    weight: str | None = None
    group: str | None = None
    excluded: list[str] = field(default_factory=list)
    matrix: dict | None = None
    na_values: tuple[str, ...] = ()
    default_na: bool = True

    @classmethod
    def for_matrix(cls, n_features: int, index_base: int, fmt: str,
                   target: str = "y") -> "FeatureManifest":
        """The manifest of a model trained on a matrix with ``n_features`` columns."""
        return cls([], target, matrix={"n_features": int(n_features),
                                       "index_base": int(index_base), "format": fmt})

    @property
    def layout(self) -> str:
        return "matrix" if self.matrix is not None else "table"

    @property
    def columns(self) -> list[InputColumn]:
        """The input columns (generated for a matrix layout)."""
        if self.matrix is None:
            return self.inputs
        base = self.matrix["index_base"]
        return [InputColumn(f"f{j + base}", "numeric") for j in range(self.matrix["n_features"])]

    @property
    def features(self) -> list[str]:
        """Feature (coefficient) names, in coefficient order."""
        return [f for col in self.columns for f in col.feature_names()]

    @property
    def input_names(self) -> list[str]:
        return [col.name for col in self.columns]

    def to_json(self) -> dict:
        common = {"target": self.target, "weight": self.weight, "group": self.group,
                  "excluded": list(self.excluded),
                  "missing_values": {"default": self.default_na, "extra": list(self.na_values)}}
        if self.matrix is not None:
            return {"layout": "matrix", "matrix": dict(self.matrix), **common}
        return {"layout": "table", "inputs": [c.to_json() for c in self.inputs],
                "features": [{"name": f} for f in self.features], **common}

    @classmethod
    def from_json(cls, data: dict) -> "FeatureManifest":
        if data.get("layout") == "matrix":
            m = data["matrix"]
            n, base = m["n_features"], m["index_base"]
            if not (isinstance(n, int) and n > 0 and base in (0, 1)):
                raise ValueError("the matrix layout needs n_features > 0 and index_base 0/1")
            return cls([], data["target"], data.get("weight"), data.get("group"),
                       list(data.get("excluded", [])), matrix=dict(m))
        if "inputs" in data:
            inputs = [InputColumn.from_json(c) for c in data["inputs"]]
        else:      # format version 1: numeric inputs only, one feature each
            inputs = [InputColumn(f["name"], "numeric") for f in data["features"]]
        na = data.get("missing_values", {})
        extra = na.get("extra", [])
        if not isinstance(extra, list) or not all(isinstance(v, str) for v in extra):
            raise ValueError("missing_values.extra must be a list of strings")
        return cls(inputs, data["target"], data.get("weight"), data.get("group"),
                   list(data.get("excluded", [])), na_values=tuple(extra),
                   default_na=bool(na.get("default", True)))

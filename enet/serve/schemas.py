"""Request and response bodies (pydantic), and requests turned into columns.

The two scoring formats, ``/predict`` (rows or columns + data) and the Open
Inference Protocol's ``infer`` (one tensor per input column), both become a
dict of equally long Python lists, which the model's record encoder reads.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt

from enet.serve.errors import InvalidInput

__all__ = ["PredictRequest", "PredictResponse", "InferenceRequest", "InferenceResponse",
           "RequestInput", "ResponseOutput", "MetadataTensor", "ModelMetadata", "ErrorBody",
           "ReloadResponse", "predict_columns", "infer_columns", "DATATYPES", "OUTPUTS"]

#: the Open Inference Protocol's tensor data types
DATATYPES = frozenset(["BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32",
                       "INT64", "FP16", "FP32", "FP64", "BYTES"])
#: the outputs an inference request may ask for
OUTPUTS = ("prediction",)


class PredictRequest(BaseModel):
    """``{"rows": [{...}, ...]}`` or ``{"columns": [...], "data": [[...], ...]}``."""

    model_config = ConfigDict(extra="forbid")

    rows: list[dict[str, Any]] | None = Field(None, description="one object per row")
    columns: list[str] | None = Field(None, description="column names, with data")
    data: list[list[Any]] | None = Field(None, description="rows of values, in column order")


class Counts(BaseModel):
    rows: int
    missing: dict[str, int] = Field(description="values filled as in training, by column")
    unseen: dict[str, int] = Field(description="levels not seen in training, by column")
    extra_columns: list[str] = Field(description="columns the model does not use (ignored)")


class PredictResponse(BaseModel):
    model: str = Field(description="registered name of the model that scored every row")
    version: str
    route: str = Field(description="champion or canary")
    request_id: str
    predictions: list[float]
    counts: Counts


class RequestInput(BaseModel):
    """One input column as a tensor of shape ``[n]`` or ``[n, 1]``."""

    name: str
    shape: list[StrictInt] = Field(description="[rows] or [rows, 1]")
    datatype: str = Field(description="one of the protocol's types: BOOL, INT8 ... INT64, "
                          "UINT8 ... UINT64, FP16, FP32, FP64, BYTES")
    parameters: dict[str, Any] | None = None
    data: list[Any]


class RequestOutput(BaseModel):
    name: str
    parameters: dict[str, Any] | None = None


class InferenceRequest(BaseModel):
    id: str | None = None
    parameters: dict[str, Any] | None = None
    inputs: list[RequestInput]
    outputs: list[RequestOutput] | None = None


class ResponseOutput(BaseModel):
    name: str
    shape: list[int]
    datatype: str
    parameters: dict[str, Any] | None = None
    data: list[float]


class InferenceResponse(BaseModel):
    model_name: str
    model_version: str
    id: str
    parameters: dict[str, Any] = Field(description="route, request_id, counts")
    outputs: list[ResponseOutput]


class MetadataTensor(BaseModel):
    name: str
    datatype: str
    shape: list[int]
    parameters: dict[str, Any] | None = None


class ModelMetadata(BaseModel):
    name: str
    versions: list[str]
    platform: str
    inputs: list[MetadataTensor]
    outputs: list[MetadataTensor]
    parameters: dict[str, Any] | None = None


class ErrorBody(BaseModel):
    error: str = Field(description="one line naming the column, row and value, and the fix")
    kind: str
    column: str | None = None
    row: int | None = None
    value: Any = None
    request_id: str | None = None


class ReloadResponse(BaseModel):
    results: dict[str, dict[str, Any]] = Field(description="per role: status and version")


def _check_rows(n: int, max_rows: int) -> None:
    if n > max_rows:
        raise InvalidInput(f"request: {n} rows; at most {max_rows:,} per request (send "
                           f"several requests)", kind="too_many_rows")


def predict_columns(req: PredictRequest, max_rows: int) -> tuple[dict[str, list], int]:
    """Columns of a ``/predict`` body; a key absent from a row is a missing value."""
    if (req.rows is None) == (req.columns is None):
        raise InvalidInput("request: give either 'rows' (a list of objects) or 'columns' "
                           "with 'data'", kind="bad_shape")
    if req.rows is not None:
        if req.data is not None:
            raise InvalidInput("request: 'data' goes with 'columns', not with 'rows'",
                               kind="bad_shape")
        rows = req.rows
        n = len(rows)
        _check_rows(n, max_rows)
        if n == 1:
            return {k: [v] for k, v in rows[0].items()}, 1
        names: dict[str, None] = {}
        for row in rows:
            for k in row:
                names.setdefault(k)
        return {k: [row.get(k) for row in rows] for k in names}, n
    names = req.columns
    data = req.data if req.data is not None else []
    if len(set(names)) != len(names):
        dup = next(c for c in names if names.count(c) > 1)
        raise InvalidInput(f"request: column '{dup}' appears twice in 'columns'",
                           kind="duplicate_column", column=dup)
    n = len(data)
    _check_rows(n, max_rows)
    width = len(names)
    for i, row in enumerate(data):
        if len(row) != width:
            raise InvalidInput(f"request: row {i + 1} has {len(row)} values for {width} "
                               f"columns", kind="bad_shape", row=i + 1)
    return {name: [row[j] for row in data] for j, name in enumerate(names)}, n


def infer_columns(req: InferenceRequest, max_rows: int) -> tuple[dict[str, list], int]:
    """Columns of an Open Inference Protocol request: one tensor per input column."""
    if not req.inputs:
        raise InvalidInput("request: 'inputs' is empty; send one tensor per input column",
                           kind="bad_shape")
    for out in req.outputs or ():
        if out.name not in OUTPUTS:
            raise InvalidInput(f"request: output '{out.name}' is not one of this model's "
                               f"outputs ({', '.join(OUTPUTS)})", kind="unknown_output")
    columns: dict[str, list] = {}
    n = None
    for t in req.inputs:
        if t.datatype not in DATATYPES:
            raise InvalidInput(f"request: input '{t.name}' has datatype {t.datatype!r}; the "
                               f"protocol's types are {', '.join(sorted(DATATYPES))}",
                               kind="bad_datatype", column=t.name, value=t.datatype)
        if t.name in columns:
            raise InvalidInput(f"request: input '{t.name}' appears twice",
                               kind="duplicate_column", column=t.name)
        if len(t.shape) not in (1, 2) or (len(t.shape) == 2 and t.shape[1] != 1) or \
                t.shape[0] < 0:
            raise InvalidInput(f"request: input '{t.name}' has shape {t.shape}; one column "
                               f"is a tensor of shape [rows] or [rows, 1]", kind="bad_shape",
                               column=t.name)
        values = t.data
        if values and isinstance(values[0], list):           # nested [[v], [v], ...]
            if not all(isinstance(v, list) and len(v) == 1 for v in values):
                raise InvalidInput(f"request: input '{t.name}': nested data must hold one "
                                   f"value per row", kind="bad_shape", column=t.name)
            values = [v[0] for v in values]
        if len(values) != t.shape[0]:
            raise InvalidInput(f"request: input '{t.name}' has {len(values)} values for shape "
                               f"{t.shape}", kind="bad_shape", column=t.name)
        if n is not None and t.shape[0] != n:
            raise InvalidInput(f"request: input '{t.name}' has {t.shape[0]} rows, the first "
                               f"input {n}", kind="bad_shape", column=t.name)
        n = t.shape[0]
        columns[t.name] = values
    _check_rows(n, max_rows)
    return columns, n

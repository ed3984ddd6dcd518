"""The scoring service over real HTTP: endpoints, validation errors, metrics, logs, admin."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from serve_models import make_registry, rows
from serve_server import Server, metric

pytest.importorskip("fastapi")
TOKEN = "s3cret-token"


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("serve")
    reg, models = make_registry(tmp / "reg")
    server = Server(["--model", "shop@champion", "--registry", str(tmp / "reg"),
                     "--max-body-bytes", "65536", "--max-rows", "500"], tmp / "server.log",
                    env={"ENET_ADMIN_TOKEN": TOKEN})
    yield server, models
    server.stop()


def _post(server, path, body, **kw):
    text = json.dumps(body).replace("Infinity", "1e999")     # JSON has no infinity literal
    return server.client.post(path, content=text.encode(), **kw)


def test_health_and_metadata(served):
    server, models = served
    c = server.client
    assert c.get("/v2/health/live").json() == {"live": True}
    assert c.get("/v2/health/ready").json() == {"ready": True}
    assert c.get("/v2").json()["name"] == "enet"
    meta = c.get("/v2/models/shop").json()
    assert meta["name"] == "shop" and meta["versions"] == ["1"]
    kinds = {t["name"]: (t["datatype"], t["parameters"]["kind"]) for t in meta["inputs"]}
    assert kinds == {c.name: ({"numeric": "FP64", "boolean": "BOOL", "categorical": "BYTES"}
                              [c.kind], c.kind) for c in models[1].inputs}
    levels = {t["name"]: t["parameters"].get("levels") for t in meta["inputs"]}
    assert levels["c"] == list(next(c for c in models[1].inputs if c.name == "c").levels)
    assert c.get("/v2/models/shop/ready").json()["ready"] is True
    r = c.get("/v2/models/other")
    assert r.status_code == 404 and r.json()["kind"] == "unknown_model"
    assert c.get("/nothing/here").status_code == 404


def test_predict_rows_and_columns_equal_batch_scoring(served):
    server, models = served
    body = rows(0, 25)
    expected = models[1].predict(pd.DataFrame(body))
    r = _post(server, "/predict", {"rows": body})
    assert r.status_code == 200
    out = r.json()
    assert (out["model"], out["version"], out["route"]) == ("shop", "1", "champion")
    np.testing.assert_array_equal(out["predictions"], expected)
    assert out["request_id"] == r.headers["x-request-id"]
    names = list(body[0])
    r = _post(server, "/predict", {"columns": names,
                                   "data": [[row[k] for k in names] for row in body]})
    np.testing.assert_array_equal(r.json()["predictions"], expected)
    counts = enet_counts(models[1], body)
    assert r.json()["counts"] == counts


def enet_counts(model, body):
    import enet
    counts = enet.ScoreCounts()
    model.predict(pd.DataFrame(body), counts=counts)
    return counts.to_json()


def test_open_inference_protocol_infer(served):
    server, models = served
    body = rows(1, 7)
    inputs = [{"name": k, "shape": [len(body)], "datatype": "BYTES",
               "data": [row[k] for row in body]} for k in body[0]]
    inputs[1]["shape"] = [len(body), 1]                       # [n, 1] with nested data
    inputs[1]["data"] = [[v] for v in inputs[1]["data"]]
    r = _post(server, "/v2/models/shop/infer", {"id": "abc", "inputs": inputs})
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["model_name"] == "shop" and out["model_version"] == "1"
    assert out["outputs"][0]["name"] == "prediction"
    assert out["outputs"][0]["shape"] == [len(body)]
    np.testing.assert_array_equal(out["outputs"][0]["data"],
                                  models[1].predict(pd.DataFrame(body)))
    r = _post(server, "/v2/models/shop/versions/1/infer", {"inputs": inputs})
    assert r.status_code == 200 and r.json()["model_version"] == "1"
    assert _post(server, "/v2/models/shop/versions/9/infer", {"inputs": inputs}
                 ).status_code == 404
    assert _post(server, "/v2/models/nope/infer", {"inputs": inputs}).status_code == 404


def test_missing_and_unseen_are_counted_as_in_batch(served):
    server, models = served
    body = [{"x": None, "z": 0.5, "b": True, "c": "purple"},
            {"x": 1.0, "z": None, "b": None, "c": None}]
    r = _post(server, "/predict", {"rows": body})
    assert r.status_code == 200
    assert r.json()["counts"] == enet_counts(models[1], body)
    np.testing.assert_array_equal(r.json()["predictions"],
                                  models[1].predict(pd.DataFrame(body)))
    samples = server.metrics()
    assert metric(samples, "enet_unseen_levels_total", feature="c", version=1) >= 1
    assert metric(samples, "enet_missing_values_total", feature="x", version=1) >= 1


GOOD = {"x": 1.0, "z": 0.0, "b": True, "c": "red"}


@pytest.mark.parametrize("first, row, kind, column", [
    (None, {"z": 0.0, "b": True, "c": "red"}, "missing_column", "x"),
    ({**GOOD, "x": "1.5"}, {**GOOD, "x": "abc"}, "not_a_number", "x"),
    ({**GOOD, "b": 1}, {**GOOD, "b": 3}, "not_boolean", "b"),
    (GOOD, {**GOOD, "z": 1e999}, "infinite", "z"),
    ({**GOOD, "z": "1"}, {**GOOD, "z": "-inf"}, "infinite", "z"),
    (GOOD, {**GOOD, "c": [1, 2]}, "nested_value", "c"),
    (GOOD, {**GOOD, "c": 7}, "mixed_types", "c"),
])
def test_field_level_validation_errors(served, first, row, kind, column):
    server, _ = served
    r = _post(server, "/predict", {"rows": [first, row] if first else [row]})
    assert r.status_code == 422, r.text
    err = r.json()
    assert err["kind"] == kind and err["column"] == column, err
    if first:
        assert err["row"] == 2
    assert column in err["error"] and err["request_id"] == r.headers["x-request-id"]


def test_request_shape_errors(served):
    server, _ = served
    cases = [
        ({"rows": [GOOD, {**GOOD, "x": "a"}], "data": [[1]]}, "bad_shape"),
        ({}, "bad_shape"),
        ({"columns": ["x", "x"], "data": [[1, 2]]}, "duplicate_column"),
        ({"columns": ["x", "z"], "data": [[1, 2], [3]]}, "bad_shape"),
        ({"rows": [GOOD] * 501}, "too_many_rows"),
        ({"rows": "no"}, "bad_shape"),
        ({"rows": [GOOD], "extra": 1}, "bad_shape"),
        ([1, 2], "bad_shape"),
        ({"columns": ["x", "z", "b", "c"], "data": [[1.0, "t", True, "red"],
                                                    [2.0, 3.0, True, "red"]]},
         "mixed_types"),
    ]
    for body, kind in cases:
        r = _post(server, "/predict", body)
        assert r.status_code == 422 and r.json()["kind"] == kind, (body, r.text)
    bad_infer = [{"inputs": []},
                 {"inputs": [{"name": "x", "shape": [2], "datatype": "FP64", "data": [1]}]},
                 {"inputs": [{"name": "x", "shape": [1, 2], "datatype": "FP64",
                              "data": [1, 2]}]}]
    for body in bad_infer:
        r = _post(server, "/v2/models/shop/infer", body)
        assert r.status_code == 422 and r.json()["kind"] == "bad_shape", r.text


def test_malformed_json_and_body_limit(served):
    server, _ = served
    for raw in (b'{"rows": [', b"", b"\xff\xfe", b"nan"):
        r = server.client.post("/predict", content=raw)
        assert r.status_code == 400 and r.json()["kind"] == "malformed_json", (raw, r.text)
    big = json.dumps({"rows": [GOOD] * 400, "pad": "x" * 70000}).encode()
    r = server.client.post("/predict", content=big)
    assert r.status_code == 413 and r.json()["kind"] == "body_too_large"

    def chunks():                                   # no Content-Length: counted as read
        for _ in range(100):
            yield b" " * 1000
    r = server.client.post("/predict", content=chunks())
    assert r.status_code == 413


def test_no_client_input_gives_a_500(served, rng):
    """Random bytes, random JSON trees and random cell values: always 200 or 4xx."""
    server, _ = served
    atoms = [None, True, False, 0, -1, 1.5, 1e308, "", "x", "red", "1e999", [], {}, [1], {"a": 1}]
    statuses = set()
    for i in range(150):
        kind = i % 3
        if kind == 0:
            raw = bytes(rng.integers(0, 256, int(rng.integers(0, 60))).astype(np.uint8))
        elif kind == 1:
            row = {k: atoms[rng.integers(len(atoms))] for k in ("x", "z", "b", "c", "w")
                   if rng.random() < 0.9}
            raw = json.dumps({"rows": [row, GOOD]}).encode()
        else:
            raw = json.dumps({"inputs": [{"name": "x", "shape": [int(rng.integers(-1, 3))],
                                          "datatype": "FP64",
                                          "data": [atoms[rng.integers(len(atoms))]]}]}
                             ).encode()
        path = "/v2/models/shop/infer" if kind == 2 else "/predict"
        r = server.client.post(path, content=raw)
        statuses.add(r.status_code)
        assert r.status_code in (200, 400, 422), (raw, r.text)
        assert "error" in r.json() or r.status_code == 200
    assert {400, 422} <= statuses


def test_metrics_have_the_documented_names_and_labels(served):
    server, models = served
    _post(server, "/predict", {"rows": rows(2, 3)})
    _post(server, "/predict", {"rows": [{"x": "oops"}]})
    s = server.metrics()
    champion = {"model": "shop", "version": "1", "route": "champion"}
    assert metric(s, "enet_requests_total", endpoint="predict", status=200, **champion) >= 1
    assert metric(s, "enet_requests_total", endpoint="predict", status=422, **champion) >= 1
    assert metric(s, "enet_request_duration_seconds_count", endpoint="predict",
                  **champion) >= 2
    assert metric(s, "enet_rows_scored_total", **champion) >= 3
    assert metric(s, "enet_prediction_count", **champion) == \
        metric(s, "enet_rows_scored_total", **champion)
    assert metric(s, "enet_validation_failures_total", kind="missing_column") >= 1
    assert "enet_requests_in_flight" in s
    assert metric(s, "enet_model_info", role="champion", model="shop", version=1) == 1
    assert metric(s, "enet_model_load_seconds", role="champion", version=1) > 0
    # the prediction histogram's buckets add up to its count
    buckets = [(lab["le"], v) for lab, v in s["enet_prediction_bucket"]
               if lab["route"] == "champion"]
    assert dict(buckets)["+Inf"] == metric(s, "enet_prediction_count", **champion)


def test_access_log_is_json_with_request_ids_and_no_raw_values(served):
    server, _ = served
    r = _post(server, "/predict", {"rows": [{**GOOD, "x": 12345.678}]},
              headers={"X-Request-ID": "req-42"})
    assert r.headers["x-request-id"] == "req-42"
    lines = [json.loads(line) for line in server.log().splitlines() if line.startswith("{")]
    mine = [e for e in lines if e.get("request_id") == "req-42"]
    assert mine and mine[0]["status"] == 200 and mine[0]["version"] == "1"
    assert mine[0]["route"] == "champion" and mine[0]["rows"] == 1
    assert "12345.678" not in server.log()


def test_admin_reload_needs_the_token(served):
    server, _ = served
    assert server.client.post("/admin/reload").status_code == 401
    assert server.client.post("/admin/reload", headers={
        "Authorization": "Bearer wrong"}).status_code == 401
    r = server.client.post("/admin/reload", headers={"Authorization": f"Bearer {TOKEN}"})
    assert r.status_code == 200
    assert r.json()["results"]["champion"] == {"status": "unchanged", "version": "1"}

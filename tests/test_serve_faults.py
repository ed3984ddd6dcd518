"""Faults a fresh user found, over real HTTP: clients that hang up, predictions that
overflow, addresses that cannot be listened on, and the edges of request validation."""

from __future__ import annotations

import json
import socket
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from enet.exceptions import DataError

from serve_models import make_registry, rows
from serve_server import Server, free_port, metric, wait_for_metric

pytest.importorskip("fastapi")
GOOD = {"x": 1.0, "z": 0.0, "b": True, "c": "red"}
MAX = np.finfo(np.float64).max


def _coef_x(model) -> float:
    return float(model.coef[model.features.index("x")])


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("faults")
    reg, models = make_registry(tmp / "reg")
    return tmp, models


@pytest.fixture(scope="module")
def shadowed(registry):
    """The champion is the version with the smaller coefficient on x, the shadow the
    other: some x overflows the shadow's prediction but not the champion's."""
    tmp, models = registry
    small, big = sorted((1, 2), key=lambda v: abs(_coef_x(models[v])))
    assert abs(_coef_x(models[small])) < abs(_coef_x(models[big]))
    server = Server(["--model", f"shop/{small}", "--shadow", f"shop/{big}",
                     "--registry", str(tmp / "reg")], tmp / "shadowed.log")
    yield server, models, small, big
    server.stop()


def _post(server, path, body):
    return server.client.post(path, content=json.dumps(body).encode())


def _infer_body(body_rows):
    return {"inputs": [{"name": k, "shape": [len(body_rows)], "datatype": "BYTES",
                        "data": [r[k] for r in body_rows]} for k in body_rows[0]]}


def _log_lines(server):
    return [json.loads(line) for line in server.log().splitlines() if line.startswith("{")]


def test_client_closing_mid_body_is_a_499_not_a_server_error(shadowed):
    server = shadowed[0]
    for n, path in enumerate(["/predict", "/v2/models/shop/infer"], start=1):
        s = socket.create_connection(("127.0.0.1", server.port))
        s.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  f"Content-Length: 100\r\n\r\n{{\"rows\": [".encode())
        s.close()
        samples = wait_for_metric(server, "enet_requests_total", n, status=499)
    assert metric(samples, "enet_requests_total", status=500) == 0
    assert metric(samples, "enet_validation_failures_total") == 0
    assert "Traceback" not in server.log()
    closed = [e for e in _log_lines(server) if e.get("status") == 499]
    assert [e["path"] for e in closed] == ["/predict", "/v2/models/shop/infer"]
    assert all(e["level"] == "info" and e["kind"] == "client_closed" for e in closed)
    assert _post(server, "/predict", {"rows": [GOOD]}).status_code == 200    # still serving


@pytest.mark.parametrize("x", [1e308, "1e308"])        # direct path, shared table path
def test_overflowing_prediction_is_a_422_naming_the_row(shadowed, x):
    server, _, champion, _ = shadowed
    before = metric(server.metrics(), "enet_validation_failures_total",
                    kind="non_finite_prediction")
    good = {**GOOD, "x": "1.0"} if isinstance(x, str) else GOOD     # one type per column
    body = [good, good, {**GOOD, "x": x}]
    for path, req in (("/predict", {"rows": body}),
                      ("/v2/models/shop/infer", _infer_body(body)),
                      (f"/v2/models/shop/versions/{champion}/infer", _infer_body(body))):
        r = _post(server, path, req)
        assert r.status_code == 422, (path, r.text)
        err = r.json()
        assert err["kind"] == "non_finite_prediction" and err["row"] == 3, err
        assert err["error"].startswith("request: row 3: the prediction is not finite (inf); "
                                       "input values far outside the training range"), err
        assert "'x'" in err["error"]
    assert metric(server.metrics(), "enet_validation_failures_total",
                  kind="non_finite_prediction") == before + 3


def test_shadow_overflow_is_a_shadow_failure_not_an_error(shadowed):
    server, models, small, big = shadowed
    # between the two thresholds: the champion's x term is finite, the shadow's is not
    x = 0.5 * MAX / abs(_coef_x(models[small])) + 0.5 * MAX / abs(_coef_x(models[big]))
    body = [{**GOOD, "x": x}]
    expected = models[small].predict(pd.DataFrame(body))
    assert np.isfinite(expected).all()
    with pytest.raises(DataError, match="not finite"):      # batch scoring refuses it too
        models[big].predict(pd.DataFrame(body))
    r = _post(server, "/predict", {"rows": body})
    assert r.status_code == 200, r.text
    np.testing.assert_array_equal(r.json()["predictions"], expected)
    wait_for_metric(server, "enet_shadow_failures_total", 1, kind="non_finite_prediction")
    assert "Traceback" not in server.log()


def test_zero_rows_are_answered_with_no_predictions(shadowed):
    server = shadowed[0]
    for body in ({"rows": []}, {"columns": ["x", "z", "b", "c"], "data": []}):
        r = _post(server, "/predict", body)
        assert r.status_code == 200, r.text
        assert r.json()["predictions"] == [] and r.json()["counts"]["rows"] == 0
    r = _post(server, "/v2/models/shop/infer", {"inputs": [
        {"name": k, "shape": [0], "datatype": "BYTES", "data": []} for k in GOOD]})
    assert r.status_code == 200 and r.json()["outputs"][0]["data"] == [], r.text
    # named columns are still checked without rows
    r = _post(server, "/predict", {"columns": ["x"], "data": []})
    assert r.status_code == 422 and r.json()["kind"] == "missing_column"


def test_huge_integer_and_boolean_text_get_field_level_messages(shadowed):
    server = shadowed[0]
    raw = ('{"rows": [%s, {"x": %s, "z": 0.0, "b": true, "c": "red"}]}'
           % (json.dumps(GOOD), "9" * 400)).encode()
    r = server.client.post("/predict", content=raw)
    assert r.status_code == 422
    err = r.json()
    assert (err["kind"], err["column"], err["row"]) == ("integer_too_large", "x", 2), err
    assert "C long" not in err["error"] and "(400 digits)" in err["value"]
    assert len(err["error"]) < 250
    # as in batch scoring of text, refused (JSON true/false are the booleans), but named
    r = _post(server, "/predict", {"rows": [{**GOOD, "b": "false"}, {**GOOD, "b": "true"}]})
    err = r.json()
    assert r.status_code == 422 and (err["kind"], err["column"], err["row"], err["value"]) \
        == ("not_boolean", "b", 1, "false"), err
    assert "true or false" in err["error"] and "not a number" not in err["error"]


@pytest.mark.parametrize("change, kind, where", [
    ({"datatype": "FOO"}, "bad_datatype", "'x'"),
    ({"shape": ["1"]}, "bad_shape", "shape"),
    ({"shape": [1.0]}, "bad_shape", "shape"),
    ({"shape": [-1]}, "bad_shape", "'x'"),
    ({"shape": [2]}, "bad_shape", "'x'"),
])
def test_open_inference_protocol_tensor_fields_are_validated(shadowed, change, kind, where):
    server = shadowed[0]
    body = _infer_body([GOOD])
    body["inputs"][0].update(change)
    r = _post(server, "/v2/models/shop/infer", body)
    assert r.status_code == 422 and r.json()["kind"] == kind, r.text
    assert where in r.json()["error"]


def test_unknown_outputs_are_refused(shadowed):
    server = shadowed[0]
    body = {**_infer_body([GOOD]), "outputs": [{"name": "prediction"}]}
    assert _post(server, "/v2/models/shop/infer", body).status_code == 200
    body["outputs"] = [{"name": "probabilities"}]
    r = _post(server, "/v2/models/shop/infer", body)
    assert r.status_code == 422 and r.json()["kind"] == "unknown_output"
    assert "'probabilities'" in r.json()["error"] and "prediction" in r.json()["error"]


def test_version_metadata_and_routes_with_a_canary(registry):
    tmp, models = registry
    server = Server(["--model", "shop@champion", "--challenger", "shop@challenger",
                     "--canary", "0.5", "--registry", str(tmp / "reg")], tmp / "canary.log")
    try:
        c = server.client
        for version, role in (("1", "champion"), ("2", "challenger")):
            meta = c.get(f"/v2/models/shop/versions/{version}").json()
            assert meta["parameters"]["version"] == version, meta
            assert meta["parameters"]["role"] == role and meta["versions"] == ["1", "2"]
            assert c.get(f"/v2/models/shop/versions/{version}/ready").json()["ready"]
        r = c.get("/v2/models/shop/versions/7")
        assert r.status_code == 404 and "version '7'" in r.json()["error"]
        assert c.get("/v2/models/other/versions/1").status_code == 404
        body = _infer_body(rows(4, 3))
        for version, route in (("1", "champion"), ("2", "canary")):
            for _ in range(5):
                out = _post(server, f"/v2/models/shop/versions/{version}/infer", body).json()
                assert (out["model_version"], out["parameters"]["route"]) == (version, route)
        # a canary-routed row that overflows is a 422 too
        key = next(f"k{i}" for i in range(1000) if _route(f"k{i}") == "canary")
        r = server.client.post("/predict", content=json.dumps(
            {"rows": [{**GOOD, "x": 1e308}]}).encode(), headers={"X-Request-Key": key})
        assert r.status_code == 422 and r.json()["kind"] == "non_finite_prediction"
        assert metric(server.metrics(), "enet_requests_total", route="canary",
                      status=422) == 1
    finally:
        server.stop()


def _route(key: str) -> str:
    from enet.serve.dataplane import canary_share

    return "canary" if canary_share(key) < 0.5 else "champion"


def _serve(tmp, *args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "enet.cli", "serve", "--model", "shop/1",
                           "--registry", str(tmp / "reg"), *args], capture_output=True,
                          text=True, timeout=120)


def test_unusable_address_is_one_line_and_exit_code_2(registry):
    tmp, _ = registry
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        out = _serve(tmp, "--port", str(port))
    assert out.returncode == 2, out.stderr
    assert out.stderr.strip().splitlines() == [
        f"error: --port {port}: already in use on 127.0.0.1; stop the other server or "
        f"choose another port (0: any free port)"], out.stderr
    out = _serve(tmp, "--host", "no-such-host.invalid", "--port", str(free_port()))
    assert out.returncode == 2, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: --host no-such-host.invalid: "), \
        out.stderr
    assert "Errno" not in out.stderr and "Traceback" not in out.stderr


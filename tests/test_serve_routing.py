"""Canary and shadow routing on a real server."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from serve_models import make_registry, rows
from serve_server import Server, metric, wait_for_metric

pytest.importorskip("fastapi")
SHARE = 0.3


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("routing")
    reg, models = make_registry(tmp / "reg")
    return tmp, models


def _predict(server, body, key=None):
    headers = {"X-Request-Key": key} if key is not None else {}
    r = server.client.post("/predict", content=json.dumps({"rows": body}).encode(),
                           headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


def test_canary_split(registry):
    from enet.serve.dataplane import canary_share

    tmp, models = registry
    server = Server(["--model", "shop@champion", "--challenger", "shop@challenger",
                     "--canary", str(SHARE), "--registry", str(tmp / "reg")],
                    tmp / "canary.log")
    try:
        body = rows(3, 2)
        expected = {"1": models[1].predict(pd.DataFrame(body)),
                    "2": models[2].predict(pd.DataFrame(body))}
        # with a key: exactly the hash's decision, the same every time
        n_keys = 1500
        canary = 0
        for i in range(n_keys):
            key = f"customer-{i}"
            out = _predict(server, body, key)
            want = "canary" if canary_share(key) < SHARE else "champion"
            assert out["route"] == want
            assert out["version"] == ("2" if want == "canary" else "1")
            np.testing.assert_array_equal(out["predictions"], expected[out["version"]])
            canary += want == "canary"
        for i in range(0, 50, 7):
            assert _predict(server, body, f"customer-{i}")["route"] == \
                ("canary" if canary_share(f"customer-{i}") < SHARE else "champion")
        # the hash spreads keys uniformly: within 4.5 standard errors of the share
        tol = 4.5 * math.sqrt(SHARE * (1 - SHARE) / n_keys)
        assert abs(canary / n_keys - SHARE) < tol
        # without a key: random, in the same proportion
        n = 1500
        routes = [_predict(server, body)["route"] for _ in range(n)]
        assert abs(routes.count("canary") / n - SHARE) < 4.5 * math.sqrt(
            SHARE * (1 - SHARE) / n)
        s = server.metrics()
        total_canary = canary + routes.count("canary") + sum(
            canary_share(f"customer-{i}") < SHARE for i in range(0, 50, 7))
        assert metric(s, "enet_requests_total", endpoint="predict", route="canary",
                      version=2, status=200) == total_canary
        assert metric(s, "enet_rows_scored_total", route="canary", version=2) == \
            2 * total_canary
    finally:
        server.stop()


def test_shadow_never_changes_responses(registry):
    tmp, models = registry
    server = Server(["--model", "shop@champion", "--shadow", "shop@challenger",
                     "--registry", str(tmp / "reg")], tmp / "shadow.log")
    try:
        divergence, n_rows = 0.0, 0
        for seed in range(40):
            body = rows(seed, 1 + seed % 5)
            out = _predict(server, body, key=str(seed))
            assert (out["route"], out["version"]) == ("champion", "1")
            p1 = models[1].predict(pd.DataFrame(body))
            np.testing.assert_array_equal(out["predictions"], p1)
            divergence += np.abs(models[2].predict(pd.DataFrame(body)) - p1).sum()
            n_rows += len(body)
        # the shadow scores after each response is sent: wait until it has caught up
        wait_for_metric(server, "enet_shadow_divergence_count", n_rows, version=2)
        s = server.metrics()
        assert metric(s, "enet_rows_scored_total", route="shadow", version=2) == n_rows
        assert metric(s, "enet_shadow_divergence_count", version=2) == n_rows
        assert metric(s, "enet_shadow_divergence_sum", version=2) == pytest.approx(
            divergence, rel=1e-9)
        assert metric(s, "enet_requests_total", route="shadow") == 0   # never answers
    finally:
        server.stop()

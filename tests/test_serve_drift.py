"""Drift gauges of the service: equal to ``enet monitor`` on the same rows, in process
(the rolling window moved by a clock) and over real HTTP (rows sent, /metrics scraped);
a drifted input alone shows a high PSI; a reloaded version starts an empty window."""

from __future__ import annotations

import math
import time

import numpy as np
import pandas as pd
import pytest

from serve_models import frame, make_registry, rows
from serve_server import Server

import enet
from enet.data.encode import ScoreCounts
from enet.data.records import RecordEncoder
from enet.monitor.monitor import impact_shares, monitor_table
from enet.monitor.thresholds import Thresholds
from enet.serve.window import DriftWindow, WindowSpec

TIGHT = dict(rel=1e-12, abs=1e-15)


def _body(seed: int, n: int, shift_x: float = 0.0, damage: bool = True) -> list[dict]:
    """Request rows; with ``damage``, missing values in every input, unseen and missing
    levels (training saw neither in ``c``)."""
    body = rows(seed, n)
    for i, row in enumerate(body):
        if shift_x and row["x"] is not None:
            row["x"] += shift_x
        if not damage:
            continue
        if i % 13 == 4:
            row["c"] = "purple"                  # not seen in training
        if i % 17 == 5:
            row["c"] = None
        if i % 19 == 6:
            row["z"] = None
        if i % 23 == 7:
            row["b"] = None
    return body


def _reference(model, body: list[dict]):
    """The offline monitor on the same rows (raw values through Arrow, not the server)."""
    return monitor_table(model, pd.DataFrame(body))


def _assert_equal_to_monitor(got: dict, ref, rows_expected: int) -> None:
    """``got``: feature -> (psi, missing_rate, unseen_rate), plus "prediction" and "rows"."""
    assert got["rows"] == rows_expected
    for f in ref.features:
        psi_, missing, unseen = got[f["name"]]
        assert psi_ == pytest.approx(f["psi"], **TIGHT), f["name"]
        assert missing == pytest.approx(f["missing_rate_new"], **TIGHT), f["name"]
        if f["kind"] == "categorical":
            assert unseen == pytest.approx(f["unseen_rate"], **TIGHT)
        else:
            assert unseen is None
    assert got["prediction"] == pytest.approx(ref.prediction["psi"], **TIGHT)


def _from_window(stats) -> dict:
    out = {d.name: (d.psi, d.missing_rate, d.unseen_rate) for d in stats.inputs}
    out.update(rows=stats.rows, prediction=stats.prediction_psi)
    return out


class Clock:
    def __init__(self, now: float = 1000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_window_equals_monitor_and_forgets_expired_slices():
    model = enet.train_model(frame(0), target="y")
    assert {c.kind for c in model.inputs} == {"numeric", "boolean", "categorical"}
    clock = Clock()
    spec = WindowSpec(seconds=60.0, slices=6)                 # 10-second slices
    layout = DriftWindow.for_model(model, spec).layout
    # every 25 rows the queue is counted in the request path, the rest at scrape time
    window = DriftWindow(layout, spec, clock, batch_rows=25)
    encoder = RecordEncoder(model.encoder())

    def send(body, size, window=window):
        for i in range(0, len(body), size):
            chunk = body[i:i + size]
            columns = {k: [r.get(k) for r in chunk] for k in chunk[0]}
            counts = ScoreCounts()
            X = encoder.encode(columns, len(chunk), False, counts)
            window.add(X, X @ model.coef + model.intercept, counts)

    early, late = _body(0, 150), _body(1, 120)
    send(early, 1)                                          # single rows at t = 1000
    clock.now = 1035.0
    send(late, 11)                                          # t = 1035, 3 slices later
    stats = window.stats()
    _assert_equal_to_monitor(_from_window(stats), _reference(model, early + late), 270)
    assert stats.seconds == pytest.approx(35.0)
    # t = 1055: the window is [1000, 1060), six 10-second slices, both batches in it
    clock.now = 1055.0
    assert window.stats().rows == 270
    # t = 1065: the window is [1010, 1070): the slice of t = 1000 has left it
    clock.now = 1065.0
    _assert_equal_to_monitor(_from_window(window.stats()), _reference(model, late), 120)
    assert window.stats().seconds == pytest.approx(55.0)
    # t = 1095: the window [1040, 1100) holds nothing: rates undefined, not zero
    clock.now = 1095.0
    empty = window.stats()
    assert empty.rows == 0 and all(math.isnan(d.psi) and math.isnan(d.missing_rate)
                                   for d in empty.inputs)
    assert math.isnan(empty.prediction_psi)
    impact = impact_shares(model)
    assert {d.name: d.impact for d in empty.inputs} == impact
    # requests still queued when their slice expires are dropped, not counted late
    queued = DriftWindow(layout, spec, clock)
    clock.now = 2000.0
    send(early, 1, queued)
    clock.now = 2065.0
    send(late, 11, queued)
    _assert_equal_to_monitor(_from_window(queued.stats()), _reference(model, late), 120)


def test_window_is_none_without_a_profile_or_a_length():
    model = enet.train_model(frame(0), target="y")
    assert DriftWindow.for_model(model, None) is None
    assert DriftWindow.for_model(model, WindowSpec(0.0, 10)) is None


# --------------------------------------------------------------------- real server

def _drift_gauges(server: Server, version: str) -> dict:
    samples = server.metrics()

    def of(name):
        return {s[0]["feature"] if "feature" in s[0] else None: s[1]
                for s in samples.get(name, []) if s[0]["version"] == version}

    psi_, missing, unseen = (of("enet_drift_psi"), of("enet_drift_missing_rate"),
                             of("enet_drift_unseen_rate"))
    out = {name: (psi_[name], missing[name], unseen.get(name)) for name in psi_}
    out["rows"] = of("enet_drift_window_rows").get(None)
    out["prediction"] = of("enet_drift_prediction_psi").get(None)
    out["impact"] = of("enet_drift_impact")
    out["training_missing"] = of("enet_drift_training_missing_rate")
    return out


@pytest.fixture
def served(tmp_path):
    reg, models = make_registry(tmp_path / "reg")
    server = Server(["--model", "shop@champion", "--registry", str(tmp_path / "reg"),
                     "--poll-interval", "0.2", "--drift-window", "3600",
                     "--drift-slices", "6"], tmp_path / "server.log")
    yield server, reg, models
    server.stop()


def test_served_gauges_equal_monitor_then_reset_on_reload_and_flag_the_drifted_input(served):
    server, reg, models = served
    body = _body(2, 400)
    # requests of 1, 7 and 50 rows, as rows, as columns, and through the inference protocol
    sent = 0
    for size in (1, 1, 1, 7, 7, 50, 50):
        chunk = body[sent:sent + size]
        r = server.client.post("/predict", json={"rows": chunk})
        assert r.status_code == 200, r.text
        sent += size
    names = list(body[0])
    chunk = body[sent:sent + 100]
    r = server.client.post("/predict", json={"columns": names,
                                             "data": [[row[k] for k in names]
                                                      for row in chunk]})
    assert r.status_code == 200
    sent += 100
    chunk = body[sent:]
    r = server.client.post("/v2/models/shop/infer", json={"inputs": [
        {"name": k, "shape": [len(chunk)], "datatype": "BYTES", "data": [row[k] for row in chunk]}
        for k in names]})
    assert r.status_code == 200, r.text
    # a refused request is not counted
    assert server.client.post("/predict", json={"rows": [{**body[0], "x": "abc"}]}
                              ).status_code == 422

    got = _drift_gauges(server, "1")
    _assert_equal_to_monitor(got, _reference(models[1], body), 400)
    assert got["impact"] == pytest.approx(impact_shares(models[1]), **TIGHT)
    profile = models[1].profile["drift"]["inputs"]
    assert got["training_missing"] == {k: v["missing_rate"] for k, v in profile.items()}

    # the alias moves: version 2 serves with an empty window, version 1's gauges are gone
    reg.set_alias("shop", "champion", 2)
    deadline = time.time() + 30
    while time.time() < deadline:
        samples = server.metrics()
        if any(s[0]["version"] == "2" for s in samples.get("enet_drift_window_rows", [])):
            break
        time.sleep(0.2)
    samples = server.metrics()
    assert {s[0]["version"] for s in samples["enet_drift_window_rows"]} == {"2"}
    assert _drift_gauges(server, "2")["rows"] == 0

    # x shifted by 3 (its sd is 1): its PSI is high, every other input's is not
    drifted = _body(3, 500, shift_x=3.0, damage=False)
    for i in range(0, 500, 100):
        assert server.client.post("/predict", json={"rows": drifted[i:i + 100]}
                                  ).status_code == 200
    got = _drift_gauges(server, "2")
    _assert_equal_to_monitor(got, _reference(models[2], drifted), 500)
    limit = Thresholds().psi
    assert got["x"][0] > 5 * limit
    assert all(got[name][0] < limit for name in ("z", "b", "c")), got
    assert got["prediction"] > limit                    # x carries the largest coefficient

"""Where a request's time goes inside ``enet serve`` (in process, no HTTP).

Times, per call, on the diabetes model: parsing the /predict body (pydantic), the
direct record encoder + dot product (``Deployment.score``) without and with the drift
window (side by side), the window's own count of a request and the drift gauges'
computation at scrape time, the same rows through the shared table path (Arrow +
Encoder, what ``Model.predict`` does), metric updates, and for comparison
scikit-learn's ``Pipeline.predict`` on a one-row DataFrame.

    PYTHONPATH=.:bench python bench/serve_request_cost.py
"""

from __future__ import annotations

import json
import timeit

import pandas as pd
from prometheus_client import CollectorRegistry

import enet
from enet.registry import Registry


def per_call_us(fn, number: int) -> float:
    return min(timeit.repeat(fn, number=number, repeat=5)) / number * 1e6


def main() -> None:
    import tempfile

    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import ElasticNet
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    from bench_serve_data import diabetes
    from enet.serve.deployments import ModelSource, load_deployment
    from enet.serve.metrics import ServeMetrics
    from enet.serve.schemas import PredictRequest, predict_columns
    from enet.serve.window import WindowSpec

    df = diabetes()
    model = enet.train_model(df, target="y", categorical=["sex"])
    tmp = tempfile.mkdtemp()
    reg = Registry(tmp)
    reg.register("diabetes", model)
    metrics = ServeMetrics(CollectorRegistry())
    dep = load_deployment("champion", ModelSource.parse("diabetes/1"), reg, 1, False, metrics)
    tracked = load_deployment("challenger", ModelSource.parse("diabetes/1"), reg, 1, False,
                              metrics, WindowSpec())               # the serve default
    X = df.drop(columns="y")
    pipe = Pipeline([("prep", ColumnTransformer([
        ("sex", OneHotEncoder(handle_unknown="ignore"), ["sex"]),
        ("num", StandardScaler(), [c for c in X.columns if c != "sex"])])),
        ("enet", ElasticNet(alpha=model.alpha, l1_ratio=model.l1_ratio))]).fit(X, df.y)
    print(f"{'step':58s} {'1 row':>10s} {'100 rows':>10s}")
    for label, fn in _steps(dep, tracked, pipe, X, PredictRequest, predict_columns):
        cells = [per_call_us(lambda: fn(n), 2000 if n == 1 else 200) for n in (1, 100)]
        print(f"{label:58s} {cells[0]:8.1f}us {cells[1]:8.1f}us")


def _steps(dep, tracked, pipe, X, PredictRequest, predict_columns):
    records = [{k: (int(v) if k == "sex" else float(v)) for k, v in r.items()}
               for r in X.to_dict("records")]
    bodies = {n: json.dumps({"rows": records[:n]}).encode() for n in (1, 100)}
    cols = {n: predict_columns(PredictRequest.model_validate_json(bodies[n]), 10_000)
            for n in (1, 100)}
    frames = {n: X.iloc[:n].copy() for n in (1, 100)}
    preds = {n: dep.score(*cols[n])[0] for n in (1, 100)}
    counts = dep.score(*cols[1])[1]
    matrices = {n: tracked._score(*cols[n]) for n in (1, 100)}
    return [
        ("parse + check the body (pydantic, rows -> columns)",
         lambda n: predict_columns(PredictRequest.model_validate_json(bodies[n]), 10_000)),
        ("direct record encoder + X @ coef (Deployment.score)",
         lambda n: dep.score(*cols[n])),
        ("the same with the drift window (--drift-window 600)",
         lambda n: tracked.score(*cols[n])),
        ("  of which DriftWindow.add (queue, batch compare amortised)",
         lambda n: tracked.drift.add(*matrices[n])),
        ("drift gauges at scrape time (PSI of 10 inputs + prediction)",
         lambda n: tracked.drift.stats()),
        ("shared table path (Arrow + Encoder), same columns",
         lambda n: dep.records.reference(cols[n][0])),
        ("metrics: rows, prediction histogram, request count+latency",
         lambda n: (dep.metrics.scored(preds[n], counts),
                    dep.metrics.finished("predict", 200, 0.001))),
        ("scikit-learn Pipeline.predict on a DataFrame", lambda n: pipe.predict(frames[n])),
        ("building that DataFrame from the rows", lambda n: pd.DataFrame(records[:n])),
    ]


if __name__ == "__main__":
    main()

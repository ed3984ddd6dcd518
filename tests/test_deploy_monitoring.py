"""The Grafana dashboard and Prometheus alert rules in deploy/ use only metrics a live
``enet serve`` exports, the drift alerts use ``enet monitor``'s default thresholds, and
promtool (when installed) accepts the rules, their unit tests and every dashboard query."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from serve_models import make_registry, rows
from serve_server import Server

from enet.monitor.thresholds import Thresholds

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
DASHBOARD = DEPLOY / "grafana" / "enet-dashboard.json"
RULES = DEPLOY / "prometheus" / "enet-alerts.yml"
RULE_TESTS = DEPLOY / "prometheus" / "enet-alerts.test.yml"

_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or",
             "unless", "offset", "bool", "inf", "nan"}


def metric_names(expr: str) -> set[str]:
    """Metric names a PromQL expression reads: identifiers that are not functions,
    keywords, label names (in matchers or grouping lists), durations or numbers."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`', '""', expr)
    expr = re.sub(r"\$\{?\w+\}?", " ", expr)                     # Grafana variables
    expr = re.sub(r"\{[^{}]*\}", " ", expr)                      # label matchers
    expr = re.sub(r"\[[^\]]*\]", " ", expr)                      # ranges, subqueries
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", expr)
    names = set()
    for m in re.finditer(r"(?<![\w.])[A-Za-z_:][A-Za-z0-9_:]*", expr):
        if m.group() in _KEYWORDS or expr[m.end():].lstrip().startswith("("):
            continue
        names.add(m.group())
    return names


def test_metric_name_extraction():
    assert metric_names('histogram_quantile(0.99, sum by (le, route) (rate('
                        'enet_request_duration_seconds_bucket{endpoint=~"predict|infer", '
                        'model="$model"}[$__rate_interval])))') == {
        "enet_request_duration_seconds_bucket"}
    assert metric_names("enet_drift_psi > 0.2 and on (model, feature) enet_drift_impact "
                        ">= 5e-2 and on(model) enet_drift_window_rows offset 5m >= 1e2") == {
        "enet_drift_psi", "enet_drift_impact", "enet_drift_window_rows"}
    assert metric_names('abs(a - on (x) group_left (y) b{q="c{d}"}) > bool 1') == {"a", "b"}
    assert metric_names('sum without (kind) (rate(x_total[5m:1m]))') == {"x_total"}


def _dashboard_queries() -> list[str]:
    doc = json.loads(DASHBOARD.read_text())
    found = []

    def walk(node):
        if isinstance(node, dict):
            if isinstance(node.get("expr"), str):
                found.append(node["expr"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(doc["panels"])
    for var in doc["templating"]["list"]:
        query = var.get("query")
        query = query.get("query") if isinstance(query, dict) else query
        if var["type"] == "query":
            m = re.fullmatch(r"label_values\((\w+),\s*\w+\)", query)
            assert m, f"template variable {var['name']}: unexpected query {query!r}"
            found.append(m.group(1))
    return found


def _rules() -> dict[str, str]:
    doc = yaml.safe_load(RULES.read_text())
    return {rule["alert"]: rule["expr"] for group in doc["groups"] for rule in group["rules"]}


def _exported_names(text: str) -> set[str]:
    """Every series name /metrics can carry: samples, and each declared family with the
    suffixes of its type (a labelled metric has no sample before its first event)."""
    names = set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(maxsplit=3)
            if kind == "histogram":
                names.update(name + s for s in ("_bucket", "_sum", "_count"))
            elif kind == "counter":
                names.add(name if name.endswith("_total") else name + "_total")
            else:
                names.add(name)
        elif line and not line.startswith("#"):
            names.add(re.match(r"[A-Za-z_:][A-Za-z0-9_:]*", line).group())
    return names


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    pytest.importorskip("fastapi")
    tmp = tmp_path_factory.mktemp("deploy")
    make_registry(tmp / "reg")
    server = Server(["--model", "shop@champion", "--registry", str(tmp / "reg"),
                     "--shadow", "shop@challenger"], tmp / "server.log")
    try:
        assert server.client.post("/predict", json={"rows": rows(0, 20)}).status_code == 200
        assert server.client.post("/predict", json={"rows": [{"x": "abc"}]}).status_code == 422
        yield _exported_names(server.client.get("/metrics").text)
    finally:
        server.stop()


def test_every_referenced_metric_is_exported(exported):
    dashboard = set().union(*map(metric_names, _dashboard_queries()))
    rules = set().union(*map(metric_names, _rules().values()))
    assert not dashboard - exported, f"dashboard metrics not on /metrics: {dashboard - exported}"
    assert not rules - exported, f"alert-rule metrics not on /metrics: {rules - exported}"
    # what the dashboard must show: traffic, latency, errors, canary/shadow, reloads, drift
    assert {"enet_requests_total", "enet_request_duration_seconds_bucket",
            "enet_validation_failures_total", "enet_rows_scored_total",
            "enet_shadow_divergence_bucket", "enet_shadow_failures_total",
            "enet_model_reload_failed", "enet_model_reloads_total", "enet_drift_psi",
            "enet_drift_prediction_psi", "enet_drift_missing_rate", "enet_drift_unseen_rate",
            "enet_drift_window_rows"} <= dashboard
    assert {"enet_request_duration_seconds_bucket", "enet_requests_total",
            "enet_model_reload_failed", "enet_drift_psi", "enet_drift_prediction_psi"} <= rules


def test_drift_alerts_use_the_monitor_defaults():
    th, rules = Thresholds(), _rules()

    def number(pattern: str, expr: str) -> float:
        m = re.search(pattern, expr)
        assert m, f"{pattern!r} not in {expr!r}"
        return float(m.group(1))

    drift = {"EnetInputDrift": (r"enet_drift_psi > ([\d.]+)", th.psi),
             "EnetPredictionDrift": (r"enet_drift_prediction_psi > ([\d.]+)", th.prediction_psi),
             "EnetMissingRateChange": (r"\) > ([\d.]+)", th.missing_rate_change),
             "EnetUnseenLevels": (r"enet_drift_unseen_rate > ([\d.]+)", th.unseen_rate)}
    for alert, (pattern, expected) in drift.items():
        expr = rules[alert]
        assert number(pattern, expr) == expected, alert
        assert number(r"enet_drift_window_rows >= (\d+)", expr) == th.min_rows, alert
        if alert != "EnetPredictionDrift":
            assert number(r"enet_drift_impact >= ([\d.]+)", expr) == th.min_impact, alert
    assert {"EnetServerErrors", "EnetHighLatencyP99", "EnetModelReloadFailed"} <= set(rules)


@pytest.mark.skipif(shutil.which("promtool") is None,
                    reason="promtool not installed (Debian package prometheus)")
def test_promtool_accepts_rules_tests_and_dashboard_queries(tmp_path):
    def promtool(*args) -> None:
        out = subprocess.run(["promtool", *args], capture_output=True, text=True,
                             cwd=RULES.parent)
        assert out.returncode == 0, out.stdout + out.stderr

    promtool("check", "rules", RULES.name)
    promtool("test", "rules", RULE_TESTS.name)
    # every dashboard query, with Grafana's variables filled in, as a recording rule
    queries = [q.replace("$__rate_interval", "5m").replace("$model", "shop")
               for q in _dashboard_queries()]
    doc = {"groups": [{"name": "dashboard", "rules": [
        {"record": f"dashboard:query_{i}", "expr": q} for i, q in enumerate(queries)]}]}
    path = tmp_path / "dashboard-queries.yml"
    path.write_text(yaml.safe_dump(doc))
    promtool("check", "rules", str(path))

"""The service's OpenAPI document against its snapshot (a changed API is a visible diff).

Regenerate after an intended change: ``ENET_UPDATE_SNAPSHOTS=1 pytest tests/test_serve_openapi.py``.
"""

from __future__ import annotations

import json
import os

import pytest

from serve_models import make_registry

pytest.importorskip("fastapi")
SNAPSHOT = os.path.join(os.path.dirname(__file__), "reference", "serve_openapi.json")


def test_openapi_matches_the_snapshot(tmp_path):
    from enet.serve import ServeSettings, create_app

    make_registry(tmp_path / "reg")
    settings = ServeSettings(model="shop@champion", registry=str(tmp_path / "reg"),
                             admin_token="t")
    doc = create_app(settings).openapi()
    text = json.dumps(doc, indent=1, sort_keys=True) + "\n"
    if os.environ.get("ENET_UPDATE_SNAPSHOTS"):
        with open(SNAPSHOT, "w") as fh:
            fh.write(text)
    with open(SNAPSHOT) as fh:
        assert json.loads(fh.read()) == doc
    paths = set(doc["paths"])
    assert {"/predict", "/v2/models/{name}/infer", "/v2/health/live", "/v2/health/ready",
            "/v2/models/{name}", "/metrics", "/admin/reload"} <= paths
    schemas = doc["components"]["schemas"]
    assert {"PredictRequest", "InferenceRequest", "PredictResponse", "InferenceResponse",
            "ErrorBody", "ModelMetadata"} <= set(schemas)

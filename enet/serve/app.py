"""The FastAPI application: HTTP in, data plane calls, HTTP out.

:func:`create_app` builds everything from injected settings, registry path and
Prometheus registry (nothing global), loads and verifies the models before the
first request, and starts the alias watcher with the application.
"""

from __future__ import annotations

import asyncio
import gc
import hmac
import logging
import os
import time
from contextlib import asynccontextmanager

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from pydantic import ValidationError
from starlette.background import BackgroundTask
from starlette.requests import ClientDisconnect

from enet.serve.dataplane import DataPlane, Scored
from enet.serve.deployments import Deployments, ModelSource, Reloader, load_deployment
from enet.serve.errors import (ClientClosed, InvalidInput, MalformedRequest, NotFound,
                               PayloadTooLarge, ServeError, Unauthorized)
from enet.serve.logs import ACCESS_LOGGER
from enet.serve.metrics import ServeMetrics
from enet.serve.schemas import (ErrorBody, InferenceRequest, InferenceResponse, ModelMetadata,
                                PredictRequest, PredictResponse, ReloadResponse, infer_columns,
                                predict_columns)
from enet.serve.settings import ServeSettings
from enet.serve.window import WindowSpec

__all__ = ["create_app", "app_from_environment"]

log = logging.getLogger("enet.serve")
_JSON = "application/json"
_ERRORS = {s: {"model": ErrorBody} for s in (400, 404, 413, 422, 503)}


def _json(data, status: int = 200, headers=None, background=None) -> Response:
    return Response(orjson.dumps(data, option=orjson.OPT_SERIALIZE_NUMPY), status,
                    headers=headers, media_type=_JSON, background=background)


def _error(exc: ServeError, request_id: str | None) -> Response:
    return _json({**exc.body(), "request_id": request_id}, exc.status)


class _AccessLog:
    """Pure ASGI middleware: request id, in-flight gauge, latency, one JSON log line."""

    def __init__(self, app, metrics: ServeMetrics, log_inputs: bool):
        self.app, self.metrics, self.log_inputs = app, metrics, log_inputs
        self.log = logging.getLogger(ACCESS_LOGGER)
        self._other = {}

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        t0 = time.perf_counter()
        request_id = None
        for k, v in scope["headers"]:
            if k == b"x-request-id":
                request_id = v.decode("latin-1")[:128]
                break
        request_id = request_id or os.urandom(8).hex()
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        status = [500]
        done = [False]
        metrics = self.metrics
        metrics.in_flight.inc()

        def finish() -> None:
            done[0] = True
            seconds = time.perf_counter() - t0
            metrics.in_flight.dec()
            info = state.get("enet")
            event = {"request_id": request_id, "method": scope["method"],
                     "path": scope["path"], "status": status[0],
                     "duration_ms": round(seconds * 1000, 3)}
            if info is not None:
                endpoint = info["endpoint"]
                route_metrics = info.get("metrics")
                if route_metrics is not None:
                    route_metrics.finished(endpoint, status[0], seconds)
                else:
                    self._count(endpoint, status[0], seconds)
                event.update(info["log"])
            else:
                self._count("other", status[0], seconds)
            self.log.info("request", extra={"event": event})

        async def send_with_id(message):
            if message["type"] == "http.response.start":
                status[0] = message["status"]
                message["headers"] = [*message.get("headers", ()),
                                      (b"x-request-id", request_id.encode("latin-1"))]
            elif message["type"] == "http.response.body" and not message.get("more_body") \
                    and not done[0]:
                finish()              # before any background task (the shadow) runs
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            if not done[0]:
                finish()

    def _count(self, endpoint: str, status: int, seconds: float) -> None:
        key = (endpoint, status)
        children = self._other.get(key)
        if children is None:
            m = self.metrics
            children = self._other[key] = (
                m.requests.labels(endpoint, "", "", "", str(status)),
                m.latency.labels(endpoint, "", "", ""))
        children[0].inc()
        children[1].observe(seconds)


async def _read_body(request: Request, limit: int) -> bytes:
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > limit:
        raise PayloadTooLarge(f"request: the body has {int(length):,} bytes; at most "
                              f"{limit:,} (send fewer rows per request)")
    chunks, size = [], 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise PayloadTooLarge(f"request: the body is larger than {limit:,} bytes "
                                      f"(send fewer rows per request)")
            chunks.append(chunk)
    except ClientDisconnect:
        raise ClientClosed(f"request: the client closed the connection after {size:,} bytes "
                           f"of the body") from None
    return b"".join(chunks)


def _parse(model_class, body: bytes):
    """The body as a pydantic model: 400 when it is not JSON, 422 when its shape is off."""
    try:
        return model_class.model_validate_json(body)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        if first["type"] == "json_invalid" or not body.strip():
            raise MalformedRequest(f"request: the body is not valid JSON "
                                   f"({first.get('ctx', {}).get('error', first['msg'])})") \
                from None
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise InvalidInput(f"request: {where}: {first['msg']}", kind="bad_shape") from None


def build_plane(settings: ServeSettings, metrics: ServeMetrics) -> tuple[DataPlane, Reloader]:
    """Load and verify the champion (and challenger or shadow) and wire the data plane."""
    sources = {"champion": ModelSource.parse(settings.model)}
    if settings.challenger:
        sources["challenger"] = ModelSource.parse(settings.challenger)
    if settings.shadow:
        sources["shadow"] = ModelSource.parse(settings.shadow)
    window = WindowSpec(settings.drift_window, settings.drift_slices) \
        if settings.drift_window > 0 else None
    deployments = Deployments({}, metrics)
    reloader = Reloader(sources, settings.registry, deployments, settings.strict, metrics,
                        window)
    registry = reloader.registry()
    for role, source in sources.items():
        version = source.current_version(registry)
        deployments.swap(load_deployment(role, source, registry, version, settings.strict,
                                         metrics, window))
    return DataPlane(settings, deployments), reloader


def create_app(settings: ServeSettings, metrics_registry: CollectorRegistry | None = None,
               plane: tuple[DataPlane, Reloader] | None = None) -> FastAPI:
    """The service application.

    Parameters
    ----------
    settings : ServeSettings
    metrics_registry : CollectorRegistry, optional
        Where the metrics live (a new one by default).
    plane : (DataPlane, Reloader), optional
        Prebuilt data plane (default: :func:`build_plane` loads the models now).

    Raises
    ------
    EnetError
        A model cannot be found, loaded or verified.
    """
    metrics = ServeMetrics(metrics_registry)
    data_plane, reloader = plane or build_plane(settings, metrics)
    metrics.watch_drift(data_plane.deployments)
    limit, max_rows = settings.max_body_bytes, settings.max_rows
    key_header = settings.request_key_header.lower()
    token = settings.admin_token
    log_inputs = settings.log_inputs

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        watcher = None
        if settings.poll_interval > 0 and any(s.watched for s in reloader.sources.values()):
            watcher = asyncio.create_task(reloader.watch(settings.poll_interval))
        log.info("serving", extra={"event": {
            "event": "serving", "deployments": [d.describe()
                                                for d in data_plane.deployments.roles.values()],
            "canary": data_plane.canary, "watch_seconds": settings.poll_interval}})
        # everything loaded so far (libraries, models) lives as long as the process: keep
        # it out of the collector's generations, so that a full collection does not stall
        # requests for milliseconds by tracing objects that can never be freed
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            if watcher is not None:
                watcher.cancel()

    app = FastAPI(title="enet scoring service", version="1", lifespan=lifespan,
                  description="Open Inference Protocol (KServe V2) and /predict for enet "
                              "models; Prometheus metrics on /metrics.")
    app.state.plane, app.state.reloader, app.state.metrics = data_plane, reloader, metrics

    @app.exception_handler(ServeError)
    async def _serve_error(request: Request, exc: ServeError):
        return _error(exc, request.scope.get("state", {}).get("request_id"))

    @app.exception_handler(ClientDisconnect)
    async def _client_gone(request: Request, exc: ClientDisconnect):
        # nobody reads this response; the 499 is for the access log and the metrics
        return _error(ClientClosed("request: the client closed the connection"),
                      request.scope.get("state", {}).get("request_id"))

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError):
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        return _error(InvalidInput(f"request: {where}: {first['msg']}", kind="bad_shape"),
                      request.scope.get("state", {}).get("request_id"))

    @app.exception_handler(Exception)
    async def _bug(request: Request, exc: Exception):
        log.error("internal error", exc_info=exc, extra={"event": {
            "event": "internal_error", "error": f"{exc.__class__.__name__}: {exc}",
            "path": request.url.path}})
        return _json({"error": "internal error; the server log has the details",
                      "kind": "internal", "request_id":
                      request.scope.get("state", {}).get("request_id")}, 500)

    async def score(request: Request, endpoint: str, model_class, to_columns, render,
                    name: str | None = None, version: str | None = None) -> Response:
        state = request.scope["state"]
        info = state["enet"] = {"endpoint": endpoint, "log": {}}
        try:
            if version is not None:
                dep = data_plane.check_model(name, version)
                route = "canary" if dep.role == "challenger" else "champion"
            else:
                dep, route = data_plane.choose(request.headers.get(key_header))
            info["metrics"] = dep.metrics
            body = await _read_body(request, limit)
            columns, n = to_columns(_parse(model_class, body), max_rows)
            scored = data_plane.predict(columns, n, dep, route)
        except ServeError as exc:
            if not isinstance(exc, ClientClosed):      # the client's choice, not its error
                metrics.validation_failures.labels(endpoint, exc.kind).inc()
            info["log"] = {"error": exc.message, "kind": exc.kind}
            if "metrics" in info:
                info["log"].update(model=dep.name, version=dep.version, route=route)
            return _error(exc, state["request_id"])
        d = scored.deployment
        info["log"] = {"model": d.name, "version": d.version, "route": route, "rows": n}
        if log_inputs:
            info["log"]["inputs"] = columns
        background = None
        if data_plane.deployments.get("shadow") is not None:
            background = BackgroundTask(data_plane.shadow, columns, n, scored)
        return _json(render(scored, state["request_id"]), background=background)

    def render_predict(s: Scored, request_id: str) -> dict:
        return {"model": s.deployment.name, "version": s.deployment.version, "route": s.route,
                "request_id": request_id, "predictions": s.predictions,
                "counts": s.counts.to_json()}

    def render_infer(s: Scored, request_id: str) -> dict:
        return {"model_name": s.deployment.name, "model_version": s.deployment.version,
                "id": request_id,
                "parameters": {"route": s.route, "counts": s.counts.to_json()},
                "outputs": [{"name": "prediction", "shape": [len(s.predictions)],
                             "datatype": "FP64", "data": s.predictions}]}

    body_doc = {"requestBody": {"required": True, "content": {_JSON: {"schema": {
        "$ref": "#/components/schemas/PredictRequest"}}}}}
    infer_doc = {"requestBody": {"required": True, "content": {_JSON: {"schema": {
        "$ref": "#/components/schemas/InferenceRequest"}}}}}

    @app.post("/predict", responses={200: {"model": PredictResponse}, **_ERRORS},
              openapi_extra=body_doc, summary="Score rows")
    async def predict(request: Request):
        return await score(request, "predict", PredictRequest, predict_columns, render_predict)

    @app.post("/v2/models/{name}/infer", responses={200: {"model": InferenceResponse},
                                                    **_ERRORS},
              openapi_extra=infer_doc, summary="Open Inference Protocol inference")
    async def infer(name: str, request: Request):
        request.scope["state"]["enet"] = {"endpoint": "infer", "log": {}}
        try:
            data_plane.check_model(name)
        except ServeError as exc:
            metrics.validation_failures.labels("infer", exc.kind).inc()
            return _error(exc, request.scope["state"]["request_id"])
        return await score(request, "infer", InferenceRequest, infer_columns, render_infer)

    @app.post("/v2/models/{name}/versions/{version}/infer",
              responses={200: {"model": InferenceResponse}, **_ERRORS},
              openapi_extra=infer_doc, summary="Inference on one served version")
    async def infer_version(name: str, version: str, request: Request):
        return await score(request, "infer", InferenceRequest, infer_columns, render_infer,
                           name, version)

    @app.get("/v2/health/live")
    async def live(request: Request):
        request.scope["state"]["enet"] = {"endpoint": "health", "log": {}}
        return _json({"live": True})

    @app.get("/v2/health/ready", responses={503: {"model": ErrorBody}})
    async def ready(request: Request):
        request.scope["state"]["enet"] = {"endpoint": "health", "log": {}}
        if not data_plane.ready():
            return _json({"ready": False}, 503)
        return _json({"ready": True})

    @app.get("/v2", summary="Server metadata")
    async def server_metadata():
        return _json({"name": "enet", "version": _enet_version(), "extensions": []})

    @app.get("/v2/models/{name}", responses={200: {"model": ModelMetadata}, 404: {
        "model": ErrorBody}})
    async def model_metadata(name: str, request: Request):
        request.scope["state"]["enet"] = {"endpoint": "metadata", "log": {}}
        return _json(data_plane.metadata(name))

    @app.get("/v2/models/{name}/versions/{version}",
             responses={200: {"model": ModelMetadata}, 404: {"model": ErrorBody}},
             summary="Metadata of one served version")
    async def version_metadata(name: str, version: str, request: Request):
        request.scope["state"]["enet"] = {"endpoint": "metadata", "log": {}}
        return _json(data_plane.metadata(name, version))

    @app.get("/v2/models/{name}/versions/{version}/ready",
             responses={404: {"model": ErrorBody}})
    async def version_ready(name: str, version: str, request: Request):
        request.scope["state"]["enet"] = {"endpoint": "metadata", "log": {}}
        dep = data_plane.check_model(name, version)
        return _json({"name": dep.name, "version": dep.version, "ready": True})

    @app.get("/v2/models/{name}/ready", responses={404: {"model": ErrorBody}})
    async def model_ready(name: str, request: Request):
        request.scope["state"]["enet"] = {"endpoint": "metadata", "log": {}}
        dep = data_plane.check_model(name)
        return _json({"name": dep.name, "ready": True})

    @app.get("/metrics", summary="Prometheus metrics")
    async def metrics_endpoint(request: Request):
        request.scope["state"]["enet"] = {"endpoint": "metrics", "log": {}}
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    if token:
        @app.post("/admin/reload", responses={200: {"model": ReloadResponse},
                                              401: {"model": ErrorBody}})
        async def admin_reload(request: Request):
            request.scope["state"]["enet"] = {"endpoint": "admin", "log": {}}
            given = request.headers.get("authorization", "")
            if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
                raise Unauthorized("admin: send 'Authorization: Bearer <ENET_ADMIN_TOKEN>'")
            results = await reloader.check(retry=True)
            status = 409 if any(r["status"] == "failed" for r in results.values()) else 200
            return _json({"results": results}, status)

    @app.api_route("/{path:path}", methods=["GET", "POST", "PUT", "DELETE", "PATCH"],
                   include_in_schema=False)
    async def not_found(path: str, request: Request):
        raise NotFound(f"no endpoint {request.method} /{path}; see /docs")

    _document_request_bodies(app, (PredictRequest, InferenceRequest))
    app.add_middleware(_AccessLog, metrics=metrics, log_inputs=log_inputs)
    return app


def _document_request_bodies(app: FastAPI, models) -> None:
    """Add the request models to the OpenAPI components (the scoring routes read the raw
    body themselves, to count its size and tell malformed JSON from a bad shape)."""
    build = app.openapi

    def openapi() -> dict:
        if app.openapi_schema is None:
            doc = build()
            schemas = doc.setdefault("components", {}).setdefault("schemas", {})
            for model in models:
                schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
                schemas.update(schema.pop("$defs", {}))
                schemas[model.__name__] = schema
            app.openapi_schema = doc
        return app.openapi_schema

    app.openapi = openapi


def _enet_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("enet")
    except PackageNotFoundError:
        return "unknown"


def app_from_environment() -> FastAPI:
    """The app of one ``--workers N`` worker process (settings in the environment)."""
    from enet.serve.logs import configure_logging

    configure_logging()
    return create_app(ServeSettings.from_environment())

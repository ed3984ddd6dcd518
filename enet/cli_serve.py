"""The ``serve`` command (registered on ``enet.cli.app``): the HTTP scoring service."""

from __future__ import annotations

import os
from typing import Annotated, Optional

import typer

from enet.cli import RegistryOpt, _fail, _user_errors, app

__all__ = ["serve"]


@app.command()
def serve(
    model: Annotated[str, typer.Option("--model", "-m", help="The champion: NAME@champion "
                                       "(followed when the alias moves), NAME/3 or a model "
                                       "directory.")],
    port: Annotated[int, typer.Option(help="TCP port (0: any free port).")] = 8080,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    workers: Annotated[int, typer.Option(help="Worker processes (each loads the models and "
                                         "keeps its own metrics).")] = 1,
    challenger: Annotated[Optional[str], typer.Option(
        help="Model for the canary share, e.g. NAME@challenger.")] = None,
    canary: Annotated[float, typer.Option(
        help="Share of requests for --challenger (by a hash of the X-Request-Key header "
             "when present, at random otherwise).")] = 0.0,
    shadow: Annotated[Optional[str], typer.Option(
        help="Model scored on every request after the response (never returned); its "
             "divergence from the champion goes to /metrics.")] = None,
    registry: RegistryOpt = None,
    max_body_bytes: Annotated[int, typer.Option(help="Larger request bodies get 413.")]
    = 1 << 20,
    max_rows: Annotated[int, typer.Option(help="Rows per request at most (422 beyond).")]
    = 10_000,
    poll_interval: Annotated[float, typer.Option(
        help="Seconds between checks of the registry aliases (0: do not watch).")] = 2.0,
    strict: Annotated[bool, typer.Option(help="Extra columns and unseen levels are 422 "
                                         "errors.")] = False,
    log_inputs: Annotated[bool, typer.Option(help="Write raw feature values to the access "
                                             "log (off: they are never logged).")] = False,
    request_key_header: Annotated[str, typer.Option(
        help="Header whose value routes a request deterministically.")] = "X-Request-Key",
    drift_window: Annotated[float, typer.Option(
        help="Seconds of traffic behind the drift gauges (enet_drift_*: PSI, missing and "
             "unseen rates per input, prediction PSI); 0: no drift tracking.")] = 600.0,
    drift_slices: Annotated[int, typer.Option(
        help="Steps the drift window advances in (it spans the last drift-window minus "
             "one step to drift-window seconds).")] = 10,
) -> None:
    """Serve a model over HTTP: Open Inference Protocol (KServe V2), /predict, /metrics.

    Admin endpoints (POST /admin/reload) need a bearer token in ENET_ADMIN_TOKEN; without
    it they are disabled.
    """
    from enet.serve.run import run

    with _user_errors():
        from pydantic import ValidationError

        from enet.serve.settings import TOKEN_ENV, ServeSettings
        try:
            settings = ServeSettings(
                model=model, registry=str(registry) if registry else None,
                challenger=challenger, canary=canary, shadow=shadow, host=host, port=port,
                workers=workers, max_body_bytes=max_body_bytes, max_rows=max_rows,
                poll_interval=poll_interval, admin_token=os.environ.get(TOKEN_ENV) or None,
                log_inputs=log_inputs, strict=strict, request_key_header=request_key_header,
                drift_window=drift_window, drift_slices=drift_slices)
        except ValidationError as exc:
            first = exc.errors(include_url=False)[0]
            where = ".".join(str(p) for p in first["loc"])
            _fail(f"{'--' + where.replace('_', '-') + ': ' if where else ''}"
                  f"{first['msg'].removeprefix('Value error, ')}")
        run(settings)



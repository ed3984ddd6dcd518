"""Run the service under uvicorn (one process, or ``workers`` processes)."""

from __future__ import annotations

import os

from enet.serve.settings import SETTINGS_ENV, TOKEN_ENV, ServeSettings

__all__ = ["run"]


def _fast_loop() -> dict:
    """uvloop and httptools when installed (uvicorn[standard]); asyncio and h11 otherwise."""
    options = {}
    try:
        import uvloop  # noqa: F401
        options["loop"] = "uvloop"
    except ImportError:
        options["loop"] = "asyncio"
    try:
        import httptools  # noqa: F401
        options["http"] = "httptools"
    except ImportError:
        options["http"] = "h11"
    return options


def run(settings: ServeSettings) -> None:
    """Load and verify the models, then serve until interrupted.

    Raises
    ------
    EnetError
        A model cannot be loaded or verified (before the port is opened).
    """
    import uvicorn

    from enet.serve.app import create_app
    from enet.serve.logs import configure_logging

    configure_logging()
    common = dict(host=settings.host, port=settings.port, access_log=False,
                  log_level="warning", timeout_graceful_shutdown=10, **_fast_loop())
    if settings.workers == 1:
        uvicorn.run(create_app(settings), **common)
        return
    create_app(settings)                      # fail here, once, if a model is bad
    os.environ[SETTINGS_ENV] = settings.to_environment()
    if settings.admin_token:
        os.environ[TOKEN_ENV] = settings.admin_token
    uvicorn.run("enet.serve.app:app_from_environment", factory=True,
                workers=settings.workers, **common)

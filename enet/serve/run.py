"""Run the service under uvicorn (one process, or ``workers`` processes)."""

from __future__ import annotations

import errno
import os
import socket

from enet.exceptions import UsageError
from enet.serve.settings import SETTINGS_ENV, TOKEN_ENV, ServeSettings

__all__ = ["run", "check_address"]


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


def check_address(host: str, port: int) -> None:
    """Raise UsageError unless ``host:port`` can be listened on (bound, then released),
    so that a taken port or an unknown host is one line and exit code 2, not uvicorn's
    log and exit code 3."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    except (socket.gaierror, UnicodeError) as exc:
        reason = getattr(exc, "strerror", None) or exc
        raise UsageError(f"--host {host}: cannot resolve it ({reason}); use an address "
                         f"of this machine such as 127.0.0.1 or 0.0.0.0") from None
    with socket.socket(family, kind, proto) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)     # as uvicorn does
        try:
            sock.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise UsageError(f"--port {port}: already in use on {host}; stop the other "
                                 f"server or choose another port (0: any free port)") from None
            raise UsageError(f"--host {host} --port {port}: cannot listen there "
                             f"({exc.strerror or exc})") from None


def run(settings: ServeSettings) -> None:
    """Load and verify the models, then serve until interrupted.

    Raises
    ------
    EnetError
        The address cannot be listened on, or a model cannot be loaded or verified
        (before the port is opened).
    """
    import uvicorn

    from enet.serve.app import create_app
    from enet.serve.logs import configure_logging

    check_address(settings.host, settings.port)
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

"""The HTTP scoring service: Open Inference Protocol (KServe V2) and ``/predict``.

Built like MLServer: :func:`~enet.serve.app.create_app` assembles a FastAPI
application from injected settings, registry and Prometheus registry; routes
only translate HTTP (:mod:`enet.serve.app`); the data plane routes requests to
the champion, a canary or a shadow and scores them (:mod:`enet.serve.dataplane`);
deployments are loaded, verified and swapped atomically on reload
(:mod:`enet.serve.deployments`); one exception hierarchy maps to status codes
(:mod:`enet.serve.errors`).
"""

from enet.serve.settings import ServeSettings

__all__ = ["ServeSettings", "create_app"]


def create_app(*args, **kwargs):
    """See :func:`enet.serve.app.create_app` (imported lazily: FastAPI is an extra)."""
    from enet.serve.app import create_app as _create_app
    return _create_app(*args, **kwargs)

"""One BLAS thread while a compiled solver runs.

The kernels call LAPACK on small blocks (Cholesky of a support's Gram, least squares for
extrapolation weights). With the default thread pool every such call wakes all BLAS
threads; when the caller runs several paths in parallel threads (cross-validation) those
pools contend for the same cores and a path can take a hundred times longer. The limit is
process-wide (BLAS has no per-thread setting), so it is reference counted: set when the
first solver starts, restored when the last one ends.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager

from threadpoolctl import ThreadpoolController

_lock = threading.Lock()
_users = 0
_limiter = None
_controller: ThreadpoolController | None = None     # library discovery is done once


@contextmanager
def one_blas_thread():
    """Context in which BLAS uses one thread (nested and concurrent uses are counted)."""
    global _users, _limiter, _controller
    with _lock:
        if _users == 0:
            if _controller is None:
                _controller = ThreadpoolController()
            _limiter = _controller.limit(limits=1, user_api="blas")
        _users += 1
    try:
        yield
    finally:
        with _lock:
            _users -= 1
            if _users == 0:
                _limiter.restore_original_limits()
                _limiter = None

"""The Dask engine: pieces mapped over a dask.distributed cluster, partial results
tree-reduced on the workers, the (small) total gathered by the client.

A worker that dies mid-job loses its tasks and their results; the scheduler runs
them again elsewhere from the same inputs, and since every piece's function is
deterministic and the reduction tree is fixed, the result is the same.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from typing import Any

from enet.exceptions import EngineError

__all__ = ["DaskEngine", "connect"]

CONNECT_TIMEOUT = 10.0


def connect(address: str, timeout: float = CONNECT_TIMEOUT):
    """A ``distributed.Client`` for the scheduler at ``address``.

    Raises
    ------
    EngineError
        dask.distributed is not installed, or no scheduler answers within ``timeout``.
    """
    try:
        from distributed import Client
    except ImportError:
        raise EngineError("the Dask engine needs dask.distributed: pip install "
                          "'enet[dask]'") from None
    try:
        return Client(address, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__
        raise EngineError(f"cannot reach the Dask scheduler at {address} within "
                          f"{timeout:g} s ({reason}); check --scheduler and that the "
                          f"scheduler is running") from None


class DaskEngine:
    """Map and tree-reduce on a dask.distributed cluster.

    Parameters
    ----------
    client : distributed.Client
        The caller keeps ownership (the engine never closes it).
    """

    name = "dask"

    def __init__(self, client):
        self.client = client

    def _compute(self, fn: Callable[[Any], Any], items: Sequence[Any], stage: str) -> list:
        import dask

        tag = uuid.uuid4().hex[:12]
        tasks = [dask.delayed(fn, pure=False)(item, dask_key_name=f"enet-{stage}-{tag}-{i}")
                 for i, item in enumerate(items)]
        return self.client.compute(tasks)

    def map_reduce(self, fn: Callable[[Any], Any], items: Sequence[Any],
                   combine: Callable[[Any, Any], Any],
                   describe: Callable[[Any], Any] | None = None) -> tuple[Any, list]:
        """``fn`` over ``items`` (which may hold Dask partitions), combined on the
        workers by :func:`enet.engines.tree_reduce`'s tree.

        Returns
        -------
        (combined result, [describe(result) for each item] or [])
        """
        client = self.client
        level = self._compute(fn, items, "map")
        described = client.gather(client.map(describe, level, pure=False)) if describe else []
        while len(level) > 1:
            nxt = [client.submit(combine, level[i], level[i + 1], pure=False)
                   for i in range(0, len(level) - 1, 2)]
            if len(level) % 2:
                nxt.append(level[-1])
            level = nxt
        return client.gather(level[0]), described

    def map(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> list:
        """``fn`` over ``items``, results gathered in item order."""
        return self.client.gather(self._compute(fn, items, "map"))

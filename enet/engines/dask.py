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

CONNECT_TIMEOUT = 5.0
# schemes whose location is HOST:PORT (the others, e.g. inproc://, are passed as they are)
_HOST_PORT_SCHEMES = ("tcp", "tls", "ws", "wss", "ucx")


def _check_address(address: str) -> None:
    """The address must be ``[scheme://]host:port``, before anything is started for it."""
    from distributed.comm.addressing import parse_address, parse_host_port

    scheme, location = parse_address(address)
    problem = None
    if scheme not in _HOST_PORT_SCHEMES + ("inproc",):
        problem = f"unknown scheme {scheme!r}"
    elif scheme in _HOST_PORT_SCHEMES:
        try:
            host, _ = parse_host_port(location)
        except ValueError as exc:
            problem = str(exc)
        else:
            problem = None if host else "no host"
    if problem:
        raise EngineError(f"--scheduler {address!r} is not a Dask scheduler address "
                          f"({problem}); expected tcp://HOST:PORT, e.g. "
                          f"tcp://10.0.0.5:8786")


def _probe(address: str, timeout: float) -> None:
    """Open one comm to ``address`` and close it, in a private event loop.

    Done before a ``Client`` exists: a Client whose constructor fails half-way (a
    service that is not a Dask scheduler answers, say) is left in a state whose
    ``__del__`` blocks for twice the timeout and prints a traceback.
    """
    import asyncio

    from distributed.comm import connect as open_comm

    async def round_trip():
        comm = await open_comm(address, timeout=timeout)
        await comm.close()

    try:        # connect's own timeout does not cover the handshake's reply
        asyncio.run(asyncio.wait_for(round_trip(), timeout))
    except Exception as exc:    # refused, timed out, or not speaking Dask's protocol
        if isinstance(exc, MemoryError):    # a length prefix read from a non-Dask reply
            raise EngineError(f"{address} answered, but not as a Dask scheduler; check "
                              f"--scheduler (the scheduler's port, 8786 by default, not "
                              f"its dashboard's)") from None
        text = str(exc).strip()
        reason = text.splitlines()[0] if text else "no Dask handshake came back"
        raise EngineError(f"cannot reach the Dask scheduler at {address} within "
                          f"{timeout:g} s ({reason}); check --scheduler and that the "
                          f"scheduler is running") from None


def connect(address: str, timeout: float = CONNECT_TIMEOUT):
    """A ``distributed.Client`` for the scheduler at ``address``.

    Raises
    ------
    EngineError
        dask.distributed is not installed, the address is malformed, or no Dask
        scheduler answers within ``timeout``.
    """
    try:
        from distributed import Client
    except ImportError:
        raise EngineError("the Dask engine needs dask.distributed: pip install "
                          "'enet[dask]'") from None
    _check_address(address)
    _probe(address, timeout)
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

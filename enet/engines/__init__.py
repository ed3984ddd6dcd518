"""Engines: where the per-chunk functions of training and scoring run.

An engine applies a function to every piece of a table (a Parquet file or row
group, a Dask partition, a Spark partition) and reduces the partial results with
``+`` in a fixed binary tree over the pieces' order, so the result does not
depend on which worker ran what, or on a task being run again after a worker
died. The solver always runs on the client.

* :class:`~enet.engines.local.LocalEngine` runs the pieces one after another;
* :class:`~enet.engines.dask.DaskEngine` maps them over a dask.distributed cluster;
* :class:`~enet.engines.spark.SparkEngine` maps them over Spark executors
  (``mapPartitions`` for pieces, ``mapInPandas`` for a Spark DataFrame).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["tree_reduce", "ENGINES"]

ENGINES = ("local", "dask", "spark")


def tree_reduce(parts: Sequence[Any], combine: Callable[[Any, Any], Any]) -> Any:
    """Combine ``parts`` pairwise, neighbours first (``((p0+p1)+(p2+p3))+p4``...).

    The same tree for the same number of parts, whoever computed them: every
    engine adds the partial statistics in exactly this order.
    """
    level = list(parts)
    if not level:
        raise ValueError("nothing to reduce")
    while len(level) > 1:
        nxt = [combine(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0]

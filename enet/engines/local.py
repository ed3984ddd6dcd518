"""The local engine: the pieces of a table one after another, in this process."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from enet.engines import tree_reduce

__all__ = ["LocalEngine"]


class LocalEngine:
    """Runs every piece in the calling process (the reference for the other engines)."""

    name = "local"

    def map_reduce(self, fn: Callable[[Any], Any], items: Sequence[Any],
                   combine: Callable[[Any, Any], Any],
                   describe: Callable[[Any], Any] | None = None) -> tuple[Any, list]:
        """``fn`` over ``items``, reduced by :func:`enet.engines.tree_reduce`.

        Returns
        -------
        (combined result, [describe(result) for each item] or [])
        """
        results = [fn(item) for item in items]
        described = [describe(r) for r in results] if describe else []
        return tree_reduce(results, combine), described

    def map(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> list:
        """``fn`` over ``items``, results in item order."""
        return [fn(item) for item in items]

"""Numerical core: sufficient statistics, coordinate-descent solvers, paths and CV.

Arrays in, arrays out; nothing here knows about files, pandas, the CLI or HTTP.
"""

from enet.core.path import Certificate, PathResult, enet_path, path_from_stats
from enet.core.stats import FoldAccumulator, SufficientStats

__all__ = ["Certificate", "PathResult", "enet_path", "path_from_stats", "FoldAccumulator",
           "SufficientStats"]

"""The Spark engine: pieces mapped over Spark executors (``mapPartitions`` on one
piece per partition, or ``mapInPandas`` over a Spark DataFrame's partitions);
partial results are collected and tree-reduced on the driver in partition order.

A failed task is retried by Spark from the same input; the pieces' functions are
deterministic and the reduction tree fixed, so the result does not change.
Errors about the data raised in a task come back as the same one-line message.
"""

from __future__ import annotations

import os
import pickle
import re
import socket
import sys
import warnings
from collections.abc import Callable, Iterator, Sequence
from functools import partial
from typing import Any
from urllib.parse import urlsplit

from enet.engines import tree_reduce
from enet.exceptions import EnetError, EngineError

__all__ = ["SparkEngine", "session", "DEFAULT_MASTER"]

DEFAULT_MASTER = "local[2]"
CONNECT_TIMEOUT = 10.0
# pyspark 4 warns on every pandas conversion under pandas >= 3. What enet runs through
# pandas on Spark (mapInPandas batches read as Arrow tables, a partition id, a pickled
# result) is checked against the local engine in tests/test_scale_spark.py under
# pandas 3, so the warning says nothing about enet's results.
warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas",
                        category=FutureWarning)
_LOG_CONFIG = os.path.join(os.path.dirname(__file__), "spark-log4j2.properties")
# the master URLs Spark accepts (SparkContext.createTaskScheduler, spark-submit)
_MASTER = re.compile(r"local(\[(\d+|\*)(,\d+)?\])?|local-cluster\[\d+,\d+,\d+\]"
                     r"|spark://[^,/\s]+:\d+(,[^,/\s]+:\d+)*|yarn|k8s://\S+")
MASTER_FORMS = ("local, local[N], local[*], local[N,F], spark://HOST:PORT[,HOST:PORT], "
                "yarn or k8s://HOST:PORT")


def _spark_major() -> int:
    from pyspark import __version__
    return int(__version__.split(".")[0])


def check_master(master: str) -> None:
    """Raise EngineError unless ``master`` has the form of a Spark master URL (checked
    before a JVM is started: Spark's own complaint comes inside a Java stack trace)."""
    if master.startswith("mesos://") and _spark_major() < 4:     # removed in Spark 4
        return
    if not _MASTER.fullmatch(master):
        raise EngineError(f"--spark-master {master!r} is not a Spark master URL; expected "
                          f"{MASTER_FORMS}")


def _check_reachable(master: str, timeout: float) -> None:
    """A standalone master (spark://host:port[,host:port]) must accept a connection;
    Spark itself would retry for minutes before giving up."""
    hosts = master[len("spark://"):].split(",")
    reasons = []
    for hostport in hosts:
        parts = urlsplit("//" + hostport)
        try:
            with socket.create_connection((parts.hostname, parts.port or 7077), timeout):
                return
        except OSError as exc:
            reasons.append(f"{hostport}: {exc.strerror or exc}")
    raise EngineError(f"cannot reach the Spark master {master} within {timeout:g} s "
                      f"({'; '.join(reasons)}); check --spark-master and that the master "
                      f"is running")


def session(master: str = DEFAULT_MASTER, timeout: float = CONNECT_TIMEOUT):
    """A SparkSession for ``master`` (``local[N]``, ``spark://host:port``, ``yarn``...).

    An active session (a notebook's, a managed platform's) is reused as it is.

    Raises
    ------
    EngineError
        pyspark is not installed, or the master does not answer within ``timeout``.
    """
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise EngineError("the Spark engine needs pyspark: pip install 'enet[spark]'") from None
    check_master(master)
    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    if master.startswith("spark://"):
        _check_reachable(master, timeout)
    if master.startswith("local"):
        # executors of a local master run this Python (and see this PYTHONPATH)
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    try:
        return (SparkSession.builder.master(master).appName("enet")
                .config("spark.ui.enabled", "false")
                .config("spark.sql.execution.arrow.pyspark.enabled", "true")
                .config("spark.sql.shuffle.partitions", "8")
                # a quiet console: no stage progress bars, no JVM start-up banner or
                # INFO/WARN lines (errors still reach stderr)
                .config("spark.ui.showConsoleProgress", "false")
                .config("spark.driver.extraJavaOptions",
                        f"-Dlog4j.configurationFile=file:{_LOG_CONFIG}")
                .getOrCreate())
    except Exception as exc:        # the JVM's errors are not Python exception classes
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise EngineError(f"cannot start Spark with master {master}: {first}") from None


def _guarded(fn: Callable[[Any], Any], item: Any) -> tuple[str, Any]:
    """Run ``fn`` in a task; an expected error travels back as its class and message
    (Spark would otherwise wrap it in a Java stack trace)."""
    try:
        return "ok", fn(item)
    except EnetError as exc:
        return "error", (type(exc), str(exc))


def _unwrap(status: str, payload: Any) -> Any:
    if status == "error":
        cls, message = payload
        raise cls(message)
    return payload


def _frame_task(fn: Callable[[Any], Any], frames: Iterator) -> Iterator:
    """A ``mapInPandas`` function: one output row (partition id, pickled result)."""
    import pandas as pd
    from pyspark import TaskContext

    pid = TaskContext.get().partitionId()
    status, payload = _guarded(fn, (pid, frames))
    yield pd.DataFrame({"part": [pid], "status": [status],
                        "payload": [pickle.dumps(payload, protocol=5)]})


class SparkEngine:
    """Map and reduce on Spark.

    Parameters
    ----------
    spark : pyspark.sql.SparkSession
        The caller keeps ownership (the engine never stops it).
    """

    name = "spark"

    def __init__(self, spark):
        self.spark = spark

    def map(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> list:
        """``fn`` over ``items``, one Spark partition each, results in item order."""
        if not items:
            return []
        rdd = self.spark.sparkContext.parallelize(list(items), len(items))
        return [_unwrap(*r) for r in rdd.map(partial(_guarded, fn)).collect()]

    def map_reduce(self, fn: Callable[[Any], Any], items: Sequence[Any],
                   combine: Callable[[Any, Any], Any],
                   describe: Callable[[Any], Any] | None = None) -> tuple[Any, list]:
        """``fn`` over ``items``, reduced on the driver in :func:`tree_reduce`'s tree."""
        results = self.map(fn, items)
        return tree_reduce(results, combine), [describe(r) for r in results] if describe \
            else []

    def map_frames(self, fn: Callable[[Any], Any], frame) -> list:
        """``fn((partition id, iterator of pandas DataFrames))`` on every partition of
        a Spark DataFrame, via ``mapInPandas``; results in partition order (a
        partition Spark skips gives None)."""
        rows = frame.mapInPandas(partial(_frame_task, fn),
                                 "part long, status string, payload binary").collect()
        out: list = [None] * frame.rdd.getNumPartitions()
        for row in rows:
            out[row.part] = _unwrap(row.status, pickle.loads(row.payload))
        return out

"""JSON log lines: one per request (access log) and one per service event.

A record's ``event`` dict (passed as ``extra={"event": {...}}``) is the line;
raw feature values appear only when the service runs with ``--log-inputs``.
"""

from __future__ import annotations

import logging
import sys
import time

import orjson

__all__ = ["JsonFormatter", "configure_logging", "ACCESS_LOGGER"]

ACCESS_LOGGER = "enet.serve.access"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        event = getattr(record, "event", None) or {"message": record.getMessage()}
        line = {"time": _iso(record.created), "level": record.levelname.lower(),
                "logger": record.name, **event}
        return orjson.dumps(line, default=str).decode()


def _iso(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1000):03d}Z"


def configure_logging(stream=None, level: int = logging.INFO) -> None:
    """JSON lines on ``stream`` (stderr) for the service's loggers, not propagated."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    for name in ("enet.serve", ACCESS_LOGGER):
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.setLevel(level)
        logger.propagate = False

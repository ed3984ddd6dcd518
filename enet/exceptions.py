"""Exceptions and warnings raised by enet.

``EnetError`` subclasses carry the exit code (CLI) and HTTP status their layer
maps them to; their message is one line that names the offending column, row
or value and says what to do.
"""

from __future__ import annotations

from sklearn.exceptions import ConvergenceWarning as _SklearnConvergenceWarning

__all__ = ["ConvergenceWarning", "EnetError", "DataError", "ModelError", "UsageError",
           "EngineError"]


class ConvergenceWarning(_SklearnConvergenceWarning):
    """The solver stopped before its duality-gap tolerance was reached."""


class EnetError(Exception):
    """Base of every error caused by input, files or usage (never a bug)."""

    exit_code = 2
    http_status = 400


class UsageError(EnetError, ValueError):
    """An option or parameter value is not allowed."""


class DataError(EnetError, ValueError):
    """Input data cannot be used: missing column, non-numeric value, NaN, too few rows.

    Scoring errors also say where, for field-level HTTP errors and metrics:
    ``kind`` (e.g. "missing_column", "not_a_number", "infinite"), ``column``,
    ``row`` (1-based) and ``value`` when known.
    """

    http_status = 422

    def __init__(self, message: str, *, kind: str = "invalid", column: str | None = None,
                 row: int | None = None, value=None):
        super().__init__(message)
        self.kind, self.column, self.row, self.value = kind, column, row, value


class ModelError(EnetError):
    """A model artifact is missing, corrupt, tampered with or of an unknown format."""

    http_status = 404


class EngineError(EnetError):
    """A cluster engine cannot be used: the scheduler or master is unreachable, or a
    package it needs is not installed."""

    http_status = 503

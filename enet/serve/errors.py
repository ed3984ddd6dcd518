"""One exception hierarchy for the service; each class carries its HTTP status.

Anything a client sends that cannot be scored ends as one of these (a 4xx with
a JSON body naming the field, row and value); :class:`enet.exceptions.DataError`
from the shared validation maps to :class:`InvalidInput`.
"""

from __future__ import annotations

from enet.exceptions import DataError, EnetError

__all__ = ["ServeError", "MalformedRequest", "InvalidInput", "PayloadTooLarge", "NotFound",
           "Unauthorized", "ReloadFailed", "NotReady", "ClientClosed", "from_enet_error"]


class ServeError(Exception):
    """Base: ``status`` (HTTP), ``kind`` (metrics label) and the fields it names."""

    status = 400
    kind = "bad_request"

    def __init__(self, message: str, *, kind: str | None = None, column: str | None = None,
                 row: int | None = None, value=None):
        super().__init__(message)
        self.message = message
        if kind:
            self.kind = kind
        self.column, self.row, self.value = column, row, value

    def body(self) -> dict:
        detail = {"error": self.message, "kind": self.kind}
        for key in ("column", "row", "value"):
            if getattr(self, key) is not None:
                detail[key] = getattr(self, key)
        return detail


class MalformedRequest(ServeError):
    """The body is not JSON, or not the shape of any request this service takes."""

    status, kind = 400, "malformed_json"


class InvalidInput(ServeError):
    """Well-formed, but a column, row or value cannot be scored (field-level)."""

    status, kind = 422, "invalid"


class PayloadTooLarge(ServeError):
    status, kind = 413, "body_too_large"


class NotFound(ServeError):
    status, kind = 404, "not_found"


class Unauthorized(ServeError):
    status, kind = 401, "unauthorized"


class ReloadFailed(ServeError):
    """A new model version failed to load or verify; the old one keeps serving."""

    status, kind = 409, "reload_failed"


class NotReady(ServeError):
    status, kind = 503, "not_ready"


class ClientClosed(ServeError):
    """The client closed the connection before it sent the whole request body.

    Recorded as status 499 (nginx's "client closed request"): no response reaches
    the client, and it is neither a server error nor a validation failure.
    """

    status, kind = 499, "client_closed"


def from_enet_error(exc: EnetError) -> ServeError:
    """The service error for a library error (validation, model, usage)."""
    if isinstance(exc, DataError):
        return InvalidInput(str(exc), kind=exc.kind, column=exc.column, row=exc.row,
                            value=_jsonable(exc.value))
    return InvalidInput(str(exc), kind="invalid")


def _jsonable(value):
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        return value if value == value and abs(value) != float("inf") else str(value)
    return repr(value)

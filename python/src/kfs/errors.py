"""Errors of the kfs client. Every one carries kfs's error code: the ``code`` of the server's
error body (core/error-codes.ts and the HTTP codes of serving/openapi/error-codes.ts), the code a
failing ``kfs training-set --json`` prints, or one of the client's own: ``USAGE`` (the CLI refused
its arguments, exit 2), ``UNREACHABLE`` (no answer from the server, none in time, or one cut
short), ``BAD_RESPONSE`` (a 2xx answer that is not what kfs answers: not JSON — a proxy's page —,
not a feature answer, a value its feature's type cannot hold), ``HTTP_ERROR`` (an error status
without kfs's error body), ``CLI_NOT_FOUND``.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional


class KfsError(Exception):
    """A failure reported by kfs: ``code`` is kfs's error code, ``details`` the context it gave
    (the view, join key, field or limit at fault), ``status`` the HTTP status when there was one,
    ``error_id`` the id of the server's log line for a 5xx."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        status: Optional[int] = None,
        details: Optional[Mapping[str, Any]] = None,
        error_id: Optional[str] = None,
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status
        self.details: Mapping[str, Any] = dict(details or {})
        self.error_id = error_id


class BadRequestError(KfsError):
    """HTTP 400, or a bad label file (BAD_REQUEST); also a request the server does not take as
    sent — 405 METHOD_NOT_ALLOWED, 426 UPGRADE_REQUIRED, 431 HEADERS_TOO_LARGE."""


class UnauthorizedError(KfsError):
    """HTTP 401: no or an unknown API key."""


class NotFoundError(KfsError):
    """HTTP 404: an unknown view, feature or service."""


class TooLargeError(KfsError):
    """HTTP 413: the body is over the server's size limit (PAYLOAD_TOO_LARGE) or the request needs
    more lookups than it allows (BATCH_TOO_LARGE); split the request."""


class ServerError(KfsError):
    """HTTP 5xx: the server or a definition failed (INTERNAL, REQUEST_FEATURE_FAILED, TIMEOUT…)."""


class UnavailableError(ServerError):
    """HTTP 503: the online store is down or the server is shutting down; retrying may help."""


class RequestTimeoutError(ServerError):
    """The request timed out on the server — 504 TIMEOUT (its work took too long) or 408
    REQUEST_TIMEOUT (its body did not arrive in time); retrying may help."""


class UsageError(KfsError):
    """The kfs CLI refused its arguments (exit 2): a service, feature or column that names nothing."""


_BY_STATUS = {
    400: BadRequestError,
    401: UnauthorizedError,
    404: NotFoundError,
    405: BadRequestError,
    408: RequestTimeoutError,
    413: TooLargeError,
    426: BadRequestError,
    431: BadRequestError,
    503: UnavailableError,
    504: RequestTimeoutError,
}
_BY_CODE = {"BAD_REQUEST": BadRequestError, "NOT_FOUND": NotFoundError}


def error_for_code(code: str, message: str, *, details: Optional[Mapping[str, Any]] = None) -> KfsError:
    """The exception for a failure the CLI reported (no HTTP status)."""
    return _BY_CODE.get(code, KfsError)(code, message, details=details)


def error_for(status: int, body: Any, *, text: str = "") -> KfsError:
    """The exception for an HTTP error answer (``{"error": {"code", "message", …}}``). An answer
    without kfs's error body — a proxy's page, a cut body — is HTTP_ERROR with the start of the
    page (``text``) in its message: the code is kfs's only when kfs sent one."""
    cls = _BY_STATUS.get(status, ServerError if status >= 500 else KfsError)
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict) or not isinstance(error.get("code"), str):
        return cls("HTTP_ERROR", f"HTTP {status}" + (f": {text}" if text else ""), status=status)
    details = {k: v for k, v in error.items() if k not in ("code", "message", "errorId")}
    error_id = error.get("errorId")
    return cls(
        error["code"],
        str(error.get("message", f"HTTP {status}")),
        status=status,
        details=details,
        error_id=error_id if isinstance(error_id, str) else None,
    )

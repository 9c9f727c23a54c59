"""One JSON error shape for the whole API, and the domain exceptions that map onto it.

Every error body is ``{"status", "code", "message"}`` plus, where they apply, ``"rule"``
(the policy rule a request broke, e.g. ``"001 §15"``) and ``"errors"`` (per-field messages,
keyed by location then field, as webargs reports them).
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, current_app, g, jsonify
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException, InternalServerError

log = logging.getLogger(__name__)

# What a client is told to wait when the database is away (a restart, a fail-over).
RETRY_AFTER_SECONDS = 5


class DomainError(Exception):
    """Base of every error a service raises on purpose; the API turns it into JSON."""

    status = 400
    code = "bad_request"
    # True where the work done before the error must still be committed (see db.py).
    keep_changes = False

    def __init__(
        self,
        message: str,
        *,
        rule: str | None = None,
        field: str | None = None,
        errors: dict[str, Any] | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        # A finer code than the class's, where a client acts on the difference.
        self.code = code or type(self).code
        self.rule = rule
        # Same nesting as webargs' validation errors: location, then field.
        self.errors = (
            errors if errors is not None else ({"json": {field: [message]}} if field else None)
        )


class RuleViolation(DomainError):
    """A request is well-formed but breaks a rule of the domain (a policy document's rule)."""

    status = 422
    code = "rule_violation"


class InvalidInput(DomainError):
    status = 422
    code = "validation_error"


class NotFound(DomainError):
    """Also what an object outside the caller's scope looks like: its existence is not leaked."""

    status = 404
    code = "not_found"


class Conflict(DomainError):
    status = 409
    code = "conflict"


class AuthenticationFailed(DomainError):
    status = 401
    code = "unauthenticated"


class PermissionDenied(DomainError):
    """The caller's role may never do this (scope misses are NotFound, not this)."""

    status = 403
    code = "forbidden"


class Unavailable(DomainError):
    """A dependency is away for now (the database restarting). The request's transaction
    was rolled back — unless the connection broke during the COMMIT itself, when nobody
    knows — so the client sends the same request again after ``retry_after`` seconds
    (writes carry the client's own ids: a repeat is recognised, not applied twice)."""

    status = 503
    code = "unavailable"

    def __init__(self, message: str, *, retry_after: int = RETRY_AFTER_SECONDS) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def database_unavailable(error: BaseException) -> bool:
    """Whether ``error``, or an error that caused it, is the database being unreachable:
    refused or lost connections, a server shutting down or recovering, an exhausted pool.

    Every ``OperationalError`` counts: the DB-API puts there what is about the database's
    operation rather than the request (also deadlocks and serialization failures, which a
    retry resolves too).
    """
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OperationalError | InterfaceError | PoolTimeout):
            return True
        if isinstance(current, DBAPIError) and current.connection_invalidated:
            return True
        if isinstance(current, InternalServerError) and current.original_exception is not None:
            current = current.original_exception
            continue
        current = current.__cause__  # explicit chains only ("raise … from …")
    return False


def error_body(
    status: int,
    code: str,
    message: str,
    *,
    rule: str | None = None,
    errors: dict[str, Any] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {"status": status, "code": code, "message": message}
    if rule:
        body["rule"] = rule
    if errors:
        body["errors"] = errors
    return body


def _slug(name: str) -> str:
    return name.lower().replace(" ", "_").replace("-", "_").replace("'", "")


def _describe_field_errors(errors: dict[str, Any]) -> str:
    parts: list[str] = []
    for location, fields in errors.items():
        if isinstance(fields, dict):
            for name, messages in fields.items():
                text = messages[0] if isinstance(messages, list) and messages else messages
                if isinstance(text, dict):
                    text = "invalid entries"
                parts.append(
                    f"{name}: {text}"
                    if location in {"json", "form"}
                    else f"{location}.{name}: {text}"
                )
        elif isinstance(fields, list):
            parts.append(f"{location}: {' '.join(str(f) for f in fields)}")
        else:
            parts.append(f"{location}: {fields}")
    return "Invalid input — " + "; ".join(parts) if parts else "Invalid input"


def http_error_response(error: HTTPException) -> Response:
    # A failed commit after the view reaches here as Flask's InternalServerError (through
    # flask-smorest's HTTPException handler, or ours below).
    if database_unavailable(error):
        return unavailable_response(error)
    status = error.code or 500
    data: dict[str, Any] = getattr(error, "data", None) or {}
    errors = data.get("messages")
    if status in (400, 422) and errors:
        code = "validation_error" if status == 422 else "bad_request"
        body = error_body(status, code, _describe_field_errors(errors), errors=errors)
    elif status == 413:
        limit = current_app.config.get("MAX_CONTENT_LENGTH")
        body = error_body(413, "payload_too_large", f"Request body over the limit of {limit} bytes")
    else:
        message = data.get("message") or error.description or error.name
        body = error_body(status, _slug(error.name), str(message), errors=errors)
    response = jsonify(body)
    response.status_code = status
    for name, value in error.get_headers():
        if name.lower() != "content-type":
            response.headers[name] = value
    return response


def unavailable_response(error: BaseException) -> Response:
    """503 ``unavailable`` with Retry-After, for an error :func:`database_unavailable` names."""
    log.warning("database unavailable: %s", _first_line(error))
    return domain_error_response(
        Unavailable("The database is unavailable for the moment; retry later.")
    )


KEEP_CHANGES_FLAG = "keep_changes_despite_error"


def domain_error_response(error: DomainError) -> Response:
    if error.keep_changes:
        g.setdefault(KEEP_CHANGES_FLAG, True)
    response = jsonify(
        error_body(error.status, error.code, error.message, rule=error.rule, errors=error.errors)
    )
    response.status_code = error.status
    if error.status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="ucomm"'
    retry_after = getattr(error, "retry_after", None)
    if retry_after:
        response.headers["Retry-After"] = str(retry_after)
    return response


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(DomainError, domain_error_response)

    @app.errorhandler(IntegrityError)
    def _integrity(error: IntegrityError) -> Response:
        # Reached only when a constraint catches what a service check did not (a race):
        # the database is the guard, and the client gets a clear conflict, never a 500.
        response = jsonify(
            error_body(409, "conflict", "The change conflicts with data stored meanwhile; retry.")
        )
        response.status_code = 409
        return response

    @app.errorhandler(DataError)
    def _data(error: DataError) -> Response:
        # The last line of defence behind validation: a value the database refuses (out
        # of range, a NUL character) is the client's input, so it is a 422, not a 500.
        response = jsonify(
            error_body(
                422,
                "unstorable_value",
                "A value could not be stored: out of range, or with characters such as NUL",
            )
        )
        response.status_code = 422
        return response

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> Response:
        if database_unavailable(error):
            return unavailable_response(error)
        if isinstance(error, HTTPException):
            return http_error_response(error)
        app.logger.exception("unhandled error", exc_info=error)
        response = jsonify(error_body(500, "internal_error", "Internal server error"))
        response.status_code = 500
        return response


def _first_line(error: BaseException) -> str:
    if isinstance(error, InternalServerError) and error.original_exception is not None:
        error = error.original_exception
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}"

"""Request ids and log lines: every request gets an id, echoed as ``X-Request-Id`` and put
on every log record emitted while it runs, and one access line is logged per request.

``LOG_FORMAT=json`` writes one JSON object a line (for a log collector); ``text`` writes
plain lines for a terminal.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
import uuid
from datetime import UTC, datetime
from typing import Any, TextIO

from flask import Flask, Response, g, has_request_context, request

from backend.config import Settings

REQUEST_ID_HEADER = "X-Request-Id"
# What we accept from a client or proxy; anything else (too long, odd characters that
# could forge log lines) is replaced by an id of our own.
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
# Our packages log at INFO and above (the root logger's default WARNING would hide the
# access lines); a deployment may still set any of them otherwise.
_OUR_LOGGERS = ("ucomm", "backend", "sync", "media")
access_log = logging.getLogger("ucomm.access")

_TEXT_FORMAT = "%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s"
# Attributes every LogRecord has: anything else on a record came through ``extra``.
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message",
    "asctime",
    "request_id",
}


def request_id() -> str:
    """The current request's id ("-" outside a request)."""
    if has_request_context():
        return str(g.get("request_id", "-"))
    return "-"


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, request id, extras."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", "-"),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                line[key] = value
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is now (a test runner swaps it), never a stale one."""

    def __init__(self) -> None:
        super().__init__()

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        pass


_factory_installed = False


def _install_record_factory() -> None:
    """Every record made anywhere in the process carries ``request_id`` (once per process)."""
    global _factory_installed
    if _factory_installed:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        record.request_id = request_id()
        return record

    logging.setLogRecordFactory(factory)
    _factory_installed = True


def configure_logging(log_format: str) -> None:
    """One handler of ours on the root logger (replaced, not added again, by another app)."""
    _install_record_factory()
    formatter: logging.Formatter = (
        JsonFormatter() if log_format == "json" else logging.Formatter(_TEXT_FORMAT)
    )
    root = logging.getLogger()
    handler = next((h for h in root.handlers if isinstance(h, _StderrHandler)), None)
    if handler is None:
        handler = _StderrHandler()
        root.addHandler(handler)
    handler.setFormatter(formatter)
    for name in _OUR_LOGGERS:
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET:
            logger.setLevel(logging.INFO)


def _incoming_request_id() -> str:
    given = request.headers.get(REQUEST_ID_HEADER, "")
    if _SANE_REQUEST_ID.fullmatch(given):
        return given
    return uuid.uuid4().hex


def _start_request() -> None:
    g.request_id = _incoming_request_id()
    g.request_started = time.perf_counter()


def duration_seconds() -> float:
    return time.perf_counter() - float(g.get("request_started", time.perf_counter()))


def _finish_request(response: Response) -> Response:
    if "request_id" not in g:  # a request that failed before our first hook ran
        g.request_id = _incoming_request_id()
    response.headers[REQUEST_ID_HEADER] = g.request_id
    principal = g.get("principal")
    duration_ms = round(duration_seconds() * 1000, 2)
    # The path only: a query string may hold tokens (signed URLs, tus metadata).
    access_log.info(
        "%s %s %s %.2fms",
        request.method,
        request.path,
        response.status_code,
        duration_ms,
        extra={
            "method": request.method,
            "path": request.path,
            "status": response.status_code,
            "duration_ms": duration_ms,
            "user_id": str(principal.user_id) if principal is not None else None,
            "remote_addr": request.remote_addr,  # the client's, past PROXY_COUNT proxies
        },
    )
    return response


def install(app: Flask, settings: Settings) -> None:
    """Request ids and the access line. Call first in the factory: the before hook then
    runs before any other, and the after hook last (after the request's commit)."""
    configure_logging(settings.log_format)
    app.before_request(_start_request)
    app.after_request(_finish_request)

"""Operations endpoints, outside ``/api/v1`` and outside the OpenAPI document (they are for
load balancers and Prometheus, not API clients):

- ``GET /health/live``: 200 while the process serves; touches nothing.
- ``GET /health/ready``: 200 when the database, Redis (if configured) and media storage
  answer, else 503 naming the failing checks.
- ``GET /metrics``: Prometheus text format, only with ``Authorization: Bearer
  <METRICS_TOKEN>``; 404 while ``METRICS_TOKEN`` is unset (off by default, so it can
  never leak to the internet through a proxy), 401 without the right token.
"""

from __future__ import annotations

import hmac
import logging
from typing import Any

from flask import Blueprint, Flask, Response, current_app, jsonify, request

from backend.auth.policy import public
from backend.errors import AuthenticationFailed, NotFound
from backend.extensions import settings_of
from backend.ops import health, metrics

log = logging.getLogger(__name__)

ops_blp = Blueprint("ops", __name__)


@ops_blp.get("/health/live")
@public
def live() -> Response:
    return jsonify(status="ok")


@ops_blp.get("/health/ready")
@public
def ready() -> tuple[Response, int]:
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    try:
        results = health.readiness(app)
    except Exception:  # a probe answers 503, never 500
        log.exception("readiness checks could not run")
        return jsonify(status="fail", checks={}, failing=["readiness"]), 503
    failing = [r.name for r in results if not r.ok]
    body: dict[str, Any] = {
        "status": "fail" if failing else "ok",
        "checks": {r.name: r.as_dict() for r in results},
    }
    if failing:
        body["failing"] = failing
    return jsonify(body), 503 if failing else 200


# Not a user's token: the scraper's own, compared in constant time.
@ops_blp.get("/metrics")
@public
def scrape() -> Response:
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    token = settings_of(app).metrics_token
    if not token:
        raise NotFound("No such resource")
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.encode(), token.encode()):
        raise AuthenticationFailed("/metrics needs Authorization: Bearer <METRICS_TOKEN>")
    body, content_type = metrics.exposition(app)
    return Response(body, content_type=content_type)

"""Every route of the app carries a policy: @requires(...) or @public. A new route without
one fails here, before it can leak data."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask

from backend.auth.policy import policy_of

IGNORED_METHODS = {"HEAD", "OPTIONS"}


def _handlers(app: Flask) -> list[tuple[str, str, Callable[..., Any]]]:
    found = []
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        view_class = getattr(view, "view_class", None)
        for method in sorted((rule.methods or set()) - IGNORED_METHODS):
            handler = getattr(view_class, method.lower()) if view_class else view
            found.append((f"{method} {rule.rule}", rule.endpoint, handler))
    return found


def test_every_route_has_a_policy(app: Flask) -> None:
    handlers = _handlers(app)
    assert len(handlers) > 20  # the walk itself works
    missing = [route for route, _, handler in handlers if policy_of(handler) is None]
    assert missing == [], f"routes without a policy: {missing}"


def test_only_login_refresh_and_docs_are_public(app: Flask) -> None:
    public = sorted(route for route, _, h in _handlers(app) if policy_of(h) == "public")
    assert all(
        route.startswith(
            (
                "POST /api/v1/auth/login",
                "POST /api/v1/auth/refresh",
                "GET /api/v1/docs",
                "GET /api/v1/openapi.json",
                # A signed, expiring photo URL: the signature is the permission.
                "GET /api/v1/photos/signed/",
                # 一公开: committed spot-check plans, their draw records and verification.
                "GET /api/v1/public/inspection/plans",
                # Probes for load balancers; /metrics checks METRICS_TOKEN itself.
                "GET /health/live",
                "GET /health/ready",
                "GET /metrics",
            )
        )
        for route in public
    ), public
    assert "POST /api/v1/auth/login" in public

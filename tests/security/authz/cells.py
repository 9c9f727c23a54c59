"""Running one cell of the matrix: one persona, one route, one owner's object, in a
savepoint rolled back afterwards (so every cell starts from the same world)."""

from __future__ import annotations

from typing import Any

from werkzeug.routing import Rule

from tests.security.authz.routes import Spec, url_of
from tests.security.authz.world import AuthzWorld, today_is


def request_of(
    w: AuthzWorld, key: str, rule: Rule, spec: Spec, owner: str, persona: str
) -> tuple[str, str, dict[str, Any]]:
    method = key.split(" ", 1)[0]
    url = url_of(w, rule, spec, owner) + spec.query
    headers = dict(spec.headers)
    if spec.etag:
        with today_is(spec.today):
            headers.update(w.etag_for(url_of(w, rule, spec, owner, spec.etag_path)))
    kwargs: dict[str, Any] = {"headers": headers}
    if rule.rule.startswith("/api/v1/uploads/"):
        kwargs["data"] = b"a"
    elif spec.body is not None:
        kwargs["body"] = spec.body(w, owner, persona)
    return method, url, kwargs


def run_cell(w: AuthzWorld, key: str, rule: Rule, spec: Spec, owner: str, persona: str) -> int:
    method, url, kwargs = request_of(w, key, rule, spec, owner, persona)
    savepoint = w.connection.begin_nested()
    try:
        with today_is(spec.today):
            if spec.prepare is not None:
                spec.prepare(w, owner)
            response = w.call(persona, method, url, **kwargs)
    finally:
        savepoint.rollback()
    return response.status_code

"""Security headers on every response: one after-request hook, registered by the factory.

The API answers JSON to phones and scripts, never pages, so its Content-Security-Policy
allows nothing at all. The one page it serves is the Swagger UI under ``/api/v1/docs``:
its bundle, stylesheet and the OpenAPI document come from this app ('self'), its icons
are ``data:`` images in the stylesheet, and its one inline bootstrap script is allowed by
its SHA-256 hash, computed from the page as rendered, so nothing else inline can run.
Inline *styles* are allowed on that page only: Swagger UI sets them throughout its
bundle (swagger-api/swagger-ui#3370), and a style cannot run code.

Responses that may carry personal data are never stored by a cache (``no-store``); the
exceptions cache by their own rules: the OpenAPI document and the docs' assets (public),
and signed photo URLs (``private, max-age`` of the link's lifetime, set by media).
"""

from __future__ import annotations

import base64
import hashlib
import re

from flask import Flask, Response, request

from backend.extensions import settings_of

API_PREFIX = "/api/v1/"
API_POLICY = "default-src 'none'; frame-ancestors 'none'"
HSTS = "max-age=63072000; includeSubDomains"

_INLINE_SCRIPT = re.compile(rb"<script>(.*?)</script>", re.DOTALL)


def register(app: Flask) -> None:
    """Add the headers to every response of ``app`` (views may set their own first)."""
    prefix = "/" + app.config["OPENAPI_URL_PREFIX"].strip("/") + "/"
    docs_page = prefix + app.config["OPENAPI_SWAGGER_UI_PATH"].strip("/")
    openapi_document = prefix + app.config["OPENAPI_JSON_PATH"].strip("/")
    # Caching rules of their own (public documents, expiring photo links).
    own_caching = (docs_page, openapi_document, prefix + "photos/signed/")
    production = settings_of(app).env == "production"

    @app.after_request
    def security_headers(response: Response) -> Response:
        headers = response.headers
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Referrer-Policy", "no-referrer")
        headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        if request.path == docs_page and response.mimetype == "text/html":
            headers["Content-Security-Policy"] = docs_policy(response.get_data())
        else:
            headers.setdefault("Content-Security-Policy", API_POLICY)
        if production:
            headers.setdefault("Strict-Transport-Security", HSTS)
        personal = request.path.startswith(API_PREFIX) or response.mimetype == "application/json"
        if personal and not request.path.startswith(own_caching):
            headers.setdefault("Cache-Control", "no-store")
        return response


def docs_policy(page: bytes) -> str:
    """The Swagger UI page's policy: its own assets, and exactly its inline scripts."""
    script_src = ["'self'"] + [
        "'sha256-" + base64.b64encode(hashlib.sha256(script).digest()).decode() + "'"
        for script in _INLINE_SCRIPT.findall(page)
    ]
    return (
        "default-src 'none'; "
        f"script-src {' '.join(script_src)}; "
        "style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; "
        "connect-src 'self'; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )

"""Shared extension objects: the API (OpenAPI + one error shape), the rate limiter, settings.

Each app gets its own :class:`Api` (tests build many apps); blueprints are module-level.
"""

from __future__ import annotations

import json
import math
from typing import Any

from flask import Flask, Request, Response
from flask.json.provider import DefaultJSONProvider
from flask_smorest import Api as _Api
from flask_smorest import Blueprint as _Blueprint
from marshmallow import Schema as _Schema
from marshmallow import fields
from webargs import core
from webargs.flaskparser import FlaskParser, is_json_request
from werkzeug.exceptions import HTTPException

from backend.config import Settings
from backend.errors import http_error_response

_SETTINGS_KEY = "ucomm.settings"


def settings_of(app: Flask) -> Settings:
    settings: Settings = app.extensions[_SETTINGS_KEY]
    return settings


def store_settings(app: Flask, settings: Settings) -> None:
    app.extensions[_SETTINGS_KEY] = settings


def strict_json_loads(data: str | bytes) -> Any:
    """JSON as RFC 8259 has it: no NaN, no Infinity, no float that overflows to infinity.

    Python's parser accepts all three; stored, they break PostgreSQL or the next response.
    """
    text = data.decode() if isinstance(data, bytes) else data

    def refuse(name: str) -> Any:
        raise json.JSONDecodeError(f"{name} is not a JSON number", text, 0)

    def finite(literal: str) -> float:
        value = float(literal)
        if not math.isfinite(value):
            raise json.JSONDecodeError(f"{literal[:20]} is out of range", text, 0)
        return value

    return json.loads(text, parse_constant=refuse, parse_float=finite)


class StrictJSONProvider(DefaultJSONProvider):
    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return strict_json_loads(s)


class StrictParser(FlaskParser):
    """webargs' parser with the same strict JSON."""

    def _raw_load_json(self, req: Request) -> Any:
        if not is_json_request(req):
            return core.missing
        return strict_json_loads(req.get_data(cache=True))


class Schema(_Schema):
    """Base schema. marshmallow 4 raises on unknown fields: a typo never silently does nothing."""


class ErrorSchema(Schema):
    """The one error shape (see backend.errors)."""

    status = fields.Integer(required=True)
    code = fields.String(required=True)
    message = fields.String(required=True)
    rule = fields.String()
    errors = fields.Dict()


class Api(_Api):  # type: ignore[misc]
    """flask-smorest's Api, answering every HTTP error in the service's one JSON shape."""

    # Documents our error shape (set on the class: smorest reads it while initialising).
    ERROR_SCHEMA = ErrorSchema

    def handle_http_exception(self, error: HTTPException) -> Response:
        return http_error_response(error)


class Blueprint(_Blueprint):  # type: ignore[misc]
    """One per feature; kept as our own class so shared behaviour has one home."""

    ARGUMENTS_PARSER = StrictParser()


def api_config(settings: Settings) -> dict[str, Any]:
    return {
        "API_TITLE": "Urban–rural education community service",
        "API_VERSION": "v1",
        "OPENAPI_VERSION": "3.0.3",
        "OPENAPI_URL_PREFIX": "/api/v1",
        "OPENAPI_JSON_PATH": "openapi.json",
        "OPENAPI_SWAGGER_UI_PATH": "docs",
        # Served from the swagger-ui-bundle package: nothing is fetched from a CDN.
        "OPENAPI_SWAGGER_UI_URL": "/api/v1/docs/assets/",
        "API_SPEC_OPTIONS": {
            "info": {
                "description": (
                    "Secondments, offline attendance, spot checks and evidence scoring for "
                    "county urban–rural education communities. Authenticate with "
                    "`POST /api/v1/auth/login`, then send `Authorization: Bearer <token>`."
                )
            },
            "security": [{"bearerAuth": []}],
            "components": {
                "securitySchemes": {
                    "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
                }
            },
        },
    }

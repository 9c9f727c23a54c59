"""The application factory: settings, extensions and blueprints — no queries, no network."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Flask, Response, request, send_from_directory
from swagger_ui_bundle import swagger_ui_path
from werkzeug.exceptions import UnsupportedMediaType
from werkzeug.middleware.proxy_fix import ProxyFix

from backend import cli, security_headers
from backend.attendance import checkins as _attendance_checkins  # noqa: F401 - subscriptions
from backend.attendance import photos as _attendance_photos  # noqa: F401 - media subscriptions
from backend.attendance.assessments_api import assessments_blp
from backend.attendance.calendar_api import calendar_blp
from backend.attendance.flag_reviews_api import flag_reviews_blp
from backend.attendance.requests_api import blueprints as request_blueprints
from backend.attendance.rules_api import rules_blp
from backend.attendance.views_api import views_blp
from backend.auth.api import THROTTLE_KEY, devices_blp, users_blp
from backend.auth.api import blp as auth_blp
from backend.auth.policy import public
from backend.auth.throttle import LoginThrottle
from backend.classes import photos as _class_photos  # noqa: F401 - media subscriptions
from backend.classes.api import classes_blp
from backend.config import Settings
from backend.db import Database
from backend.errors import register_error_handlers
from backend.exchange.api import blueprints as exchange_blueprints
from backend.extensions import Api, StrictJSONProvider, api_config, store_settings
from backend.imports.api import blp as imports_blp
from backend.inspection import crosscheck as _inspection_crosscheck  # noqa: F401 - subscriptions
from backend.inspection import photos as _inspection_photos  # noqa: F401 - media subscriptions
from backend.inspection.plans_api import blueprints as inspection_plan_blueprints
from backend.inspection.visits_api import visits_blp
from backend.ops import logs as ops_logs
from backend.ops import metrics as ops_metrics
from backend.ops.api import ops_blp
from backend.org.api import blueprints as org_blueprints
from backend.reports import jobs as _report_jobs  # noqa: F401 - late-data subscription
from backend.reports.api import reports_blp
from backend.scoring import photos as _evidence_photos  # noqa: F401 - media subscriptions
from backend.scoring.evidence_api import evidence_blp
from backend.scoring.review_api import reviews_blp
from backend.scoring.rubric_api import rubrics_blp
from backend.scoring.scorecard_api import scorecards_blp
from media.api import uploads_blp
from media.photos_api import photos_blp
from sync.api import blp as sync_blp
from sync.api import quarantine_blp

BLUEPRINTS = [
    auth_blp,
    users_blp,
    devices_blp,
    *org_blueprints,
    *exchange_blueprints,
    calendar_blp,
    rules_blp,
    assessments_blp,
    flag_reviews_blp,
    *request_blueprints,
    views_blp,
    imports_blp,
    reports_blp,
    *inspection_plan_blueprints,
    visits_blp,
    classes_blp,
    evidence_blp,
    reviews_blp,
    rubrics_blp,
    scorecards_blp,
    sync_blp,
    photos_blp,
    quarantine_blp,
    uploads_blp,
]


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or Settings.from_env()
    app = Flask(__name__, static_folder=None, instance_path=str(settings.instance_path))
    app.config.update(
        MAX_CONTENT_LENGTH=settings.max_request_bytes,
        **api_config(settings),
    )
    store_settings(app, settings)
    # First: their before hook runs before any other, their after hooks last (post-commit).
    ops_logs.install(app, settings)
    ops_metrics.install(app)
    app.json = StrictJSONProvider(app)
    app.json.ensure_ascii = False  # Chinese names stay readable in responses
    if settings.proxy_count:
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=settings.proxy_count, x_proto=settings.proxy_count
        )
    Database.attach(app, settings)
    app.extensions[THROTTLE_KEY] = LoginThrottle.from_settings(
        settings.login_limit_per_account, settings.login_limit_per_ip, settings.redis_url
    )

    api = Api(app)
    for blueprint in BLUEPRINTS:
        api.register_blueprint(blueprint)
    # Plain Flask: health checks and metrics stay out of the OpenAPI document.
    app.register_blueprint(ops_blp)
    register_error_handlers(app)
    _serve_docs_assets(app)
    app.before_request(_refuse_unknown_bodies)
    security_headers.register(app)
    cli.register(app)
    return app


def _serve_docs_assets(app: Flask) -> None:
    @public
    def docs_assets(filename: str) -> Response:
        return send_from_directory(swagger_ui_path, filename)

    app.add_url_rule("/api/v1/docs/assets/<path:filename>", view_func=docs_assets)
    # flask-smorest's own document views (bound methods) need no token either.
    for endpoint, view in list(app.view_functions.items()):
        if endpoint.startswith("api-docs."):
            app.view_functions[endpoint] = public(_plain_function(view))


def _plain_function(view: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(view)
    def call(*args: Any, **kwargs: Any) -> Any:
        return view(*args, **kwargs)

    return call


# Bodies the API understands; anything else (a form post, XML, text) is refused up front
# with 415 rather than parsed as "no fields given".
BODY_TYPES = frozenset(
    {"application/json", "multipart/form-data", "application/offset+octet-stream"}
)


def _refuse_unknown_bodies() -> None:
    has_body = bool(request.content_length) or "chunked" in request.headers.get(
        "Transfer-Encoding", ""
    )
    if (
        request.method in {"POST", "PUT", "PATCH"}
        and has_body
        and request.mimetype not in BODY_TYPES
    ):
        raise UnsupportedMediaType(
            f"Content-Type {request.mimetype or '(none)'} is not accepted: this API takes"
            " application/json, multipart/form-data (file imports) and"
            " application/offset+octet-stream (uploads)"
        )

"""``GET``/``POST /api/v1/sync``: WatermelonDB pull and push (see docs/sync-protocol.md)."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from flask import Response, jsonify, request
from flask.views import MethodView
from marshmallow import fields, validate

from backend.auth.models import User
from backend.auth.policy import Action, Resource, current_principal, requires, scope
from backend.db import db
from backend.errors import NotFound, error_body
from backend.extensions import Blueprint, Schema
from backend.ops.metrics import count_sync_push
from backend.pagination import PageArgs, page_schema, paginate
from sync import models, protocol, services
from sync.tables import REGISTRY

blp = Blueprint(
    "sync",
    __name__,
    url_prefix="/api/v1/sync",
    description=(
        "Offline sync, WatermelonDB protocol. Clients call synchronize() with "
        "sendCreatedAsUpdated: true. Limits: "
        f"{protocol.MAX_PUSH_RECORDS} records and {protocol.MAX_PUSH_BYTES} bytes per push; "
        f"schema versions {protocol.SCHEMA_VERSION_MIN}–{protocol.SCHEMA_VERSION_MAX}."
    ),
)


class PullArgs(Schema):
    last_pulled_at = fields.String(
        metadata={"description": "timestamp of the last pull; null, 0 or absent for the first"}
    )
    schema_version = fields.String(metadata={"description": "app schema version (required)"})
    migration = fields.String(
        metadata={"description": 'JSON {"from", "tables", "columns"} or null'}
    )


class PushArgs(Schema):
    last_pulled_at = fields.String(
        metadata={"description": "timestamp returned by this sync's pull (required)"}
    )
    schema_version = fields.String(
        metadata={"description": "app schema version (default: the oldest supported)"}
    )


def _protocol_error(error: protocol.ProtocolError) -> Response:
    response = jsonify(error_body(error.status, error.code, error.message))
    response.status_code = error.status
    return response


@blp.route("")
class Sync(MethodView):
    @requires(None)
    @blp.arguments(PullArgs, location="query", as_kwargs=True)
    @blp.response(200, description="{changes: {table: {created, updated, deleted}}, timestamp}")
    @blp.alt_response(426, description="schema_version too old: update the app")
    def get(self, **_: Any) -> Any:
        """Pull: what changed for you since `last_pulled_at`, as WatermelonDB expects."""
        try:
            req = services.PullRequest(
                last_pulled_at=protocol.parse_last_pulled_at(
                    request.args.get("last_pulled_at"), required=False
                ),
                schema_version=protocol.parse_schema_version(request.args.get("schema_version")),
                migration=protocol.parse_migration(request.args.get("migration")),
            )
        except protocol.ProtocolError as exc:
            return _protocol_error(exc)
        return services.pull(db.session, current_principal(), req)

    @requires(None)
    @blp.arguments(PushArgs, location="query", as_kwargs=True)
    @blp.doc(
        requestBody={
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "description": (
                            "{table: {created: [records], updated: [records], deleted: [ids]}}"
                        ),
                    }
                }
            },
        },
        parameters=[
            {"in": "header", "name": name, "required": required, "schema": {"type": "string"}}
            for name, required in (
                ("X-Device-Id", True),
                ("X-Device-Time", True),
                ("X-Device-Elapsed", False),
                ("X-Device-Boot", False),
            )
        ],
    )
    @blp.response(200, description="{ok, applied, unchanged, ignored, quarantined}")
    @blp.alt_response(409, description="records changed on the server since your pull")
    @blp.alt_response(413, description="over the record or byte limit of a push")
    def post(self, **_: Any) -> Any:
        """Push: your created, updated and deleted records, applied in one transaction."""
        try:
            req = _parse_push()
        except protocol.ProtocolError as exc:
            return _protocol_error(exc)
        principal = current_principal()
        if principal.device_id != req.clock.device_id:
            return _protocol_error(
                protocol.ProtocolError(
                    403, "device_mismatch", "X-Device-Id is not the device this token was issued to"
                )
            )
        result = services.push(db.session, principal, req)
        count_sync_push(result)
        return result


def _parse_push() -> services.PushRequest:
    # Count the bytes themselves: a chunked body has no Content-Length to trust.
    if len(request.get_data(cache=True)) > protocol.MAX_PUSH_BYTES:
        raise protocol.ProtocolError(
            413, "payload_too_large", f"a push body is at most {protocol.MAX_PUSH_BYTES} bytes"
        )
    last_pulled_at = protocol.parse_last_pulled_at(
        request.args.get("last_pulled_at"), required=True
    )
    version_arg = request.args.get("schema_version")
    version = (
        protocol.parse_schema_version(version_arg)
        if version_arg is not None
        else protocol.SCHEMA_VERSION_MIN
    )
    clock = protocol.parse_device_headers(dict(request.headers.items()))
    body = request.get_json(silent=True)
    if body is None:
        raise protocol.ProtocolError(400, "bad_sync_request", "the push body must be JSON")
    # A client pushes only the tables its schema version has.
    changes = protocol.parse_changes(body, {t.name for t in REGISTRY.for_version(version)})
    return services.PushRequest(
        last_pulled_at=last_pulled_at or 0, schema_version=version, clock=clock, changes=changes
    )


# --- quarantine, for admins ----------------------------------------------------------------

quarantine_blp = Blueprint(
    "sync_quarantine",
    __name__,
    url_prefix="/api/v1/sync/quarantine",
    description="Pushed records kept aside because they failed validation or authorization",
)


class QuarantineSchema(Schema):
    id = fields.UUID(dump_only=True)
    user_id = fields.UUID(dump_only=True)
    device_pk = fields.UUID(dump_only=True, allow_none=True)
    table_name = fields.String(dump_only=True)
    record_id = fields.String(dump_only=True)
    operation = fields.String(dump_only=True)
    payload = fields.Dict(dump_only=True, metadata={"description": "the record as pushed"})
    reason = fields.String(dump_only=True)
    detail = fields.String(dump_only=True)
    attempts = fields.Integer(dump_only=True)
    first_received_at = fields.DateTime(dump_only=True)
    last_received_at = fields.DateTime(dump_only=True)
    state = fields.String(dump_only=True)
    resolved_by_id = fields.UUID(dump_only=True, allow_none=True)
    resolution_note = fields.String(dump_only=True)


class QuarantineQuery(Schema):
    state = fields.String(load_default="open", validate=validate.OneOf(models.QUARANTINE_STATES))
    table_name = fields.String(validate=validate.OneOf(sorted(REGISTRY.names())))
    user_id = fields.UUID()


class DismissArgs(Schema):
    note = fields.String(load_default="", validate=validate.Length(max=1000))


QuarantinePage = page_schema(QuarantineSchema, "QuarantinePage")


def _quarantine_in_scope(action: Action) -> sa.Select[Any]:
    """Quarantined records of the users the caller administers (the central user scope)."""
    users = sa.select(User.id).where(scope(current_principal(), Resource.USER, action))
    return sa.select(models.QuarantinedRecord).where(models.QuarantinedRecord.user_id.in_(users))


@quarantine_blp.route("")
class Quarantine(MethodView):
    @requires(Resource.USER, Action.READ)
    @quarantine_blp.arguments(QuarantineQuery, location="query")
    @quarantine_blp.arguments(PageArgs, location="query")
    @quarantine_blp.response(200, QuarantinePage)
    def get(self, query: dict[str, Any], page: dict[str, Any]) -> dict[str, Any]:
        """Records your users' phones pushed that could not be applied, with the reason."""
        stmt = _quarantine_in_scope(Action.READ).where(
            models.QuarantinedRecord.state == query["state"]
        )
        if "table_name" in query:
            stmt = stmt.where(models.QuarantinedRecord.table_name == query["table_name"])
        if "user_id" in query:
            stmt = stmt.where(models.QuarantinedRecord.user_id == query["user_id"])
        return paginate(db.session, stmt, models.QuarantinedRecord.id, page)


@quarantine_blp.route("/<uuid:entry_id>/dismiss")
class Dismiss(MethodView):
    @requires(Resource.USER, Action.WRITE)
    @quarantine_blp.arguments(DismissArgs)
    @quarantine_blp.response(200, QuarantineSchema)
    def post(self, args: dict[str, Any], entry_id: uuid.UUID) -> models.QuarantinedRecord:
        """Reviewed and set aside: the record leaves the phone on its next pull."""
        entry = db.session.scalars(
            _quarantine_in_scope(Action.WRITE).where(models.QuarantinedRecord.id == entry_id)
        ).one_or_none()
        if entry is None:
            raise NotFound(f"No quarantined record {entry_id}")
        return services.dismiss(db.session, entry, current_principal(), args["note"])

"""Cursor (keyset) pagination: stable under concurrent inserts, O(page) at any depth."""

from __future__ import annotations

import base64
import binascii
import uuid
from typing import Any

import sqlalchemy as sa
from marshmallow import ValidationError, fields, validate, validates
from sqlalchemy.orm import Session

from backend.extensions import Schema

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


def encode_cursor(last_id: uuid.UUID) -> str:
    return base64.urlsafe_b64encode(last_id.bytes).decode().rstrip("=")


def decode_cursor(cursor: str) -> uuid.UUID:
    try:
        return uuid.UUID(bytes=base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError) as exc:
        raise ValidationError("Not a cursor returned by this API") from exc


class PageArgs(Schema):
    limit = fields.Integer(
        load_default=DEFAULT_LIMIT,
        validate=validate.Range(min=1, max=MAX_LIMIT),
        metadata={"description": f"Page size, 1–{MAX_LIMIT}."},
    )
    cursor = fields.String(
        load_default=None, metadata={"description": "`next_cursor` of the previous page."}
    )

    @validates("cursor")
    def _check_cursor(self, value: str | None, **_: Any) -> None:
        if value is not None:
            decode_cursor(value)


def page_schema(item: type[Schema], name: str) -> type[Schema]:
    """A response schema ``{"items": [...], "next_cursor": str | null}`` for ``item``."""
    return type(
        name,
        (Schema,),
        {
            "items": fields.List(fields.Nested(item), required=True),
            "next_cursor": fields.String(allow_none=True, required=True),
        },
    )


def paginate(
    session: Session, stmt: sa.Select[Any], id_column: Any, args: dict[str, Any]
) -> dict[str, Any]:
    """One page of ``stmt`` ordered by ``id_column``, plus the cursor of the next page."""
    limit: int = args["limit"]
    if args.get("cursor"):
        stmt = stmt.where(id_column > decode_cursor(args["cursor"]))
    rows = list(session.scalars(stmt.order_by(id_column).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return {"items": rows, "next_cursor": encode_cursor(rows[-1].id) if more else None}

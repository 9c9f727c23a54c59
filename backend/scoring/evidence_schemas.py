"""Wire shapes of community evidence and of its review (queue, decisions, the trail), and
the keyset pages they are listed in.

Bodies declare types only: every rule on the values (lengths, dates, kinds, what each
kind needs) lives in ``backend.scoring.evidence``, so a value is judged the same way
however it arrives.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from marshmallow import ValidationError, fields, validate, validates
from sqlalchemy.orm import Session

from backend.attendance.request_inputs import CLIENT_ID
from backend.extensions import Schema
from backend.pagination import DEFAULT_LIMIT, MAX_LIMIT
from backend.review import REVIEW_ACTIONS, REVIEW_STATUSES, REVIEWED_KINDS
from backend.scoring.models import EVIDENCE_KINDS

# --- pages keyed by (a date or time, then the client id) -------------------------------------


def encode_cursor(key: date | datetime, last_id: str) -> str:
    raw = json.dumps([key.isoformat(), isinstance(key, datetime), last_id])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[date | datetime, str]:
    """The (sort key, id) a cursor stands for; anything else is a validation error."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        key, is_time, last_id = json.loads(text)
        value: date | datetime = (
            datetime.fromisoformat(key) if is_time is True else date.fromisoformat(key)
        )
    except (binascii.Error, ValueError, TypeError) as exc:
        raise ValidationError("Not a cursor returned by this API") from exc
    if not isinstance(last_id, str) or not CLIENT_ID.fullmatch(last_id):
        raise ValidationError("Not a cursor returned by this API")
    if isinstance(value, datetime) and value.tzinfo is None:
        raise ValidationError("Not a cursor returned by this API")
    return value, last_id


def keyset_page(
    session: Session, stmt: sa.Select[Any], model: Any, key: str, args: dict[str, Any]
) -> dict[str, Any]:
    """One page of ``stmt`` ordered by ``model.<key>`` then id, and the next cursor (a
    page boundary holds however rows are inserted meanwhile)."""
    key_column, id_column = getattr(model, key), model.id
    limit: int = args["limit"]
    if args.get("cursor"):
        after, last_id = decode_cursor(args["cursor"])
        stmt = stmt.where(
            sa.or_(key_column > after, sa.and_(key_column == after, id_column > last_id))
        )
    rows = list(session.scalars(stmt.order_by(key_column, id_column).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    last = rows[-1] if more else None
    return {
        "items": rows,
        "next_cursor": encode_cursor(getattr(last, key), last.id) if last is not None else None,
    }


class KeysetPageArgs(Schema):
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


# --- evidence --------------------------------------------------------------------------------

_KINDS_DOC = (
    "development_seminar, joint_activity, news_report (url or a screenshot in photo_ids), "
    "research_online, research_offline, mentor_pair (details: mentor, mentee), "
    "mentor_session (details.pair_id), research_project, quality_monitoring "
    "(details.analysis), quality_analysis (details.monitoring_id), teaching_materials "
    "(subject), student_exchange, typical_case"
)
_STATUS_DOC = "submitted (waiting for review), verified (counts), rejected (see review_reason)"


class EvidenceSchema(Schema):
    id = fields.String(dump_only=True)
    community_id = fields.UUID(dump_only=True)
    kind = fields.String(dump_only=True, metadata={"description": _KINDS_DOC})
    day = fields.Date(dump_only=True)
    title = fields.String(dump_only=True)
    description = fields.String(dump_only=True)
    subject = fields.String(dump_only=True, allow_none=True)
    url = fields.String(dump_only=True, allow_none=True)
    school_ids = fields.List(fields.String(), dump_only=True)
    people = fields.List(fields.String(), dump_only=True)
    photo_ids = fields.List(fields.String(), dump_only=True)
    details = fields.Dict(dump_only=True)
    submitted_by_id = fields.UUID(dump_only=True)
    submitted_at = fields.DateTime(dump_only=True)
    review_status = fields.String(dump_only=True, metadata={"description": _STATUS_DOC})
    revision = fields.Integer(dump_only=True, metadata={"description": "1, then +1 per change"})
    reviewed_by_id = fields.UUID(dump_only=True, allow_none=True)
    reviewed_at = fields.DateTime(dump_only=True, allow_none=True)
    review_reason = fields.String(dump_only=True)
    counts = fields.Function(
        lambda item: item.review_status == "verified" and item.deleted_at is None,
        dump_only=True,
        metadata={"description": "Whether it counts towards the score: verified evidence only"},
    )
    created_at = fields.DateTime(dump_only=True)
    updated_at = fields.DateTime(dump_only=True)


class EvidencePatchArgs(Schema):
    day = fields.Date(metadata={"description": "When it happened; not in the future."})
    title = fields.String(metadata={"description": "1–200 characters."})
    description = fields.String(metadata={"description": "≤ 4000 characters."})
    subject = fields.String(
        allow_none=True, metadata={"description": "Required for teaching_materials."}
    )
    url = fields.String(allow_none=True, metadata={"description": "http or https."})
    school_ids = fields.List(
        fields.String(), metadata={"description": "Current schools of the community concerned."}
    )
    people = fields.List(fields.String(), metadata={"description": "Names or teacher ids."})
    photo_ids = fields.List(
        fields.String(), metadata={"description": "Client ids of photos or scans (media)."}
    )
    details = fields.Dict(metadata={"description": "What the kind needs besides (see kind)."})


class EvidenceCreateArgs(EvidencePatchArgs):
    id = fields.String(metadata={"description": "Optional client id (1–64 of A–Z a–z 0–9 _ . -)."})
    community_id = fields.UUID(required=True)
    kind = fields.String(required=True, metadata={"description": _KINDS_DOC})
    day = fields.Date(required=True)
    title = fields.String(required=True)


class EvidenceQueryArgs(Schema):
    community_id = fields.UUID()
    kind = fields.String(validate=validate.OneOf(EVIDENCE_KINDS))
    review_status = fields.String(validate=validate.OneOf(REVIEW_STATUSES))
    from_ = fields.Date(data_key="from", metadata={"description": "Items of this day or later."})
    to = fields.Date(metadata={"description": "Items of this day or earlier."})


# --- review ----------------------------------------------------------------------------------


class ReviewEventSchema(Schema):
    revision = fields.Integer(dump_only=True)
    action = fields.String(dump_only=True, metadata={"description": ", ".join(REVIEW_ACTIONS)})
    reason = fields.String(dump_only=True)
    actor_id = fields.UUID(dump_only=True, allow_none=True)
    actor = fields.String(
        dump_only=True, allow_none=True, metadata={"description": "The actor's username."}
    )
    at = fields.DateTime(dump_only=True)
    snapshot = fields.Dict(
        dump_only=True, metadata={"description": "The content submitted (submissions only)."}
    )


class ReviewHistorySchema(Schema):
    items = fields.List(fields.Nested(ReviewEventSchema), required=True)


class ReviewedRecordSchema(Schema):
    """An evidence item or a class session as its reviewer sees it."""

    kind = fields.String(dump_only=True, metadata={"description": ", ".join(REVIEWED_KINDS)})
    id = fields.String(dump_only=True)
    community_id = fields.UUID(dump_only=True)
    evidence_kind = fields.String(dump_only=True, allow_none=True)
    day = fields.Date(dump_only=True)
    title = fields.String(dump_only=True)
    submitted_by_id = fields.UUID(dump_only=True)
    submitted_at = fields.DateTime(dump_only=True)
    revision = fields.Integer(dump_only=True)
    review_status = fields.String(dump_only=True, metadata={"description": _STATUS_DOC})
    review_reason = fields.String(dump_only=True)
    reviewed_by_id = fields.UUID(dump_only=True, allow_none=True)
    reviewed_at = fields.DateTime(dump_only=True, allow_none=True)
    complete = fields.Boolean(
        dump_only=True,
        metadata={"description": "A class session's form is whole (evidence: always true)."},
    )
    missing = fields.List(fields.String(), dump_only=True)
    counts = fields.Boolean(
        dump_only=True,
        metadata={"description": "Counts towards the score: verified, and complete."},
    )


class ReviewQueueArgs(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(REVIEWED_KINDS))
    community_id = fields.UUID()


class ReviewDecisionArgs(Schema):
    revision = fields.Integer(
        required=True,
        validate=validate.Range(min=1),
        metadata={"description": "The revision you reviewed; another current one is a 409."},
    )
    reason = fields.String(
        load_default="",
        validate=validate.Length(max=1000),
        metadata={"description": "Why; required to reject (≤ 1000 characters)."},
    )

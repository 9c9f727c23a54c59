"""Wire shapes of the joint timetable, class report forms and the sync-class progress.

Bodies declare types only: every rule on the values (lengths, ranges, membership of the
community, dates in the term) lives in ``backend.classes.timetable`` and
``backend.classes.sessions``, which phones' sync shares, so a value is judged the same way
however it arrives.
"""

from __future__ import annotations

from marshmallow import fields, validate

from backend.classes.models import CONNECTION_QUALITIES, TERMS
from backend.extensions import Schema
from backend.review import REVIEW_STATUSES

# --- the joint timetable --------------------------------------------------------------------------


class TimetableReceiverSchema(Schema):
    school_id = fields.UUID(required=True)
    class_name = fields.String(load_default="", metadata={"description": "e.g. 四(2)班"})


class TimetableEntrySchema(Schema):
    id = fields.UUID(dump_only=True)
    community_id = fields.UUID(dump_only=True)
    school_year = fields.Integer(
        dump_only=True, metadata={"description": "the year it starts (2026: 2026–27)"}
    )
    term = fields.Integer(
        dump_only=True, metadata={"description": "1 autumn (Sep–Jan), 2 spring (Feb–Aug)"}
    )
    subject = fields.String(dump_only=True)
    lead_school_id = fields.UUID(dump_only=True)
    lead_teacher_id = fields.UUID(dump_only=True, allow_none=True)
    lead_class_name = fields.String(dump_only=True)
    receivers = fields.List(fields.Nested(TimetableReceiverSchema), dump_only=True)
    weekday = fields.Integer(dump_only=True, allow_none=True)
    period = fields.String(dump_only=True)
    dates = fields.List(fields.String(), dump_only=True)
    note = fields.String(dump_only=True)
    created_at = fields.DateTime(dump_only=True)
    updated_at = fields.DateTime(dump_only=True)


class _TimetableBody(Schema):
    school_year = fields.Integer(metadata={"description": "the year it starts (2026: 2026–27)"})
    term = fields.Integer(validate=validate.OneOf(TERMS))
    subject = fields.String(metadata={"description": "required, ≤ 50 characters"})
    lead_school_id = fields.UUID()
    lead_teacher_id = fields.UUID(allow_none=True)
    lead_class_name = fields.String()
    receivers = fields.List(
        fields.Nested(TimetableReceiverSchema),
        metadata={"description": "the receiving classes at member schools (≥ 1)"},
    )
    weekday = fields.Integer(
        allow_none=True, metadata={"description": "1 = Monday … 7 = Sunday (or give dates)"}
    )
    period = fields.String(metadata={"description": "e.g. 第3节, 10:00"})
    dates = fields.List(
        fields.String(), metadata={"description": "YYYY-MM-DD, each within the term"}
    )
    note = fields.String()


class TimetableCreateArgs(_TimetableBody):
    community_id = fields.UUID(required=True)
    school_year = fields.Integer(required=True)
    term = fields.Integer(required=True, validate=validate.OneOf(TERMS))
    subject = fields.String(required=True)
    lead_school_id = fields.UUID(required=True)
    receivers = fields.List(fields.Nested(TimetableReceiverSchema), required=True)


class TimetablePatchArgs(_TimetableBody):
    """Any of the fields; the entry as it would stand is checked whole."""


class TimetableQueryArgs(Schema):
    community_id = fields.UUID()
    school_year = fields.Integer()
    term = fields.Integer(validate=validate.OneOf(TERMS))


# --- class report forms ---------------------------------------------------------------------------


class SessionParticipantSchema(Schema):
    school_id = fields.UUID(required=True)
    class_name = fields.String(required=True)
    student_count = fields.Integer(required=True)
    photo_ids = fields.List(fields.String(), load_default=list)


class ClassSessionSchema(Schema):
    id = fields.String(dump_only=True)
    community_id = fields.UUID(dump_only=True)
    timetable_entry_id = fields.UUID(dump_only=True, allow_none=True)
    day = fields.Date(dump_only=True)
    subject = fields.String(dump_only=True)
    topic = fields.String(dump_only=True)
    lead_school_id = fields.UUID(dump_only=True)
    lead_teacher_id = fields.UUID(dump_only=True, allow_none=True)
    lead_class_name = fields.String(dump_only=True)
    lead_student_count = fields.Integer(dump_only=True, allow_none=True)
    duration_minutes = fields.Integer(dump_only=True)
    connection_quality = fields.String(dump_only=True)
    problems = fields.String(dump_only=True)
    discussion = fields.String(dump_only=True)
    participants = fields.List(fields.Nested(SessionParticipantSchema), dump_only=True)
    lead_photo_ids = fields.List(fields.String(), dump_only=True)
    submitted_by_id = fields.UUID(dump_only=True)
    received_at = fields.DateTime(dump_only=True)
    complete = fields.Boolean(dump_only=True)
    missing = fields.List(
        fields.String(), dump_only=True, metadata={"description": "what the form lacks"}
    )
    review_status = fields.String(
        dump_only=True, metadata={"description": "submitted, verified or rejected"}
    )
    revision = fields.Integer(dump_only=True)
    review_reason = fields.String(dump_only=True)
    reviewed_at = fields.DateTime(dump_only=True, allow_none=True)
    created_at = fields.DateTime(dump_only=True)
    updated_at = fields.DateTime(dump_only=True)


class _SessionBody(Schema):
    community_id = fields.UUID()
    timetable_entry_id = fields.UUID(allow_none=True)
    day = fields.Date(metadata={"description": "the day it was taught (not in the future)"})
    subject = fields.String(metadata={"description": "required, ≤ 50 characters"})
    topic = fields.String(metadata={"description": "≤ 200 characters; needed to be complete"})
    lead_school_id = fields.UUID()
    lead_teacher_id = fields.UUID(allow_none=True)
    lead_class_name = fields.String()
    lead_student_count = fields.Integer(allow_none=True)
    duration_minutes = fields.Integer(metadata={"description": "1–600"})
    connection_quality = fields.String(validate=validate.OneOf(CONNECTION_QUALITIES))
    problems = fields.String()
    discussion = fields.String(
        metadata={"description": "the post-class discussion (课后研讨) record"}
    )
    participants = fields.List(
        fields.Nested(SessionParticipantSchema),
        metadata={"description": "each receiving class, with its photos (≥ 1)"},
    )
    lead_photo_ids = fields.List(
        fields.String(), metadata={"description": "client ids of the lead classroom's photos"}
    )


class SessionCreateArgs(_SessionBody):
    id = fields.String(metadata={"description": "Optional client id (1–64 of A–Z a–z 0–9 _ . -)."})
    community_id = fields.UUID(required=True)
    day = fields.Date(required=True)
    subject = fields.String(required=True)
    lead_school_id = fields.UUID(required=True)
    duration_minutes = fields.Integer(required=True)
    connection_quality = fields.String(required=True, validate=validate.OneOf(CONNECTION_QUALITIES))
    participants = fields.List(fields.Nested(SessionParticipantSchema), required=True)


class SessionPatchArgs(_SessionBody):
    """Any of the fields; the form as it would stand is checked whole."""


class SessionQueryArgs(Schema):
    community_id = fields.UUID()
    from_ = fields.Date(data_key="from", metadata={"description": "Sessions on or after."})
    to = fields.Date(metadata={"description": "Sessions on or before."})
    subject = fields.String()
    complete = fields.Boolean()
    review_status = fields.String(validate=validate.OneOf(REVIEW_STATUSES))


# --- progress -------------------------------------------------------------------------------------


class SyncClassProgressArgs(Schema):
    community_id = fields.UUID(required=True)
    school_year = fields.Integer(
        validate=validate.Range(min=2000, max=2100),
        metadata={"description": "the year it starts; default: the current school year"},
    )


class SyncClassProgressSchema(Schema):
    community_id = fields.UUID()
    school_year = fields.Integer()
    filed = fields.Integer(metadata={"description": "sessions filed (not withdrawn)"})
    complete = fields.Integer(metadata={"description": "of those, complete"})
    verified_complete = fields.Integer(
        metadata={"description": "complete and verified: what counts (003 attachment 2)"}
    )
    subjects = fields.Dict(
        keys=fields.String(),
        values=fields.Integer(),
        metadata={"description": "counted sessions per subject"},
    )
    min_sessions = fields.Integer()
    min_subjects = fields.Integer()
    sessions_short = fields.Integer()
    subjects_short = fields.Integer()
    terms_left = fields.Integer(metadata={"description": "terms of the year not yet over"})
    met = fields.Boolean()
    rule = fields.String()

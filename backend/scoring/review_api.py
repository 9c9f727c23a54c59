# mypy: disallow-untyped-decorators=False
# (flask-smorest ships no type hints; pyproject's override lists the other api modules.)
"""The reviewer's side of evidence (佐证材料): the queue of records waiting for review, the
decision on each (verify, or reject with a reason), and each record's trail — for
community evidence items and class report forms (课堂信息汇报表) alike.

Reviewers are the bureau admins above the record's community (``EVIDENCE`` and
``CLASS_SESSION`` APPROVE in the central policy): a record of another county is a 404,
and a role that never reviews (school admins, teachers, inspectors) gets 403. A decision
names the revision it was about; if the submitter changed the record since, it is a 409
and the reviewer looks again (``backend.review``). Only verified evidence counts, and a
class session only if it is also complete: verifying an incomplete one is allowed (the
reviewer may accept a form short of a photo) but the answer says ``counts: false``.
"""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from backend import review
from backend.auth.policy import (
    Action,
    Resource,
    current_principal,
    get_scoped,
    requires,
    scoped_select,
)
from backend.classes.models import ClassSession
from backend.db import db
from backend.errors import NotFound
from backend.extensions import Blueprint
from backend.pagination import page_schema
from backend.scoring import evidence as services
from backend.scoring.evidence_schemas import (
    KeysetPageArgs,
    ReviewDecisionArgs,
    ReviewedRecordSchema,
    ReviewHistorySchema,
    ReviewQueueArgs,
    keyset_page,
)
from backend.scoring.models import EvidenceItem

reviews_blp = Blueprint(
    "reviews",
    __name__,
    url_prefix="/api/v1/reviews",
    description=(
        "Review of evidence (佐证材料) and class report forms by the bureau: the queue,"
        " verify or reject (with a reason), and the trail (003 附件2)"
    ),
)

ReviewQueuePage = page_schema(ReviewedRecordSchema, "ReviewQueuePage")

# Each reviewed kind: its policy resource, its model, and the time it joined the queue
# (the queue serves the longest-waiting first).
KINDS: dict[str, tuple[Resource, type[EvidenceItem] | type[ClassSession], str]] = {
    "evidence": (Resource.EVIDENCE, EvidenceItem, "submitted_at"),
    "class_session": (Resource.CLASS_SESSION, ClassSession, "received_at"),
}


def reviewed_view(kind: str, record: Any) -> dict[str, Any]:
    """What a reviewer sees of an evidence item or a class session, side by side."""
    is_evidence = kind == "evidence"
    complete = True if is_evidence else bool(record.complete)
    return {
        "kind": kind,
        "id": record.id,
        "community_id": record.community_id,
        "evidence_kind": record.kind if is_evidence else None,
        "day": record.day,
        "title": record.title if is_evidence else f"{record.subject} · {record.topic}",
        "submitted_by_id": record.submitted_by_id,
        "submitted_at": record.submitted_at if is_evidence else record.received_at,
        "revision": record.revision,
        "review_status": record.review_status,
        "review_reason": record.review_reason,
        "reviewed_by_id": record.reviewed_by_id,
        "reviewed_at": record.reviewed_at,
        "complete": complete,
        "missing": [] if is_evidence else list(record.missing),
        "counts": record.review_status == "verified" and complete and record.deleted_at is None,
    }


def _record(kind: str, record_id: str, *, for_update: bool = False) -> Any:
    resource, _, _ = KINDS[kind]
    record = get_scoped(
        db.session, current_principal(), resource, Action.APPROVE, record_id, for_update=for_update
    )
    if record.deleted_at is not None:
        raise NotFound(f"{kind.replace('_', ' ').capitalize()} {record_id} was withdrawn")
    return record


def _decide(kind: str, record_id: str, args: dict[str, Any], *, verified: bool) -> Any:
    record = _record(kind, record_id, for_update=True)
    target = "verified" if verified else "rejected"
    repeated = (
        record.review_status == target
        and record.revision == args["revision"]
        and record.review_reason == args["reason"].strip()
    )
    if not repeated:  # a retried decision (a dropped answer) is not a second event
        review.decide(
            db.session,
            kind,
            record,
            current_principal().user_id,
            verified=verified,
            reason=args["reason"],
            revision=args["revision"],
        )
    return reviewed_view(kind, record)


@reviews_blp.route("/queue")
class ReviewQueue(MethodView):
    # The resource depends on ``kind``: scoped_select below applies EVIDENCE or
    # CLASS_SESSION APPROVE, which answers 403 to a role that never reviews.
    @requires(None)
    @reviews_blp.arguments(ReviewQueueArgs, location="query")
    @reviews_blp.arguments(KeysetPageArgs, location="query")
    @reviews_blp.response(200, ReviewQueuePage)
    def get(self, query: dict[str, Any], page: dict[str, Any]) -> Any:
        """Records waiting for your review (submitted, not withdrawn), longest-waiting
        first; `kind` is `evidence` or `class_session`."""
        kind = query["kind"]
        resource, model, waiting_since = KINDS[kind]
        stmt = scoped_select(current_principal(), resource, Action.APPROVE).where(
            model.review_status == "submitted", model.deleted_at.is_(None)
        )
        if "community_id" in query:
            stmt = stmt.where(model.community_id == query["community_id"])
        result = keyset_page(db.session, stmt, model, waiting_since, page)
        result["items"] = [reviewed_view(kind, row) for row in result["items"]]
        return result


def _register(kind: str, resource: Resource) -> None:
    """The decision and trail routes of one reviewed kind, each under its own policy."""

    @reviews_blp.route(f"/{kind}/<string:record_id>/verify", endpoint=f"verify_{kind}")
    class Verify(MethodView):
        @requires(resource, Action.APPROVE)
        @reviews_blp.arguments(ReviewDecisionArgs)
        @reviews_blp.response(200, ReviewedRecordSchema)
        def post(self, args: dict[str, Any], record_id: str) -> Any:
            """Verify the revision you reviewed (409 `stale_revision` if it changed since);
            `reason` is an optional note. An incomplete class session may be verified but
            does not count (`counts: false`)."""
            return _decide(kind, record_id, args, verified=True)

    @reviews_blp.route(f"/{kind}/<string:record_id>/reject", endpoint=f"reject_{kind}")
    class Reject(MethodView):
        @requires(resource, Action.APPROVE)
        @reviews_blp.arguments(ReviewDecisionArgs)
        @reviews_blp.response(200, ReviewedRecordSchema)
        def post(self, args: dict[str, Any], record_id: str) -> Any:
            """Reject the revision you reviewed, saying why (422 `reason_required`), so the
            submitter can fix it and resubmit (409 `stale_revision` if it changed since)."""
            return _decide(kind, record_id, args, verified=False)

    @reviews_blp.route(f"/{kind}/<string:record_id>/history", endpoint=f"history_{kind}")
    class History(MethodView):
        @requires(resource, Action.APPROVE)
        @reviews_blp.response(200, ReviewHistorySchema)
        def get(self, record_id: str) -> Any:
            """Every step of the record's review, oldest first, with who did it; each
            submission carries the content as it was submitted."""
            record = get_scoped(
                db.session, current_principal(), resource, Action.APPROVE, record_id
            )
            return {"items": services.trail(db.session, kind, record.id)}


for _kind, (_resource, _model, _waiting_since) in KINDS.items():
    _register(_kind, _resource)

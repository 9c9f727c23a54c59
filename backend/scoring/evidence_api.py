# mypy: disallow-untyped-decorators=False
# (flask-smorest ships no type hints; pyproject's override lists the other api modules.)
"""Community evidence (佐证材料) over HTTP: the submitter's side.

Admins of a community's current schools file, edit and withdraw its evidence; the
community's schools and the bureau and inspectors above read it (``EVIDENCE`` in the
central policy: out of scope is a 404, a role that may never act a 403). Reviewers decide
through ``/reviews`` (``backend.scoring.review_api``). The rules are
``backend.scoring.evidence``'s.
"""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from backend import clock
from backend.auth.policy import (
    Action,
    Resource,
    current_principal,
    get_scoped,
    requires,
    scoped_select,
)
from backend.db import db
from backend.errors import NotFound
from backend.extensions import Blueprint
from backend.pagination import page_schema
from backend.scoring import evidence as services
from backend.scoring.evidence_schemas import (
    EvidenceCreateArgs,
    EvidencePatchArgs,
    EvidenceQueryArgs,
    EvidenceSchema,
    KeysetPageArgs,
    ReviewHistorySchema,
    keyset_page,
)
from backend.scoring.models import EvidenceItem

evidence_blp = Blueprint(
    "evidence",
    __name__,
    url_prefix="/api/v1/evidence",
    description=(
        "Community evidence (佐证材料) for the annual scoring (003 附件2): filed by the"
        " community's schools, verified or rejected by the bureau; only verified evidence"
        " counts"
    ),
)

EvidencePage = page_schema(EvidenceSchema, "EvidencePage")


def _item(item_id: str, action: Action) -> EvidenceItem:
    """A live (not withdrawn) item in the caller's scope for ``action``; else 404."""
    item: EvidenceItem = get_scoped(
        db.session,
        current_principal(),
        Resource.EVIDENCE,
        action,
        item_id,
        for_update=action is not Action.READ,
    )
    if item.deleted_at is not None:
        raise NotFound(f"Evidence {item_id} was withdrawn")
    return item


@evidence_blp.route("")
class EvidenceItems(MethodView):
    @requires(Resource.EVIDENCE, Action.READ)
    @evidence_blp.arguments(EvidenceQueryArgs, location="query")
    @evidence_blp.arguments(KeysetPageArgs, location="query")
    @evidence_blp.response(200, EvidencePage)
    def get(self, query: dict[str, Any], page: dict[str, Any]) -> Any:
        """Live items you may see, by day then id; `from`/`to` select by day."""
        stmt = scoped_select(current_principal(), Resource.EVIDENCE, Action.READ).where(
            EvidenceItem.deleted_at.is_(None)
        )
        for name in ("community_id", "kind", "review_status"):
            if name in query:
                stmt = stmt.where(getattr(EvidenceItem, name) == query[name])
        if "from_" in query:
            stmt = stmt.where(EvidenceItem.day >= query["from_"])
        if "to" in query:
            stmt = stmt.where(EvidenceItem.day <= query["to"])
        return keyset_page(db.session, stmt, EvidenceItem, "day", page)

    @requires(Resource.EVIDENCE, Action.WRITE)
    @evidence_blp.arguments(EvidenceCreateArgs)
    @evidence_blp.response(201, EvidenceSchema)
    def post(self, data: dict[str, Any]) -> EvidenceItem:
        """File an item for a community your school currently belongs to; it waits for
        review as revision 1.

        422 `invalid_field` (names the field: a future day, an empty title, a school not
        in the community, a news report with neither link nor screenshot, materials
        without subject, a mentor pair without both people, a session or analysis not
        naming a pair or monitoring of the same community…), `not_a_community_member`;
        409 `id_in_use`; 404 for a community outside your scope.
        """
        return services.file_evidence(db.session, current_principal(), data, today=clock.today())


@evidence_blp.route("/<string:item_id>")
class EvidenceById(MethodView):
    @requires(Resource.EVIDENCE, Action.READ)
    @evidence_blp.etag
    @evidence_blp.response(200, EvidenceSchema)
    def get(self, item_id: str) -> EvidenceItem:
        return _item(item_id, Action.READ)

    @requires(Resource.EVIDENCE, Action.WRITE)
    @evidence_blp.etag
    @evidence_blp.arguments(EvidencePatchArgs)
    @evidence_blp.response(200, EvidenceSchema)
    def patch(self, changes: dict[str, Any], item_id: str) -> EvidenceItem:
        """Change an item (If-Match: the GET's ETag); re-judged whole. A real change is a
        new revision waiting for review again — a rejected item fixed, or a verified one
        altered (it no longer counts until verified again)."""
        item = _item(item_id, Action.WRITE)
        evidence_blp.check_etag(item, EvidenceSchema)
        return services.revise_evidence(
            db.session, current_principal(), item, changes, today=clock.today()
        )

    @requires(Resource.EVIDENCE, Action.WRITE)
    @evidence_blp.etag
    @evidence_blp.response(204)
    def delete(self, item_id: str) -> None:
        """Withdraw an item (If-Match: the GET's ETag). It stops counting and leaves the
        review queue; its trail stays. 409 `evidence_in_use` for a mentor pair or a
        monitoring that live items still refer to."""
        item = _item(item_id, Action.WRITE)
        evidence_blp.check_etag(item, EvidenceSchema)
        services.withdraw_evidence(db.session, current_principal(), item)


@evidence_blp.route("/<string:item_id>/history")
class EvidenceHistory(MethodView):
    @requires(Resource.EVIDENCE, Action.READ)
    @evidence_blp.response(200, ReviewHistorySchema)
    def get(self, item_id: str) -> Any:
        """Every step of the item's review, oldest first: submitted, resubmitted (each
        revision's content), verified, rejected (with the reason), withdrawn — with who
        did it. Withdrawn items keep their trail."""
        item: EvidenceItem = get_scoped(
            db.session, current_principal(), Resource.EVIDENCE, Action.READ, item_id
        )
        return {"items": services.trail(db.session, services.KIND, item.id)}

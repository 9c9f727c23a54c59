"""The flag review queue over HTTP: the host school's admin (or the bureau above it) lists
the flags on check-ins and decides on each (central policy: ``CHECK_IN`` approve).

What a decision means is in :mod:`backend.attendance.flag_reviews`.
"""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from backend.attendance import flag_reviews
from backend.attendance.flag_reviews_schemas import (
    FlagEntrySchema,
    FlagQueueArgs,
    FlagReviewArgs,
    FlagReviewSchema,
)
from backend.attendance.models import FlagReview
from backend.auth.policy import Action, Resource, current_principal, requires
from backend.db import db
from backend.extensions import Blueprint
from backend.pagination import page_schema

flag_reviews_blp = Blueprint(
    "flag_reviews",
    __name__,
    url_prefix="/api/v1/attendance",
    description=(
        "Flags the server raised on check-ins (outside the fence, clock skew…) and the host"
        " school's decision on each: accepted (the punch does not count) or dismissed"
    ),
)

FlagEntryPage = page_schema(FlagEntrySchema, "FlagEntryPage")


@flag_reviews_blp.route("/flags")
class FlagQueue(MethodView):
    @requires(Resource.CHECK_IN, Action.APPROVE)
    @flag_reviews_blp.arguments(FlagQueueArgs, location="query")
    @flag_reviews_blp.response(200, FlagEntryPage)
    def get(self, query: dict[str, Any]) -> dict[str, Any]:
        """One entry per (check-in, flag) in your review scope, newest punch first, with its
        latest review; ``state`` open (the default) lists flags nobody reviewed yet."""
        limit, cursor = query.pop("limit"), query.pop("cursor")
        return flag_reviews.flag_queue(db.session, current_principal(), query, limit, cursor)


@flag_reviews_blp.route("/check-ins/<string:check_in_id>/flags/<string:code>/review")
class FlagReviewOfCheckIn(MethodView):
    @requires(Resource.CHECK_IN, Action.APPROVE)
    @flag_reviews_blp.arguments(FlagReviewArgs)
    @flag_reviews_blp.response(201, FlagReviewSchema)
    def post(self, data: dict[str, Any], check_in_id: str, code: str) -> FlagReview:
        """Decide on a flag, with a note. A later review of the same flag adds a row and
        supersedes this one (the trail is kept). Re-derives the teacher's day at once.

        404 if the check-in is not yours to review or has no such flag.
        """
        return flag_reviews.review_flag(
            db.session, current_principal(), check_in_id, code, data["decision"], data["note"]
        )

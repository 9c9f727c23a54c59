# mypy: disallow-untyped-decorators=False
# (flask-smorest ships no type hints; pyproject's override lists the other api modules.)
"""Community scorecards over HTTP (003 attachment 2).

- ``GET /scorecards?school_year=``: the communities in your scope with their totals and
  rank. Bureaus and inspectors rank every community of their region; a school admin sees
  only its own communities, each ranked among the communities of its county.
- ``GET /scorecards/{community_id}/{school_year}``: the full card; ``…/progress``: found
  against every minimum, with the terms left; ``…/export.xlsx``: the 考核评分表.
- ``PUT …/manual/{criterion}``: a bureau reviewer scores a manual criterion (with a note).

Access is the central policy's (``SCORECARD``): a community outside the caller's scope
is 404, a role that may not score by hand gets 403.
"""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import quote

from flask import Response
from flask.views import MethodView

from backend.auth.policy import (
    Action,
    Resource,
    current_principal,
    get_scoped,
    requires,
    scope,
)
from backend.db import db
from backend.errors import InvalidInput
from backend.extensions import Blueprint
from backend.org.models import Community
from backend.scoring import scorecard_xlsx, scorecards
from backend.scoring.models import ManualScore
from backend.scoring.scorecard_schemas import (
    ManualScoreArgs,
    ManualScoreSchema,
    ProgressSchema,
    RankingSchema,
    ScorecardQueryArgs,
    ScorecardSchema,
)

scorecards_blp = Blueprint(
    "scorecards",
    __name__,
    url_prefix="/api/v1/scorecards",
    description="考核评分: communities scored against the rubric, ranked, exported",
)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _school_year(school_year: int) -> int:
    if not scorecards.FIRST_SCHOOL_YEAR <= school_year <= scorecards.LAST_SCHOOL_YEAR:
        raise InvalidInput(
            f"school year {school_year} is out of range",
            errors={"path": {"school_year": ["out of range"]}},
        )
    return school_year


def _community(community_id: uuid.UUID, action: Action = Action.READ) -> Community:
    community: Community = get_scoped(
        db.session, current_principal(), Resource.SCORECARD, action, community_id
    )
    return community


@scorecards_blp.route("")
class Scorecards(MethodView):
    @requires(Resource.SCORECARD, Action.READ)
    @scorecards_blp.arguments(ScorecardQueryArgs, location="query")
    @scorecards_blp.response(200, RankingSchema)
    def get(self, query: dict[str, Any]) -> dict[str, Any]:
        """Totals and ranks of the communities in your scope (ties share a rank)."""
        principal = current_principal()
        year = query["school_year"]
        own = scorecards.communities(
            db.session, scope(principal, Resource.SCORECARD, Action.READ), year
        )
        if principal.region_path is not None:
            return {"school_year": year, "items": scorecards.rank(db.session, own, year)}
        # A school admin: its own communities, each ranked within its county; the other
        # communities' totals are not shown.
        own_ids = {c.id for c in own}
        items = []
        for region_id in sorted({c.region_id for c in own}, key=str):
            peers = scorecards.communities(db.session, Community.region_id == region_id, year)
            items += [
                row
                for row in scorecards.rank(db.session, peers, year)
                if row.community_id in own_ids
            ]
        return {"school_year": year, "items": items}


@scorecards_blp.route("/<uuid:community_id>/<int:school_year>")
class ScorecardById(MethodView):
    @requires(Resource.SCORECARD, Action.READ)
    @scorecards_blp.response(200, ScorecardSchema)
    def get(self, community_id: uuid.UUID, school_year: int) -> scorecards.CommunityScorecard:
        """The community's year: every criterion's count, deduction, bonus and evidence."""
        return scorecards.scorecard(db.session, _community(community_id), _school_year(school_year))


@scorecards_blp.route("/<uuid:community_id>/<int:school_year>/progress")
class ScorecardProgress(MethodView):
    @requires(Resource.SCORECARD, Action.READ)
    @scorecards_blp.response(200, ProgressSchema)
    def get(self, community_id: uuid.UUID, school_year: int) -> scorecards.Progress:
        """Found against every minimum so far, and the terms left (current included)."""
        return scorecards.progress(db.session, _community(community_id), _school_year(school_year))


@scorecards_blp.route("/<uuid:community_id>/<int:school_year>/export.xlsx")
class ScorecardExport(MethodView):
    @requires(Resource.SCORECARD, Action.READ)
    @scorecards_blp.response(200, description="The 考核评分表 (XLSX)")
    def get(self, community_id: uuid.UUID, school_year: int) -> Response:
        card = scorecards.scorecard(db.session, _community(community_id), _school_year(school_year))
        response = Response(scorecard_xlsx.to_xlsx(card), mimetype=XLSX)
        # RFC 6266: an ASCII name for old clients, the Chinese one for the rest.
        fallback = f"scorecard-{community_id}-{school_year}.xlsx"
        response.headers["Content-Disposition"] = (
            f'attachment; filename="{fallback}"; '
            f"filename*=UTF-8''{quote(scorecard_xlsx.filename(card))}"
        )
        response.headers["Cache-Control"] = "private, no-store"
        return response


@scorecards_blp.route("/<uuid:community_id>/<int:school_year>/manual/<string:criterion>")
class ManualScoreView(MethodView):
    @requires(Resource.SCORECARD, Action.APPROVE)
    @scorecards_blp.arguments(ManualScoreArgs)
    @scorecards_blp.response(200, ManualScoreSchema)
    def put(
        self, data: dict[str, Any], community_id: uuid.UUID, school_year: int, criterion: str
    ) -> ManualScore:
        """Score a manual criterion (e.g. 工作成效). 422: points outside 0 … max_points,
        an empty note, `not_manual`; 404 `unknown_criterion`."""
        return scorecards.set_manual_score(
            db.session,
            _community(community_id, Action.APPROVE),
            _school_year(school_year),
            criterion,
            points=data["points"],
            note=data["note"],
            scored_by_id=current_principal().user_id,
        )

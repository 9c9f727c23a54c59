# mypy: disallow-untyped-decorators=False
# (flask-smorest ships no type hints; pyproject's override lists the other api modules.)
"""Scoring rubrics (考核细则) over HTTP: a bureau saves a version of its region's rubric
for a school year; everyone who reads scorecards reads the rubrics above them.

- ``GET/POST /rubrics``: versions in scope (a region's own and those above it); a bureau
  creates the next version for its region (or one below) — the engine checks the
  definition, and a 422 names each bad field as ``definition.<path>``.
- ``GET /rubrics/{id}``; ``GET /rubrics/default``: 003's rubric, used where none is saved.

Access is the central policy's (``RUBRIC``).
"""

from __future__ import annotations

import uuid
from typing import Any

from flask.views import MethodView

from backend.auth.policy import (
    Action,
    Resource,
    current_principal,
    get_scoped,
    in_scope,
    requires,
    scoped_select,
)
from backend.db import db
from backend.errors import InvalidInput
from backend.extensions import Blueprint
from backend.pagination import PageArgs, page_schema, paginate
from backend.scoring import scorecards
from backend.scoring.models import Rubric
from backend.scoring.rubric import DEFAULT_RUBRIC, default_definition
from backend.scoring.scorecard_schemas import (
    DefaultRubricSchema,
    RubricCreateArgs,
    RubricQueryArgs,
    RubricSchema,
)

rubrics_blp = Blueprint(
    "rubrics",
    __name__,
    url_prefix="/api/v1/rubrics",
    description="考核细则: scoring rubrics as data, versioned per region and school year",
)
RubricPage = page_schema(RubricSchema, "RubricPage")


@rubrics_blp.route("")
class Rubrics(MethodView):
    @requires(Resource.RUBRIC, Action.READ)
    @rubrics_blp.arguments(RubricQueryArgs, location="query")
    @rubrics_blp.arguments(PageArgs, location="query")
    @rubrics_blp.response(200, RubricPage)
    def get(self, query: dict[str, Any], page: dict[str, Any]) -> dict[str, Any]:
        """Rubric versions of your regions and those above them."""
        stmt = scoped_select(current_principal(), Resource.RUBRIC, Action.READ)
        for name in ("school_year", "region_id"):
            if name in query:
                stmt = stmt.where(getattr(Rubric, name) == query[name])
        return paginate(db.session, stmt, Rubric.id, page)

    @requires(Resource.RUBRIC, Action.WRITE)
    @rubrics_blp.arguments(RubricCreateArgs)
    @rubrics_blp.response(201, RubricSchema)
    def post(self, data: dict[str, Any]) -> Rubric:
        """Save the next version of a region's rubric for a school year.

        422 `invalid_rubric` (errors name `definition.<path>`), `unknown_region`,
        `school_year_closed` (a year that is over keeps its rubric)."""
        principal = current_principal()
        region_id = data.get("region_id") or principal.region_id
        if region_id is None or not in_scope(
            db.session, principal, Resource.REGION, Action.WRITE, region_id
        ):
            raise InvalidInput(
                f"no region {region_id} in your scope", field="region_id", code="unknown_region"
            )
        return scorecards.create_rubric(
            db.session,
            region_id=region_id,
            school_year=data["school_year"],
            name=data["name"],
            definition=data["definition"],
            created_by_id=principal.user_id,
        )


@rubrics_blp.route("/default")
class DefaultRubric(MethodView):
    @requires(Resource.RUBRIC, Action.READ)
    @rubrics_blp.response(200, DefaultRubricSchema)
    def get(self) -> dict[str, Any]:
        """003 attachment 2's rubric: what a year is scored with when no version is saved."""
        return {"name": DEFAULT_RUBRIC["name"], "definition": default_definition()}


@rubrics_blp.route("/<uuid:rubric_id>")
class RubricById(MethodView):
    @requires(Resource.RUBRIC, Action.READ)
    @rubrics_blp.response(200, RubricSchema)
    def get(self, rubric_id: uuid.UUID) -> Rubric:
        rubric: Rubric = get_scoped(
            db.session, current_principal(), Resource.RUBRIC, Action.READ, rubric_id
        )
        return rubric

"""Attendance rule versions over HTTP, and the rules in force at a school on a day.

Bureau admins add versions for the regions of their subtree and withdraw those not yet in
force; whoever works with a school reads the versions that can apply to it (central
policy: ``ATTENDANCE_RULE``). A version is never edited: a later version changes the rules.
"""

from __future__ import annotations

import uuid
from typing import Any

from flask.views import MethodView

from backend import clock
from backend.attendance import rules_services
from backend.attendance.rule_models import AttendanceRule
from backend.attendance.rules_schemas import (
    AttendanceRuleSchema,
    EffectiveRulesArgs,
    EffectiveRulesSchema,
    RuleQueryArgs,
    RuleVersionArgs,
)
from backend.auth.policy import (
    Action,
    Resource,
    current_principal,
    get_scoped,
    requires,
    scoped_select,
)
from backend.db import db
from backend.extensions import Blueprint
from backend.org.models import School
from backend.pagination import PageArgs, page_schema, paginate

rules_blp = Blueprint(
    "attendance_rules",
    __name__,
    url_prefix="/api/v1/attendance/rules",
    description=(
        "Attendance rules per region, versioned by the day they take effect: hours, grace,"
        " half days, 补卡 limits, leave types (003 §四(三)4: 请假按教育局规定执行)"
    ),
)

AttendanceRulePage = page_schema(AttendanceRuleSchema, "AttendanceRulePage")


@rules_blp.route("")
class RuleVersions(MethodView):
    @requires(Resource.ATTENDANCE_RULE, Action.READ)
    @rules_blp.arguments(RuleQueryArgs, location="query")
    @rules_blp.arguments(PageArgs, location="query")
    @rules_blp.response(200, AttendanceRulePage)
    def get(self, query: dict[str, Any], page: dict[str, Any]) -> dict[str, Any]:
        """Versions of the caller's regions, those above them, and those of the regions of
        the schools the caller works with."""
        stmt = scoped_select(current_principal(), Resource.ATTENDANCE_RULE, Action.READ)
        if "region_id" in query:
            stmt = stmt.where(AttendanceRule.region_id == query["region_id"])
        return paginate(db.session, stmt, AttendanceRule.id, page)

    @requires(Resource.ATTENDANCE_RULE, Action.WRITE)
    @rules_blp.arguments(RuleVersionArgs)
    @rules_blp.response(201, AttendanceRuleSchema)
    def post(self, data: dict[str, Any]) -> AttendanceRule:
        """Add a version of a region's rules, in force from ``effective_from``.

        Fields left out are those in force in the region the day before (its own earlier
        version, one inherited from above, or the defaults). 409 ``rule_version_exists``
        if the region has a version from that day already. A version taking effect on or
        before today re-derives the days it governs, in the background.
        """
        return rules_services.create_version(db.session, data, current_principal())


@rules_blp.route("/<uuid:rule_id>")
class RuleVersionById(MethodView):
    @requires(Resource.ATTENDANCE_RULE, Action.READ)
    @rules_blp.etag
    @rules_blp.response(200, AttendanceRuleSchema)
    def get(self, rule_id: uuid.UUID) -> AttendanceRule:
        rule: AttendanceRule = get_scoped(
            db.session, current_principal(), Resource.ATTENDANCE_RULE, Action.READ, rule_id
        )
        return rule

    @requires(Resource.ATTENDANCE_RULE, Action.WRITE)
    @rules_blp.response(204)
    def delete(self, rule_id: uuid.UUID) -> None:
        """Withdraw a version before it takes effect; 409 ``rule_in_use`` once it has."""
        rule: AttendanceRule = get_scoped(
            db.session,
            current_principal(),
            Resource.ATTENDANCE_RULE,
            Action.WRITE,
            rule_id,
            for_update=True,
        )
        rules_services.delete_version(db.session, rule)


@rules_blp.route("/effective")
class EffectiveRules(MethodView):
    @requires(Resource.ATTENDANCE_RULE, Action.READ)
    @rules_blp.arguments(EffectiveRulesArgs, location="query")
    @rules_blp.response(200, EffectiveRulesSchema)
    def get(self, query: dict[str, Any]) -> dict[str, Any]:
        """The rules that judge a school's day: the version in force that day of the nearest
        region (the school's own, then up) that has one, else the defaults."""
        school: School = get_scoped(
            db.session, current_principal(), Resource.SCHOOL, Action.READ, query["school_id"]
        )
        on = query["on"] or clock.today()
        return rules_services.effective_rules(db.session, school, on)

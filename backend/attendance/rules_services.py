"""Adding and withdrawing a region's attendance rule versions, and what rules a school's day
resolves to.

A version is never edited. Rules change by adding a version that takes effect on a date,
so the days before it stay judged by the version they were judged by. A version can be
withdrawn only while it has not taken effect yet; once it has, it is history.

A new version copies any field it leaves out from the rules in force in its region on the
day before it takes effect (its own earlier version, or one inherited from a region above
it, or the defaults). So "from March the day starts at 8:30" is one field, not thirteen.

When a version takes effect on or before today, days already derived change: after commit
a job re-derives the stored days it governs (``backend.attendance.jobs``).
"""

from __future__ import annotations

import uuid
from datetime import date, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from backend import clock
from backend.attendance import jobs
from backend.attendance.rule_models import AttendanceRule
from backend.attendance.rules import Rules, rulebook, rulebook_for_region_path
from backend.auth.policy import Action, Principal, Resource, in_scope
from backend.errors import Conflict, InvalidInput
from backend.jobs import enqueue_after_commit
from backend.org.models import Region, School

# The fields of a version that say how a day is judged (all of Rules' own values).
RULE_FIELDS = (
    "workday_start",
    "midday",
    "workday_end",
    "late_grace_min",
    "early_leave_grace_min",
    "half_day_threshold_min",
    "photo_required",
    "corrections_per_month",
    "correction_window_days",
    "late_sync_days",
    "leave_types",
)
# Upper bounds that catch a typo (minutes typed as seconds, a year as days) while leaving
# every real-world rulebook room: the schemas check each field against them.
MAX_GRACE_MIN = 120
MAX_CORRECTIONS_PER_MONTH = 31
MAX_CORRECTION_WINDOW_DAYS = 31
MAX_LATE_SYNC_DAYS = 31
MAX_LEAVE_TYPES = 30
LEAVE_CODE_PATTERN = r"^[a-z_]{1,32}$"
LEAVE_NAME_MAX = 20


def _minutes(moment: time) -> int:
    return moment.hour * 60 + moment.minute


def _as_values(rules: Rules) -> dict[str, Any]:
    values = {name: getattr(rules, name) for name in RULE_FIELDS}
    values["leave_types"] = [t.as_dict() for t in rules.leave_types]
    return values


def rules_before(session: Session, region: Region, effective_from: date) -> Rules:
    """The rules in force in ``region`` on the day before ``effective_from``: what a new
    version starting that day begins from."""
    return rulebook_for_region_path(session, region.path).on(effective_from - timedelta(days=1))


def check_rules(values: dict[str, Any], given: set[str]) -> None:
    """Checks across fields, on the merged version (each field alone is the schema's). An
    error is filed under a field the request gave where one is involved, and its message
    shows the values compared, copied ones included."""
    errors: dict[str, list[str]] = {}

    def fail(candidates: tuple[str, ...], message: str) -> None:
        name = next((c for c in candidates if c in given), candidates[0])
        errors.setdefault(name, []).append(message)

    start, midday, end = values["workday_start"], values["midday"], values["workday_end"]
    shown = {n: values[n].strftime("%H:%M") for n in ("workday_start", "midday", "workday_end")}
    if not start < midday:
        fail(
            ("midday", "workday_start"),
            f"midday ({shown['midday']}) must be after workday_start ({shown['workday_start']})",
        )
    if not midday < end:
        fail(
            ("workday_end", "midday"),
            f"workday_end ({shown['workday_end']}) must be after midday ({shown['midday']})",
        )
    length = _minutes(end) - _minutes(start)
    if length > 0 and values["half_day_threshold_min"] > length:
        fail(
            ("half_day_threshold_min", "workday_start", "workday_end"),
            f"half_day_threshold_min ({values['half_day_threshold_min']}) must not exceed the"
            f" workday's {length} minutes",
        )
    if errors:
        raise InvalidInput(
            "Invalid input — "
            + "; ".join(f"{name}: {messages[0]}" for name, messages in errors.items()),
            errors={"json": errors},
        )


def create_version(
    session: Session, data: dict[str, Any], principal: Principal | None = None
) -> AttendanceRule:
    """Add a version of a region's rules; 409 ``rule_version_exists`` if the region has one
    taking effect that day already (the unique constraint guards a race)."""
    region_id: uuid.UUID = data["region_id"]
    effective_from: date = data["effective_from"]
    if principal is not None and not in_scope(
        session, principal, Resource.REGION, Action.WRITE, region_id
    ):
        raise InvalidInput(f"region {region_id} not found in your scope", field="region_id")
    region = session.get(Region, region_id)
    if region is None:
        raise InvalidInput(f"region {region_id} not found", field="region_id")
    taken = session.scalar(
        sa.select(AttendanceRule.id).where(
            AttendanceRule.region_id == region.id, AttendanceRule.effective_from == effective_from
        )
    )
    if taken is not None:
        raise Conflict(
            f"{region.name} already has a rule version taking effect on {effective_from}",
            code="rule_version_exists",
        )
    given = {name for name in RULE_FIELDS if name in data}
    values = _as_values(rules_before(session, region, effective_from))
    values.update({name: data[name] for name in given})
    check_rules(values, given)
    rule = AttendanceRule(
        region_id=region.id,
        effective_from=effective_from,
        note=data.get("note", ""),
        created_by_id=principal.user_id if principal else None,
        **values,
    )
    session.add(rule)
    session.flush()
    _rederive_governed_days(session, rule)
    return rule


def _rederive_governed_days(session: Session, rule: AttendanceRule) -> None:
    """Queue the re-derivation of the stored days this version now governs: from its
    effective date to the day before the region's next version, and no later than today
    (later days are derived when they come, under whatever version is then in force)."""
    today = clock.today()
    if rule.effective_from > today:
        return
    next_from = session.scalar(
        sa.select(sa.func.min(AttendanceRule.effective_from)).where(
            AttendanceRule.region_id == rule.region_id,
            AttendanceRule.effective_from > rule.effective_from,
        )
    )
    end = today if next_from is None else min(today, next_from - timedelta(days=1))
    enqueue_after_commit(
        session,
        jobs.recompute_region_days,
        region_id=str(rule.region_id),
        start=rule.effective_from.isoformat(),
        end=end.isoformat(),
    )


def delete_version(session: Session, rule: AttendanceRule) -> None:
    """Withdraw a version that has not taken effect; one in force is history (409
    ``rule_in_use``): change the rules by adding a version instead."""
    if rule.effective_from <= clock.today():
        raise Conflict(
            f"this version took effect on {rule.effective_from} and days were judged by it;"
            " add a new version to change the rules from a later date",
            code="rule_in_use",
        )
    session.delete(rule)
    session.flush()


def effective_rules(session: Session, school: School, on: date) -> dict[str, Any]:
    """The rules in force at ``school`` on ``on``, saying which region's version they are
    (``source`` "region") or that no region has one in force (``source`` "defaults")."""
    rules = rulebook(session, school.id).on(on)
    region_name = (
        session.scalar(sa.select(Region.name).where(Region.id == rules.region_id))
        if rules.region_id is not None
        else None
    )
    return {
        "school_id": school.id,
        "on": on,
        "source": "defaults" if rules.rule_id is None else "region",
        "rule_id": rules.rule_id,
        "region_id": rules.region_id,
        "region_name": region_name,
        "effective_from": rules.effective_from,
        **_as_values(rules),
    }

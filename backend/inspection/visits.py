"""Recording spot-check visits as inspectors' phones send them, offline and late.

A visit is evidence, like a check-in: once stored, when and where the inspector arrived
(and which spot check it was) never changes; the findings, photos and note may be edited
from the phone, and every edit re-derives the findings. The server works out, from the
device's clocks and the spot check school's fence, when the inspector really arrived and
whether they were there (``backend.attendance.evaluation``, shared with check-ins).

Rules a pushed visit must keep (each broken one is a :class:`DomainError` whose ``code``
is sync's quarantine reason): the spot check is assigned to the pushing inspector
(``not_assigned``, said the same way whether or not it exists: spot checks are secret),
it is not cancelled, each finding names a teacher drawn for it, once, with a known
finding, and an inspector files one visit per spot check (co-inspectors file their own).

Services flush, never commit. Withdrawing a visit makes it a tombstone; its findings, which
are derived, go with it.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from backend import device_values
from backend.attendance import checkins
from backend.attendance import evaluation as ev
from backend.attendance.models import COORD_SYSTEMS
from backend.attendance.services import Receipt
from backend.clock import CHINA
from backend.errors import Conflict, InvalidInput, RuleViolation
from backend.events import teacher_days_changed
from backend.inspection import crosscheck
from backend.inspection import photos as visit_photos
from backend.inspection.models import (
    FINDINGS,
    SpotCheck,
    SpotCheckFinding,
    SpotCheckInspector,
    SpotCheckTeacher,
    SpotCheckVisit,
)
from backend.org.models import School

NOTE_MAX = 2000
FINDING_NOTE_MAX = 1000
MAX_PHOTOS = 20
_CLIENT_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")

CLIENT_FIELDS = (
    "spot_check_id",
    "arrived_at",
    "elapsed_ms",
    "boot_id",
    "latitude",
    "longitude",
    "accuracy_m",
    "coord_system",
    "mock_location",
    "photo_ids",
    "signature_photo_id",
    "findings",
    "note",
)
MUTABLE_FIELDS = frozenset({"photo_ids", "signature_photo_id", "findings", "note"})
# Flags of the server's judgement of arrival, replaced if it is ever judged again.
OUTSIDE_WINDOW = "outside_window"


# --- errors (codes are sync's quarantine reasons) -------------------------------------------


class InvalidVisitField(InvalidInput):
    code = "invalid_field"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}", field=field)


class UnknownFinding(InvalidInput):
    code = "unknown_finding"


class DuplicateTeacher(InvalidInput):
    code = "duplicate_teacher"


class NotAssigned(RuleViolation):
    code = "not_assigned"


class SpotCheckCancelled(RuleViolation):
    code = "spot_check_cancelled"


class TeacherNotInSpotCheck(RuleViolation):
    code = "teacher_not_in_spot_check"


class DuplicateVisit(Conflict):
    code = "duplicate_visit"


class ImmutableVisit(RuleViolation):
    code = "immutable_field"


# --- cleaning (pure) ------------------------------------------------------------------------


def _client_id(value: Any, name: str) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not _CLIENT_ID.fullmatch(value):
        raise InvalidVisitField(name, "must be an id (1–64 of A–Z a–z 0–9 _ . -)")
    return value


def _json_list(raw: Mapping[str, Any], name: str) -> list[Any]:
    """A list, sent as JSON text on the sync wire (a list itself is accepted too)."""
    value = raw.get(name)
    if value is None or value == "":
        return []
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError as exc:
            raise InvalidVisitField(name, "must be JSON text of an array") from exc
    if not isinstance(value, list):
        raise InvalidVisitField(name, "must be an array")
    return value


def _uuid_text(value: Any, name: str) -> str:
    try:
        return str(uuid.UUID(str(value)))
    except ValueError as exc:
        raise InvalidVisitField(name, "must be a UUID") from exc


def _findings(raw: Mapping[str, Any]) -> list[dict[str, str]]:
    cleaned: list[dict[str, str]] = []
    seen: set[str] = set()
    for index, item in enumerate(_json_list(raw, "findings")):
        if not isinstance(item, dict):
            raise InvalidVisitField(f"findings[{index}]", "must be {teacher_id, finding, note}")
        teacher_id = _uuid_text(item.get("teacher_id"), f"findings[{index}].teacher_id")
        finding = item.get("finding")
        if finding not in FINDINGS:
            raise UnknownFinding(
                f"findings[{index}].finding: {str(finding)[:40]!r} is not one of"
                f" {', '.join(FINDINGS)}"
            )
        if teacher_id in seen:
            raise DuplicateTeacher(f"findings: teacher {teacher_id} appears more than once")
        seen.add(teacher_id)
        note = item.get("note")
        cleaned.append(
            {
                "teacher_id": teacher_id,
                "finding": str(finding),
                "note": ("" if note is None else str(note))[:FINDING_NOTE_MAX],
            }
        )
    return cleaned


def clean_visit(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Typed, range-checked client values (JSON-able: what sync digests), sanitized where
    harmless (long notes are cut, repeated photo ids dropped)."""
    spot_check_id = _uuid_text(raw.get("spot_check_id"), "spot_check_id")
    arrived_at = device_values.epoch_ms(raw, "arrived_at", InvalidVisitField)
    where = device_values.position(raw, InvalidVisitField, COORD_SYSTEMS)
    elapsed = device_values.elapsed_ms(raw, "elapsed_ms", InvalidVisitField)
    boot_id = raw.get("boot_id") or None
    if boot_id is not None and (not isinstance(boot_id, str) or len(boot_id) > 64):
        raise InvalidVisitField("boot_id", "must be text of at most 64 characters")
    photo_ids = [_client_id(p, "photo_ids") for p in _json_list(raw, "photo_ids")]
    unique_photos = list(dict.fromkeys(p for p in photo_ids if p is not None))
    if len(unique_photos) > MAX_PHOTOS:
        raise InvalidVisitField("photo_ids", f"at most {MAX_PHOTOS} photos")
    return {
        "spot_check_id": spot_check_id,
        "arrived_at": arrived_at,
        "elapsed_ms": elapsed,
        "boot_id": boot_id,
        **where,
        "photo_ids": unique_photos,
        "signature_photo_id": _client_id(raw.get("signature_photo_id"), "signature_photo_id"),
        "findings": _findings(raw),
        "note": str(raw.get("note") or "")[:NOTE_MAX],
    }


# --- rules against the database ---------------------------------------------------------------


def _assigned_spot_check(
    session: Session, inspector_id: uuid.UUID, spot_check_id: str
) -> SpotCheck:
    """The spot check if it is assigned to this inspector; else one answer for "not yours"
    and "no such spot check" alike."""
    spot_check = session.scalars(
        sa.select(SpotCheck).where(
            SpotCheck.id == uuid.UUID(spot_check_id),
            SpotCheck.deleted_at.is_(None),
            SpotCheck.id.in_(
                sa.select(SpotCheckInspector.spot_check_id).where(
                    SpotCheckInspector.inspector_id == inspector_id
                )
            ),
        )
    ).one_or_none()
    if spot_check is None:
        raise NotAssigned(f"spot check {spot_check_id} is not assigned to you")
    if spot_check.status == "cancelled":
        raise SpotCheckCancelled(f"spot check {spot_check_id} was cancelled")
    return spot_check


def _check_teachers(
    session: Session, spot_check: SpotCheck, findings: list[dict[str, str]]
) -> None:
    drawn = {
        str(t)
        for t in session.scalars(
            sa.select(SpotCheckTeacher.teacher_id).where(
                SpotCheckTeacher.spot_check_id == spot_check.id
            )
        )
    }
    for f in findings:
        if f["teacher_id"] not in drawn:
            raise TeacherNotInSpotCheck(
                f"teacher {f['teacher_id']} was not drawn for spot check {spot_check.id}"
            )


def _check_assignment(
    session: Session, inspector_id: uuid.UUID, values: Mapping[str, Any]
) -> SpotCheck:
    spot_check = _assigned_spot_check(session, inspector_id, values["spot_check_id"])
    _check_teachers(session, spot_check, values["findings"])
    return spot_check


def new_visit_row(
    session: Session,
    *,
    record_id: str,
    inspector_id: uuid.UUID,
    values: dict[str, Any],
    digest: str,
    receipt: Receipt,
    batch: Mapping[str, dict[str, Any]],
) -> dict[str, Any]:
    """Every column of a visit as first received (a row to insert in bulk), or a
    :class:`DomainError`. ``batch``: this push's earlier new visits (not inserted yet)."""
    spot_check = _check_assignment(session, inspector_id, values)
    earlier = session.scalar(
        sa.select(SpotCheckVisit.id).where(
            SpotCheckVisit.spot_check_id == spot_check.id,
            SpotCheckVisit.inspector_id == inspector_id,
            SpotCheckVisit.deleted_at.is_(None),  # a withdrawn visit may be filed anew
        )
    ) or next(
        (
            i
            for i, r in batch.items()
            if r["spot_check_id"] == spot_check.id and r.get("deleted_at") is None
        ),
        None,
    )
    if earlier is not None:
        raise DuplicateVisit(
            f"you already recorded visit {earlier} for spot check {spot_check.id}: edit it"
        )
    return {
        "id": record_id,
        "inspector_id": inspector_id,
        **values,
        "spot_check_id": spot_check.id,
        "received_at": receipt.received_at,
        "estimated_at": None,
        "estimate_method": None,
        "wgs84_latitude": None,
        "wgs84_longitude": None,
        "distance_m": None,
        "location": None,
        "photo_state": None,
        "status": "accepted",
        "flags": [],
        "device_pk": receipt.device_pk,
        "push_device_time": receipt.device_time,
        "push_elapsed_ms": receipt.elapsed_ms,
        "push_boot_id": receipt.boot_id,
        "clock_skew_ms": receipt.skew_ms,
        "client_digest": digest,
        "created_at": receipt.received_at,
        "updated_at": receipt.received_at,
        "deleted_at": None,
    }


def judge_new(session: Session, rows: list[dict[str, Any]]) -> None:
    """Fill the server's judgement of arrival into new visit rows, before they are
    inserted: the estimated true time, the place against the school's fence, and flags."""
    checks = {
        s.id: s
        for s in session.scalars(
            sa.select(SpotCheck).where(SpotCheck.id.in_({r["spot_check_id"] for r in rows}))
        )
    }
    schools = {
        s.id: s
        for s in session.scalars(
            sa.select(School)
            .where(School.id.in_({c.school_id for c in checks.values()}))
            .options(selectinload(School.fence_points))
        )
    }
    for row in rows:
        spot_check = checks[row["spot_check_id"]]
        arrival = ev.Punch(
            kind="in",
            captured_at=row["arrived_at"],
            latitude=row["latitude"],
            longitude=row["longitude"],
            accuracy_m=row["accuracy_m"],
            coord_system=row["coord_system"],
            mock_location=row["mock_location"],
            elapsed_ms=row["elapsed_ms"],
            boot_id=row["boot_id"],
            has_photo=bool(row["photo_ids"]),
        )
        clock = checkins.push_clock(row)
        # The school is the visit's "host": a school with no fence is flagged no_fence.
        context = ev.Context(
            fences=checkins.fences_of(schools[spot_check.school_id]),
            has_active_secondment=True,
            photo_required=False,
            device_revoked_at=None,
            recent_same_kind_at=(),
        )
        result = ev.evaluate(arrival, clock, context)
        estimated = datetime.fromtimestamp(result.estimated_at / 1000, tz=UTC)
        flags = [{"code": f.code, "reason": f.reason} for f in result.flags]
        day = estimated.astimezone(CHINA).date()
        if not spot_check.window_start <= day <= spot_check.window_end:
            flags.append(
                {
                    "code": OUTSIDE_WINDOW,
                    "reason": f"visited on {day.isoformat()}, outside the spot check's window"
                    f" {spot_check.window_start.isoformat()} to"
                    f" {spot_check.window_end.isoformat()}",
                }
            )
        row.update(
            estimated_at=estimated,
            estimate_method=result.estimate_method,
            wgs84_latitude=result.latitude,
            wgs84_longitude=result.longitude,
            distance_m=result.distance_m,
            location=result.location,
            flags=flags,
            status="flagged" if flags else "accepted",
        )


def amend_visit(
    session: Session, visit: SpotCheckVisit, values: dict[str, Any], digest: str
) -> None:
    """An edit from the phone: findings, photos and note may change, nothing else."""
    stored = stored_values(visit)
    changed = [f for f in CLIENT_FIELDS if stored[f] != values[f]]
    immutable = [f for f in changed if f not in MUTABLE_FIELDS]
    if immutable:
        raise ImmutableVisit(f"a recorded visit's {', '.join(immutable)} cannot change")
    _check_assignment(session, visit.inspector_id, values)
    for name in changed:
        setattr(visit, name, values[name])
    visit.client_digest = digest


def stored_values(visit: SpotCheckVisit) -> dict[str, Any]:
    """The stored client values, in :func:`clean_visit`'s shape."""
    values = {name: getattr(visit, name) for name in CLIENT_FIELDS}
    values["spot_check_id"] = str(visit.spot_check_id)
    return values


def flag(visit: SpotCheckVisit, code: str, reason: str) -> None:
    """Add a flag (a new list, so the change is seen and journaled)."""
    visit.flags = [*visit.flags, {"code": code, "reason": reason}]
    visit.status = "flagged"


def withdraw_visit(visit: SpotCheckVisit, at: datetime) -> None:
    """The phone deleted it: keep it as a tombstone — it is evidence."""
    if visit.deleted_at is None:
        visit.deleted_at = at


# --- after the push: findings, photos, the spot check -----------------------------------------


def local_day_of(visit: SpotCheckVisit) -> date:
    at = visit.estimated_at or visit.received_at
    return at.astimezone(CHINA).date()


def derive_findings(session: Session, visit: SpotCheckVisit) -> set[tuple[uuid.UUID, date]]:
    """Rewrite the visit's finding rows from its findings and cross-check them. Returns the
    (host school, day) pairs whose findings changed."""
    spot_check = session.get(SpotCheck, visit.spot_check_id)
    assert spot_check is not None
    host, day = spot_check.school_id, local_day_of(visit)
    stored = {
        f.teacher_id: f
        for f in session.scalars(
            sa.select(SpotCheckFinding).where(SpotCheckFinding.visit_id == visit.id)
        )
    }
    touched: set[tuple[uuid.UUID, date]] = set()
    wanted = (
        {}
        if visit.deleted_at is not None
        else {uuid.UUID(f["teacher_id"]): f for f in visit.findings}
    )
    for teacher_id, old in stored.items():
        if teacher_id not in wanted:
            touched.add((old.host_school_id, old.day))
            session.delete(old)
    rows: list[SpotCheckFinding] = []
    for teacher_id, f in wanted.items():
        row = stored.get(teacher_id)
        if row is None:
            row = SpotCheckFinding(
                visit_id=visit.id,
                spot_check_id=visit.spot_check_id,
                teacher_id=teacher_id,
                host_school_id=host,
                day=day,
                finding=f["finding"],
                note=f["note"],
                discrepancies=[],
            )
            session.add(row)
            touched.add((host, day))
        elif (row.finding, row.note, row.host_school_id, row.day) != (
            f["finding"],
            f["note"],
            host,
            day,
        ):
            row.finding, row.note, row.host_school_id, row.day = f["finding"], f["note"], host, day
            touched.add((host, day))
        rows.append(row)
    if visit.deleted_at is None:
        if crosscheck.check(session, visit, rows):
            touched.add((host, day))
        if spot_check.status == "assigned":
            # The first visit ends the secret: the school now knows it was checked.
            spot_check.status = "visited"
            spot_check.visited_at = visit.estimated_at or visit.received_at
    return touched


def after_push(session: Session, inspector_id: uuid.UUID, ids: list[str]) -> None:
    """A push stored, changed or withdrew these visits (all flushed): settle their photos,
    derive their findings, and tell the reports which teacher days were inspected."""
    session.flush()
    visits = list(
        session.scalars(
            sa.select(SpotCheckVisit)
            .where(SpotCheckVisit.id.in_(ids), SpotCheckVisit.inspector_id == inspector_id)
            .order_by(SpotCheckVisit.id)
        )
    )
    visit_photos.refresh(session, [v for v in visits if v.deleted_at is None])
    touched: set[tuple[uuid.UUID, date]] = set()
    for visit in visits:
        touched |= derive_findings(session, visit)
    session.flush()
    if touched:
        what = f"visit {visits[0].id}" if len(visits) == 1 else f"{len(visits)} visits"
        teacher_days_changed.send(session, days=touched, cause=f"{crosscheck.VISIT_CAUSE} {what}")

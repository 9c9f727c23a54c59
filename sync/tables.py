"""The synced tables. Version 1: check_ins (pushed by teachers), and the teacher's own
secondments and the schools involved (read-only, pulled). Version 2 adds the teacher's
leave requests and punch corrections (pushed; ``sync.request_tables``) and their judged
attendance days (read-only). Version 3 adds an inspector's spot checks (read-only) and
visits (pushed; ``sync.inspection_tables``). Version 4 adds the communities' joint timetables
(read-only) and class report forms (pushed; ``sync.class_tables``), and their evidence
(pushed by school admins; ``sync.evidence_tables``)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from backend.attendance import checkins as attendance_checkins
from backend.attendance import services as attendance
from backend.attendance.day_models import TeacherDay
from backend.attendance.models import CheckIn
from backend.attendance.services import Receipt
from backend.auth.policy import Action, Principal, Resource, scope
from backend.clock import days_ago, epoch_ms, today
from backend.exchange.models import Secondment, Teacher
from backend.org.models import School
from sync.class_tables import CLASS_SESSIONS, TIMETABLE_ENTRIES
from sync.evidence_tables import EVIDENCE_ITEMS
from sync.inspection_tables import SPOT_CHECK_VISITS, SPOT_CHECKS
from sync.registry import Column, Registry, Rejected, SyncTable, WireType
from sync.request_tables import LEAVE_REQUESTS, PUNCH_CORRECTIONS

# A teacher's phone keeps the last two months of their own check-ins.
CHECK_IN_WINDOW_DAYS = 62


# --- check_ins -----------------------------------------------------------------------------


def _check_ins_for(p: Principal) -> sa.Select[Any] | None:
    if p.role != "teacher":
        return None
    return sa.select(CheckIn).where(
        CheckIn.teacher_id == p.teacher_id,
        CheckIn.deleted_at.is_(None),
        CheckIn.received_at >= days_ago(CHECK_IN_WINDOW_DAYS),
    )


def _check_in_wire(row: CheckIn) -> dict[str, Any]:
    return {
        "id": row.id,
        **{name: getattr(row, name) for name in attendance.CLIENT_FIELDS},
        "received_at": epoch_ms(row.received_at),
        "photo_state": row.photo_state,
        "location": row.location,
        "distance_m": None if row.distance_m is None else round(row.distance_m, 1),
        "estimated_at": None if row.estimated_at is None else epoch_ms(row.estimated_at),
        "host_school_id": None if row.host_school_id is None else str(row.host_school_id),
        "status": row.status,
        "flags": json.dumps(row.flags, ensure_ascii=False),
    }


class CheckInWriter:
    roles = frozenset({"teacher"})

    def clean(self, raw: dict[str, Any]) -> dict[str, Any]:
        try:
            return attendance.clean_check_in(raw)
        except attendance.InvalidCheckIn as exc:
            raise Rejected("invalid_field", str(exc)) from exc

    def owner_matches(self, row: CheckIn, principal: Principal) -> bool:
        return row.teacher_id == principal.teacher_id

    def new_row(
        self,
        session: Session,
        principal: Principal,
        record_id: str,
        values: dict[str, Any],
        digest: str,
        receipt: Receipt,
        batch: Mapping[str, dict[str, Any]],
    ) -> dict[str, Any]:
        assert principal.teacher_id is not None  # roles = {"teacher"}
        return attendance.new_check_in(
            record_id=record_id,
            teacher_id=principal.teacher_id,
            values=values,
            digest=digest,
            receipt=receipt,
        )

    def update(self, session: Session, row: CheckIn, values: dict[str, Any], digest: str) -> None:
        try:
            attendance.amend_check_in(row, values, digest)
        except attendance.ImmutableCheckIn as exc:
            raise Rejected("immutable_field", str(exc)) from exc

    def mark_rejected_update(self, row: CheckIn, reason: str) -> None:
        attendance.flag(row, "update_rejected", reason)

    def delete(self, row: CheckIn, receipt: Receipt) -> None:
        attendance.withdraw_check_in(row, receipt.received_at)

    def prepare_new(
        self, session: Session, principal: Principal, rows: list[dict[str, Any]]
    ) -> None:
        assert principal.teacher_id is not None
        attendance_checkins.evaluate_new(session, principal.teacher_id, principal.device_pk, rows)

    def delete_new(self, row: dict[str, Any], receipt: Receipt) -> None:
        row["deleted_at"] = receipt.received_at

    def after_write(self, session: Session, principal: Principal, record_ids: list[str]) -> None:
        assert principal.teacher_id is not None
        attendance_checkins.after_push(session, principal.teacher_id, record_ids)


CHECK_INS = SyncTable(
    name="check_ins",
    model=CheckIn,
    doc="A teacher's punches. Pushed by teachers; attributed to the token's teacher.",
    columns=(
        Column("kind", "string", optional=False, doc='"in" or "out"'),
        Column("captured_at", "number", optional=False, doc="device epoch ms at capture"),
        Column("latitude", "number", optional=False),
        Column("longitude", "number", optional=False),
        Column("accuracy_m", "number", doc="GPS accuracy radius, metres"),
        Column("coord_system", "string", doc='"wgs84" (default) or "gcj02"'),
        Column("mock_location", "boolean", doc="the OS reported a mock location"),
        Column("photo_id", "string", doc="client id of the photo upload"),
        Column("photo_sha256", "string", doc="sha256 of the photo, hex"),
        Column("elapsed_ms", "number", doc="device ms since boot at capture"),
        Column("boot_id", "string", doc="id of the device boot session"),
        Column("note", "string"),
        Column("received_at", "number", server_owned=True, doc="server epoch ms of receipt"),
        Column(
            "photo_state",
            "string",
            server_owned=True,
            doc="expected | uploading | verified | mismatch | invalid (null: no photo)",
        ),
        Column(
            "location",
            "string",
            server_owned=True,
            doc="inside | outside | uncertain | unknown: against the host school's fence",
        ),
        Column(
            "distance_m",
            "number",
            server_owned=True,
            doc="metres beyond the nearest fence edge (negative: inside)",
        ),
        Column(
            "estimated_at",
            "number",
            server_owned=True,
            doc="the server's estimate of the true capture time, epoch ms",
        ),
        Column("host_school_id", "string", server_owned=True, doc="school of the secondment"),
        Column(
            "status", "string", server_owned=True, doc="accepted | flagged | rejected | quarantined"
        ),
        Column("flags", "string", server_owned=True, doc="JSON array of {code, reason}"),
    ),
    rows_for=_check_ins_for,
    to_wire=_check_in_wire,
    writer=CheckInWriter(),
)


# --- secondments (read-only) ---------------------------------------------------------------


def _secondments_for(p: Principal) -> sa.Select[Any] | None:
    if p.role != "teacher":
        return None
    # Ended or cancelled secondments leave the phone (they arrive as deleted).
    return sa.select(Secondment).where(
        Secondment.teacher_id == p.teacher_id,
        Secondment.status == "active",
        Secondment.end_on >= today(),
        Secondment.deleted_at.is_(None),
    )


def _secondment_wire(row: Secondment) -> dict[str, Any]:
    return {
        "id": str(row.id),
        "teacher_id": str(row.teacher_id),
        "home_school_id": str(row.home_school_id),
        "host_school_id": str(row.host_school_id),
        "kind": row.kind,
        "role": row.role,
        "start_on": row.start_on.isoformat(),
        "end_on": row.end_on.isoformat(),
        "status": row.status,
    }


SECONDMENTS = SyncTable(
    name="secondments",
    model=Secondment,
    doc="The teacher's current secondments (read-only).",
    columns=(
        Column("teacher_id", "string", server_owned=True),
        Column("home_school_id", "string", server_owned=True),
        Column("host_school_id", "string", server_owned=True),
        Column("kind", "string", server_owned=True),
        Column("role", "string", server_owned=True),
        Column("start_on", "string", server_owned=True, doc="YYYY-MM-DD"),
        Column("end_on", "string", server_owned=True, doc="YYYY-MM-DD, inclusive"),
        Column("status", "string", server_owned=True),
    ),
    rows_for=_secondments_for,
    to_wire=_secondment_wire,
)


# --- schools (read-only) -------------------------------------------------------------------


def _schools_for(p: Principal) -> sa.Select[Any] | None:
    live = School.deleted_at.is_(None)
    if p.role == "teacher":
        own = _secondments_for(p)
        assert own is not None
        hosts = sa.select(own.subquery().c.host_school_id)
        home = sa.select(Teacher.home_school_id).where(Teacher.id == p.teacher_id)
        condition = sa.or_(School.id.in_(home), School.id.in_(hosts))
    elif p.role in {"school_admin", "inspector"}:
        condition = scope(p, Resource.SCHOOL, Action.READ)
    else:
        return None
    return sa.select(School).where(condition, live).options(selectinload(School.fence_points))


def _school_wire(row: School) -> dict[str, Any]:
    fence = [
        {"label": f.label, "latitude": f.latitude, "longitude": f.longitude, "radius_m": f.radius_m}
        for f in row.fence_points
    ]
    return {
        "id": str(row.id),
        "code": row.code,
        "name": row.name,
        "kind": row.kind,
        "locality": row.locality,
        "latitude": row.latitude,
        "longitude": row.longitude,
        "geofence_radius_m": row.geofence_radius_m,
        "fence_points": json.dumps(fence, ensure_ascii=False),
    }


SCHOOLS = SyncTable(
    name="schools",
    model=School,
    doc="Schools the user works at or oversees, with their geofence (read-only).",
    columns=(
        Column("code", "string", server_owned=True),
        Column("name", "string", server_owned=True),
        Column("kind", "string", server_owned=True),
        Column("locality", "string", server_owned=True),
        Column("latitude", "number", server_owned=True, doc="WGS-84"),
        Column("longitude", "number", server_owned=True, doc="WGS-84"),
        Column("geofence_radius_m", "number", server_owned=True),
        Column(
            "fence_points", "string", server_owned=True, doc="JSON array of extra fence centres"
        ),
    ),
    rows_for=_schools_for,
    to_wire=_school_wire,
)

# --- attendance_days (read-only, version 2) ------------------------------------------------


def _attendance_days_for(p: Principal) -> sa.Select[Any] | None:
    if p.role != "teacher":
        return None
    # The judged days of the last two months: the teacher's own month, offline.
    return sa.select(TeacherDay).where(
        TeacherDay.teacher_id == p.teacher_id,
        TeacherDay.deleted_at.is_(None),
        TeacherDay.day >= today() - timedelta(days=CHECK_IN_WINDOW_DAYS),
    )


def _ms_or_none(moment: datetime | None) -> int | None:
    return None if moment is None else epoch_ms(moment)


def _attendance_day_wire(row: TeacherDay) -> dict[str, Any]:
    return {
        "id": str(row.id),
        "date": row.day.isoformat(),
        "status": row.status,
        "host_school_id": str(row.host_school_id),
        "day_kind": row.day_kind,
        "day_name": row.day_name,
        "leave_type": row.leave_type,
        "leave_halves": row.leave_halves,
        "duty_halves": row.duty_halves,
        "in_at": _ms_or_none(row.in_at),
        "out_at": _ms_or_none(row.out_at),
        "late_minutes": row.late_minutes,
        "early_minutes": row.early_minutes,
        "open_flags": row.open_flags,
        "explanation": json.dumps(row.explanation, ensure_ascii=False),
        "version": row.version,
    }


def _day_column(name: str, wire: WireType, doc: str = "") -> Column:
    return Column(name, wire, server_owned=True, since=2, doc=doc)


ATTENDANCE_DAYS = SyncTable(
    name="attendance_days",
    model=TeacherDay,
    since=2,
    doc="The teacher's judged days (read-only): status, times, leave, and why.",
    columns=(
        _day_column("date", "string", "YYYY-MM-DD"),
        _day_column("status", "string", "present | late | … (docs/attendance.md)"),
        _day_column("host_school_id", "string"),
        _day_column("day_kind", "string", "workday | weekend | holiday | vacation | …"),
        _day_column("day_name", "string", "e.g. 国庆节, 春节调休上班"),
        _day_column("leave_type", "string"),
        _day_column("leave_halves", "number"),
        _day_column("duty_halves", "number"),
        _day_column("in_at", "number", "first counted check-in, epoch ms"),
        _day_column("out_at", "number", "last counted check-out, epoch ms"),
        _day_column("late_minutes", "number"),
        _day_column("early_minutes", "number"),
        _day_column("open_flags", "number", "flags on the day's punches awaiting review"),
        _day_column("explanation", "string", "JSON array of {code, reason}"),
        _day_column("version", "number", "how many times the verdict changed, plus one"),
    ),
    rows_for=_attendance_days_for,
    to_wire=_attendance_day_wire,
)

REGISTRY = Registry(
    [
        CHECK_INS,
        SECONDMENTS,
        SCHOOLS,
        LEAVE_REQUESTS,
        PUNCH_CORRECTIONS,
        ATTENDANCE_DAYS,
        SPOT_CHECKS,
        SPOT_CHECK_VISITS,
        TIMETABLE_ENTRIES,
        CLASS_SESSIONS,
        EVIDENCE_ITEMS,
    ]
)

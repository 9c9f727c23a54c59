"""The synced tables of schema version 3: an inspector's spot checks (read-only) and the
visits they record on their phone, offline (pushed; ``backend.inspection.visits``).

Spot checks are secret until visited, so only the inspectors they are assigned to pull
them: teachers, school admins and bureau admins pull none (the bureau works in a browser).
A spot check that is cancelled, reassigned to someone else, or whose window closed more
than a month ago leaves the phone as ``deleted``. A visit is evidence: where and when the
inspector arrived never changes; the findings, photos and note may be edited; deleting it
withdraws it (a tombstone), it is never erased.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, object_session

from backend import clock
from backend.attendance.services import Receipt
from backend.auth.models import User
from backend.auth.policy import Action, Principal, Resource, scope
from backend.clock import days_ago, epoch_ms
from backend.errors import DomainError
from backend.exchange.models import Teacher
from backend.inspection import visits
from backend.inspection.models import (
    SpotCheck,
    SpotCheckFinding,
    SpotCheckInspector,
    SpotCheckTeacher,
    SpotCheckVisit,
)
from backend.org.models import School
from sync.registry import Column, Rejected, SyncTable, WireType

VERSION = 3
# A spot check stays on the inspector's phone for a month after its window closes (a
# visit may still be edited or synced late); visits, like check-ins, for two months.
SPOT_CHECK_DAYS_AFTER_WINDOW = 30
VISIT_WINDOW_DAYS = 62


def _session_of(row: Any) -> Session:
    session = object_session(row)
    assert session is not None  # rows come from the pull's own queries
    return session


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


# --- spot_checks (read-only) ------------------------------------------------------------------


def _spot_checks_for(p: Principal) -> sa.Select[Any] | None:
    if p.role != "inspector":
        return None
    return sa.select(SpotCheck).where(
        scope(p, Resource.SPOT_CHECK, Action.READ),  # assigned to them
        SpotCheck.status != "cancelled",
        SpotCheck.deleted_at.is_(None),
        SpotCheck.window_end >= clock.today() - timedelta(days=SPOT_CHECK_DAYS_AFTER_WINDOW),
    )


def _spot_check_wire(row: SpotCheck) -> dict[str, Any]:
    session = _session_of(row)
    school = session.get(School, row.school_id)
    assert school is not None
    teachers = session.execute(
        sa.select(Teacher.id, Teacher.name, Teacher.staff_no)
        .join(SpotCheckTeacher, SpotCheckTeacher.teacher_id == Teacher.id)
        .where(SpotCheckTeacher.spot_check_id == row.id)
        .order_by(Teacher.staff_no)
    ).all()
    inspectors = session.execute(
        sa.select(User.id, User.display_name, User.username)
        .join(SpotCheckInspector, SpotCheckInspector.inspector_id == User.id)
        .where(SpotCheckInspector.spot_check_id == row.id)
        .order_by(User.username)
    ).all()
    return {
        "id": str(row.id),
        "plan_id": str(row.plan_id),
        "school_id": str(row.school_id),
        "school_name": school.name,
        "school_latitude": school.latitude,
        "school_longitude": school.longitude,
        "geofence_radius_m": school.geofence_radius_m,
        "window_start": row.window_start.isoformat(),
        "window_end": row.window_end.isoformat(),
        "status": row.status,
        "teachers": _json(
            [{"teacher_id": str(i), "name": name, "staff_no": no} for i, name, no in teachers]
        ),
        # Every inspector of the spot check; the app leaves out its own user.
        "inspectors": _json(
            [{"user_id": str(i), "name": shown or login} for i, shown, login in inspectors]
        ),
    }


def _owned(name: str, wire: WireType, doc: str = "") -> Column:
    return Column(name, wire, server_owned=True, since=VERSION, doc=doc)


SPOT_CHECKS = SyncTable(
    name="spot_checks",
    model=SpotCheck,
    since=VERSION,
    doc="The inspector's assigned spot checks (双随机): where, when, whom (read-only).",
    columns=(
        _owned("plan_id", "string"),
        _owned("school_id", "string"),
        _owned("school_name", "string"),
        _owned("school_latitude", "number", "WGS-84"),
        _owned("school_longitude", "number", "WGS-84"),
        _owned("geofence_radius_m", "number", "metres"),
        _owned("window_start", "string", "YYYY-MM-DD, first day a visit may fall on"),
        _owned("window_end", "string", "YYYY-MM-DD, inclusive"),
        _owned("status", "string", "assigned | visited"),
        _owned("teachers", "string", "JSON array of {teacher_id, name, staff_no}"),
        _owned("inspectors", "string", "JSON array of {user_id, name}: every inspector"),
    ),
    rows_for=_spot_checks_for,
    to_wire=_spot_check_wire,
)


# --- spot_check_visits (pushed by inspectors) -------------------------------------------------


def _visits_for(p: Principal) -> sa.Select[Any] | None:
    if p.role != "inspector":
        return None
    return sa.select(SpotCheckVisit).where(
        scope(p, Resource.SPOT_CHECK_VISIT, Action.READ),  # their own
        SpotCheckVisit.deleted_at.is_(None),
        SpotCheckVisit.received_at >= days_ago(VISIT_WINDOW_DAYS),
    )


def _visit_wire(row: SpotCheckVisit) -> dict[str, Any]:
    findings = _session_of(row).scalars(
        sa.select(SpotCheckFinding)
        .where(SpotCheckFinding.visit_id == row.id)
        .order_by(SpotCheckFinding.teacher_id)
    )
    discrepancies = [
        {"teacher_id": str(f.teacher_id), **d} for f in findings for d in f.discrepancies
    ]
    return {
        "id": row.id,
        "spot_check_id": str(row.spot_check_id),
        "arrived_at": row.arrived_at,
        "elapsed_ms": row.elapsed_ms,
        "boot_id": row.boot_id,
        "latitude": row.latitude,
        "longitude": row.longitude,
        "accuracy_m": row.accuracy_m,
        "coord_system": row.coord_system,
        "mock_location": row.mock_location,
        "photo_ids": _json(list(row.photo_ids)),
        "signature_photo_id": row.signature_photo_id,
        "findings": _json(list(row.findings)),
        "note": row.note,
        "received_at": epoch_ms(row.received_at),
        "estimated_at": None if row.estimated_at is None else epoch_ms(row.estimated_at),
        "location": row.location,
        "distance_m": None if row.distance_m is None else round(row.distance_m, 1),
        "photo_state": row.photo_state,
        "status": row.status,
        "flags": _json(row.flags),
        "discrepancies": _json(discrepancies),
    }


class VisitWriter:
    roles = frozenset({"inspector"})

    def clean(self, raw: dict[str, Any]) -> dict[str, Any]:
        try:
            return visits.clean_visit(raw)
        except DomainError as exc:
            raise Rejected.because(exc) from exc

    def owner_matches(self, row: SpotCheckVisit, principal: Principal) -> bool:
        return row.inspector_id == principal.user_id

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
        try:
            return visits.new_visit_row(
                session,
                record_id=record_id,
                inspector_id=principal.user_id,
                values=values,
                digest=digest,
                receipt=receipt,
                batch=batch,
            )
        except DomainError as exc:
            raise Rejected.because(exc) from exc

    def update(
        self, session: Session, row: SpotCheckVisit, values: dict[str, Any], digest: str
    ) -> None:
        try:
            visits.amend_visit(session, row, values, digest)
        except DomainError as exc:
            raise Rejected.because(exc) from exc

    def mark_rejected_update(self, row: SpotCheckVisit, reason: str) -> None:
        visits.flag(row, "update_rejected", reason)

    def delete(self, row: SpotCheckVisit, receipt: Receipt) -> None:
        visits.withdraw_visit(row, receipt.received_at)

    def prepare_new(
        self, session: Session, principal: Principal, rows: list[dict[str, Any]]
    ) -> None:
        visits.judge_new(session, rows)

    def delete_new(self, row: dict[str, Any], receipt: Receipt) -> None:
        row["deleted_at"] = receipt.received_at

    def after_write(self, session: Session, principal: Principal, record_ids: list[str]) -> None:
        visits.after_push(session, principal.user_id, record_ids)


def _visit_column(name: str, wire: WireType, doc: str = "", *, optional: bool = True) -> Column:
    return Column(name, wire, optional=optional, since=VERSION, doc=doc)


SPOT_CHECK_VISITS = SyncTable(
    name="spot_check_visits",
    model=SpotCheckVisit,
    since=VERSION,
    doc="Inspectors' visits: arrival, position, photos, findings per teacher. Pushed by"
    " the inspector; each co-inspector files their own.",
    columns=(
        _visit_column("spot_check_id", "string", "a spot check assigned to you", optional=False),
        _visit_column("arrived_at", "number", "device epoch ms on arrival", optional=False),
        _visit_column("elapsed_ms", "number", "device ms since boot on arrival"),
        _visit_column("boot_id", "string", "id of the device boot session"),
        _visit_column("latitude", "number", optional=False),
        _visit_column("longitude", "number", optional=False),
        _visit_column("accuracy_m", "number", "GPS accuracy radius, metres"),
        _visit_column("coord_system", "string", '"wgs84" (default) or "gcj02"'),
        _visit_column("mock_location", "boolean", "the OS reported a mock location"),
        _visit_column("photo_ids", "string", "JSON array of photo upload ids (mutable)"),
        _visit_column("signature_photo_id", "string", "photo of the signature (mutable)"),
        _visit_column("findings", "string", "JSON array of {teacher_id, finding, note} (mutable)"),
        _visit_column("note", "string", "mutable"),
        _owned("received_at", "number", "server epoch ms of receipt"),
        _owned("estimated_at", "number", "the server's estimate of the arrival, epoch ms"),
        _owned("location", "string", "inside | outside | uncertain | unknown"),
        _owned("distance_m", "number", "metres beyond the school's fence (negative: inside)"),
        _owned("photo_state", "string", "the least settled photo's state (null: none)"),
        _owned("status", "string", "accepted | flagged | quarantined"),
        _owned("flags", "string", "JSON array of {code, reason}"),
        _owned("discrepancies", "string", "JSON array of {teacher_id, code, reason}"),
    ),
    rows_for=_visits_for,
    to_wire=_visit_wire,
    writer=VisitWriter(),
)

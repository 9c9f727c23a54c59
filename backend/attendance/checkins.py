"""Judging check-ins as they arrive: which secondment and host school they belong to,
where they were taken relative to the fence, when they were really taken, and the flags
that explain anything odd. The rules are pure (``evaluation``); this module gathers their
inputs from the database, a whole push at a time (a bounded number of queries)."""

from __future__ import annotations

import uuid
from dataclasses import asdict
from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from backend.attendance import evaluation as ev
from backend.attendance.models import CheckIn
from backend.auth.models import Device
from backend.clock import CHINA, epoch_ms
from backend.exchange.models import Secondment
from backend.org.models import School


def _local_day(ms: int) -> date:
    return datetime.fromtimestamp(ms / 1000, tz=CHINA).date()


def _utc(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def _fences(school: School) -> tuple[ev.Fence, ...]:
    main = ev.Fence(school.latitude, school.longitude, float(school.geofence_radius_m))
    extra = tuple(ev.Fence(f.latitude, f.longitude, float(f.radius_m)) for f in school.fence_points)
    return (main, *extra)


def _inputs(row: dict[str, Any]) -> tuple[ev.Punch, ev.PushClock]:
    punch = ev.Punch(
        kind=row["kind"],
        captured_at=row["captured_at"],
        latitude=row["latitude"],
        longitude=row["longitude"],
        accuracy_m=row["accuracy_m"],
        coord_system=row["coord_system"],
        mock_location=row["mock_location"],
        elapsed_ms=row["elapsed_ms"],
        boot_id=row["boot_id"],
        has_photo=bool(row["photo_id"]),
    )
    clock = ev.PushClock(
        received_at=epoch_ms(row["received_at"]),
        device_time=row["push_device_time"],
        elapsed_ms=row["push_elapsed_ms"],
        boot_id=row["push_boot_id"],
    )
    return punch, clock


def evaluate_new(
    session: Session, teacher_id: uuid.UUID, device_pk: uuid.UUID | None, rows: list[dict[str, Any]]
) -> None:
    """Fill the server's judgement into new check-in rows, before they are inserted."""
    if not rows:
        return
    prepared = []
    for row in rows:
        punch, clock = _inputs(row)
        estimate, _ = ev.estimate_capture_time(punch, clock)
        prepared.append((row, punch, clock, min(estimate, clock.received_at)))
    days = {_local_day(at) for *_, at in prepared}
    first, last = min(days), max(days)
    secondments = list(
        session.scalars(
            sa.select(Secondment)
            .where(
                Secondment.teacher_id == teacher_id,
                Secondment.status == "active",
                Secondment.start_on <= last,
                Secondment.end_on >= first,
            )
            .options(selectinload(Secondment.host_school).selectinload(School.fence_points))
        )
    )
    device = session.get(Device, device_pk) if device_pk else None
    revoked = epoch_ms(device.revoked_at) if device and device.revoked_at else None
    # The teacher's other punches around those days, by their estimated time.
    since = datetime.combine(first - timedelta(days=1), datetime.min.time(), CHINA)
    until = datetime.combine(last + timedelta(days=2), datetime.min.time(), CHINA)
    around = session.execute(
        sa.select(CheckIn.kind, CheckIn.estimated_at).where(
            CheckIn.teacher_id == teacher_id,
            CheckIn.deleted_at.is_(None),
            CheckIn.estimated_at >= since,
            CheckIn.estimated_at < until,
        )
    ).all()
    seen = [(kind, epoch_ms(at)) for kind, at in around if at is not None]
    for row, punch, clock, at in prepared:
        day = _local_day(at)
        active = next((s for s in secondments if s.start_on <= day <= s.end_on), None)
        context = ev.Context(
            fences=_fences(active.host_school) if active else (),
            has_active_secondment=active is not None,
            photo_required=False,  # per-region rules arrive with the rest of issue 5
            device_revoked_at=revoked,
            recent_same_kind_at=tuple(t for kind, t in seen if kind == punch.kind),
        )
        result = ev.evaluate(punch, clock, context)
        row.update(
            secondment_id=active.id if active else None,
            host_school_id=active.host_school_id if active else None,
            wgs84_latitude=result.latitude,
            wgs84_longitude=result.longitude,
            distance_m=result.distance_m,
            location=result.location,
            estimated_at=_utc(result.estimated_at),
            estimate_method=result.estimate_method,
            flags=[*row["flags"], *(asdict(f) for f in result.flags)],
        )
        row["status"] = "flagged" if row["flags"] else "accepted"
        seen.append((punch.kind, result.estimated_at))

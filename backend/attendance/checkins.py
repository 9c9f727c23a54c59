"""Judging check-ins: which secondment and host school they belong to, where they were
taken relative to the fence, when they were really taken, and the flags that explain
anything odd. The rules are pure (``evaluation``); this module gathers their inputs from
the database, a whole push at a time (a bounded number of queries).

Check-ins are judged as they arrive, and judged again when what they were judged against
changes afterwards: a secondment created, extended or cancelled later (the teacher punched
before the bureau entered it). Re-judging replaces the evaluation's own flags and keeps
every other (a refused update, a reused photo): evidence is never lost.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict
from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from backend.attendance import daybook
from backend.attendance import evaluation as ev
from backend.attendance import photos as attendance_photos
from backend.attendance.models import CheckIn
from backend.attendance.rules import RuleBook, rulebook
from backend.auth.models import Device
from backend.clock import CHINA, epoch_ms, today
from backend.events import secondment_changed
from backend.exchange.models import Secondment
from backend.org.models import School


def _local_day(ms: int) -> date:
    return datetime.fromtimestamp(ms / 1000, tz=CHINA).date()


def _utc(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def fences_of(school: School) -> tuple[ev.Fence, ...]:
    """The school's fences: its main circle and its extra points (spot-check visits too)."""
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
    return punch, push_clock(row)


def push_clock(row: dict[str, Any]) -> ev.PushClock:
    """The device clock as it stood when the push carrying ``row`` arrived (any record
    stored with a Receipt's columns: check-ins, spot-check visits)."""
    return ev.PushClock(
        received_at=epoch_ms(row["received_at"]),
        device_time=row["push_device_time"],
        elapsed_ms=row["push_elapsed_ms"],
        boot_id=row["push_boot_id"],
    )


class _Judge:
    """What judging a teacher's check-ins over some days needs, loaded once."""

    def __init__(self, session: Session, teacher_id: uuid.UUID, first: date, last: date) -> None:
        self.secondments = list(
            session.scalars(
                sa.select(Secondment)
                .where(
                    Secondment.teacher_id == teacher_id,
                    Secondment.status == "active",
                    Secondment.deleted_at.is_(None),
                    Secondment.start_on <= last,
                    Secondment.end_on >= first,
                )
                .options(selectinload(Secondment.host_school).selectinload(School.fence_points))
            )
        )
        self.books: dict[uuid.UUID, RuleBook] = {
            s.host_school_id: rulebook(session, s.host_school_id) for s in self.secondments
        }
        self._session = session
        self._revoked: dict[uuid.UUID | None, int | None] = {None: None}

    def revoked_at(self, device_pk: uuid.UUID | None) -> int | None:
        if device_pk not in self._revoked:
            device = self._session.get(Device, device_pk)
            revoked = device.revoked_at if device else None
            self._revoked[device_pk] = epoch_ms(revoked) if revoked else None
        return self._revoked[device_pk]

    def judge(self, row: dict[str, Any], at: int, same_kind_at: tuple[int, ...]) -> dict[str, Any]:
        """The server-owned columns of ``row`` (estimated capture time ``at``)."""
        punch, clock = _inputs(row)
        day = _local_day(at)
        active = next((s for s in self.secondments if s.start_on <= day <= s.end_on), None)
        rules = self.books[active.host_school_id].on(day) if active else None
        context = ev.Context(
            fences=fences_of(active.host_school) if active else (),
            has_active_secondment=active is not None,
            photo_required=rules.photo_required if rules else False,
            device_revoked_at=self.revoked_at(row["device_pk"]),
            recent_same_kind_at=same_kind_at,
            **({"late_sync_days": rules.late_sync_days} if rules else {}),
        )
        result = ev.evaluate(punch, clock, context)
        return {
            "secondment_id": active.id if active else None,
            "host_school_id": active.host_school_id if active else None,
            "wgs84_latitude": result.latitude,
            "wgs84_longitude": result.longitude,
            "distance_m": result.distance_m,
            "location": result.location,
            "estimated_at": _utc(result.estimated_at),
            "estimate_method": result.estimate_method,
            "flags": [asdict(f) for f in result.flags],
        }


def _estimate(row: dict[str, Any]) -> int:
    punch, clock = _inputs(row)
    estimate, _ = ev.estimate_capture_time(punch, clock)
    return min(estimate, clock.received_at)


def _around(
    session: Session, teacher_id: uuid.UUID, first: date, last: date
) -> list[tuple[str, str, int, datetime]]:
    """The teacher's live punches around those days: (id, kind, estimated ms, received)."""
    since = datetime.combine(first - timedelta(days=1), datetime.min.time(), CHINA)
    until = datetime.combine(last + timedelta(days=2), datetime.min.time(), CHINA)
    rows = session.execute(
        sa.select(CheckIn.id, CheckIn.kind, CheckIn.estimated_at, CheckIn.received_at).where(
            CheckIn.teacher_id == teacher_id,
            CheckIn.deleted_at.is_(None),
            CheckIn.estimated_at >= since,
            CheckIn.estimated_at < until,
        )
    ).all()
    return [(i, kind, epoch_ms(at), received) for i, kind, at, received in rows if at is not None]


def evaluate_new(
    session: Session, teacher_id: uuid.UUID, device_pk: uuid.UUID | None, rows: list[dict[str, Any]]
) -> None:
    """Fill the server's judgement into new check-in rows, before they are inserted."""
    if not rows:
        return
    prepared = [(row, _estimate(row)) for row in rows]
    days = {_local_day(at) for _, at in prepared}
    judge = _Judge(session, teacher_id, min(days), max(days))
    # Punches already stored count as "recent", then this push's, in the order sent.
    seen = [(kind, at) for _, kind, at, _ in _around(session, teacher_id, min(days), max(days))]
    for row, at in prepared:
        judged = judge.judge(
            {**row, "device_pk": device_pk},
            at,
            tuple(t for kind, t in seen if kind == row["kind"]),
        )
        judged["flags"] = [*row["flags"], *judged["flags"]]
        row.update(judged)
        row["status"] = "flagged" if row["flags"] else "accepted"
        seen.append((row["kind"], at))


_JUDGED_INPUTS = (
    "kind",
    "captured_at",
    "latitude",
    "longitude",
    "accuracy_m",
    "coord_system",
    "mock_location",
    "elapsed_ms",
    "boot_id",
    "photo_id",
    "received_at",
    "push_device_time",
    "push_elapsed_ms",
    "push_boot_id",
    "device_pk",
)


def reevaluate(session: Session, teacher_id: uuid.UUID, first: date, last: date, cause: str) -> int:
    """Judge the teacher's check-ins captured from ``first`` to ``last`` again, as if each
    arrived now with what was known before it (punches received earlier count as the
    "recent" ones for duplicates). Recomputes the days whose check-ins changed. Returns how
    many check-ins changed."""
    since = datetime.combine(first - timedelta(days=1), datetime.min.time(), CHINA)
    until = datetime.combine(last + timedelta(days=2), datetime.min.time(), CHINA)
    check_ins = list(
        session.scalars(
            sa.select(CheckIn)
            .where(
                CheckIn.teacher_id == teacher_id,
                CheckIn.deleted_at.is_(None),
                CheckIn.estimated_at >= since,
                CheckIn.estimated_at < until,
            )
            .order_by(CheckIn.received_at, CheckIn.id)
        )
    )
    check_ins = [
        c
        for c in check_ins
        if c.estimated_at is not None and first <= daybook.local_day(c.estimated_at) <= last
    ]
    if not check_ins:
        return 0
    judge = _Judge(session, teacher_id, first, last)
    around = _around(session, teacher_id, first, last)
    own = set(ev.FLAG_CODES)
    touched: set[date] = set()
    changed = 0
    for c in check_ins:
        row = {name: getattr(c, name) for name in _JUDGED_INPUTS}
        at = _estimate(row)
        earlier = tuple(
            t
            for i, kind, t, received in around
            if kind == c.kind and i != c.id and (received, i) < (c.received_at, c.id)
        )
        judged = judge.judge(row, at, earlier)
        judged["flags"] = [f for f in c.flags if f.get("code") not in own] + judged["flags"]
        judged["status"] = "flagged" if judged["flags"] else "accepted"
        before = {name: getattr(c, name) for name in judged}
        if before == judged:
            continue
        for name, value in judged.items():
            setattr(c, name, value)
        changed += 1
        touched.add(daybook.local_day(before["estimated_at"]))
        touched.add(_local_day(at))
    if touched:
        daybook.recompute(session, teacher_id, touched, cause)
    return changed


def after_push(session: Session, teacher_id: uuid.UUID, ids: list[str]) -> None:
    """A push stored, changed or withdrew these check-ins: settle their photos, and
    recompute the days they fall on."""
    attendance_photos.refresh_ids(session, teacher_id, ids)
    rows = session.execute(
        sa.select(CheckIn.id, CheckIn.estimated_at).where(
            CheckIn.teacher_id == teacher_id, CheckIn.id.in_(ids)
        )
    ).all()
    days = {daybook.local_day(at) for _, at in rows if at is not None}
    what = f"check-in {rows[0].id}" if len(rows) == 1 else f"{len(rows)} check-ins"
    daybook.recompute(session, teacher_id, days, f"{what} synced")


@secondment_changed.connect
def _on_secondment_changed(
    session: Any, teacher_id: uuid.UUID, start_on: date, end_on: date, what: str
) -> None:
    """Judge the punches of the changed period again, and the days already stored there.
    Days of that period with no row yet are stored when they are closed (see
    ``daybook.close_days``), not here: a secondment entered for a past term would
    otherwise write hundreds of rows inside the bureau's request."""
    last = min(end_on, today())
    cause = f"secondment {what}"
    reevaluate(session, teacher_id, start_on, last, cause)
    daybook.recompute(
        session, teacher_id, daybook.stored_days(session, teacher_id, start_on, last), cause
    )

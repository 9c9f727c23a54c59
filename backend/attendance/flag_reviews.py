"""The flag review queue: the host school (or the bureau above it) decides on each flag the
server raised on a check-in (outside the fence, clock skew, a mock location…).

Decisions, per (check-in, flag code):

``accepted``
    The flag stands: the admin agrees something is wrong, and the punch does **not** count
    towards the teacher's day.
``dismissed``
    A false alarm (the GPS drifted at the school gate, a phone with a wrong clock): the
    punch counts as if it had no such flag.

A flag nobody reviewed yet is *open*: the day shows it as awaiting review. Reviews are
append-only: re-reviewing adds a row and the latest decides, so the trail of who decided
what, when and why (a note is required) is never lost. Each review re-derives the
teacher's day of that punch (China's calendar day of its estimated time) at once, in the
same transaction.

The queue is one entry per (check-in, flag code), newest punch first, paged by a keyset
cursor on (estimated time, check-in id, code). Flags live in the check-in's JSON list, so
the queue expands them in SQL (``json_each`` on SQLite, ``json_array_elements`` on
PostgreSQL), which lets the code and open/reviewed filters run in the database.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from backend.attendance import daybook
from backend.attendance.daybook import latest_reviews
from backend.attendance.models import CheckIn, FlagReview
from backend.auth.models import User
from backend.auth.policy import Action, Principal, Resource, get_scoped, scope
from backend.clock import CHINA
from backend.db import utcnow
from backend.errors import NotFound
from backend.exchange.models import Teacher

STATES = ("open", "reviewed", "all")


def local_day(check_in: CheckIn) -> date:
    """The China calendar day a punch counts on (the receipt time if it was never judged)."""
    return daybook.local_day(check_in.estimated_at or check_in.received_at)


def review_flag(
    session: Session,
    principal: Principal,
    check_in_id: str,
    code: str,
    decision: str,
    note: str,
) -> FlagReview:
    """Record a decision on one flag of a check-in and re-derive the teacher's day.

    404 if the check-in is outside the caller's review scope, withdrawn, or has no flag
    ``code``.
    """
    check_in: CheckIn = get_scoped(
        session, principal, Resource.CHECK_IN, Action.APPROVE, check_in_id
    )
    if check_in.deleted_at is not None:
        raise NotFound(f"No check in {check_in_id}")
    if not any(isinstance(f, dict) and f.get("code") == code for f in check_in.flags or []):
        raise NotFound(f"Check-in {check_in_id} has no flag {code!r}")
    review = FlagReview(
        check_in_id=check_in.id,
        code=code,
        decision=decision,
        note=note,
        reviewer_id=principal.user_id,
        reviewed_at=utcnow(),
    )
    session.add(review)
    session.flush()
    daybook.recompute(
        session,
        check_in.teacher_id,
        [local_day(check_in)],
        f"flag {code} on check-in {check_in.id} {decision}",
    )
    return review


# --- the queue ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cursor:
    """Where a page ended: the last entry's (estimated_at, check-in id, code)."""

    at: datetime
    check_in_id: str
    code: str

    def encode(self) -> str:
        raw = json.dumps([self.at.isoformat(), self.check_in_id, self.code])
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> Cursor:
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
            at, check_in_id, code = json.loads(raw)
            moment = datetime.fromisoformat(at)
            if moment.tzinfo is None or not isinstance(check_in_id, str):
                raise ValueError("not a cursor")
            return cls(moment, check_in_id, str(code))
        except (binascii.Error, ValueError, TypeError) as exc:
            raise ValueError("Not a cursor returned by this API") from exc


@dataclass(frozen=True)
class FlagEntry:
    """One flag of one check-in, with what the queue shows beside it."""

    check_in: CheckIn
    teacher_name: str
    code: str
    reason: str
    review: dict[str, Any] | None  # the latest: decision, note, reviewer, when


def _flag_elements(dialect: str) -> tuple[Any, sa.ColumnElement[str], sa.ColumnElement[str]]:
    """A FROM item with one row per element of ``check_ins.flags``, and its code and reason."""
    if dialect == "postgresql":
        elements = sa.func.json_array_elements(CheckIn.flags).table_valued("value").lateral()
        code = sa.func.json_extract_path_text(elements.c.value, "code", type_=sa.String)
        reason = sa.func.json_extract_path_text(elements.c.value, "reason", type_=sa.String)
    else:
        # SQLite lets a table-valued function in a join read the tables to its left.
        elements = sa.func.json_each(CheckIn.flags).table_valued("value")
        code = sa.func.json_extract(elements.c.value, "$.code", type_=sa.String)
        reason = sa.func.json_extract(elements.c.value, "$.reason", type_=sa.String)
    return elements, code, reason


def _review_view(review: FlagReview, names: dict[uuid.UUID, str]) -> dict[str, Any]:
    return {
        "id": review.id,
        "decision": review.decision,
        "note": review.note,
        "reviewer_id": review.reviewer_id,
        "reviewer_name": names.get(review.reviewer_id) if review.reviewer_id else None,
        "reviewed_at": review.reviewed_at,
    }


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, CHINA)


def flag_queue(
    session: Session, principal: Principal, query: dict[str, Any], limit: int, cursor: str | None
) -> dict[str, Any]:
    """A page of flag entries in the caller's review scope, newest punch first.

    ``query``: host_school_id, state (open | reviewed | all), code, from and to (China
    calendar days of the punch's estimated time, inclusive).
    """
    elements, code, reason = _flag_elements(session.get_bind().dialect.name)
    reviewed = (
        sa.select(FlagReview.id)
        .where(FlagReview.check_in_id == CheckIn.id, FlagReview.code == code)
        .exists()
    )
    at = CheckIn.estimated_at
    stmt = (
        sa.select(CheckIn, Teacher.name, code, reason)
        .select_from(CheckIn)
        .join(elements, sa.true())
        .join(Teacher, Teacher.id == CheckIn.teacher_id)
        .where(
            scope(principal, Resource.CHECK_IN, Action.APPROVE),
            CheckIn.deleted_at.is_(None),
            # Only punches the server judged have a time and a host school to review at.
            at.is_not(None),
            code.is_not(None),
        )
    )
    if "host_school_id" in query:
        stmt = stmt.where(CheckIn.host_school_id == query["host_school_id"])
    if "code" in query:
        stmt = stmt.where(code == query["code"])
    if query.get("from") is not None:
        stmt = stmt.where(at >= _day_start(query["from"]))
    if query.get("to") is not None:
        stmt = stmt.where(at < _day_start(query["to"] + timedelta(days=1)))
    state = query.get("state", "open")
    if state == "open":
        stmt = stmt.where(~reviewed)
    elif state == "reviewed":
        stmt = stmt.where(reviewed)
    if cursor is not None:
        after = Cursor.decode(cursor)
        stmt = stmt.where(
            sa.or_(
                at < after.at,
                sa.and_(at == after.at, CheckIn.id < after.check_in_id),
                sa.and_(at == after.at, CheckIn.id == after.check_in_id, code < after.code),
            )
        )
    rows = session.execute(
        stmt.order_by(at.desc(), CheckIn.id.desc(), code.desc()).limit(limit + 1)
    ).all()
    more = len(rows) > limit
    rows = rows[:limit]
    reviews = latest_reviews(session, (row[0].id for row in rows))
    reviewer_ids = {r.reviewer_id for r in reviews.values() if r.reviewer_id is not None}
    reviewers: dict[uuid.UUID, str] = (
        dict(
            session.execute(
                sa.select(
                    User.id, sa.func.coalesce(sa.func.nullif(User.display_name, ""), User.username)
                ).where(User.id.in_(reviewer_ids))
            ).all()
        )
        if reviewer_ids
        else {}
    )
    items = []
    for check_in, teacher_name, flag_code, flag_reason in rows:
        review = reviews.get((check_in.id, flag_code))
        items.append(
            FlagEntry(
                check_in=check_in,
                teacher_name=teacher_name,
                code=flag_code,
                reason=flag_reason or "",
                review=None if review is None else _review_view(review, reviewers),
            )
        )
    next_cursor = None
    if more:
        last = items[-1]
        assert last.check_in.estimated_at is not None
        next_cursor = Cursor(last.check_in.estimated_at, last.check_in.id, last.code).encode()
    return {"items": items, "next_cursor": next_cursor}

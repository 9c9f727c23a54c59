"""Teacher days: derive, store, and keep the history of each seconded teacher's day.

(Being written: the interface below is final.)
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import date

from sqlalchemy.orm import Session

from backend.attendance.day_models import TeacherDay


def recompute(
    session: Session, teacher_id: uuid.UUID, days: Iterable[date], cause: str
) -> list[TeacherDay]:
    """Re-derive the teacher's ``days`` from their current inputs (punches, approved
    corrections and leave, flag reviews, the calendar, the rules) and store any change
    with ``cause`` (e.g. "leave request L1 approved"). Call it in the same transaction as
    the change, after making it; it flushes first. Days outside every active secondment
    have no row and are skipped. Deterministic: the same inputs give the same row."""
    return []

"""Server time. Dates that rules count in (workdays, "today") are China Standard Time."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from backend.db import utcnow

CHINA = ZoneInfo("Asia/Shanghai")


def today() -> date:
    return utcnow().astimezone(CHINA).date()


def epoch_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def days_ago(days: int) -> datetime:
    return utcnow() - timedelta(days=days)


def month_bounds(month: date) -> tuple[date, date]:
    """The first and last day of ``month``'s calendar month."""
    first = month.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return first, following - timedelta(days=1)

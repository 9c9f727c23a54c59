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

"""The workday calendar: whether a day is a workday at a school, and why (003 §四(三)4).

DOMAIN.md: "Workdays follow China's public-holiday calendar, including make-up working
weekends (调休), and the school calendar". Four layers decide a school's day, each later
layer overriding the earlier ones:

1. **National.** The maintained ``chinesecalendar`` package: public holidays and the weekend
   days worked instead (调休), from the State Council's yearly notices. It covers the years
   up to its release (1.11: 2004–2026) and raises ``NotImplementedError`` beyond them.
2. **Bureau-published year.** A bureau copies a year's notice into the system for its
   region — needed for a year the package does not have yet (today 2027), allowed for one
   it has. Its dated entries (holiday / workday, with a name) override the package day by
   day; a day without an entry keeps the package's answer, or, in a year the package does
   not cover, Monday–Friday work and Saturday–Sunday rest. A region inherits the
   publication of the nearest region above it: for each year the **nearest** publication
   (the school's own region first, then up the tree) is the whole notice in force — a
   farther one is not merged into it.
3. **School calendar.** A region's terms and vacations per school year. The school
   calendar in force on a date is that of the nearest region (the school's own, then up)
   having a school year whose span — first period start to last period end — covers the
   date. Inside that span a vacation day is a non-workday (``vacation``), a day in no term
   and no vacation is a non-workday (``out_of_term``), and a term day is what layers 1–2
   say (schools work 调休 Saturdays and rest on public holidays).
   **No school calendar**: where no region above the school has a school year spanning
   the date (nothing entered yet, or dates long past), layers 1–2 alone decide — the
   school is treated like any workplace, never as being on vacation by default.
4. **School exceptions.** A school closed (a snow day) or open (a make-up school day) on
   given dates, with a reason: they override everything.

**Publication.** A year is published for a region when the package covers it or a bureau
published it for that region or one above it. Asking about any day of an unpublished year
raises :class:`CalendarNotPublished` (422) — even a day a school exception would decide: a
month cannot be closed on a calendar the State Council has not yet fixed.

Days are China's calendar days (Asia/Shanghai, :data:`backend.clock.CHINA`): callers turn
instants into dates in that zone first. :func:`workdays` reads each stored layer with one
query whatever the range (four statements in all), so a month or a year costs the same.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import chinese_calendar
import sqlalchemy as sa
from sqlalchemy.orm import Session, aliased

from backend.attendance.calendar_models import (
    MAX_YEAR,
    MIN_YEAR,
    PublishedDay,
    PublishedYear,
    SchoolCalendarPeriod,
    SchoolDayException,
)
from backend.db import utcnow
from backend.errors import Conflict, DomainError, InvalidInput, NotFound
from backend.org.models import Region, School

RULE = "003 §四(三)4"
DAY_KINDS = (
    "workday",
    "weekend",
    "holiday",
    "makeup_workday",
    "vacation",
    "out_of_term",
    "school_closed",
    "school_open",
)
WEEKEND_NAME = "周末"
OUT_OF_TERM_NAME = "学期外"
MAX_EXCEPTION_DAYS = 366


class CalendarNotPublished(DomainError):
    """A day of a year whose holiday notice is neither in the package nor published."""

    status = 422
    code = "calendar_not_published"

    def __init__(self, year: int, region_id: uuid.UUID, region_name: str) -> None:
        super().__init__(
            f"the {year} holiday calendar is not published for {region_name}: a bureau"
            f" publishes the State Council's notice for {year} first",
            rule=RULE,
        )
        self.year = year
        self.region_id = region_id


@dataclass(frozen=True)
class DayInfo:
    day: date
    workday: bool
    kind: str  # one of DAY_KINDS
    name: str  # e.g. "国庆节", "春节调休上班", "寒假", an exception's reason


# --- layer 1: the package -------------------------------------------------------------------


@functools.cache
def package_covers(year: int) -> bool:
    """Whether the installed ``chinesecalendar`` has the State Council's notice for ``year``."""
    try:
        chinese_calendar.is_workday(date(year, 1, 1))
    except NotImplementedError:
        return False
    return True


def _chinese(english: str) -> str:
    try:
        return str(chinese_calendar.Holiday(english).chinese)
    except ValueError:  # a holiday the enum does not name: keep the package's word
        return english


def _weekdays_only(day: date) -> DayInfo:
    if day.weekday() >= 5:
        return DayInfo(day, False, "weekend", WEEKEND_NAME)
    return DayInfo(day, True, "workday", "")


def _national(day: date) -> DayInfo:
    if not package_covers(day.year):
        return _weekdays_only(day)
    on_holiday, english = chinese_calendar.get_holiday_detail(day)
    if english is None:
        return _weekdays_only(day)
    name = _chinese(str(english))
    if on_holiday:
        return DayInfo(day, False, "holiday", name)
    return DayInfo(day, True, "makeup_workday", f"{name}调休上班")


def _published(day: date, kind: str, name: str) -> DayInfo:
    if kind == "holiday":
        return DayInfo(day, False, "holiday", name)
    return DayInfo(day, True, "makeup_workday" if day.weekday() >= 5 else "workday", name)


# --- the stored layers, read once per range -------------------------------------------------


def ancestor_paths(path: str) -> list[str]:
    """``/64/6404/640422/`` → the paths of the region and every region above it."""
    parts = path.strip("/").split("/")
    return ["/" + "/".join(parts[: i + 1]) + "/" for i in range(len(parts))]


@dataclass(frozen=True)
class _Period:
    kind: str
    name: str
    start: date
    end: date


@dataclass(frozen=True)
class _SchoolYear:
    """One region's school calendar for one school year."""

    depth: int  # longer path = nearer the school
    school_year: int
    start: date
    end: date
    periods: tuple[_Period, ...]


def _dates(start: date, end: date) -> Iterator[date]:
    for offset in range((end - start).days + 1):
        yield start + timedelta(days=offset)


def _school_region(session: Session, school_id: uuid.UUID) -> tuple[uuid.UUID, str, str]:
    row = session.execute(
        sa.select(Region.id, Region.path, Region.name)
        .join(School, School.region_id == Region.id)
        .where(School.id == school_id)
    ).one_or_none()
    if row is None:
        raise NotFound(f"No school {school_id}")
    return row.id, row.path, row.name


def _published_layer(
    session: Session, paths: list[str], start: date, end: date
) -> tuple[set[int], dict[date, DayInfo]]:
    """The years published above the school, and the entries in force within the range."""
    rows = session.execute(
        sa.select(
            PublishedYear.year, Region.path, PublishedDay.day, PublishedDay.kind, PublishedDay.name
        )
        .join(Region, Region.id == PublishedYear.region_id)
        .outerjoin(
            PublishedDay,
            sa.and_(
                PublishedDay.published_year_id == PublishedYear.id,
                PublishedDay.day >= start,
                PublishedDay.day <= end,
            ),
        )
        .where(Region.path.in_(paths), PublishedYear.year.between(start.year, end.year))
    ).all()
    nearest: dict[int, str] = {}
    for row in rows:
        if len(row.path) > len(nearest.get(row.year, "")):
            nearest[row.year] = row.path
    entries = {
        row.day: _published(row.day, row.kind, row.name)
        for row in rows
        if row.day is not None and nearest[row.year] == row.path
    }
    return set(nearest), entries


def _school_years(session: Session, paths: list[str], start: date, end: date) -> list[_SchoolYear]:
    # A school year that begins in Y has its periods in Y and Y+1 (checked on entry).
    rows = session.execute(
        sa.select(
            Region.path,
            SchoolCalendarPeriod.school_year,
            SchoolCalendarPeriod.kind,
            SchoolCalendarPeriod.name,
            SchoolCalendarPeriod.start_on,
            SchoolCalendarPeriod.end_on,
        )
        .join(Region, Region.id == SchoolCalendarPeriod.region_id)
        .where(
            Region.path.in_(paths),
            SchoolCalendarPeriod.school_year.between(start.year - 1, end.year),
        )
    ).all()
    grouped: dict[tuple[str, int], list[_Period]] = {}
    for row in rows:
        grouped.setdefault((row.path, row.school_year), []).append(
            _Period(row.kind, row.name, row.start_on, row.end_on)
        )
    return [
        _SchoolYear(
            depth=len(path),
            school_year=school_year,
            start=min(p.start for p in periods),
            end=max(p.end for p in periods),
            periods=tuple(periods),
        )
        for (path, school_year), periods in grouped.items()
    ]


def _school_calendar(day: date, years: list[_SchoolYear]) -> DayInfo | None:
    """Layer 3's verdict where it overrides (vacation, out of term); None to pass through."""
    spanning = [y for y in years if y.start <= day <= y.end]
    if not spanning:
        return None
    in_force = max(spanning, key=lambda y: (y.depth, y.school_year))
    for period in in_force.periods:
        if period.start <= day <= period.end:
            if period.kind == "vacation":
                return DayInfo(day, False, "vacation", period.name)
            return None
    return DayInfo(day, False, "out_of_term", OUT_OF_TERM_NAME)


def _exceptions(
    session: Session, school_id: uuid.UUID, start: date, end: date
) -> list[SchoolDayException]:
    return list(
        session.scalars(
            sa.select(SchoolDayException)
            .where(
                SchoolDayException.school_id == school_id,
                SchoolDayException.start_on <= end,
                SchoolDayException.end_on >= start,
            )
            .order_by(SchoolDayException.start_on)
        )
    )


def _exception(day: date, exceptions: list[SchoolDayException]) -> DayInfo | None:
    for item in exceptions:
        if item.start_on <= day <= item.end_on:
            if item.kind == "closed":
                return DayInfo(day, False, "school_closed", item.reason)
            return DayInfo(day, True, "school_open", item.reason)
    return None


# --- the service API --------------------------------------------------------------------------


def workdays(session: Session, school_id: uuid.UUID, start: date, end: date) -> list[DayInfo]:
    """Every day from ``start`` to ``end`` (inclusive) at the school, with its verdict.

    Raises :class:`CalendarNotPublished` when any of the days is in an unpublished year
    and :class:`~backend.errors.NotFound` for an unknown school.
    """
    if end < start:
        return []
    region_id, path, region_name = _school_region(session, school_id)
    paths = ancestor_paths(path)
    published_years, entries = _published_layer(session, paths, start, end)
    for year in range(start.year, end.year + 1):
        if not package_covers(year) and year not in published_years:
            raise CalendarNotPublished(year, region_id, region_name)
    school_years = _school_years(session, paths, start, end)
    exceptions = _exceptions(session, school_id, start, end)
    days: list[DayInfo] = []
    for day in _dates(start, end):
        info = (
            _exception(day, exceptions)
            or _school_calendar(day, school_years)
            or entries.get(day)
            or _national(day)
        )
        days.append(info)
    return days


def day_info(session: Session, school_id: uuid.UUID, day: date) -> DayInfo:
    """The verdict on one day at the school (see :func:`workdays`)."""
    return workdays(session, school_id, day, day)[0]


def is_published(session: Session, region_id: uuid.UUID, year: int) -> bool:
    """Whether ``year``'s holiday notice is known for the region (package or a bureau)."""
    if package_covers(year):
        return True
    target = aliased(Region)
    published = (
        sa.select(PublishedYear.id)
        .join(Region, Region.id == PublishedYear.region_id)
        .join(target, target.id == region_id)
        .where(PublishedYear.year == year, target.path.startswith(Region.path))
    )
    return bool(session.scalar(sa.select(published.exists())))


# --- writing the layers ---------------------------------------------------------------------


def _check_year(year: int) -> None:
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise InvalidInput(
            f"year must be between {MIN_YEAR} and {MAX_YEAR}",
            errors={"path": {"year": [f"must be between {MIN_YEAR} and {MAX_YEAR}"]}},
        )


def _entry_error(index: int, message: str) -> InvalidInput:
    return InvalidInput(
        f"entries.{index}.date: {message}",
        errors={"json": {"entries": {index: {"date": [message]}}}},
    )


def find_year(session: Session, region_id: uuid.UUID, year: int) -> PublishedYear | None:
    return session.scalars(
        sa.select(PublishedYear).where(
            PublishedYear.region_id == region_id, PublishedYear.year == year
        )
    ).one_or_none()


def publish_year(
    session: Session,
    region: Region,
    year: int,
    *,
    notice: str,
    entries: list[dict[str, Any]],
    actor_id: uuid.UUID | None,
) -> PublishedYear:
    """Publish, or replace whole, the region's notice for ``year``.

    Entries are ``{"day", "kind", "name"}``; their dates lie in ``year`` and are unique.
    Lock the region first (the API does): two bureaus replacing one year queue up.
    """
    _check_year(year)
    seen: set[date] = set()
    for index, entry in enumerate(entries):
        if entry["day"].year != year:
            raise _entry_error(index, f"{entry['day']} is not in {year}")
        if entry["day"] in seen:
            raise _entry_error(index, f"{entry['day']} is listed twice")
        seen.add(entry["day"])
    published = find_year(session, region.id, year)
    if published is None:
        published = PublishedYear(region_id=region.id, year=year)
        session.add(published)
    else:
        # Old entries go first: the flush inserts before it deletes, and an entry that
        # keeps its date would collide with itself on (published_year_id, day).
        published.days = []
        session.flush()
    published.notice = notice
    published.published_by_id = actor_id
    published.updated_at = utcnow()  # the entries changed even if the notice did not
    published.days = [
        PublishedDay(day=e["day"], kind=e["kind"], name=e["name"])
        for e in sorted(entries, key=lambda e: e["day"])
    ]
    session.flush()
    return published


def withdraw_year(session: Session, region: Region, year: int) -> None:
    published = find_year(session, region.id, year)
    if published is None:
        raise NotFound(f"{year} is not published for {region.name}")
    session.delete(published)
    session.flush()


def _clash_message(what: str, start: date, end: date) -> str:
    return f"overlaps {what} ({start} to {end}); remove that first"


def add_period(session: Session, region: Region, data: dict[str, Any]) -> SchoolCalendarPeriod:
    """A term or vacation of the region; periods of one region never overlap."""
    clash = session.scalars(
        sa.select(SchoolCalendarPeriod)
        .where(
            SchoolCalendarPeriod.region_id == region.id,
            SchoolCalendarPeriod.start_on <= data["end_on"],
            SchoolCalendarPeriod.end_on >= data["start_on"],
        )
        .limit(1)
    ).first()
    if clash is not None:
        raise Conflict(
            _clash_message(f"the {clash.kind} {clash.name!r}", clash.start_on, clash.end_on),
            field="start_on",
        )
    period = SchoolCalendarPeriod(region_id=region.id, **data)
    session.add(period)
    session.flush()
    return period


def remove_period(session: Session, region: Region, period_id: uuid.UUID) -> SchoolCalendarPeriod:
    period = session.scalars(
        sa.select(SchoolCalendarPeriod).where(
            SchoolCalendarPeriod.id == period_id, SchoolCalendarPeriod.region_id == region.id
        )
    ).one_or_none()
    if period is None:
        raise NotFound(f"No school calendar period {period_id} in {region.name}")
    session.delete(period)
    session.flush()
    return period


def add_exception(
    session: Session, school: School, data: dict[str, Any], actor_id: uuid.UUID | None
) -> SchoolDayException:
    """Close or open a school on dates; exceptions of one school never overlap."""
    if (data["end_on"] - data["start_on"]).days + 1 > MAX_EXCEPTION_DAYS:
        raise InvalidInput(f"an exception covers at most {MAX_EXCEPTION_DAYS} days", field="end_on")
    clash = session.scalars(
        sa.select(SchoolDayException)
        .where(
            SchoolDayException.school_id == school.id,
            SchoolDayException.start_on <= data["end_on"],
            SchoolDayException.end_on >= data["start_on"],
        )
        .limit(1)
    ).first()
    if clash is not None:
        raise Conflict(
            _clash_message(f"the exception {clash.reason!r}", clash.start_on, clash.end_on),
            field="start_on",
        )
    exception = SchoolDayException(school_id=school.id, created_by_id=actor_id, **data)
    session.add(exception)
    session.flush()
    return exception


def remove_exception(
    session: Session, school: School, exception_id: uuid.UUID
) -> SchoolDayException:
    exception = session.scalars(
        sa.select(SchoolDayException).where(
            SchoolDayException.id == exception_id, SchoolDayException.school_id == school.id
        )
    ).one_or_none()
    if exception is None:
        raise NotFound(f"No calendar exception {exception_id} at {school.name}")
    session.delete(exception)
    session.flush()
    return exception

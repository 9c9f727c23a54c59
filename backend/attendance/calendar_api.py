"""The workday calendar over HTTP: published holiday years, school calendars, exceptions, days.

Bureau admins write their region subtree's calendar; a school's admin may also set its own
school's exceptions; whoever may see a region or school reads its calendar (central policy:
``REGION_CALENDAR`` and ``SCHOOL_CALENDAR``).
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import sqlalchemy as sa
from flask import request
from flask.views import MethodView
from flask_smorest.exceptions import PreconditionFailed
from sqlalchemy.orm import selectinload

from backend.attendance import calendar
from backend.attendance import jobs as attendance_jobs
from backend.attendance.calendar_models import (
    PublishedYear,
    SchoolCalendarPeriod,
    SchoolDayException,
)
from backend.attendance.calendar_schemas import (
    DayRangeArgs,
    ExceptionQueryArgs,
    PeriodQueryArgs,
    PublishedYearSchema,
    PublishYearArgs,
    SchoolCalendarPeriodSchema,
    SchoolDayExceptionSchema,
    SchoolDaysSchema,
)
from backend.auth.policy import Action, Resource, current_principal, get_scoped, requires
from backend.db import db
from backend.errors import NotFound
from backend.extensions import Blueprint
from backend.org.models import Region, School
from backend.pagination import PageArgs, page_schema, paginate

calendar_blp = Blueprint(
    "calendar",
    __name__,
    url_prefix="/api/v1/calendar",
    description=(
        "Workdays: China's public holidays and 调休, bureau-published years, school terms and"
        " vacations, school exceptions (003 §四(三)4)"
    ),
)


# A calendar change re-derives the stored days it touches (a job: it may be many teachers).
def _year_changed(region: Region, year: int, what: str) -> None:
    attendance_jobs.calendar_changed(
        db.session,
        region.id,
        date(year, 1, 1),
        date(year, 12, 31),
        f"the {year} holidays {what} for {region.name}",
    )


def _period_changed(period: SchoolCalendarPeriod, what: str) -> None:
    attendance_jobs.calendar_changed(
        db.session,
        period.region_id,
        period.start_on,
        period.end_on,
        f"{period.kind} {period.name} {what}",
    )


def _exception_changed(school: School, exception: SchoolDayException, what: str) -> None:
    attendance_jobs.calendar_changed(
        db.session,
        school.region_id,
        exception.start_on,
        exception.end_on,
        f"{school.name} {exception.kind} ({exception.reason}) {what}",
        school_id=school.id,
    )


PublishedYearPage = page_schema(PublishedYearSchema, "PublishedYearPage")
SchoolCalendarPeriodPage = page_schema(SchoolCalendarPeriodSchema, "SchoolCalendarPeriodPage")
SchoolDayExceptionPage = page_schema(SchoolDayExceptionSchema, "SchoolDayExceptionPage")


def _region(region_id: uuid.UUID, action: Action, *, lock: bool = False) -> Region:
    region: Region = get_scoped(
        db.session,
        current_principal(),
        Resource.REGION_CALENDAR,
        action,
        region_id,
        for_update=lock,
    )
    return region


def _school(school_id: uuid.UUID, action: Action, *, lock: bool = False) -> School:
    school: School = get_scoped(
        db.session,
        current_principal(),
        Resource.SCHOOL_CALENDAR,
        action,
        school_id,
        for_update=lock,
    )
    return school


def _published(region: Region, year: int) -> PublishedYear:
    published = calendar.find_year(db.session, region.id, year)
    if published is None:
        raise NotFound(f"{year} is not published for {region.name} itself")
    return published


# --- published years ------------------------------------------------------------------------


@calendar_blp.route("/regions/<uuid:region_id>/years")
class PublishedYears(MethodView):
    @requires(Resource.REGION_CALENDAR, Action.READ)
    @calendar_blp.arguments(PageArgs, location="query")
    @calendar_blp.response(200, PublishedYearPage)
    def get(self, page: dict[str, Any], region_id: uuid.UUID) -> dict[str, Any]:
        """Years this region published itself (a region also inherits those above it)."""
        region = _region(region_id, Action.READ)
        stmt = (
            sa.select(PublishedYear)
            .where(PublishedYear.region_id == region.id)
            .options(selectinload(PublishedYear.days))
        )
        return paginate(db.session, stmt, PublishedYear.id, page)


@calendar_blp.route("/regions/<uuid:region_id>/years/<int:year>")
class PublishedYearById(MethodView):
    @requires(Resource.REGION_CALENDAR, Action.READ)
    @calendar_blp.etag
    @calendar_blp.response(200, PublishedYearSchema)
    def get(self, region_id: uuid.UUID, year: int) -> PublishedYear:
        return _published(_region(region_id, Action.READ), year)

    @requires(Resource.REGION_CALENDAR, Action.WRITE)
    @calendar_blp.arguments(PublishYearArgs)
    @calendar_blp.response(200, PublishedYearSchema)
    def put(self, data: dict[str, Any], region_id: uuid.UUID, year: int) -> PublishedYear:
        """Publish the year's notice for the region, or replace it whole.

        Entries override the national calendar day by day. Send the ETag of your GET as
        If-Match to replace only what you read (412 if it changed meanwhile).
        """
        principal = current_principal()
        region = _region(region_id, Action.WRITE, lock=True)
        # Optional If-Match, since a PUT may create: the same ETag smorest gives the GET.
        if request.if_match:
            current = calendar.find_year(db.session, region.id, year)
            seen = (
                calendar_blp._generate_etag(PublishedYearSchema().dump(current))
                if current is not None
                else None
            )
            if seen is None or seen not in request.if_match:
                raise PreconditionFailed
        published = calendar.publish_year(
            db.session,
            region,
            year,
            notice=data["notice"],
            entries=data["entries"],
            actor_id=principal.user_id,
        )
        _year_changed(region, year, "published")
        return published

    @requires(Resource.REGION_CALENDAR, Action.WRITE)
    @calendar_blp.response(204)
    def delete(self, region_id: uuid.UUID, year: int) -> None:
        """Withdraw the region's publication (regions below fall back to the one above)."""
        region = _region(region_id, Action.WRITE, lock=True)
        calendar.withdraw_year(db.session, region, year)
        _year_changed(region, year, "withdrawn")


# --- school calendar: terms and vacations ---------------------------------------------------


@calendar_blp.route("/regions/<uuid:region_id>/periods")
class SchoolCalendarPeriods(MethodView):
    @requires(Resource.REGION_CALENDAR, Action.READ)
    @calendar_blp.arguments(PeriodQueryArgs, location="query")
    @calendar_blp.arguments(PageArgs, location="query")
    @calendar_blp.response(200, SchoolCalendarPeriodPage)
    def get(
        self, query: dict[str, Any], page: dict[str, Any], region_id: uuid.UUID
    ) -> dict[str, Any]:
        """The region's own terms and vacations."""
        region = _region(region_id, Action.READ)
        stmt = sa.select(SchoolCalendarPeriod).where(SchoolCalendarPeriod.region_id == region.id)
        for name in ("school_year", "kind"):
            if name in query:
                stmt = stmt.where(getattr(SchoolCalendarPeriod, name) == query[name])
        return paginate(db.session, stmt, SchoolCalendarPeriod.id, page)

    @requires(Resource.REGION_CALENDAR, Action.WRITE)
    @calendar_blp.arguments(SchoolCalendarPeriodSchema)
    @calendar_blp.response(201, SchoolCalendarPeriodSchema)
    def post(self, data: dict[str, Any], region_id: uuid.UUID) -> SchoolCalendarPeriod:
        """Add a term or a vacation; periods of one region never overlap (409)."""
        region = _region(region_id, Action.WRITE, lock=True)
        period = calendar.add_period(db.session, region, data)
        _period_changed(period, "added")
        return period


@calendar_blp.route("/regions/<uuid:region_id>/periods/<uuid:period_id>")
class SchoolCalendarPeriodById(MethodView):
    @requires(Resource.REGION_CALENDAR, Action.WRITE)
    @calendar_blp.response(204)
    def delete(self, region_id: uuid.UUID, period_id: uuid.UUID) -> None:
        removed = calendar.remove_period(db.session, _region(region_id, Action.WRITE), period_id)
        _period_changed(removed, "removed")


# --- school exceptions ----------------------------------------------------------------------


@calendar_blp.route("/schools/<uuid:school_id>/exceptions")
class SchoolDayExceptions(MethodView):
    @requires(Resource.SCHOOL_CALENDAR, Action.READ)
    @calendar_blp.arguments(ExceptionQueryArgs, location="query")
    @calendar_blp.arguments(PageArgs, location="query")
    @calendar_blp.response(200, SchoolDayExceptionPage)
    def get(
        self, query: dict[str, Any], page: dict[str, Any], school_id: uuid.UUID
    ) -> dict[str, Any]:
        school = _school(school_id, Action.READ)
        stmt = sa.select(SchoolDayException).where(SchoolDayException.school_id == school.id)
        if "start" in query:
            stmt = stmt.where(SchoolDayException.end_on >= query["start"])
        if "end" in query:
            stmt = stmt.where(SchoolDayException.start_on <= query["end"])
        return paginate(db.session, stmt, SchoolDayException.id, page)

    @requires(Resource.SCHOOL_CALENDAR, Action.WRITE)
    @calendar_blp.arguments(SchoolDayExceptionSchema)
    @calendar_blp.response(201, SchoolDayExceptionSchema)
    def post(self, data: dict[str, Any], school_id: uuid.UUID) -> SchoolDayException:
        """Close or open the school on dates, whatever the other layers say."""
        school = _school(school_id, Action.WRITE, lock=True)
        exception = calendar.add_exception(db.session, school, data, current_principal().user_id)
        _exception_changed(school, exception, "added")
        return exception


@calendar_blp.route("/schools/<uuid:school_id>/exceptions/<uuid:exception_id>")
class SchoolDayExceptionById(MethodView):
    @requires(Resource.SCHOOL_CALENDAR, Action.WRITE)
    @calendar_blp.response(204)
    def delete(self, school_id: uuid.UUID, exception_id: uuid.UUID) -> None:
        school = _school(school_id, Action.WRITE)
        removed = calendar.remove_exception(db.session, school, exception_id)
        _exception_changed(school, removed, "removed")


# --- the verdict ------------------------------------------------------------------------------


@calendar_blp.route("/schools/<uuid:school_id>/days")
class SchoolDays(MethodView):
    @requires(Resource.SCHOOL_CALENDAR, Action.READ)
    @calendar_blp.arguments(DayRangeArgs, location="query")
    @calendar_blp.response(200, SchoolDaysSchema)
    def get(self, query: dict[str, date], school_id: uuid.UUID) -> dict[str, Any]:
        """Each day from start to end (≤ 366): workday or not, the kind and its name.

        422 ``calendar_not_published`` when a day's year has no holiday notice yet.
        """
        school = _school(school_id, Action.READ)
        days = calendar.workdays(db.session, school.id, query["start"], query["end"])
        return {
            "school_id": school.id,
            "start": query["start"],
            "end": query["end"],
            "workday_count": sum(d.workday for d in days),
            "days": days,
        }

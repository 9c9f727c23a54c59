"""The workday calendar (003 §四(三)4) with real dates: the package's 调休 days, the 2025
National Day week, the unpublished 2027 case, inheritance down the region tree, school
terms and vacations, school exceptions, month and year boundaries, a bounded number of
queries, and the HTTP API's validation and scope.

2027's Spring Festival arrangement below is this test's own assumption (the State Council
had not published it when this was written): 除夕 Fri 2027-02-05 through Sat 2027-02-13 off,
with Sun 2027-01-31 and Sat 2027-02-20 worked instead, and New Year's Day Fri 2027-01-01.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import chinese_calendar
import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.attendance import calendar
from backend.attendance.calendar import CalendarNotPublished, DayInfo, day_info, workdays
from backend.attendance.calendar_models import SchoolCalendarPeriod
from backend.db import database_of
from backend.errors import Conflict
from backend.org.models import Region, School
from tests import factories
from tests.factories import committed_world
from tests.org.support import (
    API,
    expect_error,
    ok,
)

SPRING_2027: list[dict[str, Any]] = [
    {"day": date(2027, 1, 1), "kind": "holiday", "name": "元旦"},
    {"day": date(2027, 1, 31), "kind": "workday", "name": "春节调休上班"},
    *(
        {"day": date(2027, 2, 5) + timedelta(days=i), "kind": "holiday", "name": "春节"}
        for i in range(9)
    ),
    {"day": date(2027, 2, 20), "kind": "workday", "name": "春节调休上班"},
]


def _wire(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"date": e["day"].isoformat(), "kind": e["kind"], "name": e["name"]} for e in entries]


def _dates(start: date, end: date) -> list[date]:
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


@pytest.fixture
def county(session: Session) -> Region:
    province = factories.region(session, level="province")
    city = factories.region(session, parent=province, level="city")
    return factories.region(session, parent=city)


@pytest.fixture
def school(session: Session, county: Region) -> School:
    return factories.school(session, county)


def _publish(session: Session, region: Region, year: int, entries: list[dict[str, Any]]) -> None:
    calendar.publish_year(
        session, region, year, notice=f"{year}年部分节假日安排", entries=entries, actor_id=None
    )


def _period(
    session: Session, region: Region, kind: str, name: str, start: date, end: date
) -> SchoolCalendarPeriod:
    school_year = start.year if start.month >= 7 else start.year - 1
    return calendar.add_period(
        session,
        region,
        {"school_year": school_year, "kind": kind, "name": name, "start_on": start, "end_on": end},
    )


def _school_year_2025(session: Session, region: Region) -> None:
    """A typical school year: two terms, winter and summer vacations, a gap before 寒假."""
    _period(session, region, "term", "第一学期", date(2025, 9, 1), date(2026, 1, 16))
    _period(session, region, "vacation", "寒假", date(2026, 1, 24), date(2026, 3, 1))
    _period(session, region, "term", "第二学期", date(2026, 3, 2), date(2026, 7, 3))
    _period(session, region, "vacation", "暑假", date(2026, 7, 4), date(2026, 8, 31))


# --- layer 1: the package ---------------------------------------------------------------------


def test_package_tiaoxiu_weekends_are_workdays(session: Session, school: School) -> None:
    # The package's own 2026 data: every weekend day it says is worked.
    worked_weekends = [
        d
        for d in _dates(date(2026, 1, 1), date(2026, 12, 31))
        if d.weekday() >= 5 and chinese_calendar.is_workday(d)
    ]
    assert date(2026, 1, 4) in worked_weekends  # a Sunday, 元旦调休
    days = {d.day: d for d in workdays(session, school.id, date(2026, 1, 1), date(2026, 12, 31))}
    for day in worked_weekends:
        assert days[day].workday and days[day].kind == "makeup_workday", days[day]
        assert days[day].name.endswith("调休上班")
    assert days[date(2026, 1, 4)].name == "元旦调休上班"
    assert days[date(2026, 1, 10)] == DayInfo(date(2026, 1, 10), False, "weekend", "周末")
    # Known by heart: Sunday 2025-01-26 (春节) and Saturday 2025-10-11 (国庆节) were worked.
    assert day_info(session, school.id, date(2025, 1, 26)) == DayInfo(
        date(2025, 1, 26), True, "makeup_workday", "春节调休上班"
    )
    assert day_info(session, school.id, date(2025, 10, 11)) == DayInfo(
        date(2025, 10, 11), True, "makeup_workday", "国庆节调休上班"
    )


def test_the_2025_national_day_week(session: Session, school: School) -> None:
    days = workdays(session, school.id, date(2025, 10, 1), date(2025, 10, 8))
    assert [d.workday for d in days] == [False] * 8
    assert {d.kind for d in days} == {"holiday"}
    assert days[0].name == "国庆节"
    assert days[5].name == "中秋"  # 2025-10-06: the Mid-autumn Festival fell in the week
    assert day_info(session, school.id, date(2025, 10, 9)).kind == "workday"


def test_a_month_boundary(session: Session, school: School) -> None:
    days = workdays(session, school.id, date(2025, 9, 27), date(2025, 10, 12))
    assert [(d.day.day, d.kind) for d in days] == [
        (27, "weekend"),
        (28, "makeup_workday"),  # Sunday, worked for National Day
        (29, "workday"),
        (30, "workday"),
        *((n, "holiday") for n in range(1, 9)),
        (9, "workday"),
        (10, "workday"),
        (11, "makeup_workday"),  # Saturday
        (12, "weekend"),
    ]
    assert sum(d.workday for d in days) == 6


# --- layer 2: bureau-published years --------------------------------------------------------


def test_2027_is_unpublished_until_a_bureau_publishes_it(
    session: Session, county: Region, school: School
) -> None:
    assert not calendar.package_covers(2027)  # if this fails, the package caught up: good
    assert not calendar.is_published(session, county.id, 2027)
    with pytest.raises(CalendarNotPublished) as raised:
        day_info(session, school.id, date(2027, 2, 10))
    assert raised.value.year == 2027
    assert raised.value.region_id == county.id
    assert "2027" in raised.value.message and county.name in raised.value.message
    # A range across the new year is refused whole, naming the missing year.
    with pytest.raises(CalendarNotPublished, match="2027"):
        workdays(session, school.id, date(2026, 12, 28), date(2027, 1, 5))

    assert county.parent is not None
    _publish(session, county.parent, 2027, SPRING_2027)  # the city publishes the notice

    assert calendar.is_published(session, county.id, 2027)
    days = {d.day: d for d in workdays(session, school.id, date(2027, 1, 1), date(2027, 2, 28))}
    assert days[date(2027, 1, 1)] == DayInfo(date(2027, 1, 1), False, "holiday", "元旦")
    assert days[date(2027, 1, 31)] == DayInfo(
        date(2027, 1, 31), True, "makeup_workday", "春节调休上班"
    )
    assert all(days[date(2027, 2, n)].kind == "holiday" for n in range(5, 14))
    assert days[date(2027, 2, 10)].name == "春节"
    assert days[date(2027, 2, 14)].kind == "weekend"  # no entry: a plain Sunday
    assert days[date(2027, 2, 15)].kind == "workday"  # no entry: a plain Monday
    assert days[date(2027, 2, 20)].kind == "makeup_workday"
    # The year boundary now reads straight through.
    boundary = workdays(session, school.id, date(2026, 12, 31), date(2027, 1, 4))
    assert [d.kind for d in boundary] == ["workday", "holiday", "weekend", "weekend", "workday"]


def test_a_sub_region_inherits_and_the_nearest_publication_wins(
    session: Session, county: Region, school: School
) -> None:
    city = county.parent
    assert city is not None
    township = factories.region(session, parent=county, level="township")
    township_school = factories.school(session, township)
    neighbour_school = factories.school(session, factories.region(session, parent=city))
    _publish(session, city, 2027, SPRING_2027)
    # The county publishes its own 2027: one more day off, and no 1-31 make-up day.
    county_2027 = [e for e in SPRING_2027 if e["day"] != date(2027, 1, 31)]
    county_2027.append({"day": date(2027, 2, 15), "kind": "holiday", "name": "春节（县延长）"})
    _publish(session, county, 2027, county_2027)

    for at_county in (school, township_school):
        assert day_info(session, at_county.id, date(2027, 2, 15)).kind == "holiday"
        # The nearest notice is the whole year: the city's 1-31 make-up day is not merged in.
        assert day_info(session, at_county.id, date(2027, 1, 31)).kind == "weekend"
    assert day_info(session, neighbour_school.id, date(2027, 2, 15)).kind == "workday"
    assert day_info(session, neighbour_school.id, date(2027, 1, 31)).kind == "makeup_workday"


def test_publishing_a_year_the_package_has_overrides_it_day_by_day(
    session: Session, county: Region, school: School
) -> None:
    _publish(
        session,
        county,
        2026,
        [
            {"day": date(2026, 10, 9), "kind": "holiday", "name": "县庆"},
            {"day": date(2026, 1, 4), "kind": "holiday", "name": "元旦（不调休）"},
        ],
    )
    assert day_info(session, school.id, date(2026, 10, 9)) == DayInfo(
        date(2026, 10, 9), False, "holiday", "县庆"
    )
    assert day_info(session, school.id, date(2026, 1, 4)).workday is False
    # Days without an entry keep the package's answer.
    assert day_info(session, school.id, date(2026, 10, 10)).kind == "makeup_workday"
    assert day_info(session, school.id, date(2026, 10, 1)).name == "国庆节"


def test_republishing_replaces_the_whole_year(
    session: Session, county: Region, school: School
) -> None:
    _publish(session, county, 2027, SPRING_2027)
    _publish(session, county, 2027, [{"day": date(2027, 2, 10), "kind": "holiday", "name": "春节"}])
    assert day_info(session, school.id, date(2027, 2, 10)).kind == "holiday"
    assert day_info(session, school.id, date(2027, 2, 8)).kind == "workday"  # entry gone


# --- layers 3 and 4: school calendar and exceptions ---------------------------------------


def test_vacations_and_days_out_of_term_are_not_workdays(
    session: Session, county: Region, school: School
) -> None:
    _school_year_2025(session, county)
    elsewhere = factories.school(session, factories.region(session, parent=county.parent))

    assert day_info(session, school.id, date(2026, 2, 2)) == DayInfo(
        date(2026, 2, 2), False, "vacation", "寒假"
    )
    # A 调休 Saturday inside the vacation is still vacation for schools.
    assert day_info(session, school.id, date(2026, 2, 28)).kind == "vacation"
    assert day_info(session, school.id, date(2026, 7, 20)).name == "暑假"
    # Between the first term and 寒假: no classes.
    assert day_info(session, school.id, date(2026, 1, 19)) == DayInfo(
        date(2026, 1, 19), False, "out_of_term", "学期外"
    )
    # In term the national calendar decides: holidays rest, 调休 Saturdays are worked.
    assert day_info(session, school.id, date(2025, 10, 1)).kind == "holiday"
    assert day_info(session, school.id, date(2025, 10, 11)).kind == "makeup_workday"
    assert day_info(session, school.id, date(2026, 3, 2)).kind == "workday"
    # No school calendar spans the date (before the school year), or none in the region:
    # the national layers alone decide.
    assert day_info(session, school.id, date(2025, 8, 15)).kind == "workday"
    assert day_info(session, elsewhere.id, date(2026, 2, 2)).kind == "workday"


def test_the_nearest_school_calendar_wins(session: Session, county: Region, school: School) -> None:
    assert county.parent is not None
    _school_year_2025(session, county.parent)
    # The county starts its winter vacation a week early, and has only that entered.
    _period(session, county, "vacation", "寒假", date(2026, 1, 17), date(2026, 2, 28))
    _period(session, county, "term", "第二学期", date(2026, 3, 1), date(2026, 7, 3))
    assert day_info(session, school.id, date(2026, 1, 19)).name == "寒假"
    # 3-1 is a Sunday in the county's term; the city would still have it as vacation.
    assert day_info(session, school.id, date(2026, 3, 1)).kind == "weekend"
    # Outside the county's span, the city's calendar applies.
    assert day_info(session, school.id, date(2025, 12, 1)).kind == "workday"
    assert day_info(session, school.id, date(2026, 7, 20)).kind == "vacation"


def test_school_exceptions_override_everything(
    session: Session, county: Region, school: School
) -> None:
    _school_year_2025(session, county)
    other = factories.school(session, county)
    snow = {"kind": "closed", "start_on": date(2025, 12, 15), "end_on": date(2025, 12, 16)}
    calendar.add_exception(session, school, {**snow, "reason": "暴雪停课"}, None)
    calendar.add_exception(
        session,
        school,
        {
            "kind": "open",
            "start_on": date(2026, 2, 2),
            "end_on": date(2026, 2, 2),
            "reason": "补课",
        },
        None,
    )
    calendar.add_exception(
        session,
        school,
        {
            "kind": "open",
            "start_on": date(2025, 10, 1),
            "end_on": date(2025, 10, 1),
            "reason": "值班",
        },
        None,
    )
    assert day_info(session, school.id, date(2025, 12, 16)) == DayInfo(
        date(2025, 12, 16), False, "school_closed", "暴雪停课"
    )
    assert day_info(session, school.id, date(2026, 2, 2)) == DayInfo(
        date(2026, 2, 2), True, "school_open", "补课"
    )  # over a vacation
    assert day_info(session, school.id, date(2025, 10, 1)).kind == "school_open"  # over 国庆
    assert day_info(session, other.id, date(2025, 12, 16)).kind == "workday"
    assert day_info(session, other.id, date(2026, 2, 2)).kind == "vacation"


def test_an_unpublished_year_is_refused_even_where_an_exception_would_decide(
    session: Session, school: School
) -> None:
    calendar.add_exception(
        session,
        school,
        {
            "kind": "closed",
            "start_on": date(2027, 1, 4),
            "end_on": date(2027, 1, 4),
            "reason": "停电",
        },
        None,
    )
    with pytest.raises(CalendarNotPublished):
        day_info(session, school.id, date(2027, 1, 4))


def test_overlapping_periods_and_exceptions_are_refused(
    session: Session, county: Region, school: School, is_postgres: bool
) -> None:
    _school_year_2025(session, county)
    with pytest.raises(Conflict, match="寒假"):
        _period(session, county, "term", "补课学期", date(2026, 2, 1), date(2026, 2, 10))
    closed = {"kind": "closed", "start_on": date(2025, 12, 15), "end_on": date(2025, 12, 16)}
    calendar.add_exception(session, school, {**closed, "reason": "暴雪"}, None)
    with pytest.raises(Conflict):
        calendar.add_exception(session, school, {**closed, "reason": "again"}, None)
    if is_postgres:  # the database is the guard too, past the service's check
        with pytest.raises(IntegrityError), session.begin_nested():
            session.add(
                SchoolCalendarPeriod(
                    region_id=county.id,
                    school_year=2025,
                    kind="term",
                    name="race",
                    start_on=date(2026, 2, 1),
                    end_on=date(2026, 2, 2),
                )
            )
            session.flush()


# --- queries are bounded -------------------------------------------------------------------


@pytest.fixture
def statements(app: Flask) -> Iterator[list[str]]:
    seen: list[str] = []
    engine = database_of(app).engine

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    yield seen
    event.remove(engine, "before_cursor_execute", record)


def test_workdays_reads_each_layer_once_whatever_the_range(
    session: Session, county: Region, school: School, statements: list[str]
) -> None:
    _school_year_2025(session, county)
    _publish(session, county, 2026, [{"day": date(2026, 10, 9), "kind": "holiday", "name": "县庆"}])
    calendar.add_exception(
        session,
        school,
        {
            "kind": "closed",
            "start_on": date(2026, 3, 3),
            "end_on": date(2026, 3, 3),
            "reason": "停电",
        },
        None,
    )
    session.flush()
    session.execute(sa.select(1))  # any transaction start happens before counting

    counts = []
    for start, end in [
        (date(2026, 3, 1), date(2026, 3, 7)),
        (date(2025, 9, 1), date(2026, 8, 31)),
        (date(2025, 7, 1), date(2026, 7, 1)),
    ]:
        statements.clear()
        days = workdays(session, school.id, start, end)
        assert len(days) == (end - start).days + 1
        counts.append(len(statements))
    assert counts == [4, 4, 4], statements


# --- the HTTP API ----------------------------------------------------------------------------


def _year_url(region: Region, year: int) -> str:
    return f"{API}/calendar/regions/{region.id}/years/{year}"


def _days(
    client: FlaskClient, school: School, headers: dict[str, str], start: str, end: str
) -> Any:
    return client.get(
        f"{API}/calendar/schools/{school.id}/days",
        query_string={"start": start, "end": end},
        headers=headers,
    )


def test_api_2027_is_422_until_the_city_publishes_it(
    app: Flask, session: Session, client: FlaskClient
) -> None:
    w = committed_world(session, app)
    teacher = w.headers["teacher_a"]

    refused = _days(client, w.member_a, teacher, "2027-02-01", "2027-02-28")
    expect_error(refused, 422, "calendar_not_published", rule="003 §四(三)4")
    assert "2027" in refused.get_json()["message"]

    body = {"notice": "国务院办公厅关于2027年部分节假日安排的通知", "entries": _wire(SPRING_2027)}
    published = ok(client.put(_year_url(w.city, 2027), json=body, headers=w.headers["bureau_city"]))
    assert published["year"] == 2027 and len(published["entries"]) == len(SPRING_2027)
    assert published["entries"][0] == {"date": "2027-01-01", "kind": "holiday", "name": "元旦"}

    month = ok(_days(client, w.member_a, teacher, "2027-02-01", "2027-02-28"))
    kinds = {d["date"]: d["kind"] for d in month["days"]}
    assert kinds["2027-02-10"] == "holiday" and kinds["2027-02-20"] == "makeup_workday"
    assert month["workday_count"] == 20 - 6 + 1  # 20 weekdays, 6 of them off, one Saturday
    assert month["days"][9] == {
        "date": "2027-02-10",
        "workday": False,
        "kind": "holiday",
        "name": "春节",
    }


def test_api_publish_validation(app: Flask, session: Session, client: FlaskClient) -> None:
    w = committed_world(session, app)
    bureau = w.headers["bureau_a"]
    url = _year_url(w.county_a, 2027)
    entry = {"date": "2027-02-10", "kind": "holiday", "name": "春节"}

    outside = client.put(url, json={"entries": [{**entry, "date": "2026-12-31"}]}, headers=bureau)
    body = expect_error(outside, 422, "validation_error")
    assert body["errors"]["json"]["entries"]["0"]["date"], body
    twice = client.put(url, json={"entries": [entry, {**entry, "name": "x"}]}, headers=bureau)
    assert expect_error(twice, 422, "validation_error")["errors"]["json"]["entries"]["1"]["date"]
    bad_kind = client.put(url, json={"entries": [{**entry, "kind": "rest"}]}, headers=bureau)
    assert expect_error(bad_kind, 422, "validation_error")["errors"]["json"]["entries"]["0"]["kind"]
    no_name = client.put(url, json={"entries": [{**entry, "name": ""}]}, headers=bureau)
    expect_error(no_name, 422, "validation_error")
    missing = client.put(url, json={"notice": "x"}, headers=bureau)
    expect_error(missing, 422, "validation_error", field="entries", location="json")
    far = client.put(_year_url(w.county_a, 1999), json={"entries": []}, headers=bureau)
    assert expect_error(far, 422, "validation_error")["errors"]["path"]["year"]


def test_api_replace_with_etag_list_and_withdraw(
    app: Flask, session: Session, client: FlaskClient
) -> None:
    w = committed_world(session, app)
    bureau = w.headers["bureau_a"]
    url = _year_url(w.county_a, 2027)
    ok(client.put(url, json={"entries": _wire(SPRING_2027)}, headers=bureau))
    read = client.get(url, headers=bureau)
    etag = read.headers["ETag"]

    one_day = {"entries": [{"date": "2027-02-10", "kind": "holiday", "name": "春节"}]}
    replaced = ok(client.put(url, json=one_day, headers={**bureau, "If-Match": etag}))
    assert [e["date"] for e in replaced["entries"]] == ["2027-02-10"]
    stale = client.put(url, json=one_day, headers={**bureau, "If-Match": etag})
    assert stale.status_code == 412

    listed = ok(client.get(f"{API}/calendar/regions/{w.county_a.id}/years", headers=bureau))
    assert [y["year"] for y in listed["items"]] == [2027] and listed["next_cursor"] is None

    assert client.delete(url, headers=bureau).status_code == 204
    assert client.get(url, headers=bureau).status_code == 404
    withdrawn = _days(client, w.member_a, bureau, "2027-02-10", "2027-02-10")
    expect_error(withdrawn, 422, "calendar_not_published", rule="003 §四(三)4")


def test_api_days_range_validation(app: Flask, session: Session, client: FlaskClient) -> None:
    w = committed_world(session, app)
    headers = w.headers["bureau_a"]
    too_long = _days(client, w.member_a, headers, "2025-01-01", "2026-01-02")
    expect_error(too_long, 422, "validation_error", field="end", location="query")
    backwards = _days(client, w.member_a, headers, "2025-10-08", "2025-10-01")
    expect_error(backwards, 422, "validation_error", field="end", location="query")
    year = ok(_days(client, w.member_a, headers, "2025-01-01", "2026-01-01"))  # 366 days
    assert len(year["days"]) == 366


def test_api_school_calendar_periods(app: Flask, session: Session, client: FlaskClient) -> None:
    w = committed_world(session, app)
    bureau = w.headers["bureau_city"]
    url = f"{API}/calendar/regions/{w.city.id}/periods"
    winter = {
        "school_year": 2025,
        "kind": "vacation",
        "name": "寒假",
        "start_on": "2026-01-24",
        "end_on": "2026-03-01",
    }
    created = ok(client.post(url, json=winter, headers=bureau), 201)
    assert created["region_id"] == str(w.city.id)
    on_vacation = ok(_days(client, w.member_a, w.headers["teacher_a"], "2026-02-02", "2026-02-02"))
    assert on_vacation["days"][0]["kind"] == "vacation"

    overlap = client.post(url, json={**winter, "start_on": "2026-02-01"}, headers=bureau)
    expect_error(overlap, 409, "conflict", field="start_on")
    wrong_year = client.post(url, json={**winter, "start_on": "2024-12-01"}, headers=bureau)
    expect_error(wrong_year, 422, "validation_error", field="start_on", location="json")
    backwards = client.post(url, json={**winter, "end_on": "2026-01-01"}, headers=bureau)
    expect_error(backwards, 422, "validation_error", field="end_on", location="json")
    bad_kind = client.post(url, json={**winter, "kind": "holiday"}, headers=bureau)
    expect_error(bad_kind, 422, "validation_error", field="kind", location="json")

    # Read from below: a county bureau and a school admin see the city's calendar.
    for reader in ("bureau_a", "school_admin_a", "teacher_a"):
        listed = ok(client.get(url, headers=w.headers[reader], query_string={"kind": "vacation"}))
        assert [p["name"] for p in listed["items"]] == ["寒假"], reader
    deleted = client.delete(f"{url}/{created['id']}", headers=bureau)
    assert deleted.status_code == 204
    back = ok(_days(client, w.member_a, w.headers["teacher_a"], "2026-02-02", "2026-02-02"))
    assert back["days"][0]["kind"] == "workday"


def test_api_school_exceptions(app: Flask, session: Session, client: FlaskClient) -> None:
    w = committed_world(session, app)
    url = f"{API}/calendar/schools/{w.core_a.id}/exceptions"
    snow = {
        "kind": "closed",
        "start_on": "2025-12-15",
        "end_on": "2025-12-16",
        "reason": "暴雪停课",
    }

    created = ok(client.post(url, json=snow, headers=w.headers["school_admin_a"]), 201)
    days = ok(_days(client, w.core_a, w.headers["teacher_a"], "2025-12-15", "2025-12-17"))
    assert [d["kind"] for d in days["days"]] == ["school_closed", "school_closed", "workday"]
    assert days["days"][0]["name"] == "暴雪停课"

    again = client.post(url, json=snow, headers=w.headers["bureau_a"])
    expect_error(again, 409, "conflict", field="start_on")
    no_reason = client.post(url, json={**snow, "reason": ""}, headers=w.headers["bureau_a"])
    expect_error(no_reason, 422, "validation_error", field="reason", location="json")
    listed = ok(client.get(url, headers=w.headers["inspector_a"]))
    assert [e["id"] for e in listed["items"]] == [created["id"]]
    later = ok(client.get(url, headers=w.headers["bureau_a"], query_string={"start": "2025-12-17"}))
    assert later["items"] == []

    gone = client.delete(f"{url}/{created['id']}", headers=w.headers["bureau_a"])
    assert gone.status_code == 204
    assert client.delete(f"{url}/{created['id']}", headers=w.headers["bureau_a"]).status_code == 404


# (persona, method, url builder, expected status)
SCOPE_CASES: list[tuple[str, str, str, int]] = [
    # publishing: the bureau of the region or above; others 404 (not found in scope)
    ("bureau_b", "PUT", "year_a", 404),
    ("bureau_a", "PUT", "year_city", 404),  # a county does not publish for its city
    ("bureau_a", "PUT", "year_a", 200),
    ("bureau_city", "PUT", "year_a", 200),
    ("teacher_a", "PUT", "year_a", 403),
    ("school_admin_a", "PUT", "year_a", 403),
    ("inspector_a", "PUT", "year_a", 403),
    # reading a region's calendar: within or above your region; 404 beside it
    ("bureau_a", "GET", "years_city", 200),
    ("bureau_b", "GET", "years_a", 404),
    ("inspector_b", "GET", "periods_a", 404),
    ("teacher_a", "GET", "periods_a", 200),
    ("teacher_b", "GET", "periods_a", 404),
    ("school_admin_b", "GET", "periods_a", 404),
    # terms and vacations: bureau only
    ("teacher_a", "POST", "periods_a", 403),
    ("school_admin_a", "POST", "periods_a", 403),
    ("bureau_b", "POST", "periods_a", 404),
    # exceptions: the bureau or the school's own admin
    ("school_admin_a", "POST", "exceptions_member_a", 404),  # a partner school, not theirs
    ("host_admin_a", "POST", "exceptions_member_a", 201),
    ("bureau_b", "POST", "exceptions_member_a", 404),
    ("teacher_a", "POST", "exceptions_member_a", 403),
    ("inspector_a", "POST", "exceptions_member_a", 403),
    # days: whoever sees the school
    ("teacher_a", "GET", "days_member_a", 200),
    ("teacher_a", "GET", "days_other_a", 404),
    ("school_admin_b", "GET", "days_member_a", 404),
    ("inspector_a", "GET", "days_other_a", 200),
]


def _scope_url(w: factories.World, name: str) -> str:
    regions = {"a": w.county_a, "city": w.city}
    kind, _, target = name.partition("_")
    if kind == "year":
        return _year_url(regions[target], 2027)
    if kind in ("years", "periods"):
        return f"{API}/calendar/regions/{regions[target].id}/{kind}"
    school = {"member_a": w.member_a, "other_a": w.other_a}[target.removeprefix("_")]
    days = "?start=2025-10-01&end=2025-10-07" if kind == "days" else ""
    return f"{API}/calendar/schools/{school.id}/{kind}{days}"


@pytest.mark.parametrize(("persona", "method", "target", "status"), SCOPE_CASES)
def test_api_scope(
    app: Flask,
    session: Session,
    client: FlaskClient,
    persona: str,
    method: str,
    target: str,
    status: int,
) -> None:
    w = committed_world(session, app)
    payloads = {
        "year": {"entries": _wire(SPRING_2027)},
        "periods": {
            "school_year": 2025,
            "kind": "term",
            "name": "第一学期",
            "start_on": "2025-09-01",
            "end_on": "2026-01-16",
        },
        "exceptions": {
            "kind": "open",
            "start_on": "2025-10-11",
            "end_on": "2025-10-11",
            "reason": "运动会",
        },
    }
    kind = target.split("_")[0]
    response = client.open(
        _scope_url(w, target),
        method=method,
        json=payloads.get(kind) if method != "GET" else None,
        headers=w.headers[persona],
    )
    assert response.status_code == status, response.get_json()

"""Secondments (003 §四(三)) through POST /api/v1/secondments and its sub-resources.

host ≠ home; the home school is the teacher's own; no two active secondments of a teacher
overlap; host and home share a community on the first day unless the bureau records an
exception with a reason; at most two extensions, each of at most one school year.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from backend.exchange.models import Secondment, Teacher
from backend.org.models import School
from tests import factories
from tests.factories import committed_world, fresh
from tests.org.support import (
    API,
    expect_error,
    ok,
)

RULE = "003 §四(三)"


def _payload(teacher: Teacher, host: School, **changes: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "teacher_id": str(teacher.id),
        "host_school_id": str(host.id),
        "kind": "support_teaching",
        "role": "teaching",
        "start_on": "2027-09-01",
        "end_on": "2028-07-15",
    }
    payload.update(changes)
    return payload


def _create(client: FlaskClient, w: factories.World, payload: dict[str, Any]) -> TestResponse:
    return client.post(f"{API}/secondments", json=payload, headers=w.headers["bureau_a"])


def _extend(
    client: FlaskClient, w: factories.World, secondment_id: Any, new_end_on: str
) -> TestResponse:
    return client.post(
        f"{API}/secondments/{secondment_id}/extensions",
        json={"new_end_on": new_end_on, "reason": "the host school asks to keep them"},
        headers=w.headers["bureau_a"],
    )


def _cancel(client: FlaskClient, w: factories.World, secondment_id: Any) -> TestResponse:
    return client.post(
        f"{API}/secondments/{secondment_id}/cancel",
        json={"reason": "illness"},
        headers=w.headers["bureau_a"],
    )


def _secondments_of(session: Session, teacher_id: uuid.UUID) -> list[Secondment]:
    return fresh(session, sa.select(Secondment).where(Secondment.teacher_id == teacher_id))


def test_a_secondment_within_one_community_is_created(
    app: Flask, session: Session, client: FlaskClient
) -> None:
    w = committed_world(session, app)

    body = ok(_create(client, w, _payload(w.teacher_a2, w.member_a)), 201)

    assert body["home_school_id"] == str(w.core_a.id)  # defaulted to the teacher's own
    assert body["community_id"] == str(w.community_a.id)
    assert body["status"] == "active" and body["extension_count"] == 0
    assert body["original_end_on"] == body["end_on"] == "2028-07-15"
    assert body["cross_community_exception"] is False and body["extensions"] == []


def test_a_school_admin_may_not_second_teachers(
    app: Flask, session: Session, client: FlaskClient
) -> None:
    w = committed_world(session, app)

    response = client.post(
        f"{API}/secondments",
        json=_payload(w.teacher_a2, w.member_a),
        headers=w.headers["school_admin_a"],
    )

    expect_error(response, 403, "forbidden")


def test_the_host_must_differ_from_the_home_school(
    app: Flask, session: Session, client: FlaskClient
) -> None:
    w = committed_world(session, app)

    response = _create(client, w, _payload(w.teacher_a2, w.core_a))

    expect_error(response, 422, "rule_violation", rule=RULE)
    assert not _secondments_of(session, w.teacher_a2.id)


def test_the_home_school_is_the_teachers_own(
    app: Flask, session: Session, client: FlaskClient
) -> None:
    w = committed_world(session, app)

    # member_a shares community_a with the host: only the home-school rule can refuse this.
    response = _create(
        client, w, _payload(w.teacher_a2, w.core_a, home_school_id=str(w.member_a.id))
    )

    expect_error(response, 422, "rule_violation", rule=RULE)
    assert not _secondments_of(session, w.teacher_a2.id)


@pytest.mark.parametrize(
    ("start_on", "end_on"),
    [
        # teacher_a is seconded 2026-09-01 .. 2027-07-15, both days included.
        pytest.param("2027-07-15", "2027-12-31", id="starts-on-the-last-day"),
        pytest.param("2026-06-01", "2026-09-01", id="ends-on-the-first-day"),
        pytest.param("2026-10-01", "2026-12-01", id="inside"),
        pytest.param("2026-01-01", "2028-01-01", id="around"),
    ],
)
def test_overlapping_secondments_of_one_teacher_are_refused(
    app: Flask, session: Session, client: FlaskClient, start_on: str, end_on: str
) -> None:
    w = committed_world(session, app)

    response = _create(
        client, w, _payload(w.teacher_a, w.member_a, start_on=start_on, end_on=end_on)
    )

    expect_error(response, 422, "rule_violation", rule=RULE)
    assert len(_secondments_of(session, w.teacher_a.id)) == 1


def test_a_secondment_starting_the_day_after_the_last_one_ends_is_allowed(
    app: Flask, session: Session, client: FlaskClient
) -> None:
    w = committed_world(session, app)

    response = _create(client, w, _payload(w.teacher_a, w.member_a, start_on="2027-07-16"))

    ok(response, 201)
    assert len(_secondments_of(session, w.teacher_a.id)) == 2


def _row(w: factories.World, start: date, end: date, status: str = "active") -> Secondment:
    return Secondment(
        teacher_id=w.teacher_a.id,
        home_school_id=w.core_a.id,
        host_school_id=w.member_a.id,
        community_id=w.community_a.id,
        kind="support_teaching",
        role="teaching",
        start_on=start,
        end_on=end,
        original_end_on=end,
        status=status,
    )


def test_the_database_itself_refuses_overlapping_active_secondments(
    app: Flask, session: Session, is_postgres: bool
) -> None:
    # The guard is PostgreSQL's exclusion constraint (migration 0002): SQLite has no
    # exclusion constraints, so there the service's check under SQLite's single-writer lock
    # is the only guard, and the HTTP tests above already prove that check.
    if not is_postgres:
        pytest.skip("exclusion constraints exist on PostgreSQL only")
    w = committed_world(session, app)

    # Bypass the service: straight into the table, overlapping secondment_a by one day.
    session.add(_row(w, date(2027, 7, 15), date(2027, 12, 31)))
    with pytest.raises(IntegrityError, match="ex_secondments_no_overlap"):
        session.flush()
    session.rollback()

    # Cancelled rows and rows that merely touch the period are not in conflict.
    session.add(_row(w, date(2027, 1, 1), date(2027, 12, 31), status="cancelled"))
    session.add(_row(w, date(2027, 7, 16), date(2028, 7, 15)))
    session.flush()


def test_a_host_outside_the_home_community_needs_a_bureau_exception_with_a_reason(
    app: Flask, session: Session, client: FlaskClient
) -> None:
    w = committed_world(session, app)  # other_a shares no community with core_a

    refused = _create(client, w, _payload(w.teacher_a2, w.other_a))
    no_reason = _create(
        client, w, _payload(w.teacher_a2, w.other_a, cross_community_exception=True)
    )
    blank_reason = _create(
        client,
        w,
        _payload(w.teacher_a2, w.other_a, cross_community_exception=True, exception_reason=""),
    )

    expect_error(refused, 422, "rule_violation", rule=RULE)
    expect_error(no_reason, 422, "validation_error", field="exception_reason")
    expect_error(blank_reason, 422, "validation_error", field="exception_reason")
    assert not _secondments_of(session, w.teacher_a2.id)

    allowed = _create(
        client,
        w,
        _payload(
            w.teacher_a2,
            w.other_a,
            cross_community_exception=True,
            exception_reason="the only physics teacher in the township",
        ),
    )

    body = ok(allowed, 201)
    assert body["cross_community_exception"] is True and body["community_id"] is None
    assert body["exception_reason"] == "the only physics teacher in the township"


def test_the_schools_must_share_a_community_on_the_first_day(
    app: Flask, session: Session, client: FlaskClient
) -> None:
    w = committed_world(session, app)
    bureau = w.headers["bureau_a"]
    change = ok(
        client.post(
            f"{API}/communities/{w.community_a.id}/membership-changes",
            json={"school_id": str(w.other_a.id), "action": "join", "effective_on": "2027-02-01"},
            headers=bureau,
        ),
        201,
    )
    ok(
        client.post(
            f"{API}/communities/membership-changes/{change['id']}/approve", json={}, headers=bureau
        )
    )

    before = _create(client, w, _payload(w.teacher_a2, w.other_a, start_on="2027-01-31"))
    from_join = _create(client, w, _payload(w.teacher_a2, w.other_a, start_on="2027-02-01"))

    expect_error(before, 422, "rule_violation", rule=RULE)
    assert ok(from_join, 201)["community_id"] == str(w.community_a.id)


def test_two_extensions_are_allowed_and_a_third_is_refused(
    app: Flask, session: Session, client: FlaskClient
) -> None:
    w = committed_world(session, app)
    sid = w.secondment_a.id  # 2026-09-01 .. 2027-07-15

    first = ok(_extend(client, w, sid, "2028-07-15"), 201)
    second = ok(_extend(client, w, sid, "2029-07-15"), 201)
    third = _extend(client, w, sid, "2029-12-31")

    assert first["extension_count"] == 1
    assert second["extension_count"] == 2 and second["end_on"] == "2029-07-15"
    assert second["original_end_on"] == "2027-07-15"  # the original term is never lost
    assert [(e["seq"], e["previous_end_on"], e["new_end_on"]) for e in second["extensions"]] == [
        (1, "2027-07-15", "2028-07-15"),
        (2, "2028-07-15", "2029-07-15"),
    ]
    expect_error(third, 422, "rule_violation", rule=RULE)
    [stored] = _secondments_of(session, w.teacher_a.id)
    assert stored.extension_count == 2 and stored.end_on == date(2029, 7, 15)


def test_an_extension_adds_at_most_one_school_year(
    app: Flask, session: Session, client: FlaskClient
) -> None:
    w = committed_world(session, app)
    sid = w.secondment_a.id  # ends 2027-07-15

    too_long = _extend(client, w, sid, "2028-07-16")

    expect_error(too_long, 422, "rule_violation", rule=RULE)
    [stored] = _secondments_of(session, w.teacher_a.id)
    assert stored.extension_count == 0 and stored.end_on == date(2027, 7, 15)
    assert ok(_extend(client, w, sid, "2028-07-15"), 201)["extension_count"] == 1


def test_an_extension_may_not_run_into_a_later_secondment(
    app: Flask, session: Session, client: FlaskClient
) -> None:
    w = committed_world(session, app)
    ok(_create(client, w, _payload(w.teacher_a, w.member_a, start_on="2027-09-01")), 201)

    clash = _extend(client, w, w.secondment_a.id, "2027-09-01")

    expect_error(clash, 422, "rule_violation", rule=RULE)
    assert ok(_extend(client, w, w.secondment_a.id, "2027-08-31"), 201)["end_on"] == "2027-08-31"


def test_an_extension_must_move_the_end_later(
    app: Flask, session: Session, client: FlaskClient
) -> None:
    w = committed_world(session, app)

    response = _extend(client, w, w.secondment_a.id, "2027-07-15")

    expect_error(response, 422, "validation_error", field="new_end_on")


def test_a_cancelled_secondment_frees_its_period(
    app: Flask, session: Session, client: FlaskClient
) -> None:
    w = committed_world(session, app)
    sid = w.secondment_a.id

    cancelled = ok(_cancel(client, w, sid))
    again = ok(
        _create(
            client,
            w,
            _payload(w.teacher_a, w.member_a, start_on="2026-09-01", end_on="2027-07-15"),
        ),
        201,
    )

    assert cancelled["status"] == "cancelled" and cancelled["cancel_reason"] == "illness"
    assert again["status"] == "active"
    statuses = sorted(s.status for s in _secondments_of(session, w.teacher_a.id))
    assert statuses == ["active", "cancelled"]  # the cancelled one stays on record
    expect_error(_cancel(client, w, sid), 409, "conflict")
    expect_error(_extend(client, w, sid, "2028-07-15"), 409, "conflict")


def test_a_bureau_of_another_county_cannot_touch_the_secondment(
    app: Flask, session: Session, client: FlaskClient
) -> None:
    w = committed_world(session, app)

    response = client.post(
        f"{API}/secondments/{w.secondment_a.id}/cancel",
        json={"reason": "not mine"},
        headers=w.headers["bureau_b"],
    )

    expect_error(response, 404, "not_found")
    [stored] = _secondments_of(session, w.teacher_a.id)
    assert stored.status == "active"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        pytest.param({"kind": "holiday"}, "kind", id="bad-kind"),
        pytest.param({"role": "janitor"}, "role", id="bad-role"),
        pytest.param({"end_on": "2027-09-01"}, "end_on", id="ends-on-start"),
        pytest.param({"start_on": "2027-02-30"}, "start_on", id="no-such-day"),
        pytest.param({"community_id": str(uuid.uuid4())}, "community_id", id="derived-field"),
        pytest.param({"status": "cancelled"}, "status", id="status-is-not-input"),
        pytest.param({"teacher_id": "nope"}, "teacher_id", id="bad-uuid"),
    ],
)
def test_invalid_secondment_input_is_422_naming_the_field(
    app: Flask, session: Session, client: FlaskClient, changes: dict[str, Any], field: str
) -> None:
    w = committed_world(session, app)

    response = _create(client, w, _payload(w.teacher_a2, w.member_a, **changes))

    expect_error(response, 422, "validation_error", field=field, location="json")

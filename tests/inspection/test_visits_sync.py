"""Schema version 3: an inspector's phone pulls its spot checks and pushes visits made
offline, with photos uploaded through tus; the quarantine of visits the inspector may not
record; edits, withdrawals, and spot checks leaving the phone."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from backend.inspection.models import (
    SpotCheck,
    SpotCheckFinding,
    SpotCheckInspector,
    SpotCheckVisit,
)
from sync.models import QuarantinedRecord
from sync.protocol import SCHEMA_VERSION_MAX
from tests.factories import World, fresh
from tests.inspection.visit_support import (
    another_inspector,
    findings,
    phone_of,
    push,
    spot_check,
    visit,
)
from tests.media.test_processing import photo_bytes
from tests.media.test_tus import BASE, OCTETS, TUS, creation_headers
from tests.sync.phone import Phone, check_in

NOW = int(time.time() * 1000)
ARRIVED = NOW - 5 * 60_000


@pytest.fixture
def check(session: Session, world: World) -> SpotCheck:
    return spot_check(session, world)


@pytest.fixture
def inspector(client: FlaskClient, session: Session, world: World) -> Phone:
    return phone_of(client, session, world, world.users["inspector_a"])


def stored(session: Session, record_id: str) -> SpotCheckVisit:
    [row] = fresh(session, sa.select(SpotCheckVisit).where(SpotCheckVisit.id == record_id))
    return row


def finding_rows(session: Session, record_id: str) -> list[SpotCheckFinding]:
    return fresh(session, sa.select(SpotCheckFinding).where(SpotCheckFinding.visit_id == record_id))


def pulled(phone: Phone, table: str) -> dict[str, Any]:
    changes: dict[str, Any] = phone.pull()["changes"][table]
    return changes


def counters(response: TestResponse) -> dict[str, Any]:
    assert response.status_code == 200, response.get_data(as_text=True)
    body: dict[str, Any] = response.get_json()
    return body


def upload(client: FlaskClient, headers: dict[str, str], photo_id: str, data: bytes) -> None:
    """The whole photo in one tus creation-with-upload request."""
    response = client.post(
        BASE, headers={**creation_headers({**headers, **TUS}, photo_id, data), **OCTETS}, data=data
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.headers["Upload-Offset"] == str(len(data))
    assert urlsplit(response.headers["Location"]).path.startswith(BASE)


def test_the_schema_version_is_3() -> None:
    assert SCHEMA_VERSION_MAX >= 3


def test_an_offline_visit_with_photos_syncs_and_a_replay_changes_nothing(
    client: FlaskClient,
    app: Flask,
    session: Session,
    world: World,
    check: SpotCheck,
    inspector: Phone,
    phone: Phone,
) -> None:
    # Teacher A checked in a minute before the inspectors arrived.
    phone.pull()
    assert phone.push_request(
        {"check_ins": {"created": [check_in("ta-in-00000001", captured_at=ARRIVED - 60_000)]}}
    ).json == {"ok": True, "applied": 1, "unchanged": 0, "ignored": 0, "quarantined": 0}

    changes = inspector.pull()["changes"]
    [wire] = changes["spot_checks"]["updated"]
    assert wire["id"] == str(check.id) and wire["status"] == "assigned"
    assert wire["school_name"] == world.member_a.name and wire["geofence_radius_m"] == 300
    assert json.loads(wire["teachers"]) == [
        {
            "teacher_id": str(world.teacher_a.id),
            "name": world.teacher_a.name,
            "staff_no": world.teacher_a.staff_no,
        }
    ]
    assert changes["spot_check_visits"] == {"created": [], "updated": [], "deleted": []}

    # Offline: the visit, its photos and the signature, and one finding.
    record = visit(
        "visit-a-0000001",
        check,
        ARRIVED,
        photo_ids=json.dumps(["vp-scene-1", "vp-scene-2"]),
        signature_photo_id="vp-sign-1",
        findings=findings((world.teacher_a.id, "present_teaching")),
    )
    inspector.create("spot_check_visits", record)
    response = inspector.sync()
    assert response.json == {
        "ok": True,
        "applied": 1,
        "unchanged": 0,
        "ignored": 0,
        "quarantined": 0,
    }

    row = stored(session, "visit-a-0000001")
    assert row.inspector_id == world.users["inspector_a"].id
    assert (row.location, row.status, row.flags) == ("inside", "accepted", [])
    assert row.photo_state == "expected" and row.estimated_at is not None
    [finding] = finding_rows(session, row.id)
    assert (finding.teacher_id, finding.finding, finding.discrepancies) == (
        world.teacher_a.id,
        "present_teaching",
        [],
    )
    assert finding.host_school_id == world.member_a.id
    [check_now] = fresh(session, sa.select(SpotCheck).where(SpotCheck.id == check.id))
    assert check_now.status == "visited" and check_now.visited_at == row.estimated_at

    # The photos arrive later, over tus; the next pull says they are verified.
    headers = world.headers["inspector_a"]
    for seed, photo_id in enumerate(["vp-scene-1", "vp-scene-2", "vp-sign-1"], start=20):
        assert stored(session, row.id).photo_state in {"expected", "uploading"}
        upload(client, headers, photo_id, photo_bytes(seed))
    assert stored(session, row.id).photo_state == "verified"
    back = pulled(inspector, "spot_check_visits")["updated"]
    assert [(r["id"], r["photo_state"], r["status"]) for r in back] == [
        ("visit-a-0000001", "verified", "accepted")
    ]
    assert json.loads(back[0]["findings"]) == json.loads(record["findings"])
    assert pulled(inspector, "spot_checks")["updated"] == []  # nothing changed since

    # The answer to the push was lost: the same push again changes nothing.
    serial = stored(session, row.id).server_serial
    again = inspector.push_request(
        {"spot_check_visits": {"created": [record], "updated": [], "deleted": []}}
    )
    assert again.json == {"ok": True, "applied": 0, "unchanged": 1, "ignored": 0, "quarantined": 0}
    # …and neither does the record as pulled back (server-owned columns are ignored).
    echoed = inspector.push_request(
        {"spot_check_visits": {"created": [], "updated": back, "deleted": []}}
    )
    assert counters(echoed)["unchanged"] == 1
    assert stored(session, row.id).server_serial == serial
    assert len(finding_rows(session, row.id)) == 1


def test_a_co_inspectors_visit_is_their_own(
    client: FlaskClient, app: Flask, session: Session, world: World
) -> None:
    second = another_inspector(session, app, world)
    check = spot_check(session, world, inspectors=[world.users["inspector_a"], second])
    first_phone = phone_of(client, session, world, world.users["inspector_a"])
    second_phone = phone_of(client, session, world, second)
    first_phone.pull()
    [wire] = pulled(second_phone, "spot_checks")["updated"]
    assert {i["user_id"] for i in json.loads(wire["inspectors"])} == {
        str(world.users["inspector_a"].id),
        str(second.id),
    }
    push(
        first_phone,
        created=[
            visit(
                "visit-first-01", check, ARRIVED, findings=findings((world.teacher_a.id, "absent"))
            )
        ],
    )
    push(
        second_phone,
        created=[
            visit(
                "visit-second-1",
                check,
                ARRIVED + 60_000,
                findings=findings((world.teacher_a.id, "present_teaching")),
            )
        ],
    )
    assert stored(session, "visit-second-1").inspector_id == second.id
    assert [f.finding for f in finding_rows(session, "visit-first-01")] == ["absent"]
    assert [f.finding for f in finding_rows(session, "visit-second-1")] == ["present_teaching"]
    # Each phone pulls its own visit only.
    assert [r["id"] for r in pulled(first_phone, "spot_check_visits")["updated"]] == [
        "visit-first-01"
    ]
    second_phone.last_pulled_at = None
    assert [r["id"] for r in pulled(second_phone, "spot_check_visits")["updated"]] == [
        "visit-second-1"
    ]
    # One visit per inspector per spot check: a second one is set aside, not a 500.
    body = push(
        first_phone,
        created=[visit("visit-first-02", check, ARRIVED + 120_000)],
    )
    assert body["quarantined"] == 1
    assert quarantine_of(session, "visit-first-02").reason == "duplicate_visit"


# --- quarantine -------------------------------------------------------------------------------


def quarantine_of(session: Session, record_id: str) -> QuarantinedRecord:
    return session.scalars(
        sa.select(QuarantinedRecord).where(QuarantinedRecord.record_id == record_id)
    ).one()


def test_a_visit_to_a_spot_check_not_assigned_to_you_is_set_aside_without_a_leak(
    client: FlaskClient, app: Flask, session: Session, world: World, inspector: Phone
) -> None:
    other = another_inspector(session, app, world)
    theirs = spot_check(session, world, inspectors=[other])
    nowhere = str(uuid.uuid4())
    body = push(
        inspector,
        created=[
            visit("visit-theirs-01", theirs, ARRIVED),
            visit("visit-nowhere-1", theirs, ARRIVED, spot_check_id=nowhere),
        ],
    )
    assert body == {"ok": True, "applied": 0, "unchanged": 0, "ignored": 0, "quarantined": 2}
    existing, missing = (
        quarantine_of(session, "visit-theirs-01"),
        quarantine_of(session, "visit-nowhere-1"),
    )
    assert existing.reason == missing.reason == "not_assigned"
    # The same words for a spot check that exists and one that does not.
    assert existing.detail.replace(str(theirs.id), "X") == missing.detail.replace(nowhere, "X")
    assert fresh(session, sa.select(SpotCheckVisit)) == []
    assert fresh(session, sa.select(SpotCheck.status).where(SpotCheck.id == theirs.id)) == [
        "assigned"
    ]
    echoes = {r["id"]: r for r in pulled(inspector, "spot_check_visits")["updated"]}
    assert echoes["visit-theirs-01"]["status"] == "quarantined"
    assert json.loads(echoes["visit-theirs-01"]["flags"])[0]["code"] == "not_assigned"
    assert pulled(inspector, "spot_checks")["updated"] == []


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"findings": "TEACHER_A2"}, "teacher_not_in_spot_check"),
        ({"findings": "UNKNOWN"}, "unknown_finding"),
        ({"findings": "TWICE"}, "duplicate_teacher"),
        ({"findings": "[{not json"}, "invalid_field"),
        ({"latitude": 95.0}, "invalid_field"),
        ({"longitude": "east"}, "invalid_field"),
        ({"arrived_at": 946684992000}, "invalid_field"),
        ({"photo_ids": json.dumps(["../etc/passwd"])}, "invalid_field"),
    ],
)
def test_bad_visits_are_quarantined_with_a_reason(
    session: Session,
    world: World,
    check: SpotCheck,
    inspector: Phone,
    change: dict[str, Any],
    reason: str,
) -> None:
    special = {
        "TEACHER_A2": findings((world.teacher_a2.id, "absent")),
        "UNKNOWN": json.dumps(
            [{"teacher_id": str(world.teacher_a.id), "finding": "asleep", "note": ""}]
        ),
        "TWICE": findings((world.teacher_a.id, "absent"), (world.teacher_a.id, "present_teaching")),
    }
    values = {k: special.get(v, v) if isinstance(v, str) else v for k, v in change.items()}
    record = {**visit("visit-bad-00001", check, ARRIVED), **values}
    body = push(inspector, created=[record])
    assert body["quarantined"] == 1 and body["applied"] == 0
    assert quarantine_of(session, "visit-bad-00001").reason == reason
    assert fresh(session, sa.select(SpotCheckVisit)) == []
    assert fresh(session, sa.select(SpotCheckFinding)) == []


def test_a_cancelled_spot_check_takes_no_visit_and_leaves_the_phone(
    session: Session, world: World, check: SpotCheck, inspector: Phone
) -> None:
    assert [r["id"] for r in pulled(inspector, "spot_checks")["updated"]] == [str(check.id)]
    check.status = "cancelled"
    session.commit()
    assert pulled(inspector, "spot_checks")["deleted"] == [str(check.id)]
    body = push(inspector, created=[visit("visit-cancel-01", check, ARRIVED)])
    assert body["quarantined"] == 1
    assert quarantine_of(session, "visit-cancel-01").reason == "spot_check_cancelled"


def test_a_reassigned_spot_check_leaves_the_phone(
    session: Session, world: World, check: SpotCheck, inspector: Phone
) -> None:
    inspector.pull()
    session.execute(
        sa.delete(SpotCheckInspector).where(SpotCheckInspector.spot_check_id == check.id)
    )
    session.commit()
    assert pulled(inspector, "spot_checks")["deleted"] == [str(check.id)]


def test_only_inspectors_push_visits(
    session: Session, world: World, check: SpotCheck, phone: Phone
) -> None:
    phone.schema_version = 3
    body = push(phone, created=[visit("visit-teacher-1", check, ARRIVED)])
    assert body["quarantined"] == 1
    assert quarantine_of(session, "visit-teacher-1").reason == "not_writable"
    assert fresh(session, sa.select(SpotCheckVisit)) == []


# --- edits and withdrawals --------------------------------------------------------------------


def test_an_edit_rederives_the_findings_an_immutable_change_is_refused_and_delete_withdraws(
    session: Session, world: World, check: SpotCheck, inspector: Phone
) -> None:
    record = visit(
        "visit-edit-0001", check, ARRIVED, findings=findings((world.teacher_a.id, "absent"))
    )
    inspector.create("spot_check_visits", record)
    assert counters(inspector.sync())["applied"] == 1
    assert [f.finding for f in finding_rows(session, "visit-edit-0001")] == ["absent"]

    inspector.update(
        "spot_check_visits",
        "visit-edit-0001",
        findings=findings((world.teacher_a.id, "on_approved_leave")),
        note="校长说她请了假",
    )
    assert counters(inspector.sync())["applied"] == 1
    [finding] = finding_rows(session, "visit-edit-0001")
    assert finding.finding == "on_approved_leave"
    assert [d["code"] for d in finding.discrepancies] == ["leave_not_on_record"]
    row = stored(session, "visit-edit-0001")
    assert row.note == "校长说她请了假" and row.status == "flagged"

    # Where and when the inspector arrived is evidence: refused, flagged, sent back.
    inspector.update("spot_check_visits", "visit-edit-0001", latitude=36.5)
    assert counters(inspector.sync())["quarantined"] == 1
    assert quarantine_of(session, "visit-edit-0001").reason == "immutable_field"
    row = stored(session, "visit-edit-0001")
    assert row.latitude == 35.96
    assert "update_rejected" in [f["code"] for f in row.flags]
    [back] = pulled(inspector, "spot_check_visits")["updated"]
    assert back["latitude"] == 35.96

    # Deleting withdraws: a tombstone, its findings gone, the phone told.
    inspector.delete("spot_check_visits", "visit-edit-0001")
    assert counters(inspector.sync())["applied"] == 1
    assert stored(session, "visit-edit-0001").deleted_at is not None
    assert finding_rows(session, "visit-edit-0001") == []
    assert pulled(inspector, "spot_check_visits")["deleted"] == ["visit-edit-0001"]

    # A withdrawn visit stays as evidence and does not block filing the visit anew.
    inspector.create(
        "spot_check_visits",
        visit(
            "visit-edit-0002",
            check,
            ARRIVED + 60_000,
            findings=findings((world.teacher_a.id, "present_teaching")),
        ),
    )
    assert counters(inspector.sync())["applied"] == 1
    assert [f.finding for f in finding_rows(session, "visit-edit-0002")] == ["present_teaching"]
    assert stored(session, "visit-edit-0001").deleted_at is not None

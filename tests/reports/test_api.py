"""The monthly reports over HTTP: tally on request, confirm with the ETag read, deliver to
the home school's inbox, acknowledge; runs' progress; scope (404) and role (403)."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from backend.clock import today
from backend.db import utcnow
from backend.reports.jobs import request_tally
from backend.reports.models import HostMonthReport, ReportRun
from tests.factories import World, fresh
from tests.org.support import API, expect_error, ok

REPORTS = f"{API}/reports"
LAST_MONTH = (today().replace(day=1) - timedelta(days=1)).replace(day=1)
MONTH = f"{LAST_MONTH:%Y-%m}"
RULE = "003 §四(三)4"


def tally(client: FlaskClient, world: World, who: str = "host_admin_a", **body: Any) -> Any:
    payload = {"school_id": str(world.member_a.id), "month": MONTH, **body}
    return client.post(f"{REPORTS}/host/tally", json=payload, headers=world.headers[who])


def tallied(client: FlaskClient, world: World) -> dict[str, Any]:
    """member_a's last month, tallied into a draft through the API; the draft's body."""
    run = ok(tally(client, world), 202)
    assert run["status"] == "queued" and run["kind"] == "tally"
    # The job ran in-process right after the request committed (RQ in production).
    run = ok(client.get(f"{REPORTS}/runs/{run['id']}", headers=world.headers["host_admin_a"]))
    assert run["status"] == "done", run
    return ok(
        client.get(
            f"{REPORTS}/host/{run['result']['report_id']}", headers=world.headers["host_admin_a"]
        )
    )


def confirm(client: FlaskClient, world: World, report_id: str, who: str = "host_admin_a") -> Any:
    url = f"{REPORTS}/host/{report_id}"
    etag = client.get(url, headers=world.headers[who]).headers["ETag"]
    return client.post(f"{url}/confirm", headers={**world.headers[who], "If-Match": etag})


def confirmed_month(client: FlaskClient, world: World) -> dict[str, Any]:
    """member_a's last month, tallied and confirmed: the confirmed host report's body."""
    return ok(confirm(client, world, tallied(client, world)["id"]))


def home_report(client: FlaskClient, world: World) -> dict[str, Any]:
    """core_a's current report of last month (its admin's inbox entry)."""
    page = ok(client.get(f"{REPORTS}/inbox", headers=world.headers["school_admin_a"]))
    (item,) = page["items"]
    return ok(client.get(f"{REPORTS}/home/{item['id']}", headers=world.headers["school_admin_a"]))


# --- host months ------------------------------------------------------------------------------


def test_a_tally_asked_for_is_run_and_the_draft_confirmed_with_its_etag(
    client: FlaskClient, world: World
) -> None:
    draft = tallied(client, world)
    assert draft["status"] == "draft" and draft["version"] == 1 and draft["is_current"]
    assert draft["school_id"] == str(world.member_a.id) and draft["month"] == MONTH
    (row,) = draft["rows"]
    assert row["teacher_id"] == str(world.teacher_a.id) and row["workdays"] > 15
    assert draft["diff"] == [] and len(draft["content_hash"]) == 64
    assert draft["reason"].startswith("asked for by ") and draft["teacher_count"] == 1

    url = f"{REPORTS}/host/{draft['id']}/confirm"
    host = world.headers["host_admin_a"]
    expect_error(client.post(url, headers=host), 428, "precondition_required")
    expect_error(
        client.post(url, headers={**host, "If-Match": '"stale"'}), 412, "precondition_failed"
    )
    response = confirm(client, world, draft["id"])
    body = ok(response)
    assert body["status"] == "confirmed" and response.headers["ETag"]
    assert body["confirmed_by_id"] == str(world.users["host_admin_a"].id) and body["confirmed_at"]
    again = client.post(url, headers={**host, "If-Match": response.headers["ETag"]})
    expect_error(again, 409, "conflict")


def test_a_month_not_over_is_not_tallied_on_request(client: FlaskClient, world: World) -> None:
    expect_error(tally(client, world, month=f"{today():%Y-%m}"), 422, "month_not_over", rule=RULE)
    expect_error(tally(client, world, month="2026-13"), 422, "validation_error", field="month")


def test_a_tally_already_queued_is_answered_with_that_run(
    client: FlaskClient, session: Session, world: World
) -> None:
    queued = request_tally(session, world.member_a.id, LAST_MONTH, "month end")
    assert queued is not None
    session.commit()  # no app context here: the job stays queued, as if RQ had it
    body = ok(tally(client, world), 200)
    assert body["id"] == str(queued.id) and body["status"] == "queued"
    assert body["reason"] == "month end"


def test_who_may_ask_for_a_tally(client: FlaskClient, world: World) -> None:
    expect_error(tally(client, world, "teacher_a"), 403, "forbidden")
    expect_error(tally(client, world, "inspector_a"), 403, "forbidden")
    # The home school, another county's bureau, another school: not theirs to confirm.
    for who in ("school_admin_a", "school_admin_b", "bureau_b"):
        expect_error(tally(client, world, who), 404, "not_found")
    expect_error(tally(client, world, school_id=str(uuid.uuid4())), 404, "not_found")
    ok(tally(client, world, "bureau_a"), 202)


def test_host_reports_are_read_within_scope(client: FlaskClient, world: World) -> None:
    draft = tallied(client, world)
    url = f"{REPORTS}/host/{draft['id']}"
    for who in ("host_admin_a", "bureau_a", "inspector_a", "bureau_city"):
        assert ok(client.get(url, headers=world.headers[who]))["id"] == draft["id"]
    for who in ("school_admin_a", "school_admin_b", "bureau_b", "inspector_b"):
        expect_error(client.get(url, headers=world.headers[who]), 404, "not_found")
    expect_error(client.get(url, headers=world.headers["teacher_a"]), 403, "forbidden")
    # Confirming: the bureau of the region may, the home school may not (404), nor a teacher.
    etag = client.get(url, headers=world.headers["host_admin_a"]).headers["ETag"]
    home_admin = {**world.headers["school_admin_a"], "If-Match": etag}
    expect_error(client.post(f"{url}/confirm", headers=home_admin), 404, "not_found")
    expect_error(
        client.post(f"{url}/confirm", headers=world.headers["teacher_a"]), 403, "forbidden"
    )

    listed = ok(client.get(f"{REPORTS}/host", headers=world.headers["bureau_a"]))
    assert [i["id"] for i in listed["items"]] == [draft["id"]]
    assert "rows" not in listed["items"][0] and listed["next_cursor"] is None
    assert ok(client.get(f"{REPORTS}/host", headers=world.headers["bureau_b"]))["items"] == []
    for query, expected in (
        (f"school_id={world.member_a.id}&month={MONTH}&current=true", [draft["id"]]),
        ("current=false", []),
        (f"school_id={world.member_b.id}", []),
        ("month=2026-01", []),
    ):
        page = ok(client.get(f"{REPORTS}/host?{query}", headers=world.headers["host_admin_a"]))
        assert [i["id"] for i in page["items"]] == expected, query


def _report(world: World, month: date, version: int = 1, **extra: Any) -> HostMonthReport:
    return HostMonthReport(
        school_id=world.member_a.id,
        month=month,
        version=version,
        rows=[],
        content_hash=f"{month:%Y%m}{version}".ljust(64, "0"),
        tallied_at=utcnow(),
        **extra,
    )


def test_lists_are_newest_first_and_paged_by_cursor(
    client: FlaskClient, session: Session, world: World
) -> None:
    months = [date(2026, m, 1) for m in (3, 4, 5, 6, 7)]
    issued = utcnow() - timedelta(days=1)
    session.add_all([_report(world, m, created_at=issued) for m in months])
    session.add(
        _report(
            world,
            date(2026, 7, 1),
            2,
            is_current=False,
            status="superseded",
            created_at=issued + timedelta(minutes=1),
        )
    )
    session.commit()
    seen: list[tuple[str, int]] = []
    url = f"{REPORTS}/host?limit=2"
    while url:
        page = ok(client.get(url, headers=world.headers["host_admin_a"]))
        assert len(page["items"]) <= 2
        seen += [(i["month"], i["version"]) for i in page["items"]]
        cursor = page["next_cursor"]
        url = f"{REPORTS}/host?limit=2&cursor={cursor}" if cursor else ""
    # Newest month first; within a month the version issued last first.
    assert seen == [
        ("2026-07", 2),
        ("2026-07", 1),
        ("2026-06", 1),
        ("2026-05", 1),
        ("2026-04", 1),
        ("2026-03", 1),
    ]
    bad = client.get(f"{REPORTS}/host?cursor=not-a-cursor", headers=world.headers["bureau_a"])
    expect_error(bad, 422, "validation_error", field="cursor", location="query")
    unknown = client.get(
        f"{REPORTS}/host?cursor=AAAAAAAAAAAAAAAAAAAAAA", headers=world.headers["bureau_a"]
    )
    expect_error(unknown, 422, "validation_error", field="cursor", location="query")


# --- home months ------------------------------------------------------------------------------


def test_the_home_school_receives_and_acknowledges_its_month(
    client: FlaskClient, world: World
) -> None:
    host = confirmed_month(client, world)
    home = home_report(client, world)
    assert home["school_id"] == str(world.core_a.id) and home["month"] == MONTH
    assert home["rows"] == host["rows"] and home["version"] == 1 and not home["amendment"]
    assert [(d["channel"], d["status"]) for d in home["deliveries"]] == [("inbox", "delivered")]
    assert home["delivered_at"] and home["acknowledged_at"] is None

    ack = f"{REPORTS}/home/{home['id']}/acknowledge"
    # The host school sees no home report (404); other roles may never acknowledge (403).
    expect_error(client.post(ack, headers=world.headers["host_admin_a"]), 404, "not_found")
    expect_error(client.post(ack, headers=world.headers["school_admin_b"]), 404, "not_found")
    for who in ("teacher_a", "bureau_a", "inspector_a"):
        expect_error(client.post(ack, headers=world.headers[who]), 403, "forbidden")
    body = ok(client.post(ack, headers=world.headers["school_admin_a"]))
    assert body["acknowledged_by_id"] == str(world.users["school_admin_a"].id)
    assert body["acknowledged_at"]
    expect_error(client.post(ack, headers=world.headers["school_admin_a"]), 409, "conflict")
    inbox = ok(client.get(f"{REPORTS}/inbox", headers=world.headers["school_admin_a"]))
    assert inbox["items"] == []


def test_the_inbox_is_for_school_admins_and_home_reports_are_scoped(
    client: FlaskClient, world: World
) -> None:
    confirmed_month(client, world)
    home = home_report(client, world)
    for who in ("teacher_a", "bureau_a", "inspector_a"):
        expect_error(client.get(f"{REPORTS}/inbox", headers=world.headers[who]), 403, "forbidden")
    # The host school's admin has an inbox of its own, empty: the report is core_a's.
    assert ok(client.get(f"{REPORTS}/inbox", headers=world.headers["host_admin_a"]))["items"] == []
    url = f"{REPORTS}/home/{home['id']}"
    for who in ("school_admin_a", "bureau_a", "inspector_a"):
        ok(client.get(url, headers=world.headers[who]))
    for who in ("host_admin_a", "school_admin_b", "bureau_b"):
        expect_error(client.get(url, headers=world.headers[who]), 404, "not_found")
    expect_error(client.get(url, headers=world.headers["teacher_a"]), 403, "forbidden")
    listed = ok(
        client.get(
            f"{REPORTS}/home?school_id={world.core_a.id}&month={MONTH}&current=true",
            headers=world.headers["bureau_a"],
        )
    )
    assert [i["id"] for i in listed["items"]] == [home["id"]]
    assert ok(client.get(f"{REPORTS}/home", headers=world.headers["bureau_b"]))["items"] == []


# --- runs -------------------------------------------------------------------------------------


def test_runs_show_progress_within_scope(
    client: FlaskClient, session: Session, world: World
) -> None:
    tallied(client, world)
    failed = ReportRun(
        key="tally:x:2026-01",
        kind="tally",
        school_id=world.member_a.id,
        month=date(2026, 1, 1),
        status="failed",
        error="the calendar exploded",
    )
    session.add(failed)
    session.commit()
    headers = world.headers["host_admin_a"]
    page = ok(client.get(f"{REPORTS}/runs", headers=headers))
    assert [r["status"] for r in page["items"]] == ["failed", "done"]  # newest first
    only = ok(client.get(f"{REPORTS}/runs?status=failed", headers=headers))["items"]
    assert [(r["id"], r["error"]) for r in only] == [(str(failed.id), "the calendar exploded")]
    by_month = ok(client.get(f"{REPORTS}/runs?month={MONTH}", headers=headers))["items"]
    assert [r["status"] for r in by_month] == ["done"]
    assert by_month[0]["result"]["version"] == 1 and by_month[0]["finished_at"]
    assert ok(client.get(f"{REPORTS}/runs", headers=world.headers["school_admin_b"]))["items"] == []
    run_url = f"{REPORTS}/runs/{failed.id}"
    expect_error(client.get(run_url, headers=world.headers["bureau_b"]), 404, "not_found")
    expect_error(client.get(run_url, headers=world.headers["teacher_a"]), 403, "forbidden")
    expect_error(
        client.get(f"{REPORTS}/runs?status=lost", headers=headers),
        422,
        "validation_error",
        field="status",
        location="query",
    )


# --- exports ----------------------------------------------------------------------------------


def test_every_version_exports_within_the_read_scope(
    client: FlaskClient, session: Session, world: World
) -> None:
    host = confirmed_month(client, world)
    home = home_report(client, world)
    for kind, report_id, who, outsider in (
        ("host", host["id"], "host_admin_a", "school_admin_a"),
        ("home", home["id"], "school_admin_a", "host_admin_a"),
    ):
        base = f"{REPORTS}/{kind}/{report_id}"
        csv = client.get(f"{base}/export.csv", headers=world.headers[who])
        assert csv.status_code == 200 and csv.mimetype == "text/csv"
        assert csv.data.startswith(b"\xef\xbb\xbf")
        assert csv.headers["Cache-Control"] == "private, no-store"
        disposition = csv.headers["Content-Disposition"]
        assert disposition.startswith(f'attachment; filename="attendance-{kind}-{MONTH}-v1.csv"')
        assert "filename*=UTF-8''" in disposition
        xlsx = client.get(f"{base}/export.xlsx", headers=world.headers[who])
        assert xlsx.status_code == 200 and xlsx.data.startswith(b"PK")
        assert xlsx.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        expect_error(
            client.get(f"{base}/export.csv", headers=world.headers[outsider]), 404, "not_found"
        )
        expect_error(
            client.get(f"{base}/export.xlsx", headers=world.headers["teacher_a"]), 403, "forbidden"
        )
        assert client.get(f"{base}/export.pdf", headers=world.headers[who]).status_code == 404
    # A superseded version still exports: it is what was paid from then.
    (report,) = fresh(session, sa.select(HostMonthReport))
    report.is_current, report.status = False, "superseded"
    session.commit()
    old = client.get(f"{REPORTS}/host/{host['id']}/export.csv", headers=world.headers["bureau_a"])
    assert old.status_code == 200


def test_the_reports_are_in_the_api_document(client: FlaskClient) -> None:
    paths = ok(client.get(f"{API}/openapi.json"))["paths"]
    for path in (
        "/api/v1/reports/host",
        "/api/v1/reports/host/tally",
        "/api/v1/reports/host/{report_id}/confirm",
        "/api/v1/reports/host/{report_id}/export.{fmt}",
        "/api/v1/reports/home/{report_id}/acknowledge",
        "/api/v1/reports/inbox",
        "/api/v1/reports/runs/{run_id}",
        "/api/v1/reports/webhook",
    ):
        assert path in paths, path

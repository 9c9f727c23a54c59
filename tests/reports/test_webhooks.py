"""Signed webhook delivery to a home school: set up by its admin, POSTed after the report
commits, verifiable with the secret, retried on failure and never delivered twice."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from backend.db import utcnow
from backend.errors import InvalidInput
from backend.jobs import OutboxJob, relay
from backend.reports import webhooks
from backend.reports.models import HomeMonthReport, ReportDelivery
from tests.factories import World, fresh
from tests.org.support import expect_error, ok
from tests.reports.test_api import MONTH, REPORTS, confirmed_month

WEBHOOK = f"{REPORTS}/webhook"


@dataclass
class Receiver:
    """A home school's system on this machine: records each POST, answers as told."""

    url: str
    statuses: list[int] = field(default_factory=list)  # answers to give, then 200
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            state.received.append((dict(self.headers.items()), body))
            status = state.statuses.pop(0) if state.statuses else 200
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"no" if status >= 400 else b"ok")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/ucomm/reports"
    yield state
    server.shutdown()
    server.server_close()
    thread.join()


def _set_webhook(client: FlaskClient, world: World, url: str) -> dict[str, Any]:
    return ok(client.put(WEBHOOK, json={"url": url}, headers=world.headers["school_admin_a"]), 201)


def _deliveries(session: Session) -> list[ReportDelivery]:
    return fresh(
        session,
        sa.select(ReportDelivery)
        .where(ReportDelivery.channel == "webhook")
        .order_by(ReportDelivery.created_at),
    )


def test_a_new_home_report_is_posted_signed_to_the_schools_webhook(
    client: FlaskClient, session: Session, world: World, receiver: Receiver
) -> None:
    secret = _set_webhook(client, world, receiver.url)["secret"]
    host = confirmed_month(client, world)
    (headers, body), *_ = receiver.received
    assert len(receiver.received) == 1
    assert webhooks.verify(secret, body, headers["X-Ucomm-Signature"])
    assert headers["X-Ucomm-Signature"].startswith("sha256=")
    assert not webhooks.verify("another-secret-" * 3, body, headers["X-Ucomm-Signature"])
    assert not webhooks.verify(secret, body + b" ", headers["X-Ucomm-Signature"])
    payload = json.loads(body)
    (delivery,) = _deliveries(session)
    assert headers["X-Ucomm-Delivery"] == str(delivery.id) == payload["delivery_id"]
    assert headers["X-Ucomm-Timestamp"] == str(payload["sent_at"])
    assert headers["Content-Type"] == "application/json"
    assert payload["event"] == "attendance_report"
    assert payload["school_id"] == str(world.core_a.id) and payload["month"] == MONTH
    assert payload["version"] == 1 and payload["amendment"] is False
    assert payload["rows"] == host["rows"] and payload["diff"] == []
    assert payload["report_url"] == f"{REPORTS}/home/{payload['report_id']}"
    assert len(payload["content_hash"]) == 64
    assert (delivery.status, delivery.attempts, delivery.last_error) == ("delivered", 1, "")
    home = ok(client.get(payload["report_url"], headers=world.headers["school_admin_a"]))
    channels = {d["channel"]: d["status"] for d in home["deliveries"]}
    assert channels == {"inbox": "delivered", "webhook": "delivered"}


def test_a_failing_receiver_is_recorded_and_a_retry_delivers_once(
    app: Flask, client: FlaskClient, session: Session, world: World, receiver: Receiver
) -> None:
    _set_webhook(client, world, receiver.url)
    receiver.statuses = [503]
    confirmed_month(client, world)
    (delivery,) = _deliveries(session)
    assert (delivery.status, delivery.attempts) == ("pending", 1)
    assert delivery.last_error.startswith("HTTP 503")
    # The job raised, so the queue keeps it: on the embedded default, the outbox row.
    outbox = fresh(session, sa.select(OutboxJob).where(OutboxJob.relayed_at.is_(None)))
    assert [row.name for row in outbox] == ["backend.reports.webhooks.deliver_webhook"]

    assert relay(app) == 1
    (delivery,) = _deliveries(session)
    assert (delivery.status, delivery.attempts) == ("delivered", 2)
    assert delivery.delivered_at is not None and delivery.last_error == ""
    # At least once, never twice once delivered: a repeated job sends nothing.
    with app.app_context():
        webhooks.deliver_webhook(delivery_id=str(delivery.id))
    assert relay(app) == 0
    ids = [headers["X-Ucomm-Delivery"] for headers, _ in receiver.received]
    assert ids == [str(delivery.id)] * 2


def test_an_unreachable_receiver_is_recorded(
    app: Flask, client: FlaskClient, session: Session, world: World, receiver: Receiver
) -> None:
    _set_webhook(client, world, "http://127.0.0.1:9/closed")  # the discard port: nobody there
    confirmed_month(client, world)
    (delivery,) = _deliveries(session)
    assert delivery.status == "pending" and delivery.last_error.startswith("unreachable")
    assert receiver.received == []


def test_pending_deliveries_are_swept_again_and_given_up_after_max_attempts(
    app: Flask, client: FlaskClient, session: Session, world: World, receiver: Receiver
) -> None:
    _set_webhook(client, world, receiver.url)
    receiver.statuses = [500]
    confirmed_month(client, world)
    session.execute(sa.update(OutboxJob).values(relayed_at=utcnow()))  # as RQ would: failed
    session.execute(sa.update(ReportDelivery).values(updated_at=utcnow() - timedelta(hours=1)))
    session.commit()
    with app.app_context():
        webhooks.redeliver_pending()
    (delivery,) = _deliveries(session)
    assert delivery.status == "delivered" and len(receiver.received) == 2

    delivery.status, delivery.attempts = "pending", webhooks.MAX_ATTEMPTS
    delivery.updated_at = utcnow() - timedelta(hours=1)
    session.commit()
    with app.app_context():
        webhooks.redeliver_pending()
    (delivery,) = _deliveries(session)
    assert delivery.status == "failed" and len(receiver.received) == 2


def test_no_webhook_no_delivery_and_a_removed_one_is_not_retried(
    app: Flask, client: FlaskClient, session: Session, world: World, receiver: Receiver
) -> None:
    confirmed_month(client, world)
    assert _deliveries(session) == []
    hook = _set_webhook(client, world, receiver.url)
    assert hook["active"] is True
    # A delivery queued, then the webhook removed before it ran.
    (report,) = fresh(session, sa.select(HomeMonthReport))
    delivery = webhooks.queue_delivery(session, report)
    assert delivery is not None
    session.commit()  # outside a request: the job stays queued
    etag = client.get(WEBHOOK, headers=world.headers["school_admin_a"]).headers["ETag"]
    deleted = client.delete(WEBHOOK, headers={**world.headers["school_admin_a"], "If-Match": etag})
    assert deleted.status_code == 204
    with app.app_context():
        webhooks.deliver_webhook(delivery_id=str(delivery.id))
    (delivery,) = _deliveries(session)
    assert delivery.status == "failed" and "removed" in delivery.last_error
    assert receiver.received == []


# --- the webhook's configuration ------------------------------------------------------------


def test_the_home_school_admin_sets_its_webhook(client: FlaskClient, world: World) -> None:
    admin = world.headers["school_admin_a"]
    expect_error(client.get(WEBHOOK, headers=admin), 404, "not_found")
    created = client.put(WEBHOOK, json={"url": "https://pay.example.edu.cn/hook"}, headers=admin)
    body = ok(created, 201)
    assert body["school_id"] == str(world.core_a.id) and body["active"] is True
    assert len(body["secret"]) >= 32 and created.headers["ETag"]

    read = client.get(WEBHOOK, headers=admin)
    assert "secret" not in ok(read) and read.headers["ETag"] == created.headers["ETag"]
    change = {"url": "https://pay.example.edu.cn/v2"}
    expect_error(client.put(WEBHOOK, json=change, headers=admin), 428, "precondition_required")
    stale = {**admin, "If-Match": '"stale"'}
    expect_error(client.put(WEBHOOK, json=change, headers=stale), 412, "precondition_failed")
    updated = client.put(WEBHOOK, json=change, headers={**admin, "If-Match": read.headers["ETag"]})
    assert ok(updated)["url"] == change["url"] and "secret" not in ok(updated)
    rotate = {**change, "rotate_secret": True}
    rotated = ok(
        client.put(WEBHOOK, json=rotate, headers={**admin, "If-Match": updated.headers["ETag"]})
    )
    assert len(rotated["secret"]) >= 32 and rotated["secret"] != body["secret"]

    # Another school's admin has a webhook of their own, not this one.
    expect_error(client.get(WEBHOOK, headers=world.headers["school_admin_b"]), 404, "not_found")
    assert client.delete(WEBHOOK, headers=admin).status_code == 204
    expect_error(client.delete(WEBHOOK, headers=admin), 404, "not_found")


@pytest.mark.parametrize(
    "url",
    [
        "http://pay.example.edu.cn/hook",
        "ftp://127.0.0.1/hook",
        "https://user:pw@pay.example.edu.cn/hook",
        "https:///nohost",
        "not a url",
    ],
)
def test_a_webhook_must_be_https_or_this_machine(
    client: FlaskClient, world: World, url: str
) -> None:
    response = client.put(WEBHOOK, json={"url": url}, headers=world.headers["school_admin_a"])
    expect_error(response, 422, "validation_error", field="url")


def test_loopback_http_is_allowed_for_local_receivers() -> None:
    for url in ("http://127.0.0.1:8080/x", "http://localhost/x", "https://a.example/x"):
        assert webhooks.check_url(url) == url
    with pytest.raises(InvalidInput):
        webhooks.check_url("http://127.0.0.2/x")


def test_only_school_admins_set_webhooks(client: FlaskClient, world: World) -> None:
    for who in ("teacher_a", "bureau_a", "inspector_a"):
        for response in (
            client.get(WEBHOOK, headers=world.headers[who]),
            client.put(WEBHOOK, json={"url": "https://a.example/x"}, headers=world.headers[who]),
            client.delete(WEBHOOK, headers=world.headers[who]),
        ):
            expect_error(response, 403, "forbidden")

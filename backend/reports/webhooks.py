"""Signed webhook delivery of home school reports: a home school may have its monthly
reports POSTed to its own system (a payroll or office system) as well as to its inbox.

- :class:`ReportWebhook` is the school's one endpoint: an https URL and a shared secret the
  server generates (shown once, when set or rotated).
- Each new home report version gets a :class:`ReportDelivery` (channel ``webhook``) in the
  transaction that issues it; :func:`deliver_webhook` runs after commit.
- The body is signed: ``X-Ucomm-Signature: sha256=<hex HMAC-SHA256 of the raw body>``. The
  body carries ``sent_at`` (the ``X-Ucomm-Timestamp`` header) so the signature covers the
  time as well, and a receiver may refuse stale replays.
- Delivery is at least once: a receiver dedupes on ``X-Ucomm-Delivery`` (the delivery id,
  the same on every attempt). A delivered delivery is never sent again.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import urllib.error
import urllib.request
import uuid
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import Mapped, Session, mapped_column

from backend.db import Base, IdMixin, TimestampMixin, database_of, utcnow
from backend.errors import InvalidInput
from backend.jobs import enqueue_after_commit, job
from backend.reports.models import HomeMonthReport, ReportDelivery

EVENT = "attendance_report"
SECRET_BYTES = 32  # token_urlsafe(32) gives 43 characters
TIMEOUT_SECONDS = 10
# Redelivery sweep: how long a pending delivery waits before it is queued again, and how
# many failed attempts end it.
RETRY_AFTER = timedelta(minutes=10)
MAX_ATTEMPTS = 24
# Plain http only to this machine (tests, a receiver on the same host); anything leaving
# it carries pay data and must be TLS.
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
SIGNATURE_HEADER = "X-Ucomm-Signature"
TIMESTAMP_HEADER = "X-Ucomm-Timestamp"
DELIVERY_HEADER = "X-Ucomm-Delivery"


class ReportWebhook(IdMixin, TimestampMixin, Base):
    """A home school's endpoint for its monthly reports (at most one per school)."""

    __tablename__ = "report_webhooks"

    school_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("schools.id", ondelete="CASCADE"), unique=True
    )
    url: Mapped[str] = mapped_column(sa.String(500))
    # Kept in clear: an HMAC needs the secret itself, not a hash of it.
    secret: Mapped[str] = mapped_column(sa.String(100))
    active: Mapped[bool] = mapped_column(default=True)


class DeliveryFailed(RuntimeError):
    """The receiver could not be reached or did not answer 2xx (the job is retried)."""


# --- configuration -------------------------------------------------------------------------


def check_url(url: str) -> str:
    parts = urlsplit(url)
    secure = parts.scheme == "https" and bool(parts.hostname)
    local = parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS
    if not (secure or local) or parts.username or parts.password:
        raise InvalidInput(
            "url must be https:// (plain http only to 127.0.0.1 or localhost), without"
            " credentials in it",
            field="url",
        )
    return url


def find(session: Session, school_id: uuid.UUID, *, lock: bool = False) -> ReportWebhook | None:
    stmt = sa.select(ReportWebhook).where(ReportWebhook.school_id == school_id)
    if lock:
        stmt = stmt.with_for_update()
    return session.scalars(stmt).one_or_none()


def configure(
    session: Session,
    school_id: uuid.UUID,
    url: str,
    *,
    active: bool = True,
    rotate_secret: bool = False,
) -> tuple[ReportWebhook, str | None]:
    """Set the school's webhook; returns it and the new secret (None if it was kept).

    A new webhook always gets a secret; an existing one keeps its secret unless asked to
    rotate it, so changing the URL does not break a receiver's verification.
    """
    hook = find(session, school_id, lock=True)
    secret: str | None = None
    if hook is None:
        secret = secrets.token_urlsafe(SECRET_BYTES)
        hook = ReportWebhook(school_id=school_id, url=check_url(url), secret=secret, active=active)
        session.add(hook)
    else:
        hook.url, hook.active = check_url(url), active
        if rotate_secret:
            secret = hook.secret = secrets.token_urlsafe(SECRET_BYTES)
    session.flush()
    return hook, secret


def remove(session: Session, hook: ReportWebhook) -> None:
    session.delete(hook)
    session.flush()


# --- delivery ------------------------------------------------------------------------------


def queue_delivery(session: Session, report: HomeMonthReport) -> ReportDelivery | None:
    """Queue the webhook delivery of a new home report version, if the school has one."""
    hook = session.scalars(
        sa.select(ReportWebhook).where(
            ReportWebhook.school_id == report.school_id, ReportWebhook.active.is_(True)
        )
    ).one_or_none()
    if hook is None:
        return None
    delivery = ReportDelivery(
        id=uuid.uuid4(), report_id=report.id, channel="webhook", status="pending"
    )
    session.add(delivery)
    session.flush()
    enqueue_after_commit(session, deliver_webhook, delivery_id=str(delivery.id))
    return delivery


def report_path(report_id: uuid.UUID) -> str:
    # A path, not a URL: jobs run outside any request and the service has no setting for
    # its public address; the receiver resolves it against the API base it knows.
    return f"/api/v1/reports/home/{report_id}"


def payload(report: HomeMonthReport, delivery_id: uuid.UUID, sent_at: int) -> dict[str, Any]:
    return {
        "event": EVENT,
        "delivery_id": str(delivery_id),
        "report_id": str(report.id),
        "school_id": str(report.school_id),
        "month": f"{report.month:%Y-%m}",
        "version": report.version,
        "amendment": report.amendment,
        "content_hash": report.content_hash,
        "report_url": report_path(report.id),
        "sent_at": sent_at,
        "rows": report.rows,
        "diff": report.diff,
    }


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, signature: str) -> bool:
    """What a receiver does (in any language): recompute, compare in constant time."""
    return hmac.compare_digest(sign(secret, body), signature)


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    # A redirect would resend (or drop) a signed body somewhere not configured: refuse.
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_opener = urllib.request.build_opener(_NoRedirects)


def post(url: str, body: bytes, headers: dict[str, str]) -> None:
    """POST ``body``; raises :class:`DeliveryFailed` unless the receiver answers 2xx."""
    request = urllib.request.Request(  # noqa: S310 - the scheme was checked by check_url
        url, data=body, method="POST", headers={"Content-Type": "application/json", **headers}
    )
    try:
        with _opener.open(request, timeout=TIMEOUT_SECONDS) as response:
            status = response.status
    except urllib.error.HTTPError as exc:
        detail = exc.read(200).decode("utf-8", "replace")
        raise DeliveryFailed(f"HTTP {exc.code} {detail}".strip()) from exc
    except (urllib.error.URLError, OSError) as exc:
        raise DeliveryFailed(f"unreachable: {getattr(exc, 'reason', exc)}") from exc
    if not 200 <= status < 300:
        raise DeliveryFailed(f"HTTP {status}")


def _record_failure(delivery_id: uuid.UUID, error: str) -> None:
    """Committed on its own: the job's transaction is rolled back by the raise that follows."""
    with database_of(current_app).unit_of_work() as session:
        session.execute(
            sa.update(ReportDelivery)
            .where(ReportDelivery.id == delivery_id, ReportDelivery.status == "pending")
            .values(attempts=ReportDelivery.attempts + 1, last_error=error[:1000])
        )


@job
def deliver_webhook(session: Session, delivery_id: str) -> None:
    """POST one home report version to its school's webhook (see the module docstring)."""
    did = uuid.UUID(delivery_id)
    # skip_locked: another worker is sending this very delivery; it records the outcome.
    delivery = session.scalars(
        sa.select(ReportDelivery).where(ReportDelivery.id == did).with_for_update(skip_locked=True)
    ).one_or_none()
    if delivery is None or delivery.status != "pending":
        return  # delivered (or given up) already: a repeated job sends nothing
    report = session.get(HomeMonthReport, delivery.report_id)
    assert report is not None
    hook = find(session, report.school_id)
    if hook is None or not hook.active:
        # Removed or switched off since: nothing to retry; the inbox still has the report.
        delivery.status, delivery.last_error = "failed", "the school's webhook was removed"
        delivery.attempts += 1
        return
    sent_at = int(utcnow().timestamp())
    body = json.dumps(
        payload(report, did, sent_at), ensure_ascii=False, separators=(",", ":")
    ).encode()
    headers = {
        SIGNATURE_HEADER: sign(hook.secret, body),
        TIMESTAMP_HEADER: str(sent_at),
        DELIVERY_HEADER: str(did),
    }
    try:
        post(hook.url, body, headers)
    except DeliveryFailed as exc:
        session.rollback()  # release the row lock before recording on another connection
        _record_failure(did, str(exc))
        raise  # the queue tries again (RQ retry, or the outbox relay on the embedded default)
    delivery.status, delivery.last_error = "delivered", ""
    delivery.attempts += 1
    delivery.delivered_at = utcnow()


@job
def redeliver_pending(session: Session) -> None:
    """Queue again the webhook deliveries still pending after a while; give up on those
    that failed ``MAX_ATTEMPTS`` times (their reports stay in the inbox). For the periodic
    housekeeping: a failed job is not retried by RQ unless it was queued with a retry."""
    stale = utcnow() - RETRY_AFTER
    pending = session.scalars(
        sa.select(ReportDelivery).where(
            ReportDelivery.channel == "webhook",
            ReportDelivery.status == "pending",
            ReportDelivery.updated_at < stale,
        )
    )
    for delivery in pending:
        if delivery.attempts >= MAX_ATTEMPTS:
            delivery.status = "failed"
        else:
            enqueue_after_commit(session, deliver_webhook, delivery_id=str(delivery.id))

"""Refresh token rotation, reuse detection, device binding, expiry and logout."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from backend.auth.models import RefreshToken
from backend.auth.tokens import digest
from backend.db import utcnow
from tests.auth.support import (
    LOGOUT,
    assert_unauthenticated,
    bearer,
    error_fields,
    logged_in,
    me,
    refresh,
)
from tests.factories import committed_world, fresh

PHONE = "install-1001"


def _row(session: Session, raw_token: str) -> RefreshToken:
    (row,) = fresh(
        session, sa.select(RefreshToken).where(RefreshToken.token_hash == digest(raw_token))
    )
    return row


def test_refresh_rotates_to_a_new_working_pair(
    app: Flask, session: Session, client: FlaskClient
) -> None:
    w = committed_world(session, app)
    teacher = w.users["teacher_a"]
    first = logged_in(client, teacher.username, PHONE)

    response = refresh(client, first["refresh_token"], PHONE)

    assert response.status_code == 200, response.json
    second = response.json
    assert second is not None
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    assert second["device"]["id"] == first["device"]["id"]
    assert second["user"]["id"] == str(teacher.id)
    assert me(client, second["access_token"]).status_code == 200
    # The new token belongs to the login's family; the spent one is marked used.
    old, new = _row(session, first["refresh_token"]), _row(session, second["refresh_token"])
    assert old.used_at is not None and new.used_at is None
    assert old.family_id == new.family_id
    # Only digests are stored.
    assert old.token_hash != first["refresh_token"]
    # The successor can be spent in turn.
    assert refresh(client, second["refresh_token"], PHONE).status_code == 200


def test_reusing_a_spent_refresh_token_revokes_the_whole_family(
    app: Flask, session: Session, client: FlaskClient
) -> None:
    w = committed_world(session, app)
    teacher = w.users["teacher_a"]
    first = logged_in(client, teacher.username, PHONE)
    second = refresh(client, first["refresh_token"], PHONE).json
    assert second is not None
    third = refresh(client, second["refresh_token"], PHONE).json
    assert third is not None
    # Another login (a second family) on another phone is not involved.
    other = logged_in(client, teacher.username, "install-1002")

    # An attacker replays the first, already spent, token.
    body = assert_unauthenticated(refresh(client, first["refresh_token"], PHONE))
    assert "reuse" in body["message"].lower()

    # The newest token of the family stops working too ...
    assert_unauthenticated(refresh(client, third["refresh_token"], PHONE))
    # ... because the revocation was committed although the reuse request failed.
    family = fresh(
        session,
        sa.select(RefreshToken).where(
            RefreshToken.family_id == _row(session, first["refresh_token"]).family_id
        ),
    )
    assert len(family) == 3
    assert all(t.revoked_at is not None for t in family)
    assert {t.revoked_reason for t in family} == {"reuse_detected"}
    # The other family is untouched.
    assert _row(session, other["refresh_token"]).revoked_at is None
    assert refresh(client, other["refresh_token"], "install-1002").status_code == 200


def test_refresh_token_presented_from_another_device_is_refused(
    app: Flask, session: Session, client: FlaskClient
) -> None:
    w = committed_world(session, app)
    first = logged_in(client, w.users["teacher_a"].username, PHONE)

    assert_unauthenticated(refresh(client, first["refresh_token"], "install-stolen"))

    # Not spent by the refused attempt: the rightful phone can still use it.
    assert _row(session, first["refresh_token"]).used_at is None
    assert refresh(client, first["refresh_token"], PHONE).status_code == 200


def test_unknown_refresh_token_is_refused(client: FlaskClient) -> None:
    assert_unauthenticated(refresh(client, "x" * 43, PHONE))


def test_expired_refresh_token_is_refused(
    app: Flask, session: Session, client: FlaskClient
) -> None:
    w = committed_world(session, app)
    first = logged_in(client, w.users["teacher_a"].username, PHONE)
    session.execute(
        sa.update(RefreshToken)
        .where(RefreshToken.token_hash == digest(first["refresh_token"]))
        .values(expires_at=utcnow() - timedelta(seconds=1))
    )
    session.commit()

    body = assert_unauthenticated(refresh(client, first["refresh_token"], PHONE))

    assert "expired" in body["message"].lower()
    assert _row(session, first["refresh_token"]).used_at is None


def test_refresh_tokens_last_sixty_days_by_default(
    app: Flask, session: Session, client: FlaskClient
) -> None:
    w = committed_world(session, app)
    expected = utcnow() + timedelta(days=60)

    first = logged_in(client, w.users["teacher_a"].username, PHONE)
    second = refresh(client, first["refresh_token"], PHONE).json
    assert second is not None

    for body in (first, second):
        expires_at = datetime.fromisoformat(body["refresh_expires_at"])
        assert expires_at.tzinfo is not None
        assert abs(expires_at - expected) < timedelta(minutes=1)
        stored = _row(session, body["refresh_token"]).expires_at
        assert abs(stored - expected) < timedelta(minutes=1)


def test_logout_ends_the_device_sessions_only(
    app: Flask, session: Session, client: FlaskClient
) -> None:
    w = committed_world(session, app)
    teacher = w.users["teacher_a"]
    phone = logged_in(client, teacher.username, PHONE)
    phone_again = logged_in(client, teacher.username, PHONE)  # a second family, same device
    tablet = logged_in(client, teacher.username, "install-tablet")

    response = client.post(LOGOUT, headers=bearer(phone["access_token"]))

    assert response.status_code == 204, response.json
    # Its access tokens end now too, not when they expire.
    assert_unauthenticated(me(client, phone["access_token"]), "logged_out")
    assert_unauthenticated(me(client, phone_again["access_token"]), "logged_out")
    assert_unauthenticated(refresh(client, phone["refresh_token"], PHONE), "refresh_invalid")
    assert_unauthenticated(refresh(client, phone_again["refresh_token"], PHONE))
    assert {_row(session, t["refresh_token"]).revoked_reason for t in (phone, phone_again)} == {
        "logout"
    }
    # The user's other device is unaffected.
    assert me(client, tablet["access_token"]).status_code == 200
    assert refresh(client, tablet["refresh_token"], "install-tablet").status_code == 200
    # The logged-out device may log in again.
    assert me(client, logged_in(client, teacher.username, PHONE)["access_token"]).status_code == 200


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"device_id": PHONE}, "refresh_token"),
        ({"refresh_token": "x" * 43}, "device_id"),
        ({"refresh_token": "short", "device_id": PHONE}, "refresh_token"),
    ],
)
def test_invalid_refresh_input_is_422(
    client: FlaskClient, payload: dict[str, str], field: str
) -> None:
    response = client.post("/api/v1/auth/refresh", json=payload)

    assert response.status_code == 422, response.json
    assert error_fields(response.json) == {field}


def test_logout_needs_a_token(client: FlaskClient) -> None:
    assert_unauthenticated(client.post(LOGOUT))


def test_retry_after_a_lost_response_gets_a_new_pair_not_a_lockout(
    app: Flask, session: Session, client: FlaskClient
) -> None:
    """The phone spent its token but never saw our answer; it asks again at once."""
    w = committed_world(session, app)
    first = logged_in(client, w.users["teacher_a"].username, PHONE)
    lost = refresh(client, first["refresh_token"], PHONE).json  # the answer that got lost
    assert lost is not None

    retry = refresh(client, first["refresh_token"], PHONE)

    assert retry.status_code == 200, retry.json
    assert retry.json is not None
    # The answer it lost is void; the one it got works; the family lives on.
    assert_unauthenticated(refresh(client, lost["refresh_token"], PHONE))
    assert refresh(client, retry.json["refresh_token"], PHONE).status_code == 200
    assert _row(session, lost["refresh_token"]).revoked_reason == "superseded_by_retry"


def test_retry_after_the_grace_period_is_reuse(
    app: Flask, session: Session, client: FlaskClient
) -> None:
    w = committed_world(session, app)
    first = logged_in(client, w.users["teacher_a"].username, PHONE)
    assert refresh(client, first["refresh_token"], PHONE).status_code == 200
    spent = _row(session, first["refresh_token"])
    assert spent.used_at is not None
    spent.used_at = spent.used_at - timedelta(minutes=5)
    session.commit()

    body = assert_unauthenticated(refresh(client, first["refresh_token"], PHONE))

    assert "reuse" in body["message"].lower()


def test_retries_keep_working_while_every_answer_is_lost(
    app: Flask, session: Session, client: FlaskClient
) -> None:
    """A 2G link that drops answer after answer must not end in a forced password login."""
    w = committed_world(session, app)
    first = logged_in(client, w.users["teacher_a"].username, PHONE)
    for _ in range(3):
        assert refresh(client, first["refresh_token"], PHONE).status_code == 200  # lost
    final = refresh(client, first["refresh_token"], PHONE).json
    assert final is not None
    assert refresh(client, final["refresh_token"], PHONE).status_code == 200

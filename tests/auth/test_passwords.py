"""Passwords are stored as Argon2id hashes, never as given, and rehashed when parameters change."""

from __future__ import annotations

import sqlalchemy as sa
from argon2 import PasswordHasher, Type
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from backend.auth import passwords
from backend.auth.models import User
from tests import factories
from tests.auth.support import (
    login,
)
from tests.factories import committed_world, fresh


def test_stored_passwords_are_argon2id_hashes(
    app: Flask, session: Session, client: FlaskClient
) -> None:
    w = committed_world(session, app)
    created = client.post(
        "/api/v1/users",
        json={
            "username": "argon.check",
            "password": "plain-text-would-be-a-disaster",
            "role": "inspector",
            "region_id": str(w.county_a.id),
        },
        headers=w.headers["bureau_a"],
    )
    assert created.status_code == 201, created.json

    (user,) = fresh(session, sa.select(User).where(User.username == "argon.check"))

    assert user.password_hash.startswith("$argon2id$")
    assert "plain-text-would-be-a-disaster" not in user.password_hash
    assert passwords.verify_password(user.password_hash, "plain-text-would-be-a-disaster")
    assert not passwords.verify_password(user.password_hash, "plain-text-would-be-a-disastes")
    for factory_user in w.users.values():
        assert factory_user.password_hash.startswith("$argon2id$")
        assert factories.PASSWORD not in factory_user.password_hash


def test_hashes_are_salted() -> None:
    first, second = passwords.hash_password("same"), passwords.hash_password("same")

    assert first != second
    assert passwords.verify_password(first, "same") and passwords.verify_password(second, "same")


def test_unknown_user_never_verifies() -> None:
    assert passwords.verify_password(None, "not-a-real-password") is False
    assert passwords.verify_password("not-a-hash", "anything") is False


def test_login_upgrades_a_hash_made_with_other_parameters(
    app: Flask, session: Session, client: FlaskClient
) -> None:
    w = committed_world(session, app)
    user = session.get(User, w.users["teacher_a"].id)
    assert user is not None
    old = PasswordHasher(time_cost=1, memory_cost=16, parallelism=1, type=Type.ID)
    user.password_hash = old.hash(factories.PASSWORD)
    outdated = user.password_hash
    session.commit()

    assert login(client, user.username, "install-5001").status_code == 200

    (stored,) = fresh(session, sa.select(User).where(User.id == user.id))
    assert stored.password_hash != outdated
    assert stored.password_hash.startswith("$argon2id$")
    assert not passwords.needs_rehash(stored.password_hash)
    assert login(client, user.username, "install-5001").status_code == 200

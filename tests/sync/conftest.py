from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from backend.auth.models import Device
from tests import factories
from tests.factories import World
from tests.sync.phone import Phone


@pytest.fixture
def world(app: Flask, session: Session) -> World:
    built = factories.world(session, app)
    # End the setup's unit of work (a savepoint here): later server-side changes made in
    # this session then take serials of their own, as separate transactions would.
    session.commit()
    return built


def phone_for(client: FlaskClient, session: Session, world: World, persona: str) -> Phone:
    """A phone logged in as ``persona`` (its device is the one the world made for it)."""
    user = world.users[persona]
    device = session.query(Device).filter(Device.user_id == user.id).one()
    return Phone(client=client, headers=world.headers[persona], device_id=device.device_id)


@pytest.fixture
def phone(client: FlaskClient, session: Session, world: World) -> Phone:
    return phone_for(client, session, world, "teacher_a")

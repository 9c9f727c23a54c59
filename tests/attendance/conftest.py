from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from tests import factories
from tests.factories import World
from tests.sync.conftest import phone_for
from tests.sync.phone import Phone


@pytest.fixture
def world(app: Flask, session: Session) -> World:
    built = factories.world(session, app)
    session.commit()
    return built


@pytest.fixture
def phone(client: FlaskClient, session: Session, world: World) -> Phone:
    return phone_for(client, session, world, "teacher_a")

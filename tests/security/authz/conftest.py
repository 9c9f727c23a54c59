"""One world for the whole package: built once, rolled back at the end."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask

from backend.db import database_of
from tests.security.authz.world import AuthzWorld, build


@pytest.fixture(scope="package")
def authz(app: Flask) -> Iterator[AuthzWorld]:
    database = database_of(app)
    connection = database.engine.connect()
    outer = connection.begin()
    database.bind_sessions(bind=connection, join_transaction_mode="create_savepoint")
    session = database.new_session()
    try:
        yield build(app, session, connection, app.test_client())
    finally:
        session.close()
        outer.rollback()
        connection.close()

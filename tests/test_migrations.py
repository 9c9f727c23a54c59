"""The schema comes only from migrations, and the migrations match the models."""

from __future__ import annotations

import os
from pathlib import Path

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from flask import Flask

from backend.cli import alembic_config, upgrade_database
from backend.db import database_of
from backend.models import Base
from tests.conftest import _drop_postgres, _fresh_postgres


def test_models_and_migrations_agree(app: Flask) -> None:
    with database_of(app).engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


def test_downgrade_to_base_and_back(tmp_path: Path) -> None:
    """Every revision's downgrade runs, and upgrading again gives the same schema."""
    from alembic import command

    pg = os.environ.get("TEST_DATABASE_URL")
    url = _fresh_postgres(pg, "migrations") if pg else f"sqlite:///{tmp_path / 'scratch.sqlite3'}"
    engine = sa.create_engine(url)
    try:
        with engine.begin() as connection:
            upgrade_database(connection)
            config = alembic_config()
            config.attributes["connection"] = connection
            command.downgrade(config, "base")
            assert set(sa.inspect(connection).get_table_names()) <= {"alembic_version"}
            upgrade_database(connection)
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
    finally:
        engine.dispose()
        if pg:
            _drop_postgres(url)

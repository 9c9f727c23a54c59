"""The database kernel: declarative base, column types, engine and the unit of work.

Rule of the house: one transaction per unit of work, committed in one place. Services
``flush()``; the request boundary (see :func:`Database.init_app`) or a CLI/job's
:meth:`Database.unit_of_work` commits once and rolls back on any error.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from flask import Flask, Response, g
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

from backend.config import Settings
from backend.errors import KEEP_CHANGES_FLAG

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> uuid.UUID:
    return uuid.uuid4()


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every backend (SQLite stores naive text)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; pass an aware UTC datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {
        datetime: UTCDateTime(),
        date: sa.Date(),
        uuid.UUID: sa.Uuid(),
        dict[str, Any]: sa.JSON(),
        list[str]: sa.JSON(),
    }


class IdMixin:
    """UUID primary key: safe to create on a phone or in a bulk import without a round trip."""

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


def str_enum(*values: str, name: str) -> sa.Enum:
    """A portable enum: VARCHAR plus a named CHECK constraint (no PostgreSQL enum types)."""
    return sa.Enum(
        *values,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=max(len(v) for v in values),
        validate_strings=True,
    )


def _configure_sqlite(engine: Engine, busy_timeout_ms: int) -> None:
    """WAL + synchronous=FULL, real foreign keys, and transactions SQLAlchemy controls.

    pysqlite's own transaction handling defers BEGIN and breaks SAVEPOINTs; we emit BEGIN
    IMMEDIATE ourselves so a writer takes the lock up front instead of failing to upgrade
    a read lock half-way through a unit of work.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def create_engine(settings: Settings) -> Engine:
    if settings.is_sqlite:
        settings.instance_path.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(settings.database_url)
        _configure_sqlite(engine, settings.sqlite_busy_timeout_ms)
        return engine
    return sa.create_engine(settings.database_url, pool_pre_ping=True, pool_size=10)


class Database:
    """Holds the engine and hands out one session per application context."""

    def __init__(self) -> None:
        self._engine: Engine | None = None
        self._sessionmaker: sessionmaker[Session] | None = None

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            raise RuntimeError("Database.init_app() has not run")
        return self._engine

    def init_app(self, app: Flask, settings: Settings) -> None:
        # create_engine does not connect: the factory stays free of I/O.
        self._engine = create_engine(settings)
        self._sessionmaker = sessionmaker(bind=self._engine, expire_on_commit=False)
        app.after_request(self._commit_request)
        app.teardown_appcontext(self._close_session)

    def bind_sessions(self, **options: Any) -> None:
        """Rebind the session factory (tests join every session to one outer transaction)."""
        self._sessionmaker = sessionmaker(expire_on_commit=False, **options)

    def new_session(self) -> Session:
        if self._sessionmaker is None:
            raise RuntimeError("Database.init_app() has not run")
        return self._sessionmaker()

    @property
    def session(self) -> Session:
        """The session of the current application context (one per request)."""
        if "db_session" not in g:
            g.db_session = self.new_session()
        session: Session = g.db_session
        return session

    @contextmanager
    def unit_of_work(self) -> Iterator[Session]:
        """Outside a request (CLI, jobs): commit once at the end, roll back on any error."""
        session = self.new_session()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def _commit_request(self, response: Response) -> Response:
        session: Session | None = g.pop("db_session", None)
        if session is None:
            return response
        try:
            if response.status_code < 400 or g.pop(KEEP_CHANGES_FLAG, False):
                session.commit()
            else:
                session.rollback()
        finally:
            session.close()
        return response

    def _close_session(self, _exc: BaseException | None) -> None:
        session: Session | None = g.pop("db_session", None)
        if session is not None:
            session.rollback()
            session.close()


db = Database()

"""The database kernel: declarative base, column types, engine, unit of work, change journal.

Rule of the house: one transaction per unit of work, committed in one place. Services
``flush()``; the request boundary (see :func:`Database.init_app`) or a CLI/job's
:meth:`Database.unit_of_work` commits once and rolls back on any error.

The change journal (:class:`Journaled`, :class:`SyncClock`) is how rows reach phones: every
transaction that changes a journaled row takes the next serial of the one-row clock and
stamps it on those rows. Taking the serial locks the clock row until commit, so serials
are handed out in commit order — a reader that sees clock value X has seen every change
numbered ≤ X, and a change that commits later is always numbered > X. That is what lets
offline sync use the serial as its cursor without ever skipping a row.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, date, datetime
from typing import Any, ClassVar

import sqlalchemy as sa
from flask import Flask, Response, current_app, g
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker
from sqlalchemy.orm.attributes import set_committed_value

from backend.config import Settings
from backend.errors import KEEP_CHANGES_FLAG, Conflict

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


class SyncClock(Base):
    """One row: the last serial handed out by the change journal."""

    __tablename__ = "sync_clock"
    __table_args__ = (sa.CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    serial: Mapped[int] = mapped_column(sa.BigInteger)


class Journaled:
    """Rows that phones pull. Their changes are numbered by the journal.

    ``server_serial`` is stamped automatically on every insert or change; ``deleted_at``
    makes the row a tombstone that phones pull as ``deleted``. Records that are evidence
    (``__tombstones_only__``) can never be deleted outright; others may be, once nothing
    references them (sync tells phones about rows that vanished as well).
    """

    __tombstones_only__: ClassVar[bool] = False

    server_serial: Mapped[int] = mapped_column(sa.BigInteger, index=True, default=0)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)


class JournaledChild:
    """A row that is part of a journaled parent's record (a change bumps the parent)."""

    def journal_parent(self) -> Journaled | None:
        raise NotImplementedError


_SERIAL_KEY = "journal_serial"
_PENDING_KEY = "journal_pending"
_STAMP_CHUNK = 500


def current_serial(connection: Connection) -> int:
    """The clock's committed value: every change numbered ≤ it is visible to this reader."""
    return int(
        connection.execute(sa.select(SyncClock.serial).where(SyncClock.id == 1)).scalar_one()
    )


def journal_serial(session: Session) -> int:
    """This transaction's serial, taking it (and the journal's lock) on first use.

    Most writers never call this: their rows are stamped at commit, so the lock is held
    only for the stamp and the commit. Call it first when what you are about to write
    depends on what you read (sync's push): from then until commit no other journaled
    writer can commit, so the reads stay true.
    """
    serial = session.info.get(_SERIAL_KEY)
    if serial is None:
        # UPDATE … RETURNING takes the row lock that orders every journaled writer.
        serial = (
            session.connection()
            .execute(
                sa.update(SyncClock)
                .where(SyncClock.id == 1)
                .values(serial=SyncClock.serial + 1)
                .returning(SyncClock.serial)
            )
            .scalar_one()
        )
        session.info[_SERIAL_KEY] = serial
    return int(serial)


class JournalError(RuntimeError):
    """An evidence row was deleted outright; it must become a tombstone instead."""


def _touched(session: Session) -> set[Journaled]:
    touched: set[Journaled] = set()
    for obj in session.deleted:
        if isinstance(obj, Journaled) and obj.__tombstones_only__:
            raise JournalError(f"{type(obj).__name__} rows are soft-deleted (set deleted_at)")
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, JournaledChild):
            parent = obj.journal_parent()
            if parent is not None:
                touched.add(parent)
        elif isinstance(obj, Journaled) and (obj in session.new or session.is_modified(obj)):
            touched.add(obj)
    return touched


@event.listens_for(Session, "before_flush")
def _note_journaled(session: Session, _ctx: Any, _instances: Any) -> None:
    touched = _touched(session)
    if not touched:
        return
    serial = session.info.get(_SERIAL_KEY)
    if serial is not None:
        for obj in touched:
            obj.server_serial = serial
    else:
        session.info.setdefault(_PENDING_KEY, set()).update(touched)


@event.listens_for(Session, "before_commit")
def _stamp_pending(session: Session) -> None:
    """Stamp this transaction's changed journaled rows, holding the lock only from here."""
    session.flush()  # the commit's own flush comes after this hook: note its rows now
    pending: set[Journaled] = session.info.pop(_PENDING_KEY, set())
    by_table: dict[sa.Table, list[Any]] = {}
    for obj in pending:
        state = sa.inspect(obj)
        if state.persistent and state.identity is not None:
            by_table.setdefault(state.mapper.local_table, []).append(state.identity[0])
    if not by_table:
        return
    serial = journal_serial(session)
    connection = session.connection()
    for table, ids in by_table.items():
        # Stamping is bookkeeping, not a change: keep onupdate columns (updated_at) as set.
        keep = {c.name: c for c in table.columns if c.onupdate is not None}
        for start in range(0, len(ids), _STAMP_CHUNK):
            connection.execute(
                sa.update(table)
                .where(table.c.id.in_(ids[start : start + _STAMP_CHUNK]))
                .values(server_serial=serial, **keep)
            )
    for obj in pending:
        if sa.inspect(obj).persistent:
            set_committed_value(obj, "server_serial", serial)


@event.listens_for(Session, "after_soft_rollback")
def _forget_rolled_back_serial(session: Session, _previous: Any) -> None:
    # A rolled-back savepoint may have undone the clock update (and its lock): take the
    # serial again if needed. Retaking while still holding it only skips a number.
    session.info.pop(_SERIAL_KEY, None)


@event.listens_for(Session, "after_transaction_end")
def _forget_serial(session: Session, transaction: Any) -> None:
    # A new root transaction takes a new serial; savepoints inside one share it.
    if transaction.parent is None:
        session.info.pop(_SERIAL_KEY, None)
        session.info.pop(_PENDING_KEY, None)


def delete_unless_referenced(session: Session, obj: object, what: str) -> None:
    """Delete ``obj``; if rows still point at it (a RESTRICT foreign key), 409 instead.

    The database is the guard: no list of "things that might reference it" to keep up.
    """
    try:
        with session.begin_nested():
            session.delete(obj)
            session.flush()
    except IntegrityError as exc:
        raise Conflict(f"the {what} is still referenced by other records; it cannot go") from exc


@contextmanager
def planner_settings(session: Session, **settings: str) -> Iterator[None]:
    """PostgreSQL settings for the statements inside the block only, restored after it
    (``set_config(…, is_local => true)``: nothing outlives the transaction either). A no-op
    elsewhere. For a few large reporting statements that know their own shape, e.g. no
    JIT (compiling costs more than it saves on a query run once) and room to hash."""
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        yield
        return
    previous = {
        name: connection.execute(sa.text("SELECT current_setting(:n)"), {"n": name}).scalar_one()
        for name in settings
    }
    restore = sa.text("SELECT set_config(:n, :v, true)")
    for name, value in settings.items():
        connection.execute(restore, {"n": name, "v": value})
    yield
    # Not in a ``finally``: after a failed statement the transaction is aborted, and its
    # rollback (or the savepoint's) undoes these settings anyway.
    for name, value in previous.items():
        connection.execute(restore, {"n": name, "v": value})


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


def canonical_json(value: Any) -> str:
    """Sorted keys, compact, Chinese kept as is: equal values give equal text, so a hash of
    it is a hash of the content."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


class SerializedList(list[Any]):
    """A JSON array with its canonical text, made once: for a large value that is both
    hashed and stored (a monthly report's rows), written as that very text. Never changed
    after it is made."""

    def __init__(self, items: list[Any]) -> None:
        super().__init__(items)
        self.text = canonical_json(items)


def stored_json(value: Any) -> str:
    """How JSON columns are written: compact, Chinese kept as is, keys in their order (a
    tus upload echoes its metadata as sent); a :class:`SerializedList` as its own text."""
    if isinstance(value, SerializedList):
        return value.text
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def create_engine(settings: Settings) -> Engine:
    if settings.is_sqlite:
        settings.instance_path.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(settings.database_url, json_serializer=stored_json)
        _configure_sqlite(engine, settings.sqlite_busy_timeout_ms)
        return engine
    return sa.create_engine(
        settings.database_url, pool_pre_ping=True, pool_size=10, json_serializer=stored_json
    )


_DATABASE_KEY = "ucomm.database"


class Database:
    """One app's engine, handing out one session per application context."""

    def __init__(self, settings: Settings) -> None:
        # create_engine does not connect: the factory stays free of I/O.
        self.engine: Engine = create_engine(settings)
        self._sessionmaker: sessionmaker[Session] = sessionmaker(
            bind=self.engine, expire_on_commit=False
        )

    @classmethod
    def attach(cls, app: Flask, settings: Settings) -> Database:
        database = cls(settings)
        app.extensions[_DATABASE_KEY] = database
        app.after_request(database._commit_request)
        app.teardown_appcontext(database._close_session)
        return database

    def bind_sessions(self, **options: Any) -> None:
        """Rebind the session factory (tests join every session to one outer transaction)."""
        self._sessionmaker = sessionmaker(expire_on_commit=False, **options)

    def new_session(self) -> Session:
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


def database_of(app: Flask) -> Database:
    database: Database = app.extensions[_DATABASE_KEY]
    return database


class _CurrentDatabase:
    """``db``: the current app's :class:`Database` (views, services and the CLI use this)."""

    @property
    def session(self) -> Session:
        return database_of(current_app).session

    @property
    def engine(self) -> Engine:
        return database_of(current_app).engine

    def unit_of_work(self) -> AbstractContextManager[Session]:
        return database_of(current_app).unit_of_work()


db = _CurrentDatabase()

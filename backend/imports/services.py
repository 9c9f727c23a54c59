"""Importing a read file: every row through the features' own schemas and services.

Nothing here restates a domain rule. Each row becomes the dict the feature's schema loads
(codes resolved to ids within the caller's scope, so a foreign school is simply not
found), then goes through the feature's create service — the same path as a POST — in a
savepoint of its own, so one bad row does not poison the rows after it. The whole file
runs in one outer savepoint: if any row fails, or on a dry run, it is rolled back and
nothing is stored; the report says what happened to each row. Services flush; the request
boundary commits.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from marshmallow import Schema, ValidationError
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.orm import InstrumentedAttribute, Session

from backend.auth.policy import MODELS, Action, Principal, Resource, scope
from backend.errors import DomainError
from backend.exchange.models import Teacher
from backend.exchange.schemas import SecondmentSchema, TeacherSchema
from backend.exchange.services import create_secondment, create_teacher
from backend.imports.columns import MISSING, CellError, Column, ImportKind, match_headers
from backend.imports.tabular import FileRejected, Row, Table
from backend.org.models import Region, School
from backend.org.schemas import SchoolSchema
from backend.org.services import create_school


@dataclass(frozen=True)
class RowError:
    row: int  # spreadsheet row number; the header is row 1
    field: str | None  # the column's field name; None when the row as a whole is wrong
    message: str
    rule: str | None = None  # the policy rule broken, e.g. "003 §四(三)"


@dataclass
class ImportReport:
    kind: ImportKind
    dry_run: bool
    rows: int
    created: int = 0
    errors: list[RowError] = field(default_factory=list)

    @property
    def failed_rows(self) -> int:
        return len({e.row for e in self.errors})


class ImportInvalid(DomainError):
    """Some rows failed, so nothing was stored; carries the full report."""

    status = 422
    code = "import_invalid"

    def __init__(self, report: ImportReport) -> None:
        super().__init__(f"{report.failed_rows} of {report.rows} rows have errors")
        self.report = report


@dataclass(frozen=True)
class Reference:
    """A column naming another record by its code; the schema loads that record's id."""

    column: str
    field: str
    resource: Resource
    action: Action  # the scope the feature's service itself checks for this reference
    code: InstrumentedAttribute[str]


@dataclass(frozen=True)
class Target:
    schema: type[Schema]
    create: Callable[[Session, dict[str, Any], Principal | None], object]
    references: tuple[Reference, ...] = ()
    unique: str | None = None  # a column whose value may appear once per file

    @property
    def renames(self) -> dict[str, str]:
        """Schema field → report field, so errors name the column the file has."""
        return {r.field: r.column for r in self.references}


_REGION = Reference("region_code", "region_id", Resource.REGION, Action.WRITE, Region.code)
_HOME = Reference("home_school_code", "home_school_id", Resource.SCHOOL, Action.WRITE, School.code)
_TEACHER = Reference("staff_no", "teacher_id", Resource.TEACHER, Action.WRITE, Teacher.staff_no)
_HOST = Reference("host_school_code", "host_school_id", Resource.SCHOOL, Action.READ, School.code)

TARGETS: dict[ImportKind, Target] = {
    ImportKind.SCHOOLS: Target(SchoolSchema, create_school, (_REGION,), unique="code"),
    ImportKind.TEACHERS: Target(TeacherSchema, create_teacher, (_HOME,), unique="staff_no"),
    ImportKind.SECONDMENTS: Target(SecondmentSchema, create_secondment, (_TEACHER, _HOST)),
}


class _Lookup:
    """Code → id within the caller's scope, remembered for the rest of the file."""

    def __init__(self, session: Session, principal: Principal, reference: Reference) -> None:
        # Building the scope first means a role that may never touch these records is
        # refused for the whole file (403), not row by row.
        self._stmt = sa.select(MODELS[reference.resource]).where(
            scope(principal, reference.resource, reference.action)
        )
        self._session = session
        self._code = reference.code
        # Holding the objects keeps them in the session's (weak) identity map, so the
        # feature service's own session.get() of the same record costs no query per row.
        self._found: dict[str, Any] = {}

    def __call__(self, code: str) -> uuid.UUID | None:
        if code not in self._found:
            # Queried per row rather than prefetched, so a row may name a record created
            # by an earlier row of the same file.
            found = self._session.scalar(self._stmt.where(self._code == code))
            if found is None:
                return None
            self._found[code] = found
        record_id: uuid.UUID = self._found[code].id
        return record_id


def import_rows(
    session: Session, principal: Principal, kind: ImportKind, table: Table, *, dry_run: bool
) -> ImportReport:
    """Validate and apply every row; store all of them or none. Never commits."""
    columns = match_headers(kind, table.headers)
    if not table.rows:
        raise FileRejected("the file has a header row but no data rows")
    target = TARGETS[kind]
    importer = _Importer(session, principal, target, columns)
    report = ImportReport(kind=kind, dry_run=dry_run, rows=len(table.rows))
    outer = session.begin_nested()
    try:
        for row in table.rows:
            errors = importer.apply(row)
            report.errors.extend(errors)
            if not errors:
                report.created += 1
    except BaseException:
        outer.rollback()
        raise
    if report.errors or dry_run:
        outer.rollback()
        report.created = 0
    else:
        outer.commit()
    return report


class _Importer:
    """Turns rows into loaded schema data and runs the feature's create service on each."""

    def __init__(
        self, session: Session, principal: Principal, target: Target, columns: Sequence[Column]
    ) -> None:
        self.session = session
        self.principal = principal
        self.target = target
        self.columns = columns
        self.schema = target.schema()
        self.lookups = {r.column: _Lookup(session, principal, r) for r in target.references}
        self.first_row_of: dict[Any, int] = {}

    def apply(self, row: Row) -> list[RowError]:
        data, errors = self._parse(row)
        failed = {e.field for e in errors}
        try:
            loaded = self.schema.load(data)
        except ValidationError as exc:
            # Fields whose cell already failed show up again as "missing": report once.
            more = _flatten(row.number, exc.messages, self.target.renames, rule=None)
            return errors + [e for e in more if e.field not in failed]
        if errors:
            return errors
        try:
            with self.session.begin_nested():
                self.target.create(self.session, loaded, self.principal)
        except DomainError as exc:
            # A DomainError nests its field errors under the body location, like webargs.
            fields = (exc.errors or {}).get("json", exc.errors)
            errors = _flatten(row.number, fields, self.target.renames, rule=exc.rule)
            return errors or [RowError(row.number, None, exc.message, exc.rule)]
        except IntegrityError:
            # A constraint caught what the service's check did not: a concurrent write.
            return [RowError(row.number, None, "conflicts with data stored meanwhile; retry")]
        except DataError:
            # A value the schema let through but the column cannot hold: still the row's
            # fault, never a 500 (the row's savepoint has already been rolled back).
            return [RowError(row.number, None, "a value does not fit the database column")]
        return []

    def _parse(self, row: Row) -> tuple[dict[str, Any], list[RowError]]:
        data: dict[str, Any] = {}
        errors: list[RowError] = []
        for column, cell in zip(self.columns, row.values, strict=True):
            try:
                value = column.parse(cell)
            except CellError as exc:
                errors.append(RowError(row.number, column.name, str(exc)))
                continue
            if value is not MISSING:
                data[column.name] = value
        unique = self.target.unique
        if unique is not None and unique in data:
            first = self.first_row_of.setdefault(data[unique], row.number)
            if first != row.number:
                errors.append(RowError(row.number, unique, f"{data[unique]!r} repeats row {first}"))
        for reference in self.target.references:
            if reference.column not in data:
                continue  # the schema reports the missing reference
            code = str(data.pop(reference.column))
            found = self.lookups[reference.column](code)
            if found is None:
                message = f"{reference.resource} {code!r} not found in your scope"
                errors.append(RowError(row.number, reference.column, message))
            else:
                data[reference.field] = found
        return data, errors


def _flatten(
    number: int,
    messages: Mapping[Any, Any] | list[Any] | None,
    renames: dict[str, str],
    *,
    rule: str | None,
) -> list[RowError]:
    """One error per field from marshmallow's or a DomainError's nested messages."""
    if not messages:
        return []
    if not isinstance(messages, Mapping):
        return [RowError(number, None, "; ".join(_texts(messages)), rule)]
    return [
        RowError(
            number,
            None if name == "_schema" else renames.get(str(name), str(name)),
            "; ".join(_texts(value)),
            rule,
        )
        for name, value in messages.items()
    ]


def _texts(value: Any) -> list[str]:
    if isinstance(value, Mapping):
        # List fields report by index ("subjects": {0: [...]}); people count from 1.
        return [
            f"{'item ' + str(key + 1) if isinstance(key, int) else key}: {text}"
            for key, item in value.items()
            for text in _texts(item)
        ]
    if isinstance(value, list | tuple):
        return [text for item in value for text in _texts(item)]
    return [str(value)]

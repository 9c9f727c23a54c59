"""Which tables sync, their columns on the wire, who pulls which rows, who may push.

A table is a :class:`SyncTable`. Its ``rows_for`` builds the scoped query of live rows a
principal pulls (``None``: the role pulls none of it); a pushable table has a
:class:`TableWriter` that applies client records through the feature's own services.
Later features add tables here (bumping the schema version that introduces them).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import sqlalchemy as sa
from sqlalchemy.orm import Session

from backend.attendance.services import Receipt
from backend.auth.policy import Principal
from backend.errors import DomainError

WireType = Literal["string", "number", "boolean"]


@dataclass(frozen=True)
class Column:
    name: str
    type: WireType
    optional: bool = True
    since: int = 1  # the schema version that added it
    server_owned: bool = False  # maintained by the server; ignored when pushed
    doc: str = ""


class Rejected(Exception):
    """A pushed record the server keeps in quarantine instead of applying."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail

    @classmethod
    def because(cls, error: DomainError) -> Rejected:
        """A feature's broken rule as a quarantine: its code is the reason."""
        return cls(error.code, error.message)


class TableWriter(Protocol):
    roles: frozenset[str]

    def clean(self, raw: dict[str, Any]) -> dict[str, Any]:
        """Typed client values, or :class:`Rejected`."""
        ...

    def owner_matches(self, row: Any, principal: Principal) -> bool: ...

    def new_row(
        self,
        session: Session,
        principal: Principal,
        record_id: str,
        values: dict[str, Any],
        digest: str,
        receipt: Receipt,
        batch: Mapping[str, dict[str, Any]],
    ) -> dict[str, Any]:
        """Every column of the row a created record becomes (inserted in bulk), or
        :class:`Rejected`. ``batch``: this push's earlier new rows of the table, by id
        (not in the database yet: a check against stored rows must look there too)."""
        ...

    def update(self, session: Session, row: Any, values: dict[str, Any], digest: str) -> None:
        """Apply a change, or raise :class:`Rejected` (the row is then flagged)."""
        ...

    def mark_rejected_update(self, row: Any, reason: str) -> None: ...

    def after_write(self, session: Session, principal: Principal, record_ids: list[str]) -> None:
        """Once this push's rows are written: work that needs them stored (linking)."""
        ...

    def delete(self, row: Any, receipt: Receipt) -> None: ...

    def prepare_new(
        self, session: Session, principal: Principal, rows: list[dict[str, Any]]
    ) -> None:
        """Complete this push's new rows with what the server works out (one batch)."""
        ...

    def delete_new(self, row: dict[str, Any], receipt: Receipt) -> None:
        """Delete a row created by this same push (not inserted yet)."""
        ...


@dataclass(frozen=True)
class SyncTable:
    name: str
    model: type[Any]
    columns: tuple[Column, ...]
    rows_for: Callable[[Principal], sa.Select[Any] | None]
    to_wire: Callable[[Any], dict[str, Any]]
    since: int = 1
    writer: TableWriter | None = None
    doc: str = ""

    def columns_for(self, version: int) -> tuple[Column, ...]:
        return tuple(c for c in self.columns if c.since <= version)

    def wire(self, row: Any, version: int) -> dict[str, Any]:
        record = self.to_wire(row)
        return {c.name: record.get(c.name) for c in self.columns_for(version)} | {
            "id": record["id"]
        }


class Registry:
    def __init__(self, tables: list[SyncTable]) -> None:
        self._tables = {t.name: t for t in tables}

    def names(self) -> set[str]:
        return set(self._tables)

    def get(self, name: str) -> SyncTable:
        return self._tables[name]

    def for_version(self, version: int) -> list[SyncTable]:
        return [t for t in self._tables.values() if t.since <= version]

    def all(self) -> Mapping[str, SyncTable]:
        return self._tables

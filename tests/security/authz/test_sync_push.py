"""Sync pushes never touch another persona's rows: for every table of the REGISTRY that
accepts pushes, each persona sends an update of each object it may not change (the
owner's own wire record with one field changed); the push is quarantined or refused,
never applied, and the stored row is unchanged (re-read with a Core select). A persona
whose role does not push the table may change nothing through it.

"May not change" is the matrix's: the object's API write row (PATCH) where it has one,
else its owner only.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
import sqlalchemy as sa

from sync.protocol import SCHEMA_VERSION_MAX
from sync.tables import REGISTRY
from tests.security.authz.matrix import COLUMNS, expected
from tests.security.authz.world import API, AuthzWorld

# table -> (world kind, the API write row deciding who may change it, field to change,
#           the persona that owns each owner's object)
PUSHED: dict[str, tuple[str, str | None, str, dict[str, str]]] = {
    "check_ins": (
        "sync_check_in",
        None,
        "note",
        {"a": "teacher_a", "a2": "teacher_a2", "b": "teacher_b"},
    ),
    "leave_requests": (
        "leave",
        "PATCH /api/v1/leave-requests/<string:request_id>",
        "reason",
        {"a": "teacher_a", "a2": "teacher_a2", "b": "teacher_b"},
    ),
    "punch_corrections": (
        "correction",
        "PATCH /api/v1/punch-corrections/<string:request_id>",
        "reason",
        {"a": "teacher_a", "a2": "teacher_a2", "b": "teacher_b"},
    ),
    "spot_check_visits": ("visit", None, "note", {"a": "inspector_a", "b": "inspector_b"}),
    "class_sessions": (
        "class_session",
        "PATCH /api/v1/classes/sessions/<string:session_id>",
        "topic",
        {"a": "teacher_a", "b": "teacher_b"},
    ),
    "evidence_items": (
        "evidence",
        "PATCH /api/v1/evidence/<string:item_id>",
        "title",
        {"a": "school_admin_a", "b": "school_admin_b"},
    ),
}


def _writable_tables() -> set[str]:
    return {name for name, table in REGISTRY.all().items() if table.writer is not None}


def test_every_pushable_table_is_tried() -> None:
    assert set(PUSHED) == _writable_tables()


_PULLS: dict[tuple[int, str], dict[str, Any]] = {}


def _pull(authz: AuthzWorld, persona: str) -> dict[str, Any]:
    """The persona's first pull (cached: the world does not change between cases)."""
    if (id(authz), persona) in _PULLS:
        return _PULLS[(id(authz), persona)]
    response = authz.call(
        persona,
        "GET",
        f"{API}/sync?last_pulled_at=null&schema_version={SCHEMA_VERSION_MAX}&migration=null",
    )
    assert response.status_code == 200, response.get_json()
    body: dict[str, Any] = response.get_json()
    _PULLS[(id(authz), persona)] = body
    return body


def _wire(authz: AuthzWorld, table: str, persona: str, record_id: str) -> dict[str, Any]:
    changes = _pull(authz, persona)["changes"][table]
    (record,) = [r for r in changes["created"] + changes["updated"] if r["id"] == record_id]
    return dict(record)


def _stored(authz: AuthzWorld, table: str, record_id: str) -> list[dict[str, Any]]:
    model = REGISTRY.get(table).model
    (pk,) = model.__mapper__.primary_key
    key: Any = record_id
    if isinstance(pk.type, sa.Uuid):
        key = uuid.UUID(record_id)
    rows = authz.connection.execute(sa.select(model.__table__).where(pk == key))
    return [dict(row._mapping) for row in rows]


def _push(authz: AuthzWorld, persona: str, table: str, **ops: list[Any]) -> Any:
    pulled = _pull(authz, persona)
    changes = {table: {"created": [], "updated": [], "deleted": [], **ops}}
    return authz.call(
        persona,
        "POST",
        f"{API}/sync?last_pulled_at={pulled['timestamp']}&schema_version={SCHEMA_VERSION_MAX}",
        data=json.dumps(changes),
        content_type="application/json",
        headers={
            "X-Device-Id": authz.devices[persona].device_id,
            "X-Device-Time": str(pulled["timestamp"]),
            "X-Device-Elapsed": "500000",
            "X-Device-Boot": "boot-1",
        },
    )


def _may_change(route: str | None, owner: str, owner_persona: str, persona: str) -> bool:
    if route is None:
        return persona == owner_persona
    return expected(route, owner)[persona] < 300


def _refused(response: Any) -> bool:
    """Quarantined (200 with a count) or refused outright (4xx), never applied."""
    if response.status_code >= 400:
        return True
    body = response.get_json()
    return bool(body["applied"] == 0 and (body["quarantined"] or body["ignored"]))


# A create naming the owner's parent is acceptable only from a persona who may file under
# that parent: a member of the community (class forms, evidence), an inspector assigned to
# the spot check (visits). Teachers' own rows are attributed to the token's teacher.
PARENT_ROW: dict[str, str] = {
    "class_sessions": "GET /api/v1/communities/<uuid:community_id>",
    "spot_check_visits": "GET /api/v1/inspection/spot-checks/<uuid:spot_check_id>",
}


def _may_file_under(authz: AuthzWorld, table: str, owner: str, persona: str) -> bool:
    role = authz.users[persona].role
    if table == "evidence_items":
        # The community's current schools' admins (policy EVIDENCE WRITE).
        return (
            role == "school_admin"
            and persona
            in {
                "a": {"school_admin_a", "host_admin_a"},
                "b": {"school_admin_b"},
            }[owner]
        )
    row = PARENT_ROW.get(table)
    return row is None or expected(row, owner)[persona] < 300


def _owned_by_pusher(authz: AuthzWorld, table: str, record_id: str, persona: str) -> bool:
    """A create applied is only acceptable as the pusher's own row, in their own scope
    (a teacher's check-in is attributed to the token's teacher, whatever it names)."""
    rows = _stored(authz, table, record_id)
    if not rows:
        return True
    user = authz.users[persona]
    (row,) = rows
    mine = {str(user.id), str(user.teacher_id)} - {"None"}
    owner_columns = ("teacher_id", "inspector_id", "submitted_by_id")
    return any(str(row.get(column)) in mine for column in owner_columns if column in row)


CASES = [(table, persona) for table in PUSHED for persona in COLUMNS]


@pytest.mark.parametrize(("table", "persona"), CASES, ids=[f"{t}-{p}" for t, p in CASES])
def test_a_push_never_changes_a_row_the_persona_may_not_change(
    table: str, persona: str, authz: AuthzWorld
) -> None:
    kind, route, field, owners = PUSHED[table]
    writer = REGISTRY.get(table).writer
    assert writer is not None
    pushes = authz.users[persona].role in writer.roles
    tried = 0
    for owner, owner_persona in owners.items():
        # A role whose phones do not push this table may change nothing through it.
        if pushes and _may_change(route, owner, owner_persona, persona):
            continue
        record_id = authz.id(f"{kind}@{owner}")
        record = _wire(authz, table, owner_persona, record_id)
        record[field] = "被他人改写"
        # The same record under a new id: a create naming the owner's parent (its
        # community, spot check, secondment) and, for teachers' rows, the owner's day.
        created = {**record, "id": f"authz-x{uuid.uuid4().hex[:12]}"}
        for ops in ({"updated": [record]}, {"created": [created]}):
            savepoint = authz.connection.begin_nested()
            try:
                before = _stored(authz, table, record_id)
                response = _push(authz, persona, table, **ops)
                assert _refused(response) or (
                    "created" in ops
                    and _may_file_under(authz, table, owner, persona)
                    and _owned_by_pusher(authz, table, created["id"], persona)
                ), (table, persona, owner, list(ops), response.get_json())
                assert _stored(authz, table, record_id) == before, (table, persona, owner)
            finally:
                savepoint.rollback()
        tried += 1
    assert tried, f"{persona} may change every {table} object: nothing foreign to try"

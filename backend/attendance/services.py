"""Recording check-ins as phones send them. Rules that judge them arrive with issue 5.

A check-in is evidence: once recorded, where and when it was taken never changes. A later
push may add or replace the photo reference and the note; anything else is refused (the
sync layer quarantines such an update and the phone gets the stored version back).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from backend import device_values
from backend.attendance.models import CHECK_IN_KINDS, COORD_SYSTEMS, CheckIn

NOTE_MAX = 1000
_SHA256 = re.compile(r"^[0-9a-f]{64}$")

CLIENT_FIELDS = (
    "kind",
    "captured_at",
    "latitude",
    "longitude",
    "accuracy_m",
    "coord_system",
    "mock_location",
    "photo_id",
    "photo_sha256",
    "elapsed_ms",
    "boot_id",
    "note",
)
MUTABLE_FIELDS = frozenset({"photo_id", "photo_sha256", "note"})


class InvalidCheckIn(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class ImmutableCheckIn(ValueError):
    def __init__(self, fields: list[str]) -> None:
        super().__init__(f"a recorded check-in's {', '.join(fields)} cannot change")
        self.fields = fields


@dataclass(frozen=True)
class Receipt:
    """How and when the server received a record: stored beside the device's own times."""

    received_at: datetime
    device_pk: uuid.UUID | None
    device_time: int | None
    elapsed_ms: int | None
    boot_id: str | None
    skew_ms: int | None


def _short_text(values: dict[str, Any], name: str, limit: int) -> str | None:
    return device_values.short_text(values, name, InvalidCheckIn, limit)


def clean_check_in(raw: dict[str, Any]) -> dict[str, Any]:
    """Typed, range-checked values of the client-written fields (sanitized where harmless)."""
    kind = raw.get("kind")
    if kind not in CHECK_IN_KINDS:
        raise InvalidCheckIn("kind", f"must be one of {', '.join(CHECK_IN_KINDS)}")
    captured_at = device_values.epoch_ms(raw, "captured_at", InvalidCheckIn)
    where = device_values.position(raw, InvalidCheckIn, COORD_SYSTEMS)
    sha = _short_text(raw, "photo_sha256", 64)
    if sha is not None:
        sha = sha.lower()
        if not _SHA256.match(sha):
            raise InvalidCheckIn("photo_sha256", "must be 64 hexadecimal characters")
    elapsed = device_values.elapsed_ms(raw, "elapsed_ms", InvalidCheckIn)
    return {
        "kind": kind,
        "captured_at": captured_at,
        **where,
        "photo_id": _short_text(raw, "photo_id", 64),
        "photo_sha256": sha,
        "elapsed_ms": elapsed,
        "boot_id": _short_text(raw, "boot_id", 64),
        # Sanitize rather than refuse: a long note is cut, not a reason to lose a punch.
        "note": str(raw.get("note") or "")[:NOTE_MAX],
    }


def new_check_in(
    *,
    record_id: str,
    teacher_id: uuid.UUID,
    values: dict[str, Any],
    digest: str,
    receipt: Receipt,
) -> dict[str, Any]:
    """Every column of a check-in as first received (a row to insert, in bulk if many)."""
    return {
        "id": record_id,
        "teacher_id": teacher_id,
        **values,
        "received_at": receipt.received_at,
        "status": "accepted",
        "flags": [],
        "device_pk": receipt.device_pk,
        "push_device_time": receipt.device_time,
        "push_elapsed_ms": receipt.elapsed_ms,
        "push_boot_id": receipt.boot_id,
        "clock_skew_ms": receipt.skew_ms,
        "client_digest": digest,
        "created_at": receipt.received_at,
        "updated_at": receipt.received_at,
        "deleted_at": None,
    }


def record_check_in(
    session: Session,
    *,
    record_id: str,
    teacher_id: uuid.UUID,
    values: dict[str, Any],
    digest: str,
    receipt: Receipt,
) -> CheckIn:
    check_in = CheckIn(
        **new_check_in(
            record_id=record_id,
            teacher_id=teacher_id,
            values=values,
            digest=digest,
            receipt=receipt,
        )
    )
    session.add(check_in)
    return check_in


def amend_check_in(check_in: CheckIn, values: dict[str, Any], digest: str) -> None:
    changed = [f for f in CLIENT_FIELDS if getattr(check_in, f) != values[f]]
    immutable = [f for f in changed if f not in MUTABLE_FIELDS]
    if immutable:
        raise ImmutableCheckIn(immutable)
    for name in changed:
        setattr(check_in, name, values[name])
    check_in.client_digest = digest


def flag(check_in: CheckIn, code: str, reason: str) -> None:
    """Add a flag (a new list, so the change is seen and journaled)."""
    check_in.flags = [*check_in.flags, {"code": code, "reason": reason}]


def withdraw_check_in(check_in: CheckIn, at: datetime) -> None:
    """The phone deleted it: keep it as a tombstone — pay data is never destroyed."""
    if check_in.deleted_at is None:
        check_in.deleted_at = at

"""The hash chain, pure: how an event's hash is made, and how a run of events is checked.

``hash = sha256(prev_hash + canonical JSON of the event's fields)``. Changing any field of
any event changes its hash; then the next event's ``prev_hash`` no longer matches, so an
edit, a deletion or an insertion anywhere shows at that link. Whoever keeps a copy of a
day's head hash outside the database (see :func:`backend.audit.verify.day_head`) can
also tell if the whole chain after it was rewritten.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from backend.db import canonical_json

GENESIS = "0" * 64

# The fields a hash covers, in the order they are documented (the JSON is key-sorted).
HASHED_FIELDS = (
    "seq",
    "occurred_at",
    "actor",
    "actor_user_id",
    "actor_role",
    "device_pk",
    "device_id",
    "request_id",
    "table_name",
    "record_id",
    "action",
    "before",
    "after",
    "prev_hash",
)


def event_hash(fields: Mapping[str, Any]) -> str:
    """The hash of one event from its fields as stored (strings, numbers, JSON values)."""
    body = {name: fields[name] for name in HASHED_FIELDS}
    return hashlib.sha256(canonical_json(body).encode()).hexdigest()


@dataclass(frozen=True)
class BrokenLink:
    seq: int
    reason: str

    def __str__(self) -> str:
        return f"broken at event {self.seq}: {self.reason}"


@dataclass(frozen=True)
class ChainCheck:
    events: int
    last_seq: int
    last_hash: str
    broken: BrokenLink | None


def check_chain(
    events: Iterable[Mapping[str, Any]], start_seq: int = 0, start_hash: str = GENESIS
) -> ChainCheck:
    """Walk ``events`` in ``seq`` order from the link (``start_seq``, ``start_hash``) and
    report the first that does not follow: a gap, a wrong ``prev_hash`` or a wrong hash."""
    count, seq, head = 0, start_seq, start_hash
    for fields in events:
        count += 1
        found = int(fields["seq"])
        if found != seq + 1:
            what = "missing" if found > seq + 1 else "out of order"
            return ChainCheck(count, seq, head, BrokenLink(seq + 1, f"event {seq + 1} {what}"))
        if fields["prev_hash"] != head:
            return ChainCheck(
                count, seq, head, BrokenLink(found, "prev_hash does not match the event before")
            )
        if event_hash(fields) != fields["hash"]:
            return ChainCheck(
                count, seq, head, BrokenLink(found, "contents do not match its hash (changed)")
            )
        seq, head = found, str(fields["hash"])
    return ChainCheck(count, seq, head, None)

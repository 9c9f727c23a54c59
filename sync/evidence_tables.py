"""The synced table of community evidence (佐证材料, ``backend.scoring.evidence``), schema
version 4: school admins file, fix and withdraw their communities' evidence offline.

A school admin pulls the evidence of the communities their school belongs or belonged to
(the central policy's READ scope) dated in the current or the previous school year, and any
rejected item however old (it is still to be fixed); its review (verified or rejected, with
the reason and the revision decided on) comes back on the next pull. Teachers, inspectors
and bureau admins pull none. Every record is judged by ``backend.scoring.evidence``'s rules
(whole, as the API judges it): a broken one is quarantined with that rule's code, e.g.
``not_a_community_member`` for a community the school is not currently in (the same answer
whether or not it exists). A change of content is a new revision under review; an identical
replay changes nothing; deleting withdraws the item (a tombstone, never erased), except a
mentor pair or monitoring that live items still name once the push is written: that one
stays and is sent back (a delete has no quarantine).

Evidence stores exactly what cleaning yields, so its digest is derived from the stored
content (:func:`stored_digest`) rather than kept in a column.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, object_session
from sqlalchemy.orm.attributes import flag_modified

from backend import clock
from backend.attendance.services import Receipt
from backend.auth.policy import Action, Principal, Resource, scope
from backend.clock import epoch_ms
from backend.errors import DomainError
from backend.scoring import evidence
from backend.scoring.models import EvidenceItem
from backend.scoring.rubric import school_term, year_bounds
from sync.protocol import digest
from sync.registry import Column, Rejected, SyncTable, WireType

VERSION = 4
WRITERS = frozenset({"school_admin"})
# Client columns holding JSON text on the wire (WatermelonDB has no list or object type).
_JSON_ARRAYS = ("school_ids", "people", "photo_ids")
_JSON_OBJECTS = ("details",)
# Kinds other items name (a session its pair, an analysis its monitoring).
_NAMED_KINDS = frozenset(target for _, target in evidence.REFERENCES.values())


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def window_start(today: date) -> date:
    """The first day a phone keeps: the start of the previous school year (a year's
    scorecard is being settled while the next one runs)."""
    year, _ = school_term(today)
    return year_bounds(year - 1)[0]


def _items_for(p: Principal) -> sa.Select[Any] | None:
    if p.role not in WRITERS:
        return None
    return sa.select(EvidenceItem).where(
        scope(p, Resource.EVIDENCE, Action.READ),
        EvidenceItem.deleted_at.is_(None),
        sa.or_(
            EvidenceItem.day >= window_start(clock.today()),
            EvidenceItem.review_status == "rejected",
        ),
    )


def _ms_or_none(moment: datetime | None) -> int | None:
    return None if moment is None else epoch_ms(moment)


def _item_wire(row: EvidenceItem) -> dict[str, Any]:
    content = evidence.snapshot(row)
    return {
        "id": row.id,
        **content,
        **{name: _json(content[name]) for name in (*_JSON_ARRAYS, *_JSON_OBJECTS)},
        "submitted_by_id": str(row.submitted_by_id),
        "submitted_at": _ms_or_none(row.submitted_at),
        "review_status": row.review_status,
        "review_reason": row.review_reason,
        "revision": row.revision,
        "status": "accepted",
        # Stored items carry no flags; a quarantine echo carries its reason here.
        "flags": "[]",
    }


def stored_digest(row: EvidenceItem) -> str:
    """The digest of a stored item's content: what a replay of it digests to."""
    return digest(evidence.snapshot(row))


def _decoded(raw: Mapping[str, Any]) -> dict[str, Any]:
    """The phone's record with its JSON-text columns decoded (a decoded value is taken
    too); ``null`` stays ``null`` (an empty list or object)."""
    data = dict(raw)
    for name in (*_JSON_ARRAYS, *_JSON_OBJECTS):
        value = data.get(name)
        if isinstance(value, str):
            text = value.strip()
            try:
                data[name] = json.loads(text) if text else None
            except ValueError:
                what = "array" if name in _JSON_ARRAYS else "object"
                raise evidence.InvalidEvidenceField(
                    name, f"must be JSON text of an {what}"
                ) from None
    return data


# ``update`` is not handed the principal (TableWriter's signature), yet an edit is judged
# against the pusher's school: ``owner_matches``, which sync.services calls before every
# update, keeps it for the push (as sync.class_tables does).
_PUSHER_KEY = "sync.evidence_items.pusher"
_WAITING_KEY = "sync.evidence_items.waiting"


@dataclass
class _Waiting:
    """Deletes of items others may name (a mentor pair, a monitoring), decided once the
    whole push is written: its withdrawals of the naming items, and its new ones, count.
    Keyed by the push's receipt, so nothing outlives the push."""

    received_at: datetime
    rows: list[EvidenceItem] = field(default_factory=list)


class EvidenceWriter:
    roles = WRITERS

    def clean(self, raw: dict[str, Any]) -> dict[str, Any]:
        try:
            return evidence.clean_record(_decoded(raw), clock.today())
        except DomainError as exc:
            raise Rejected.because(exc) from exc

    def owner_matches(self, row: EvidenceItem, principal: Principal) -> bool:
        """Any admin of the community's schools may change its items (as through the API);
        an id the caller cannot see is someone else's."""
        session = object_session(row)
        assert session is not None  # rows come from the push's own query
        session.info[_PUSHER_KEY] = principal
        # sync.services compares the pushed digest with ``client_digest``; evidence keeps
        # none in a column (see the module docstring), so it is worked out here, fresh.
        row.client_digest = stored_digest(row)  # type: ignore[attr-defined]
        return bool(
            session.scalar(
                sa.select(
                    sa.exists().where(
                        EvidenceItem.id == row.id, scope(principal, Resource.EVIDENCE, Action.READ)
                    )
                )
            )
        )

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
        typed = evidence.columns(values)
        try:
            evidence.check_filing(
                session,
                principal,
                typed["kind"],
                typed["community_id"],
                typed,
                today=clock.today(),
                pending=batch,
            )
        except DomainError as exc:
            raise Rejected.because(exc) from exc
        return {
            "id": record_id,
            **typed,
            "submitted_by_id": principal.user_id,
            "submitted_at": receipt.received_at,
            "review_status": "submitted",
            "revision": 1,
            "reviewed_by_id": None,
            "reviewed_at": None,
            "review_reason": "",
            "created_at": receipt.received_at,
            "updated_at": receipt.received_at,
            "deleted_at": None,
        }

    def update(
        self, session: Session, row: EvidenceItem, values: dict[str, Any], digest: str
    ) -> None:
        principal: Principal = session.info[_PUSHER_KEY]
        typed = evidence.columns(values)
        try:
            for name in ("kind", "community_id"):
                if typed[name] != getattr(row, name):
                    raise evidence.InvalidEvidenceField(
                        name, "cannot be changed; withdraw and file anew"
                    )
            evidence.check_filing(
                session, principal, row.kind, row.community_id, typed, today=clock.today()
            )
        except DomainError as exc:
            raise Rejected.because(exc) from exc
        for name in evidence.EDITABLE:
            if getattr(row, name) != typed[name]:
                setattr(row, name, typed[name])
        # The trail (a new revision) follows in after_write, once the journal is taken.

    def mark_rejected_update(self, row: EvidenceItem, reason: str) -> None:
        """Nothing to mark: the stored item is sent back on the next pull as it is."""

    def delete(self, row: EvidenceItem, receipt: Receipt) -> None:
        if row.kind in _NAMED_KINDS:
            session = object_session(row)
            assert session is not None
            waiting = session.info.get(_WAITING_KEY)
            if not isinstance(waiting, _Waiting) or waiting.received_at != receipt.received_at:
                waiting = session.info[_WAITING_KEY] = _Waiting(receipt.received_at)
            waiting.rows.append(row)
            return
        row.deleted_at = receipt.received_at

    def prepare_new(
        self, session: Session, principal: Principal, rows: list[dict[str, Any]]
    ) -> None:
        """Nothing to work out before insert: the trail needs the rows (after_write)."""

    def delete_new(self, row: dict[str, Any], receipt: Receipt) -> None:
        row["deleted_at"] = receipt.received_at

    def after_write(self, session: Session, principal: Principal, record_ids: list[str]) -> None:
        session.info.pop(_PUSHER_KEY, None)
        waiting = session.info.pop(_WAITING_KEY, None)
        if isinstance(waiting, _Waiting) and waiting.rows:
            session.flush()  # the journal is taken: what this push wrote is what counts
            for row in waiting.rows:
                try:
                    evidence.check_withdrawable(session, row)
                except DomainError:
                    # Still named by live items, so it stays. A delete has no quarantine:
                    # touch it instead, so the next pull sends it back to the phone.
                    flag_modified(row, "details")
                    continue
                row.deleted_at = waiting.received_at
        items = list(
            session.scalars(
                sa.select(EvidenceItem)
                .where(EvidenceItem.id.in_(record_ids))
                .order_by(EvidenceItem.id)
            )
        )
        evidence.settle_review(session, items, principal.user_id)


def _column(name: str, wire: WireType, doc: str = "", *, optional: bool = True) -> Column:
    return Column(name, wire, optional=optional, since=VERSION, doc=doc)


def _owned(name: str, wire: WireType, doc: str = "") -> Column:
    return Column(name, wire, server_owned=True, since=VERSION, doc=doc)


EVIDENCE_ITEMS = SyncTable(
    name="evidence_items",
    model=EvidenceItem,
    since=VERSION,
    doc="Community evidence (佐证材料, 003 附件2). Pushed by admins of the community's"
    " current schools; reviewed by the bureau; only verified items count.",
    columns=(
        _column("community_id", "string", "a community your school is in", optional=False),
        _column("kind", "string", "development_seminar | news_report | …", optional=False),
        _column("day", "string", "YYYY-MM-DD, not in the future", optional=False),
        _column("title", "string", "1–200 characters", optional=False),
        _column("description", "string", "≤ 4000 characters"),
        _column("subject", "string", "≤ 50 characters; required for teaching_materials"),
        _column("url", "string", "http(s) address; a news_report needs it or a photo"),
        _column("school_ids", "string", "JSON array of the community's school ids"),
        _column("people", "string", "JSON array of names or teacher ids"),
        _column("photo_ids", "string", "JSON array of photo upload ids"),
        _column("details", "string", "JSON object: what the kind needs besides"),
        _owned("submitted_by_id", "string", "the user who filed it"),
        _owned("submitted_at", "number", "server epoch ms of filing"),
        _owned("review_status", "string", "submitted | verified | rejected"),
        _owned("review_reason", "string", "why it was rejected"),
        _owned("revision", "number", "the version under review; an edit makes a new one"),
        _owned("status", "string", "accepted; quarantined on echoes"),
        _owned("flags", "string", '"[]"; on a quarantine echo, [{code, reason}]'),
    ),
    rows_for=_items_for,
    to_wire=_item_wire,
    writer=EvidenceWriter(),
)

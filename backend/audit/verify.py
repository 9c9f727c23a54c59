"""Checking the stored chain, and the head hash of a day to keep outside the database."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from backend.audit.chain import GENESIS, BrokenLink, check_chain
from backend.audit.models import AuditEvent, AuditHead
from backend.audit.trail import stored_fields
from backend.clock import CHINA

_READ_CHUNK = 5000


@dataclass(frozen=True)
class Anchor:
    """A head hash kept outside the database: the event ``seq`` had hash ``hash``."""

    seq: int
    hash: str


@dataclass(frozen=True)
class Verification:
    events: int
    last_seq: int
    last_hash: str
    broken: BrokenLink | None

    @property
    def intact(self) -> bool:
        return self.broken is None

    def as_dict(self) -> dict[str, Any]:
        return {
            "intact": self.intact,
            "events": self.events,
            "last_seq": self.last_seq,
            "last_hash": self.last_hash,
            "broken_at": None if self.broken is None else self.broken.seq,
            "reason": None if self.broken is None else self.broken.reason,
        }


def _events(session: Session) -> Iterator[dict[str, Any]]:
    """Every event in ``seq`` order, a chunk at a time (keyset: no cursor is left open
    when the walk stops at a broken link)."""
    after = -1
    while True:
        chunk = session.execute(
            sa.select(*AuditEvent.__table__.columns)
            .where(AuditEvent.seq > after)
            .order_by(AuditEvent.seq)
            .limit(_READ_CHUNK)
        ).mappings()
        rows = [stored_fields(dict(row)) for row in chunk]
        if not rows:
            return
        yield from rows
        after = rows[-1]["seq"]


def verify(session: Session, anchors: Sequence[Anchor] = ()) -> Verification:
    """Walk the whole chain; the first broken link, if any, is reported.

    Beyond the links themselves: the head row must name the last event (else events at
    the end were removed), and every anchor kept outside must match the stored event.
    """
    checked = check_chain(_events(session))
    result = Verification(checked.events, checked.last_seq, checked.last_hash, checked.broken)
    if not result.intact:
        return result
    head = session.execute(sa.select(AuditHead.seq, AuditHead.hash)).one()
    if (head.seq, head.hash) != (result.last_seq, result.last_hash):
        if head.seq > result.last_seq:
            reason = f"the head names event {head.seq}; events after {result.last_seq} are gone"
        else:
            reason = "the head does not name the last event"
        return _broken(result, result.last_seq + 1, reason)
    stored: dict[int, str] = {
        seq: digest
        for seq, digest in session.execute(
            sa.select(AuditEvent.seq, AuditEvent.hash).where(
                AuditEvent.seq.in_([a.seq for a in anchors])
            )
        )
    }
    for anchor in sorted(anchors, key=lambda a: a.seq):
        if anchor.seq == 0:
            if anchor.hash != GENESIS:
                return _broken(result, 0, "anchor of event 0 is not the genesis hash")
        elif stored.get(anchor.seq) != anchor.hash:
            return _broken(
                result, anchor.seq, "does not match the head hash kept outside (rewritten)"
            )
    return result


def _broken(result: Verification, seq: int, reason: str) -> Verification:
    return Verification(result.events, result.last_seq, result.last_hash, BrokenLink(seq, reason))


def day_head(session: Session, day: date) -> dict[str, Any]:
    """The chain's head at the end of ``day`` (China time): what to publish or send
    outside the database each day, so that a later rewrite of the chain can be told."""
    start = datetime.combine(day, time(), tzinfo=CHINA)
    end = start + timedelta(days=1)
    last = session.execute(
        sa.select(AuditEvent.seq, AuditEvent.hash)
        .where(AuditEvent.occurred_at < end)
        .order_by(AuditEvent.seq.desc())
        .limit(1)
    ).one_or_none()
    events_that_day = session.scalar(
        sa.select(sa.func.count())
        .select_from(AuditEvent)
        .where(AuditEvent.occurred_at >= start, AuditEvent.occurred_at < end)
    )
    return {
        "day": day.isoformat(),
        "timezone": "Asia/Shanghai",
        "seq": 0 if last is None else last.seq,
        "hash": GENESIS if last is None else last.hash,
        "events_that_day": events_that_day or 0,
    }

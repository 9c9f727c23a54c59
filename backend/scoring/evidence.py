"""Community evidence (佐证材料, 003 attachment 2): filing, editing and withdrawing an
:class:`~backend.scoring.models.EvidenceItem`, with every value judged here.

Admins of a community's current schools file evidence; a bureau reviewer verifies or
rejects it (``backend.review``, decided through ``backend.scoring.review_api``). Filing
is the record's first review event; a change of content is a new revision to be reviewed
again, whatever was decided before; a withdrawal leaves a tombstone and an event, never a
hole in the trail.

Cleaning takes a JSON-like mapping (the API's parsed body, or a synced record) so a value
is judged the same way however it arrives. Every refusal is a ``DomainError`` naming the
field (422), or 409 for an id in use or an item others refer to. Services flush, never
commit. A phone's records (``sync.evidence_tables``) are judged by the same pieces
(:func:`clean_record`, :func:`check_filing`, :func:`check_withdrawable`) and their trail
brought up to date afterwards by :func:`settle_review`.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from datetime import date
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from sqlalchemy.orm import Session

from backend import review
from backend.attendance.request_inputs import CLIENT_ID
from backend.auth.models import User
from backend.auth.policy import Action, Principal, Resource, get_scoped
from backend.db import utcnow
from backend.errors import Conflict, InvalidInput, RuleViolation
from backend.exchange.models import Secondment, Teacher
from backend.org.models import CommunityMembership
from backend.scoring import photos
from backend.scoring.models import EVIDENCE_KINDS, EvidenceItem

RULE = "003 附件2"
KIND = "evidence"  # the record kind of review events (backend.review.REVIEWED_KINDS)
TITLE_MAX = 200
DESCRIPTION_MAX = 4000
SUBJECT_MAX = 50
URL_MAX = 500
PERSON_MAX = 100
MAX_PEOPLE = 50
MAX_SCHOOLS = 20
MAX_PHOTOS = 30
_UUID = re.compile(r"^[0-9a-fA-F-]{32,36}$")

# What ``details`` holds, per kind; a key not listed is refused (a typo never silently
# does nothing). Kinds not listed take no details.
DETAIL_KEYS: dict[str, frozenset[str]] = {
    "mentor_pair": frozenset({"mentor", "mentee"}),
    "mentor_session": frozenset({"pair_id"}),
    "quality_monitoring": frozenset({"analysis"}),
    "quality_analysis": frozenset({"monitoring_id"}),
}
# A kind that refers to another item: (details key, the kind it must name).
REFERENCES: dict[str, tuple[str, str]] = {
    "mentor_session": ("pair_id", "mentor_pair"),
    "quality_analysis": ("monitoring_id", "quality_monitoring"),
}
# The fields a submitter may change; kind and community are what the item *is*.
EDITABLE = (
    "day",
    "title",
    "description",
    "subject",
    "url",
    "school_ids",
    "people",
    "photo_ids",
    "details",
)


# --- errors ----------------------------------------------------------------------------------


class InvalidEvidenceField(InvalidInput):
    """A value that is malformed, missing or not allowed for the item's kind."""

    code = "invalid_field"

    def __init__(self, field: str, message: str, *, rule: str | None = None) -> None:
        super().__init__(f"{field}: {message}", field=field, rule=rule)
        self.field = field


class NotACommunityMember(RuleViolation):
    """Only a community's current schools file its evidence."""

    code = "not_a_community_member"


class EvidenceIdInUse(Conflict):
    code = "id_in_use"


class EvidenceInUse(Conflict):
    """Withdrawing a mentor pair or a monitoring that live items still refer to."""

    code = "evidence_in_use"


# --- cleaning (pure) -------------------------------------------------------------------------


def _text(data: Mapping[str, Any], name: str, limit: int, *, required: bool = False) -> str:
    value = data.get(name)
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise InvalidEvidenceField(name, "must be text")
    value = value.strip()
    if required and not value:
        raise InvalidEvidenceField(name, "must not be empty")
    if len(value) > limit:
        raise InvalidEvidenceField(name, f"at most {limit} characters")
    return value


def _strings(data: Mapping[str, Any], name: str, limit: int, item_max: int) -> list[str]:
    value = data.get(name)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidEvidenceField(name, "must be a list of text")
    cleaned = list(dict.fromkeys(v.strip() for v in value))  # order kept, repeats dropped
    if any(not v or len(v) > item_max for v in cleaned):
        raise InvalidEvidenceField(name, f"every entry is 1–{item_max} characters")
    if len(cleaned) > limit:
        raise InvalidEvidenceField(name, f"at most {limit} entries")
    return cleaned


def _day(data: Mapping[str, Any], today: date) -> date:
    value = data.get("day")
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value)
        except ValueError:
            raise InvalidEvidenceField("day", "not a date (YYYY-MM-DD)") from None
    if not isinstance(value, date):
        raise InvalidEvidenceField("day", "required (YYYY-MM-DD)")
    if value > today:
        raise InvalidEvidenceField("day", f"{value} is in the future (today is {today})")
    return value


def _url(data: Mapping[str, Any]) -> str | None:
    value = _text(data, "url", URL_MAX)
    if not value:
        return None
    parts = urlsplit(value)
    if parts.scheme.lower() not in {"http", "https"} or not parts.netloc:
        raise InvalidEvidenceField("url", "must be an http or https address")
    return value


def _school_ids(data: Mapping[str, Any]) -> list[str]:
    raw = _strings(data, "school_ids", MAX_SCHOOLS, 36)
    try:
        return list(dict.fromkeys(str(uuid.UUID(v)) for v in raw))
    except ValueError:
        raise InvalidEvidenceField("school_ids", "every entry is a school id") from None


def _photo_ids(data: Mapping[str, Any]) -> list[str]:
    ids = _strings(data, "photo_ids", MAX_PHOTOS, 64)
    if not all(CLIENT_ID.fullmatch(i) for i in ids):
        raise InvalidEvidenceField("photo_ids", "photo ids are 1–64 of A–Z a–z 0–9 _ . -")
    return ids


def _details(kind: str, data: Mapping[str, Any]) -> dict[str, Any]:
    value = data.get("details")
    if value is None:
        value = {}
    if not isinstance(value, dict):
        raise InvalidEvidenceField("details", "must be an object")
    allowed = DETAIL_KEYS.get(kind, frozenset())
    for key in value:
        if key not in allowed:
            what = ", ".join(sorted(allowed)) or "nothing"
            raise InvalidEvidenceField(f"details.{key}", f"a {kind} item's details hold {what}")
    details: dict[str, Any] = {}
    if kind == "mentor_pair":
        for key in ("mentor", "mentee"):
            person = value.get(key)
            if not isinstance(person, str) or not person.strip():
                raise InvalidEvidenceField(
                    f"details.{key}", "a mentor pair names both people (names or teacher ids)"
                )
            if len(person.strip()) > PERSON_MAX:
                raise InvalidEvidenceField(f"details.{key}", f"at most {PERSON_MAX} characters")
            details[key] = person.strip()
        if details["mentor"] == details["mentee"]:
            raise InvalidEvidenceField("details.mentee", "is the mentor")
    elif kind in REFERENCES:
        key = REFERENCES[kind][0]
        ref = value.get(key)
        if not isinstance(ref, str) or not CLIENT_ID.fullmatch(ref):
            raise InvalidEvidenceField(
                f"details.{key}", f"required: the id of a {REFERENCES[kind][1]} item"
            )
        details[key] = ref
    elif kind == "quality_monitoring" and "analysis" in value:
        if not isinstance(value["analysis"], bool):
            raise InvalidEvidenceField("details.analysis", "true or false")
        details["analysis"] = value["analysis"]
    return details


def clean(kind: str, data: Mapping[str, Any], today: date) -> dict[str, Any]:
    """An item's client-written values of ``kind``, judged whole (no database needed)."""
    if kind not in EVIDENCE_KINDS:
        raise InvalidEvidenceField("kind", f"one of {', '.join(EVIDENCE_KINDS)}")
    values: dict[str, Any] = {
        "day": _day(data, today),
        "title": _text(data, "title", TITLE_MAX, required=True),
        "description": _text(data, "description", DESCRIPTION_MAX),
        "subject": _text(data, "subject", SUBJECT_MAX) or None,
        "url": _url(data),
        "school_ids": _school_ids(data),
        "people": _strings(data, "people", MAX_PEOPLE, PERSON_MAX),
        "photo_ids": _photo_ids(data),
        "details": _details(kind, data),
    }
    if kind == "news_report" and not values["url"] and not values["photo_ids"]:
        raise InvalidEvidenceField(
            "url", "a news report needs its link or a screenshot in photo_ids", rule=RULE
        )
    if kind == "teaching_materials" and not values["subject"]:
        raise InvalidEvidenceField(
            "subject", "shared teaching materials name their subject", rule=RULE
        )
    if kind == "mentor_pair":
        # The pair's people are the item's people too, so lists and searches show them.
        values["people"] = list(
            dict.fromkeys([values["details"]["mentor"], values["details"]["mentee"]])
        ) + [p for p in values["people"] if p not in values["details"].values()]
        if len(values["people"]) > MAX_PEOPLE:
            raise InvalidEvidenceField("people", f"at most {MAX_PEOPLE} entries")
    return values


def content(kind: str, community_id: uuid.UUID, values: Mapping[str, Any]) -> dict[str, Any]:
    """Cleaned values of an item of ``kind`` as JSON: what a review decides on."""
    return {
        "kind": kind,
        "community_id": str(community_id),
        "day": values["day"].isoformat(),
        "title": values["title"],
        "description": values["description"],
        "subject": values["subject"],
        "url": values["url"],
        "school_ids": list(values["school_ids"]),
        "people": list(values["people"]),
        "photo_ids": list(values["photo_ids"]),
        "details": dict(values["details"]),
    }


def snapshot(item: EvidenceItem) -> dict[str, Any]:
    """The item's client-written content as JSON: what a review decides on."""
    return content(item.kind, item.community_id, {name: getattr(item, name) for name in EDITABLE})


def community_id_of(value: Any) -> uuid.UUID:
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(value)
    except (TypeError, ValueError, AttributeError):
        raise InvalidEvidenceField("community_id", "required: a community id") from None


def _kind_of(value: Any) -> str:
    if not isinstance(value, str):
        raise InvalidEvidenceField("kind", f"required: one of {', '.join(EVIDENCE_KINDS)}")
    return value


def clean_record(data: Mapping[str, Any], today: date) -> dict[str, Any]:
    """A whole item as a phone records it, kind and community included, judged without
    the database: its :func:`content` (what sync digests and compares)."""
    community_id = community_id_of(data.get("community_id"))
    kind = _kind_of(data.get("kind"))
    return content(kind, community_id, clean(kind, data, today))


def columns(record: Mapping[str, Any]) -> dict[str, Any]:
    """:func:`content` back as the model's column values (ids and dates typed)."""
    return {
        **record,
        "community_id": uuid.UUID(record["community_id"]),
        "day": date.fromisoformat(record["day"]),
    }


# --- checks against the database -------------------------------------------------------------


def _current_members(session: Session, community_id: uuid.UUID, today: date) -> set[str]:
    rows = session.scalars(
        sa.select(CommunityMembership.school_id).where(
            CommunityMembership.community_id == community_id,
            sa.or_(CommunityMembership.left_on.is_(None), CommunityMembership.left_on > today),
        )
    )
    return {str(school_id) for school_id in rows}


def _check_people(session: Session, community_id: uuid.UUID, details: dict[str, Any]) -> None:
    """A mentor or mentee given as a teacher id is a teacher of the community's schools
    (by home school or by a secondment in it); a name is taken as written."""
    for key in ("mentor", "mentee"):
        value = details.get(key, "")
        if not _UUID.fullmatch(value):
            continue
        try:
            teacher_id = uuid.UUID(value)
        except ValueError:
            continue
        members = sa.select(CommunityMembership.school_id).where(
            CommunityMembership.community_id == community_id
        )
        seconded = sa.select(Secondment.teacher_id).where(Secondment.community_id == community_id)
        known = session.scalar(
            sa.select(
                sa.exists().where(
                    Teacher.id == teacher_id,
                    sa.or_(Teacher.home_school_id.in_(members), Teacher.id.in_(seconded)),
                )
            )
        )
        if not known:
            raise InvalidEvidenceField(
                f"details.{key}", f"no teacher {value} in this community's schools"
            )


def _check_reference(
    session: Session,
    kind: str,
    community_id: uuid.UUID,
    details: dict[str, Any],
    pending: Mapping[str, Mapping[str, Any]],
) -> None:
    if kind not in REFERENCES:
        return
    key, target = REFERENCES[kind]
    named = pending.get(details[key])
    if (
        named is not None
        and named["kind"] == target
        and named["community_id"] == community_id
        and named.get("deleted_at") is None
    ):
        return
    found = session.scalar(
        sa.select(
            sa.exists().where(
                EvidenceItem.id == details[key],
                EvidenceItem.community_id == community_id,
                EvidenceItem.kind == target,
                EvidenceItem.deleted_at.is_(None),
            )
        )
    )
    if not found:
        raise InvalidEvidenceField(
            f"details.{key}", f"no {target} item {details[key]} in this community"
        )


def _check_in_community(
    session: Session,
    kind: str,
    community_id: uuid.UUID,
    values: dict[str, Any],
    today: date,
    pending: Mapping[str, Mapping[str, Any]] | None = None,
) -> None:
    members = _current_members(session, community_id, today)
    strangers = [s for s in values["school_ids"] if s not in members]
    if strangers:
        raise InvalidEvidenceField(
            "school_ids",
            f"not a current school of the community: {', '.join(strangers)}",
            rule="001 §7",
        )
    _check_people(session, community_id, values["details"])
    _check_reference(session, kind, community_id, values["details"], pending or {})


def _require_member(
    session: Session, principal: Principal, community_id: uuid.UUID, today: date
) -> None:
    if principal.school_id is None or str(principal.school_id) not in _current_members(
        session, community_id, today
    ):
        raise NotACommunityMember(
            "only admins of the community's current schools file or change its evidence",
            field="community_id",
            rule="001 §7",
        )


def _community_in_scope(session: Session, principal: Principal, community_id: Any) -> uuid.UUID:
    cid = community_id_of(community_id)
    get_scoped(session, principal, Resource.COMMUNITY, Action.READ, cid)  # else 404
    return cid


def check_filing(
    session: Session,
    principal: Principal,
    kind: str,
    community_id: uuid.UUID,
    values: dict[str, Any],
    *,
    today: date,
    pending: Mapping[str, Mapping[str, Any]] | None = None,
) -> None:
    """The rules an item keeps against the database, filed or changed: the caller's school
    is a current member, and so are its schools; its people and the item it names belong to
    the community. ``pending``: items (column values, by id) filed in the same batch but
    not stored yet, which a session or an analysis may name."""
    _require_member(session, principal, community_id, today)
    _check_in_community(session, kind, community_id, values, today, pending)


def check_withdrawable(session: Session, item: EvidenceItem) -> None:
    """A mentor pair or a monitoring that live items refer to stays until they go."""
    for referrer, (key, target) in REFERENCES.items():
        if target != item.kind:
            continue
        used = session.scalar(
            sa.select(
                sa.exists().where(
                    EvidenceItem.kind == referrer,
                    EvidenceItem.community_id == item.community_id,
                    EvidenceItem.deleted_at.is_(None),
                    EvidenceItem.details[key].as_string() == item.id,
                )
            )
        )
        if used:
            raise EvidenceInUse(
                f"{referrer} items still refer to this {item.kind}; withdraw them first"
            )


def _new_id(session: Session, record_id: Any) -> str:
    if record_id is None:
        return uuid.uuid4().hex
    if not isinstance(record_id, str) or not CLIENT_ID.fullmatch(record_id):
        raise InvalidEvidenceField("id", "1–64 of A–Z a–z 0–9 _ . -")
    if session.get(EvidenceItem, record_id) is not None:
        raise EvidenceIdInUse(f"id {record_id!r} is in use", field="id")
    return record_id


# --- services --------------------------------------------------------------------------------


def file_evidence(
    session: Session, principal: Principal, data: Mapping[str, Any], *, today: date
) -> EvidenceItem:
    """File an item for a community the caller's school currently belongs to; it waits
    for review (revision 1)."""
    community_id = _community_in_scope(session, principal, data.get("community_id"))
    _require_member(session, principal, community_id, today)
    kind = _kind_of(data.get("kind"))
    values = clean(kind, data, today)
    _check_in_community(session, kind, community_id, values, today)
    item = EvidenceItem(
        id=_new_id(session, data.get("id")),
        community_id=community_id,
        kind=kind,
        submitted_by_id=principal.user_id,
        submitted_at=utcnow(),
        revision=1,
        review_reason="",
        **values,
    )
    session.add(item)
    session.flush()
    review.submitted(session, KIND, item, principal.user_id, snapshot(item))
    photos.claim_photos(session, [item])
    return item


def revise_evidence(
    session: Session,
    principal: Principal,
    item: EvidenceItem,
    changes: Mapping[str, Any],
    *,
    today: date,
) -> EvidenceItem:
    """Change an item's content, re-judged whole. A real change is a new revision waiting
    for review again (a rejected item fixed, or a verified one altered); a change to the
    same values is nothing."""
    _require_member(session, principal, item.community_id, today)
    for name in changes:
        if name not in EDITABLE:
            raise InvalidEvidenceField(name, "cannot be changed; withdraw and file anew")
    current = snapshot(item)
    merged = {name: current[name] for name in EDITABLE}
    if item.kind == "mentor_pair" and "people" not in changes:
        # The pair's people were added by the server; a changed pair replaces them.
        pair = set(current["details"].values())
        merged["people"] = [p for p in current["people"] if p not in pair]
    merged.update(changes)
    values = clean(item.kind, merged, today)
    _check_in_community(session, item.kind, item.community_id, values, today)
    for name, value in values.items():
        setattr(item, name, value)
    if snapshot(item) != current:
        session.flush()
        review.resubmitted(session, KIND, item, principal.user_id, snapshot(item))
        photos.claim_photos(session, [item])
    return item


def withdraw_evidence(session: Session, principal: Principal, item: EvidenceItem) -> EvidenceItem:
    """Withdraw an item: a tombstone (it stops counting and leaves the queue) and an event.
    A mentor pair or a monitoring that live items refer to stays until they go."""
    check_withdrawable(session, item)
    item.deleted_at = utcnow()
    session.flush()
    review.withdrawn(session, KIND, item, principal.user_id)
    return item


def settle_review(session: Session, items: list[EvidenceItem], actor_id: uuid.UUID) -> None:
    """Bring the trails of items written without their events (a phone's push, applied in
    bulk) up to date, from the trail itself so a retried push settles the same: an item
    with no trail is submitted, a withdrawn one is withdrawn once, one whose content
    differs from what was last submitted is resubmitted as a new revision."""
    photos.claim_photos(session, items)
    latest: dict[str, review.ReviewEvent] = {}
    submitted: dict[str, review.ReviewEvent] = {}
    ids = [item.id for item in items]
    for event in session.scalars(
        sa.select(review.ReviewEvent)
        .where(review.ReviewEvent.record_kind == KIND, review.ReviewEvent.record_id.in_(ids))
        .order_by(review.ReviewEvent.at, review.ReviewEvent.id)
    ):
        latest[event.record_id] = event
        if event.action in {"submitted", "resubmitted"}:
            submitted[event.record_id] = event
    for item in items:
        last = latest.get(item.id)
        if last is None:
            review.submitted(session, KIND, item, actor_id, snapshot(item))
            if item.deleted_at is not None:  # filed and withdrawn in one batch
                review.withdrawn(session, KIND, item, actor_id)
        elif item.deleted_at is not None:
            if last.action != "withdrawn":
                review.withdrawn(session, KIND, item, actor_id)
        else:
            under_review = submitted.get(item.id)
            if under_review is None or under_review.snapshot != snapshot(item):
                review.resubmitted(session, KIND, item, actor_id, snapshot(item))


def trail(session: Session, kind: str, record_id: str) -> list[dict[str, Any]]:
    """A reviewed record's events, oldest first, each with its actor's username."""
    events = review.history(session, kind, record_id)
    actor_ids = {e.actor_id for e in events if e.actor_id is not None}
    names: dict[uuid.UUID, str] = (
        {
            row.id: row.username
            for row in session.execute(
                sa.select(User.id, User.username).where(User.id.in_(actor_ids))
            )
        }
        if actor_ids
        else {}
    )
    return [
        {
            "revision": e.revision,
            "action": e.action,
            "reason": e.reason,
            "actor_id": e.actor_id,
            "actor": names.get(e.actor_id) if e.actor_id is not None else None,
            "at": e.at,
            "snapshot": e.snapshot,
        }
        for e in events
    ]

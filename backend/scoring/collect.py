"""What a community did in a school year, counted the way its rubric asks (the engine's
``counts``, see ``scoring.rubric``).

Only what a reviewer verified counts (``backend.review``), and only live rows (a withdrawn
record is a tombstone, ``deleted_at`` set). Synchronized class sessions count when verified
*and* complete (photos from every classroom and the filled form, 003 attachment 2 line
156 item 4). Backbone teachers sent and young teachers posted are derived from the year's
secondments between the community's core school and its member schools, never filed.

Everything is read in a handful of queries per community and counted in Python: a
community files tens of records a year, not thousands.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from backend.classes.models import ClassSession
from backend.exchange.models import Secondment
from backend.org.models import Community, CommunityMembership
from backend.scoring.models import EvidenceItem, ManualScore
from backend.scoring.rubric import (
    CriterionCounts,
    CriterionSpec,
    ManualEntry,
    RubricSpec,
    Unit,
    periods_of,
    school_term,
    term_bounds,
    year_bounds,
)


@dataclass
class YearRecords:
    """The community's counted records of one school year."""

    school_year: int
    evidence: list[EvidenceItem]
    sessions: list[ClassSession]
    secondments: list[Secondment]
    core_school_ids: set[Any]
    member_school_ids: set[Any]
    manual: dict[str, ManualEntry] = field(default_factory=dict)

    def evidence_of(self, kinds: Iterable[str]) -> list[EvidenceItem]:
        wanted = set(kinds)
        return [e for e in self.evidence if e.kind in wanted]


def load(
    session: Session, community: Community, school_year: int, rubric_id: Any | None
) -> YearRecords:
    first, last = year_bounds(school_year)
    evidence = list(
        session.scalars(
            sa.select(EvidenceItem)
            .where(
                EvidenceItem.community_id == community.id,
                EvidenceItem.review_status == "verified",
                EvidenceItem.deleted_at.is_(None),
                EvidenceItem.day.between(first, last),
            )
            .order_by(EvidenceItem.day, EvidenceItem.id)
        )
    )
    # A mentor pair formed in an earlier year is still a pair this year if its sessions
    # this year name it (师徒结对 runs across school years).
    have = {e.id for e in evidence}
    earlier_pairs = {
        str(pair_id)
        for e in evidence
        if e.kind == "mentor_session" and (pair_id := (e.details or {}).get("pair_id"))
    } - have
    if earlier_pairs:
        evidence += session.scalars(
            sa.select(EvidenceItem)
            .where(
                EvidenceItem.id.in_(sorted(earlier_pairs)),
                EvidenceItem.community_id == community.id,
                EvidenceItem.kind == "mentor_pair",
                EvidenceItem.review_status == "verified",
                EvidenceItem.deleted_at.is_(None),
                EvidenceItem.day < first,
            )
            .order_by(EvidenceItem.day, EvidenceItem.id)
        ).all()
    sessions = list(
        session.scalars(
            sa.select(ClassSession)
            .where(
                ClassSession.community_id == community.id,
                ClassSession.review_status == "verified",
                ClassSession.complete.is_(True),
                ClassSession.deleted_at.is_(None),
                ClassSession.day.between(first, last),
            )
            .order_by(ClassSession.day, ClassSession.id)
        )
    )
    # Schools that belonged to the community at some time in the year, by their role.
    memberships = session.execute(
        sa.select(CommunityMembership.school_id, CommunityMembership.role).where(
            CommunityMembership.community_id == community.id,
            CommunityMembership.joined_on <= last,
            sa.or_(CommunityMembership.left_on.is_(None), CommunityMembership.left_on > first),
        )
    ).all()
    core = {community.core_school_id} | {s for s, role in memberships if role == "core"}
    members = {s for s, role in memberships if role == "member"} - core
    secondments = list(
        session.scalars(
            sa.select(Secondment)
            .where(
                Secondment.status == "active",
                Secondment.deleted_at.is_(None),
                Secondment.start_on <= last,
                Secondment.end_on >= first,
                sa.or_(
                    Secondment.home_school_id.in_(core | members),
                    Secondment.host_school_id.in_(core | members),
                ),
            )
            .order_by(Secondment.start_on, Secondment.id)
        )
    )
    manual: dict[str, ManualEntry] = {}
    if rubric_id is not None:
        for row in session.scalars(
            sa.select(ManualScore).where(
                ManualScore.community_id == community.id, ManualScore.rubric_id == rubric_id
            )
        ):
            manual[row.criterion] = ManualEntry(points=row.points, note=row.note)
    return YearRecords(school_year, evidence, sessions, secondments, core, members, manual)


def _period(day: Any, per: str) -> str:
    return str(school_term(day)[1]) if per == "term" else "year"


def _by_period(
    items: Iterable[tuple[Any, str]], per: str
) -> tuple[dict[str, int], dict[str, list[str]]]:
    found: dict[str, int] = defaultdict(int)
    ids: dict[str, list[str]] = defaultdict(list)
    for day, record_id in items:
        period = _period(day, per)
        found[period] += 1
        ids[period].append(record_id)
    return found, ids


def _plain(
    spec: CriterionSpec,
    found: dict[str, int],
    ids: Iterable[str],
    measures: dict[str, dict[str, int]] | None = None,
) -> CriterionCounts:
    """One unit per period of the criterion (``found`` 0 where nothing was)."""
    units: list[Unit] = []
    for period in periods_of(spec.per):
        unit = Unit(period=period, found=found.get(period, 0))
        if measures is not None:
            unit["measures"] = measures.get(period, {})
        units.append(unit)
    return CriterionCounts(units=units, evidence_ids=list(ids))


def _evidence(spec: CriterionSpec, records: YearRecords) -> CriterionCounts:
    source = spec.source or {}
    items = records.evidence_of(source.get("kinds", []))
    group_by = source.get("group_by")
    if group_by == "mentor_pair":
        return _per_mentor_pair(spec, records, items)
    if group_by == "sync_subject":
        return _per_sync_subject(spec, records, items)
    found, _ = _by_period(((e.day, e.id) for e in items), spec.per)
    return _plain(spec, found, (e.id for e in items))


def _per_mentor_pair(
    spec: CriterionSpec, records: YearRecords, sessions: list[EvidenceItem]
) -> CriterionCounts:
    """One unit per verified pair and term (from the term it was formed in): its sessions
    that name it (``details.pair_id``)."""
    pairs = records.evidence_of(["mentor_pair"])
    units: list[Unit] = []
    counted: list[str] = []
    for pair in pairs:
        formed_year, formed_term = school_term(pair.day)
        if formed_year < records.school_year:
            formed_term = 1  # formed in an earlier year: every term of this one counts
        own = [s for s in sessions if (s.details or {}).get("pair_id") == pair.id]
        counted += [s.id for s in own]
        for period in periods_of(spec.per):
            if period != "year" and int(period) < formed_term:
                continue
            units.append(
                Unit(
                    period=period,
                    group=pair.id,
                    label=f"{pair.title}（{_period_name(period)}）",
                    found=sum(1 for s in own if period in ("year", _period(s.day, "term"))),
                )
            )
    return CriterionCounts(units=units, evidence_ids=counted)


def _per_sync_subject(
    spec: CriterionSpec, records: YearRecords, items: list[EvidenceItem]
) -> CriterionCounts:
    """One unit per subject of the year's counted sync class sessions: the items of that
    subject. Items of other subjects do not count (nothing requires them)."""
    subjects = sorted({s.subject.strip() for s in records.sessions if s.subject.strip()})
    units: list[Unit] = []
    counted: list[str] = []
    for subject in subjects:
        for period in periods_of(spec.per):
            own = [
                e
                for e in items
                if (e.subject or "").strip() == subject
                and period in ("year", _period(e.day, "term"))
            ]
            counted += [e.id for e in own]
            label = subject if period == "year" else f"{subject}（{_period_name(period)}）"
            units.append(Unit(period=period, group=subject, label=label, found=len(own)))
    return CriterionCounts(units=units, evidence_ids=counted)


def _class_sessions(spec: CriterionSpec, records: YearRecords) -> CriterionCounts:
    sessions = records.sessions
    if (spec.source or {}).get("distinct") == "subject":
        subjects: dict[str, set[str]] = defaultdict(set)
        for s in sessions:
            if s.subject.strip():
                subjects[_period(s.day, spec.per)].add(s.subject.strip())
        found = {p: len(v) for p, v in subjects.items()}
        return _plain(spec, found, (s.id for s in sessions))
    found, _ = _by_period(((s.day, s.id) for s in sessions), spec.per)
    return _plain(spec, found, (s.id for s in sessions))


def _secondments(spec: CriterionSpec, records: YearRecords) -> CriterionCounts:
    source = spec.source or {}
    ends = {"core": records.core_school_ids, "member": records.member_school_ids}
    kinds = source.get("kinds")
    chosen = [
        s
        for s in records.secondments
        if s.home_school_id in ends[source["from"]]
        and s.host_school_id in ends[source["to"]]
        and (not kinds or s.kind in kinds)
    ]
    found: dict[str, int] = defaultdict(int)
    for s in chosen:
        # A secondment counts in every period of the year it overlaps.
        for period in periods_of(spec.per):
            first, last = (
                year_bounds(records.school_year)
                if period == "year"
                else term_bounds(records.school_year, int(period))
            )
            if s.start_on <= last and s.end_on >= first:
                found[period] += 1
    return _plain(spec, found, (str(s.id) for s in chosen))


def _quality_monitoring(spec: CriterionSpec, records: YearRecords) -> CriterionCounts:
    """Per period: monitorings, and those analysed (``details.analysis`` true, or a
    verified ``quality_analysis`` naming it by ``details.monitoring_id``)."""
    monitorings = records.evidence_of(["quality_monitoring"])
    analysed_ids = {
        (a.details or {}).get("monitoring_id") for a in records.evidence_of(["quality_analysis"])
    }
    found: dict[str, int] = defaultdict(int)
    analysed: dict[str, int] = defaultdict(int)
    ids: list[str] = []
    for m in monitorings:
        period = _period(m.day, spec.per)
        found[period] += 1
        ids.append(m.id)
        if (m.details or {}).get("analysis") is True or m.id in analysed_ids:
            analysed[period] += 1
    ids += [
        a.id
        for a in records.evidence_of(["quality_analysis"])
        if (a.details or {}).get("monitoring_id") in set(ids)
    ]
    measures = {
        p: {"monitoring": found.get(p, 0), "analysed": analysed.get(p, 0)}
        for p in periods_of(spec.per)
    }
    return _plain(spec, found, ids, measures)


_SOURCES = {
    "evidence": _evidence,
    "class_sessions": _class_sessions,
    "secondments": _secondments,
    "quality_monitoring": _quality_monitoring,
}


def _period_name(period: str) -> str:
    return {"1": "第一学期", "2": "第二学期"}.get(period, "全年")


def counts(spec: RubricSpec, records: YearRecords) -> dict[str, CriterionCounts]:
    """The engine's counts for every criterion of ``spec``."""
    result: dict[str, CriterionCounts] = {}
    for criterion in spec.criteria:
        found = (
            _SOURCES[criterion.source["type"]](criterion, records)
            if criterion.source is not None
            else CriterionCounts(units=[], evidence_ids=[])
        )
        if criterion.rule == "manual":
            found["manual"] = records.manual.get(criterion.key)
        result[criterion.key] = found
    return result

"""Scorecards: a community's year scored against its region's rubric, the county ranking,
progress during the year, reviewers' manual scores, and rubric versions.

- The rubric of a community's year is the highest version of :class:`Rubric` saved for
  that school year by the community's region or, failing that, the nearest region above
  it; failing that, 003's :data:`DEFAULT_RUBRIC`. A rubric is looked up by its exact
  school year, so one saved for a later year never changes an earlier year's scores.
- Rankings order communities by total; ties share a rank and the next rank skips
  (1, 2, 2, 4: standard competition ranking, as league tables do).
- Services flush, never commit (the request boundary commits).
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from backend import clock
from backend.db import utcnow
from backend.errors import Conflict, InvalidInput, NotFound, RuleViolation
from backend.exchange.models import SECONDMENT_KINDS
from backend.org.models import Community, Region
from backend.scoring import collect
from backend.scoring.models import EVIDENCE_KINDS, ManualScore, Rubric
from backend.scoring.rubric import (
    DEFAULT_RUBRIC,
    AreaResult,
    RubricInvalid,
    RubricSpec,
    Scorecard,
    default_definition,
    parse,
    score,
    term_bounds,
    year_bounds,
)

VOCABULARY: dict[str, Collection[str]] = {
    "evidence": EVIDENCE_KINDS,
    "secondment": SECONDMENT_KINDS,
}
FIRST_SCHOOL_YEAR, LAST_SCHOOL_YEAR = 2000, 2100


class UnknownCriterion(NotFound):
    code = "unknown_criterion"


# --- rubrics --------------------------------------------------------------------------------


def validate_definition(definition: Any) -> RubricSpec:
    """The definition parsed, or 422 naming each bad field as ``definition.<path>``."""
    try:
        return parse(definition, vocabulary=VOCABULARY)
    except RubricInvalid as exc:
        errors = {
            (f"definition.{path}" if path else "definition"): [message]
            for path, message in exc.errors.items()
        }
        raise InvalidInput(
            f"The rubric definition is not valid: {exc}",
            errors={"json": errors},
            code="invalid_rubric",
        ) from exc


def create_rubric(
    session: Session,
    *,
    region_id: uuid.UUID,
    school_year: int,
    name: str,
    definition: dict[str, Any],
    created_by_id: uuid.UUID | None,
) -> Rubric:
    """A new version of the region's rubric for ``school_year`` (the next number)."""
    validate_definition(definition)
    if not name.strip():
        raise InvalidInput("a rubric has a name", field="name")
    if year_bounds(school_year)[1] < clock.today():
        # A closed year's scores are final: its rubric is fixed once used.
        raise RuleViolation(
            f"school year {school_year} is over; its rubric can no longer change",
            field="school_year",
            code="school_year_closed",
        )
    scored = session.scalar(
        sa.select(sa.func.count(ManualScore.id)).where(
            ManualScore.rubric_id.in_(
                sa.select(Rubric.id).where(
                    Rubric.region_id == region_id, Rubric.school_year == school_year
                )
            )
        )
    )
    if scored:
        # Reviewers' scores belong to the version they scored; a new version would silently
        # drop them from every scorecard of the year.
        raise Conflict(
            f"school year {school_year}'s rubric is in use: reviewers gave {scored} manual"
            " score(s) under it; it can no longer change",
            code="rubric_in_use",
        )
    latest = session.scalar(
        sa.select(sa.func.max(Rubric.version)).where(
            Rubric.region_id == region_id, Rubric.school_year == school_year
        )
    )
    rubric = Rubric(
        region_id=region_id,
        school_year=school_year,
        version=(latest or 0) + 1,
        name=name.strip(),
        definition=definition,
        created_by_id=created_by_id,
    )
    session.add(rubric)
    session.flush()  # the unique (region, year, version) is the guard against a race
    return rubric


@dataclass(frozen=True)
class RubricChoice:
    """The rubric a community's year is scored with; ``rubric`` None: 003's default."""

    rubric: Rubric | None
    spec: RubricSpec

    @property
    def definition(self) -> dict[str, Any]:
        return self.rubric.definition if self.rubric is not None else DEFAULT_RUBRIC

    @property
    def name(self) -> str:
        return self.rubric.name if self.rubric is not None else str(DEFAULT_RUBRIC["name"])


def _ancestor_paths(path: str) -> list[str]:
    parts = [p for p in path.strip("/").split("/") if p]
    return ["/" + "/".join(parts[: i + 1]) + "/" for i in range(len(parts))]


def rubric_of(session: Session, community: Community, school_year: int) -> RubricChoice:
    region_path = session.scalar(sa.select(Region.path).where(Region.id == community.region_id))
    rubric = session.scalars(
        sa.select(Rubric)
        .join(Region, Region.id == Rubric.region_id)
        .where(
            Rubric.school_year == school_year,
            Region.path.in_(_ancestor_paths(region_path or "")),
        )
        # The nearest region first (the longest path), then its newest version.
        .order_by(sa.func.length(Region.path).desc(), Rubric.version.desc())
        .limit(1)
    ).first()
    if rubric is None:
        return RubricChoice(None, parse(DEFAULT_RUBRIC))
    return RubricChoice(rubric, parse(rubric.definition))


# --- scorecards -----------------------------------------------------------------------------


@dataclass
class CommunityScorecard:
    community_id: uuid.UUID
    community_name: str
    region_id: uuid.UUID
    school_year: int
    rubric_id: uuid.UUID | None
    rubric_name: str
    rubric_version: int | None
    rubric_region_id: uuid.UUID | None
    default_rubric: bool
    card: Scorecard

    @property
    def total(self) -> float:
        return self.card.total

    @property
    def max_total(self) -> float:
        return self.card.max_total

    @property
    def areas(self) -> list[AreaResult]:
        return self.card.areas

    @property
    def pending_manual(self) -> list[str]:
        return self.card.pending_manual


def scorecard(session: Session, community: Community, school_year: int) -> CommunityScorecard:
    choice = rubric_of(session, community, school_year)
    rubric = choice.rubric
    records = collect.load(session, community, school_year, rubric.id if rubric else None)
    card = score(choice.spec, collect.counts(choice.spec, records))
    return CommunityScorecard(
        community_id=community.id,
        community_name=community.name,
        region_id=community.region_id,
        school_year=school_year,
        rubric_id=rubric.id if rubric else None,
        rubric_name=choice.name,
        rubric_version=rubric.version if rubric else None,
        rubric_region_id=rubric.region_id if rubric else None,
        default_rubric=rubric is None,
        card=card,
    )


def active_in_year(school_year: int) -> sa.ColumnElement[bool]:
    """Communities whose term overlaps the school year."""
    first, last = year_bounds(school_year)
    return sa.and_(Community.term_start <= last, Community.term_end >= first)


@dataclass
class RankedRow:
    community_id: uuid.UUID
    community_name: str
    region_id: uuid.UUID
    school_year: int
    total: float
    max_total: float
    rank: int
    ranked_among: int
    pending_manual: list[str] = field(default_factory=list)


def rank(session: Session, communities: list[Community], school_year: int) -> list[RankedRow]:
    """The communities scored and ranked by total (ties share a rank; then by name)."""
    cards = sorted(
        (scorecard(session, c, school_year) for c in communities),
        key=lambda card: (-card.total, card.community_name),
    )
    rows: list[RankedRow] = []
    for position, card in enumerate(cards, start=1):
        tied = rows and rows[-1].total == card.total
        rows.append(
            RankedRow(
                community_id=card.community_id,
                community_name=card.community_name,
                region_id=card.region_id,
                school_year=school_year,
                total=card.total,
                max_total=card.max_total,
                rank=rows[-1].rank if tied else position,
                ranked_among=len(cards),
                pending_manual=card.pending_manual,
            )
        )
    return rows


def communities(
    session: Session, condition: sa.ColumnElement[bool], school_year: int
) -> list[Community]:
    return list(
        session.scalars(
            sa.select(Community)
            .where(condition, active_in_year(school_year))
            .order_by(Community.name)
        )
    )


# --- progress during the year --------------------------------------------------------------


@dataclass
class ProgressUnit:
    period: str
    label: str
    found: int
    minimum: float
    needed: float


@dataclass
class ProgressItem:
    area: str
    key: str
    name: str
    per: str
    minimum: float
    found: int
    needed: float
    units: list[ProgressUnit]


@dataclass
class Progress:
    community_id: uuid.UUID
    school_year: int
    as_of: date
    current_term: int | None
    terms_left: int
    items: list[ProgressItem]


def terms_left(school_year: int, today: date) -> tuple[int | None, int]:
    """The term ``today`` is in (None outside the year) and the terms not over yet,
    the current one included: before the year 2, in term 1 2, in term 2 1, after it 0."""
    current = None
    left = 0
    for term in (1, 2):
        first, last = term_bounds(school_year, term)
        if first <= today <= last:
            current = term
        if last >= today:
            left += 1
    return current, left


def progress(
    session: Session, community: Community, school_year: int, today: date | None = None
) -> Progress:
    """For every criterion with a minimum: what was found against it, per unit (term,
    year, mentor pair, subject), so a school sees "9 / 16 sync sessions, 2 terms left"."""
    today = today or clock.today()
    card = scorecard(session, community, school_year).card
    items: list[ProgressItem] = []
    for area in card.areas:
        for criterion in area.criteria:
            if criterion.minimum is None:
                continue
            minimum = criterion.minimum
            units = [
                ProgressUnit(u.period, u.label, u.found, minimum, max(0.0, minimum - u.found))
                for u in criterion.units
            ]
            items.append(
                ProgressItem(
                    area=area.key,
                    key=criterion.key,
                    name=criterion.name,
                    per=criterion.per,
                    minimum=minimum,
                    found=criterion.found,
                    needed=sum(u.needed for u in units),
                    units=units,
                )
            )
    current, left = terms_left(school_year, today)
    return Progress(community.id, school_year, today, current, left, items)


# --- manual scores (reviewers) --------------------------------------------------------------


def set_manual_score(
    session: Session,
    community: Community,
    school_year: int,
    criterion: str,
    *,
    points: float,
    note: str,
    scored_by_id: uuid.UUID | None,
) -> ManualScore:
    """Set (or change) a reviewer's score of a manual criterion of the community's year.

    The score belongs to the rubric version in force: a year still on 003's default gets
    that default saved as its region's version 1 first, so the year's rubric is fixed
    from the first score on."""
    choice = rubric_of(session, community, school_year)
    spec = choice.spec.criterion(criterion)
    if spec is None:
        raise UnknownCriterion(f"the year's rubric has no criterion {criterion!r}")
    if spec.rule != "manual":
        raise InvalidInput(
            f"{criterion!r} is counted from evidence, not scored by hand", code="not_manual"
        )
    max_points = spec.max_points or 0.0
    if not 0 <= points <= max_points:
        raise InvalidInput(f"points must be between 0 and {max_points:g}", field="points")
    note = note.strip()
    if not note:
        raise InvalidInput("a manual score says why (note)", field="note")
    rubric = choice.rubric or create_default(session, community.region_id, school_year)
    row = session.scalars(
        sa.select(ManualScore)
        .where(
            ManualScore.community_id == community.id,
            ManualScore.rubric_id == rubric.id,
            ManualScore.criterion == criterion,
        )
        .with_for_update()
    ).one_or_none()
    if row is None:
        row = ManualScore(community_id=community.id, rubric_id=rubric.id, criterion=criterion)
        session.add(row)
    row.points = float(points)
    row.note = note
    row.scored_by_id = scored_by_id
    row.scored_at = utcnow()
    session.flush()
    return row


def create_default(session: Session, region_id: uuid.UUID, school_year: int) -> Rubric:
    rubric = Rubric(
        region_id=region_id,
        school_year=school_year,
        version=1,
        name=str(DEFAULT_RUBRIC["name"]),
        definition=default_definition(),
        created_by_id=None,
    )
    session.add(rubric)
    session.flush()
    return rubric

"""The scoring rubric (考核细则) as data, and the engine that scores a community with it.

Pure: no Flask, no ORM. A rubric *definition* is JSON (stored in ``Rubric.definition``):

- ``areas``: ``[{key, name, points, floor, bonus_pools?, criteria}]``. An area starts at
  its ``points``, loses its criteria's deductions, gains their bonuses and never falls
  below ``floor`` (0 in 003). ``bonus_pools``: ``[{key, name, cap, criteria: [keys]}]``
  caps the bonuses of several criteria together (003: sync classes and online research,
  "最多加5分").
- a criterion: ``{key, name, rule, source, per, minimum, deduct_per_missing,
  bonus_per_extra, bonus_cap, deduction_cap, tiers, manual}``. ``per`` is ``"year"`` or
  ``"term"``: a per-term minimum applies to each term on its own. ``source`` says what is
  counted: one of the closed list of things the database can count
  (``rubric_definition.SOURCE_TYPES``).

The rule kinds are generic; 003's rules are data in :data:`DEFAULT_RUBRIC`:

- ``missing_item``: each unit (a term, a year, a group) short of ``minimum`` is one missing
  item, ``deduct_per_missing`` each ("每缺一项扣2分").
- ``per_unit``: ``deduct_per_missing`` per unit of shortfall ("每少1节扣2分").
- both: ``bonus_per_extra`` per unit found beyond ``minimum``, at most ``bonus_cap``.
- ``tiers``: per unit, the first tier whose measure is below its threshold deducts
  ("无同步质量监测扣4分；有监测无分析扣2分").
- ``gate``: a unit short of ``minimum`` zeroes the whole area ("…的不得分").
- ``manual``: points given by a reviewer (``ManualScore``), 0…``manual.max_points``;
  ``manual.mode`` ``"score"`` (the criterion's points) or ``"bonus"`` (added on top; when
  ``minimum`` is set, only once that much verified evidence exists).

:func:`score` takes the definition and *counts* — plain data per criterion key, built by
``scoring.collect`` from the database or by hand in a test — and returns a
:class:`Scorecard`: per criterion what was found, required, deducted and added, with the
evidence that counted; area subtotals; the total.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import date
from typing import Any, NotRequired, TypedDict

# Re-exported (``X as X``): 003's rubric and the definition's parser belong to this API.
from backend.scoring.default_rubric import DEFAULT_RUBRIC as DEFAULT_RUBRIC
from backend.scoring.rubric_definition import AreaSpec as AreaSpec
from backend.scoring.rubric_definition import BonusPool as BonusPool
from backend.scoring.rubric_definition import CriterionSpec as CriterionSpec
from backend.scoring.rubric_definition import RubricInvalid as RubricInvalid
from backend.scoring.rubric_definition import RubricSpec as RubricSpec
from backend.scoring.rubric_definition import Tier as Tier
from backend.scoring.rubric_definition import parse as parse

PERIOD_NAMES = {"year": "全年", "1": "第一学期", "2": "第二学期"}


# --- school years and terms ----------------------------------------------------------------


def school_term(day: date) -> tuple[int, int]:
    """The school year (the year it starts) and term of ``day``: term 1 is Sep 1 – Jan 31
    (上学期), term 2 is Feb 1 – Aug 31 (下学期). 2027-03-01 → (2026, 2)."""
    if day.month >= 9:
        return day.year, 1
    if day.month == 1:
        return day.year - 1, 1
    return day.year - 1, 2


def year_bounds(school_year: int) -> tuple[date, date]:
    return date(school_year, 9, 1), date(school_year + 1, 8, 31)


def term_bounds(school_year: int, term: int) -> tuple[date, date]:
    if term == 1:
        return date(school_year, 9, 1), date(school_year + 1, 1, 31)
    return date(school_year + 1, 2, 1), date(school_year + 1, 8, 31)


def periods_of(per: str) -> tuple[str, ...]:
    return ("1", "2") if per == "term" else ("year",)


def default_definition() -> dict[str, Any]:
    """A copy of 003's rubric (callers may change theirs freely)."""
    return copy.deepcopy(DEFAULT_RUBRIC)


# --- counts in, scorecard out --------------------------------------------------------------


class Unit(TypedDict):
    """What was found for one term / year / group (a mentor pair, a subject)."""

    period: str  # "1", "2" or "year"
    found: int
    group: NotRequired[str | None]  # the group's id (a pair's evidence id, a subject)
    label: NotRequired[str]  # the group as people read it
    measures: NotRequired[dict[str, int]]


class ManualEntry(TypedDict):
    points: float
    note: str


class CriterionCounts(TypedDict, total=False):
    units: list[Unit]
    evidence_ids: list[str]
    manual: ManualEntry | None


Counts = dict[str, CriterionCounts]


@dataclass
class UnitResult:
    period: str
    group: str | None
    label: str
    found: int
    minimum: float | None
    missing: float
    extra: float
    measures: dict[str, int] = field(default_factory=dict)


@dataclass
class CriterionResult:
    key: str
    name: str
    rule: str
    per: str
    minimum: float | None
    found: int
    deduction: float
    bonus: float
    evidence_ids: list[str]
    note: str
    units: list[UnitResult]
    max_points: float | None = None
    manual_points: float | None = None
    manual_note: str = ""
    pending: bool = False  # a manual criterion nobody has scored yet
    zeroes_area: bool = False

    @property
    def net(self) -> float:
        return round(self.bonus - self.deduction, 2)


@dataclass
class AreaResult:
    key: str
    name: str
    points: float
    floor: float
    deduction: float
    bonus: float
    subtotal: float
    zeroed: bool
    criteria: list[CriterionResult]


@dataclass
class Scorecard:
    name: str
    total: float
    max_total: float
    areas: list[AreaResult]

    @property
    def pending_manual(self) -> list[str]:
        return [c.key for a in self.areas for c in a.criteria if c.pending]

    def criterion(self, key: str) -> CriterionResult:
        for area in self.areas:
            for criterion in area.criteria:
                if criterion.key == key:
                    return criterion
        raise KeyError(key)


def _fmt(value: float) -> str:
    return f"{value:g}"


def _units(spec: CriterionSpec, counts: CriterionCounts) -> list[Unit]:
    """The given units; an ungrouped criterion always has one per period (0 if absent)."""
    given = list(counts.get("units", []))
    if spec.group_by is not None:
        return given
    present = {u["period"] for u in given}
    return given + [Unit(period=p, found=0) for p in periods_of(spec.per) if p not in present]


def _judge(spec: CriterionSpec, counts: CriterionCounts) -> CriterionResult:
    units = _units(spec, counts) if spec.source is not None else []
    minimum = spec.minimum
    results: list[UnitResult] = []
    deduction = bonus = 0.0
    notes: list[str] = []
    zeroes = False
    for unit in units:
        found = unit["found"]
        measures = dict(unit.get("measures", {}))
        measures.setdefault("found", found)
        short = max(0.0, minimum - found) if minimum is not None else 0.0
        extra = max(0.0, found - minimum) if minimum is not None else 0.0
        missing = 0.0
        if spec.rule == "missing_item" and short > 0:
            missing = 1.0
        elif spec.rule in ("per_unit", "gate"):
            missing = short
        elif spec.rule == "tiers":
            for tier in spec.tiers:
                if measures.get(tier.measure, 0) < tier.below:
                    missing = 1.0
                    deduction += tier.deduct
                    notes.append(f"{PERIOD_NAMES.get(unit['period'], unit['period'])}{tier.name}")
                    break
        label = unit.get("label") or PERIOD_NAMES.get(unit["period"], unit["period"])
        results.append(
            UnitResult(
                unit["period"], unit.get("group"), label, found, minimum, missing, extra, measures
            )
        )
        if spec.rule in ("missing_item", "per_unit"):
            deduction += missing * spec.deduct_per_missing
            bonus += extra * spec.bonus_per_extra
        if spec.rule == "gate" and missing:
            zeroes = True
    if spec.bonus_cap is not None and bonus > spec.bonus_cap:
        notes.append(f"加分上限{_fmt(spec.bonus_cap)}分")
        bonus = spec.bonus_cap
    if spec.deduction_cap is not None and deduction > spec.deduction_cap:
        notes.append(f"扣分上限{_fmt(spec.deduction_cap)}分")
        deduction = spec.deduction_cap
    result = CriterionResult(
        key=spec.key,
        name=spec.name,
        rule=spec.rule,
        per=spec.per,
        minimum=minimum,
        found=sum(u.found for u in results),
        deduction=deduction,
        bonus=bonus,
        evidence_ids=list(counts.get("evidence_ids", [])),
        note="",
        units=results,
        max_points=spec.max_points,
        zeroes_area=zeroes,
    )
    if spec.rule == "missing_item":
        short_units = [u.label for u in results if u.missing]
        if short_units:
            notes.insert(0, "缺: " + "、".join(short_units))
    elif spec.rule == "per_unit":
        missing_total = sum(u.missing for u in results)
        if missing_total:
            notes.insert(0, f"少{_fmt(missing_total)}")
        extra_total = sum(u.extra for u in results)
        if extra_total and spec.bonus_per_extra:
            notes.insert(0, f"超{_fmt(extra_total)}")
    elif spec.rule == "gate" and zeroes:
        notes.append("未开展，本项目不得分")
    elif spec.rule == "manual":
        _judge_manual(spec, counts, result, notes)
    result.note = "；".join(notes)
    return result


def _judge_manual(
    spec: CriterionSpec, counts: CriterionCounts, result: CriterionResult, notes: list[str]
) -> None:
    entry = counts.get("manual")
    max_points = spec.max_points or 0.0
    given = min(max(entry["points"], 0.0), max_points) if entry else 0.0
    result.manual_points = given if entry else None
    result.manual_note = entry["note"] if entry else ""
    result.pending = entry is None
    if spec.manual_mode == "score":
        result.deduction = max_points - given
        notes.append(f"评审得分{_fmt(given)}/{_fmt(max_points)}" if entry else "待评审")
        return
    if spec.minimum is not None and result.found < spec.minimum:
        # "能提供典型案例的，给予加分": no verified case, no bonus (whatever was entered).
        result.pending = False
        notes.append("无经审核的佐证，不加分")
        return
    result.bonus = given
    notes.append(f"评审加分{_fmt(given)}（至多{_fmt(max_points)}）" if entry else "待评审")


def _apply_pools(area: AreaSpec, results: dict[str, CriterionResult]) -> None:
    """Cap a pool's bonuses together, keeping the earlier criteria's and trimming later."""
    for pool in area.bonus_pools:
        room = pool.cap
        for key in pool.criteria:
            result = results[key]
            if result.bonus > room:
                result.note = "；".join(
                    n for n in (result.note, f"{pool.name}合计加分至多{_fmt(pool.cap)}分") if n
                )
                result.bonus = room
            room -= result.bonus


def score(definition: dict[str, Any] | RubricSpec, counts: Counts) -> Scorecard:
    """Score ``counts`` with the rubric ``definition`` (validated: :class:`RubricInvalid`)."""
    spec = definition if isinstance(definition, RubricSpec) else parse(definition)
    areas: list[AreaResult] = []
    for area in spec.areas:
        results = {c.key: _judge(c, counts.get(c.key, {})) for c in area.criteria}
        _apply_pools(area, results)
        criteria = [results[c.key] for c in area.criteria]
        for c in criteria:
            c.deduction, c.bonus = round(c.deduction, 2), round(c.bonus, 2)
        zeroed = any(c.zeroes_area for c in criteria)
        for c in criteria:
            if c.zeroes_area:
                # What the gate takes: the whole area, whatever else it would have scored.
                c.deduction = area.points
        deduction = round(sum(c.deduction for c in criteria), 2)
        bonus = round(sum(c.bonus for c in criteria), 2)
        subtotal = 0.0 if zeroed else max(area.floor, round(area.points - deduction + bonus, 2))
        areas.append(
            AreaResult(
                area.key,
                area.name,
                area.points,
                area.floor,
                deduction,
                bonus,
                subtotal,
                zeroed,
                criteria,
            )
        )
    return Scorecard(
        name=spec.name,
        total=round(sum(a.subtotal for a in areas), 2),
        max_total=round(sum(a.points for a in spec.areas), 2),
        areas=areas,
    )

"""A rubric definition checked and parsed into typed specs (see ``scoring.rubric`` for the
format and the rule kinds). Pure: no Flask, no ORM.

Every problem of a definition is reported with its path (``areas[0].criteria[2].minimum``),
not just the first, so a bureau fixes its rubric in one round.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

RULES = ("missing_item", "per_unit", "tiers", "gate", "manual")
PERIODS = ("year", "term")
MANUAL_MODES = ("score", "bonus")
SOURCE_TYPES = ("evidence", "class_sessions", "secondments", "quality_monitoring")
GROUP_BY = ("mentor_pair", "sync_subject")  # evidence sources only
SECONDMENT_ENDS = ("core", "member")
QUALITY_MEASURES = ("monitoring", "analysed")

# --- the definition, parsed -----------------------------------------------------------------


class RubricInvalid(ValueError):
    """A definition the engine cannot score with; ``errors`` maps each bad field's path
    (``areas[0].criteria[2].minimum``) to what is wrong with it."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{path}: {message}" for path, message in errors.items()))
        self.errors = errors


@dataclass(frozen=True)
class Tier:
    measure: str
    below: float
    deduct: float
    name: str


@dataclass(frozen=True)
class CriterionSpec:
    key: str
    name: str
    rule: str
    per: str
    source: dict[str, Any] | None
    minimum: float | None
    deduct_per_missing: float
    bonus_per_extra: float
    bonus_cap: float | None
    deduction_cap: float | None
    tiers: tuple[Tier, ...]
    manual_mode: str | None
    max_points: float | None

    @property
    def group_by(self) -> str | None:
        return (self.source or {}).get("group_by")


@dataclass(frozen=True)
class BonusPool:
    key: str
    name: str
    cap: float
    criteria: tuple[str, ...]


@dataclass(frozen=True)
class AreaSpec:
    key: str
    name: str
    points: float
    floor: float
    criteria: tuple[CriterionSpec, ...]
    bonus_pools: tuple[BonusPool, ...]


@dataclass(frozen=True)
class RubricSpec:
    name: str
    areas: tuple[AreaSpec, ...]

    def criterion(self, key: str) -> CriterionSpec | None:
        for area in self.areas:
            for criterion in area.criteria:
                if criterion.key == key:
                    return criterion
        return None

    @property
    def criteria(self) -> list[CriterionSpec]:
        return [c for area in self.areas for c in area.criteria]


_AREA_FIELDS = {"key", "name", "points", "floor", "criteria", "bonus_pools"}
_CRITERION_FIELDS = {
    "key",
    "name",
    "rule",
    "per",
    "source",
    "minimum",
    "deduct_per_missing",
    "bonus_per_extra",
    "bonus_cap",
    "deduction_cap",
    "tiers",
    "manual",
    "note",
}


class _Checker:
    """Collects every problem of a definition with its path (not just the first)."""

    def __init__(self, vocabulary: dict[str, Collection[str]]) -> None:
        self.errors: dict[str, str] = {}
        self.vocabulary = vocabulary

    def kinds(self, source: dict[str, Any], vocabulary: str, path: str) -> None:
        known = self.vocabulary.get(vocabulary)
        kinds = source.get("kinds")
        if known and isinstance(kinds, list):
            for i, kind in enumerate(kinds):
                if kind not in known:
                    self.fail(f"{path}.kinds[{i}]", f"unknown {vocabulary} kind {kind!r}")

    def fail(self, path: str, message: str) -> None:
        self.errors.setdefault(path, message)

    def text(self, obj: dict[str, Any], name: str, path: str) -> str:
        value = obj.get(name)
        if not isinstance(value, str) or not value.strip() or len(value) > 200:
            self.fail(f"{path}.{name}", "a non-empty text of at most 200 characters is required")
            return ""
        return value

    def number(
        self, obj: dict[str, Any], name: str, path: str, *, default: float | None = None
    ) -> float | None:
        value = obj.get(name, default)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.fail(f"{path}.{name}", "must be a number")
            return None
        if not math.isfinite(value) or value < 0 or value > 1000:
            self.fail(f"{path}.{name}", "must be between 0 and 1000")
            return None
        return float(value)

    def unknown(self, obj: dict[str, Any], allowed: set[str], path: str) -> None:
        for name in sorted(set(obj) - allowed):
            self.fail(f"{path}.{name}", "unknown field")


def parse(definition: Any, *, vocabulary: dict[str, Collection[str]] | None = None) -> RubricSpec:
    """The definition as typed specs; :class:`RubricInvalid` names every bad field.

    ``vocabulary``: the known ``evidence`` and ``secondment`` kinds, checked when given
    (the models own them; this module stays free of the ORM)."""
    check = _Checker(vocabulary or {})
    if not isinstance(definition, dict):
        raise RubricInvalid({"": "a rubric definition is an object"})
    check.unknown(definition, {"name", "areas", "source"}, "")
    name = definition.get("name", "")
    if not isinstance(name, str):
        check.fail("name", "must be a text")
    areas_raw = definition.get("areas")
    if not isinstance(areas_raw, list) or not areas_raw:
        check.fail("areas", "a non-empty list of areas is required")
        raise RubricInvalid(check.errors)
    areas: list[AreaSpec] = []
    seen_areas: set[str] = set()
    seen_criteria: set[str] = set()
    for i, area_raw in enumerate(areas_raw):
        path = f"areas[{i}]"
        if not isinstance(area_raw, dict):
            check.fail(path, "an area is an object")
            continue
        area = _parse_area(check, area_raw, path, seen_criteria)
        if area is not None:
            if area.key in seen_areas:
                check.fail(f"{path}.key", f"area key {area.key!r} is used twice")
            seen_areas.add(area.key)
            areas.append(area)
    if check.errors:
        raise RubricInvalid(check.errors)
    return RubricSpec(name=name if isinstance(name, str) else "", areas=tuple(areas))


def _parse_area(
    check: _Checker, raw: dict[str, Any], path: str, seen_criteria: set[str]
) -> AreaSpec | None:
    check.unknown(raw, _AREA_FIELDS, path)
    key = check.text(raw, "key", path)
    name = check.text(raw, "name", path)
    points = check.number(raw, "points", path)
    if points is None and "points" not in raw:
        check.fail(f"{path}.points", "required")
    floor = check.number(raw, "floor", path, default=0.0) or 0.0
    criteria_raw = raw.get("criteria")
    if not isinstance(criteria_raw, list) or not criteria_raw:
        check.fail(f"{path}.criteria", "a non-empty list of criteria is required")
        return None
    criteria: list[CriterionSpec] = []
    for j, criterion_raw in enumerate(criteria_raw):
        cpath = f"{path}.criteria[{j}]"
        if not isinstance(criterion_raw, dict):
            check.fail(cpath, "a criterion is an object")
            continue
        criterion = _parse_criterion(check, criterion_raw, cpath)
        if criterion.key in seen_criteria:
            # Manual scores and exports name criteria by key: keys are unique rubric-wide.
            check.fail(f"{cpath}.key", f"criterion key {criterion.key!r} is used twice")
        seen_criteria.add(criterion.key)
        criteria.append(criterion)
    pools = _parse_pools(check, raw.get("bonus_pools", []), path, {c.key for c in criteria})
    return AreaSpec(key, name, points or 0.0, floor, tuple(criteria), pools)


def _parse_pools(check: _Checker, raw: Any, path: str, keys: set[str]) -> tuple[BonusPool, ...]:
    if not isinstance(raw, list):
        check.fail(f"{path}.bonus_pools", "must be a list")
        return ()
    pools: list[BonusPool] = []
    for k, pool in enumerate(raw):
        ppath = f"{path}.bonus_pools[{k}]"
        if not isinstance(pool, dict):
            check.fail(ppath, "a bonus pool is an object")
            continue
        check.unknown(pool, {"key", "name", "cap", "criteria"}, ppath)
        cap = check.number(pool, "cap", ppath)
        members = pool.get("criteria")
        if (
            not isinstance(members, list)
            or not members
            or not all(isinstance(m, str) for m in members)  # unhashable members: not keys
            or not set(members) <= keys
        ):
            check.fail(f"{ppath}.criteria", "a list of criterion keys of this area")
            members = []
        pools.append(
            BonusPool(
                check.text(pool, "key", ppath),
                check.text(pool, "name", ppath),
                cap or 0.0,
                tuple(members),
            )
        )
    return tuple(pools)


def _parse_criterion(check: _Checker, raw: dict[str, Any], path: str) -> CriterionSpec:
    check.unknown(raw, _CRITERION_FIELDS, path)
    rule = raw.get("rule")
    if rule not in RULES:
        check.fail(f"{path}.rule", f"one of {', '.join(RULES)}")
    per = raw.get("per", "year")
    if per not in PERIODS:
        check.fail(f"{path}.per", f"one of {', '.join(PERIODS)}")
    source = raw.get("source")
    if source is None:
        if rule != "manual":
            check.fail(f"{path}.source", "required: what the criterion counts")
    else:
        _check_source(check, source, f"{path}.source")
    minimum = check.number(raw, "minimum", path)
    if minimum is None and rule in ("missing_item", "per_unit", "gate"):
        check.fail(f"{path}.minimum", "required for this rule")
    tiers = _parse_tiers(check, raw, path, source) if rule == "tiers" else ()
    manual_mode: str | None = None
    max_points: float | None = None
    if rule == "manual":
        manual = raw.get("manual")
        if not isinstance(manual, dict):
            check.fail(f"{path}.manual", "required: {mode, max_points}")
        else:
            check.unknown(manual, {"mode", "max_points"}, f"{path}.manual")
            manual_mode = manual.get("mode")
            if manual_mode not in MANUAL_MODES:
                check.fail(f"{path}.manual.mode", f"one of {', '.join(MANUAL_MODES)}")
            max_points = check.number(manual, "max_points", f"{path}.manual")
            if max_points is None:
                check.fail(f"{path}.manual.max_points", "required")
        if minimum is not None and source is None:
            check.fail(f"{path}.source", "a minimum needs a source to count")
    elif "manual" in raw:
        check.fail(f"{path}.manual", "only for the manual rule")
    return CriterionSpec(
        key=check.text(raw, "key", path),
        name=check.text(raw, "name", path),
        rule=rule if isinstance(rule, str) else "",
        per=per if isinstance(per, str) else "year",
        source=source if isinstance(source, dict) else None,
        minimum=minimum,
        deduct_per_missing=check.number(raw, "deduct_per_missing", path, default=0.0) or 0.0,
        bonus_per_extra=check.number(raw, "bonus_per_extra", path, default=0.0) or 0.0,
        bonus_cap=check.number(raw, "bonus_cap", path),
        deduction_cap=check.number(raw, "deduction_cap", path),
        tiers=tiers,
        manual_mode=manual_mode,
        max_points=max_points,
    )


def _check_source(check: _Checker, source: Any, path: str) -> None:
    if not isinstance(source, dict):
        check.fail(path, "an object with a type")
        return
    kind = source.get("type")
    allowed = {"type"}
    if kind == "evidence":
        allowed |= {"kinds", "group_by"}
        kinds = source.get("kinds")
        if not isinstance(kinds, list) or not kinds or not all(isinstance(k, str) for k in kinds):
            check.fail(f"{path}.kinds", "a non-empty list of evidence kinds")
        check.kinds(source, "evidence", path)
        if source.get("group_by") not in (None, *GROUP_BY):
            check.fail(f"{path}.group_by", f"one of {', '.join(GROUP_BY)}")
    elif kind == "class_sessions":
        allowed |= {"distinct"}
        if source.get("distinct") not in (None, "subject"):
            check.fail(f"{path}.distinct", "only 'subject'")
    elif kind == "secondments":
        allowed |= {"from", "to", "kinds"}
        for end in ("from", "to"):
            if source.get(end) not in SECONDMENT_ENDS:
                check.fail(f"{path}.{end}", f"one of {', '.join(SECONDMENT_ENDS)}")
        if source.get("kinds") is not None and not isinstance(source.get("kinds"), list):
            check.fail(f"{path}.kinds", "a list of secondment kinds")
        check.kinds(source, "secondment", path)
    elif kind != "quality_monitoring":
        check.fail(f"{path}.type", f"one of {', '.join(SOURCE_TYPES)}")
    for name in sorted(set(source) - allowed):
        check.fail(f"{path}.{name}", "unknown field")


def _parse_tiers(check: _Checker, raw: dict[str, Any], path: str, source: Any) -> tuple[Tier, ...]:
    tiers_raw = raw.get("tiers")
    if not isinstance(tiers_raw, list) or not tiers_raw:
        check.fail(f"{path}.tiers", "a non-empty list of tiers is required for this rule")
        return ()
    measures = {"found"}
    if isinstance(source, dict) and source.get("type") == "quality_monitoring":
        measures |= set(QUALITY_MEASURES)
    tiers: list[Tier] = []
    for k, tier in enumerate(tiers_raw):
        tpath = f"{path}.tiers[{k}]"
        if not isinstance(tier, dict):
            check.fail(tpath, "a tier is an object")
            continue
        check.unknown(tier, {"measure", "below", "deduct", "name"}, tpath)
        measure = tier.get("measure")
        if not isinstance(measure, str) or measure not in measures:
            check.fail(f"{tpath}.measure", f"one of {', '.join(sorted(measures))}")
        tiers.append(
            Tier(
                measure=measure if isinstance(measure, str) else "",
                below=check.number(tier, "below", tpath) or 0.0,
                deduct=check.number(tier, "deduct", tpath) or 0.0,
                name=check.text(tier, "name", tpath),
            )
        )
    return tuple(tiers)

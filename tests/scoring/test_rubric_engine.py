"""The rubric engine (pure): 003's rubric as data, each generic rule kind, the caps, the
floor, and the definition checks with the path of each bad field."""

from __future__ import annotations

import copy
from datetime import date
from typing import Any

import pytest

from backend.scoring.rubric import (
    DEFAULT_RUBRIC,
    CriterionCounts,
    RubricInvalid,
    Unit,
    parse,
    school_term,
    score,
    term_bounds,
    year_bounds,
)

pytestmark = pytest.mark.db_independent


def year(found: int, ids: list[str] | None = None) -> CriterionCounts:
    return CriterionCounts(units=[Unit(period="year", found=found)], evidence_ids=ids or [])


def terms(first: int, second: int) -> CriterionCounts:
    return CriterionCounts(
        units=[Unit(period="1", found=first), Unit(period="2", found=second)], evidence_ids=[]
    )


def test_school_terms() -> None:
    assert school_term(date(2026, 9, 1)) == (2026, 1)
    assert school_term(date(2026, 12, 31)) == (2026, 1)
    assert school_term(date(2027, 1, 31)) == (2026, 1)  # 上学期 runs to the end of January
    assert school_term(date(2027, 2, 1)) == (2026, 2)
    assert school_term(date(2027, 8, 31)) == (2026, 2)
    assert year_bounds(2026) == (date(2026, 9, 1), date(2027, 8, 31))
    assert term_bounds(2026, 2) == (date(2027, 2, 1), date(2027, 8, 31))


def test_the_default_is_003s_100_points() -> None:
    spec = parse(DEFAULT_RUBRIC)
    assert [(a.name, a.points) for a in spec.areas] == [
        ("管理工作", 20),
        ("教研教改", 30),
        ("交流培训", 20),
        ("教育科研", 10),
        ("学生互动", 10),
        ("工作成效", 10),
    ]
    assert score(DEFAULT_RUBRIC, {}).max_total == 100


def test_a_community_that_did_nothing() -> None:
    card = score(DEFAULT_RUBRIC, {})
    subtotals = {a.key: a.subtotal for a in card.areas}
    assert subtotals == {
        "management": 8,  # 20 − 2×2 seminars (one a term) − 2 joint − 2×2 news − 2 subjects
        "teaching_research": 0,  # 30 − 32 − 16 − 8 − 8 < 0: floored at 0
        "exchange": 11,  # 20 − 3 pairs − 3 backbone − 3 young (no pair: no session shortfall)
        "research": 5,  # 10 − 5
        "student_interaction": 0,  # none: the area scores 0
        "outcomes": 0,  # not yet scored by a reviewer
    }
    assert card.total == 24
    assert card.pending_manual == ["outcomes"]


def test_missing_items_per_term_and_news_bonus_cap() -> None:
    card = score(
        DEFAULT_RUBRIC,
        {
            "development_seminar": terms(1, 0),  # term 2 without: one missing item, −2
            "joint_activity": year(1),
            "news_report": terms(6, 2),  # 4 beyond term 1's 2: +4, capped at +2
            "sync_subjects": year(2),
        },
    )
    news = card.criterion("news_report")
    assert (news.deduction, news.bonus) == (0, 2)
    assert "加分上限2分" in news.note
    assert card.criterion("development_seminar").deduction == 2
    assert card.areas[0].subtotal == 20  # 20 − 2 + 2


def test_sessions_short_extra_and_the_shared_cap() -> None:
    card = score(
        DEFAULT_RUBRIC,
        {
            "sync_sessions": year(19),  # 3 extra: +6
            "research_online": year(9),  # 1 extra: +2
            "research_offline": year(3),  # 1 short: −2 (no bonus for offline)
            "quality_monitoring": CriterionCounts(
                units=[
                    Unit(period="1", found=1, measures={"monitoring": 1, "analysed": 1}),
                    Unit(period="2", found=1, measures={"monitoring": 1, "analysed": 0}),
                ]
            ),
        },
    )
    sync, online = card.criterion("sync_sessions"), card.criterion("research_online")
    # "最多加5分" caps both together: the first keeps 5, the second gets nothing.
    assert (sync.bonus, online.bonus) == (5, 0)
    assert "合计加分至多5分" in online.note
    assert card.criterion("research_offline").deduction == 2
    quality = card.criterion("quality_monitoring")
    assert quality.deduction == 2  # term 2: monitoring without analysis
    assert "第二学期有监测无分析" in quality.note
    assert card.areas[1].subtotal == 30 - 2 - 2 + 5


def test_monitoring_missing_in_a_term_costs_4() -> None:
    counts = CriterionCounts(
        units=[
            Unit(period="1", found=0, measures={"monitoring": 0, "analysed": 0}),
            Unit(period="2", found=1, measures={"monitoring": 1, "analysed": 1}),
        ]
    )
    assert score(DEFAULT_RUBRIC, {"quality_monitoring": counts}).criterion(
        "quality_monitoring"
    ).deduction == pytest.approx(4)


def test_grouped_units_mentor_pairs_and_subjects() -> None:
    card = score(
        DEFAULT_RUBRIC,
        {
            "mentor_pairs": year(2),
            "mentor_sessions": CriterionCounts(
                units=[
                    Unit(period="1", group="p1", found=3),
                    Unit(period="2", group="p1", found=2),  # 1 short: −0.5
                    Unit(period="2", group="p2", found=0),  # 3 short: −1.5
                ]
            ),
            "teaching_materials": CriterionCounts(
                units=[
                    Unit(period="year", group="数学", found=2),
                    Unit(period="year", group="语文", found=0),  # −1
                ]
            ),
        },
    )
    assert card.criterion("mentor_sessions").deduction == 2
    assert card.criterion("teaching_materials").deduction == 1
    # No groups: nothing is required (no sync subject, no pair).
    assert score(DEFAULT_RUBRIC, {}).criterion("teaching_materials").deduction == 0


def test_research_projects_bonus_cap() -> None:
    card = score(DEFAULT_RUBRIC, {"research_project": year(4)})
    assert card.criterion("research_project").bonus == 5  # 3 extra × 5, at most 5
    assert card.areas[3].subtotal == 15


def test_student_interaction_is_all_or_nothing() -> None:
    assert score(DEFAULT_RUBRIC, {"student_exchange": year(1)}).areas[4].subtotal == 10
    zero = score(DEFAULT_RUBRIC, {"student_exchange": year(0)}).areas[4]
    assert (zero.subtotal, zero.zeroed, zero.criteria[0].deduction) == (0, True, 10)


def test_manual_scores_and_the_typical_case_bonus() -> None:
    counts: dict[str, CriterionCounts] = {
        "outcomes": CriterionCounts(manual={"points": 7, "note": "进步明显"}),
        "typical_cases": CriterionCounts(
            units=[Unit(period="year", found=0)], manual={"points": 4, "note": "案例"}
        ),
    }
    card = score(DEFAULT_RUBRIC, counts)
    assert card.areas[5].subtotal == 7  # no verified typical case: the bonus does not count
    assert card.criterion("typical_cases").bonus == 0
    counts["typical_cases"]["units"] = [Unit(period="year", found=1)]
    card = score(DEFAULT_RUBRIC, counts)
    assert card.areas[5].subtotal == 11  # 7 + 4: a bonus may take an area past its points
    assert card.criterion("outcomes").manual_points == 7
    assert card.pending_manual == []


def test_deduction_cap_and_custom_floor() -> None:
    definition: dict[str, Any] = {
        "name": "test",
        "areas": [
            {
                "key": "a",
                "name": "甲",
                "points": 10,
                "floor": 2,
                "criteria": [
                    {
                        "key": "x",
                        "name": "x",
                        "rule": "per_unit",
                        "source": {"type": "evidence", "kinds": ["news_report"]},
                        "minimum": 10,
                        "deduct_per_missing": 1,
                        "deduction_cap": 4,
                    },
                    {
                        "key": "y",
                        "name": "y",
                        "rule": "per_unit",
                        "source": {"type": "class_sessions"},
                        "minimum": 10,
                        "deduct_per_missing": 1,
                    },
                ],
            }
        ],
    }
    card = score(definition, {})
    assert card.criterion("x").deduction == 4
    assert card.criterion("y").deduction == 10
    assert card.areas[0].subtotal == 2  # its own floor


def _broken(path: list[Any], value: Any, *, delete: bool = False) -> dict[str, Any]:
    definition = copy.deepcopy(DEFAULT_RUBRIC)
    target: Any = definition
    for step in path[:-1]:
        target = target[step]
    if delete:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return definition


@pytest.mark.parametrize(
    ("path", "value", "error_path"),
    [
        (["areas", 0, "criteria", 0, "minimum"], -1, "areas[0].criteria[0].minimum"),
        (["areas", 0, "criteria", 0, "minimum"], "two", "areas[0].criteria[0].minimum"),
        (["areas", 1, "criteria", 2, "rule"], "magic", "areas[1].criteria[2].rule"),
        (["areas", 1, "criteria", 2, "per"], "month", "areas[1].criteria[2].per"),
        (["areas", 2, "points"], True, "areas[2].points"),
        (["areas", 0, "criteria", 1, "colour"], "red", "areas[0].criteria[1].colour"),
        (["areas", 1, "bonus_pools", 0, "criteria"], ["nope"], "areas[1].bonus_pools[0].criteria"),
        (
            ["areas", 0, "criteria", 0, "source", "type"],
            "gossip",
            "areas[0].criteria[0].source.type",
        ),
        (
            ["areas", 5, "criteria", 0, "manual", "mode"],
            "vibes",
            "areas[5].criteria[0].manual.mode",
        ),
        (
            ["areas", 1, "criteria", 3, "tiers", 0, "measure"],
            "x",
            "areas[1].criteria[3].tiers[0].measure",
        ),
        (["areas", 0, "criteria", 1, "key"], "development_seminar", "areas[0].criteria[1].key"),
        (["areas"], [], "areas"),
    ],
)
def test_bad_definitions_name_the_field(path: list[Any], value: Any, error_path: str) -> None:
    with pytest.raises(RubricInvalid) as caught:
        parse(_broken(path, value))
    assert error_path in caught.value.errors, caught.value.errors


def test_missing_minimum_and_unknown_kinds() -> None:
    with pytest.raises(RubricInvalid) as caught:
        parse(_broken(["areas", 0, "criteria", 0, "minimum"], None, delete=True))
    assert "areas[0].criteria[0].minimum" in caught.value.errors
    with pytest.raises(RubricInvalid) as caught:
        parse(
            _broken(["areas", 0, "criteria", 0, "source", "kinds"], ["séance"]),
            vocabulary={"evidence": ["development_seminar"]},
        )
    assert "areas[0].criteria[0].source.kinds[0]" in caught.value.errors
    with pytest.raises(RubricInvalid):
        parse([])

"""Scorecards over HTTP on a real database: 003's rubric applied to a constructed
community and checked point by point against a hand calculation; what does not count
(unverified, rejected, withdrawn, incomplete, another year); rubric versions by region
and year; scope; ranking with ties; the XLSX; progress; manual scores."""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from openpyxl import load_workbook
from sqlalchemy.orm import Session

from backend import clock
from backend.classes.models import ClassSession
from backend.db import utcnow
from backend.org.models import Community
from backend.scoring.models import EvidenceItem, ManualScore, Rubric
from backend.scoring.rubric import default_definition
from tests import factories
from tests.factories import World

YEAR = 2026
TODAY = date(2026, 12, 2)  # term 1 of school year 2026


@pytest.fixture(autouse=True)
def _today(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(clock, "today", lambda: TODAY)


def _id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:16]}"


def evidence(
    session: Session,
    world: World,
    kind: str,
    day: date,
    *,
    status: str = "verified",
    community: Community | None = None,
    withdrawn: bool = False,
    **fields: Any,
) -> EvidenceItem:
    item = EvidenceItem(
        id=_id("ev"),
        community_id=(community or world.community_a).id,
        kind=kind,
        day=day,
        title=fields.pop("title", kind),
        submitted_by_id=world.users["school_admin_a"].id,
        submitted_at=utcnow(),
        review_status=status,
        deleted_at=utcnow() if withdrawn else None,
        **fields,
    )
    session.add(item)
    return item


def class_session(
    session: Session,
    world: World,
    day: date,
    subject: str,
    *,
    status: str = "verified",
    complete: bool = True,
) -> ClassSession:
    row = ClassSession(
        id=_id("cs"),
        community_id=world.community_a.id,
        day=day,
        subject=subject,
        topic="同步课堂",
        lead_school_id=world.core_a.id,
        duration_minutes=40,
        connection_quality="good",
        submitted_by_id=world.users["teacher_a"].id,
        received_at=utcnow(),
        complete=complete,
        missing=[] if complete else ["接收教室照片"],
        client_digest="0" * 64,
        review_status=status,
    )
    session.add(row)
    return row


def build_key_year(session: Session, world: World) -> None:
    """Community A's school year 2026, built so each of 003's rules shows (see below)."""
    t1, t2 = date(2026, 10, 15), date(2027, 3, 15)
    # Management.
    evidence(session, world, "development_seminar", t1)  # term 2 has none
    for _ in range(5):
        evidence(session, world, "news_report", t1)  # term 1: 5
    evidence(session, world, "news_report", t2)  # term 2: 1 counted …
    evidence(session, world, "news_report", t2, status="rejected")  # … and 1 rejected
    evidence(session, world, "news_report", t2, status="submitted")  # … and 1 not reviewed
    # Sync class sessions: 5 count (3 数学, 2 语文). Not counted: incomplete (a subject of
    # their own, 英语, which must not appear anywhere), rejected, unverified, withdrawn.
    for day in (t1, t1, t2):
        class_session(session, world, day, "数学")
    for day in (t1, t2):
        class_session(session, world, day, "语文")
    class_session(session, world, t1, "英语", complete=False)
    class_session(session, world, t2, "英语", complete=False)
    class_session(session, world, t1, "数学", status="rejected")
    class_session(session, world, t2, "数学", status="submitted")
    # Research activities: 2 online, 1 offline (a withdrawn one and next year's do not count).
    evidence(session, world, "research_online", t1)
    evidence(session, world, "research_online", t2)
    evidence(session, world, "research_online", date(2027, 9, 10))  # school year 2027
    evidence(session, world, "research_offline", t1)
    evidence(session, world, "research_offline", t2, withdrawn=True)
    # Quality monitoring: term 1 with its analysis (a separate item naming it); term 2 none.
    monitoring = evidence(session, world, "quality_monitoring", t1)
    evidence(session, world, "quality_analysis", t1, details={"monitoring_id": monitoring.id})
    # Shared teaching materials: 数学 only (语文 has none; 英语 is no counted subject).
    evidence(session, world, "teaching_materials", t1, subject="数学")
    evidence(session, world, "teaching_materials", t1, subject="英语")
    # Mentor pairs: pair 1 formed in term 1 (3 sessions in term 1, 1 in term 2); pair 2
    # formed in term 2 (no session yet).
    pair_1 = evidence(session, world, "mentor_pair", date(2026, 9, 10))
    pair_2 = evidence(session, world, "mentor_pair", date(2027, 2, 20))
    for day in (date(2026, 10, 1), date(2026, 11, 1), date(2026, 12, 1), t2):
        evidence(session, world, "mentor_session", day, details={"pair_id": pair_1.id})
    evidence(
        session, world, "mentor_session", t2, status="rejected", details={"pair_id": pair_2.id}
    )
    # Secondments: secondment_a (core A → member A) is the backbone teacher sent. A member
    # A teacher supporting core A is no young teacher posted: that is 跟岗 (shadowing).
    member_teacher = factories.teacher(session, world.member_a)
    factories.secondment(session, member_teacher, world.core_a, kind="support_teaching")
    # Research: 3 joint projects. Student interaction: 1. Outcomes: 1 typical case.
    for _ in range(3):
        evidence(session, world, "research_project", t1)
    evidence(session, world, "student_exchange", t2)
    evidence(session, world, "typical_case", t2)
    session.commit()


# The hand calculation with 003 attachment 2 (seed lines 156–161), criterion by criterion:
# key: (found, deduction, bonus).
EXPECTED: dict[str, tuple[float, float, float]] = {
    # 管理工作 20 → 20 − 2 − 2 − 2 + 2 = 16
    "development_seminar": (1, 2, 0),  # ≥1 a term; term 2 has none: one missing item, −2
    "joint_activity": (0, 2, 0),  # no joint activity record: −2
    "news_report": (6, 2, 2),  # term 2: 1 < 2, −2; term 1: 3 beyond 2, +3 capped at +2
    "sync_subjects": (2, 0, 0),  # 数学 and 语文: ≥2 subjects (英语 only incomplete)
    # 教研教改 30 → 30 − 22 − 12 − 6 − 4 − 1 = −15, floored at 0
    "sync_sessions": (5, 22, 0),  # 5 of ≥16 sessions: 11 short × 2
    "research_online": (2, 12, 0),  # 2 of ≥8: 6 short × 2
    "research_offline": (1, 6, 0),  # 1 of ≥4: 3 short × 2
    "quality_monitoring": (1, 4, 0),  # term 1 monitored and analysed: 0; term 2 none: −4
    "teaching_materials": (1, 1, 0),  # subjects 数学 (shared) and 语文 (not): −1
    # 交流培训 20 → 20 − 2.5 − 3 = 14.5
    "mentor_pairs": (2, 0, 0),  # pairs exist
    # pair 1: term 1 3/3, term 2 1/3 (−1); pair 2 (from term 2): 0/3 (−1.5); 0.5 each
    "mentor_sessions": (4, 2.5, 0),
    "backbone_teachers": (1, 0, 0),  # core A → member A
    "young_teachers": (0, 3, 0),  # no shadowing posting from a member school: −3
    # 教育科研 10 → 10 + 5 = 15
    "research_project": (3, 0, 5),  # 2 beyond the 1 required × 5 = 10, at most +5
    # 学生互动 10: activities exist → the full 10
    "student_exchange": (1, 0, 0),
    # 工作成效 10 → 7 + 3 = 10
    "outcomes": (0, 3, 0),  # a reviewer's 7 of 10
    "typical_cases": (1, 0, 3),  # a verified typical case; the reviewer's bonus 3
}
EXPECTED_AREAS = {
    "management": 16,
    "teaching_research": 0,
    "exchange": 14.5,
    "research": 15,
    "student_interaction": 10,
    "outcomes": 10,
}
EXPECTED_TOTAL = 65.5


def card_url(world: World, year: int = YEAR, community: Community | None = None) -> str:
    return f"/api/v1/scorecards/{(community or world.community_a).id}/{year}"


def put_manual(
    client: FlaskClient, world: World, criterion: str, body: dict[str, Any], who: str = "bureau_a"
) -> Any:
    return client.put(
        f"{card_url(world)}/manual/{criterion}", json=body, headers=world.headers[who]
    )


def score_key_year(client: FlaskClient, session: Session, world: World) -> dict[str, Any]:
    build_key_year(session, world)
    assert (
        put_manual(client, world, "outcomes", {"points": 7, "note": "进步明显"}).status_code == 200
    )
    response = put_manual(client, world, "typical_cases", {"points": 3, "note": "经验被推广"})
    assert response.status_code == 200
    response = client.get(card_url(world), headers=world.headers["bureau_a"])
    assert response.status_code == 200, response.get_json()
    body: dict[str, Any] = response.get_json()
    return body


def test_the_hand_calculation(client: FlaskClient, session: Session, world: World) -> None:
    card = score_key_year(client, session, world)
    got = {
        c["key"]: (c["found"], c["deduction"], c["bonus"])
        for area in card["areas"]
        for c in area["criteria"]
    }
    assert got == EXPECTED
    assert {a["key"]: a["subtotal"] for a in card["areas"]} == EXPECTED_AREAS
    assert card["total"] == EXPECTED_TOTAL
    assert card["max_total"] == 100
    assert card["pending_manual"] == []
    teaching = next(a for a in card["areas"] if a["key"] == "teaching_research")
    assert (teaching["deduction"], teaching["subtotal"]) == (45, 0)  # the floor at 0
    criteria = {c["key"]: c for a in card["areas"] for c in a["criteria"]}
    # Per term where the rubric counts per term.
    news_units = [(u["period"], u["found"], u["missing"]) for u in criteria["news_report"]["units"]]
    assert news_units == [("1", 5, 0), ("2", 1, 1)]
    assert criteria["news_report"]["note"].startswith("缺: 第二学期")
    pairs = [(u["period"], u["found"]) for u in criteria["mentor_sessions"]["units"]]
    assert pairs == [("1", 3), ("2", 1), ("2", 0)]
    assert [u["group"] for u in criteria["teaching_materials"]["units"]] == ["数学", "语文"]
    assert criteria["outcomes"]["manual_points"] == 7
    assert len(criteria["sync_sessions"]["evidence_ids"]) == 5
    # 003's default, saved as the county's version 1 by the first manual score.
    assert (card["default_rubric"], card["rubric_version"]) == (False, 1)
    assert card["rubric_name"] == "西吉县义务教育一体化办学工作考核细则"


def test_what_does_not_count(client: FlaskClient, session: Session, world: World) -> None:
    counted_session = class_session(session, world, date(2026, 10, 1), "数学")
    class_session(session, world, date(2026, 10, 2), "数学", complete=False)
    class_session(session, world, date(2026, 10, 3), "数学", status="rejected")
    counted = evidence(session, world, "research_online", date(2026, 10, 1))
    evidence(session, world, "research_online", date(2026, 10, 1), status="rejected")
    evidence(session, world, "research_online", date(2026, 10, 1), status="submitted")
    evidence(session, world, "research_online", date(2026, 10, 1), withdrawn=True)
    evidence(session, world, "research_online", date(2026, 10, 1), community=world.community_b)
    evidence(session, world, "research_online", date(2026, 8, 31))  # school year 2025
    session.commit()
    card = client.get(card_url(world), headers=world.headers["bureau_a"]).get_json()
    criteria = {c["key"]: c for a in card["areas"] for c in a["criteria"]}
    assert criteria["sync_sessions"]["found"] == 1
    assert criteria["sync_sessions"]["evidence_ids"] == [counted_session.id]
    assert criteria["research_online"]["evidence_ids"] == [counted.id]


def rubric_body(year: int, minimum: int, **extra: Any) -> dict[str, Any]:
    definition = default_definition()
    definition["areas"][1]["criteria"][0]["minimum"] = minimum  # sync sessions
    return {"school_year": year, "name": f"{year}年考核细则", "definition": definition, **extra}


def test_rubric_versions_by_region_and_year(
    client: FlaskClient, session: Session, world: World
) -> None:
    for day in (date(2026, 10, 1), date(2026, 10, 2)):
        class_session(session, world, day, "数学")
    session.commit()

    def sync_deduction(year: int = YEAR) -> tuple[float, Any]:
        card = client.get(card_url(world, year), headers=world.headers["bureau_a"]).get_json()
        return card["areas"][1]["criteria"][0]["deduction"], card["rubric_version"]

    assert sync_deduction() == (28, None)  # 003: 14 short of 16
    before = client.get(card_url(world), headers=world.headers["bureau_a"]).get_json()
    # Next year's rubric never changes this year's scores.
    response = client.post(
        "/api/v1/rubrics", json=rubric_body(2027, 4), headers=world.headers["bureau_a"]
    )
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["version"] == 1
    assert client.get(card_url(world), headers=world.headers["bureau_a"]).get_json() == before
    assert sync_deduction(2027)[1] == 1
    # The city's rubric for this year applies below it …
    response = client.post(
        "/api/v1/rubrics", json=rubric_body(YEAR, 10), headers=world.headers["bureau_city"]
    )
    city_rubric = response.get_json()["id"]
    assert sync_deduction() == (16, 1)  # 8 short of 10
    # … until the county saves its own; the newest version of the nearest region wins.
    for minimum in (3, 2):
        client.post(
            "/api/v1/rubrics", json=rubric_body(YEAR, minimum), headers=world.headers["bureau_a"]
        )
    assert sync_deduction() == (0, 2)
    # Community B (county B) still uses the city's.
    card_b = client.get(
        card_url(world, community=world.community_b), headers=world.headers["bureau_b"]
    )
    assert card_b.get_json()["rubric_id"] == city_rubric
    # Rubrics are read from below (a county uses its city's), not across.
    assert (
        client.get(
            f"/api/v1/rubrics/{city_rubric}", headers=world.headers["school_admin_a"]
        ).status_code
        == 200
    )
    county_a = client.get(
        "/api/v1/rubrics?school_year=2026", headers=world.headers["bureau_a"]
    ).get_json()["items"]
    assert len(county_a) == 3
    for item in county_a:
        if item["region_id"] == str(world.county_a.id):
            got = client.get(f"/api/v1/rubrics/{item['id']}", headers=world.headers["bureau_b"])
            assert got.status_code == 404
    default = client.get("/api/v1/rubrics/default", headers=world.headers["inspector_a"])
    assert default.get_json()["definition"] == default_definition()


def test_rubric_definitions_are_checked(client: FlaskClient, world: World) -> None:
    bad = rubric_body(YEAR, -1)
    response = client.post("/api/v1/rubrics", json=bad, headers=world.headers["bureau_a"])
    assert response.status_code == 422
    assert response.get_json()["code"] == "invalid_rubric"
    assert "definition.areas[1].criteria[0].minimum" in response.get_json()["errors"]["json"]
    # Not JSON-shaped like a rubric at all: still a 422 that names the field, never a 500.
    for path, value in (("bonus_pools", [{"key": "p", "name": "p", "cap": 5, "criteria": [{}]}]),):
        broken = rubric_body(YEAR, 16)
        broken["definition"]["areas"][1][path] = value
        response = client.post("/api/v1/rubrics", json=broken, headers=world.headers["bureau_a"])
        assert response.status_code == 422, response.get_json()
        assert (
            "definition.areas[1].bonus_pools[0].criteria" in response.get_json()["errors"]["json"]
        )
    response = client.post(
        "/api/v1/rubrics", json=rubric_body(2024, 16), headers=world.headers["bureau_a"]
    )
    assert (response.status_code, response.get_json()["code"]) == (422, "school_year_closed")
    foreign = rubric_body(YEAR, 16, region_id=str(world.county_b.id))
    response = client.post("/api/v1/rubrics", json=foreign, headers=world.headers["bureau_a"])
    assert (response.status_code, response.get_json()["code"]) == (422, "unknown_region")
    response = client.post(
        "/api/v1/rubrics", json=rubric_body(YEAR, 16), headers=world.headers["school_admin_a"]
    )
    assert response.status_code == 403


@pytest.fixture
def two_more_communities(session: Session, world: World) -> Iterator[list[Community]]:
    """Communities C and D in county A: no secondments, nothing filed (24 points each)."""
    extra = factories.school(session, world.county_a)
    core_d = factories.school(session, world.county_a, locality="urban")
    member_d = factories.school(session, world.county_a)
    built = [
        factories.community(session, world.county_a, world.other_a, [extra]),
        factories.community(session, world.county_a, core_d, [member_d]),
    ]
    session.commit()
    yield built


def test_ranking_with_ties_and_scope(
    client: FlaskClient, world: World, two_more_communities: list[Community]
) -> None:
    c, d = two_more_communities

    def ranks(who: str) -> dict[Any, tuple[float, int, int]]:
        response = client.get("/api/v1/scorecards?school_year=2026", headers=world.headers[who])
        assert response.status_code == 200, response.get_json()
        return {
            row["community_id"]: (row["total"], row["rank"], row["ranked_among"])
            for row in response.get_json()["items"]
        }

    a, b = str(world.community_a.id), str(world.community_b.id)
    # A: 27 (a backbone teacher sent: 3 more than nothing at all); C and D: 24, tied.
    assert ranks("bureau_a") == {a: (27, 1, 3), str(c.id): (24, 2, 3), str(d.id): (24, 2, 3)}
    assert ranks("inspector_a") == ranks("bureau_a")
    assert ranks("bureau_city") == {
        a: (27, 1, 4),
        b: (27, 1, 4),
        str(c.id): (24, 3, 4),
        str(d.id): (24, 3, 4),
    }
    # A school admin sees its own community only, ranked within its county.
    assert ranks("school_admin_a") == {a: (27, 1, 3)}
    assert ranks("host_admin_a") == {a: (27, 1, 3)}
    assert ranks("school_admin_b") == {b: (27, 1, 1)}
    assert client.get(card_url(world), headers=world.headers["school_admin_b"]).status_code == 404
    assert client.get(card_url(world), headers=world.headers["school_admin_a"]).status_code == 200
    assert client.get(card_url(world), headers=world.headers["teacher_a"]).status_code == 403
    assert ranks("bureau_b") == {b: (27, 1, 1)}
    assert (
        client.get(
            "/api/v1/scorecards?school_year=1999", headers=world.headers["bureau_a"]
        ).status_code
        == 422
    )


def test_xlsx_export(client: FlaskClient, session: Session, world: World) -> None:
    score_key_year(client, session, world)
    response = client.get(f"{card_url(world)}/export.xlsx", headers=world.headers["school_admin_a"])
    assert response.status_code == 200
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert "filename*=UTF-8''" in response.headers["Content-Disposition"]
    ws = load_workbook(io.BytesIO(response.data)).active
    assert ws is not None

    def row(n: int) -> list[Any]:
        return [ws.cell(row=n, column=col).value for col in range(1, 10)]

    assert ws["A1"].value == f"{world.community_a.name} 2026—2027学年 一体化办学工作考核评分表"
    assert ws["A2"].value == ("考核细则：西吉县义务教育一体化办学工作考核细则（第1版）；满分100分")
    assert row(3) == [
        "考核项目",
        "考核内容",
        "计算周期",
        "要求",
        "实际",
        "扣分",
        "加分",
        "得分",
        "说明",
    ]
    assert row(4) == [
        "管理工作（20分）",
        "共谋发展专题研讨（每学期不少于1次）",
        "每学期",
        "≥1",
        1,
        2,
        0,
        -2,
        "缺: 第二学期",
    ]
    assert row(6)[:8] == [
        "管理工作（20分）",
        "共同体学校活动信息报道（每学期不少于2条）",
        "每学期",
        "≥2",
        6,
        2,
        2,
        0,
    ]
    assert row(8) == ["管理工作（20分）", "小计", None, None, None, 6, 2, 16, "最低0分"]
    assert row(9)[4:8] == [5, 22, 0, -22]  # sync sessions
    assert row(14)[1] == "小计" and row(14)[5:8] == [45, 0, 0]  # floored at 0
    assert row(17)[1] == "选派骨干教师到成员校任教"
    assert row(19)[5:8] == [5.5, 0, 14.5]
    assert row(20)[4:8] == [3, 0, 5, 5]
    assert row(24)[1:8] == [
        "学校管理、教师专业水平、学生学业成绩等方面的进步（评审给分）",
        "全年",
        "0–10分",
        0,
        3,
        0,
        -3,
    ]
    assert row(26)[7] == 10
    assert row(27)[:2] == ["合计", "满分100分"] and row(27)[7] == 65.5
    assert all(
        not (isinstance(cell.value, str) and cell.value.startswith("="))
        for line in ws.iter_rows()
        for cell in line
    )


def test_progress(
    client: FlaskClient, session: Session, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    for n in range(9):
        class_session(session, world, date(2026, 10, 1 + n), "数学" if n % 2 else "语文")
    evidence(session, world, "news_report", date(2026, 10, 1))
    session.commit()
    url = f"{card_url(world)}/progress"
    body = client.get(url, headers=world.headers["host_admin_a"]).get_json()
    assert (body["current_term"], body["terms_left"], body["as_of"]) == (1, 2, "2026-12-02")
    items = {item["key"]: item for item in body["items"]}
    assert (items["sync_sessions"]["found"], items["sync_sessions"]["minimum"]) == (9, 16)
    assert items["sync_sessions"]["needed"] == 7
    news = [(u["period"], u["found"], u["needed"]) for u in items["news_report"]["units"]]
    assert news == [("1", 1, 1), ("2", 0, 2)]
    assert items["sync_subjects"]["needed"] == 0
    assert "quality_monitoring" not in items  # tiers: no minimum
    assert "outcomes" not in items  # manual, no minimum
    for today, expected in ((date(2027, 3, 1), (2, 1)), (date(2027, 9, 1), (None, 0))):
        monkeypatch.setattr(clock, "today", lambda today=today: today)
        body = client.get(url, headers=world.headers["bureau_a"]).get_json()
        assert (body["current_term"], body["terms_left"]) == expected
    monkeypatch.setattr(clock, "today", lambda: date(2026, 8, 1))
    assert client.get(url, headers=world.headers["bureau_a"]).get_json()["terms_left"] == 2


def test_manual_scores(client: FlaskClient, session: Session, world: World) -> None:
    ok = {"points": 6, "note": "管理规范"}
    assert put_manual(client, world, "outcomes", ok, who="school_admin_a").status_code == 403
    assert put_manual(client, world, "outcomes", ok, who="inspector_a").status_code == 403
    assert put_manual(client, world, "outcomes", ok, who="bureau_b").status_code == 404
    for body, field in (
        ({"points": 11, "note": "x"}, "points"),
        ({"points": -1, "note": "x"}, "points"),
        ({"points": 5, "note": "   "}, "note"),
        ({"points": 5}, "note"),
    ):
        response = put_manual(client, world, "outcomes", body)
        assert response.status_code == 422, body
        assert field in response.get_json()["errors"]["json"]
    response = put_manual(client, world, "typical_cases", {"points": 6, "note": "x"})
    assert response.status_code == 422  # the typical-case bonus is at most 5
    response = put_manual(client, world, "news_report", ok)
    assert (response.status_code, response.get_json()["code"]) == (422, "not_manual")
    response = put_manual(client, world, "nope", ok)
    assert (response.status_code, response.get_json()["code"]) == (404, "unknown_criterion")
    assert session.scalar(sa.select(sa.func.count()).select_from(Rubric)) == 0
    # Scored, then corrected: one row, the latest score.
    first = put_manual(client, world, "outcomes", ok)
    assert first.status_code == 200
    assert first.get_json()["scored_by_id"] == str(world.users["bureau_a"].id)
    second = put_manual(client, world, "outcomes", {"points": 8.5, "note": "复核后调整"})
    assert second.get_json()["id"] == first.get_json()["id"]
    rows = session.scalars(sa.select(ManualScore)).all()
    assert [(r.points, r.note) for r in rows] == [(8.5, "复核后调整")]
    # The default in force is saved as the county's version 1: the year's rubric is fixed.
    rubric = session.scalars(sa.select(Rubric)).one()
    assert (rubric.region_id, rubric.school_year, rubric.version) == (world.county_a.id, 2026, 1)
    card = client.get(card_url(world), headers=world.headers["bureau_city"]).get_json()
    outcomes = card["areas"][5]
    assert outcomes["criteria"][0]["manual_note"] == "复核后调整"
    assert outcomes["subtotal"] == 8.5
    # The city bureau scores communities of its counties too.
    response = put_manual(
        client, world, "outcomes", {"points": 9, "note": "市级复核"}, "bureau_city"
    )
    assert response.status_code == 200
    # Scored under version 1: a new version for the year would drop the scores, so none.
    changed = client.post(
        "/api/v1/rubrics", json=rubric_body(YEAR, 12), headers=world.headers["bureau_a"]
    )
    assert (changed.status_code, changed.get_json()["code"]) == (409, "rubric_in_use")
    assert session.scalar(sa.select(sa.func.count()).select_from(Rubric)) == 1


def test_a_mentor_pair_formed_last_year_counts_through_its_sessions_this_year(
    client: FlaskClient, session: Session, world: World
) -> None:
    pair = evidence(
        session, world, "mentor_pair", date(2026, 6, 1), details={"mentor": "甲", "mentee": "乙"}
    )  # school year 2025
    sessions = [
        evidence(session, world, "mentor_session", day, details={"pair_id": pair.id})
        for day in (date(2026, 9, 15), date(2026, 10, 15), date(2026, 11, 15))
    ]
    session.commit()
    card = client.get(card_url(world), headers=world.headers["bureau_a"]).get_json()
    criteria = {c["key"]: c for a in card["areas"] for c in a["criteria"]}
    assert criteria["mentor_pairs"]["deduction"] == 0  # a pair is in place: no 无师徒结对
    assert sorted(criteria["mentor_sessions"]["evidence_ids"]) == sorted(s.id for s in sessions)

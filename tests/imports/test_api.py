"""POST /api/v1/imports/<kind>: all rows or none, every rule applied, every failure reported."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from backend.auth.policy import Action, Resource, policy_of
from backend.exchange.models import Secondment, Teacher
from backend.org.models import School
from tests.imports.support import Codes, count, csv_bytes, errors_by_row, upload, xlsx

SCHOOL_HEADER = ["code", "name", "kind", "locality", "student_count", "region_code"]
SCHOOL_HEADER += ["latitude", "longitude", "geofence_radius_m", "note"]
TEACHER_HEADER = ["工号", "姓名", "原单位代码", "学科", "手机"]
SECONDMENT_HEADER = ["工号", "接收学校代码", "类型", "岗位", "开始日期", "结束日期"]
RULE = "003 §四(三)"


def school(session: Session, code: str) -> School:
    return session.scalars(sa.select(School).where(School.code == code)).one()


def teacher(session: Session, staff_no: str) -> Teacher:
    return session.scalars(sa.select(Teacher).where(Teacher.staff_no == staff_no)).one()


# --- successful imports -------------------------------------------------------------------


def test_schools_xlsx_with_english_headers_creates_exactly_its_rows(
    client: FlaskClient, session: Session, codes: Codes
) -> None:
    before = count(session, School)
    content = xlsx(
        [
            SCHOOL_HEADER,
            ["IMP-S1", "红星小学", "primary", "rural", 320, codes.county_a, 35.9, 105.7, 250, ""],
            ["IMP-S2", "城关中学", "middle", "urban", 1800, codes.county_a, 35.95, 105.72],
        ]
    )

    r = upload(client, "schools", content, "schools.xlsx", codes.headers["bureau_a"])

    assert r.status_code == 200, r.json
    assert r.json == {"kind": "schools", "dry_run": False, "rows": 2, "created": 2, "errors": []}
    assert count(session, School) == before + 2
    s1, s2 = school(session, "IMP-S1"), school(session, "IMP-S2")
    assert (s1.name, s1.kind, s1.locality, s1.student_count) == (
        "红星小学",
        "primary",
        "rural",
        320,
    )
    assert (s1.geofence_radius_m, s2.geofence_radius_m) == (250, 300)  # default when empty


def test_schools_gbk_csv_with_chinese_headers_and_labels(
    client: FlaskClient, session: Session, codes: Codes
) -> None:
    header = ["学校代码", "学校名称", "学段", "城乡", "在校生数", "区划代码", "纬度", "经度"]
    county = codes.county_a
    rows = [
        header,
        ["IMP-G1", "马屿镇九年一贯制学校", "九年一贯制", "乡村", "1,200", county, "27.6", "120.5"],
        ["IMP-G2", "高楼教学点", "教学点", "城镇", "35", county, "27.7", "120.4"],
    ]  # fmt: skip

    r = upload(
        client, "schools", csv_bytes(rows, encoding="gbk"), "学校.csv", codes.headers["bureau_a"]
    )

    assert r.status_code == 200, r.json
    assert r.json is not None and r.json["created"] == 2
    g1, g2 = school(session, "IMP-G1"), school(session, "IMP-G2")
    assert (g1.name, g1.kind, g1.locality, g1.student_count) == (
        "马屿镇九年一贯制学校", "nine_year", "rural", 1200,
    )  # fmt: skip
    assert (g2.kind, g2.locality) == ("teaching_site", "urban")


def test_teachers_xlsx_with_chinese_headers_and_numeric_cells(
    client: FlaskClient, session: Session, codes: Codes
) -> None:
    content = xlsx(
        [
            TEACHER_HEADER,
            [20260001, "王芳", codes.core_a, "语文、数学", 13800138000],
            ["IMP-T2", "李强", codes.core_a, None, None],
        ]
    )

    r = upload(client, "teachers", content, "教师名单.xlsx", codes.headers["bureau_a"])

    assert r.status_code == 200, r.json
    assert r.json is not None and (r.json["rows"], r.json["created"]) == (2, 2)
    wang = teacher(session, "20260001")
    assert (wang.name, wang.home_school_id) == ("王芳", codes.core_a_id)
    assert (wang.subjects, wang.phone) == (["语文", "数学"], "13800138000")
    assert teacher(session, "IMP-T2").subjects == []


def test_teachers_utf8_bom_csv_with_semicolons(
    client: FlaskClient, session: Session, codes: Codes
) -> None:
    rows = [TEACHER_HEADER, ["IMP-B1", "赵敏", codes.core_a, "英语/科学", "0571-8888"]]
    content = csv_bytes(rows, bom=True, delimiter=";")

    r = upload(client, "teachers", content, "t.csv", codes.headers["school_admin_a"])

    assert r.status_code == 200, r.json
    assert teacher(session, "IMP-B1").subjects == ["英语", "科学"]


def test_secondments_with_excel_dates_chinese_labels_and_an_exception(
    client: FlaskClient, session: Session, codes: Codes
) -> None:
    before = count(session, Secondment)
    t1, t2, member, other = codes.teacher_a, codes.teacher_a2, codes.member_a, codes.other_a
    content = xlsx(
        [
            [*SECONDMENT_HEADER, "跨共同体例外", "例外原因"],
            [t2, member, "支教", "教学", date(2026, 9, 1), date(2027, 7, 15)],
            [t1, member, "跟岗", "管理", "2027/9/1", "2028年7月15日"],
            [t2, other, "走教", "教学", "2027-09-01", "2028-07-15", "是", "山区缺编"],
        ]
    )  # fmt: skip

    r = upload(client, "secondments", content, "交流.xlsx", codes.headers["bureau_a"])

    assert r.status_code == 200, r.json
    assert r.json is not None and r.json["created"] == 3
    assert count(session, Secondment) == before + 3
    created = session.scalars(
        sa.select(Secondment)
        .where(Secondment.start_on >= date(2026, 9, 1))
        .order_by(Secondment.start_on, Secondment.kind)
    ).all()
    by_kind = {s.kind: s for s in created}
    assert by_kind["support_teaching"].community_id == codes.community_a_id
    assert (by_kind["shadowing"].role, by_kind["shadowing"].end_on) == (
        "management",
        date(2028, 7, 15),
    )
    itinerant = by_kind["itinerant"]
    assert (itinerant.cross_community_exception, itinerant.exception_reason) == (True, "山区缺编")
    assert itinerant.community_id is None


# --- failing rows: report every one, store nothing ----------------------------------------


def test_bad_secondment_rows_are_each_reported_and_nothing_is_stored(
    client: FlaskClient, session: Session, codes: Codes
) -> None:
    before = count(session, Secondment)
    t1, t2, member, other = codes.teacher_a, codes.teacher_a2, codes.member_a, codes.other_a
    rows = [
        SECONDMENT_HEADER,
        [t2, member, "支教", "教学", "2026-09-01", "2027-07-15"],  # 2 fine
        [t2, codes.core_a, "支教", "教学", "2028-09-01", "2029-07-15"],  # 3 host = home
        [t1, member, "支教", "教学", "2026-10-01", "2027-01-31"],  # 4 overlaps t1's secondment
        [t2, other, "支教", "教学", "2027-09-01", "2028-07-15"],  # 5 host not in a community
        ["NOBODY", member, "支教", "教学", "2026-09-01", "2027-07-15"],  # 6 unknown teacher
        [t1, member, "支教", "教学", "2029-09-01", "2029-03-01"],  # 7 ends before it starts
        [t1, member, "交换", "教学", "2030-09-01", "2031-07-15"],  # 8 unknown kind
        [t1, member, "兼课", "教学", "2031-09-01", "2032-07-15"],  # 9 fine
    ]  # fmt: skip

    r = upload(client, "secondments", xlsx(rows), "交流.xlsx", codes.headers["bureau_a"])

    assert r.status_code == 422, r.json
    body = r.json
    assert body is not None
    assert (body["status"], body["code"], body["message"]) == (
        422,
        "import_invalid",
        "6 of 8 rows have errors",
    )
    assert {k: body["report"][k] for k in ("kind", "dry_run", "rows", "created")} == {
        "kind": "secondments", "dry_run": False, "rows": 8, "created": 0,
    }  # fmt: skip
    errors = errors_by_row(body)
    assert sorted(errors) == [3, 4, 5, 6, 7, 8]  # rows 2 and 9 passed, though after failures
    assert all(
        len(e) == 1 and set(e[0]) == {"row", "field", "message", "rule"} for e in errors.values()
    )
    first = {row: e[0] for row, e in errors.items()}
    for row in (3, 4, 5):
        assert (first[row]["field"], first[row]["rule"]) == (None, RULE), first[row]
    assert "host school must differ" in first[3]["message"]
    assert "overlap" in first[4]["message"]
    assert "not in one community" in first[5]["message"]
    assert first[6] == {
        "row": 6, "field": "staff_no", "rule": None,
        "message": "teacher 'NOBODY' not found in your scope",
    }  # fmt: skip
    assert (first[7]["field"], first[7]["message"]) == ("end_on", "end_on must be after start_on")
    assert first[8]["field"] == "kind" and "支教 (support_teaching)" in first[8]["message"]
    assert count(session, Secondment) == before


def test_duplicate_staff_numbers_in_the_file_or_the_database(
    client: FlaskClient, session: Session, codes: Codes
) -> None:
    before = count(session, Teacher)
    rows = [
        TEACHER_HEADER,
        ["IMP-D1", "甲", codes.core_a, "", ""],
        ["IMP-D1", "乙", codes.core_a, "", ""],
        [codes.teacher_a, "丙", codes.core_a, "", ""],
        ["IMP-D2", "丁", codes.core_a, "", ""],
    ]

    r = upload(client, "teachers", csv_bytes(rows), "t.csv", codes.headers["bureau_a"])

    assert r.status_code == 422, r.json
    assert r.json is not None and r.json["message"] == "2 of 4 rows have errors"
    errors = errors_by_row(r.json)
    assert sorted(errors) == [3, 4]
    assert errors[3][0]["field"] == "staff_no" and "repeats row 2" in errors[3][0]["message"]
    assert errors[4][0]["field"] == "staff_no" and "exists" in errors[4][0]["message"]
    assert count(session, Teacher) == before


def test_school_cell_errors_name_their_columns(
    client: FlaskClient, session: Session, codes: Codes
) -> None:
    before = count(session, School)
    rows: list[list[Any]] = [
        SCHOOL_HEADER,
        ["IMP-E1", "甲校", "高中", "rural", 10, codes.county_a, 35, 105],
        ["IMP-E2", "乙校", "primary", "rural", 10, codes.county_b, 35, 105],
        ["IMP-E3", "丙校", "primary", "rural", "many", codes.county_a, 95, 105],
        ["IMP-E4", "", "primary", "rural", 10, codes.county_a, 35, 105, 5],
        [codes.core_a, "丁校", "primary", "rural", 10, codes.county_a, 35, 105],
    ]

    r = upload(client, "schools", xlsx(rows), "s.xlsx", codes.headers["bureau_a"])

    assert r.status_code == 422, r.json
    assert r.json is not None
    found = {(e["row"], e["field"]) for e in r.json["report"]["errors"]}
    assert found == {
        (2, "kind"),
        (3, "region_code"),  # county B is outside bureau A's scope: not found
        (4, "student_count"), (4, "latitude"),  # one entry per bad field
        (5, "name"), (5, "geofence_radius_m"),
        (6, "code"),  # exists already
    }  # fmt: skip
    assert count(session, School) == before


# --- dry run ------------------------------------------------------------------------------


def test_dry_run_reports_and_stores_nothing(
    client: FlaskClient, session: Session, codes: Codes
) -> None:
    before = count(session, Teacher)
    content = xlsx([TEACHER_HEADER, ["IMP-R1", "甲", codes.core_a], ["IMP-R2", "乙", codes.core_a]])

    dry = upload(client, "teachers", content, "t.xlsx", codes.headers["bureau_a"], dry_run=True)

    assert dry.status_code == 200, dry.json
    assert dry.json == {"kind": "teachers", "dry_run": True, "rows": 2, "created": 0, "errors": []}
    assert count(session, Teacher) == before
    # The same file for real: the dry run left nothing behind to conflict with.
    real = upload(client, "teachers", content, "t.xlsx", codes.headers["bureau_a"])
    assert real.status_code == 200 and real.json is not None and real.json["created"] == 2
    assert count(session, Teacher) == before + 2


def test_dry_run_with_bad_rows_is_a_422_report(
    client: FlaskClient, session: Session, codes: Codes
) -> None:
    content = xlsx([TEACHER_HEADER, ["IMP-R3", "甲", "NO-SUCH-SCHOOL"]])

    r = upload(client, "teachers", content, "t.xlsx", codes.headers["bureau_a"], dry_run=True)

    assert r.status_code == 422, r.json
    assert r.json is not None and r.json["report"]["dry_run"] is True
    assert r.json["report"]["errors"][0]["field"] == "home_school_code"


# --- scope and policy ---------------------------------------------------------------------


def test_school_admin_importing_teachers_of_other_schools_gets_not_found_rows(
    client: FlaskClient, session: Session, codes: Codes
) -> None:
    before = count(session, Teacher)
    rows = [
        TEACHER_HEADER,
        ["IMP-A1", "本校", codes.core_a],
        ["IMP-A2", "外县", codes.core_b],
        ["IMP-A3", "共同体成员校", codes.member_a],
        ["IMP-A4", "不存在", "NO-SUCH-SCHOOL"],
    ]

    r = upload(client, "teachers", xlsx(rows), "t.xlsx", codes.headers["school_admin_a"])

    assert r.status_code == 422, r.json
    errors = errors_by_row(r.json or {})
    assert sorted(errors) == [3, 4, 5]
    # A foreign school reads exactly like a school that does not exist.
    for row, code in ((3, codes.core_b), (4, codes.member_a), (5, "NO-SUCH-SCHOOL")):
        assert errors[row] == [
            {
                "row": row,
                "field": "home_school_code",
                "message": f"school {code!r} not found in your scope",
                "rule": None,
            }
        ]
    assert count(session, Teacher) == before


def test_bureau_cannot_second_another_countys_teacher(
    client: FlaskClient, session: Session, codes: Codes
) -> None:
    rows = [
        SECONDMENT_HEADER,
        [codes.teacher_a2, codes.member_a, "支教", "教学", "2026-09-01", "2027-07-15"],
    ]

    r = upload(client, "secondments", xlsx(rows), "s.xlsx", codes.headers["bureau_b"])

    assert r.status_code == 422, r.json
    assert {(e["row"], e["field"]) for e in r.json["report"]["errors"]} == {  # type: ignore[index]
        (2, "staff_no"), (2, "host_school_code"),
    }  # fmt: skip


@pytest.mark.parametrize(
    ("role", "kind"),
    [
        ("teacher_a", "schools"),
        ("teacher_a", "teachers"),
        ("teacher_a", "secondments"),
        ("inspector_a", "teachers"),
        ("school_admin_a", "secondments"),
        ("school_admin_a", "schools"),  # may edit its own school, not create schools
    ],
)
def test_roles_that_may_not_write_get_403(
    client: FlaskClient, session: Session, codes: Codes, role: str, kind: str
) -> None:
    before = (count(session, School), count(session, Teacher), count(session, Secondment))
    header = {"schools": SCHOOL_HEADER, "teachers": TEACHER_HEADER}.get(kind, SECONDMENT_HEADER)
    content = csv_bytes([header, ["x"] * len(header)])

    r = upload(client, kind, content, "x.csv", codes.headers[role])

    assert r.status_code == 403, r.json
    assert r.json is not None and r.json["code"] == "forbidden"
    assert (count(session, School), count(session, Teacher), count(session, Secondment)) == before


def test_without_a_token_401(client: FlaskClient, codes: Codes) -> None:
    r = upload(client, "teachers", csv_bytes([TEACHER_HEADER]), "t.csv", {})

    assert r.status_code == 401
    assert r.json is not None and r.json["code"] == "token_missing"


def test_every_import_view_carries_its_write_policy(app: Flask) -> None:
    expected = {
        "/api/v1/imports/schools": (Resource.SCHOOL, Action.WRITE),
        "/api/v1/imports/teachers": (Resource.TEACHER, Action.WRITE),
        "/api/v1/imports/secondments": (Resource.SECONDMENT, Action.WRITE),
    }
    found = {}
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/imports"):
            view_class = getattr(app.view_functions[rule.endpoint], "view_class", None)
            assert view_class is not None, rule.rule  # one MethodView per kind
            for method in (rule.methods or set()) - {"OPTIONS", "HEAD"}:
                found[rule.rule] = policy_of(getattr(view_class, method.lower()))

    assert found == expected


# --- file-level errors --------------------------------------------------------------------


def test_missing_and_unknown_headers_are_named(
    client: FlaskClient, session: Session, codes: Codes
) -> None:
    before = count(session, Teacher)
    content = csv_bytes([["工号", "姓名", "家庭住址"], ["IMP-H1", "甲", "某地"]], encoding="gbk")

    r = upload(client, "teachers", content, "t.csv", codes.headers["bureau_a"])

    assert r.status_code == 422, r.json
    assert r.json is not None and r.json["code"] == "invalid_headers"
    assert r.json["errors"] == {
        "headers": {"unknown": ["家庭住址"], "missing": ["原单位代码/home_school_code"]}
    }
    assert "家庭住址" in r.json["message"]
    assert count(session, Teacher) == before


@pytest.mark.parametrize(
    ("filename", "content", "status", "code"),
    [
        ("photo.png", b"\x89PNG\r\n\x1a\n....", 415, "unsupported_media_type"),
        ("list.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", 415, "unsupported_media_type"),
        ("list.xlsx", b"this is not a workbook", 422, "invalid_file"),
        ("list.xlsx", b"PK\x03\x04broken", 422, "invalid_file"),
        ("list.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", 422, "invalid_file"),
        ("list.csv", "工号,姓名,原单位代码\n".encode(), 422, "invalid_file"),  # no data rows
    ],
)
def test_files_that_are_not_readable_spreadsheets_get_a_json_4xx(
    client: FlaskClient, codes: Codes, filename: str, content: bytes, status: int, code: str
) -> None:
    r = upload(client, "teachers", content, filename, codes.headers["bureau_a"])

    assert r.status_code == status, r.json
    assert r.json is not None and (r.json["status"], r.json["code"]) == (status, code)


def test_a_request_without_the_file_field_is_a_validation_error(
    client: FlaskClient, codes: Codes
) -> None:
    r = client.post(
        "/api/v1/imports/teachers", json={"rows": []}, headers=codes.headers["bureau_a"]
    )

    assert r.status_code == 422
    assert r.json is not None and r.json["code"] == "validation_error"
    assert "file" in r.json["errors"]["files"]


def test_more_rows_than_the_cap_are_refused(
    client: FlaskClient, session: Session, codes: Codes
) -> None:
    rows = [TEACHER_HEADER] + [[f"IMP-{i}", "甲", codes.core_a] for i in range(5001)]

    r = upload(client, "teachers", csv_bytes(rows), "t.csv", codes.headers["bureau_a"])

    assert r.status_code == 422, r.json
    assert r.json is not None and "more than 5,000 data rows" in r.json["message"]


def test_an_unknown_kind_is_404(client: FlaskClient, codes: Codes) -> None:
    r = upload(client, "communities", csv_bytes([["name"]]), "c.csv", codes.headers["bureau_a"])

    assert r.status_code == 404
    assert r.json is not None and r.json["status"] == 404


def test_openapi_documents_the_multipart_upload_and_the_report(client: FlaskClient) -> None:
    spec = client.get("/api/v1/openapi.json").json
    assert spec is not None

    for kind in ("schools", "teachers", "secondments"):
        post = spec["paths"][f"/api/v1/imports/{kind}"]["post"]
        body = post["requestBody"]["content"]["multipart/form-data"]["schema"]
        assert body == {"$ref": "#/components/schemas/ImportFileArgs"}
        assert [p["name"] for p in post["parameters"]] == ["dry_run"]
        assert post["responses"]["422"]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/ImportInvalid"
        }
        assert "工号" in post["description"] or "学校代码" in post["description"]
    upload_field = spec["components"]["schemas"]["ImportFileArgs"]["properties"]["file"]
    assert (upload_field["type"], upload_field["format"]) == ("string", "binary")


def test_control_characters_are_a_row_error_not_a_database_failure(
    client: FlaskClient, session: Session, codes: Codes
) -> None:
    # UTF-16 text may carry NUL, which PostgreSQL refuses in a text column.
    text = f"工号\t姓名\t原单位代码\r\nIMP-N1\t张\x00三\t{codes.core_a}\r\n"

    r = upload(client, "teachers", text.encode("utf-16"), "t.csv", codes.headers["bureau_a"])

    assert r.status_code == 422, r.json
    assert r.json is not None
    assert r.json["report"]["errors"] == [
        {"row": 2, "field": "name", "message": "contains control characters", "rule": None}
    ]


def test_a_row_is_checked_against_the_rows_before_it_in_the_same_file(
    client: FlaskClient, session: Session, codes: Codes
) -> None:
    before = count(session, Secondment)
    t2, member = codes.teacher_a2, codes.member_a
    rows = [
        SECONDMENT_HEADER,
        [t2, member, "支教", "教学", "2026-09-01", "2027-07-15"],
        [t2, member, "走教", "教学", "2027-03-01", "2027-12-31"],  # overlaps row 2
    ]

    r = upload(client, "secondments", xlsx(rows), "s.xlsx", codes.headers["bureau_a"])

    assert r.status_code == 422, r.json
    assert r.json is not None
    [error] = r.json["report"]["errors"]
    assert (error["row"], error["rule"]) == (3, RULE) and "overlap" in error["message"]
    assert count(session, Secondment) == before


def test_a_request_without_a_file_is_a_422_in_the_documented_shape(
    client: FlaskClient, codes: Codes
) -> None:
    # Found by the API fuzz run: the 422 documented only the report-carrying shape, but a
    # request the arguments parser refuses answers 422 validation_error with no report.
    r = client.post("/api/v1/imports/schools", headers=codes.headers["bureau_a"], data={})

    assert r.status_code == 422
    assert r.json is not None and r.json["code"] == "validation_error"
    assert "report" not in r.json
    spec = client.get("/api/v1/openapi.json").json
    assert spec is not None
    documented = spec["components"]["schemas"]["ImportInvalid"]
    assert set(documented["required"]) <= set(r.json)

"""Header matching and cell parsing: Chinese and English headers, labels, dates, lists."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from backend.imports.columns import (
    COLUMNS,
    MISSING,
    CellError,
    HeaderError,
    ImportKind,
    boolean,
    choice,
    day,
    integer,
    match_headers,
    text,
    text_list,
)


def test_headers_match_in_chinese_or_english_ignoring_case_spaces_and_units() -> None:
    headers = ["学校代码", "Name", " KIND ", "城乡", "在校生数", "区划代码"]
    headers += ["纬度（WGS-84）", "longitude", "围栏半径(米)", "备注*"]

    columns = match_headers(ImportKind.SCHOOLS, headers)

    assert [c.name for c in columns] == [
        "code", "name", "kind", "locality", "student_count", "region_code",
        "latitude", "longitude", "geofence_radius_m", "note",
    ]  # fmt: skip


def test_unknown_and_missing_headers_are_named() -> None:
    with pytest.raises(HeaderError) as caught:
        match_headers(ImportKind.TEACHERS, ["工号", "姓名", "地址", "Email"])

    error = caught.value
    assert error.status == 422
    assert error.errors == {
        "headers": {"unknown": ["地址", "Email"], "missing": ["原单位代码/home_school_code"]}
    }
    assert "地址" in error.message and "原单位代码/home_school_code" in error.message


def test_two_headers_for_one_field_are_refused() -> None:
    with pytest.raises(HeaderError, match="电话 and 手机 both give phone"):
        match_headers(ImportKind.TEACHERS, ["工号", "姓名", "原单位代码", "电话", "手机"])


def test_optional_columns_may_be_left_out() -> None:
    required = [c.name for c in COLUMNS[ImportKind.SECONDMENTS] if c.required]

    columns = match_headers(ImportKind.SECONDMENTS, required)

    assert [c.name for c in columns] == required
    assert "cross_community_exception" not in required


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        (datetime(2026, 9, 1), "2026-09-01"),
        (date(2026, 9, 1), "2026-09-01"),
        ("2026-09-01", "2026-09-01"),
        ("2026/9/1", "2026-09-01"),
        ("2026.9.1", "2026-09-01"),
        ("2026年9月1日", "2026-09-01"),
        (" 2026 年 9 月 1 日 ", "2026-09-01"),
        ("2026/9/1 0:00", "2026-09-01"),
        (46266, "2026-09-01"),  # an Excel day serial whose date format was lost
        ("next monday", "next monday"),  # left for the schema to reject
        (None, MISSING),
    ],
)
def test_dates_in_the_forms_people_type(cell: object, expected: object) -> None:
    assert day(cell) == expected  # type: ignore[arg-type]


def test_an_impossible_calendar_date_is_a_cell_error() -> None:
    with pytest.raises(CellError, match="not a calendar date"):
        day("2026年2月30日")


def test_labels_map_to_domain_values_and_unknown_labels_list_the_choices() -> None:
    kinds = choice({"小学": "primary", "初中": "middle", "教学点": "teaching_site"})

    assert kinds("小学") == "primary"
    assert kinds(" Teaching Site ") == "teaching_site"
    assert kinds("teaching_site") == "teaching_site"
    assert kinds(None) is MISSING
    with pytest.raises(CellError, match="'高中' is not one of: 小学 \\(primary\\)"):
        kinds("高中")


def test_numbers_typed_into_text_columns_read_as_text() -> None:
    assert text(20260001) == "20260001"
    assert text(13800138000.0) == "13800138000"
    assert text("  T1 ") == "T1"
    assert text("   ") is MISSING


def test_integers_accept_thousands_separators_but_not_fractions() -> None:
    assert integer("1,200") == "1200"
    assert integer(1200.0) == 1200
    assert integer(12.5) == "12.5"  # the schema rejects it instead of truncating


def test_subjects_split_on_chinese_and_latin_separators() -> None:
    assert text_list("语文、数学，英语/科学; 美术；音乐,体育") == [
        "语文", "数学", "英语", "科学", "美术", "音乐", "体育",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("cell", "expected"), [("是", True), ("否", False), (True, True), (0, False), ("Y", True)]
)
def test_yes_no_cells(cell: object, expected: bool) -> None:
    assert boolean(cell) is expected  # type: ignore[arg-type]

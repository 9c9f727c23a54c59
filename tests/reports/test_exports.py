"""Exports of a report version, read back: the XLSX cell by cell as the office prints it, the
CSV as Excel on Windows opens it (UTF-8 with a BOM)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from typing import Any

import openpyxl
import pytest
from flask.testing import FlaskClient

from backend.reports import exports
from backend.reports.exports import FIRST_DATA_ROW, HEADER_ROW, INFO_ROW, TITLE_ROW
from tests.factories import World
from tests.reports.test_api import MONTH, REPORTS, confirmed_month, home_report

GENERATED = datetime(2026, 11, 2, 1, 30, tzinfo=UTC)  # 09:30 in China


def _row(staff_no: str, name: str, **extra: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "teacher_id": f"t-{staff_no}",
        "staff_no": staff_no,
        "teacher_name": name,
        "home_school_id": "home-1",
        "home_school_name": "城关一小",
        "host_school_id": "host-1",
        "workdays": 21,
        "days_at_work": 17.5,
        "present": 15,
        "late": 2,
        "early_leave": 1,
        "half_days": 1,
        "absent": 0,
        "absent_days": 0.0,
        "leave_days": {},
        "official_duty_days": 1.0,
        "corrections_used": 1,
        "open_flags": 0,
        "unpublished_days": 0,
        "unjudged_days": 0,
        "allowance_days": 18.5,
        "assessment": None,
        "spot_checks": {"checked": 0, "present": 0, "absent": 0, "on_leave": 0, "discrepancies": 0},
    }
    row.update(extra)
    return row


ROWS = [
    _row(
        "T001",
        "王芳",
        leave_days={"personal": 1.0, "sick": 1.5},
        assessment={"grade": "excellent", "dimensions": {}, "comment": ""},
        spot_checks={"checked": 2, "present": 1, "absent": 1, "on_leave": 0, "discrepancies": 1},
    ),
    # A name from an imported file that a spreadsheet would run as a formula.
    _row("T002", "=HYPERLINK(1)", leave_days={"study": 2.0}, absent_days=0.5, open_flags=2),
]
DIFF = [
    {
        "teacher_id": "t-T001",
        "teacher_name": "王芳",
        "change": "changed",
        "fields": {
            "absent": {"before": 1, "after": 0},
            "leave_days": {"before": {"sick": 1.5}, "after": {"personal": 1.0, "sick": 1.5}},
            "assessment": {"before": None, "after": {"grade": "excellent"}},
            "spot_checks": {
                "before": {"checked": 1, "present": 1, "absent": 0},
                "after": {"checked": 2, "present": 1, "absent": 1},
            },
        },
    },
    {"teacher_id": "t-T009", "teacher_name": "李雷", "change": "removed", "fields": {}},
]


def _export(**changes: Any) -> exports.ReportExport:
    values: dict[str, Any] = {
        "kind": "host",
        "school_name": "马屿镇中心小学",
        "month": date(2026, 10, 1),
        "version": 2,
        "amendment": True,
        "rows": ROWS,
        "diff": DIFF,
        "generated_at": GENERATED,
        "status": "已确认",
    }
    values.update(changes)
    return exports.ReportExport(**values)


HEADERS = [
    "工号",
    "姓名",
    "原单位",
    "应出勤天数",
    "实际出勤天数",
    "迟到",
    "早退",
    "半天",
    "缺勤天数",
    "病假",
    "事假",
    "study",
    "公差/培训天数",
    "补卡次数",
    "待审标记",
    "抽查次数",
    "抽查在岗",
    "抽查缺岗",
    "抽查与考勤不符",
    "月考核",
    "津贴计算天数",
]


def _sheet_values(sheet: Any, row: int) -> list[Any]:
    return [sheet.cell(row=row, column=c).value for c in range(1, sheet.max_column + 1)]


def test_the_xlsx_is_the_office_summary_sheet() -> None:
    book = openpyxl.load_workbook(io.BytesIO(exports.to_xlsx(_export())))
    assert book.sheetnames == ["考勤汇总表", "更正明细"]
    ws = book["考勤汇总表"]
    width = len(HEADERS)
    assert ws.max_column == width
    assert (
        ws.cell(TITLE_ROW, 1).value
        == "马屿镇中心小学 2026年10月 交流教师考勤汇总表（第2版·更正版）"
    )
    merged = {str(r) for r in ws.merged_cells.ranges}
    last = openpyxl.utils.get_column_letter(width)
    assert f"A{TITLE_ROW}:{last}{TITLE_ROW}" in merged and f"A{INFO_ROW}:{last}{INFO_ROW}" in merged
    info = ws.cell(INFO_ROW, 1).value
    assert "学校：马屿镇中心小学" in info and "月份：2026年10月" in info
    assert "版本：第2版（更正版）" in info and "状态：已确认" in info
    assert "生成时间：2026-11-02 09:30" in info  # China time
    assert _sheet_values(ws, HEADER_ROW) == HEADERS
    assert _sheet_values(ws, FIRST_DATA_ROW) == [
        "T001", "王芳", "城关一小", 21, 17.5, 2, 1, 1, 0, 1.5, 1, 0, 1, 1, 0, 2, 1, 1, 1, "优秀",
        18.5,
    ]  # fmt: skip
    second = _sheet_values(ws, FIRST_DATA_ROW + 1)
    assert second[1] == "=HYPERLINK(1)" and second[11] == 2 and second[8] == 0.5
    assert second[15:19] == [0, 0, 0, 0]  # nobody checked: zeros, not blanks
    assert second[19] is None  # not assessed: an empty cell
    # Plain values only: the formula-looking name is text, and no cell holds a formula.
    assert ws.cell(FIRST_DATA_ROW + 1, 2).data_type == "s"
    assert all(c.data_type != "f" for row in ws.iter_rows() for c in row)

    texts = [c.value for row in ws.iter_rows(min_row=FIRST_DATA_ROW + 2) for c in row if c.value]
    assert texts[0].startswith("说明：")
    assert texts[1:] == [
        "派出学校（盖章）：",
        "接收学校（盖章）：",
        "负责人签字：",
        "负责人签字：",
        "日期：　　　　年　　月　　日",
        "日期：　　　　年　　月　　日",
    ]
    sign_row = FIRST_DATA_ROW + len(ROWS) + 3
    half = width // 2
    assert ws.cell(sign_row, 1).value == "派出学校（盖章）："
    assert ws.cell(sign_row, half + 1).value == "接收学校（盖章）："
    assert f"A{sign_row}:{openpyxl.utils.get_column_letter(half)}{sign_row}" in merged

    assert ws.freeze_panes == f"C{FIRST_DATA_ROW}"
    assert ws.print_title_rows == f"${HEADER_ROW}:${HEADER_ROW}"
    assert ws.page_setup.orientation == "landscape"
    assert ws.page_setup.fitToWidth == 1 and ws.sheet_properties.pageSetUpPr.fitToPage
    assert ws.column_dimensions["C"].width == 22 and ws.column_dimensions["A"].width == 12


def test_an_amendment_lists_its_changes_on_a_second_sheet() -> None:
    book = openpyxl.load_workbook(io.BytesIO(exports.to_xlsx(_export())))
    ws = book["更正明细"]
    assert ws.cell(1, 1).value.endswith("更正明细（相对第1版）")
    assert _sheet_values(ws, 2) == ["工号", "姓名", "变更", "项目", "更正前", "更正后"]
    lines = [_sheet_values(ws, r) for r in range(3, ws.max_row + 1)]
    assert lines == [
        ["T001", "王芳", "更正", "缺勤天次", "1", "0"],
        ["T001", "王芳", "更正", "请假天数", "病假 1.5", "事假 1，病假 1.5"],
        ["T001", "王芳", "更正", "月考核", None, "优秀"],
        [
            "T001",
            "王芳",
            "更正",
            "随机抽查",
            "抽查次数 1，抽查在岗 1，抽查缺岗 0",
            "抽查次数 2，抽查在岗 1，抽查缺岗 1",
        ],
        [None, "李雷", "移除", None, None, None],
    ]


def test_a_first_version_has_one_sheet_and_only_the_leave_types_it_uses() -> None:
    rows = [_row("T001", "王芳", leave_days={"maternity": 10.0})]
    export = _export(version=1, amendment=False, diff=[], rows=rows, status="")
    book = openpyxl.load_workbook(io.BytesIO(exports.to_xlsx(export)))
    assert book.sheetnames == ["考勤汇总表"]
    ws = book.active
    assert ws.cell(TITLE_ROW, 1).value.endswith("交流教师考勤汇总表（第1版）")
    headers = _sheet_values(ws, HEADER_ROW)
    assert headers[9:11] == ["产假", "公差/培训天数"]
    assert "状态" not in ws.cell(INFO_ROW, 1).value


def test_a_home_report_names_the_host_school() -> None:
    export = _export(kind="home", school_names={"host-1": "陶山镇中学"})
    assert exports.columns(export)[2].header == "交流学校"
    text = exports.to_csv(export).decode("utf-8-sig")
    header, first, _ = list(csv.reader(io.StringIO(text)))
    assert header[2] == "交流学校" and first[2] == "陶山镇中学"


def test_the_csv_has_a_bom_one_chinese_header_row_and_plain_values() -> None:
    data = exports.to_csv(_export())
    assert data.startswith(b"\xef\xbb\xbf") and b"\r\n" in data
    header, first, second = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert header == HEADERS
    assert first == [
        "T001", "王芳", "城关一小", "21", "17.5", "2", "1", "1", "0", "1.5", "1", "0", "1",
        "1", "0", "2", "1", "1", "1", "优秀", "18.5",
    ]  # fmt: skip
    assert second[1] == "'=HYPERLINK(1)"  # not run as a formula when opened
    assert second[19] == ""  # no assessment
    assert second[15:19] == ["0", "0", "0", "0"]  # nobody checked


@pytest.mark.parametrize(("value", "shown"), [(3.0, 3), (1.5, 1.5), (None, 0), (2, 2), (0.0, 0)])
def test_whole_days_show_as_integers(value: Any, shown: Any) -> None:
    assert exports.number(value) == shown and type(exports.number(value)) is type(shown)


def test_a_confirmed_month_exports_as_its_rows_say(client: FlaskClient, world: World) -> None:
    host = confirmed_month(client, world)
    (row,) = host["rows"]
    response = client.get(
        f"{REPORTS}/host/{host['id']}/export.xlsx", headers=world.headers["host_admin_a"]
    )
    ws = openpyxl.load_workbook(io.BytesIO(response.data)).active
    school = world.member_a.name
    year, month = (int(p) for p in MONTH.split("-"))
    assert ws.cell(TITLE_ROW, 1).value == (
        f"{school} {year}年{month}月 交流教师考勤汇总表（第1版）"
    )
    values = _sheet_values(ws, FIRST_DATA_ROW)
    assert values[:4] == [row["staff_no"], row["teacher_name"], world.core_a.name, row["workdays"]]
    assert values[-1] == exports.number(row["allowance_days"])

    home = home_report(client, world)
    text = client.get(
        f"{REPORTS}/home/{home['id']}/export.csv", headers=world.headers["school_admin_a"]
    ).data.decode("utf-8-sig")
    header, first = list(csv.reader(io.StringIO(text)))
    assert header[2] == "交流学校" and first[2] == school and first[1] == row["teacher_name"]

"""Exports of a monthly report version: CSV for other systems, XLSX for the school office.

Both have one row per teacher and the same columns, headed in Chinese (:func:`columns`):
工号, 姓名, 原单位 (a host school's report) or 交流学校 (a home school's report), 应出勤天数,
实际出勤天数, 迟到 (times), 早退 (times), 半天 (days), 缺勤天数, one column per leave type
that occurs in the rows (days), 公差/培训天数, 补卡次数, 待审标记, 月考核, 津贴计算天数.

- **CSV**: UTF-8 with a BOM (Excel on Windows reads BOM-less UTF-8 as GBK and garbles the
  names), one header row, CRLF line ends. Text that a spreadsheet would run as a formula
  (``=``, ``+``, ``-``, ``@``) is prefixed with ``'``: the names come from imported files.
- **XLSX**: the 考勤汇总表 as an office prints it — a merged title row, a line naming school,
  month, version and generation time, the header row (frozen, repeated on every printed
  page), the teachers, a note on units, and signature and seal blocks for both schools;
  landscape A4, fitted to the page width. Plain values only, no formulas, so Excel and WPS
  show the same thing. An amendment has a second sheet, 更正明细, listing what changed.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from backend.attendance.rules import DEFAULT_LEAVE_TYPES
from backend.clock import CHINA

ReportKind = Literal["host", "home"]

GRADE_NAMES = {"excellent": "优秀", "good": "良好", "pass": "合格", "fail": "不合格"}
LEAVE_NAMES = {t.code: t.name for t in DEFAULT_LEAVE_TYPES}
HOST_STATUS_NAMES = {
    "draft": "草稿（未确认）",
    "confirmed": "已确认",
    "superseded": "已被更正版取代",
}
CHANGE_NAMES = {"added": "新增", "removed": "移除", "changed": "更正"}
# Row fields as the 更正明细 sheet names them (ids are left out: they change only when a
# teacher is added or removed, and that is shown as one line).
FIELD_NAMES = {
    "staff_no": "工号",
    "teacher_name": "姓名",
    "home_school_name": "原单位",
    "workdays": "应出勤天数",
    "days_at_work": "实际出勤天数",
    "present": "正常出勤天数",
    "late": "迟到",
    "early_leave": "早退",
    "half_days": "半天",
    "absent": "缺勤天次",
    "absent_days": "缺勤天数",
    "leave_days": "请假天数",
    "official_duty_days": "公差/培训天数",
    "corrections_used": "补卡次数",
    "open_flags": "待审标记",
    "unpublished_days": "日历未发布天数",
    "unjudged_days": "未判定天数",
    "allowance_days": "津贴计算天数",
    "assessment": "月考核",
    "spot_checks": "随机抽查",
}
# A row's spot-check counts (reports.tally.SPOT_CHECK_COUNTS) as the forms name them.
SPOT_CHECK_NAMES = {
    "checked": "抽查次数",
    "present": "抽查在岗",
    "absent": "抽查缺岗",
    "on_leave": "抽查请假",
    "discrepancies": "抽查与考勤不符",
}
HIDDEN_DIFF_FIELDS = frozenset({"teacher_id", "home_school_id", "host_school_id"})

TITLE_ROW, INFO_ROW, HEADER_ROW, FIRST_DATA_ROW = 1, 2, 3, 4
DIFF_SHEET = "更正明细"
DIFF_HEADERS = ("工号", "姓名", "变更", "项目", "更正前", "更正后")
FONT_NAME = "宋体"  # the face Chinese office forms are set in; present in Windows and WPS
NOTE = (
    "说明：天数以天计，半天计 0.5；迟到、早退以次计；津贴计算天数 = 实际出勤天数 + 公差/培训天数。"
)
SIGNATURE_LINES = (
    ("派出学校（盖章）：", "接收学校（盖章）："),
    ("负责人签字：", "负责人签字："),
    ("日期：　　　　年　　月　　日", "日期：　　　　年　　月　　日"),
)


@dataclass(frozen=True)
class ReportExport:
    """What an export shows of one report version."""

    kind: ReportKind
    school_name: str
    month: date
    version: int
    amendment: bool
    rows: list[dict[str, Any]]
    diff: list[dict[str, Any]]
    generated_at: datetime
    # Current, draft, superseded...: printed on the info line so a stale copy says so.
    status: str = ""
    # Host school names by id (a home report's rows name only the host school's id).
    school_names: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Column:
    header: str
    value: Callable[[dict[str, Any]], Any]
    width: float = 9


def number(value: Any) -> int | float:
    """Whole days as integers (``3``, not ``3.0``); half days stay ``1.5``."""
    if value is None:
        return 0
    as_float = float(value)
    return int(as_float) if as_float.is_integer() else as_float


def month_title(month: date) -> str:
    return f"{month.year}年{month.month}月"


def grade_name(assessment: dict[str, Any] | None) -> str:
    if not assessment:
        return ""
    grade = str(assessment.get("grade", ""))
    return GRADE_NAMES.get(grade, grade)


def leave_codes(rows: list[dict[str, Any]]) -> list[str]:
    """Leave types occurring in the rows: the bureau's known order first, then others."""
    present = {code for row in rows for code in (row.get("leave_days") or {})}
    known = [t.code for t in DEFAULT_LEAVE_TYPES if t.code in present]
    return known + sorted(present - set(known))


def _field(name: str) -> Callable[[dict[str, Any]], Any]:
    return lambda row: number(row.get(name))


def _leave(code: str) -> Callable[[dict[str, Any]], Any]:
    return lambda row: number((row.get("leave_days") or {}).get(code, 0))


def _spot_checks(name: str) -> Callable[[dict[str, Any]], Any]:
    # Rows tallied before spot checks existed have no counts: nothing was checked.
    return lambda row: (row.get("spot_checks") or {}).get(name, 0)


def columns(export: ReportExport) -> list[Column]:
    if export.kind == "host":
        other = Column("原单位", lambda row: row.get("home_school_name", ""), 22)
    else:
        names = export.school_names
        other = Column(
            "交流学校",
            lambda row: names.get(row.get("host_school_id", ""), row.get("host_school_id", "")),
            22,
        )
    return [
        Column("工号", lambda row: row.get("staff_no", ""), 12),
        Column("姓名", lambda row: row.get("teacher_name", ""), 10),
        other,
        Column("应出勤天数", _field("workdays")),
        Column("实际出勤天数", _field("days_at_work"), 10),
        Column("迟到", _field("late"), 7),
        Column("早退", _field("early_leave"), 7),
        Column("半天", _field("half_days"), 7),
        Column("缺勤天数", _field("absent_days")),
        *(
            Column(LEAVE_NAMES.get(code, code), _leave(code), 8)
            for code in leave_codes(export.rows)
        ),
        Column("公差/培训天数", _field("official_duty_days"), 10),
        Column("补卡次数", _field("corrections_used")),
        Column("待审标记", _field("open_flags")),
        *(
            Column(header, _spot_checks(name), 8)
            for name, header in SPOT_CHECK_NAMES.items()
            if name in ("checked", "present", "absent", "discrepancies")
        ),
        Column("月考核", lambda row: grade_name(row.get("assessment")), 8),
        Column("津贴计算天数", _field("allowance_days"), 10),
    ]


def title(export: ReportExport) -> str:
    edition = f"第{export.version}版" + ("·更正版" if export.amendment else "")
    return f"{export.school_name} {month_title(export.month)} 交流教师考勤汇总表（{edition}）"


def info_line(export: ReportExport) -> str:
    kind = "接收学校汇总" if export.kind == "host" else "派出学校（原单位）汇总"
    version = f"第{export.version}版" + ("（更正版）" if export.amendment else "")
    generated = export.generated_at.astimezone(CHINA).strftime("%Y-%m-%d %H:%M")
    parts = [
        f"学校：{export.school_name}",
        f"月份：{month_title(export.month)}",
        f"版本：{version}",
        f"类别：{kind}",
    ]
    if export.status:
        parts.append(f"状态：{export.status}")
    parts.append(f"生成时间：{generated}")
    return "　".join(parts)


def filename(export: ReportExport, extension: str) -> str:
    suffix = "-更正版" if export.amendment else ""
    return (
        f"{export.school_name}-{month_title(export.month)}-交流教师考勤汇总表"
        f"-第{export.version}版{suffix}.{extension}"
    )


# --- CSV -----------------------------------------------------------------------------------

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _csv_cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def to_csv(export: ReportExport) -> bytes:
    cols = columns(export)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([c.header for c in cols])
    for row in export.rows:
        writer.writerow([_csv_cell(c.value(row)) for c in cols])
    return out.getvalue().encode("utf-8-sig")


# --- XLSX ----------------------------------------------------------------------------------

_thin = Side(style="thin", color="000000")
_BORDER = Border(left=_thin, right=_thin, top=_thin, bottom=_thin)
_HEADER_FILL = PatternFill("solid", fgColor="E7E6E6")
_CENTER = Alignment(horizontal="center", vertical="center", wrap_text=True)
_LEFT = Alignment(horizontal="left", vertical="center", wrap_text=True)


def _put(ws: Worksheet, row: int, column: int, value: Any, **style: Any) -> None:
    """A plain value: text is stored as text even if it looks like a formula or an error."""
    cell = ws.cell(row=row, column=column)
    if isinstance(value, str):
        cell.value = ILLEGAL_CHARACTERS_RE.sub("", value)
        cell.data_type = "s"
    else:
        cell.value = value
    cell.font = style.pop("font", Font(name=FONT_NAME, size=11))
    for name, setting in style.items():
        setattr(cell, name, setting)


def _merged(ws: Worksheet, row: int, first: int, last: int, value: str, **style: Any) -> None:
    _put(ws, row, first, value, **style)
    if last > first:
        ws.merge_cells(start_row=row, start_column=first, end_row=row, end_column=last)


def _report_sheet(ws: Worksheet, export: ReportExport) -> None:
    cols = columns(export)
    width = len(cols)
    ws.title = "考勤汇总表"
    _merged(
        ws,
        TITLE_ROW,
        1,
        width,
        title(export),
        font=Font(name=FONT_NAME, size=16, bold=True),
        alignment=_CENTER,
    )
    ws.row_dimensions[TITLE_ROW].height = 30
    _merged(ws, INFO_ROW, 1, width, info_line(export), alignment=_LEFT)
    ws.row_dimensions[INFO_ROW].height = 20
    for index, col in enumerate(cols, start=1):
        _put(
            ws,
            HEADER_ROW,
            index,
            col.header,
            font=Font(name=FONT_NAME, size=11, bold=True),
            alignment=_CENTER,
            border=_BORDER,
            fill=_HEADER_FILL,
        )
        ws.column_dimensions[get_column_letter(index)].width = col.width
    ws.row_dimensions[HEADER_ROW].height = 32
    row_no = FIRST_DATA_ROW
    for row in export.rows:
        for index, col in enumerate(cols, start=1):
            value = col.value(row)
            _put(
                ws,
                row_no,
                index,
                value,
                alignment=_LEFT if isinstance(value, str) and index <= 3 else _CENTER,
                border=_BORDER,
            )
        row_no += 1
    row_no += 1
    _merged(ws, row_no, 1, width, NOTE, font=Font(name=FONT_NAME, size=10), alignment=_LEFT)
    row_no += 2
    half = max(1, width // 2)
    for left, right in SIGNATURE_LINES:
        _merged(ws, row_no, 1, half, left, alignment=_LEFT)
        _merged(ws, row_no, half + 1, width, right, alignment=_LEFT)
        ws.row_dimensions[row_no].height = 30
        row_no += 1

    ws.freeze_panes = ws.cell(row=FIRST_DATA_ROW, column=3)  # header and who stay in view
    ws.print_title_rows = f"{HEADER_ROW}:{HEADER_ROW}"
    _print_setup(ws)


def _print_setup(ws: Worksheet) -> None:
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0  # as many pages down as the teachers need
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_options.horizontalCentered = True
    ws.page_margins.left = ws.page_margins.right = 0.4
    ws.page_margins.top = ws.page_margins.bottom = 0.6


def describe(name: str, value: Any) -> str:
    """A row field's value as the 更正明细 sheet shows it."""
    if value is None:
        return ""
    if name == "leave_days" and isinstance(value, dict):
        return "，".join(f"{LEAVE_NAMES.get(k, k)} {number(v)}" for k, v in value.items()) or "无"
    if name == "assessment" and isinstance(value, dict):
        return grade_name(value)
    if name == "spot_checks" and isinstance(value, dict):
        return "，".join(f"{SPOT_CHECK_NAMES.get(k, k)} {v}" for k, v in value.items())
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, int | float):
        return str(number(value))
    return str(value)


def diff_lines(export: ReportExport) -> list[tuple[str, str, str, str, str, str]]:
    """(工号, 姓名, 变更, 项目, 更正前, 更正后) per changed field; one line per added or
    removed teacher."""
    staff = {r.get("teacher_id"): r.get("staff_no", "") for r in export.rows}
    lines = []
    for change in export.diff:
        fields: dict[str, dict[str, Any]] = change.get("fields", {})
        # A removed teacher is in the previous rows only: their number is the "before".
        staff_no = staff.get(change["teacher_id"]) or str(
            fields.get("staff_no", {}).get("before") or ""
        )
        kind = CHANGE_NAMES.get(change["change"], change["change"])
        name = change.get("teacher_name", "")
        if change["change"] != "changed":
            lines.append((staff_no, name, kind, "", "", ""))
            continue
        for key, values in fields.items():
            if key in HIDDEN_DIFF_FIELDS:
                continue
            lines.append(
                (
                    staff_no,
                    name,
                    kind,
                    FIELD_NAMES.get(key, key),
                    describe(key, values.get("before")),
                    describe(key, values.get("after")),
                )
            )
    return lines


def _diff_sheet(ws: Worksheet, export: ReportExport) -> None:
    ws.title = DIFF_SHEET
    width = len(DIFF_HEADERS)
    heading = f"{title(export)} 更正明细（相对第{export.version - 1}版）"
    _merged(
        ws, 1, 1, width, heading, font=Font(name=FONT_NAME, size=14, bold=True), alignment=_CENTER
    )
    ws.row_dimensions[1].height = 26
    for index, (header, col_width) in enumerate(
        zip(DIFF_HEADERS, (12, 10, 8, 16, 28, 28), strict=True), 1
    ):
        _put(
            ws,
            2,
            index,
            header,
            font=Font(name=FONT_NAME, size=11, bold=True),
            alignment=_CENTER,
            border=_BORDER,
            fill=_HEADER_FILL,
        )
        ws.column_dimensions[get_column_letter(index)].width = col_width
    for row_no, line in enumerate(diff_lines(export), start=3):
        for index, value in enumerate(line, start=1):
            _put(ws, row_no, index, value, alignment=_LEFT, border=_BORDER)
    ws.freeze_panes = "A3"
    ws.print_title_rows = "2:2"
    _print_setup(ws)


def to_xlsx(export: ReportExport) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    _report_sheet(sheet, export)
    if export.amendment:
        _diff_sheet(workbook.create_sheet(), export)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()

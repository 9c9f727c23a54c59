"""A community's scorecard as the bureau files it: an XLSX 考核评分表.

One sheet: a merged title (community and school year), a line naming the rubric, a header
row, one row per criterion (area, content, period, requirement, found, deduction, bonus,
the criterion's change to the area, the reason), a 小计 row after each area and a 合计 row.
Plain values only — no formulas — so Excel and WPS show the same thing; text is written
as text, never read as a formula, whatever it starts with.
"""

from __future__ import annotations

import io
from typing import Any

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from backend.scoring.rubric import CriterionResult
from backend.scoring.scorecards import CommunityScorecard

FONT_NAME = "宋体"
HEADERS = (
    ("考核项目", 14),
    ("考核内容", 44),
    ("计算周期", 10),
    ("要求", 10),
    ("实际", 8),
    ("扣分", 8),
    ("加分", 8),
    ("得分", 8),
    ("说明", 48),
)
TITLE_ROW, INFO_ROW, HEADER_ROW, FIRST_ROW = 1, 2, 3, 4
PER_NAMES = {"year": "全年", "term": "每学期"}
_THIN = Side(style="thin")
_BORDER = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
_HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
_SUBTOTAL_FILL = PatternFill("solid", fgColor="F2F2F2")
_WRAP = Alignment(wrap_text=True, vertical="center")
_CENTER = Alignment(horizontal="center", vertical="center", wrap_text=True)


def number(value: float | None) -> int | float | None:
    """2.0 as 2 (what an office expects to read), 0.5 as 0.5."""
    if value is None:
        return None
    return int(value) if float(value).is_integer() else round(value, 2)


def title(card: CommunityScorecard) -> str:
    year = card.school_year
    return f"{card.community_name} {year}—{year + 1}学年 一体化办学工作考核评分表"


def rubric_line(card: CommunityScorecard) -> str:
    version = "默认（003 附件2）" if card.default_rubric else f"第{card.rubric_version}版"
    return f"考核细则：{card.rubric_name}（{version}）；满分{number(card.max_total)}分"


def requirement(criterion: CriterionResult) -> str:
    if criterion.rule == "manual":
        return f"0–{number(criterion.max_points)}分"
    if criterion.minimum is None:
        return ""
    return f"≥{number(criterion.minimum)}"


def _put(ws: Worksheet, row: int, column: int, value: Any, **style: Any) -> None:
    cell = ws.cell(row=row, column=column)
    if isinstance(value, str):
        cell.value = ILLEGAL_CHARACTERS_RE.sub("", value)
        cell.data_type = "s"  # text stays text, even "=…"
    else:
        cell.value = value
    cell.font = style.pop("font", Font(name=FONT_NAME, size=11))
    cell.border = style.pop("border", _BORDER)
    cell.alignment = style.pop("alignment", _WRAP)
    for name, setting in style.items():
        setattr(cell, name, setting)


def _merged(ws: Worksheet, row: int, value: str, **style: Any) -> None:
    _put(ws, row, 1, value, border=Border(), **style)
    ws.merge_cells(start_row=row, start_column=1, end_row=row, end_column=len(HEADERS))


def to_xlsx(card: CommunityScorecard) -> bytes:
    workbook = Workbook()
    ws = workbook.active
    assert ws is not None
    ws.title = "考核评分表"
    _merged(
        ws, TITLE_ROW, title(card), font=Font(name=FONT_NAME, size=16, bold=True), alignment=_CENTER
    )
    ws.row_dimensions[TITLE_ROW].height = 30
    _merged(ws, INFO_ROW, rubric_line(card))
    bold = Font(name=FONT_NAME, size=11, bold=True)
    for column, (header, width) in enumerate(HEADERS, start=1):
        _put(ws, HEADER_ROW, column, header, font=bold, alignment=_CENTER, fill=_HEADER_FILL)
        ws.column_dimensions[get_column_letter(column)].width = width
    row = FIRST_ROW
    for area in card.areas:
        for criterion in area.criteria:
            values = (
                f"{area.name}（{number(area.points)}分）",
                criterion.name,
                PER_NAMES.get(criterion.per, criterion.per),
                requirement(criterion),
                criterion.found,
                number(criterion.deduction),
                number(criterion.bonus),
                number(criterion.net),
                criterion.note,
            )
            for column, value in enumerate(values, start=1):
                _put(ws, row, column, value)
            row += 1
        note = "未开展，本项目不得分" if area.zeroed else f"最低{number(area.floor)}分"
        subtotal = (
            f"{area.name}（{number(area.points)}分）",
            "小计",
            "",
            "",
            "",
            number(area.deduction),
            number(area.bonus),
            number(area.subtotal),
            note,
        )
        for column, value in enumerate(subtotal, start=1):
            _put(ws, row, column, value, font=bold, fill=_SUBTOTAL_FILL)
        row += 1
    total = ("合计", f"满分{number(card.max_total)}分", "", "", "", "", "", number(card.total), "")
    for column, value in enumerate(total, start=1):
        _put(ws, row, column, value, font=bold, fill=_SUBTOTAL_FILL)
    ws.freeze_panes = ws.cell(row=FIRST_ROW, column=1)
    ws.print_title_rows = f"{HEADER_ROW}:{HEADER_ROW}"
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def filename(card: CommunityScorecard) -> str:
    return f"{card.community_name}-{card.school_year}学年考核评分表.xlsx"

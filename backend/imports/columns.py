"""The columns of each import file: accepted headers (English or Chinese) and cell parsing.

A column is named by its field in the import report (the API's field name, or
``*_code``/``staff_no`` where the file refers to another row by its code). Parsing turns
what Excel or a CSV holds into what the domain schemas load — labels such as 小学 become
``primary``, 2026年9月1日 becomes ``2026-09-01`` — and leaves judging values to those
schemas, so the rules live in one place. A value no parser recognises is passed on as
text for the schema to reject with its own message.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from openpyxl.utils.datetime import from_excel

from backend.errors import DomainError
from backend.imports.tabular import Cell

# Returned by a parser for an empty cell: the field is left out so the schema's default
# (or its "missing data" error) applies, exactly as for a JSON body without it.
MISSING: Any = object()


class ImportKind(StrEnum):
    SCHOOLS = "schools"
    TEACHERS = "teachers"
    SECONDMENTS = "secondments"


class CellError(ValueError):
    """A cell this parser can say precisely what is wrong with."""


class HeaderError(DomainError):
    status = 422
    code = "invalid_headers"


Parser = Callable[[Cell], Any]


@dataclass(frozen=True)
class Column:
    name: str
    headers: tuple[str, ...]  # accepted besides ``name`` itself
    parse: Parser
    required: bool = True

    @property
    def label(self) -> str:
        return f"{self.headers[0]}/{self.name}" if self.headers else self.name


# --- header and label keys ---------------------------------------------------------------

_UNIT_SUFFIX = re.compile(r"\([^()]*\)$")  # "围栏半径（米）", "latitude (WGS-84)"
_IGNORED = re.compile(r"[\s_\-*]")  # "Staff No" = "staff_no"; "学校代码*" marks required


def _key(header: str) -> str:
    # NFKC folds full-width letters, brackets and spaces, common in Chinese sheets.
    folded = unicodedata.normalize("NFKC", header).strip().lower()
    return _IGNORED.sub("", _UNIT_SUFFIX.sub("", folded))


# --- cell parsers -------------------------------------------------------------------------


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _number_text(value: float) -> str:
    # Excel stores codes and phone numbers typed as numbers as floats: 6404.0 means "6404".
    return str(int(value)) if value.is_integer() else str(value)


def text(cell: Cell) -> Any:
    if cell is None or isinstance(cell, bool):
        return MISSING if cell is None else str(cell).lower()
    if isinstance(cell, float):
        return _number_text(cell)
    if isinstance(cell, datetime):
        return cell.isoformat(sep=" ")
    value = unicodedata.normalize("NFC", str(cell)).strip()
    if _CONTROL.search(value):
        # PostgreSQL refuses NUL in text, and no list legitimately holds control codes.
        raise CellError("contains control characters")
    return value if value else MISSING


def integer(cell: Cell) -> Any:
    if isinstance(cell, float):
        # A fractional count is passed on as text so the schema rejects it instead of
        # truncating it silently.
        return int(cell) if cell.is_integer() else str(cell)
    if isinstance(cell, str):
        value = text(cell)
        return value if value is MISSING else value.replace(",", "").replace("，", "")
    return MISSING if cell is None else cell


def number(cell: Cell) -> Any:
    if isinstance(cell, int | float) and not isinstance(cell, bool):
        return cell
    return text(cell)


def choice(labels: Mapping[str, str]) -> Parser:
    """A parser for an enumeration: its English values plus the Chinese ``labels``."""
    by_key = {_key(label): value for label, value in labels.items()}
    by_key.update({_key(value): value for value in labels.values()})
    accepted = ", ".join(f"{label} ({value})" for label, value in labels.items())

    def parse(cell: Cell) -> Any:
        value = text(cell)
        if value is MISSING:
            return MISSING
        try:
            return by_key[_key(value)]
        except KeyError:
            raise CellError(f"{value!r} is not one of: {accepted}") from None

    return parse


# 2026-09-01, 2026/9/1, 2026.9.1, 2026年9月1日; a CSV may add a midnight time ("0:00").
_DATE = re.compile(
    r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?:\s+0?0:00(?::00)?)?$"
)
# Excel day serials of 1950–2100: a date cell whose date format was lost on the way.
_SERIALS = range(18_264, 73_051)


def day(cell: Cell) -> Any:
    if isinstance(cell, datetime):
        return cell.date().isoformat()
    if isinstance(cell, date):
        return cell.isoformat()
    if isinstance(cell, int | float) and not isinstance(cell, bool) and int(cell) in _SERIALS:
        serial = from_excel(cell)
        return serial.date().isoformat() if isinstance(serial, datetime) else MISSING
    value = text(cell)
    match = _DATE.match(value) if value is not MISSING else None
    if match is None:
        return value  # the schema explains what a date looks like
    year, month, dom = (int(part) for part in match.groups())
    try:
        return date(year, month, dom).isoformat()
    except ValueError:
        raise CellError(f"{value!r} is not a calendar date") from None


_TRUE = {"是", "有", "y", "yes", "true", "1", "√", "✓"}
_FALSE = {"否", "无", "n", "no", "false", "0", "×"}


def boolean(cell: Cell) -> Any:
    if isinstance(cell, bool):
        return cell
    value = text(cell)
    if value is MISSING:
        return MISSING
    key = _key(value)
    if key in _TRUE or key in _FALSE:
        return key in _TRUE
    return value


_LIST_SEPARATORS = re.compile(r"[、,，/;；]")


def text_list(cell: Cell) -> Any:
    value = text(cell)
    if value is MISSING:
        return MISSING
    return [part.strip() for part in _LIST_SEPARATORS.split(value) if part.strip()]


# --- the files ----------------------------------------------------------------------------

SCHOOL_KINDS = {
    "小学": "primary",
    "初中": "middle",
    "中学": "middle",
    "九年一贯制": "nine_year",
    "教学点": "teaching_site",
}
LOCALITIES = {"城区": "urban", "城镇": "urban", "乡村": "rural", "农村": "rural"}
SECONDMENT_KINDS = {
    "支教": "support_teaching",
    "跟岗": "shadowing",
    "走教": "itinerant",
    "兼课": "part_time",
}
SECONDMENT_ROLES = {"教学": "teaching", "管理": "management"}

COLUMNS: dict[ImportKind, tuple[Column, ...]] = {
    ImportKind.SCHOOLS: (
        Column("code", ("学校代码", "学校编码"), text),
        Column("name", ("学校名称",), text),
        Column("kind", ("学段", "类型", "学校类型"), choice(SCHOOL_KINDS)),
        Column("locality", ("城乡", "城乡类型"), choice(LOCALITIES)),
        Column("student_count", ("学生数", "在校生数", "学生人数"), integer),
        Column("region_code", ("区划代码", "行政区划代码"), text),
        Column("latitude", ("纬度",), number),
        Column("longitude", ("经度",), number),
        Column("geofence_radius_m", ("围栏半径",), integer, required=False),
        Column("note", ("备注",), text, required=False),
    ),
    ImportKind.TEACHERS: (
        Column("staff_no", ("工号",), text),
        Column("name", ("姓名",), text),
        Column("home_school_code", ("原单位代码", "学校代码"), text),
        Column("subjects", ("学科", "任教学科"), text_list, required=False),
        Column("phone", ("电话", "手机", "手机号"), text, required=False),
    ),
    ImportKind.SECONDMENTS: (
        Column("staff_no", ("工号",), text),
        Column("host_school_code", ("接收学校代码",), text),
        Column("kind", ("类型", "交流类型"), choice(SECONDMENT_KINDS)),
        Column("role", ("岗位",), choice(SECONDMENT_ROLES)),
        Column("start_on", ("开始日期",), day),
        Column("end_on", ("结束日期",), day),
        Column("cross_community_exception", ("跨共同体例外",), boolean, required=False),
        Column("exception_reason", ("例外原因",), text, required=False),
    ),
}


# --- headers ------------------------------------------------------------------------------


def match_headers(kind: ImportKind, headers: Sequence[str]) -> list[Column]:
    """The column each header names, in file order; 422 naming unknown or missing headers."""
    by_key = {_key(h): c for c in COLUMNS[kind] for h in (c.name, *c.headers)}
    matched: list[Column] = []
    unknown: list[str] = []
    seen: dict[str, str] = {}
    duplicates: list[str] = []
    for header in headers:
        column = by_key.get(_key(header))
        if column is None:
            unknown.append(header)
            continue
        if column.name in seen:
            duplicates.append(f"{seen[column.name]} and {header} both give {column.name}")
        seen[column.name] = header
        matched.append(column)
    missing = [c.label for c in COLUMNS[kind] if c.required and c.name not in seen]
    problems = {"unknown": unknown, "missing": missing, "duplicate": duplicates}
    if any(problems.values()):
        parts = [f"{name} headers: {', '.join(items)}" for name, items in problems.items() if items]
        accepted = ", ".join(c.label if c.required else f"[{c.label}]" for c in COLUMNS[kind])
        summary = "; ".join(parts)
        raise HeaderError(
            f"{summary[0].upper()}{summary[1:]}. A {kind} file has the columns {accepted}",
            errors={"headers": {name: items for name, items in problems.items() if items}},
        )
    return matched

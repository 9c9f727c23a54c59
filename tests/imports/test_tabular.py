"""Reading .xlsx and .csv uploads: types, encodings, delimiters, row numbers and limits."""

from __future__ import annotations

import io
import zipfile
from datetime import date, datetime

import openpyxl
import pytest

from backend.imports.tabular import FileRejected, Table, UnsupportedFile, read_table
from tests.imports.support import csv_bytes, xlsx

HEADER = ["工号", "姓名", "原单位代码"]


def values(table: Table) -> list[tuple[object, ...]]:
    return [row.values for row in table.rows]


def test_xlsx_keeps_cell_types_and_reads_the_first_sheet_not_the_active_one() -> None:
    workbook = openpyxl.Workbook()
    first = workbook.active
    assert first is not None
    first.append(["staff_no", "start_on", "count"])
    first.append([20260001, date(2026, 9, 1), 12])
    second = workbook.create_sheet("other")
    second.append(["not", "this"])
    workbook.active = 1
    buffer = io.BytesIO()
    workbook.save(buffer)

    table = read_table("名单.xlsx", buffer.getvalue())

    assert table.headers == ("staff_no", "start_on", "count")
    assert values(table) == [(20260001, datetime(2026, 9, 1), 12)]


def test_blank_rows_are_skipped_but_rows_keep_their_spreadsheet_numbers() -> None:
    content = xlsx([[], HEADER, ["T1", "张三", "S1"], [None, None, None], ["T2", "李四", "S1"]])

    table = read_table("t.xlsx", content)

    assert table.headers == tuple(HEADER)
    assert [row.number for row in table.rows] == [3, 5]


def test_short_rows_are_padded_and_trailing_empty_headers_dropped() -> None:
    table = read_table("t.xlsx", xlsx([[*HEADER, None], ["T1"]]))

    assert table.headers == tuple(HEADER)
    assert values(table) == [("T1", None, None)]


def test_a_value_right_of_the_last_header_rejects_the_file() -> None:
    with pytest.raises(FileRejected, match="row 2 has values to the right"):
        read_table("t.csv", csv_bytes([HEADER, ["T1", "张三", "S1", "stray"]]))


def test_a_column_without_a_header_rejects_the_file() -> None:
    with pytest.raises(FileRejected, match="column\\(s\\) B have no header"):
        read_table("t.xlsx", xlsx([["工号", None, "姓名"], ["T1", "x", "张三"]]))


@pytest.mark.parametrize(
    ("encoding", "bom"), [("utf-8", False), ("utf-8", True), ("gbk", False), ("gb18030", False)]
)
def test_csv_in_utf8_with_or_without_bom_and_in_gbk(encoding: str, bom: bool) -> None:
    content = csv_bytes([HEADER, ["T1", "张三", "S1"]], encoding=encoding, bom=bom)

    table = read_table("名单.CSV", content)

    assert table.headers == tuple(HEADER)
    assert values(table) == [("T1", "张三", "S1")]


def test_csv_in_utf16_as_excel_saves_unicode_text() -> None:
    content = "\t".join(HEADER).encode("utf-16") + "\r\nT1\t张三\tS1\r\n".encode("utf-16-le")

    assert values(read_table("t.csv", content)) == [("T1", "张三", "S1")]


@pytest.mark.parametrize("delimiter", [",", "\t", ";"])
def test_csv_delimiter_is_sniffed(delimiter: str) -> None:
    content = csv_bytes([HEADER, ["T1", "张, 三", "S1"]], delimiter=delimiter)

    assert values(read_table("t.csv", content)) == [("T1", "张, 三", "S1")]


def test_csv_empty_cells_are_none_and_quoted_newlines_keep_row_numbers() -> None:
    content = csv_bytes([HEADER, ["T1", "two\nlines", ""], ["T2", "李四", "S1"]])

    table = read_table("t.csv", content)

    assert values(table) == [("T1", "two\nlines", None), ("T2", "李四", "S1")]
    assert [row.number for row in table.rows] == [2, 3]


def test_rows_beyond_the_cap_are_refused_with_the_cap_in_the_message() -> None:
    rows = [HEADER] + [[f"T{i}", "x", "S1"] for i in range(4)]

    assert len(read_table("t.csv", csv_bytes(rows[:4]), max_rows=3).rows) == 3
    with pytest.raises(FileRejected, match="more than 3 data rows"):
        read_table("t.csv", csv_bytes(rows), max_rows=3)


@pytest.mark.parametrize("filename", ["名单.xls", "photo.png", "noext"])
def test_other_formats_are_unsupported(filename: str) -> None:
    with pytest.raises(UnsupportedFile) as caught:
        read_table(filename, b"\x89PNG\r\n\x1a\n binary")
    assert caught.value.status == 415


@pytest.mark.parametrize(
    ("filename", "content"),
    [
        ("t.xlsx", b"not a zip at all"),
        ("t.xlsx", b"PK\x03\x04 truncated zip"),
        ("t.csv", b"\x00\x01\x02binary"),
        ("t.csv", b"\xfe\xff\x00"),  # UTF-16 BOM, then half a character
        ("t.csv", b"code\n\xff\xff\xff"),  # neither UTF-8 nor GB18030
        ("t.csv", b""),
        ("t.xlsx", xlsx([])),  # a workbook with nothing in it
    ],
)
def test_unreadable_files_are_rejected_not_crashed(filename: str, content: bytes) -> None:
    with pytest.raises(FileRejected) as caught:
        read_table(filename, content)
    assert caught.value.status == 422


def test_a_zip_that_is_not_a_workbook_is_rejected() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("hello.txt", "hi")

    with pytest.raises(FileRejected, match=r"could not be read as an \.xlsx"):
        read_table("t.xlsx", buffer.getvalue())

"""Reading an uploaded spreadsheet (.xlsx or .csv) into a header row and data rows.

This module knows file formats only, nothing of the domain: it returns the cell values as
the file holds them (Excel cells keep their types; CSV cells are strings) with the row
numbers a person sees in Excel, so a report can say "row 7". Anything it cannot read is a
:class:`FileRejected` (422) or, for a format it does not take, :class:`UnsupportedFile` (415);
a broken upload never becomes a 500.
"""

from __future__ import annotations

import codecs
import csv
import io
import zipfile
from collections.abc import Generator, Iterable, Sequence
from contextlib import closing
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import PurePath

import openpyxl
from openpyxl.utils import get_column_letter

from backend.errors import DomainError

MAX_ROWS = 5_000
# Formatted-but-empty rows also cost time to scan; past this many rows in all we stop.
_MAX_SCANNED_ROWS = 2 * MAX_ROWS
_CSV_DELIMITERS = (",", "\t", ";")

Cell = str | int | float | bool | date | datetime | time | timedelta | None


class FileRejected(DomainError):
    """The upload is not a spreadsheet this service can read, or its layout is wrong."""

    status = 422
    code = "invalid_file"


class UnsupportedFile(DomainError):
    status = 415
    code = "unsupported_media_type"


@dataclass(frozen=True)
class Row:
    number: int  # the spreadsheet row number, counting the header row as 1
    values: tuple[Cell, ...]  # one per header, in header order


@dataclass(frozen=True)
class Table:
    headers: tuple[str, ...]
    rows: tuple[Row, ...]  # blank rows are left out; numbers keep their place


def read_table(filename: str, content: bytes, *, max_rows: int = MAX_ROWS) -> Table:
    """The first sheet of an .xlsx, or a .csv, as a :class:`Table`."""
    suffix = PurePath(filename).suffix.lower()
    is_zip = content.startswith(b"PK\x03\x04")
    if suffix in {".xlsx", ".xlsm"} or (not suffix and is_zip):
        if not is_zip:
            raise FileRejected(f"{filename or 'the file'} is not a valid .xlsx workbook")
        source = _xlsx_rows(content)
    elif suffix == ".csv":
        source = _csv_rows(content)
    elif suffix in {".xls", ".et", ".ods"}:
        raise UnsupportedFile(f"{suffix} files are not read; save the sheet as .xlsx or .csv")
    else:
        raise UnsupportedFile("upload an .xlsx workbook or a .csv file")
    # Closing the reader at once releases the workbook even when the table is rejected.
    with closing(source):
        return _table(source, max_rows)


# --- xlsx ---------------------------------------------------------------------------------


def _xlsx_rows(content: bytes) -> Generator[Sequence[Cell], None, None]:
    try:
        workbook = openpyxl.load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception as exc:
        # openpyxl reports a damaged workbook with many exception types (zip, XML, KeyError
        # for a missing part...); to the uploader they all mean the same thing.
        raise FileRejected("the file could not be read as an .xlsx workbook") from exc
    try:
        if not workbook.worksheets:
            raise FileRejected("the workbook has no worksheet")
        sheet = workbook.worksheets[0]
        # Read-only mode trusts the sheet's stored dimensions, which some writers get wrong
        # (e.g. "A1"): rows past them would silently vanish. Scan what is really there.
        sheet.reset_dimensions()
        yield from sheet.iter_rows(values_only=True)
    except DomainError:
        raise
    except (zipfile.BadZipFile, KeyError, ValueError, TypeError, SyntaxError, OSError) as exc:
        # Sheets are parsed lazily, so a damaged sheet part only fails here (XML errors
        # are SyntaxError subclasses).
        raise FileRejected("the first worksheet could not be read") from exc
    finally:
        workbook.close()


# --- csv ----------------------------------------------------------------------------------


def _decode(content: bytes) -> str:
    """UTF-8 (with or without BOM), UTF-16 with BOM, else GB18030 (Chinese Excel's "CSV")."""
    if content.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16"
    elif b"\x00" in content or content.startswith(b"PK\x03\x04"):
        raise FileRejected("the file is binary, not CSV text; upload .xlsx or .csv")
    else:
        try:
            return content.decode("utf-8-sig")
        except UnicodeDecodeError:
            encoding = "gb18030"
    try:
        return content.decode(encoding)
    except UnicodeDecodeError as exc:
        raise FileRejected("the CSV is not UTF-8, UTF-16 or GB18030/GBK text") from exc


def _delimiter(first_line: str) -> str:
    # Counting on the header line is predictable where csv.Sniffer guesses from quotes.
    counts = {d: first_line.count(d) for d in _CSV_DELIMITERS}
    best = max(_CSV_DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


def _csv_rows(content: bytes) -> Generator[Sequence[Cell], None, None]:
    text = _decode(content)
    reader = csv.reader(
        io.StringIO(text, newline=""), delimiter=_delimiter(text.partition("\n")[0])
    )
    try:
        for record in reader:
            yield [value if value.strip() else None for value in record]
    except csv.Error as exc:
        raise FileRejected(f"the CSV could not be parsed near line {reader.line_num}") from exc


# --- shared -------------------------------------------------------------------------------


def _is_blank(value: Cell) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _header_text(value: Cell) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return "" if value is None else str(value).strip()


def _table(source: Iterable[Sequence[Cell]], max_rows: int) -> Table:
    """Headers from the first non-blank row; each later non-blank row, numbered as in Excel."""
    headers: list[str] | None = None
    rows: list[Row] = []
    for number, raw in enumerate(source, start=1):
        if number > _MAX_SCANNED_ROWS:
            raise FileRejected(
                f"the sheet has more than {_MAX_SCANNED_ROWS:,} rows (blank rows included);"
                " delete the empty rows at its end or split it"
            )
        if all(_is_blank(v) for v in raw):
            continue
        if headers is None:
            headers = [_header_text(v) for v in raw]
            while headers and not headers[-1]:
                headers.pop()
            _check_headers_named(headers)
            continue
        if len(rows) == max_rows:
            raise FileRejected(
                f"the sheet has more than {max_rows:,} data rows; split it into several files"
            )
        extra = raw[len(headers) :]
        if any(not _is_blank(v) for v in extra):
            raise FileRejected(f"row {number} has values to the right of the last header")
        values = tuple(raw[: len(headers)]) + (None,) * (len(headers) - len(raw))
        rows.append(Row(number, values))
    if headers is None:
        raise FileRejected("the file is empty; the first row must hold the column headers")
    return Table(tuple(headers), tuple(rows))


def _check_headers_named(headers: list[str]) -> None:
    unnamed = [get_column_letter(i) for i, h in enumerate(headers, start=1) if not h]
    if unnamed:
        raise FileRejected(f"column(s) {', '.join(unnamed)} have no header in the first row")

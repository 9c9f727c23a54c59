"""Test support: upload files built in memory, posting them, and the world's codes.

A request that fails rolls the shared session back, which expires the world's objects;
tests therefore read codes and ids from :class:`Codes`, never from the world after a call.
"""

from __future__ import annotations

import csv
import io
import uuid
from dataclasses import dataclass
from typing import Any

import openpyxl
import sqlalchemy as sa
from flask.testing import FlaskClient
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from backend.db import Base


@dataclass(frozen=True)
class Codes:
    county_a: str
    county_b: str
    core_a: str
    member_a: str
    other_a: str
    core_b: str
    teacher_a: str  # home core_a, seconded to member_a 2026-09-01 – 2027-07-15
    teacher_a2: str  # home core_a, not seconded
    teacher_b: str
    core_a_id: uuid.UUID
    community_a_id: uuid.UUID
    headers: dict[str, dict[str, str]]


def count(session: Session, model: type[Base]) -> int:
    return session.scalar(sa.select(sa.func.count()).select_from(model)) or 0


def xlsx(rows: list[list[Any]], *, sheet_title: str = "名单") -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = sheet_title
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def csv_bytes(
    rows: list[list[Any]], *, encoding: str = "utf-8", delimiter: str = ",", bom: bool = False
) -> bytes:
    buffer = io.StringIO(newline="")
    csv.writer(buffer, delimiter=delimiter).writerows(rows)
    data = buffer.getvalue().encode(encoding)
    return b"\xef\xbb\xbf" + data if bom else data


def upload(
    client: FlaskClient,
    kind: str,
    content: bytes,
    filename: str,
    headers: dict[str, str],
    *,
    dry_run: bool = False,
) -> TestResponse:
    return client.post(
        f"/api/v1/imports/{kind}" + ("?dry_run=true" if dry_run else ""),
        data={"file": (io.BytesIO(content), filename)},
        content_type="multipart/form-data",
        headers=headers,
    )


def errors_by_row(body: dict[str, Any]) -> dict[int, list[dict[str, Any]]]:
    grouped: dict[int, list[dict[str, Any]]] = {}
    for error in body["report"]["errors"]:
        grouped.setdefault(error["row"], []).append(error)
    return grouped

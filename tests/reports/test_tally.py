"""The tally's storage and statement settings: rows are stored as the very text that was
hashed, and the planner settings of the month's statement do not outlive it."""

from __future__ import annotations

import hashlib
import json

import sqlalchemy as sa
from sqlalchemy.orm import Session

from backend.db import SerializedList, canonical_json, planner_settings, stored_json
from backend.reports import services
from backend.reports.models import HostMonthReport
from tests.factories import World
from tests.reports.test_flow import LAST_MONTH


def test_canonical_json_sorts_keys_keeps_chinese_and_a_serialized_list_is_written_as_is() -> None:
    value = [{"b": 1, "a": "张老师", "c": 0.5}]
    assert canonical_json(value) == '[{"a":"张老师","b":1,"c":0.5}]'
    serialized = SerializedList(value)
    assert serialized == value and serialized.text == canonical_json(value)
    assert stored_json(serialized) is serialized.text
    assert stored_json(value) == '[{"b":1,"a":"张老师","c":0.5}]'  # other values keep their order


def test_a_report_stores_the_text_its_hash_was_computed_from(
    session: Session, world: World
) -> None:
    report = services.tally_host_month(session, world.member_a.id, LAST_MONTH, "month end")
    assert report is not None and report.rows
    stored = session.scalar(
        sa.select(sa.cast(HostMonthReport.rows, sa.Text)).where(HostMonthReport.id == report.id)
    )
    assert isinstance(stored, str)
    assert stored == canonical_json(json.loads(stored))
    assert hashlib.sha256(stored.encode()).hexdigest() == report.content_hash


def test_planner_settings_apply_inside_the_block_only(session: Session, is_postgres: bool) -> None:
    def work_mem() -> str | None:
        if not is_postgres:
            return None
        return str(session.scalar(sa.text("SELECT current_setting('work_mem')")))

    before = work_mem()
    with planner_settings(session, work_mem="77MB"):
        assert work_mem() == ("77MB" if is_postgres else None)
    assert work_mem() == before

"""The world to import into, seen through the codes a spreadsheet would use."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from tests import factories
from tests.imports.support import Codes


@pytest.fixture
def codes(app: Flask, session: Session) -> Codes:
    w = factories.world(session, app)
    return Codes(
        county_a=w.county_a.code,
        county_b=w.county_b.code,
        core_a=w.core_a.code,
        member_a=w.member_a.code,
        other_a=w.other_a.code,
        core_b=w.core_b.code,
        teacher_a=w.teacher_a.staff_no,
        teacher_a2=w.teacher_a2.staff_no,
        teacher_b=w.teacher_b.staff_no,
        core_a_id=w.core_a.id,
        community_a_id=w.community_a.id,
        headers=w.headers,
    )

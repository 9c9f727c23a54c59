"""``standard_photos_received``: the standard forms' photos (``support.STANDARD_PHOTOS``)
have arrived for the people who file them, as from a phone that uploaded them, so a form
naming them is complete (the API tests; the sync tests upload their photos themselves)."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from tests.classes.support import STANDARD_PHOTOS, received
from tests.factories import World


@pytest.fixture
def standard_photos_received(session: Session, world: World) -> None:
    for persona in ("teacher_a", "school_admin_a", "host_admin_a"):
        received(session, world.users[persona].id, *STANDARD_PHOTOS)
    session.commit()

"""Every mapped model, imported once so that metadata (and Alembic) sees the whole schema."""

from backend.attendance.calendar_models import (
    PublishedDay,
    PublishedYear,
    SchoolCalendarPeriod,
    SchoolDayException,
)
from backend.attendance.models import CheckIn
from backend.auth.models import Device, RefreshToken, User
from backend.db import Base, SyncClock
from backend.exchange.models import Secondment, SecondmentExtension, Teacher
from backend.jobs import OutboxJob
from backend.org.models import (
    Community,
    CommunityMembership,
    FencePoint,
    MembershipChange,
    Region,
    School,
)
from media.models import Photo, Upload

__all__ = [
    "Base",
    "CheckIn",
    "Community",
    "CommunityMembership",
    "Device",
    "FencePoint",
    "MembershipChange",
    "OutboxJob",
    "Photo",
    "PublishedDay",
    "PublishedYear",
    "RefreshToken",
    "Region",
    "School",
    "SchoolCalendarPeriod",
    "SchoolDayException",
    "Secondment",
    "SecondmentExtension",
    "SyncClock",
    "Teacher",
    "Upload",
    "User",
]

"""Every mapped model, imported once so that metadata (and Alembic) sees the whole schema."""

from backend.auth.models import Device, RefreshToken, User
from backend.db import Base
from backend.exchange.models import Secondment, SecondmentExtension, Teacher
from backend.org.models import (
    Community,
    CommunityMembership,
    FencePoint,
    MembershipChange,
    Region,
    School,
)

__all__ = [
    "Base",
    "Community",
    "CommunityMembership",
    "Device",
    "FencePoint",
    "MembershipChange",
    "RefreshToken",
    "Region",
    "School",
    "Secondment",
    "SecondmentExtension",
    "Teacher",
    "User",
]

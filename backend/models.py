"""Every mapped model, imported once so that metadata (and Alembic) sees the whole schema."""

from backend.attendance.calendar_models import (
    PublishedDay,
    PublishedYear,
    SchoolCalendarPeriod,
    SchoolDayException,
)
from backend.attendance.day_models import MonthlyAssessment, TeacherDay, TeacherDayChange
from backend.attendance.models import CheckIn, FlagReview
from backend.attendance.request_models import LeaveRequest, PunchCorrection
from backend.attendance.rule_models import AttendanceRule
from backend.audit.models import AuditEvent, AuditHead
from backend.auth.models import Device, RefreshToken, User
from backend.classes.models import ClassSession, TimetableEntry
from backend.db import Base, SyncClock
from backend.exchange.models import Secondment, SecondmentExtension, Teacher
from backend.inspection.models import (
    InspectionPlan,
    InspectorConflict,
    SpotCheck,
    SpotCheckFinding,
    SpotCheckInspector,
    SpotCheckTeacher,
    SpotCheckVisit,
)
from backend.jobs import OutboxJob
from backend.org.models import (
    Community,
    CommunityMembership,
    FencePoint,
    MembershipChange,
    Region,
    School,
)
from backend.reports.models import (
    HomeMonthReport,
    HostMonthReport,
    ReportDelivery,
    ReportRun,
)
from backend.reports.webhooks import ReportWebhook
from backend.review import ReviewEvent
from backend.scoring.models import EvidenceItem, ManualScore, Rubric
from media.models import Photo, Upload

__all__ = [
    "AttendanceRule",
    "AuditEvent",
    "AuditHead",
    "Base",
    "CheckIn",
    "ClassSession",
    "Community",
    "CommunityMembership",
    "Device",
    "EvidenceItem",
    "FencePoint",
    "FlagReview",
    "HomeMonthReport",
    "HostMonthReport",
    "InspectionPlan",
    "InspectorConflict",
    "LeaveRequest",
    "ManualScore",
    "MembershipChange",
    "MonthlyAssessment",
    "OutboxJob",
    "Photo",
    "PublishedDay",
    "PublishedYear",
    "PunchCorrection",
    "RefreshToken",
    "Region",
    "ReportDelivery",
    "ReportRun",
    "ReportWebhook",
    "ReviewEvent",
    "Rubric",
    "School",
    "SchoolCalendarPeriod",
    "SchoolDayException",
    "Secondment",
    "SecondmentExtension",
    "SpotCheck",
    "SpotCheckFinding",
    "SpotCheckInspector",
    "SpotCheckTeacher",
    "SpotCheckVisit",
    "SyncClock",
    "Teacher",
    "TeacherDay",
    "TeacherDayChange",
    "TimetableEntry",
    "Upload",
    "User",
]

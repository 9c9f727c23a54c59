"""The monthly roll-up at province scale on PostgreSQL, against one hand-written SQL query.

    python bench/rollup.py --quick       # 2,000 teachers, 100 host schools: under a minute
    python bench/rollup.py               # 50,000 teachers, 2,500 host schools, 22 workdays

One run (details in bench/README.md):

1. creates the database ``--db`` (``ucomm_bench_rollup``; dropped first if it exists, and
   dropped at the end unless ``--keep``) and migrates it with the real migrations;
2. generates a month with ``INSERT … SELECT generate_series`` inside PostgreSQL: regions,
   host and home schools, teachers with a secondment covering the month, two check-ins
   per teacher and workday (none on the 1.5 % of days drawn absent or on leave, one on
   the 1 % without a check-out), the teacher days the daybook would have stored from
   them, approved leave and punch corrections, monthly assessments; then VACUUM ANALYZE;
3. checks a sample of teachers: their stored days must equal ``daybook.derive_days``;
4. times the baseline: one SQL statement aggregating all the month's check-ins per
   teacher (days with an in, days with an out, late days), fetched;
5. times the real roll-up: ``reports.services.tally_month`` over every host school in batches,
   one unit of work per batch, as the month-end job does; then again (nothing new expected);

then prints the times, their ratio, peak RSS and where the roll-up's time went.
It is a benchmark, not a test: it prints figures and exits 0 unless something broke.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import multiprocessing
import os
import pstats
import resource
import secrets
import shutil
import signal
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from common import create_database, drop_database, git_revision, log, percentile, with_database

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
TZ = "Asia/Shanghai"
TARGET_RATIO = 2.0
TARGET_RSS_MB = 500.0
# The day's cases, drawn per (teacher, workday) from r in 0..9999 (see PLAN_SQL).
CASES = (
    ("absent", 50),  # no punch at all
    ("leave", 150),  # approved leave, all day: sick, personal or training (official duty)
    ("am_leave", 200),  # approved personal leave in the morning, punches in the afternoon
    ("no_out_corrected", 233),  # no check-out; an approved punch correction (补卡) at 17:30
    ("no_out", 300),  # no check-out: half day
    ("late", 800),  # in 08:11–08:50
    ("early", 950),  # out 16:00–17:18
    ("late_early", 1000),
)


# --- arguments -----------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--teachers", type=int, default=50_000, help="seconded teachers (50000)")
    p.add_argument("--schools", type=int, default=2_500, help="host schools (2500)")
    p.add_argument(
        "--home-schools", type=int, default=None, help="home schools (default: --schools / 5)"
    )
    p.add_argument(
        "--workdays",
        type=int,
        default=22,
        help="pick the latest complete month with this many workdays (22)",
    )
    p.add_argument("--month", help="YYYY-MM instead (its calendar decides the workdays)")
    p.add_argument("--db", default="ucomm_bench_rollup", help="scratch database name")
    p.add_argument(
        "--pg",
        default=os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres"),
        help="admin URL of the PostgreSQL server (its database is only used to create/drop)",
    )
    p.add_argument("--baseline-repeats", type=int, default=3, help="baseline runs (median, 3)")
    p.add_argument(
        "--sample", type=int, default=24, help="teachers checked against derive_days (24)"
    )
    p.add_argument("--keep", action="store_true", help="keep the database at the end")
    p.add_argument(
        "--profile",
        type=int,
        metavar="N",
        default=0,
        help="after the timed runs, roll up again under cProfile and print the top N",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=2,
        help="worker processes for the month end's batch jobs, as RQ workers take them (2)",
    )
    p.add_argument("--quick", action="store_true", help="2,000 teachers, 100 host schools")
    args = p.parse_args(argv)
    if args.quick:
        args.teachers = min(args.teachers, 2_000)
        args.schools = min(args.schools, 100)
    if args.home_schools is None:
        args.home_schools = max(1, args.schools // 5)
    return args


def pick_month(args: argparse.Namespace) -> date:
    import chinese_calendar

    from backend.clock import today

    if args.month:
        year, month = (int(x) for x in args.month.split("-"))
        first = date(year, month, 1)
        if (first + timedelta(days=32)).replace(day=1) > today():
            raise SystemExit(f"{args.month} is not over yet: its days are not all stored")
        return first
    first = (today().replace(day=1) - timedelta(days=1)).replace(day=1)
    for _ in range(36):
        last = (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
        try:
            count = sum(1 for day in days_between(first, last) if chinese_calendar.is_workday(day))
        except NotImplementedError:
            count = -1
        if count == args.workdays:
            return first
        first = (first - timedelta(days=1)).replace(day=1)
    raise SystemExit(f"no month with {args.workdays} workdays in the last 3 years")


def days_between(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


# --- PostgreSQL scratch database -----------------------------------------------------------


def make_app(database_url: str, instance: Path) -> Any:
    from backend.app import create_app
    from backend.config import Settings

    settings = Settings.from_env(
        {
            "INSTANCE_PATH": str(instance),
            "DATABASE_URL": database_url,
            "SECRET_KEY": secrets.token_urlsafe(48),
        }
    )
    return create_app(settings)


# --- data generation -----------------------------------------------------------------------

ORG_SQL = [
    # A province, 10 cities, 100 counties; schools sit in the counties.
    """INSERT INTO regions (id, code, name, level, parent_id, path, created_at, updated_at)
    SELECT md5('region-p')::uuid, '99', '基准省', 'province', NULL, '/99/', now(), now()
    UNION ALL
    SELECT md5('region-c' || c)::uuid, '99' || lpad(c::text, 2, '0'), '基准市' || c, 'city',
           md5('region-p')::uuid, '/99/99' || lpad(c::text, 2, '0') || '/', now(), now()
    FROM generate_series(0, 9) c
    UNION ALL
    SELECT md5('region-k' || k)::uuid,
           '99' || lpad((k / 10)::text, 2, '0') || lpad((k %% 10)::text, 2, '0'),
           '基准县' || k, 'county', md5('region-c' || (k / 10))::uuid,
           '/99/99' || lpad((k / 10)::text, 2, '0') || '/99' || lpad((k / 10)::text, 2, '0')
           || lpad((k %% 10)::text, 2, '0') || '/', now(), now()
    FROM generate_series(0, 99) k""",
    """INSERT INTO schools (id, code, name, kind, locality, student_count, region_id, latitude,
        longitude, geofence_radius_m, note, server_serial, deleted_at, created_at, updated_at)
    SELECT md5('host-' || i)::uuid, 'H' || lpad(i::text, 6, '0'), '乡村学校' || i, 'primary',
           'rural', 120 + i %% 300, md5('region-k' || (i %% 100))::uuid,
           35.0 + (i %% 1000) * 0.001, 105.0 + (i / 1000) * 0.01, 300, '', 0, NULL::timestamptz,
           now(), now()
    FROM generate_series(0, %(schools)s - 1) i
    UNION ALL
    SELECT md5('home-' || i)::uuid, 'U' || lpad(i::text, 6, '0'), '城区学校' || i, 'middle',
           'urban', 1500 + i %% 900, md5('region-k' || (i %% 100))::uuid,
           36.0 + (i %% 1000) * 0.001, 106.0 + (i / 1000) * 0.01, 300, '', 0, NULL, now(), now()
    FROM generate_series(0, %(homes)s - 1) i""",
    """INSERT INTO teachers (id, staff_no, name, home_school_id, subjects, phone, created_at,
        updated_at)
    SELECT md5('teacher-' || i)::uuid, 'T' || lpad(i::text, 7, '0'), '教师' || i,
           md5('home-' || (i %% %(homes)s))::uuid, '["语文"]', '', now(), now()
    FROM generate_series(0, %(teachers)s - 1) i""",
    # One secondment per teacher over the term; 2 % of them start on the month's 10th.
    """INSERT INTO secondments (id, teacher_id, home_school_id, host_school_id, community_id,
        kind, role, start_on, end_on, original_end_on, extension_count, status,
        cross_community_exception, exception_reason, cancel_reason, server_serial, deleted_at,
        created_at, updated_at)
    SELECT md5('sec-' || i)::uuid, md5('teacher-' || i)::uuid,
           md5('home-' || (i %% %(homes)s))::uuid, md5('host-' || (i %% %(schools)s))::uuid,
           NULL, 'support_teaching', 'teaching',
           CASE WHEN i %% 50 = 7 THEN %(late_start)s::date ELSE %(term_start)s::date END,
           %(term_end)s::date, %(term_end)s::date, 0, 'active', true, 'bench', '', 0, NULL,
           now(), now()
    FROM generate_series(0, %(teachers)s - 1) i""",
]

# One row per (teacher, covered day): what happened that day. Every later table is derived
# from it, so punches, requests and stored days agree.
PLAN_SQL = """
CREATE UNLOGGED TABLE bench_plan AS
WITH cal AS MATERIALIZED (
    SELECT c.*, row_number() OVER (ORDER BY c.day) AS dn
    FROM unnest(%(days)s::date[], %(workday)s::boolean[], %(kind)s::text[], %(name)s::text[])
        AS c(day, workday, day_kind, day_name)
), tch AS MATERIALIZED (
    SELECT i, i %% %(schools)s AS hi, md5('teacher-' || i)::uuid AS teacher_id,
           md5('sec-' || i)::uuid AS sec_id, md5('host-' || (i %% %(schools)s))::uuid AS host_id,
           CASE WHEN i %% 50 = 7 THEN %(late_start)s::date ELSE %(first)s::date END AS from_day
    FROM generate_series(0, %(teachers)s - 1) AS i
), drawn AS MATERIALIZED (
    SELECT t.i, t.hi, t.teacher_id, t.sec_id, t.host_id, c.day, c.workday, c.day_kind,
           c.day_name, abs(h %% 10000) AS r, ((abs(h) / 10000) %% 1000000000)::int AS m
    FROM tch t
    JOIN cal c ON c.day >= t.from_day
    CROSS JOIN LATERAL (SELECT hashint8extended(t.i::bigint * 64 + c.dn, 42)) AS x(h)
), cased AS (
    SELECT *, CASE WHEN NOT workday THEN 'off' {cases} ELSE 'normal' END AS kase FROM drawn
)
SELECT i, hi, day, workday, day_kind, day_name, kase, m,
       i || '-' || to_char(day, 'YYYYMMDD') AS tag, teacher_id, sec_id, host_id,
       CASE WHEN kase IN ('off', 'absent', 'leave') THEN NULL
            ELSE (day + CASE WHEN kase IN ('late', 'late_early')
                                 THEN time '08:11' + (m %% 40) * interval '1 minute'
                             WHEN kase = 'am_leave'
                                 THEN time '11:40' + (m %% 20) * interval '1 minute'
                             ELSE time '07:30' + (m %% 35) * interval '1 minute' END
                  + ((m / 7) %% 60) * interval '1 second') AT TIME ZONE '{tz}' END AS in_at,
       CASE WHEN kase IN ('off', 'absent', 'leave', 'no_out', 'no_out_corrected') THEN NULL
            ELSE (day + CASE WHEN kase IN ('early', 'late_early')
                                 THEN time '16:00' + ((m / 40) %% 79) * interval '1 minute'
                             ELSE time '17:30' + ((m / 2800) %% 45) * interval '1 minute' END
                  + ((m / 11) %% 60) * interval '1 second') AT TIME ZONE '{tz}' END AS out_at,
       CASE WHEN kase = 'no_out_corrected' THEN (day + time '17:30') AT TIME ZONE '{tz}'
            END AS corr_at,
       CASE WHEN kase = 'leave' THEN (ARRAY['sick', 'personal', 'training'])[1 + m %% 3]
            WHEN kase = 'am_leave' THEN 'personal' END AS leave_type,
       kase NOT IN ('off', 'absent', 'leave') AND (m / 97) %% 200 = 0 AS flagged
FROM cased
""".format(
    cases=" ".join(f"WHEN r < {bound} THEN '{name}'" for name, bound in CASES),
    tz=TZ,
)

CHECK_INS_SQL = """
INSERT INTO check_ins (id, teacher_id, kind, captured_at, latitude, longitude, accuracy_m,
    coord_system, mock_location, photo_id, photo_sha256, elapsed_ms, boot_id, note,
    received_at, secondment_id, host_school_id, wgs84_latitude, wgs84_longitude, distance_m,
    location, estimated_at, estimate_method, photo_state, status, flags, device_pk,
    push_device_time, push_elapsed_ms, push_boot_id, clock_skew_ms, client_digest,
    server_serial, deleted_at, created_at, updated_at)
SELECT 'ci-' || p.tag || '-' || k.kind, p.teacher_id, k.kind,
       (date_part('epoch', k.at) * 1000)::bigint - 1500,
       35.0 + (p.hi %% 1000) * 0.001 + (p.m %% 7) * 1e-5, 105.0 + (p.hi / 1000) * 0.01,
       5 + p.m %% 20, 'wgs84', false, NULL, NULL, 3600000 + p.m %% 86400000, 'boot-' || p.i,
       '', k.at + interval '3 minutes', p.sec_id, p.host_id,
       35.0 + (p.hi %% 1000) * 0.001 + (p.m %% 7) * 1e-5, 105.0 + (p.hi / 1000) * 0.01,
       -250.0, CASE WHEN k.flagged THEN 'uncertain' ELSE 'inside' END, k.at,
       'elapsed_same_boot', NULL, CASE WHEN k.flagged THEN 'flagged' ELSE 'accepted' END,
       CASE WHEN k.flagged
            THEN '[{"code": "uncertain_location", "reason": "GPS accuracy ±120 m is too'
                 ' coarse to tell"}]'
            ELSE '[]' END::json,
       NULL, NULL, NULL, NULL, 1500, rpad(to_hex(p.m) || to_hex(p.i), 64, 'c'), 0, NULL,
       k.at + interval '3 minutes', k.at + interval '3 minutes'
FROM bench_plan p
CROSS JOIN LATERAL (VALUES ('in', p.in_at, p.flagged), ('out', p.out_at, false))
    AS k(kind, at, flagged)
WHERE k.at IS NOT NULL
"""


def _entry(code: str, reason: str) -> str:
    """SQL for one explanation entry as JSON text (the values hold no quotes to escape)."""
    return f"""'{{"code": "' || {code} || '", "reason": "' || {reason} || '"}}'"""


def _hhmm(column: str) -> str:
    return f"to_char({column} AT TIME ZONE '{TZ}', 'HH24:MI')"


# The verdict of each day as backend.attendance.days.derive gives it (default rules:
# 08:00–12:00–17:30, 10 min grace each way, half-day threshold 240 min), explanation too.
TEACHER_DAYS_SQL = f"""
WITH a AS MATERIALIZED (
    SELECT p.*, coalesce(p.out_at, p.corr_at) AS out_eff,
           (p.day + CASE WHEN p.kase = 'am_leave' THEN time '12:00' ELSE time '08:00' END)
               AT TIME ZONE '{TZ}' AS start_at,
           (p.day + time '17:30') AT TIME ZONE '{TZ}' AS end_at,
           CASE p.leave_type WHEN 'sick' THEN '病假' WHEN 'personal' THEN '事假'
                             WHEN 'training' THEN '培训' END AS type_name
    FROM bench_plan p
), b AS MATERIALIZED (
    SELECT a.*,
           CASE WHEN in_at IS NULL THEN 0
                ELSE greatest(0, floor(date_part('epoch', in_at - start_at) / 60))::int
                END AS late_min,
           CASE WHEN out_eff IS NULL THEN 0
                ELSE greatest(0, floor(date_part('epoch', end_at - out_eff) / 60))::int
                END AS early_min,
           CASE WHEN in_at IS NULL OR out_eff IS NULL THEN 0
                ELSE greatest(0, floor(date_part('epoch', least(out_eff, end_at)
                                                 - greatest(in_at, start_at)) / 60))::int
                END AS attended,
           floor(date_part('epoch', end_at - start_at) / 60)::int AS expected,
           {_hhmm("start_at")} || '–' || {_hhmm("end_at")} AS win
    FROM a
), c AS MATERIALIZED (
    SELECT b.*,
           CASE WHEN kase = 'off' THEN 'non_workday'
                WHEN kase = 'leave' AND leave_type = 'training' THEN 'official_duty'
                WHEN kase = 'leave' THEN 'on_leave'
                WHEN in_at IS NULL AND out_eff IS NULL THEN 'absent'
                WHEN in_at IS NULL OR out_eff IS NULL THEN 'half_day'
                WHEN attended = 0 THEN 'absent'
                WHEN attended < 240 * expected / 570 THEN 'half_day'
                WHEN late_min > 10 AND early_min > 10 THEN 'late_and_early_leave'
                WHEN late_min > 10 THEN 'late'
                WHEN early_min > 10 THEN 'early_leave'
                ELSE 'present' END AS status,
           nullif(concat_ws(',',
               CASE WHEN flagged
                    THEN {_entry("'open_flags'", "'1 flag(s) on this day await review'")} END,
               CASE WHEN kase = 'leave' AND leave_type = 'training'
                    THEN {
    _entry("'official_duty'", "type_name || ' (all day), request lv-' || tag")
}
                    WHEN kase = 'leave'
                    THEN {_entry("'on_leave'", "type_name || ' (all day), request lv-' || tag")}
                    WHEN kase = 'am_leave'
                    THEN {_entry("'on_leave'", "type_name || ' (morning), request lv-' || tag")}
                    END,
               CASE WHEN corr_at IS NOT NULL THEN {
    _entry("'correction_applied'", "'approved punch correction pc-' || tag || ' counted'")
} END), '') AS notes
    FROM b
)
INSERT INTO teacher_days (id, teacher_id, day, secondment_id, host_school_id, status, day_kind,
    day_name, leave_type, leave_halves, duty_halves, in_at, out_at, late_minutes,
    early_minutes, attended_minutes, corrections_applied, open_flags, explanation,
    inputs_digest, version, computed_at, server_serial, deleted_at, created_at, updated_at)
SELECT gen_random_uuid(), teacher_id, day, sec_id, host_id, status, day_kind, day_name,
       CASE WHEN kase IN ('leave', 'am_leave') THEN leave_type END,
       CASE WHEN kase = 'leave' AND leave_type <> 'training' THEN 2
            WHEN kase = 'am_leave' THEN 1 ELSE 0 END,
       CASE WHEN kase = 'leave' AND leave_type = 'training' THEN 2 ELSE 0 END,
       in_at, out_eff, late_min, early_min, attended,
       CASE WHEN corr_at IS NOT NULL THEN 1 ELSE 0 END, CASE WHEN flagged THEN 1 ELSE 0 END,
       ('[' || CASE status
           WHEN 'non_workday' THEN {
    _entry("'non_workday'", "'not a workday (' || coalesce(nullif(day_name, ''), day_kind) || ')'")
}
           WHEN 'on_leave' THEN coalesce(notes, '')
           WHEN 'official_duty' THEN coalesce(notes, '')
           WHEN 'absent' THEN concat_ws(',', {
    _entry("'no_punches'", "'no check-in or check-out counted (' || win || ')'")
}, notes)
           WHEN 'half_day' THEN concat_ws(',', {
    _entry(
        "'missing_check_out'",
        f"'checked in at ' || {_hhmm('in_at')} || ' but no check-out: a half day until a punch"
        " correction (补卡) completes it'",
    )
}, notes)
           ELSE concat_ws(',',
               CASE WHEN late_min > 10 THEN {
    _entry(
        "'late'",
        f"'checked in at ' || {_hhmm('in_at')} || ', ' || late_min || ' min after ' ||"
        f" {_hhmm('start_at')} || ' (grace 10 min)'",
    )
} END,
               CASE WHEN early_min > 10 THEN {
    _entry(
        "'early_leave'",
        f"'checked out at ' || {_hhmm('out_eff')} || ', ' || early_min || ' min before ' ||"
        f" {_hhmm('end_at')} || ' (grace 10 min)'",
    )
} END,
               CASE WHEN status = 'present' THEN {
    _entry("'present'", f"{_hhmm('in_at')} || '–' || {_hhmm('out_eff')} || ', expected ' || win")
} END,
               notes)
        END || ']')::json,
       rpad(to_hex(m) || to_hex(i), 64, 'd'), 1,
       (day + 1 + time '00:30') AT TIME ZONE '{TZ}', 0, NULL,
       (day + 1 + time '00:30') AT TIME ZONE '{TZ}', (day + 1 + time '00:30') AT TIME ZONE '{TZ}'
FROM c
"""

REQUESTS_SQL = [
    f"""INSERT INTO leave_requests (id, leave_type, start_on, start_half, end_on, end_half,
        first_half, last_half, teacher_id, secondment_id, host_school_id, reason,
        attachment_ids, status, decided_by_id, decided_at, decision_note, cancelled_at,
        filed_by_id, received_at, device_pk, client_digest, server_serial, deleted_at,
        created_at, updated_at)
    SELECT 'lv-' || tag, leave_type, day, 'am', day,
           CASE WHEN kase = 'am_leave' THEN 'am' ELSE 'pm' END,
           (day - date '0001-01-01' + 1) * 2,
           (day - date '0001-01-01' + 1) * 2 + CASE WHEN kase = 'am_leave' THEN 0 ELSE 1 END,
           teacher_id, sec_id, host_id, '请假', '[]', 'approved', NULL,
           (day - 1 + time '09:00') AT TIME ZONE '{TZ}', '', NULL, NULL,
           (day - 2 + time '20:00') AT TIME ZONE '{TZ}', NULL,
           md5('lv' || tag) || md5(tag || 'lv'), 0, NULL,
           (day - 2 + time '20:00') AT TIME ZONE '{TZ}',
           (day - 1 + time '09:00') AT TIME ZONE '{TZ}'
    FROM bench_plan WHERE kase IN ('leave', 'am_leave')""",
    f"""INSERT INTO punch_corrections (id, day, kind, punched_at, teacher_id, secondment_id,
        host_school_id, reason, attachment_ids, status, decided_by_id, decided_at,
        decision_note, cancelled_at, filed_by_id, received_at, device_pk, client_digest,
        server_serial, deleted_at, created_at, updated_at)
    SELECT 'pc-' || tag, day, 'out', corr_at, teacher_id, sec_id, host_id, '忘记打卡', '[]',
           'approved', NULL, (day + 1 + time '10:00') AT TIME ZONE '{TZ}', '', NULL, NULL,
           (day + 1 + time '08:00') AT TIME ZONE '{TZ}', NULL,
           md5('pc' || tag) || md5(tag || 'pc'), 0, NULL,
           (day + 1 + time '08:00') AT TIME ZONE '{TZ}',
           (day + 1 + time '10:00') AT TIME ZONE '{TZ}'
    FROM bench_plan WHERE corr_at IS NOT NULL""",
    # 90 % of the teachers have the month's assessment (月考核).
    """INSERT INTO monthly_assessments (id, teacher_id, host_school_id, secondment_id, month,
        grade, dimensions, comment, assessed_by_id, revision, created_at, updated_at)
    SELECT gen_random_uuid(), md5('teacher-' || i)::uuid, md5('host-' || (i %% %(schools)s))::uuid,
           md5('sec-' || i)::uuid, %(first)s::date,
           CASE WHEN i %% 20 < 4 THEN 'excellent' WHEN i %% 20 < 16 THEN 'good'
                WHEN i %% 20 < 19 THEN 'pass' ELSE 'fail' END,
           '{"morality": "good", "diligence": "excellent"}', '', NULL, 1, now(), now()
    FROM generate_series(0, %(teachers)s - 1) i WHERE i %% 10 <> 9""",
]


@dataclass
class Month:
    first: date
    last: date
    days: list[Any]  # backend.attendance.calendar.DayInfo, from the real calendar code

    @property
    def workdays(self) -> int:
        return sum(1 for d in self.days if d.workday)

    @property
    def late_start(self) -> date:
        return self.first + timedelta(days=9)


@dataclass
class Generated:
    steps: list[tuple[str, float, int]] = field(default_factory=list)  # (what, s, rows)
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def seconds(self) -> float:
        return sum(s for _, s, _ in self.steps)


def generate(
    app: Any, dsn: str, args: argparse.Namespace, first: date, cpu: dict[str, CpuUse]
) -> tuple[Month, Generated]:
    from backend.attendance.calendar import workdays
    from backend.db import database_of

    out = Generated()
    last = (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    params: dict[str, Any] = {
        "teachers": args.teachers,
        "schools": args.schools,
        "homes": args.home_schools,
        "first": first,
        "late_start": first + timedelta(days=9),
        "term_start": first - timedelta(days=10),
        "term_end": first + timedelta(days=140),
    }
    # CPU is read while the connection lives: an exited backend's CPU is no longer in /proc.
    with (
        psycopg.connect(dsn, autocommit=True) as conn,
        measuring_cpu(args.db, cpu, "generation"),
    ):
        # Bulk load: the data is consistent by construction, so the foreign-key triggers
        # are skipped (check and exclusion constraints still apply).
        conn.execute("SET session_replication_role = replica")
        conn.execute("SET synchronous_commit = off")
        conn.execute("SET jit = off")  # compiling these big expressions costs seconds

        def step(what: str, sql: str, **extra: Any) -> None:
            t0 = time.perf_counter()
            cur = conn.execute(sql, {**params, **extra})
            out.steps.append((what, time.perf_counter() - t0, max(0, cur.rowcount)))

        for i, sql in enumerate(ORG_SQL):
            step(("regions", "schools", "teachers", "secondments")[i], sql)
        with database_of(app).unit_of_work() as session:
            host0 = uuid.UUID(bytes=bytes.fromhex(_md5("host-0")))
            month = Month(first, last, workdays(session, host0, first, last))
        step(
            "plan (teacher × day)",
            PLAN_SQL,
            days=[d.day for d in month.days],
            workday=[d.workday for d in month.days],
            kind=[d.kind for d in month.days],
            name=[d.name for d in month.days],
        )
        # Secondary indexes are built after the load: one sorted build beats 2 M inserts.
        indexes = conn.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename IN"
            " ('check_ins', 'teacher_days') AND indexname NOT IN"
            " (SELECT conname FROM pg_constraint)"
        ).fetchall()
        for name, _ in indexes:
            conn.execute(f'DROP INDEX "{name}"')
        step("check_ins", CHECK_INS_SQL)
        step("teacher_days", TEACHER_DAYS_SQL)
        t0 = time.perf_counter()
        for _, definition in indexes:
            conn.execute(definition)
        out.steps.append((f"{len(indexes)} indexes", time.perf_counter() - t0, 0))
        for what, sql in zip(
            ("leave_requests", "punch_corrections", "monthly_assessments"),
            REQUESTS_SQL,
            strict=True,
        ):
            step(what, sql)
    for what, _, rows in out.steps:
        out.counts[what] = rows
    return month, out


def vacuum_analyze(dsn: str) -> float:
    t0 = time.perf_counter()
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
        conn.execute("CHECKPOINT")
    return time.perf_counter() - t0


def _md5(text: str) -> str:
    import hashlib

    return hashlib.md5(text.encode()).hexdigest()  # noqa: S324 - ids, not security


# --- sample check: stored days = daybook.derive_days -----------------------------------------


@dataclass
class SampleCheck:
    teachers: int = 0
    days: int = 0
    differences: list[str] = field(default_factory=list)
    cases: dict[str, int] = field(default_factory=dict)
    flagged: int = 0
    assessments: int = 0

    def expected_totals(self) -> dict[str, int]:
        """What the month's reports must add up to, from the generated cases."""
        c = self.cases.get
        workdays = sum(n for kase, n in self.cases.items() if kase != "off")
        return {
            "workdays": workdays,
            "late": c("late", 0) + c("late_early", 0),
            "absent": c("absent", 0),
            "half_days": c("no_out", 0),
            "corrections": c("no_out_corrected", 0),
            "open_flags": self.flagged,
            "assessed": self.assessments,
        }


def check_sample(app: Any, dsn: str, month: Month, size: int) -> SampleCheck:
    """Teachers covering every case (and some at random): their stored days must be what
    ``daybook.derive_days`` derives from the generated punches, leave and corrections."""
    from backend.attendance.day_models import TeacherDay
    from backend.attendance.daybook import VERDICT_FIELDS, derive_days
    from backend.db import database_of

    with psycopg.connect(dsn) as conn:
        cases: dict[str, int] = dict(
            conn.execute("SELECT kase, count(*) FROM bench_plan GROUP BY kase").fetchall()
        )
        flagged = conn.execute("SELECT count(*) FROM bench_plan WHERE flagged").fetchone()
        assessments = conn.execute("SELECT count(*) FROM monthly_assessments").fetchone()
        picked = [
            r[0]
            for r in conn.execute(
                "SELECT DISTINCT ON (kase, flagged) teacher_id FROM bench_plan"
                " ORDER BY kase, flagged, i"
            ).fetchall()
        ]
        picked += [
            r[0]
            for r in conn.execute(
                "SELECT teacher_id FROM bench_plan WHERE i % 50 = 7 LIMIT 1"
            ).fetchall()
        ]
        extra = max(0, size - len(picked))
        picked += [
            r[0]
            for r in conn.execute(
                "SELECT teacher_id FROM bench_plan WHERE day = %s ORDER BY m LIMIT %s",
                (month.first + timedelta(days=14), extra),
            ).fetchall()
        ]
    result = SampleCheck(
        cases=cases,
        flagged=flagged[0] if flagged else 0,
        assessments=assessments[0] if assessments else 0,
    )
    wanted = days_between(month.first, month.last)
    with database_of(app).unit_of_work() as session:
        for teacher_id in dict.fromkeys(picked):
            derived = derive_days(session, teacher_id, wanted)
            stored = {
                row.day: row
                for row in session.query(TeacherDay).filter(TeacherDay.teacher_id == teacher_id)
            }
            result.teachers += 1
            for day in wanted:
                new = derived[day].values()
                row = stored.get(day)
                old = None if row is None else {k: getattr(row, k) for k in VERDICT_FIELDS}
                result.days += 1
                if new != old:
                    keys = [k for k in VERDICT_FIELDS if (new or {}).get(k) != (old or {}).get(k)]
                    result.differences.append(
                        f"{teacher_id} {day}: "
                        + ", ".join(
                            f"{k} stored {(old or {}).get(k)!r} derived {(new or {}).get(k)!r}"
                            for k in keys
                        )
                    )
        session.rollback()
    return result


# --- baseline --------------------------------------------------------------------------------

BASELINE_SQL = f"""
SELECT teacher_id,
       count(first_in) AS days_in,
       count(*) FILTER (WHERE has_out) AS days_out,
       count(*) FILTER (WHERE first_in::time > time '08:10') AS late_days
FROM (
    SELECT teacher_id, (estimated_at AT TIME ZONE '{TZ}')::date AS day,
           min(estimated_at AT TIME ZONE '{TZ}') FILTER (WHERE kind = 'in') AS first_in,
           bool_or(kind = 'out') AS has_out
    FROM check_ins
    WHERE deleted_at IS NULL AND status <> 'rejected'
      AND estimated_at >= %(start)s AND estimated_at < %(end)s
    GROUP BY 1, 2
) d
GROUP BY teacher_id
"""


@dataclass
class Baseline:
    runs: list[float]
    rows: int
    totals: tuple[int, int, int]
    plan: str

    @property
    def seconds(self) -> float:
        return statistics.median(self.runs)


def baseline(dsn: str, month: Month, repeats: int, db: str, cpu: dict[str, CpuUse]) -> Baseline:
    from backend.clock import CHINA

    def start_of(day: date) -> datetime:
        return datetime.combine(day, datetime.min.time(), CHINA)

    params = {"start": start_of(month.first), "end": start_of(month.last + timedelta(days=1))}
    runs: list[float] = []
    rows: list[tuple[Any, ...]] = []
    with psycopg.connect(dsn) as conn, measuring_cpu(db, cpu, "B"):
        plan_rows = conn.execute("EXPLAIN " + BASELINE_SQL, params).fetchall()
        for _ in range(max(1, repeats)):
            t0 = time.perf_counter()
            rows = conn.execute(BASELINE_SQL, params).fetchall()
            runs.append(time.perf_counter() - t0)
            conn.rollback()
    nodes = [
        line[0].strip().lstrip("->").strip().split("  (")[0]
        for line in plan_rows
        if "(cost=" in line[0]
    ]
    totals = (sum(r[1] for r in rows), sum(r[2] for r in rows), sum(r[3] for r in rows))
    return Baseline(runs, len(rows), totals, " ← ".join(nodes))


# --- the real roll-up ------------------------------------------------------------------------


@dataclass
class SqlStats:
    """Statements through SQLAlchemy and the time spent inside cursor.execute (round trip,
    server work and psycopg reading the result)."""

    statements: int = 0
    seconds: float = 0.0
    _t0: float = 0.0

    def before(self, *_: Any) -> None:
        self._t0 = time.perf_counter()

    def after(self, *_: Any) -> None:
        self.statements += 1
        self.seconds += time.perf_counter() - self._t0


@dataclass
class Rollup:
    seconds: float
    per_school: list[float]
    reports: dict[uuid.UUID, tuple[uuid.UUID, int, str]]  # school → id, version, hash
    statements: int
    sql_seconds: float
    workers: int = 1
    pids: set[int] = field(default_factory=set)
    worker_peak_rss_kb: int = 0  # the largest peak of the processes that did the work
    cpu_seconds: float = 0.0  # Python's CPU in the processes that did the work


def host_schools(app: Any, month: Month) -> list[uuid.UUID]:
    """The host schools of the month, as the job's reconciliation finds them."""
    import sqlalchemy as sa

    from backend.db import database_of
    from backend.exchange.models import Secondment

    with database_of(app).unit_of_work() as session:
        return sorted(
            set(
                session.scalars(
                    sa.select(Secondment.host_school_id).where(
                        Secondment.status == "active",
                        Secondment.deleted_at.is_(None),
                        Secondment.start_on <= month.last,
                        Secondment.end_on >= month.first,
                    )
                )
            )
        )


@contextlib.contextmanager
def counting(engine: Any, stats: SqlStats) -> Iterator[SqlStats]:
    import sqlalchemy as sa

    sa.event.listen(engine, "before_cursor_execute", stats.before)
    sa.event.listen(engine, "after_cursor_execute", stats.after)
    try:
        yield stats
    finally:
        sa.event.remove(engine, "before_cursor_execute", stats.before)
        sa.event.remove(engine, "after_cursor_execute", stats.after)


def _batches(hosts: list[uuid.UUID]) -> list[list[uuid.UUID]]:
    from backend.reports.jobs import BATCH_SCHOOLS

    ordered = sorted(hosts)
    return [ordered[i : i + BATCH_SCHOOLS] for i in range(0, len(ordered), BATCH_SCHOOLS)]


@dataclass
class BatchResult:
    seconds: float
    schools: int
    reports: dict[uuid.UUID, tuple[uuid.UUID, int, str]]
    statements: int
    sql_seconds: float
    pid: int
    peak_rss_kb: int
    cpu_seconds: float  # of the process that did it


def tally_batch(app: Any, month_first: date, batch: list[uuid.UUID]) -> BatchResult:
    """One month-end batch job's work (``reports.jobs.tally_schools``): one unit of work."""
    from backend.db import database_of
    from backend.reports.services import tally_month

    database = database_of(app)
    cpu0 = time.process_time()
    with counting(database.engine, SqlStats()) as stats:
        t0 = time.perf_counter()
        with database.unit_of_work() as session:
            issued = tally_month(session, month_first, "month end", batch)
            # Not the rows: the job never reads them back (stored_reports counts them).
            reports = {s: (r.id, r.version, r.content_hash) for s, r in issued.items()}
        seconds = time.perf_counter() - t0
    return BatchResult(
        seconds,
        len(batch),
        reports,
        stats.statements,
        stats.seconds,
        os.getpid(),
        peak_rss_kb(),
        time.process_time() - cpu0,
    )


# The app of the forked worker processes (set before the fork; see ``rollup``).
_WORKER_APP: Any = None


def _start_worker() -> None:
    from backend.db import database_of

    database_of(_WORKER_APP).engine.dispose(close=False)  # the parent's connections stay its own


def _ready(_: int) -> int:
    return os.getpid()


def _worker_batch(job: tuple[date, list[uuid.UUID]]) -> BatchResult:
    return tally_batch(_WORKER_APP, *job)


def rollup(app: Any, hosts: list[uuid.UUID], month: Month, workers: int = 1) -> Rollup:
    """The month end as the jobs run it: batches of ``BATCH_SCHOOLS`` host schools, one
    unit of work each. ``workers`` > 1: on that many forked processes, each taking the next
    batch when done — as that many ``rq worker`` processes take the month end's jobs
    (started before the clock starts, like workers already waiting on the queue)."""
    global _WORKER_APP
    batches = _batches(hosts)
    results: list[BatchResult] = []
    if workers <= 1:
        started = time.perf_counter()
        results = [tally_batch(app, month.first, batch) for batch in batches]
        seconds = time.perf_counter() - started
    else:
        _WORKER_APP = app
        context = multiprocessing.get_context("fork")
        with context.Pool(workers, initializer=_start_worker) as pool:
            pool.map(_ready, range(workers), chunksize=1)  # up before the clock starts
            started = time.perf_counter()
            jobs = [(month.first, batch) for batch in batches]
            results = list(pool.imap_unordered(_worker_batch, jobs))
            seconds = time.perf_counter() - started
    per_school = [r.seconds / r.schools for r in results for _ in range(r.schools)]
    reports = {school: report for r in results for school, report in r.reports.items()}
    return Rollup(
        seconds,
        per_school,
        reports,
        sum(r.statements for r in results),
        sum(r.sql_seconds for r in results),
        workers=max(1, workers),
        pids={r.pid for r in results},
        worker_peak_rss_kb=max(r.peak_rss_kb for r in results) if results else 0,
        cpu_seconds=sum(r.cpu_seconds for r in results),
    )


def forget_reports(dsn: str, month: Month) -> None:
    """Back to the month before its first roll-up (no reports, no dead rows)."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("DELETE FROM host_month_reports WHERE month = %s", (month.first,))
        conn.execute("VACUUM ANALYZE host_month_reports")
        conn.execute("CHECKPOINT")


def stored_reports(dsn: str, month: Month) -> tuple[int, int, dict[str, int]]:
    """(reports, rows in them, sums of some columns over all rows), after R1 and R2."""
    with psycopg.connect(dsn) as conn:
        count, rows = conn.execute(
            "SELECT count(*), coalesce(sum(json_array_length(rows)), 0) FROM host_month_reports"
            " WHERE month = %s",
            (month.first,),
        ).fetchone() or (0, 0)
        sums = conn.execute(
            "SELECT sum((r->>'workdays')::int), sum((r->>'late')::int),"
            " sum((r->>'absent')::int), sum((r->>'half_days')::int),"
            " sum((r->>'corrections_used')::int), sum((r->>'open_flags')::int),"
            " count(r->'assessment') FILTER (WHERE json_typeof(r->'assessment') = 'object')"
            " FROM host_month_reports, json_array_elements(rows) r WHERE month = %s",
            (month.first,),
        ).fetchone()
    names = ("workdays", "late", "absent", "half_days", "corrections", "open_flags", "assessed")
    return int(count), int(rows), dict(zip(names, (int(x or 0) for x in sums or ()), strict=False))


# --- memory ----------------------------------------------------------------------------------


def peak_rss_kb() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KB on Linux


def current_rss_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def reset_peak_rss() -> bool:
    """Reset the kernel's high-water mark (and so ru_maxrss) to the current RSS."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


# --- where the two cores went during a phase (/proc, sampled every second) -------------------

CLK_TCK = os.sysconf("SC_CLK_TCK")


def _box_ticks() -> tuple[int, int]:
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return sum(values[:8]) - values[3] - values[4], sum(values[:8])  # busy, total


def _processes() -> dict[tuple[int, int], tuple[int, str]]:
    """(pid, start tick) → (utime + stime ticks, command line)."""
    found: dict[tuple[int, int], tuple[int, str]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        rest = stat.rsplit(")", 1)[1].split()
        found[(int(entry.name), int(rest[19]))] = (int(rest[11]) + int(rest[12]), cmdline.strip())
    return found


@dataclass
class CpuUse:
    """Cores' worth of CPU over a phase: the box, this process, PostgreSQL (this database's
    backends, their parallel workers and the server's own processes), everything else."""

    box: float = 0.0
    client: float = 0.0
    postgres: float = 0.0
    other: float = 0.0

    def text(self) -> str:
        return (
            f"box {self.box:.2f} = this process {self.client:.2f} + PostgreSQL"
            f" {self.postgres:.2f} + other {self.other:.2f}"
        )


def _ours(label: str, db: str) -> bool:
    """A PostgreSQL process working for this run: a backend of ``db``, or not a backend."""
    if not label.startswith("postgres"):
        return False
    words = label.split(": ")[-1].split()
    is_backend = len(words) >= 3 and ("(" in words[2] or words[2] == "[local]")
    return not is_backend or words[1] == db


@contextlib.contextmanager
def measuring_cpu(db: str, into: dict[str, CpuUse], phase: str) -> Iterator[None]:
    """Sampled, so that short-lived processes (parallel workers, backends of connections
    closed before the end) are counted up to their last sample."""
    first = _processes()
    latest = dict(first)
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(1.0):  # a scan costs ~10 ms of this process
            latest.update(_processes())

    busy0, total0 = _box_ticks()
    t0 = time.perf_counter()
    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        latest.update(_processes())
        busy1, total1 = _box_ticks()
        wall = max(1e-9, time.perf_counter() - t0)
        use = CpuUse(box=(busy1 - busy0) / max(1, total1 - total0) * (os.cpu_count() or 1))
        for key, (ticks, label) in latest.items():
            cores = max(0, ticks - first.get(key, (0, ""))[0]) / CLK_TCK / wall
            if key[0] == os.getpid():
                use.client += cores
            elif _ours(label, db):
                use.postgres += cores
        use.other = max(0.0, use.box - use.client - use.postgres)
        into[phase] = use


# --- report ----------------------------------------------------------------------------------


def mb(kb: int) -> str:
    return f"{kb / 1024:,.0f} MB"


@dataclass
class Memory:
    before_rollup_peak_kb: int
    rollup_start_kb: int
    rollup_peak_kb: int
    reset: bool

    @property
    def overall_kb(self) -> int:
        return max(self.before_rollup_peak_kb, self.rollup_peak_kb, peak_rss_kb())


def report(
    args: argparse.Namespace,
    dsn: str,
    month: Month,
    gen: Generated,
    vacuum_s: float,
    migrate_s: float,
    sample: SampleCheck,
    base: Baseline,
    first: Rollup,
    second: Rollup,
    parallel: Rollup,
    memory: Memory,
    stored: tuple[int, int, dict[str, int]],
    cpu: dict[str, CpuUse],
) -> None:
    with psycopg.connect(dsn) as conn:
        settings: dict[str, str] = dict(
            conn.execute(
                "SELECT name, current_setting(name) FROM pg_settings WHERE name IN"
                " ('server_version', 'shared_buffers', 'work_mem', 'jit', 'synchronous_commit')"
            ).fetchall()
        )
        sizes = conn.execute(
            "SELECT pg_size_pretty(pg_total_relation_size('check_ins')),"
            " pg_size_pretty(pg_total_relation_size('teacher_days')),"
            " pg_size_pretty(pg_database_size(current_database()))"
        ).fetchone() or ("?", "?", "?")
    schools = len(first.per_school)
    ratio = parallel.seconds / base.seconds if base.seconds else 0.0
    ratio1 = first.seconds / base.seconds if base.seconds else 0.0
    ratio2 = second.seconds / base.seconds if base.seconds else 0.0
    rss_mb = max(memory.rollup_peak_kb, parallel.worker_peak_rss_kb) / 1024
    same_as_one_worker = sum(
        1
        for school, made in parallel.reports.items()
        if school in first.reports and first.reports[school][2] == made[2]
    )
    cpu_b = (cpu["B"].client + cpu["B"].postgres) * base.seconds if "B" in cpu else 0.0
    cpu_r = (cpu["R1"].client + cpu["R1"].postgres) * first.seconds if "R1" in cpu else 0.0
    unchanged = sum(
        1
        for school, again in second.reports.items()
        if school in first.reports and first.reports[school][:3] == again[:3]
    )
    reports, rows, sums = stored
    width = 104
    print()
    print("=" * width)
    print("monthly roll-up benchmark (bench/rollup.py)")
    print(
        f"machine : {os.cpu_count()} cores, Python {sys.version.split()[0]}, PostgreSQL"
        f" {settings.get('server_version')} on 127.0.0.1 (shared_buffers="
        f"{settings.get('shared_buffers')}, work_mem={settings.get('work_mem')},"
        f" jit={settings.get('jit')})"
    )
    print(f"code    : {git_revision()}")
    print(
        f"month   : {month.first:%Y-%m}: {len(month.days)} days, {month.workdays} workdays"
        " (backend.attendance.calendar.workdays: chinesecalendar, default rules 08:00–17:30)"
    )
    print(
        f"data    : {args.teachers:,} teachers, {args.schools:,} host + {args.home_schools:,}"
        f" home schools; {gen.counts['check_ins']:,} check-ins, {gen.counts['teacher_days']:,}"
        f" teacher days, {gen.counts['leave_requests']:,} leave requests,"
        f" {gen.counts['punch_corrections']:,} punch corrections,"
        f" {gen.counts['monthly_assessments']:,} assessments"
    )
    print(
        f"          check_ins {sizes[0]}, teacher_days {sizes[1]}, database {sizes[2]};"
        " VACUUM ANALYZE + CHECKPOINT before timing"
    )
    verdict = "equal" if not sample.differences else f"{len(sample.differences)} DIFFERENT"
    print(
        f"sample  : {sample.teachers} teachers x {len(month.days)} days (every case): stored"
        f" verdicts, explanation included, vs daybook.derive_days: {verdict}"
    )
    busy = [f"{phase} ({use.other:.2f})" for phase, use in cpu.items() if use.other > 0.2]
    if busy:
        print(
            "WARNING : other processes took CPU during " + ", ".join(busy) + " (cores):"
            " those figures are disturbed (see details)"
        )
    print("-" * width)
    print(f"{'measurement':<46} {'value':>12}  {'detail':<28} {'target':<9} result")
    print("-" * width)

    def row(
        label: str, value: str, detail: str = "", target: str = "", ok: bool | None = None
    ) -> None:
        result = "" if ok is None else ("PASS" if ok else "MISS")
        print(f"{label:<46} {value:>12}  {detail:<28} {target:<9} {result}")

    row(
        "data generation (INSERT … SELECT in PostgreSQL)",
        f"{gen.seconds:.1f} s",
        f"+ VACUUM ANALYZE {vacuum_s:.1f} s",
    )
    spread = f"[{min(base.runs):.2f}–{max(base.runs):.2f}] n={len(base.runs)}"
    row(
        "B  baseline: one SQL aggregation, fetched",
        f"{base.seconds:.2f} s",
        f"{spread}, {base.rows:,} rows",
    )
    row(
        f"R  month end on {parallel.workers} workers, {schools:,} schools",
        f"{parallel.seconds:.2f} s",
        f"{len(parallel.pids)} processes took batches",
    )
    row("   ratio R / B", f"{ratio:.2f}x", "", f"<= {TARGET_RATIO:g}x", ratio <= TARGET_RATIO)
    row(
        "R1 the same on one worker (in this process)",
        f"{first.seconds:.2f} s",
        f"{ratio1:.2f}x B; {statistics.mean(first.per_school) * 1000:.1f} ms/school",
    )
    if cpu_b and cpu_r:
        row(
            "   CPU time R1 / B (this process + PostgreSQL)",
            f"{cpu_r / cpu_b:.2f}x",
            f"{cpu_r:.1f} vs {cpu_b:.1f} core-seconds",
        )
    row(
        "R2 roll-up again (nothing changed, one worker)",
        f"{second.seconds:.2f} s",
        f"{ratio2:.2f}x B; {unchanged:,}/{len(second.reports):,} same hash",
    )
    row(
        f"reports of R ({parallel.workers} workers) vs R1 (one)",
        f"{same_as_one_worker:,}",
        f"of {len(first.reports):,} schools: same hash",
    )
    row(
        "peak RSS of a roll-up process",
        f"{rss_mb:,.0f} MB",
        f"R1/R2 {mb(memory.rollup_peak_kb)}, worker {mb(parallel.worker_peak_rss_kb)}",
        f"<= {TARGET_RSS_MB:g} MB",
        rss_mb <= TARGET_RSS_MB,
    )
    row("peak RSS of the whole run (ru_maxrss)", mb(memory.overall_kb))
    print("-" * width)
    print("details")
    steps = ", ".join(f"{what} {s:.1f} s" for what, s, _ in gen.steps)
    print(f" generation: migrations {migrate_s:.1f} s; {steps}")
    cases = ", ".join(f"{k} {v:,}" for k, v in sorted(sample.cases.items(), key=lambda x: -x[1]))
    print(f" teacher-days by case: {cases}")
    print(f" baseline plan: {base.plan}")
    for phase, use in cpu.items():
        print(f" CPU cores during {phase}: {use.text()}")
    for name, r in (("R1", first), ("R2", second)):
        per = r.seconds / max(1, len(r.per_school)) * 1000
        sql = r.sql_seconds / max(1, len(r.per_school)) * 1000
        print(
            f" {name} per school: mean {per:.1f} ms, p50 {percentile(r.per_school, 0.5) * 1000:.1f}"
            f" p95 {percentile(r.per_school, 0.95) * 1000:.1f}"
            f" max {max(r.per_school) * 1000:.1f} ms; {r.statements / max(1, schools):.1f}"
            f" statements/school, {sql:.1f} ms in cursor.execute, {per - sql:.1f} ms elsewhere"
            " (ORM, JSON, hashing, pool pre-ping, BEGIN/COMMIT)"
        )
    print(
        f" reports: {reports:,} host month reports (drafts, version 1) with {rows:,} rows;"
        f" second run created {reports - len(first.reports):,} more"
    )
    print(
        f" roll-up totals: workdays {sums.get('workdays', 0):,}, late {sums.get('late', 0):,},"
        f" absent {sums.get('absent', 0):,}, half days {sums.get('half_days', 0):,},"
        f" corrections {sums.get('corrections', 0):,}, open flags {sums.get('open_flags', 0):,},"
        f" assessed {sums.get('assessed', 0):,}: "
        + (
            "as generated"
            if sums == sample.expected_totals()
            else f"generated {sample.expected_totals()} (DIFFERENT)"
        )
    )
    print(
        f" baseline totals: days with an in {base.totals[0]:,}, with an out {base.totals[1]:,},"
        f" first in after 08:10 {base.totals[2]:,} (it ignores leave, corrections, flags)"
    )
    if not memory.reset:
        print(" note: /proc/self/clear_refs not writable: the roll-up peak is the process peak")
    for line in sample.differences[:5]:
        print(f" DIFFERENCE {line}")
    print("=" * width)


# --- main ------------------------------------------------------------------------------------


def profile_rollup(app: Any, dsn: str, hosts: list[uuid.UUID], month: Month, top: int) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("DELETE FROM host_month_reports WHERE month = %s", (month.first,))
    profiler = cProfile.Profile()
    profiler.enable()
    again = rollup(app, hosts, month)
    profiler.disable()
    text = io.StringIO()
    stats = pstats.Stats(profiler, stream=text)
    stats.sort_stats("cumulative").print_stats(top)
    stats.sort_stats("tottime").print_stats(top)
    print(f"\ncProfile of a third roll-up (reports deleted first): {again.seconds:.2f} s")
    print(text.getvalue())


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sys.path.insert(0, str(ROOT))
    dsn = with_database(args.pg, args.db)
    sa_url = "postgresql+psycopg://" + dsn.split("://", 1)[1]
    instance = Path(tempfile.mkdtemp(prefix="ucomm_bench_"))
    app = None
    started = time.perf_counter()

    def on_signal(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, on_signal)
    try:
        from backend.cli import upgrade_database
        from backend.db import database_of

        first_day = pick_month(args)
        log(f"creating database {args.db}; month {first_day:%Y-%m}")
        create_database(args.pg, args.db)
        app = make_app(sa_url, instance)
        t0 = time.perf_counter()
        with database_of(app).engine.begin() as connection:
            upgrade_database(connection)
        migrate_s = time.perf_counter() - t0
        log(f"generating {args.teachers:,} teachers x {first_day:%Y-%m} in {args.schools:,} hosts")
        cpu: dict[str, CpuUse] = {}
        month, gen = generate(app, dsn, args, first_day, cpu)
        log(
            f"generated in {gen.seconds:.1f} s: {gen.counts['check_ins']:,} check-ins,"
            f" {gen.counts['teacher_days']:,} teacher days"
        )
        log(f"checking {args.sample} teachers' stored days against daybook.derive_days")
        sample = check_sample(app, dsn, month, args.sample)
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("DROP TABLE bench_plan")
        vacuum_s = vacuum_analyze(dsn)
        log(f"VACUUM ANALYZE + CHECKPOINT {vacuum_s:.1f} s; baseline x{args.baseline_repeats}")
        base = baseline(dsn, month, args.baseline_repeats, args.db, cpu)
        log(f"baseline {base.seconds:.2f} s; roll-up of every host school")
        hosts = host_schools(app, month)
        before_peak = peak_rss_kb()
        reset = reset_peak_rss()
        start_kb = current_rss_kb()
        with measuring_cpu(args.db, cpu, "R1"):
            first = rollup(app, hosts, month)
        log(f"roll-up on one worker {first.seconds:.2f} s; again (should issue nothing new)")
        with measuring_cpu(args.db, cpu, "R2"):
            second = rollup(app, hosts, month)
        memory = Memory(before_peak, start_kb, peak_rss_kb(), reset)
        log(f"second roll-up {second.seconds:.2f} s")
        stored = stored_reports(dsn, month)
        forget_reports(dsn, month)
        log(f"reports deleted; roll-up on {args.workers} workers")
        with measuring_cpu(args.db, cpu, "R"):
            parallel = rollup(app, hosts, month, workers=args.workers)
        # The workers' own CPU, measured by them (they may end between two samples).
        cpu["R"].client += parallel.cpu_seconds / max(1e-9, parallel.seconds)
        cpu["R"].other = max(0.0, cpu["R"].box - cpu["R"].client - cpu["R"].postgres)
        log(f"roll-up on {args.workers} workers {parallel.seconds:.2f} s")
        report(
            args,
            dsn,
            month,
            gen,
            vacuum_s,
            migrate_s,
            sample,
            base,
            first,
            second,
            parallel,
            memory,
            stored,
            cpu,
        )
        if args.profile:
            profile_rollup(app, dsn, hosts, month, args.profile)
        log(f"total {time.perf_counter() - started:.0f} s")
        return 0
    finally:
        if app is not None:
            from backend.db import database_of

            database_of(app).engine.dispose()
        if args.keep:
            log(f"kept database {args.db}")
        else:
            try:
                drop_database(args.pg, args.db)
                log(f"dropped database {args.db}")
            except Exception as exc:
                log(f"could not drop database {args.db}: {exc!r}")
        shutil.rmtree(instance, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

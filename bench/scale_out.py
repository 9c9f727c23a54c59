"""The scale-out run: the production shape on one machine, driven through a realistic day.

    python bench/scale_out.py --quick            # 60 teachers: a smoke test, under a minute
    python bench/scale_out.py                    # 3,000 teachers, 16 phones at once: ~25 min
    python bench/scale_out.py --teachers 5000 --concurrency 64

One run (details in bench/README.md):

1. starts its own services: a scratch PostgreSQL database ``ucomm_scale_<pid>`` on the
   machine's server (migrated with the real migrations), a private ``redis-server`` and a
   local S3 server (moto) on free ports, with the bucket made;
2. seeds a county through the services: communities of one urban core and five rural
   members, teachers seconded from the day below, a login per teacher, an admin per school,
   inspectors, and a spot-check plan over that day, committed and drawn; then ANALYZE;
3. starts the production shape: two gunicorn masters on two ports (the client
   round-robins between them), two ``rq worker`` processes (``backend.jobs.Worker``, as
   deployed, unless ``--rq-worker-class`` says otherwise), all with
   ``APP_ENV=production``, ``MEDIA_STORAGE=s3`` and Redis;
4. drives one day (the last workday of the last month, synced now): every phone logs in
   and pulls; each teacher uploads a check-in photo by tus and pushes the check-in (some
   replay the push, some are late, some file leave instead, a few are absent); host school
   admins approve or reject the leave; inspectors pull their spot checks, upload photos and
   push a visit each; phones push their check-out; the photo queue drains;
5. closes the month as an operator does (``flask jobs housekeeping``) and waits for the
   report runs;
6. prints throughput and latency per phase and request kind, queue depths over time, errors
   by kind and a totals check against what was sent; exits 1 if a check fails.

Every process it starts and the scratch database are removed at the end, also on failure,
Ctrl-C and SIGTERM.
"""

from __future__ import annotations

import argparse
import base64
import concurrent.futures
import contextlib
import hashlib
import http.client
import io
import itertools
import json
import math
import multiprocessing
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from typing import Any
from unittest import mock
from zoneinfo import ZoneInfo

import psycopg
from common import create_database, drop_database, git_revision, log, percentile, with_database

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

CHINA = ZoneInfo("Asia/Shanghai")
SCHEMA = 4  # the phones speak the newest sync schema
PASSWORD = "scale-out-password-1"  # noqa: S105 - logins of a scratch database
BUCKET = "ucomm-scale"
QUEUE_KEY = "rq:queue:ucomm"
MEMBERS_PER_COMMUNITY = 5
TEACHERS_PER_COMMUNITY = 60
PHOTO_SIZE = (1280, 960)  # what a phone app sends after its own compression

# A teacher's day, drawn once per teacher (shares out of 1000; the rest are "present").
FATES = (
    ("absent", 10),  # no punch, no request: the day stays absent
    ("leave", 30),  # files sick leave for the day instead of checking in
    ("late", 50),  # checks in 08:12–08:40
    ("no_out", 20),  # forgets the check-out: a half day
    ("early", 20),  # checks out 16:30–17:15: early leave
)
REPLAY_IN = 0.05  # phones whose check-in push is sent again (the answer was lost)
REPLAY_OUT = 0.03
APPROVE_SHARE = 2 / 3  # of leave requests; the rest are rejected


# --- arguments -----------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--teachers", type=int, default=3000, help="seconded teachers (3000)")
    p.add_argument(
        "--concurrency", type=int, default=16, help="phones (client threads) at once (16)"
    )
    p.add_argument("--web", type=int, default=2, help="gunicorn masters, one port each (2)")
    p.add_argument("--web-workers", type=int, default=1, help="workers per gunicorn master (1)")
    p.add_argument("--rq-workers", type=int, default=2, help="rq worker processes (2)")
    p.add_argument(
        "--rq-worker-class",
        default="backend.jobs.Worker",
        help="backend.jobs.Worker (default, as deployed: builds the app once, then forks a"
        " warm work-horse per job), rq.worker.SimpleWorker (no fork), or 'fork' for rq's"
        " plain Worker, which builds the app anew in every job's work-horse",
    )
    p.add_argument(
        "--gunicorn-args", default="", help='extra gunicorn arguments, e.g. "--threads 4"'
    )
    p.add_argument("--seed", type=int, default=20261130, help="random seed of the day (fixed)")
    p.add_argument(
        "--pg",
        default=os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres"),
        help="admin URL of the PostgreSQL server (its database is only used to create/drop)",
    )
    p.add_argument("--drain-timeout", type=float, default=900.0, help="seconds (900)")
    p.add_argument("--keep-logs", action="store_true", help="keep the processes' log directory")
    p.add_argument("--quick", action="store_true", help="60 teachers, 8 phones at once")
    args = p.parse_args(argv)
    if args.quick:
        args.teachers = min(args.teachers, 60)
        args.concurrency = min(args.concurrency, 8)
    args.teachers = max(args.teachers, 12)
    return args


def last_workday_of_last_month(today: date) -> date:
    import chinese_calendar

    day = today.replace(day=1) - timedelta(days=1)
    while not chinese_calendar.is_workday(day):
        day -= timedelta(days=1)
    return day


def at(day: date, hh: int, mm: int, ss: int = 0) -> int:
    """Epoch ms of hh:mm:ss on ``day``, China time."""
    return int(datetime.combine(day, clock_time(hh, mm, ss), CHINA).timestamp() * 1000)


# --- processes -----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _children(ppid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == ppid:
                found.append(int(entry.name))
    return found


def _cpu_ticks(pid: int) -> int:
    try:
        rest = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return int(rest[11]) + int(rest[12]) + int(rest[13]) + int(rest[14])  # incl. reaped children


class Processes:
    """Every process this run starts, each in its own session (process group) so that it
    and its children (gunicorn's workers, rq's work-horses) are stopped by its own id."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, cmd: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        out = (self.log_dir / f"{name}.log").open("wb")
        proc = subprocess.Popen(
            cmd,
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        out.close()
        self.procs[name] = proc
        return proc

    def tail(self, name: str, chars: int = 3000) -> str:
        path = self.log_dir / f"{name}.log"
        return path.read_text(errors="replace")[-chars:] if path.exists() else ""

    def check_alive(self) -> None:
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited ({proc.returncode}):\n{self.tail(name)}")

    def stop_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        for proc in self.procs.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        for proc in self.procs.values():
            # The group too: a work-horse or a gunicorn worker may outlive its parent.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5)


def wait_port(port: int, procs: Processes, name: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        procs.check_alive()
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
            return
        time.sleep(0.1)
    raise RuntimeError(f"{name} did not listen on {port} within {timeout:.0f} s")


def wait_http(port: int, path: str, procs: Processes, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        procs.check_alive()
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            conn.request("GET", path)
            response = conn.getresponse()
            body = response.read()
            conn.close()
            if response.status == 200:
                return
            last = f"{response.status} {body[:300]!r}"
        except OSError as exc:
            last = repr(exc)
        time.sleep(0.2)
    raise RuntimeError(f"http://127.0.0.1:{port}{path} not ready in {timeout:.0f} s: {last}")


# --- photos --------------------------------------------------------------------------------


def make_photo(job: tuple[int, int]) -> bytes:
    """A phone-sized JPEG with distinct content (its own perceptual hash) and EXIF: taken
    at ``epoch_ms`` (China time), on a phone."""
    import numpy as np
    from PIL import Image

    seed, epoch_ms = job
    rng = np.random.default_rng(seed)
    width, height = PHOTO_SIZE
    grid = rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)
    base = np.asarray(
        Image.fromarray(grid).resize((width, height), Image.Resampling.BICUBIC), np.int16
    )
    noise = rng.integers(-12, 13, (height, width, 3), dtype=np.int16)
    photo = Image.fromarray(np.clip(base + noise, 0, 255).astype(np.uint8))
    taken = datetime.fromtimestamp(epoch_ms / 1000, CHINA).strftime("%Y:%m:%d %H:%M:%S")
    exif = Image.Exif()
    exif[0x010F], exif[0x0110], exif[0x0132] = "HUAWEI", "ALN-AL00", taken
    exif.get_ifd(0x8769).update({0x9003: taken, 0x9011: "+08:00"})
    out = io.BytesIO()
    photo.save(out, "JPEG", quality=80, exif=exif.tobytes())
    return out.getvalue()


def make_photos(jobs: list[tuple[int, int]]) -> list[bytes]:
    with multiprocessing.get_context("fork").Pool(os.cpu_count() or 2) as pool:
        return pool.map(make_photo, jobs, chunksize=16)


# --- the county ----------------------------------------------------------------------------


@dataclass
class TeacherPlan:
    index: int
    teacher_id: uuid.UUID
    username: str
    host_school_id: uuid.UUID
    lat: float
    lon: float
    fate: str = "present"
    approve: bool = False  # for "leave": what the host school decides
    replay_in: bool = False
    replay_out: bool = False
    in_at: int = 0
    out_at: int | None = None
    photo: bytes = b""


@dataclass
class County:
    teachers: list[TeacherPlan]
    host_admins: dict[uuid.UUID, str]  # host school -> its admin's username
    inspectors: list[str]
    schools: int
    communities: int
    spot_checks: int
    drawn_teachers: int
    seconds: float


def make_app(database_url: str, instance: Path, secret: str) -> Any:
    from backend.app import create_app
    from backend.config import Settings

    settings = Settings.from_env(
        {"INSTANCE_PATH": str(instance), "DATABASE_URL": database_url, "SECRET_KEY": secret}
    )
    return create_app(settings)


def seed_county(app: Any, n_teachers: int, day: date, secret: str) -> County:
    """Regions, schools, communities, teachers and secondments through the services (the
    secondments start on ``day``); logins inserted directly with one Argon2 hash (hashing
    each would take minutes and measures nothing); a spot-check plan over ``day``,
    committed and drawn through the services the day before."""
    from backend import clock
    from backend.auth.models import User
    from backend.auth.passwords import hash_password
    from backend.db import database_of
    from backend.exchange.services import create_secondment, create_teacher
    from backend.inspection import plans
    from backend.inspection.models import SpotCheck, SpotCheckTeacher
    from backend.org.services import create_community, create_region, create_school

    started = time.perf_counter()
    n_communities = max(2, math.ceil(n_teachers / TEACHERS_PER_COMMUNITY))
    password_hash = hash_password(PASSWORD)
    db = database_of(app)
    with db.unit_of_work() as session:
        province = create_region(
            session, code="64", name="宁夏回族自治区", level="province", parent_id=None
        )
        city = create_region(
            session, code="6404", name="固原市", level="city", parent_id=province.id
        )
        county = create_region(
            session, code="640422", name="西吉县", level="county", parent_id=city.id
        )
        communities = []
        school_no = itertools.count(1)

        def school(locality: str, students: int, lat: float, lon: float) -> Any:
            no = next(school_no)
            return create_school(
                session,
                {
                    "code": f"S{no:05d}",
                    "name": ("城区" if locality == "urban" else "乡村") + f"学校{no}",
                    "kind": "primary",
                    "locality": locality,
                    "student_count": students,
                    "region_id": county.id,
                    "latitude": lat,
                    "longitude": lon,
                    "geofence_radius_m": 300,
                    "fence_points": [],
                    "note": "",
                },
            )

        for c in range(n_communities):
            lat, lon = 35.70 + (c % 10) * 0.02, 105.50 + (c // 10) * 0.02
            core = school("urban", 2000, lat, lon)
            members = [
                school("rural", 400, lat + 0.004 * (m + 1), lon + 0.003 * (m + 1))
                for m in range(MEMBERS_PER_COMMUNITY)
            ]
            create_community(
                session,
                {
                    "name": f"西吉县第{c + 1}教共体",
                    "mode": "co_built",
                    "region_id": county.id,
                    "core_school_id": core.id,
                    "term_start": date(2026, 9, 1),
                    "term_end": date(2029, 8, 31),
                    "member_school_ids": [m.id for m in members],
                },
            )
            communities.append((core, members))
        teachers: list[TeacherPlan] = []
        for i in range(n_teachers):
            core, members = communities[i % n_communities]
            member = members[(i // n_communities) % MEMBERS_PER_COMMUNITY]
            # Four in five go out from the urban core to teach; one in five comes in to learn.
            home, host = (member, core) if i % 5 == 4 else (core, member)
            teacher = create_teacher(
                session,
                {
                    "staff_no": f"T{i:06d}",
                    "name": f"教师{i}",
                    "home_school_id": home.id,
                    "subjects": ["数学"],
                    "phone": "",
                },
            )
            create_secondment(
                session,
                {
                    "teacher_id": teacher.id,
                    "host_school_id": host.id,
                    "kind": "support_teaching" if host is member else "shadowing",
                    "role": "teaching",
                    "start_on": day,
                    "end_on": date(2027, 7, 15),
                },
            )
            teachers.append(
                TeacherPlan(i, teacher.id, f"t{i:06d}", host.id, host.latitude, host.longitude)
            )
            if i % 500 == 499:
                log(f"  {i + 1} teachers and secondments")
        session.add_all(
            User(
                username=t.username,
                password_hash=password_hash,
                role="teacher",
                teacher_id=t.teacher_id,
                display_name=f"教师{t.index}",
            )
            for t in teachers
        )
        admins: dict[uuid.UUID, str] = {}
        for core, members in communities:
            for s in (core, *members):
                admins[s.id] = f"admin-{s.code}"
                session.add(
                    User(
                        username=admins[s.id],
                        password_hash=password_hash,
                        role="school_admin",
                        school_id=s.id,
                    )
                )
        inspectors = [f"insp{i:03d}" for i in range(max(4, n_teachers // 150))]
        session.add_all(
            User(username=u, password_hash=password_hash, role="inspector", region_id=county.id)
            for u in inspectors
        )
        session.add(
            User(
                username="bureau",
                password_hash=password_hash,
                role="bureau_admin",
                region_id=county.id,
            )
        )
        session.flush()
        county_id = county.id
        schools = n_communities * (1 + MEMBERS_PER_COMMUNITY)
    log(f"  org, teachers, secondments, logins: {time.perf_counter() - started:.1f} s")

    with (
        db.unit_of_work() as session,
        mock.patch.object(clock, "today", lambda: day - timedelta(days=1)),
    ):
        plan = plans.create_plan(
            session,
            {
                "region_id": county_id,
                "name": f"{day:%Y年%m月}交流教师随机抽查",
                "period_start": day,
                "period_end": day,
                "target_count": max(4, n_teachers // 50),
                "strata": "host_school",
                "inspectors_per_visit": 2,
                "window_days": 1,
            },
        )
        plans.commit(session, plan, secret)
        plans.draw_spot_checks(session, plan, f"体彩 {day - timedelta(days=1)} 排列5: 2 7 1 8 2")
        plan_id = plan.id
    with db.unit_of_work() as session:
        import sqlalchemy as sa

        spot_checks = session.scalar(
            sa.select(sa.func.count()).select_from(SpotCheck).where(SpotCheck.plan_id == plan_id)
        )
        drawn = session.scalar(
            sa.select(sa.func.count())
            .select_from(SpotCheckTeacher)
            .join(SpotCheck, SpotCheck.id == SpotCheckTeacher.spot_check_id)
            .where(SpotCheck.plan_id == plan_id)
        )
    return County(
        teachers,
        {t.host_school_id: admins[t.host_school_id] for t in teachers},
        inspectors,
        schools,
        n_communities,
        int(spot_checks or 0),
        int(drawn or 0),
        time.perf_counter() - started,
    )


def plan_day(county: County, day: date, seed: int) -> None:
    """Draw each teacher's day: fate, times, replays (deterministic for a seed)."""
    rng = random.Random(seed)
    for t in county.teachers:
        roll = rng.randrange(1000)
        t.fate = "present"
        for fate, share in FATES:
            if roll < share:
                t.fate = fate
                break
            roll -= share
        t.approve = rng.random() < APPROVE_SHARE
        t.replay_in = rng.random() < REPLAY_IN
        t.replay_out = rng.random() < REPLAY_OUT
        if t.fate == "late":
            t.in_at = at(day, 8, rng.randrange(12, 41), rng.randrange(60))
        else:
            t.in_at = at(day, 7, 30) + rng.randrange(39 * 60) * 1000  # 07:30–08:08
        if t.fate == "early":
            t.out_at = at(day, 16, 30) + rng.randrange(45 * 60) * 1000  # 16:30–17:14
        elif t.fate in ("present", "late"):
            t.out_at = at(day, 17, 31) + rng.randrange(40 * 60) * 1000  # 17:31–18:10
        else:
            t.out_at = None


def expected_row(t: TeacherPlan, approved: bool) -> dict[str, Any]:
    """The teacher's row in the month's report: one workday (the secondment starts on the
    day), judged from what their phone sent and what their host school decided."""
    row: dict[str, Any] = {
        "workdays": 1,
        "present": 0,
        "late": 0,
        "early_leave": 0,
        "half_days": 0,
        "absent": 0,
    }
    if t.fate == "present":
        row["present"] = 1
    elif t.fate == "late":
        row["late"] = 1
    elif t.fate == "early":
        row["early_leave"] = 1
    elif t.fate == "no_out":
        row["half_days"] = 1
    elif t.fate == "absent" or (t.fate == "leave" and not approved):
        row["absent"] = 1
    row["leave_days"] = {"sick": 1.0} if t.fate == "leave" and approved else {}
    return row


# --- the client ----------------------------------------------------------------------------


@dataclass
class Sample:
    kind: str
    seconds: float
    phase: str


class Recorder:
    """Latencies per request kind and phase, and errors by kind (thread-safe)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.samples: list[Sample] = []
        self.errors: Counter[str] = Counter()
        self.error_examples: dict[str, str] = {}
        self.notes: Counter[str] = Counter()  # handled by the protocol: not errors
        self.phase = ""
        self.records: Counter[str] = Counter()  # phase -> records applied

    def sample(self, kind: str, seconds: float) -> None:
        with self.lock:
            self.samples.append(Sample(kind, seconds, self.phase))

    def error(self, key: str, detail: str) -> None:
        with self.lock:
            self.errors[key] += 1
            self.error_examples.setdefault(key, detail[:400])

    def note(self, key: str, n: int = 1) -> None:
        with self.lock:
            self.notes[key] += n

    def add_records(self, n: int) -> None:
        with self.lock:
            self.records[self.phase] += n


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None

    @property
    def code(self) -> str:
        try:
            data = self.json()
        except ValueError:
            return ""
        return str(data.get("code", "")) if isinstance(data, dict) else ""


class Web:
    """http.client over the gunicorn masters' ports, round-robin per request (the tiny load
    balancer); one connection per thread and port, reconnecting when the server closes."""

    def __init__(self, ports: list[int], recorder: Recorder) -> None:
        self.ports = ports
        self.turn = itertools.count()
        self.local = threading.local()
        self.recorder = recorder

    def _conn(self, port: int) -> http.client.HTTPConnection:
        conns: dict[int, http.client.HTTPConnection] = self.local.__dict__.setdefault("c", {})
        if port not in conns:
            conns[port] = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
        return conns[port]

    def _drop(self, port: int) -> None:
        conns: dict[int, http.client.HTTPConnection] = self.local.__dict__.setdefault("c", {})
        conn = conns.pop(port, None)
        if conn is not None:
            conn.close()

    def request(
        self,
        kind: str,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        port = self.ports[next(self.turn) % len(self.ports)]
        t0 = time.perf_counter()
        for attempt in (0, 1):
            conn = self._conn(port)
            try:
                conn.request(method, path, body=body, headers=headers or {})
                response = conn.getresponse()
                data = response.read()
            except (http.client.RemoteDisconnected, ConnectionError, http.client.BadStatusLine):
                self._drop(port)
                if attempt == 0 and method in ("GET", "HEAD"):
                    continue
                self.recorder.sample(kind, time.perf_counter() - t0)
                self.recorder.error(f"{kind}: connection error", path)
                return Reply(0, {}, b"")
            if response.will_close:
                self._drop(port)
            self.recorder.sample(kind, time.perf_counter() - t0)
            return Reply(response.status, dict(response.getheaders()), data)
        raise AssertionError("unreachable")


class Phone:
    """A phone (or a browser) of one user: logs in, refreshes when its token expires,
    uploads by tus, and syncs as WatermelonDB does (pull, then push)."""

    def __init__(self, web: Web, username: str, ip: str, label: str) -> None:
        self.web = web
        self.username = username
        self.ip = ip  # behind one trusted proxy (PROXY_COUNT=1): the phone's own address
        self.device_id = f"{label}-{uuid.uuid4().hex[:12]}"
        self.boot_id = f"boot-{uuid.uuid4().hex[:8]}"
        # Booted 4–20 days ago and not since: what it captured on the day and what it
        # pushes now share one boot, so the server dates the punch by time-since-boot.
        self.boot_ms = time.time() * 1000 - random.randrange(4 * 86_400_000, 20 * 86_400_000)
        self.access = ""
        self.refresh = ""
        self.last_pulled_at: int | None = None
        self.pulled: dict[str, Any] = {}

    @property
    def rec(self) -> Recorder:
        return self.web.recorder

    def _headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self.access}",
            "X-Forwarded-For": self.ip,
            **(extra or {}),
        }

    def login(self) -> bool:
        body = json.dumps(
            {
                "username": self.username,
                "password": PASSWORD,
                "device_id": self.device_id,
                "device_name": "HUAWEI ALN-AL00",
            }
        ).encode()
        reply = self.web.request(
            "login",
            "POST",
            "/api/v1/auth/login",
            body,
            {"Content-Type": "application/json", "X-Forwarded-For": self.ip},
        )
        if reply.status != 200:
            self.rec.error(f"login: {reply.status} {reply.code}", reply.body.decode()[:300])
            return False
        data = reply.json()
        self.access, self.refresh = data["access_token"], data["refresh_token"]
        return True

    def _refresh(self) -> bool:
        body = json.dumps({"refresh_token": self.refresh, "device_id": self.device_id}).encode()
        reply = self.web.request(
            "refresh",
            "POST",
            "/api/v1/auth/refresh",
            body,
            {"Content-Type": "application/json", "X-Forwarded-For": self.ip},
        )
        if reply.status != 200:
            self.rec.error(f"refresh: {reply.status} {reply.code}", reply.body.decode()[:300])
            return False
        data = reply.json()
        self.access, self.refresh = data["access_token"], data["refresh_token"]
        return True

    def call(
        self,
        kind: str,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        """One authenticated request; an expired access token is refreshed and the
        request sent again (as the app does), and that is not an error."""
        reply = self.web.request(kind, method, path, body, self._headers(headers))
        if reply.status == 401 and reply.code == "token_expired":
            self.rec.note("access token expired → refreshed")
            if self._refresh():
                reply = self.web.request(kind, method, path, body, self._headers(headers))
        return reply

    # sync ---------------------------------------------------------------------------------
    def pull(self) -> bool:
        cursor = "null" if self.last_pulled_at is None else str(self.last_pulled_at)
        reply = self.call(
            "sync pull",
            "GET",
            f"/api/v1/sync?last_pulled_at={cursor}&schema_version={SCHEMA}&migration=null",
        )
        if reply.status != 200:
            self.rec.error(f"sync pull: {reply.status} {reply.code}", reply.body.decode()[:300])
            return False
        data = reply.json()
        for table, changes in data["changes"].items():
            rows = self.pulled.setdefault(table, {})
            for row in changes["updated"]:
                rows[row["id"]] = row
            for record_id in changes["deleted"]:
                rows.pop(record_id, None)
        self.last_pulled_at = data["timestamp"]
        return True

    def push(
        self, kind: str, changes: dict[str, Any], *, replay: bool = False
    ) -> dict[str, Any] | None:
        """Push; a 409 is answered the way the app does: pull, then push again."""
        body = json.dumps(changes).encode()
        total = sum(len(c["created"]) + len(c["updated"]) for c in changes.values())
        for attempt in (0, 1):
            now = time.time() * 1000
            reply = self.call(
                kind,
                "POST",
                f"/api/v1/sync?last_pulled_at={self.last_pulled_at or 0}&schema_version={SCHEMA}",
                body,
                {
                    "Content-Type": "application/json",
                    "X-Device-Id": self.device_id,
                    "X-Device-Time": str(int(now)),
                    "X-Device-Elapsed": str(int(now - self.boot_ms)),
                    "X-Device-Boot": self.boot_id,
                },
            )
            if reply.status == 409 and attempt == 0:
                self.rec.note(f"{kind}: 409 → pulled and pushed again")
                if not self.pull():
                    return None
                continue
            if reply.status != 200:
                self.rec.error(f"{kind}: {reply.status} {reply.code}", reply.body.decode()[:300])
                return None
            result: dict[str, Any] = reply.json()
            expected = ("unchanged", total) if replay else ("applied", total)
            if result.get(expected[0]) != expected[1] or result.get("quarantined"):
                self.rec.error(
                    f"{kind}: unexpected outcome", json.dumps(result, ensure_ascii=False)[:300]
                )
            elif not replay:
                self.rec.add_records(total)
            return result
        return None

    # tus ----------------------------------------------------------------------------------
    def upload(self, photo_id: str, data: bytes) -> str | None:
        """tus: POST (creation), then one PATCH with the bytes; the sha256 hex."""
        sha = hashlib.sha256(data).hexdigest()

        def b64(value: str) -> str:
            return base64.b64encode(value.encode()).decode()

        meta = ",".join(
            f"{k} {b64(v)}"
            for k, v in (
                ("photo_id", photo_id),
                ("sha256", sha),
                ("content_type", "image/jpeg"),
                ("filename", f"{photo_id}.jpg"),
            )
        )
        reply = self.call(
            "tus create",
            "POST",
            "/api/v1/uploads",
            None,
            {"Tus-Resumable": "1.0.0", "Upload-Length": str(len(data)), "Upload-Metadata": meta},
        )
        if reply.status != 201:
            self.rec.error(f"tus create: {reply.status} {reply.code}", reply.body.decode()[:300])
            return None
        location = reply.headers.get("Location", "")
        path = "/" + location.split("://", 1)[-1].split("/", 1)[-1]
        reply = self.call(
            "tus patch",
            "PATCH",
            path,
            data,
            {
                "Tus-Resumable": "1.0.0",
                "Upload-Offset": "0",
                "Content-Type": "application/offset+octet-stream",
            },
        )
        if reply.status != 204:
            self.rec.error(f"tus patch: {reply.status} {reply.code}", reply.body.decode()[:300])
            return None
        self.rec.note("photos uploaded")
        return sha


def check_in_record(
    t: TeacherPlan,
    record_id: str,
    kind: str,
    captured: int,
    phone: Phone,
    photo: tuple[str, str] | None,
) -> dict[str, Any]:
    jitter = (t.index % 17 - 8) * 2e-5
    return {
        "id": record_id,
        "kind": kind,
        "captured_at": captured,
        "latitude": round(t.lat + jitter, 6),
        "longitude": round(t.lon - jitter, 6),
        "accuracy_m": 8.0 + t.index % 15,
        "coord_system": "wgs84",
        "mock_location": False,
        "photo_id": photo[0] if photo else None,
        "photo_sha256": photo[1] if photo else None,
        "elapsed_ms": int(captured - phone.boot_ms),
        "boot_id": phone.boot_id,
        "note": "",
    }


def changes_of(table: str, created: list[dict[str, Any]]) -> dict[str, Any]:
    return {table: {"created": created, "updated": [], "deleted": []}}


# --- queue depths --------------------------------------------------------------------------


@dataclass
class Depth:
    t: float
    phase: str
    rq_queued: int
    rq_started: int
    rq_failed: int
    outbox: int
    photos_pending: int


class DepthSampler:
    """Samples RQ's queue and registries (Redis) and the outbox and unprocessed photos
    (PostgreSQL) every ``interval`` seconds."""

    def __init__(self, redis_port: int, dsn: str, recorder: Recorder, interval: float) -> None:
        from redis import Redis

        self.redis = Redis(host="127.0.0.1", port=redis_port)
        self.dsn = dsn
        self.recorder = recorder
        self.interval = interval
        self.samples: list[Depth] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.t0 = time.perf_counter()

    def read(self, conn: psycopg.Connection[Any]) -> Depth:
        outbox, photos = conn.execute(
            "SELECT (SELECT count(*) FROM job_outbox WHERE relayed_at IS NULL),"
            " (SELECT count(*) FROM media_photos WHERE processed_at IS NULL)"
        ).fetchone() or (0, 0)
        pipe = self.redis.pipeline()
        pipe.llen(QUEUE_KEY)
        pipe.zcard("rq:wip:ucomm")
        pipe.zcard("rq:failed:ucomm")
        queued, started, failed = pipe.execute()
        return Depth(
            time.perf_counter() - self.t0,
            self.recorder.phase,
            int(queued),
            int(started),
            int(failed),
            int(outbox),
            int(photos),
        )

    def _run(self) -> None:
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            while not self.stop.is_set():
                with contextlib.suppress(Exception):
                    self.samples.append(self.read(conn))
                self.stop.wait(self.interval)

    def __enter__(self) -> DepthSampler:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        self.thread.join(timeout=5)


# --- the day -------------------------------------------------------------------------------


@dataclass
class PhaseResult:
    name: str
    seconds: float
    requests: int
    records: int
    what: str
    cpu: dict[str, float] = field(default_factory=dict)


class Day:
    def __init__(self, web: Web, county: County, day: date, concurrency: int) -> None:
        self.web = web
        self.county = county
        self.day = day
        self.concurrency = concurrency
        self.phones: dict[int, Phone] = {}
        self.sent_check_ins: dict[str, tuple[uuid.UUID, str]] = {}
        self.sent_leave: dict[str, TeacherPlan] = {}
        self.sent_visits: dict[str, list[tuple[str, str]]] = {}
        self.uploaded: set[tuple[str, str]] = set()  # (username, photo_id)
        self.decided: dict[str, str] = {}  # leave id -> approved | rejected
        self.lock = threading.Lock()
        self.results: list[PhaseResult] = []
        self.cpu_pids: Callable[[], dict[str, list[int]]] = dict

    @property
    def rec(self) -> Recorder:
        return self.web.recorder

    def phase(self, name: str, what: str, items: list[Any], fn: Callable[[Any], None]) -> None:
        self.rec.phase = name
        n0 = len(self.rec.samples)
        cpu0 = self._cpu()
        t0 = time.perf_counter()
        with concurrent.futures.ThreadPoolExecutor(self.concurrency) as pool:
            for future in [pool.submit(fn, item) for item in items]:
                try:
                    future.result()
                except Exception as exc:  # a client bug must not hide behind the figures
                    self.rec.error(f"{name}: client exception {type(exc).__name__}", repr(exc))
        seconds = time.perf_counter() - t0
        cpu1 = self._cpu()
        cores = {k: (cpu1.get(k, 0) - cpu0.get(k, 0)) / seconds for k in cpu1}
        cores["other"] = max(0.0, cores["box"] - sum(v for k, v in cores.items() if k != "box"))
        result = PhaseResult(
            name,
            seconds,
            len(self.rec.samples) - n0,
            self.rec.records[name],
            what,
            cores,
        )
        self.results.append(result)
        log(
            f"{name}: {result.requests:,} requests in {seconds:.1f} s "
            f"({result.requests / seconds:,.0f} req/s), {result.records:,} records"
        )

    def _cpu(self) -> dict[str, float]:
        tick = os.sysconf("SC_CLK_TCK")
        out: dict[str, float] = {}
        for name, pids in self.cpu_pids().items():
            out[name] = sum(_cpu_ticks(p) for p in pids) / tick
        out["client"] = sum(os.times()[:2])
        values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
        out["box"] = (sum(values) - values[3] - values[4]) / tick
        return out

    # phases -------------------------------------------------------------------------------
    def phone_of(self, t: TeacherPlan) -> Phone:
        return self.phones[t.index]

    def login(self, t: TeacherPlan) -> None:
        ip = f"10.{t.index // 65536 % 256}.{t.index // 256 % 256}.{t.index % 256}"
        phone = Phone(self.web, t.username, ip, "phone")
        with self.lock:
            self.phones[t.index] = phone
        if phone.login():
            phone.pull()

    def morning(self, t: TeacherPlan) -> None:
        phone = self.phone_of(t)
        if not phone.access or t.fate == "absent":
            return
        if t.fate == "leave":
            record_id = f"lv-{t.index:06d}-{self.day:%Y%m%d}"
            leave = {
                "id": record_id,
                "leave_type": "sick",
                "start_on": self.day.isoformat(),
                "start_half": "am",
                "end_on": self.day.isoformat(),
                "end_half": "pm",
                "reason": "发烧，去县医院看病",
                "attachment_ids": "[]",
                "status": None,
            }
            phone.pull()
            if phone.push("sync push leave", changes_of("leave_requests", [leave])) is not None:
                with self.lock:
                    self.sent_leave[record_id] = t
            return
        photo_id = f"ph-{t.index:06d}-{self.day:%Y%m%d}-in"
        sha = phone.upload(photo_id, t.photo)
        if sha is not None:
            with self.lock:
                self.uploaded.add((t.username, photo_id))
        record_id = f"ci-{t.index:06d}-{self.day:%Y%m%d}-in"
        record = check_in_record(
            t, record_id, "in", t.in_at, phone, (photo_id, sha) if sha else None
        )
        phone.pull()
        changes = changes_of("check_ins", [record])
        if phone.push("sync push check-in", changes) is not None:
            with self.lock:
                self.sent_check_ins[record_id] = (t.teacher_id, "in")
            if t.replay_in:
                phone.push("sync push replay", changes, replay=True)
                self.rec.note("replayed pushes")

    def approvals(self, school_id: uuid.UUID) -> None:
        # Each admin at their own school's address (the login limit is per address).
        n = sorted(self.county.host_admins).index(school_id)
        admin = Phone(
            self.web,
            self.county.host_admins[school_id],
            f"10.250.{n // 250}.{n % 250 + 1}",
            "browser",
        )
        if not admin.login():
            return
        reply = admin.call(
            "leave list",
            "GET",
            f"/api/v1/leave-requests?status=pending&host_school_id={school_id}&limit=200",
        )
        if reply.status != 200:
            self.rec.error(f"leave list: {reply.status} {reply.code}", reply.body.decode()[:300])
            return
        for item in reply.json()["items"]:
            t = self.sent_leave.get(item["id"])
            if t is None:
                self.rec.error("leave list: unknown request", item["id"])
                continue
            verb = "approve" if t.approve else "reject"
            note = "同意" if t.approve else "未附病假证明，请补交后重新申请"
            reply = admin.call(
                f"leave {verb}",
                "POST",
                f"/api/v1/leave-requests/{item['id']}/{verb}",
                json.dumps({"note": note}).encode(),
                {"Content-Type": "application/json"},
            )
            if reply.status != 200:
                self.rec.error(
                    f"leave {verb}: {reply.status} {reply.code}", reply.body.decode()[:300]
                )
                continue
            with self.lock:
                self.decided[item["id"]] = "approved" if t.approve else "rejected"
            self.rec.add_records(1)

    def inspect(
        self, username: str, photos: Iterator[bytes], fates: dict[str, TeacherPlan]
    ) -> None:
        n = self.county.inspectors.index(username)
        phone = Phone(self.web, username, f"10.251.{n // 250}.{n % 250 + 1}", "inspector")
        if not phone.login() or not phone.pull():
            return
        checks = sorted(phone.pulled.get("spot_checks", {}).values(), key=lambda c: c["id"])
        for n, check in enumerate(checks):
            shots = []
            for k in range(2):  # the scene, and the school representative's signature
                photo_id = f"v-{username}-{n:03d}-{k}"
                with self.lock:
                    data = next(photos)
                if phone.upload(photo_id, data) is not None:
                    with self.lock:
                        self.uploaded.add((username, photo_id))
                    shots.append(photo_id)
            findings = []
            for teacher in json.loads(check["teachers"]):
                t = fates[teacher["teacher_id"]]
                finding = {
                    "absent": "absent_without_leave",
                    "leave": "on_approved_leave" if t.approve else "absent_without_leave",
                }.get(t.fate, "present_teaching")
                findings.append(
                    {"teacher_id": teacher["teacher_id"], "finding": finding, "note": ""}
                )
            record_id = f"vis-{username}-{n:03d}"
            school_lat, school_lon = check["school_latitude"], check["school_longitude"]
            arrived = at(self.day, 9, 30) + (n * 47 + len(username)) % 5400 * 1000
            visit = {
                "id": record_id,
                "spot_check_id": check["id"],
                "arrived_at": arrived,
                "elapsed_ms": int(arrived - phone.boot_ms),
                "boot_id": phone.boot_id,
                "latitude": school_lat,
                "longitude": school_lon,
                "accuracy_m": 10.0,
                "coord_system": "wgs84",
                "mock_location": False,
                "photo_ids": json.dumps(shots[:1]),
                "signature_photo_id": shots[1] if len(shots) > 1 else None,
                "findings": json.dumps(findings, ensure_ascii=False),
                "note": "随机抽查，教师在岗情况已核对",
            }
            phone.pull()
            if phone.push("sync push visit", changes_of("spot_check_visits", [visit])) is not None:
                with self.lock:
                    self.sent_visits[record_id] = [
                        (f["teacher_id"], f["finding"]) for f in findings
                    ]

    def afternoon(self, t: TeacherPlan) -> None:
        phone = self.phone_of(t)
        if not phone.access or t.out_at is None:
            return
        record_id = f"ci-{t.index:06d}-{self.day:%Y%m%d}-out"
        record = check_in_record(t, record_id, "out", t.out_at, phone, None)
        phone.pull()
        changes = changes_of("check_ins", [record])
        if phone.push("sync push check-out", changes) is not None:
            with self.lock:
                self.sent_check_ins[record_id] = (t.teacher_id, "out")
            if t.replay_out:
                phone.push("sync push replay", changes, replay=True)
                self.rec.note("replayed pushes")


# --- waiting on the workers ----------------------------------------------------------------


def wait_drained(
    sampler: DepthSampler,
    dsn: str,
    timeout: float,
    what: str,
    extra: Callable[[psycopg.Connection[Any]], bool] | None = None,
) -> float:
    """Until the outbox, the RQ queue and its started registry are empty, every photo is
    processed and ``extra`` holds, three samples in a row."""
    t0 = time.perf_counter()
    calm = 0
    with psycopg.connect(dsn, autocommit=True) as conn:
        while time.perf_counter() - t0 < timeout:
            d = sampler.read(conn)
            done = not (d.rq_queued or d.rq_started or d.outbox or d.photos_pending)
            if done and (extra is None or extra(conn)):
                calm += 1
                if calm >= 3:
                    return time.perf_counter() - t0 - 0.5
            else:
                calm = 0
            time.sleep(0.25)
    log(f"{what}: not drained after {timeout:.0f} s")
    return -1.0


def job_durations(redis_port: int) -> dict[str, list[float]]:
    """Seconds each finished job ran, by function, from RQ's job hashes (results are kept
    for an hour: every job of the run is still there)."""
    from redis import Redis

    redis = Redis(host="127.0.0.1", port=redis_port)
    out: dict[str, list[float]] = defaultdict(list)
    for key in redis.scan_iter("rq:job:*", count=1000):
        desc, started, ended = (
            v.decode() if isinstance(v, bytes) else v
            for v in redis.hmget(key, "description", "started_at", "ended_at")
        )
        if not (desc and started and ended):
            continue
        try:
            t0, t1 = (datetime.fromisoformat(v.replace("Z", "+00:00")) for v in (started, ended))
        except ValueError:
            continue
        name = desc.split("(", 1)[0].rsplit(".", 1)[-1]
        out[name].append((t1 - t0).total_seconds())
    return out


# --- checks --------------------------------------------------------------------------------


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


def _verify_audit_chain(dsn: str) -> dict[str, Any]:
    """``flask audit verify``'s walk, run here on the scratch database."""
    import sqlalchemy as sa
    from sqlalchemy.orm import Session

    from backend.audit.verify import verify

    engine = sa.create_engine(sa.engine.make_url(dsn).set(drivername="postgresql+psycopg"))
    try:
        with Session(engine) as session:
            return verify(session).as_dict()
    finally:
        engine.dispose()


def totals_check(
    dsn: str, day_: Day, county: County, month: date
) -> tuple[list[Check], dict[str, Any]]:
    checks: list[Check] = []
    info: dict[str, Any] = {}
    teachers = {t.teacher_id: t for t in county.teachers}
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT id, teacher_id, kind, photo_state, flags, deleted_at IS NOT NULL FROM check_ins"
        ).fetchall()
        stored = {r[0]: (r[1], r[2]) for r in rows}
        sent = day_.sent_check_ins
        missing = sorted(set(sent) - set(stored))
        extra = sorted(set(stored) - set(sent))
        per_teacher_kind = Counter((r[1], r[2]) for r in rows if not r[5])
        dupes = sum(1 for n in per_teacher_kind.values() if n > 1)
        checks.append(
            Check(
                "check-ins stored = sent (no loss, no duplicates after replays)",
                not missing
                and not extra
                and dupes == 0
                and all(stored[k] == v for k, v in sent.items() if k in stored),
                f"{len(stored):,} stored, {len(sent):,} sent, {len(missing)} missing, "
                f"{len(extra)} unexpected, {dupes} teacher-kinds twice",
            )
        )
        # The audit trail: one insert event per stored check-in, and an unbroken chain.
        inserted = Counter(
            r[0]
            for r in conn.execute(
                "SELECT record_id FROM audit_events"
                " WHERE table_name = 'check_ins' AND action = 'insert'"
            )
        )
        verification = _verify_audit_chain(dsn)
        checks.append(
            Check(
                "audit trail: one insert event per check-in; the hash chain verifies",
                set(inserted) == set(stored)
                and all(n == 1 for n in inserted.values())
                and verification["intact"],
                f"{sum(inserted.values()):,} insert events for {len(stored):,} check-ins; chain"
                f" of {verification['events']:,} events "
                + ("intact" if verification["intact"] else f"broken: {verification}"),
            )
        )
        photo_states = Counter(r[3] for r in rows if r[3] is not None)
        with_photo = sum(1 for k, v in sent.items() if v[1] == "in")
        checks.append(
            Check(
                "check-in photos verified",
                photo_states.get("verified", 0) == with_photo,
                ", ".join(f"{k} {v:,}" for k, v in sorted(photo_states.items())) or "none",
            )
        )
        stuck = conn.execute(
            "SELECT c.id, c.photo_state, c.received_at, p.created_at, p.processed_at"
            " FROM check_ins c JOIN users u ON u.teacher_id = c.teacher_id"
            " JOIN media_photos p ON p.owner_id = u.id AND p.photo_id = c.photo_id"
            " WHERE c.photo_state <> 'verified' AND p.status = 'valid'"
            " ORDER BY c.received_at"
        ).fetchall()
        if stuck:
            info["check-ins not verified though their photo is valid"] = "; ".join(
                f"{i} {st}: photo stored {(pc - rc).total_seconds():+.2f} s and processed"
                f" {(pp - rc).total_seconds():+.2f} s from the push's receipt"
                for i, st, rc, pc, pp in stuck[:6]
            )
        flags = Counter(f["code"] for r in rows for f in (r[4] or []))
        info["check-in flags"] = dict(sorted(flags.items()))

        photos = conn.execute(
            "SELECT status, count(*), count(processed_at) FROM media_photos GROUP BY status"
        ).fetchall()
        by_status = {s: (n, p) for s, n, p in photos}
        total_photos = sum(n for n, _ in by_status.values())
        checks.append(
            Check(
                "photos stored and processed = uploaded",
                total_photos == len(day_.uploaded)
                and by_status.get("valid", (0, 0))[1] == len(day_.uploaded),
                f"{total_photos:,} stored, {len(day_.uploaded):,} uploaded, "
                + ", ".join(
                    f"{s} {n:,} ({p:,} processed)" for s, (n, p) in sorted(by_status.items())
                ),
            )
        )
        info["photos processed"] = by_status.get("valid", (0, 0))[1]

        visits = conn.execute(
            "SELECT v.id, v.status, v.flags,"
            " (SELECT count(*) FROM spot_check_findings f WHERE f.visit_id = v.id),"
            " (SELECT count(*) FROM spot_check_findings f WHERE f.visit_id = v.id"
            "   AND f.discrepancies::text <> '[]')"
            " FROM spot_check_visits v WHERE v.deleted_at IS NULL"
        ).fetchall()
        stored_visits = {r[0] for r in visits}
        findings_sent = sum(len(f) for f in day_.sent_visits.values())
        findings_stored = sum(r[3] for r in visits)
        checks.append(
            Check(
                "visits stored = sent (findings too)",
                stored_visits == set(day_.sent_visits) and findings_sent == findings_stored,
                f"{len(stored_visits)} visits stored, {len(day_.sent_visits)} sent; findings "
                f"{findings_stored} stored, {findings_sent} sent",
            )
        )
        info["visit flags"] = dict(
            Counter(f["code"] for r in visits for f in (r[2] or [])).most_common()
        )
        info["findings with discrepancies"] = sum(r[4] for r in visits)

        quarantined = conn.execute(
            "SELECT table_name, reason, min(detail), count(*) FROM sync_quarantine"
            " GROUP BY table_name, reason"
        ).fetchall()
        checks.append(
            Check(
                "nothing quarantined",
                not quarantined,
                "; ".join(f"{t} {r} ×{n}: {d[:160]}" for t, r, d, n in quarantined) or "0",
            )
        )
        leaves: dict[str, str] = dict(
            conn.execute("SELECT id, status FROM leave_requests").fetchall()
        )
        wrong = [k for k, v in day_.decided.items() if leaves.get(k) != v]
        checks.append(
            Check(
                "leave requests stored = filed, decisions stored",
                set(leaves) == set(day_.sent_leave)
                and not wrong
                and len(day_.decided) == len(day_.sent_leave),
                f"{len(leaves)} stored, {len(day_.sent_leave)} filed, {len(day_.decided)} "
                f"decided, {len(wrong)} with another status",
            )
        )

        runs = conn.execute(
            "SELECT status, count(*) FROM report_runs WHERE month = %s GROUP BY status", (month,)
        ).fetchall()
        info["report runs"] = dict(runs)
        timing = conn.execute(
            "SELECT min(created_at), min(started_at), max(finished_at) FROM report_runs"
            " WHERE month = %s",
            (month,),
        ).fetchone()
        if timing and timing[0] and timing[2]:
            info["report runs' time"] = (
                f"queued → started {(timing[1] - timing[0]).total_seconds():.1f} s, "
                f"started → finished {(timing[2] - timing[1]).total_seconds():.1f} s"
            )
        reports = conn.execute(
            "SELECT school_id, version, rows FROM host_month_reports"
            " WHERE month = %s AND is_current",
            (month,),
        ).fetchall()
        hosts = {t.host_school_id for t in county.teachers}
        info["report versions"] = dict(Counter(r[1] for r in reports))
        report_rows: dict[uuid.UUID, dict[str, Any]] = {}
        twice = 0
        for _school, _version, rows_json in reports:
            for row in rows_json if isinstance(rows_json, list) else json.loads(rows_json):
                tid = uuid.UUID(row["teacher_id"])
                twice += tid in report_rows
                report_rows[tid] = row
        checks.append(
            Check(
                "one current report per host school; report rows = teachers",
                {r[0] for r in reports} == hosts
                and set(report_rows) == set(teachers)
                and twice == 0
                and not any(s == "failed" for s, _ in runs),
                f"{len(reports)} reports for {len(hosts)} host schools, {len(report_rows):,} "
                f"rows for {len(teachers):,} teachers, {twice} twice",
            )
        )
        mismatched: list[str] = []
        for tid, t in teachers.items():
            row = report_rows.get(tid)
            if row is None:
                continue
            leave_id = next((k for k, v in day_.sent_leave.items() if v is t), "")
            want = expected_row(t, day_.decided.get(leave_id) == "approved")
            got = {k: row.get(k) for k in want}
            got["leave_days"] = {k: float(v) for k, v in (row.get("leave_days") or {}).items() if v}
            if got != want:
                mismatched.append(f"{t.username} ({t.fate}): want {want}, got {got}")
        checks.append(
            Check(
                "each teacher's day in the roll-up = what was pushed and decided",
                not mismatched,
                f"{len(teachers) - len(mismatched):,} of {len(teachers):,} match"
                + (f"; e.g. {mismatched[0]}" if mismatched else ""),
            )
        )
        info["fates"] = dict(Counter(t.fate for t in county.teachers).most_common())
    return checks, info


# --- the report ----------------------------------------------------------------------------


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f}" if seconds >= 0.1 else f"{seconds * 1000:.1f}"


def print_report(
    args: argparse.Namespace,
    county: County,
    day: date,
    day_: Day,
    rec: Recorder,
    sampler: DepthSampler,
    checks: list[Check],
    info: dict[str, Any],
    timings: dict[str, float],
) -> None:
    print()
    print(
        f"Scale-out run, {git_revision()}, {datetime.now():%Y-%m-%d %H:%M}, "
        f"{os.cpu_count()} cores; the day: {day:%a %Y-%m-%d} (synced now)"
    )
    print(
        f"shape: {args.web} gunicorn master(s) × {args.web_workers} sync worker(s), "
        f"{args.rq_workers} rq worker(s) "
        f"{'(forking Worker)' if args.rq_worker_class == 'fork' else args.rq_worker_class}, "
        f"PostgreSQL, redis-server, moto S3; client: {args.concurrency} threads"
    )
    print(
        f"county: {len(county.teachers):,} teachers, {county.schools} schools in "
        f"{county.communities} communities, {len(county.inspectors)} inspectors, "
        f"{county.spot_checks} spot checks of {county.drawn_teachers} teachers; "
        f"seeded in {county.seconds:.1f} s"
    )
    print()
    print(
        f"{'phase':<22}{'wall s':>8}{'requests':>10}{'req/s':>8}{'records':>9}{'rec/s':>8}"
        f"  CPU cores: web / rq / postgres / redis+s3 / client / other"
    )
    for r in day_.results:
        cpu = r.cpu
        print(
            f"{r.name:<22}{r.seconds:>8.1f}{r.requests:>10,}{r.requests / r.seconds:>8.0f}"
            f"{r.records:>9,}{r.records / r.seconds:>8.0f}  "
            f"{cpu.get('web', 0):.2f} / {cpu.get('rq', 0):.2f} / {cpu.get('postgres', 0):.2f}"
            f" / {cpu.get('redis+s3', 0):.2f}"
            f" / {cpu.get('client', 0):.2f} / {cpu.get('other', 0):.2f}   {r.what}"
        )
    for name, seconds in timings.items():
        print(f"{name:<22}{seconds:>8.1f}")
    print()
    print(f"{'request kind':<24}{'n':>7}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'max ms':>9}")
    by_kind: dict[str, list[float]] = defaultdict(list)
    for s in rec.samples:
        by_kind[s.kind].append(s.seconds)
    for kind, values in sorted(by_kind.items(), key=lambda kv: -len(kv[1])):
        print(
            f"{kind:<24}{len(values):>7,}{ms(percentile(values, 0.5)):>9}"
            f"{ms(percentile(values, 0.95)):>9}{ms(percentile(values, 0.99)):>9}"
            f"{ms(max(values)):>9}"
        )
    print()
    print(f"queue depths (sampled every {sampler.interval:g} s): max [mean] per phase")
    print(f"{'phase':<22}{'rq queued':>14}{'rq started':>14}{'outbox':>14}{'photos todo':>14}")
    by_phase: dict[str, list[Depth]] = defaultdict(list)
    for d in sampler.samples:
        by_phase[d.phase].append(d)
    for phase, ds in by_phase.items():

        def cell(values: list[int]) -> str:
            return f"{max(values):,} [{sum(values) / len(values):,.0f}]"

        print(
            f"{phase:<22}{cell([d.rq_queued for d in ds]):>14}"
            f"{cell([d.rq_started for d in ds]):>14}{cell([d.outbox for d in ds]):>14}"
            f"{cell([d.photos_pending for d in ds]):>14}"
        )
    if sampler.samples:
        step = max(1, len(sampler.samples) // 16)
        line = "  ".join(
            f"{d.t:.0f}s:{d.rq_queued}/{d.photos_pending}" for d in sampler.samples[::step]
        )
        print(f"timeline (s: rq queued / photos to process): {line}")
        print(f"rq failed registry at the end: {sampler.samples[-1].rq_failed}")
    print()
    total_errors = sum(rec.errors.values())
    print(f"errors: {total_errors} (target 0)")
    for key, n in rec.errors.most_common():
        print(f"  {n:>6}  {key}   e.g. {rec.error_examples[key]}")
    for key, n in sorted(rec.notes.items()):
        print(f"  note: {key}: {n:,}")
    print()
    for key, value in info.items():
        print(f"{key}: {value}")
    print()
    width = max(len(c.name) for c in checks)
    for c in checks:
        print(f"{'PASS' if c.ok else 'FAIL'}  {c.name:<{width}}  {c.detail}")


# --- main ----------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from backend.clock import today

    day = last_workday_of_last_month(today())
    month = day.replace(day=1)
    db_name = f"ucomm_scale_{os.getpid()}"
    dsn = with_database(args.pg, db_name)
    sa_url = dsn.replace("postgresql://", "postgresql+psycopg://", 1)
    secret = secrets.token_urlsafe(48)
    work = Path(tempfile.mkdtemp(prefix="ucomm_scale_"))
    procs = Processes(work)
    created = False
    started = time.perf_counter()

    def on_signal(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, on_signal)
    try:
        # services ------------------------------------------------------------------------
        redis_port, s3_port = free_port(), free_port()
        procs.start(
            "redis",
            [
                "redis-server",
                "--port",
                str(redis_port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(work),
            ],
            dict(os.environ),
        )
        s3_env = {
            **os.environ,
            "AWS_ACCESS_KEY_ID": "scale",
            "AWS_SECRET_ACCESS_KEY": "scale",
            "AWS_DEFAULT_REGION": "us-east-1",
        }
        procs.start(
            "moto",
            [
                str(Path(sys.executable).parent / "moto_server"),
                "-H",
                "127.0.0.1",
                "-p",
                str(s3_port),
            ],
            s3_env,
        )
        log(f"creating database {db_name}")
        create_database(args.pg, db_name)
        created = True
        from backend.cli import upgrade_database
        from backend.db import database_of

        app = make_app(sa_url, work / "seed-instance", secret)
        t0 = time.perf_counter()
        with database_of(app).engine.begin() as connection:
            upgrade_database(connection)
        log(f"migrated in {time.perf_counter() - t0:.1f} s")
        wait_port(redis_port, procs, "redis-server")
        wait_port(s3_port, procs, "moto_server")
        import boto3

        boto3.client(
            "s3",
            endpoint_url=f"http://127.0.0.1:{s3_port}",
            region_name="us-east-1",
            aws_access_key_id="scale",
            aws_secret_access_key="scale",  # noqa: S106 - moto accepts any
        ).create_bucket(Bucket=BUCKET)

        # the county ------------------------------------------------------------------------
        log(f"seeding {args.teachers:,} teachers (the day: {day})")
        county = seed_county(app, args.teachers, day, secret)
        database_of(app).engine.dispose()
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("ANALYZE")
        plan_day(county, day, args.seed)
        with_photos = [t for t in county.teachers if t.fate not in ("absent", "leave")]
        visit_photos = 2 * county.spot_checks * 2 + 8  # two inspectors, two photos each
        t0 = time.perf_counter()
        photos = make_photos(
            [(args.seed + t.index, t.in_at) for t in with_photos]
            + [(args.seed + 10_000_000 + i, at(day, 10, 0)) for i in range(visit_photos)]
        )
        for t, data in zip(with_photos, photos, strict=False):
            t.photo = data
        visit_iter = iter(photos[len(with_photos) :])
        mean_kb = sum(map(len, photos)) / len(photos) / 1024
        log(
            f"made {len(photos):,} photos ({PHOTO_SIZE[0]}×{PHOTO_SIZE[1]}, {mean_kb:.0f} KB "
            f"on average) in {time.perf_counter() - t0:.1f} s"
        )

        # the production shape --------------------------------------------------------------
        metrics_token = secrets.token_urlsafe(24)
        env = {
            **s3_env,
            "APP_ENV": "production",
            "SECRET_KEY": secret,
            "DATABASE_URL": dsn,
            "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
            "MEDIA_STORAGE": "s3",
            "S3_BUCKET": BUCKET,
            "S3_ENDPOINT_URL": f"http://127.0.0.1:{s3_port}",
            "S3_REGION": "us-east-1",
            "INSTANCE_PATH": str(work / "instance"),
            "MEDIA_ROOT": str(work / "media"),
            "PROXY_COUNT": "1",
            "METRICS_TOKEN": metrics_token,
            "LOG_FORMAT": "json",
            # The month's reports are due from the 1st, so the run works any day.
            "REPORT_TALLY_DAY": "1",
            "PYTHONPATH": str(ROOT),
        }
        ports = [free_port() for _ in range(args.web)]
        for n, port in enumerate(ports):
            procs.start(
                f"gunicorn{n}",
                [
                    sys.executable,
                    "-m",
                    "gunicorn",
                    "-w",
                    str(args.web_workers),
                    "-b",
                    f"127.0.0.1:{port}",
                    "--timeout",
                    "120",
                    *args.gunicorn_args.split(),
                    "wsgi:app",
                ],
                env,
            )
        rq_cmd = [
            str(Path(sys.executable).parent / "rq"),
            "worker",
            "--url",
            env["REDIS_URL"],
            "--serializer",
            "rq.serializers.JSONSerializer",
        ]
        if args.rq_worker_class != "fork":
            rq_cmd += ["--worker-class", args.rq_worker_class]
        for n in range(args.rq_workers):
            procs.start(f"rq{n}", [*rq_cmd, "--name", f"scale-{os.getpid()}-{n}", "ucomm"], env)
        for port in ports:
            wait_http(port, "/health/ready", procs)
        log(f"serving on ports {', '.join(map(str, ports))}; redis {redis_port}, S3 {s3_port}")

        def cpu_pids() -> dict[str, list[int]]:
            web = [
                p
                for n in range(args.web)
                for p in [
                    procs.procs[f"gunicorn{n}"].pid,
                    *_children(procs.procs[f"gunicorn{n}"].pid),
                ]
            ]
            rq = [
                p
                for n in range(args.rq_workers)
                for p in [procs.procs[f"rq{n}"].pid, *_children(procs.procs[f"rq{n}"].pid)]
            ]
            pg = []
            with contextlib.suppress(Exception), psycopg.connect(dsn, autocommit=True) as c:
                pg = [
                    r[0]
                    for r in c.execute(
                        "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
                        " AND pid <> pg_backend_pid()"
                    )
                ]
            services = [procs.procs["redis"].pid, procs.procs["moto"].pid]
            return {"web": web, "rq": rq, "postgres": pg, "redis+s3": services}

        # the day ---------------------------------------------------------------------------
        rec = Recorder()
        web = Web(ports, rec)
        day_ = Day(web, county, day, args.concurrency)
        day_.cpu_pids = cpu_pids
        timings: dict[str, float] = {}
        fates = {str(t.teacher_id): t for t in county.teachers}
        with DepthSampler(redis_port, dsn, rec, 0.5) as sampler:
            day_.phase("1 log in + first pull", "every phone", county.teachers, day_.login)
            day_.phase(
                "2 morning check-in",
                "tus photo + push (+5 % replay) or leave",
                county.teachers,
                day_.morning,
            )
            hosts = sorted({t.host_school_id for t in day_.sent_leave.values()})
            day_.phase(
                "3 leave decisions", "host admins: log in, list, decide", hosts, day_.approvals
            )

            def inspect(username: str) -> None:
                day_.inspect(username, visit_iter, fates)

            day_.phase(
                "4 spot-check visits", "pull, 2 photos, push a visit", county.inspectors, inspect
            )
            day_.phase(
                "5 afternoon check-out",
                "pull + push (+3 % replay)",
                county.teachers,
                day_.afternoon,
            )
            rec.phase = "6 drain photo queue"
            timings["6 drain queue (after)"] = wait_drained(
                sampler, dsn, args.drain_timeout, "photo processing"
            )
            log(f"queue drained {timings['6 drain queue (after)']:.1f} s after the last request")
            # The month end, as an operator runs it (nightly cron): housekeeping queues the
            # close of the days and the month's tallies; then wait for the report runs.
            rec.phase = "7 month close"
            t0 = time.perf_counter()
            cli = subprocess.run(
                [sys.executable, "-m", "flask", "--app", "wsgi", "jobs", "housekeeping"],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
            if cli.returncode:
                raise RuntimeError(f"flask jobs housekeeping failed:\n{cli.stderr[-2000:]}")

            def runs_done(conn: psycopg.Connection[Any]) -> bool:
                row = conn.execute(
                    "SELECT count(*), count(*) FILTER (WHERE status IN ('queued', 'running'))"
                    " FROM report_runs WHERE month = %s",
                    (month,),
                ).fetchone()
                return bool(row and row[0] and not row[1])

            wait_drained(sampler, dsn, args.drain_timeout, "month close", runs_done)
            timings["7 month close"] = time.perf_counter() - t0
            log(f"month closed in {timings['7 month close']:.1f} s")
            metrics = web.request(
                "metrics", "GET", "/metrics", None, {"Authorization": f"Bearer {metrics_token}"}
            )
            if metrics.status != 200:
                rec.error(f"metrics: {metrics.status}", metrics.body.decode()[:200])
        checks, info = totals_check(dsn, day_, county, month)
        for name, values in sorted(job_durations(redis_port).items(), key=lambda kv: -sum(kv[1])):
            info[f"RQ job {name}"] = (
                f"n={len(values):,}, p50 {ms(percentile(values, 0.5))} ms, p99 "
                f"{ms(percentile(values, 0.99))} ms, max {ms(max(values))} ms, "
                f"total {sum(values):.1f} s"
            )
        info["/metrics (one worker)"] = " ".join(
            line
            for line in metrics.body.decode().splitlines()
            if line.startswith(("ucomm_outbox_pending", "ucomm_rq_queued", "ucomm_rq_failed"))
        )
        checks.append(Check("errors", not rec.errors, f"{sum(rec.errors.values())} (target 0)"))
        failed = sampler.samples[-1].rq_failed if sampler.samples else -1
        checks.append(
            Check("no failed jobs in RQ", failed == 0, f"{failed} in the failed registry")
        )
        procs.check_alive()
        print_report(args, county, day, day_, rec, sampler, checks, info, timings)
        print(
            f"\ntotal {time.perf_counter() - started:.0f} s; logs in {work}"
            + ("" if args.keep_logs else " (removed)")
        )
        return 0 if all(c.ok for c in checks) else 1
    except KeyboardInterrupt:
        log("interrupted")
        return 130
    except Exception:
        for name in procs.procs:
            log(f"--- last lines of {name}'s log:\n{procs.tail(name, 1500)}")
        raise
    finally:
        procs.stop_all()
        if created:
            with contextlib.suppress(Exception):
                drop_database(args.pg, db_name)
                log(f"dropped {db_name}")
        if not args.keep_logs:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

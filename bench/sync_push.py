"""Sync push/pull throughput on PostgreSQL through gunicorn, against raw baselines.

    python bench/sync_push.py            # default: 2 rounds of 15 s phases, about 2 minutes
    python bench/sync_push.py --quick    # 1 round of 4 s phases, under 30 s

One run (details in bench/README.md):

1. creates the database ``ucomm_bench_<pid>`` (dropped at the end, also on failure),
   migrates it, builds teachers, users and devices through the services, preloads
   ``--preload`` check-ins of other teachers and runs VACUUM ANALYZE;
2. starts ``gunicorn -w 2 wsgi:app`` and, with the same settings, bench/bare_app.py;
3. per round: A, K phones (threads) that pull once and then push batches of 50 new
   check-ins; A', the same rows inserted raw (psycopg ``executemany``, ``INSERT … ON
   CONFLICT DO NOTHING``, 50 per commit, K connections); B, the phones pushing one
   record per request; B', the bare Flask endpoint (one INSERT + COMMIT) driven by the
   same client code;
4. times first pulls of a teacher with a secondment, 2 schools and 120 check-ins in
   the window, each from a fresh device;

then prints rates, latencies, ratios against the targets, and where the CPU went.
It is a benchmark, not a test: it prints figures and exits 0 unless something broke.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
from common import create_database, drop_database, git_revision, log, percentile, with_database

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
CLK_TCK = os.sysconf("SC_CLK_TCK")
PULL_PATH = "/api/v1/sync?last_pulled_at=null&schema_version=1"
TARGET_BATCH = 0.25
TARGET_SINGLE = 0.50
TARGET_PULL_MS = 200.0
CHECK_IN_COLUMNS = (
    "id",
    "teacher_id",
    "kind",
    "captured_at",
    "latitude",
    "longitude",
    "accuracy_m",
    "coord_system",
    "mock_location",
    "photo_id",
    "photo_sha256",
    "elapsed_ms",
    "boot_id",
    "note",
    "received_at",
    "status",
    "flags",
    "device_pk",
    "push_device_time",
    "push_elapsed_ms",
    "push_boot_id",
    "clock_skew_ms",
    "client_digest",
    "server_serial",
    "deleted_at",
    "created_at",
    "updated_at",
)


# --- arguments -----------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--phones", type=int, default=8, help="concurrent simulated phones (8)")
    p.add_argument(
        "--batches",
        type=int,
        default=None,
        help="at most this many batches per phone and phase (default: until --seconds)",
    )
    p.add_argument(
        "--seconds", type=float, default=15.0, help="length of each measured HTTP phase (15)"
    )
    p.add_argument("--batch-size", type=int, default=50, help="records per push in phase A (50)")
    p.add_argument("--pulls", type=int, default=20, help="timed first pulls (20)")
    p.add_argument("--raw-repeats", type=int, default=3, help="runs of baseline A (median, 3)")
    p.add_argument(
        "--rounds", type=int, default=2, help="rounds of A, A', B, B', interleaved (median, 2)"
    )
    p.add_argument(
        "--preload",
        type=int,
        default=100_000,
        help="check-ins of other teachers already stored before the run (100000; quick 20000)",
    )
    p.add_argument("--workers", type=int, default=2, help="gunicorn workers (2)")
    p.add_argument(
        "--app",
        default="wsgi:app",
        help="WSGI app gunicorn serves, from the repository root (wsgi:app)",
    )
    p.add_argument(
        "--gunicorn-args",
        default="",
        help='extra gunicorn arguments, e.g. "--worker-class gthread --threads 4"',
    )
    p.add_argument(
        "--pg",
        default=os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres"),
        help="admin URL of the PostgreSQL server (its database is only used to create/drop)",
    )
    p.add_argument(
        "--py-spy",
        metavar="DIR",
        type=Path,
        help="py-spy the gunicorn workers during A and B (stacks in DIR: spy_summary.py)",
    )
    p.add_argument(
        "--quick", action="store_true", help="1 round, 4 s phases, 8 pulls (< 30 s total)"
    )
    args = p.parse_args(argv)
    if args.quick:
        args.seconds = min(args.seconds, 4.0)
        args.pulls = min(args.pulls, 8)
        args.raw_repeats = 1
        args.rounds = 1
        args.preload = min(args.preload, 20_000)
    return args


# --- CPU accounting (where the two cores went during a phase) ------------------------------


@dataclass(frozen=True)
class Proc:
    ppid: int
    start: int  # start time since boot, in ticks: with the pid, who this is
    ticks: int  # utime + stime, all threads
    label: str  # command line (or [comm] for kernel threads)


def scan_processes() -> dict[int, Proc]:
    procs: dict[int, Proc] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        comm = stat[stat.index("(") + 1 : stat.rindex(")")]
        rest = stat.rsplit(")", 1)[1].split()
        label = cmdline.strip() or f"[{comm.split('/')[0]}]"
        procs[int(entry.name)] = Proc(
            int(rest[1]), int(rest[19]), int(rest[11]) + int(rest[12]), label
        )
    return procs


def _children(ppid: int) -> list[int]:
    return [pid for pid, proc in scan_processes().items() if proc.ppid == ppid]


@dataclass
class CpuSnapshot:
    wall: float
    box_busy: int
    box_total: int
    procs: dict[int, Proc]


def cpu_snapshot() -> CpuSnapshot:
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    total = sum(values[:8])
    return CpuSnapshot(time.perf_counter(), total - idle, total, scan_processes())


@dataclass
class CpuUse:
    """Cores' worth of CPU (1.0 = one core busy all the time) over a phase, by owner."""

    box: float
    client: float = 0.0
    server: float = 0.0
    postgres: float = 0.0
    other: float = 0.0  # the rest of the box: everyone else, incl. short-lived processes
    others: list[tuple[str, float]] = field(default_factory=list)


def _postgres_owner(label: str, db_name: str) -> str:
    """``postgres`` for this run's backends and the shared background processes."""
    if label.startswith("/usr/lib/postgresql/") or " -D " in label:
        return "postgres"  # the postmaster
    parts = label.split(": ", 2)
    words = parts[2].split() if len(parts) == 3 else []
    is_backend = len(words) >= 3 and ("(" in words[2] or words[2] == "[local]")
    if not is_backend or words[1] == db_name:
        return "postgres"
    return "other"


def cpu_use(
    before: CpuSnapshot, after: CpuSnapshot, server_roots: list[int], db_name: str
) -> CpuUse:
    wall = after.wall - before.wall
    box = (after.box_busy - before.box_busy) / max(1, after.box_total - before.box_total)
    use = CpuUse(box=box * (os.cpu_count() or 1))
    me = os.getpid()

    def under_server(pid: int) -> bool:
        for _ in range(8):
            if pid in server_roots:
                return True
            proc = after.procs.get(pid)
            if proc is None or proc.ppid <= 1:
                return False
            pid = proc.ppid
        return False

    others: Counter[str] = Counter()
    for pid, proc in after.procs.items():
        previous = before.procs.get(pid)
        same = previous is not None and previous.start == proc.start
        delta = proc.ticks - (previous.ticks if previous is not None and same else 0)
        cores = max(0, delta) / CLK_TCK / wall
        if not cores:
            continue
        if pid == me:
            use.client += cores
        elif under_server(pid):
            use.server += cores
        elif proc.label.startswith(("postgres", "/usr/lib/postgresql/")) and (
            _postgres_owner(proc.label, db_name) == "postgres"
        ):
            use.postgres += cores
        else:
            others[" ".join(proc.label.split())[:48]] += cores
    # Residual, so that processes that came and went during the phase count too.
    use.other = max(0.0, use.box - use.client - use.server - use.postgres)
    use.others = [(label, cores) for label, cores in others.most_common(3) if cores >= 0.02]
    return use


# --- what the database is waiting on (pg_stat_activity sampled during a phase) -------------


class WaitSampler:
    def __init__(self, dsn: str, interval: float = 0.05) -> None:
        self.dsn = dsn
        self.interval = interval
        self.counts: Counter[str] = Counter()
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> WaitSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        sql = (
            "SELECT coalesce(wait_event_type || ':' || wait_event, 'CPU') FROM pg_stat_activity"
            " WHERE datname = current_database() AND state = 'active' AND pid <> pg_backend_pid()"
            " AND backend_type = 'client backend'"
        )
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            while not self._stop.wait(self.interval):
                rows = conn.execute(sql).fetchall()
                self.samples += 1
                self.counts.update(r[0] for r in rows)

    def summary(self) -> str:
        if not self.samples:
            return "-"
        parts = [f"{name} {count / self.samples:.2f}" for name, count in self.counts.most_common(4)]
        return ", ".join(parts) if parts else "idle"


# --- PostgreSQL scratch database -----------------------------------------------------------


def preload_check_ins(dsn: str, teachers: list[uuid.UUID], rows: int) -> float:
    """Existing history: ``rows`` check-ins of other teachers over 90 days, then ANALYZE.

    A service in use has a populated, analyzed check_ins table; on a fresh empty one the
    plans (and psycopg's prepared generic plans) are not those of production.
    """
    t0 = time.perf_counter()
    with psycopg.connect(dsn, autocommit=True) as conn:
        if rows and teachers:
            conn.execute(
                "INSERT INTO check_ins (id, teacher_id, kind, captured_at, latitude, longitude,"
                " accuracy_m, coord_system, mock_location, photo_id, photo_sha256, elapsed_ms,"
                " boot_id, note, received_at, status, flags, client_digest, server_serial,"
                " created_at, updated_at)"
                " SELECT 'pre-' || g, (%(t)s::uuid[])[1 + g %% cardinality(%(t)s::uuid[])],"
                " CASE WHEN g %% 2 = 0 THEN 'in' ELSE 'out' END, 1782000000000 + g::bigint * 60000,"
                " 35.96 + (g %% 97) * 1e-5, 105.73 - (g %% 89) * 1e-5, 5 + g %% 20, 'wgs84',"
                " false, 'ph-pre-' || g, md5(g::text) || md5((g + 1)::text),"
                " 100000 + g, 'boot-1', '', now() - (g %% 90) * interval '1 day'"
                " - (g %% 600) * interval '1 minute', 'accepted', '[]',"
                " md5(g::text) || md5((g + 2)::text), 0, now(), now()"
                " FROM generate_series(1, %(n)s) g",
                {"t": [str(t) for t in teachers], "n": rows},
            )
        for table in ("bench_raw_check_ins", "bench_bare_check_ins"):
            conn.execute(f"CREATE TABLE {table} (LIKE check_ins INCLUDING ALL)")
            conn.execute(
                f"ALTER TABLE {table}"
                " ADD FOREIGN KEY (teacher_id) REFERENCES teachers(id),"
                " ADD FOREIGN KEY (device_pk) REFERENCES devices(id)"
            )
            conn.execute(f"INSERT INTO {table} SELECT * FROM check_ins")
        conn.execute("VACUUM ANALYZE")
    return time.perf_counter() - t0


# --- gunicorn ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Gunicorn:
    def __init__(
        self, app: str, env: dict[str, str], workers: int, extra: str, chdir: Path
    ) -> None:
        self.port = free_port()
        self.workers_wanted = workers
        self.log_path = Path(tempfile.mkstemp(prefix="bench_gunicorn_", suffix=".log")[1])
        cmd = [
            sys.executable,
            "-m",
            "gunicorn",
            "-w",
            str(workers),
            "-b",
            f"127.0.0.1:{self.port}",
            "--chdir",
            str(chdir),
            *extra.split(),
            app,
        ]
        self.command = " ".join(cmd[2:])
        with self.log_path.open("w") as log_file:
            self.proc = subprocess.Popen(
                cmd,
                cwd=chdir,
                env={**os.environ, **env},
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited:\n{self.log_path.read_text()[-3000:]}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", "/__bench_ready__")
                conn.getresponse().read()
                conn.close()
            except OSError:
                time.sleep(0.1)
                continue
            # A worker answered; the phases' warm-up requests reach the others.
            if len(_children(self.proc.pid)) >= self.workers_wanted:
                return
            time.sleep(0.1)
        raise RuntimeError(f"gunicorn did not answer within {timeout:.0f} s")

    def workers(self) -> list[int]:
        return _children(self.proc.pid)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
        with contextlib.suppress(OSError):
            self.log_path.unlink()


@contextlib.contextmanager
def py_spy(out_dir: Path | None, server: Gunicorn, label: str, seconds: float) -> Iterator[None]:
    """Optionally record every gunicorn worker with py-spy while the block runs."""
    procs: list[subprocess.Popen[bytes]] = []
    exe = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if out_dir is not None and Path(exe).exists():
        out_dir.mkdir(parents=True, exist_ok=True)
        for pid in server.workers():
            out = out_dir / f"{label}_worker{pid}.txt"
            procs.append(
                subprocess.Popen(
                    [
                        exe,
                        "record",
                        "-p",
                        str(pid),
                        "-d",
                        str(int(seconds)),
                        "-r",
                        "200",
                        "-f",
                        "raw",
                        "-o",
                        str(out),
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
    elif out_dir is not None:
        log("py-spy not found: pip install py-spy into the venv")
    try:
        yield
    finally:
        for proc in procs:
            try:
                proc.wait(timeout=seconds + 30)
            except subprocess.TimeoutExpired:
                proc.terminate()


# --- HTTP client ---------------------------------------------------------------------------


class HttpClient:
    """http.client with keep-alive; reconnects when the server closes (sync workers do)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.conn: http.client.HTTPConnection | None = None
        self.connects = 0

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, bytes]:
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
                self.connects += 1
            try:
                self.conn.request(method, path, body=body, headers=headers or {})
                response = self.conn.getresponse()
                data = response.read()
            except (http.client.RemoteDisconnected, ConnectionError):
                self.close()
                if attempt:
                    raise
                continue
            if response.will_close:
                self.close()
            return response.status, data
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


# --- world: teachers, users, devices, tokens (through the services) ------------------------


@dataclass
class Persona:
    user_id: uuid.UUID
    teacher_id: uuid.UUID


@dataclass
class Device:
    device_pk: uuid.UUID
    device_id: str
    token: str = ""

    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass
class World:
    phones: list[Persona]
    puller: Persona
    background: list[uuid.UUID]  # teachers without logins, owners of the preloaded rows


def make_app(database_url: str, instance: Path, secret: str) -> Any:
    from backend.app import create_app
    from backend.config import Settings

    settings = Settings.from_env(
        {
            "INSTANCE_PATH": str(instance),
            "DATABASE_URL": database_url,
            "SECRET_KEY": secret,
            "ACCESS_TOKEN_TTL_SECONDS": "900",
        }
    )
    return create_app(settings)


def build_world(
    app: Any, phones: int, pull_records: int, old_records: int, background: int
) -> World:
    from backend.db import database_of
    from tests import factories

    with database_of(app).unit_of_work() as session:
        w = factories.world(session, app)
        personas = []
        for _ in range(phones):
            teacher = factories.teacher(session, w.core_a)
            factories.secondment(session, teacher, w.member_a)
            user = factories.user(session, app, "teacher", teacher_id=teacher.id)
            personas.append(Persona(user.id, teacher.id))
        puller = Persona(w.users["teacher_a"].id, w.teacher_a.id)
        others = [factories.teacher(session, w.core_b).id for _ in range(background)]
    add_pull_history(app, puller, pull_records, old_records)
    return World(personas, puller, [w.teacher_b.id, *others])


def add_pull_history(app: Any, who: Persona, in_window: int, older: int) -> None:
    """Check-ins received every 12 h over the last 60 days, plus some older than the window."""
    from backend.attendance.services import Receipt, clean_check_in, record_check_in
    from backend.clock import epoch_ms
    from backend.db import database_of, utcnow
    from sync.protocol import digest
    from tests.sync.phone import check_in

    now = utcnow()
    with database_of(app).unit_of_work() as session:
        for n in range(in_window + older):
            hours = 12 * n if n < in_window else 24 * 70 + 12 * n
            received = now - timedelta(hours=hours, minutes=7)
            values = clean_check_in(wire_check_in(check_in, f"hist-{n:05d}", n))
            record_check_in(
                session,
                record_id=f"hist-{n:05d}",
                teacher_id=who.teacher_id,
                values=values,
                digest=digest(values),
                receipt=Receipt(received, None, epoch_ms(received), 500_000, "boot-1", 0),
            )


def new_devices(app: Any, personas: list[Persona], label: str) -> list[Device]:
    from backend.auth.models import Device as DeviceRow
    from backend.db import database_of

    rows = []
    with database_of(app).unit_of_work() as session:
        for persona in personas:
            row = DeviceRow(
                user_id=persona.user_id,
                device_id=f"{label}-{uuid.uuid4().hex[:12]}",
                device_name=f"bench {label}",
            )
            session.add(row)
            rows.append(row)
        session.flush()
        return [Device(r.id, r.device_id) for r in rows]


def mint_tokens(app: Any, personas: list[Persona], devices: list[Device]) -> None:
    """Fresh access tokens just before a phase (they live ACCESS_TOKEN_TTL, 900 s here)."""
    from backend.auth.tokens import issue_access_token
    from backend.extensions import settings_of

    settings = settings_of(app)
    for persona, device in zip(personas, devices, strict=True):
        device.token = issue_access_token(settings, persona.user_id, device.device_pk)


def wire_check_in(factory: Callable[..., dict[str, Any]], record_id: str, n: int) -> dict[str, Any]:
    """A check-in as a phone sends it (tests/sync/phone.py's shape), varied a little."""
    return factory(
        record_id,
        kind="in" if n % 2 == 0 else "out",
        captured_at=1_790_000_000_000 + n * 37_000,
        latitude=35.9651 + (n % 97) * 1e-5,
        longitude=105.7312 - (n % 89) * 1e-5,
        accuracy_m=5.0 + n % 20,
        photo_id=f"ph-{record_id}"[:64],
        photo_sha256=f"{n:064x}"[-64:],
        elapsed_ms=100_000 + n * 37_000,
    )


# --- HTTP phases ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Box:
    """What the CPU accounting needs to tell our processes from everyone else's."""

    db_name: str
    dsn: str
    server_roots: list[int]


@dataclass
class PhoneStats:
    latencies: list[float] = field(default_factory=list)
    records: int = 0
    requests: int = 0
    errors: list[str] = field(default_factory=list)
    connects: int = 0
    end: float = 0.0


@dataclass
class PhaseResult:
    name: str
    records: int
    requests: int
    seconds: float
    latencies: list[float]
    errors: list[str]
    connects: int
    cpu: CpuUse
    waits: str

    @property
    def rate(self) -> float:
        return self.records / self.seconds if self.seconds else 0.0


def _push_headers(device: Device) -> dict[str, str]:
    return {
        **device.auth(),
        "Content-Type": "application/json",
        "X-Device-Id": device.device_id,
        "X-Device-Time": str(int(time.time() * 1000)),
        "X-Device-Elapsed": "500000",
        "X-Device-Boot": "boot-1",
    }


def run_http_phase(
    *,
    name: str,
    port: int,
    box: Box,
    devices: list[Device],
    batch_size: int,
    seconds: float,
    max_batches: int | None,
    tag: str,
    sync_api: bool,
) -> PhaseResult:
    """K phone threads: first pull (sync app only), one warm-up push, then timed pushes.

    Closed loop: each phone sends its next push as soon as the previous one is answered,
    until the deadline (or ``max_batches``). The rate is records the server reported as
    applied, over the time from the start signal to the last answer.
    """
    from tests.sync.phone import check_in

    stats = [PhoneStats() for _ in devices]
    barrier = threading.Barrier(len(devices) + 1)
    shared: dict[str, float] = {}

    def body_for(prefix: str, n: int) -> bytes:
        records = [
            wire_check_in(check_in, f"{prefix}-{n:06d}-{j:03d}", n * batch_size + j)
            for j in range(batch_size)
        ]
        return json.dumps(
            {"check_ins": {"created": records, "updated": [], "deleted": []}}
        ).encode()

    def phone(index: int) -> None:
        device, st = devices[index], stats[index]
        client = HttpClient(port)
        path = "/checkin"
        ok = True
        try:
            if sync_api:
                status, data = client.request("GET", PULL_PATH, headers=device.auth())
                if status != 200:
                    raise RuntimeError(f"first pull: {status} {data[:300]!r}")
                cursor = json.loads(data)["timestamp"]
                path = f"/api/v1/sync?last_pulled_at={cursor}&schema_version=1"
            body = body_for(f"{tag}w{index}", 0)
            status, data = client.request("POST", path, body, _push_headers(device))
            if status != 200:
                raise RuntimeError(f"warm-up push: {status} {data[:300]!r}")
        except Exception as exc:
            st.errors.append(f"setup: {exc!r}")
            ok = False
        barrier.wait()
        n = 0
        while ok and time.perf_counter() < shared["deadline"]:
            if max_batches is not None and n >= max_batches:
                break
            body = body_for(f"{tag}m{index}", n)
            t0 = time.perf_counter()
            try:
                status, data = client.request("POST", path, body, _push_headers(device))
            except OSError as exc:
                status, data = 0, repr(exc).encode()
            st.latencies.append(time.perf_counter() - t0)
            st.requests += 1
            if status == 200:
                st.records += int(json.loads(data)["applied"])
            elif len(st.errors) < 5:
                st.errors.append(f"{status} {data[:300]!r}")
            n += 1
        st.end = time.perf_counter()
        st.connects = client.connects
        client.close()

    threads = [threading.Thread(target=phone, args=(i,), daemon=True) for i in range(len(devices))]
    for t in threads:
        t.start()
    with WaitSampler(box.dsn) as sampler:
        before = cpu_snapshot()
        shared["deadline"] = time.perf_counter() + seconds
        barrier.wait()
        start = time.perf_counter()
        for t in threads:
            t.join()
        after = cpu_snapshot()
    end = max(s.end for s in stats)
    return PhaseResult(
        name=name,
        records=sum(s.records for s in stats),
        requests=sum(s.requests for s in stats),
        seconds=end - start,
        latencies=[lat for s in stats for lat in s.latencies],
        errors=[e for s in stats for e in s.errors],
        connects=sum(s.connects for s in stats),
        cpu=cpu_use(before, after, box.server_roots, box.db_name),
        waits=sampler.summary(),
    )


# --- Baseline A: raw batched INSERT … ON CONFLICT DO NOTHING -------------------------------


@dataclass
class RawResult:
    rates: list[float]
    rows: int
    cpu: CpuUse

    @property
    def rate(self) -> float:
        return statistics.median(self.rates) if self.rates else 0.0


def _raw_run(box: Box, sql: str, shares: list[list[Any]], batch: int) -> tuple[float, CpuUse]:
    """One timed run: each connection inserts its share, ``batch`` rows per commit."""
    conns = [psycopg.connect(box.dsn) for _ in shares]
    barrier = threading.Barrier(len(shares) + 1)

    def insert(conn: psycopg.Connection[Any], share: list[Any]) -> None:
        barrier.wait()
        with conn.cursor() as cur:
            for start in range(0, len(share), batch):
                cur.executemany(sql, share[start : start + batch])
                conn.commit()

    threads = [
        threading.Thread(target=insert, args=(c, s)) for c, s in zip(conns, shares, strict=True)
    ]
    for t in threads:
        t.start()
    before = cpu_snapshot()
    barrier.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    after = cpu_snapshot()
    for c in conns:
        c.close()
    return elapsed, cpu_use(before, after, [], box.db_name)


def raw_baseline(box: Box, tag: str, connections: int, batch: int, repeats: int) -> RawResult:
    """The rows phase A stored, re-inserted raw into a table shaped like check_ins."""
    select = ", ".join("flags::text" if c == "flags" else c for c in CHECK_IN_COLUMNS)
    with psycopg.connect(box.dsn) as conn:
        rows = conn.execute(
            f"SELECT {select} FROM check_ins WHERE id LIKE %s ORDER BY received_at",
            (f"{tag}m%",),
        ).fetchall()
    placeholders = ", ".join(["%s"] * len(CHECK_IN_COLUMNS))
    sql = (
        f"INSERT INTO bench_raw_check_ins ({', '.join(CHECK_IN_COLUMNS)}) VALUES ({placeholders})"
        " ON CONFLICT (id) DO NOTHING"
    )
    rates = []
    cpu = CpuUse(box=0.0)
    for k in range(max(1, repeats)):
        # Same values, but an id of its own per run: every run inserts only new rows.
        renamed = [(f"{row[0]}.{k}", *row[1:]) for row in rows]
        shares = [renamed[i::connections] for i in range(connections)]
        elapsed, cpu = _raw_run(box, sql, shares, batch)
        rates.append(len(rows) / elapsed if elapsed else 0.0)
        with psycopg.connect(box.dsn) as conn:
            stored = conn.execute(
                "SELECT count(*) FROM bench_raw_check_ins WHERE id LIKE %s", (f"{tag}m%.{k}",)
            ).fetchone()
        if stored is None or stored[0] != len(rows):
            raise RuntimeError(f"baseline A stored {stored} rows, expected {len(rows)}")
    return RawResult(rates, len(rows), cpu)


# --- first pulls -----------------------------------------------------------------------------


@dataclass
class PullResult:
    latencies: list[float]
    warmup: list[float]
    sizes: dict[str, int]
    body_bytes: int


def first_pulls(port: int, devices: list[Device], warmups: int) -> PullResult:
    """One device after another (the box otherwise idle), each pull a device's first."""
    client = HttpClient(port)
    latencies: list[float] = []
    sizes: dict[str, int] = {}
    body_bytes = 0
    for device in devices:
        t0 = time.perf_counter()
        status, data = client.request("GET", PULL_PATH, headers=device.auth())
        latencies.append(time.perf_counter() - t0)
        if status != 200:
            raise RuntimeError(f"first pull: {status} {data[:300]!r}")
        changes = json.loads(data)["changes"]
        sizes = {name: len(c["updated"]) for name, c in changes.items()}
        body_bytes = len(data)
    client.close()
    return PullResult(latencies[warmups:], latencies[:warmups], sizes, body_bytes)


# --- report ----------------------------------------------------------------------------------


@dataclass
class Round:
    a: PhaseResult
    raw: RawResult
    b: PhaseResult
    bare: PhaseResult

    @property
    def ratio_a(self) -> float:
        return self.a.rate / self.raw.rate if self.raw.rate else 0.0

    @property
    def ratio_b(self) -> float:
        return self.b.rate / self.bare.rate if self.bare.rate else 0.0


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


def spread(values: list[float], fmt: str = "{:,.0f}") -> str:
    if len(values) < 2:
        return ""
    return f"[{fmt.format(min(values))}–{fmt.format(max(values))}]"


def cpu_text(c: CpuUse) -> str:
    text = (
        f"box {c.box:.2f} = client {c.client:.2f} + server {c.server:.2f}"
        f" + postgres {c.postgres:.2f} + other {c.other:.2f}"
    )
    if c.others:
        text += " (" + "; ".join(f"{label} {cores:.2f}" for label, cores in c.others) + ")"
    return text


def report(
    args: argparse.Namespace,
    server_cmd: str,
    rounds: list[Round],
    pull: PullResult,
    quiet: CpuUse,
) -> None:
    med = statistics.median
    cores = os.cpu_count()
    rate_a = med([r.a.rate for r in rounds])
    rate_raw = med([r.raw.rate for r in rounds])
    rate_b = med([r.b.rate for r in rounds])
    rate_bare = med([r.bare.rate for r in rounds])
    ratio_a = med([r.ratio_a for r in rounds])
    ratio_b = med([r.ratio_b for r in rounds])
    lat_a = [x for r in rounds for x in r.a.latencies]
    lat_b = [x for r in rounds for x in r.b.latencies]
    lat_bare = [x for r in rounds for x in r.bare.latencies]
    pull_p50 = med(pull.latencies) * 1000
    pull_p99 = percentile(pull.latencies, 0.99) * 1000
    with psycopg.connect(args.pg) as conn:
        settings = dict(
            conn.execute(
                "SELECT name, setting FROM pg_settings WHERE name IN"
                " ('server_version', 'synchronous_commit', 'shared_buffers', 'fsync')"
            ).fetchall()
        )
    width = 104
    print()
    print("=" * width)
    print("sync push/pull benchmark (bench/sync_push.py)")
    print(
        f"machine : {cores} cores (os.cpu_count), Python {sys.version.split()[0]},"
        f" PostgreSQL {settings.get('server_version')} on 127.0.0.1"
        f" (synchronous_commit={settings.get('synchronous_commit')},"
        f" fsync={settings.get('fsync')})"
    )
    print(f"server  : {server_cmd}; the bare Flask baseline runs with the same settings")
    print(f"code    : {git_revision()}")
    print(
        f"client  : {args.phones} phone threads in this one process (http.client), one persona"
        f" and device each; {len(rounds)} round(s) of A, A', B, B' with {args.seconds:g} s"
        " HTTP phases" + (f", at most {args.batches} batches per phone" if args.batches else "")
    )
    print(
        "          client, gunicorn and PostgreSQL share the same cores; CPU use per phase"
        " is under details"
    )
    print(
        f"data    : {args.preload:,} check-ins of 100 other teachers preloaded (90 days), then"
        " VACUUM ANALYZE; fresh database per run"
    )
    if quiet.other > 0.2:
        print(f"note    : before the run, other processes used {cpu_text(quiet)}")
    busy = [
        f"round {i} {name} ({cpu.other:.2f})"
        for i, r in enumerate(rounds, 1)
        for name, cpu in (("A", r.a.cpu), ("A'", r.raw.cpu), ("B", r.b.cpu), ("B'", r.bare.cpu))
        if cpu.other > 0.2
    ]
    if busy:
        print(
            "WARNING : other processes took CPU during " + ", ".join(busy) + " (cores):"
            " those figures are disturbed (see details)"
        )
    print("-" * width)
    print(f"{'measurement':<42} {'median':>14} {'p50 ms':>8} {'p99 ms':>8}  {'target':<12} result")
    print("-" * width)

    def row(label: str, value: str, p50: str = "", p99: str = "", target: str = "") -> None:
        print(f"{label:<42} {value:>14} {p50:>8} {p99:>8}  {target}")

    row(
        f"A  push {args.batch_size} records/request (HTTP)",
        f"{rate_a:,.0f} rec/s",
        ms(percentile(lat_a, 0.5)),
        ms(percentile(lat_a, 0.99)),
    )
    row(f"A' raw executemany {args.batch_size}/commit x{args.phones}", f"{rate_raw:,.0f} rows/s")
    row(
        "   ratio A / A'",
        f"{ratio_a:.1%}",
        target=f"{'>= ' + format(TARGET_BATCH, '.0%'):<12} {verdict(ratio_a >= TARGET_BATCH)}",
    )
    row(
        "B  push 1 record/request (HTTP)",
        f"{rate_b:,.0f} rec/s",
        ms(percentile(lat_b, 0.5)),
        ms(percentile(lat_b, 0.99)),
    )
    row(
        "B' bare Flask INSERT+COMMIT (HTTP)",
        f"{rate_bare:,.0f} rec/s",
        ms(percentile(lat_bare, 0.5)),
        ms(percentile(lat_bare, 0.99)),
    )
    row(
        "   ratio B / B'",
        f"{ratio_b:.1%}",
        target=f"{'>= ' + format(TARGET_SINGLE, '.0%'):<12} {verdict(ratio_b >= TARGET_SINGLE)}",
    )
    pull_ok = pull_p50 < TARGET_PULL_MS and pull_p99 < TARGET_PULL_MS
    row(
        f"P  first pull, {len(pull.latencies)} fresh devices",
        f"{pull_p50:.1f} ms",
        f"{pull_p50:.1f}",
        f"{pull_p99:.1f}",
        target=f"{'< ' + format(TARGET_PULL_MS, '.0f') + ' ms':<12} {verdict(pull_ok)}",
    )
    print("-" * width)
    print("details (per round)")
    for i, r in enumerate(rounds, 1):
        print(
            f" round {i}: A {r.a.rate:,.0f} / A' {r.raw.rate:,.0f} = {r.ratio_a:.1%};"
            f"  B {r.b.rate:,.0f} / B' {r.bare.rate:,.0f} = {r.ratio_b:.1%}"
        )
        for phase in (r.a, r.b, r.bare):
            print(
                f"   {phase.name:<2} {phase.records:,} records, {len(phase.latencies):,} requests"
                f" in {phase.seconds:.1f} s, {phase.connects:,} TCP connects,"
                f" {len(phase.errors)} errors; DB backends active by wait: {phase.waits}"
            )
            print(f"      CPU cores: {cpu_text(phase.cpu)}")
            for error in phase.errors[:3]:
                print(f"      error: {error}")
        print(
            f"   A' {r.raw.rows:,} rows (phase A's, same values), runs:"
            f" {', '.join(f'{x:,.0f}' for x in r.raw.rates)} rows/s"
        )
        print(f"      CPU cores (last run): {cpu_text(r.raw.cpu)}")
    if len(rounds) > 1:
        print(
            f" spread over rounds: A {spread([r.a.rate for r in rounds])}"
            f"  A' {spread([r.raw.rate for r in rounds])}"
            f"  B {spread([r.b.rate for r in rounds])}"
            f"  B' {spread([r.bare.rate for r in rounds])}"
            f"  A/A' {spread([r.ratio_a for r in rounds], '{:.1%}')}"
            f"  B/B' {spread([r.ratio_b for r in rounds], '{:.1%}')}"
        )
    print(
        f" P  pulled {pull.sizes} ({pull.body_bytes:,} B); median {pull_p50:.1f} ms,"
        f" p99 {pull_p99:.1f} ms, max {max(pull.latencies) * 1000:.1f} ms;"
        f" warm-up pulls (not counted): {', '.join(ms(x) for x in pull.warmup)} ms"
    )
    print("=" * width)


# --- main ------------------------------------------------------------------------------------


def measure_quiet(seconds: float = 1.0) -> CpuUse:
    """How busy the box is before we start anything (other sessions, builds, tests)."""
    before = cpu_snapshot()
    time.sleep(seconds)
    return cpu_use(before, cpu_snapshot(), [], "")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sys.path.insert(0, str(ROOT))
    db_name = f"ucomm_bench_{os.getpid()}"
    dsn = with_database(args.pg, db_name)
    sa_url = "postgresql+psycopg://" + dsn.split("://", 1)[1]
    instance = Path(tempfile.mkdtemp(prefix="ucomm_bench_"))
    secret = secrets.token_urlsafe(48)
    servers: list[Gunicorn] = []
    app = None
    started = time.perf_counter()

    def on_signal(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, on_signal)
    try:
        quiet = measure_quiet()
        if quiet.other > 0.2:
            log(f"note: other processes are busy before the run: {cpu_text(quiet)}")
        log(f"creating database {db_name}")
        create_database(args.pg, db_name)
        from backend.cli import upgrade_database
        from backend.db import database_of

        app = make_app(sa_url, instance, secret)
        with database_of(app).engine.begin() as connection:
            upgrade_database(connection)
        log(f"building {args.phones} phone teachers and the pull teacher's history")
        world = build_world(app, args.phones, pull_records=120, old_records=40, background=100)
        took = preload_check_ins(dsn, world.background, args.preload)
        log(f"preloaded {args.preload:,} check-ins of 100 other teachers, analyzed ({took:.1f} s)")

        env = {
            "DATABASE_URL": sa_url,
            "SECRET_KEY": secret,
            "INSTANCE_PATH": str(instance),
            "ACCESS_TOKEN_TTL_SECONDS": "900",
            "BENCH_DSN": dsn,
            "BENCH_TEACHER_ID": str(world.background[0]),
        }
        server = Gunicorn(args.app, env, args.workers, args.gunicorn_args, ROOT)
        servers.append(server)
        bare_server = Gunicorn("bare_app:app", env, args.workers, args.gunicorn_args, BENCH_DIR)
        servers.append(bare_server)
        server.wait_ready()
        bare_server.wait_ready()
        log(f"gunicorn up: {server.command} (and bare_app:app on port {bare_server.port})")
        box = Box(db_name, dsn, [server.proc.pid, bare_server.proc.pid])
        phase = {"box": box, "seconds": args.seconds, "max_batches": args.batches}

        rounds = []
        for i in range(args.rounds):
            devices = new_devices(app, world.phones, f"a{i}")
            mint_tokens(app, world.phones, devices)
            log(f"round {i + 1}/{args.rounds} A: {args.phones} phones x {args.batch_size}/push")
            with py_spy(args.py_spy, server, f"r{i + 1}_A", args.seconds):
                a = run_http_phase(
                    name="A",
                    port=server.port,
                    devices=devices,
                    batch_size=args.batch_size,
                    tag=f"A{i}r",
                    sync_api=True,
                    **phase,
                )
            log(f"round {i + 1}/{args.rounds} A': raw inserts of phase A's {a.records} rows")
            raw = raw_baseline(box, f"A{i}r", args.phones, args.batch_size, args.raw_repeats)
            devices = new_devices(app, world.phones, f"b{i}")
            mint_tokens(app, world.phones, devices)
            log(f"round {i + 1}/{args.rounds} B: {args.phones} phones x 1 record/push")
            with py_spy(args.py_spy, server, f"r{i + 1}_B", args.seconds):
                b = run_http_phase(
                    name="B",
                    port=server.port,
                    devices=devices,
                    batch_size=1,
                    tag=f"B{i}r",
                    sync_api=True,
                    **phase,
                )
            log(f"round {i + 1}/{args.rounds} B': bare Flask, 1 INSERT + COMMIT per request")
            bare = run_http_phase(
                name="B'",
                port=bare_server.port,
                devices=devices,
                batch_size=1,
                tag=f"X{i}r",
                sync_api=False,
                **phase,
            )
            rounds.append(Round(a, raw, b, bare))

        warmups = 3
        pullers = [world.puller] * (args.pulls + warmups)
        devices = new_devices(app, pullers, "p")
        mint_tokens(app, pullers, devices)
        log(f"first pulls: {args.pulls} (+{warmups} warm-up), each from a fresh device")
        pull = first_pulls(server.port, devices, warmups)
        report(args, server.command, rounds, pull, quiet)
        log(f"total {time.perf_counter() - started:.0f} s")
        return 0
    finally:
        for s in servers:
            with contextlib.suppress(Exception):
                s.stop()
        if app is not None:
            from backend.db import database_of

            database_of(app).engine.dispose()
        try:
            drop_database(args.pg, db_name)
            log(f"dropped database {db_name}")
        except Exception as exc:
            log(f"could not drop database {db_name}: {exc!r}")
        shutil.rmtree(instance, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

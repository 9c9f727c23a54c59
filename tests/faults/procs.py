"""Real processes for the fault tests, always cleaned up: gunicorn serving ``wsgi:app``,
``rq worker``, a private ``redis-server`` and a private PostgreSQL cluster, each on a free
loopback port.

Every child runs in a session (process group) of its own, and is killed with all of its
descendants, found in /proc: RQ's work-horse makes a process group of its own, so a
``killpg`` alone would leave it running. Output goes to a log file, shown when a test
fails. :class:`Processes` stops whatever is still running at teardown.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, TypeVar

import redis

REPO = Path(__file__).resolve().parents[2]
T = TypeVar("T")


def free_port() -> int:
    """A loopback port nothing listens on now (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def wait_until(
    predicate: Callable[[], T], what: str, timeout: float = 30.0, interval: float = 0.05
) -> T:
    """Poll ``predicate`` until it returns something true (its value) or time runs out.

    An exception counts as "not yet" (a server that is still starting refuses
    connections); the last one is named if the wait fails.
    """
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while True:
        try:
            value = predicate()
        except Exception as exc:
            last_error, value = exc, None
        if value:
            return value
        if time.monotonic() > deadline:
            detail = f" (last error: {last_error!r})" if last_error else ""
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}{detail}")
        time.sleep(interval)


class Process:
    """A child process in a process group of its own, writing to ``log_path``."""

    def __init__(
        self, name: str, command: list[str], env: Mapping[str, str], log_path: Path
    ) -> None:
        self.name = name
        self.log_path = log_path
        self._log: IO[bytes] = log_path.open("ab")
        self.popen = subprocess.Popen(
            command,
            env=dict(env),
            cwd=REPO,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def signal_group(self, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.popen.pid, sig)

    def kill(self) -> list[int]:
        """SIGKILL to the process and every descendant, in its group or not (RQ's
        work-horse makes a process group of its own); the descendants' pids."""
        victims = kill_tree(self.popen.pid)
        self.popen.wait(timeout=10)
        return victims

    def wait(self, timeout: float) -> int:
        return self.popen.wait(timeout=timeout)

    def stop(self, grace: float = 5.0) -> None:
        """SIGTERM, then SIGKILL after ``grace`` seconds; descendants left over are killed
        too (found before the leader goes: an orphan's parent is init)."""
        if self._log.closed:
            return  # stopped already
        descendants = _descendants(self.popen.pid)
        if self.alive():
            self.signal_group(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(timeout=grace)
        self.signal_group(signal.SIGKILL)
        for pid in descendants:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=10)
        self._log.close()

    def output(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")


class Processes:
    """Starts processes and stops every one of them at :meth:`stop_all` (test teardown)."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        log_dir.mkdir(parents=True, exist_ok=True)
        self.started: list[Process] = []

    def start(self, name: str, command: list[str], env: Mapping[str, str]) -> Process:
        log_path = self.log_dir / f"{len(self.started):02d}-{name}.log"
        process = Process(name, command, env, log_path)
        self.started.append(process)
        return process

    def stop_all(self) -> None:
        for process in reversed(self.started):
            process.stop(grace=1.0)

    def report(self, tail: int = 60) -> str:
        """The last lines of every log (printed when a test fails)."""
        parts = []
        for process in self.started:
            lines = process.log_path.read_text(errors="replace").splitlines()[-tail:]
            parts.append(f"----- {process.log_path.name} (pid {process.pid})\n" + "\n".join(lines))
        return "\n".join(parts)


# --- the API ---------------------------------------------------------------------------------


def http_status(url: str, timeout: float = 2.0) -> int:
    """One GET's status code (raises if nothing answers)."""
    host, _, rest = url.removeprefix("http://").partition("/")
    hostname, _, port = host.partition(":")
    connection = http.client.HTTPConnection(hostname, int(port), timeout=timeout)
    try:
        connection.request("GET", "/" + rest)
        return connection.getresponse().status
    finally:
        connection.close()


def _no_control_socket() -> list[str]:
    # Recent gunicorn opens a control socket at ~/.gunicorn/gunicorn.ctl: shared between
    # servers, and left behind by a SIGKILL. The tests need none.
    from gunicorn.config import KNOWN_SETTINGS  # type: ignore[import-untyped]

    known = any(setting.name == "control_socket_disable" for setting in KNOWN_SETTINGS)
    return ["--no-control-socket"] if known else []


_NO_CONTROL_SOCKET = _no_control_socket()


def start_gunicorn(
    processes: Processes,
    env: Mapping[str, str],
    port: int,
    *,
    workers: int = 2,
    threads: int = 4,
    name: str = "api",
) -> Process:
    """``gunicorn wsgi:app`` (threaded workers) on 127.0.0.1:``port``, once it answers."""
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--threads",
        str(threads),
        # The app factory does no I/O: importing it once in the master makes (re)starts
        # quick; each worker still opens its own connections after the fork.
        "--preload",
        "--graceful-timeout",
        "2",
        "--timeout",
        "60",
        *_NO_CONTROL_SOCKET,
        "wsgi:app",
    ]
    process = processes.start(name, command, env)

    def answering() -> bool:
        if not process.alive():
            raise RuntimeError(f"gunicorn exited:\n{process.output()[-3000:]}")
        return http_status(f"http://127.0.0.1:{port}/health/live") == 200

    wait_until(answering, "gunicorn to answer /health/live", timeout=60)
    wait_until(
        lambda: len(gunicorn_worker_pids(process)) == workers, "every gunicorn worker", timeout=30
    )
    return process


def gunicorn_worker_pids(master: Process) -> set[int]:
    """The worker processes gunicorn's master forked (read from /proc)."""
    return {pid for pid, parent in _parents().items() if parent == master.pid}


def start_rq_worker(
    processes: Processes,
    env: Mapping[str, str],
    redis_url: str,
    *,
    burst: bool,
    name: str = "worker",
) -> Process:
    """``rq worker`` as deployed, under ``processes``' care."""
    return processes.start(name, rq_worker_command(redis_url, burst=burst), env)


def rq_worker_command(redis_url: str, *, burst: bool) -> list[str]:
    """``rq worker`` as deployed (the app's worker class, JSON serializer, queue ``ucomm``)."""
    return [
        sys.executable,
        "-m",
        "rq.cli",
        "worker",
        "--worker-class",
        "backend.jobs.Worker",
        "--url",
        redis_url,
        "--serializer",
        "rq.serializers.JSONSerializer",
        *(["--burst"] if burst else []),
        "ucomm",
    ]


# --- Redis -----------------------------------------------------------------------------------


class PrivateRedis:
    """A ``redis-server`` of the test's own (no persistence), to stop without harming the
    Redis the rest of the suite uses."""

    def __init__(self, processes: Processes, workdir: Path) -> None:
        self.processes = processes
        self.port = free_port()
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.process: Process | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        command = [
            "redis-server",
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "no",
            "--dir",
            str(self.workdir),
        ]
        self.process = self.processes.start("redis", command, os.environ)

        def pong() -> bool:
            if self.process is None or not self.process.alive():
                raise RuntimeError("redis-server exited")
            return bool(self.client().ping())

        wait_until(pong, f"redis-server on port {self.port}", timeout=15)

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()
            self.process = None

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url, socket_timeout=2, socket_connect_timeout=1)


# --- PostgreSQL ------------------------------------------------------------------------------


def postgres_bindir() -> Path | None:
    """Where ``initdb`` and ``pg_ctl`` are: ``PG_BINDIR``, Debian's layout, or ``PATH``."""
    given = os.environ.get("PG_BINDIR")
    candidates = [Path(given)] if given else []
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
        reverse=True,
    )
    candidates += versions
    found = shutil.which("initdb")
    if found:
        candidates.append(Path(found).parent)
    for folder in candidates:
        if (folder / "initdb").exists() and (folder / "pg_ctl").exists():
            return folder
    return None


def _parents() -> dict[int, int]:
    """pid -> parent pid of every process (from /proc)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name (field 2) may hold spaces: the fields after it follow its ")".
        fields = stat.rsplit(")", 1)[1].split()
        parents[int(entry.name)] = int(fields[1])
    return parents


def _descendants(pid: int) -> list[int]:
    """Every process forked, directly or not, by ``pid`` (still parented to it)."""
    children: dict[int, list[int]] = {}
    for child, parent in _parents().items():
        children.setdefault(parent, []).append(child)
    found: list[int] = []
    stack = list(children.get(pid, []))
    while stack:
        child = stack.pop()
        found.append(child)
        stack.extend(children.get(child, []))
    return found


def _dead(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] in {"Z", "X"}  # a zombie runs no more code


def kill_tree(pid: int) -> list[int]:
    """SIGKILL ``pid``'s process group and every descendant of ``pid``: all at once, as an
    OOM killer or a lost host would (nothing gets to clean up). Returns once every one of
    them is dead; the descendants' pids."""
    victims = _descendants(pid)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
    for victim in [pid, *victims]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(victim, signal.SIGKILL)
    wait_until(lambda: all(_dead(v) for v in [pid, *victims]), f"{pid} and its children to die")
    return victims


class PrivatePostgres:
    """A PostgreSQL cluster of the test's own, on a free port, to restart, crash and freeze.

    As root, ``initdb`` and ``pg_ctl`` run as the ``postgres`` user (PostgreSQL refuses to
    run as root) in a folder that user owns. ``fsync`` is off: the faults here kill
    processes, never the machine, so the kernel's page cache keeps every write.
    """

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="ucomm-faults-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "postgres.log"
        if os.geteuid() == 0:
            import pwd

            owner = pwd.getpwnam("postgres")
            os.chown(self.root, owner.pw_uid, owner.pw_gid)

    def _run(self, *argv: str, timeout: float = 60) -> None:
        command = [str(self.bindir / argv[0]), *argv[1:]]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(
            command,
            cwd=self.root,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(
                f"{' '.join(argv[:2])} failed ({done.returncode}):\n"
                f"{done.stdout.decode(errors='replace')}{done.stderr.decode(errors='replace')}\n"
                f"{self.log_tail()}"
            )

    def log_tail(self, lines: int = 30) -> str:
        if not self.log.exists():
            return ""
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def init(self) -> None:
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "--no-sync",
            "-E",
            "UTF8",
            "--locale=C",
        )

    @property
    def _options(self) -> str:
        return (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c max_connections=100"
        )

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-o", self._options, "-l", str(self.log),
                  "-w", "-t", "60", "start")  # fmt: skip

    def ensure_running(self) -> None:
        """Running and answering, whatever an earlier (failed) test left it as."""
        self.thaw()
        try:
            self._run("pg_ctl", "-D", str(self.data), "status")
        except RuntimeError:
            self.start()

    def stop(self, mode: str = "fast") -> None:
        """``fast`` ends sessions cleanly; ``immediate`` is a crash (recovery on start)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")

    def postmaster_pid(self) -> int | None:
        try:
            return int((self.data / "postmaster.pid").read_text().splitlines()[0])
        except (OSError, ValueError, IndexError):
            return None

    def pids(self) -> list[int]:
        """The postmaster and every process it forked (backends, checkpointer…)."""
        master = self.postmaster_pid()
        if master is None:
            return []
        return [master, *(pid for pid, parent in _parents().items() if parent == master)]

    def freeze(self) -> None:
        """SIGSTOP every process of the cluster: a database that accepts TCP connections
        (the kernel does) but never answers, like a host that hangs."""
        for pid in self.pids():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGSTOP)

    def thaw(self) -> None:
        for pid in self.pids():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def destroy(self) -> None:
        """Stop the cluster however it is (even frozen), and remove its files."""
        self.thaw()
        with contextlib.suppress(Exception):
            self.stop("immediate")
        master = self.postmaster_pid()
        if master is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(master, signal.SIGKILL)
        shutil.rmtree(self.root, ignore_errors=True)

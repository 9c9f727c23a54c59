"""Load for the fault tests: phones pushing check-ins and uploading photos in threads, each
retrying an unanswered or refused request the way the app does, with every attempt kept
for the test to judge afterwards."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

from PIL import Image

from tests.faults.support import HttpPhone, PhoneIdentity, Reply, check_ins, tus_upload

RECORDS_PER_PUSH = 4


@dataclass
class Attempt:
    """One request of the load: what was sent (``key``) and how it ended."""

    kind: str  # push | upload
    key: str  # the push's id prefix, or the photo id
    status: int | None  # None: no answer (connection refused, reset, timed out)
    seconds: float
    code: str = ""
    retry_after: str | None = None
    error: str = ""
    request_id: str = ""  # the server's X-Request-Id: find the request in its log


@dataclass
class Load:
    """Threads that push (and upload) until stopped; each unit of work is retried until
    the server answers 2xx, as a phone's sync queue does."""

    base_url: str
    phones: list[PhoneIdentity]
    uploads: bool = False
    # How long a phone waits before retrying a request that got no answer.
    reconnect_pause: float = 0.05
    attempts: list[Attempt] = field(default_factory=list)
    done: dict[str, list[str]] = field(default_factory=dict)  # kind -> keys answered 2xx
    unfinished: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> None:
        for index, identity in enumerate(self.phones):
            phone = HttpPhone(self.base_url, identity)
            self._threads.append(
                threading.Thread(target=self._pushes, args=(phone, index), daemon=True)
            )
        if self.uploads:
            self._threads.append(
                threading.Thread(target=self._uploads, args=(self.phones[0],), daemon=True)
            )
        for thread in self._threads:
            thread.start()

    def stop(self, finish_within: float = 30.0) -> None:
        """Stop starting new work; let the work in hand finish (retried until answered)."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=finish_within)
        assert not any(t.is_alive() for t in self._threads), "load threads did not finish"

    def successes(self, kind: str = "push") -> int:
        with self._lock:
            return len(self.done.get(kind, []))

    def _record(self, attempt: Attempt) -> None:
        with self._lock:
            self.attempts.append(attempt)

    def _finish(self, kind: str, key: str) -> None:
        with self._lock:
            self.done.setdefault(kind, []).append(key)

    def _until_answered(self, kind: str, key: str, send: Callable[[], Reply]) -> None:
        """Send until 2xx; a 503 waits for its Retry-After (capped: tests are short)."""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            started = time.monotonic()
            try:
                reply = send()
            except OSError as exc:
                self._record(Attempt(kind, key, None, time.monotonic() - started, error=repr(exc)))
                time.sleep(self.reconnect_pause)
                continue
            code = ""
            if reply.status >= 400:
                try:
                    code = str(reply.json().get("code", ""))
                except ValueError:
                    code = "<not json>"
            self._record(
                Attempt(
                    kind,
                    key,
                    reply.status,
                    reply.seconds,
                    code,
                    reply.headers.get("retry-after"),
                    request_id=reply.headers.get("x-request-id", ""),
                )
            )
            if reply.status < 300:
                self._finish(kind, key)
                return
            if reply.status != 503:
                return  # judged by the test: only 503 is an answer to retry
            time.sleep(min(float(reply.headers.get("retry-after") or 1), 0.2))
        with self._lock:
            self.unfinished.append(key)

    def _pushes(self, phone: HttpPhone, index: int) -> None:
        self._until_answered("pull", f"pull-{index}", phone.pull)
        n = 0
        while not self._stop.is_set():
            prefix = f"ph{index}n{n:05d}r"
            records = check_ins(prefix, RECORDS_PER_PUSH)
            self._until_answered("push", prefix, partial(phone.push, records))
            n += 1

    def _uploads(self, identity: PhoneIdentity) -> None:
        n = 0
        while not self._stop.is_set():
            photo_id = f"load-photo-{n:05d}"
            data = small_jpeg(n)
            self._until_answered(
                "upload",
                photo_id,
                partial(tus_upload, self.base_url, identity.headers, photo_id, data),
            )
            n += 1


def small_jpeg(seed: int, size: tuple[int, int] = (96, 72)) -> bytes:
    """A small, valid JPEG, different for every seed."""
    image = Image.new("RGB", size, (seed * 37 % 256, seed * 91 % 256, seed * 13 % 256))
    image.putpixel((seed % size[0], seed // size[0] % size[1]), (255, 255, 255))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()

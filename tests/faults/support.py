"""What the fault tests share: settings handed to child processes, a committed world with
several phones, and a plain HTTP client (a phone talks to gunicorn over a socket here,
not through Flask's test client)."""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import Flask

from backend.app import create_app
from backend.auth.models import Device
from backend.cli import upgrade_database
from backend.config import Settings
from backend.db import database_of
from tests import factories
from tests.conftest import TEST_SECRET
from tests.sync.phone import check_in

# Generous login limits for everything but the throttle itself (tested with its own).
_SETTING_DEFAULTS = {
    "LOGIN_LIMIT_PER_ACCOUNT": "1000 per minute",
    "LOGIN_LIMIT_PER_IP": "10000 per minute",
}


def service_env(
    instance: Path, database_url: str, redis_url: str | None = None, **extra: str
) -> dict[str, str]:
    """The settings, as environment, of the test's own app (``Settings.from_env``) and of
    every process it starts (:func:`child_env`): all of them share one configuration."""
    return {
        **_SETTING_DEFAULTS,
        "INSTANCE_PATH": str(instance),
        "MEDIA_ROOT": str(instance / "media"),
        "DATABASE_URL": database_url,
        "SECRET_KEY": TEST_SECRET,
        "LOG_FORMAT": "text",
        **({"REDIS_URL": redis_url} if redis_url else {}),
        **extra,
    }


def child_env(service: dict[str, str]) -> dict[str, str]:
    """This process's environment (PATH, the venv…) with the service's settings on top."""
    inherited = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "REDIS_URL", "MEDIA_ROOT", "INSTANCE_PATH", "SECRET_KEY"}
    }
    return {**inherited, **service, "PYTHONUNBUFFERED": "1"}


@contextmanager
def migrated_app(service: dict[str, str]) -> Iterator[Flask]:
    """The test's own app on the service's database, migrated; its pool closed after."""
    app = create_app(Settings.from_env(service))
    try:
        with database_of(app).engine.begin() as connection:
            upgrade_database(connection)
        yield app
    finally:
        database_of(app).engine.dispose()


# --- a world with phones ------------------------------------------------------------------


@dataclass(frozen=True)
class PhoneIdentity:
    """A teacher seconded to a host school, logged in on one device."""

    name: str
    user_id: uuid.UUID
    teacher_id: uuid.UUID
    headers: dict[str, str]
    device_id: str


@dataclass
class FaultWorld:
    world: factories.World
    phones: list[PhoneIdentity] = field(default_factory=list)


def build_world(app: Flask, teachers: int = 2) -> FaultWorld:
    """The factories' world, committed, plus extra seconded teachers (``teachers`` phones)."""
    with database_of(app).unit_of_work() as session:
        world = factories.world(session, app)
        users = [("teacher_a", world.users["teacher_a"]), ("teacher_b", world.users["teacher_b"])]
        headers = {name: world.headers[name] for name, _ in users}
        for n in range(max(0, teachers - len(users))):
            extra = factories.teacher(session, world.core_a)
            factories.secondment(session, extra, world.member_a)
            user = factories.user(session, app, "teacher", teacher_id=extra.id)
            name = f"teacher_x{n}"
            users.append((name, user))
            headers[name] = factories.bearer(session, app, user)
        session.flush()
        phones = []
        for name, user in users[:teachers]:
            device_id = session.scalars(
                sa.select(Device.device_id).where(Device.user_id == user.id)
            ).one()
            assert user.teacher_id is not None
            phones.append(PhoneIdentity(name, user.id, user.teacher_id, headers[name], device_id))
    return FaultWorld(world, phones)


# --- HTTP ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]  # lower-case names
    body: bytes
    seconds: float

    def json(self) -> Any:
        return json.loads(self.body)


def call(
    base_url: str,
    method: str,
    path: str,
    *,
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
    json_body: Any = None,
    timeout: float = 30.0,
) -> Reply:
    """One request on a new connection. No complete answer raises (``OSError`` family)."""
    host, _, port = base_url.removeprefix("http://").partition(":")
    sent = dict(headers or {})
    if json_body is not None:
        body = json.dumps(json_body).encode()
        sent["Content-Type"] = "application/json"
    started = time.monotonic()
    connection = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        connection.request(method, path, body=body, headers=sent)
        response = connection.getresponse()
        data = response.read()
    except http.client.HTTPException as exc:  # e.g. a body cut short: no answer either
        raise ConnectionError(f"no complete answer: {exc!r}") from exc
    finally:
        connection.close()
    return Reply(
        response.status,
        {k.lower(): v for k, v in response.getheaders()},
        data,
        time.monotonic() - started,
    )


@dataclass
class HttpPhone:
    """A phone's sync calls over HTTP (the protocol of tests/sync/phone.py)."""

    base_url: str
    identity: PhoneIdentity
    last_pulled_at: int | None = None

    def pull(self) -> Reply:
        reply = call(
            self.base_url,
            "GET",
            "/api/v1/sync?last_pulled_at=null&schema_version=1&migration=null",
            headers=self.identity.headers,
        )
        if reply.status == 200:
            self.last_pulled_at = reply.json()["timestamp"]
        return reply

    def push(self, records: list[dict[str, Any]], timeout: float = 30.0) -> Reply:
        changes = {"check_ins": {"created": records, "updated": [], "deleted": []}}
        return call(
            self.base_url,
            "POST",
            f"/api/v1/sync?last_pulled_at={self.last_pulled_at or 0}&schema_version=1",
            headers={
                **self.identity.headers,
                "X-Device-Id": self.identity.device_id,
                "X-Device-Time": str(int(time.time() * 1000)),
            },
            json_body=changes,
            timeout=timeout,
        )


def check_ins(prefix: str, count: int) -> list[dict[str, Any]]:
    """``count`` new check-ins whose ids start with ``prefix`` (a push's own records)."""
    return [check_in(f"{prefix}{i:03d}") for i in range(count)]


# --- tus -----------------------------------------------------------------------------------


def tus_upload(
    base_url: str, headers: dict[str, str], photo_id: str, data: bytes, timeout: float = 30.0
) -> Reply:
    """A whole photo in one request (tus creation-with-upload): 201 once it is stored."""
    sha = hashlib.sha256(data).hexdigest()
    meta = {"photo_id": photo_id, "sha256": sha, "content_type": "image/jpeg", "filename": "x.jpg"}
    encoded = ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in meta.items())
    return call(
        base_url,
        "POST",
        "/api/v1/uploads",
        headers={
            **headers,
            "Tus-Resumable": "1.0.0",
            "Upload-Length": str(len(data)),
            "Upload-Metadata": encoded,
            "Content-Type": "application/offset+octet-stream",
        },
        body=data,
        timeout=timeout,
    )

"""Every setting of the service, parsed from the environment once and typed.

With no variable set the service runs on the *embedded default*: an SQLite file under
``instance/``, media on local disk under ``instance/media`` and jobs run in-process.
``DATABASE_URL`` and ``REDIS_URL`` switch to PostgreSQL and Redis.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_INSTANCE = PROJECT_ROOT / "instance"

# The development secret is only ever used on the embedded default; production refuses it.
_DEV_SECRET_FILE = "secret_key"  # noqa: S105 - a file name, not a secret


class ConfigError(ValueError):
    """A setting in the environment cannot be parsed."""


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from exc


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in {"1", "true", "yes", "on"}:
        return True
    if raw.lower() in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{name} must be a boolean, got {raw!r}")


def _dev_secret(instance: Path) -> str:
    """A per-installation random secret, kept in ``instance/`` so tokens survive restarts."""
    path = instance / _DEV_SECRET_FILE
    if path.exists():
        return path.read_text().strip()
    instance.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(48)
    path.write_text(value)
    path.chmod(0o600)
    return value


def _with_connect_timeout(url: str, seconds: int) -> str:
    """``url`` with libpq's ``connect_timeout`` added (0 leaves it without one)."""
    query = urlsplit(url).query
    if seconds <= 0 or "connect_timeout" in parse_qs(query):
        return url
    return f"{url}{'&' if query else '?'}connect_timeout={seconds}"


@dataclass(frozen=True)
class Settings:
    """The service's settings. Build with :meth:`from_env`; override in tests with :meth:`with_`."""

    database_url: str
    redis_url: str | None
    instance_path: Path
    media_root: Path
    secret_key: str
    env: str = "development"
    access_token_ttl: timedelta = timedelta(minutes=10)
    refresh_token_ttl: timedelta = timedelta(days=60)
    # A spent refresh token presented again this soon, its successor unused, is taken as a
    # retry after a lost response (Auth0's "reuse interval"), not as theft.
    refresh_retry_grace: timedelta = timedelta(seconds=30)
    jwt_audience: str = "ucomm-api"
    jwt_issuer: str = "ucomm"
    login_limit_per_account: str = "5 per minute; 30 per hour"
    login_limit_per_ip: str = "30 per minute"
    max_request_bytes: int = 8 * 1024 * 1024
    page_size_default: int = 50
    page_size_max: int = 200
    password_min_length: int = 8
    sqlite_busy_timeout_ms: int = 15_000
    # PostgreSQL: how long opening a connection may take before the request fails (503)
    # instead of waiting on a database host that does not answer. Put into the URL as
    # libpq's ``connect_timeout`` (minimum 2), unless the URL has one already.
    database_connect_timeout: int = 5
    # How many reverse proxies stand in front (their X-Forwarded-For is trusted), 0 for none.
    proxy_count: int = 0
    # Photo evidence: where blobs live (local | s3 | memory) and the limits phones are told.
    media_storage: str = "local"
    s3_bucket: str = ""
    s3_endpoint_url: str | None = None
    s3_region: str = "us-east-1"
    upload_max_bytes: int = 20 * 1024 * 1024
    upload_quota_bytes: int = 200 * 1024 * 1024  # a user's unfinished uploads at once
    upload_expiry: timedelta = timedelta(days=7)
    unclaimed_photo_days: int = 30
    # Decoding cost grows with pixels, not bytes: 30 Mpx covers every phone camera we
    # expect (12–24 Mpx), and refuses a small file that would inflate to gigabytes.
    image_max_pixels: int = 30_000_000
    # On this day of the following month (China time) a month's attendance is tallied into
    # drafts: a day or two lets phones that were offline over the month end sync first.
    report_tally_day: int = 2
    # Operations: log lines as JSON (one object a line, for a collector) or text (a
    # terminal); the bearer token /metrics asks for — empty leaves /metrics switched off.
    log_format: str = "text"
    metrics_token: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        instance = Path(env.get("INSTANCE_PATH") or DEFAULT_INSTANCE)
        database_url = env.get("DATABASE_URL") or f"sqlite:///{instance / 'ucomm.sqlite3'}"
        if database_url.startswith(("postgres://", "postgresql://")):
            # psycopg 3 is the only PostgreSQL driver we ship.
            database_url = "postgresql+psycopg://" + database_url.split("://", 1)[1]
        connect_timeout = _int(env, "DATABASE_CONNECT_TIMEOUT_SECONDS", 5)
        if database_url.startswith("postgresql"):
            database_url = _with_connect_timeout(database_url, connect_timeout)
        app_env = env.get("APP_ENV", "development")
        secret = env.get("SECRET_KEY") or ""
        if not secret:
            if app_env == "production":
                raise ConfigError("SECRET_KEY must be set when APP_ENV=production")
            secret = _dev_secret(instance)
        elif app_env == "production" and len(secret) < 32:
            raise ConfigError("SECRET_KEY must be at least 32 characters in production")
        # The debugger runs code typed into an error page: never where the public can reach.
        if app_env == "production" and _bool(env, "FLASK_DEBUG", False):
            raise ConfigError("FLASK_DEBUG must be off when APP_ENV=production")
        return cls(
            database_url=database_url,
            redis_url=env.get("REDIS_URL") or None,
            database_connect_timeout=connect_timeout,
            instance_path=instance,
            media_root=Path(env.get("MEDIA_ROOT") or instance / "media"),
            secret_key=secret,
            env=app_env,
            access_token_ttl=timedelta(seconds=_int(env, "ACCESS_TOKEN_TTL_SECONDS", 600)),
            refresh_token_ttl=timedelta(days=_int(env, "REFRESH_TOKEN_TTL_DAYS", 60)),
            refresh_retry_grace=timedelta(seconds=_int(env, "REFRESH_RETRY_GRACE_SECONDS", 30)),
            login_limit_per_account=env.get("LOGIN_LIMIT_PER_ACCOUNT", cls.login_limit_per_account),
            login_limit_per_ip=env.get("LOGIN_LIMIT_PER_IP", cls.login_limit_per_ip),
            max_request_bytes=_int(env, "MAX_REQUEST_BYTES", cls.max_request_bytes),
            proxy_count=_int(env, "PROXY_COUNT", 0),
            media_storage=env.get("MEDIA_STORAGE", "local"),
            s3_bucket=env.get("S3_BUCKET", ""),
            s3_endpoint_url=env.get("S3_ENDPOINT_URL") or None,
            s3_region=env.get("S3_REGION", "us-east-1"),
            upload_max_bytes=_int(env, "UPLOAD_MAX_BYTES", cls.upload_max_bytes),
            upload_quota_bytes=_int(env, "UPLOAD_QUOTA_BYTES", cls.upload_quota_bytes),
            upload_expiry=timedelta(hours=_int(env, "UPLOAD_EXPIRY_HOURS", 24 * 7)),
            unclaimed_photo_days=_int(env, "UNCLAIMED_PHOTO_DAYS", 30),
            image_max_pixels=_int(env, "IMAGE_MAX_PIXELS", cls.image_max_pixels),
            report_tally_day=_int(env, "REPORT_TALLY_DAY", cls.report_tally_day),
            log_format=env.get("LOG_FORMAT") or ("json" if app_env == "production" else "text"),
            metrics_token=env.get("METRICS_TOKEN", ""),
        ).validated()

    def validated(self) -> Settings:
        if (
            self.access_token_ttl > timedelta(minutes=15)
            or self.access_token_ttl.total_seconds() < 1
        ):
            raise ConfigError("ACCESS_TOKEN_TTL_SECONDS must be between 1 and 900")
        if self.refresh_token_ttl < timedelta(days=1):
            raise ConfigError("REFRESH_TOKEN_TTL_DAYS must be at least 1")
        if self.media_storage not in {"local", "s3", "memory"}:
            raise ConfigError("MEDIA_STORAGE must be local, s3 or memory")
        if self.media_storage == "s3" and not self.s3_bucket:
            raise ConfigError("MEDIA_STORAGE=s3 needs S3_BUCKET")
        if not 1 <= self.report_tally_day <= 28:
            raise ConfigError("REPORT_TALLY_DAY must be a day of the month from 1 to 28")
        if self.database_connect_timeout < 0:
            raise ConfigError("DATABASE_CONNECT_TIMEOUT_SECONDS must be 0 (none) or more")
        if self.log_format not in {"json", "text"}:
            raise ConfigError("LOG_FORMAT must be json or text")
        return self

    def with_(self, **changes: Any) -> Settings:
        known = {f.name for f in fields(self)}
        unknown = set(changes) - known
        if unknown:
            raise ConfigError(f"unknown settings: {sorted(unknown)}")
        return replace(self, **changes).validated()

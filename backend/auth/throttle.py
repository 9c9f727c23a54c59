"""Login rate limits per account and per client IP, that keep working when Redis is down.

Built on ``limits`` (the library behind Flask-Limiter) with a moving window. The counters
live in Redis so that every gunicorn process and host shares them; if Redis cannot be
reached the throttle falls back to this process's memory for a while instead of letting
every attempt through (fail *closed* enough: an attacker gains at most one window per
process) or refusing every login (a Redis outage must not lock the county out).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from limits import RateLimitItem, parse_many
from limits.storage import MemoryStorage, Storage, storage_from_string
from limits.strategies import MovingWindowRateLimiter
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

_RETRY_REDIS_AFTER_S = 30.0


@dataclass
class LoginThrottle:
    per_account: list[RateLimitItem]
    per_ip: list[RateLimitItem]
    redis_url: str | None
    _memory: MovingWindowRateLimiter = field(init=False)
    _shared: MovingWindowRateLimiter | None = field(init=False, default=None)
    _shared_down_until: float = field(init=False, default=0.0)

    @classmethod
    def from_settings(cls, per_account: str, per_ip: str, redis_url: str | None) -> LoginThrottle:
        return cls(parse_many(per_account), parse_many(per_ip), redis_url)

    def __post_init__(self) -> None:
        self._memory = MovingWindowRateLimiter(MemoryStorage())
        if self.redis_url:
            storage = storage_from_string(
                self.redis_url, socket_connect_timeout=0.3, socket_timeout=0.3
            )
            assert isinstance(storage, Storage)  # a redis:// URL gives the synchronous storage
            self._shared = MovingWindowRateLimiter(storage)

    def _limiter(self) -> MovingWindowRateLimiter:
        if self._shared is not None and time.monotonic() >= self._shared_down_until:
            return self._shared
        return self._memory

    def _run(self, op: str, item: RateLimitItem, key: str) -> bool:
        limiter = self._limiter()
        try:
            return bool(getattr(limiter, op)(item, "login", key))
        except (RedisError, OSError):
            log.warning("rate-limit store unreachable; using in-process limits")
            self._shared_down_until = time.monotonic() + _RETRY_REDIS_AFTER_S
            return bool(getattr(self._memory, op)(item, "login", key))

    def allow_ip(self, ip: str) -> bool:
        """Count an attempt from ``ip``; False once it is over its limit."""
        return all(self._run("hit", item, f"ip:{ip}") for item in self.per_ip)

    def allow_account(self, username: str) -> bool:
        """Count an attempt on ``username`` before its password is checked; False when over.

        Counting first makes the limit hold under concurrent attempts; a successful login
        then forgets the count (:meth:`forget_account`), so only failures accumulate.
        """
        return all(self._run("hit", item, f"user:{username.lower()}") for item in self.per_account)

    def forget_account(self, username: str) -> None:
        limiter = self._limiter()
        try:
            for item in self.per_account:
                limiter.clear(item, "login", f"user:{username.lower()}")
        except (RedisError, OSError):
            log.warning("rate-limit store unreachable; account counter not cleared")

    def retry_after(self, username: str) -> int:
        """Seconds until ``username`` may try again (a hint for the Retry-After header)."""
        limiter = self._limiter()
        try:
            resets = [
                limiter.get_window_stats(item, "login", f"user:{username.lower()}").reset_time
                for item in self.per_account
            ]
        except (RedisError, OSError):
            return 60
        return max(1, int(max(resets) - time.time())) if resets else 60

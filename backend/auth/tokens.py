"""Short-lived access tokens (JWT, HS256) and opaque refresh tokens.

Access tokens carry the user and the device; every request re-checks that the device is
not revoked, so a lost phone is cut off at once rather than when its token expires.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime

import jwt

from backend.config import Settings
from backend.db import utcnow
from backend.errors import AuthenticationFailed

_ALGORITHM = "HS256"


@dataclass(frozen=True)
class AccessClaims:
    user_id: uuid.UUID
    device_pk: uuid.UUID
    issued_at_ms: int


def issue_access_token(settings: Settings, user_id: uuid.UUID, device_pk: uuid.UUID) -> str:
    now = utcnow()
    payload = {
        "sub": str(user_id),
        "did": str(device_pk),
        "iat": int(now.timestamp()),
        "nbf": int(now.timestamp()),
        "exp": int((now + settings.access_token_ttl).timestamp()),
        "aud": settings.jwt_audience,
        "iss": settings.jwt_issuer,
        "jti": secrets.token_hex(8),
        # Issue time in ms: "iat" has whole seconds, too coarse to tell a token issued just
        # before a logout from one issued by the login just after it.
        "ims": int(now.timestamp() * 1000),
    }
    return jwt.encode(payload, settings.secret_key, algorithm=_ALGORITHM)


def decode_access_token(settings: Settings, token: str) -> AccessClaims:
    try:
        payload = jwt.decode(
            token,
            settings.secret_key,
            algorithms=[_ALGORITHM],  # pinned: "alg": "none" and key confusion are refused
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
            options={"require": ["exp", "iat", "sub", "did", "aud", "iss", "ims"]},
        )
        return AccessClaims(
            uuid.UUID(payload["sub"]), uuid.UUID(payload["did"]), int(payload["ims"])
        )
    except jwt.ExpiredSignatureError as exc:
        raise AuthenticationFailed(
            "Access token expired; refresh it", code="token_expired"
        ) from exc
    except (jwt.InvalidTokenError, ValueError, TypeError) as exc:
        raise AuthenticationFailed("Invalid access token", code="token_invalid") from exc


def new_refresh_token() -> str:
    return secrets.token_urlsafe(32)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def expires_in(settings: Settings, issued: datetime) -> datetime:
    return issued + settings.refresh_token_ttl

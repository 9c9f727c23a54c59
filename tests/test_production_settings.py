"""Production refuses to start on settings that only suit a developer's machine: the debug
mode (its error pages run code) or a missing or short secret (anyone could sign tokens)."""

from __future__ import annotations

from pathlib import Path

import pytest

from backend.app import create_app
from backend.config import ConfigError, Settings

GOOD_SECRET = "s" * 48


def _production(tmp_path: Path, **env: str) -> dict[str, str]:
    return {
        "APP_ENV": "production",
        "INSTANCE_PATH": str(tmp_path),
        "SECRET_KEY": GOOD_SECRET,
        **env,
    }


def test_production_starts_with_a_long_secret_and_debug_off(tmp_path: Path) -> None:
    for debug in ("", "0", "false", "off"):
        settings = Settings.from_env(_production(tmp_path, FLASK_DEBUG=debug))
        assert settings.env == "production" and settings.secret_key == GOOD_SECRET


@pytest.mark.parametrize("debug", ["1", "true", "yes", "on", "True"])
def test_production_refuses_debug_mode(tmp_path: Path, debug: str) -> None:
    with pytest.raises(ConfigError, match="FLASK_DEBUG must be off when APP_ENV=production"):
        Settings.from_env(_production(tmp_path, FLASK_DEBUG=debug))


def test_create_app_refuses_debug_in_production(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What ``flask run --debug`` or a stray FLASK_DEBUG=1 beside APP_ENV=production does."""
    for name, value in _production(tmp_path, FLASK_DEBUG="1").items():
        monkeypatch.setenv(name, value)

    with pytest.raises(ConfigError, match="FLASK_DEBUG"):
        create_app()


def test_debug_mode_is_fine_in_development(tmp_path: Path) -> None:
    settings = Settings.from_env({"INSTANCE_PATH": str(tmp_path), "FLASK_DEBUG": "1"})
    assert settings.env == "development"


@pytest.mark.parametrize(
    ("secret", "message"),
    [
        ("", "SECRET_KEY must be set"),
        ("short-secret", "at least 32 characters"),
        ("x" * 31, "at least 32 characters"),
    ],
)
def test_production_refuses_a_default_or_short_secret(
    tmp_path: Path, secret: str, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        Settings.from_env(_production(tmp_path, SECRET_KEY=secret))
    # No development secret was generated to fall back on either.
    assert not (tmp_path / "secret_key").exists()

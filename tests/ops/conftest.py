"""Helpers for the operations tests: apps of their own (bad database, Redis down)."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator

import pytest
from flask import Flask

from backend.app import create_app
from backend.config import Settings
from backend.db import database_of


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.fixture
def make_app() -> Iterator[Callable[[Settings], Flask]]:
    """Build extra apps from settings; their engines are disposed afterwards."""
    built: list[Flask] = []

    def make(settings: Settings) -> Flask:
        app = create_app(settings)
        built.append(app)
        return app

    yield make
    for app in built:
        database_of(app).engine.dispose()

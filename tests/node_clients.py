"""The real JavaScript clients (tests/e2e, installed by ``npm ci``) that tests drive."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

E2E = Path(__file__).resolve().parent / "e2e"
INSTALL = "run `npm ci --prefix tests/e2e` (CI's .ci/run does it before pytest)"


def node_with(package: str) -> str:
    """The node binary, once ``package`` is installed as pinned; a failure (not a skip) if not."""
    node = shutil.which("node")
    if node is None:
        pytest.fail(f"`node` is not on PATH: install Node 20, then {INSTALL}", pytrace=False)
    installed = E2E / "node_modules" / package / "package.json"
    if not installed.is_file():
        pytest.fail(f"tests/e2e/node_modules lacks {package}: {INSTALL}", pytrace=False)
    pinned = json.loads((E2E / "package.json").read_text())["dependencies"][package]
    version = json.loads(installed.read_text())["version"]
    if version != pinned:
        pytest.fail(
            f"{package} {version} is installed, {pinned} is pinned: {INSTALL}", pytrace=False
        )
    return node

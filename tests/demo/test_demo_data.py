"""The demo county: built from the seeds, idempotent, one working login per role."""

from __future__ import annotations

import json
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from backend.auth.models import User
from backend.demo.seed_lists import COMMUNITIES
from backend.exchange.models import Secondment, Teacher
from backend.org.models import Community, CommunityMembership, School

XIJI_CORES = ["西吉二中", "西吉三中", "西吉五中", "西吉六中", "西吉七中", "袁河中学"]
XIJI_CORES += ["西吉一小", "西吉二小", "西吉三小", "西吉四小", "西吉六小"]


def _counts(session: Session) -> dict[str, int]:
    models = (School, Community, CommunityMembership, Teacher, Secondment, User)
    return {
        m.__name__: session.scalar(sa.select(sa.func.count()).select_from(m)) or 0 for m in models
    }


@pytest.fixture
def logins(app: Flask, session: Session) -> list[dict[str, str]]:
    result = app.test_cli_runner().invoke(args=["demo-data", "--json", "--password", "demo-pass-1"])
    assert result.exit_code == 0, result.output
    loaded: list[dict[str, str]] = json.loads(result.output)
    return loaded


def test_demo_builds_the_seed_communities(logins: list[dict[str, str]], session: Session) -> None:
    cores = session.scalars(
        sa.select(School.name).join(Community, Community.core_school_id == School.id)
    ).all()
    assert set(XIJI_CORES) <= set(cores)
    assert session.scalar(sa.select(sa.func.count()).select_from(Community)) == len(COMMUNITIES)
    # 003 附件1 第1组, school names exactly as the seed writes them
    first = session.scalars(sa.select(Community).where(Community.name.startswith("西吉二中"))).one()
    members = {m.school.name for m in first.memberships}
    assert members == {"西吉二中", "兴隆中学", "兴平中学", "火石寨乡九年一贯制学校初中部"}
    assert (session.scalar(sa.select(sa.func.count()).select_from(Secondment)) or 0) > 20
    assert {login["role"] for login in logins} == {
        "teacher",
        "school_admin",
        "inspector",
        "bureau_admin",
    }


def test_demo_twice_changes_nothing(
    app: Flask, logins: list[dict[str, str]], session: Session
) -> None:
    before = _counts(session)
    result = app.test_cli_runner().invoke(args=["demo-data", "--json", "--password", "demo-pass-1"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == logins
    assert _counts(session) == before


def _login(client: FlaskClient, login: dict[str, str]) -> dict[str, str]:
    response = client.post(
        "/api/v1/auth/login",
        json={
            "username": login["username"],
            "password": login["password"],
            "device_id": "demo-phone",
        },
    )
    assert response.status_code == 200, response.json
    assert response.json is not None
    return {"Authorization": f"Bearer {response.json['access_token']}"}


def _names(client: FlaskClient, path: str, headers: dict[str, str]) -> set[str]:
    response = client.get(f"{path}?limit=200", headers=headers)
    assert response.status_code == 200, response.json
    body: dict[str, Any] = response.json or {}
    return {item["name"] for item in body["items"]}


def test_each_demo_login_sees_only_its_scope(
    client: FlaskClient, logins: list[dict[str, str]]
) -> None:
    by_user = {login["username"]: login for login in logins}
    xiji = _names(client, "/api/v1/schools", _login(client, by_user["bureau.xiji"]))
    lianyun = _names(client, "/api/v1/schools", _login(client, by_user["bureau.lianyun"]))
    assert "西吉二中" in xiji and "西吉二中" not in lianyun
    assert "西苑中学" in lianyun and "西苑中学" not in xiji
    assert _names(client, "/api/v1/schools", _login(client, by_user["inspector.xiji"])) == xiji

    home_admin = _login(client, by_user["admin.home"])
    assert _names(client, "/api/v1/communities", home_admin) == {"西吉二中城乡义务教育共同体"}

    teacher_login = next(login for login in logins if login["role"] == "teacher")
    teacher = _login(client, teacher_login)
    me = client.get("/api/v1/teachers?limit=200", headers=teacher).json
    assert me is not None and len(me["items"]) == 1
    schools = _names(client, "/api/v1/schools", teacher)
    assert 1 <= len(schools) <= 2  # home and host school only
    assert client.get("/api/v1/users", headers=teacher).status_code == 403


def test_create_user_cli(app: Flask, logins: list[dict[str, str]], session: Session) -> None:
    runner = app.test_cli_runner()
    ok = runner.invoke(
        args=[
            "create-user",
            "--role",
            "school_admin",
            "--username",
            "admin.xj-m02",
            "--password",
            "long-enough-1",
            "--school",
            "XJ-M02",
        ]
    )
    assert ok.exit_code == 0, ok.output
    user = session.scalars(sa.select(User).where(User.username == "admin.xj-m02")).one()
    assert user.role == "school_admin" and user.school_id is not None
    bad = runner.invoke(
        args=[
            "create-user",
            "--role",
            "school_admin",
            "--username",
            "x-admin",
            "--password",
            "long-enough-1",
            "--school",
            "NOPE",
        ]
    )
    assert bad.exit_code != 0 and "NOPE" in bad.output
    wrong_anchor = runner.invoke(
        args=[
            "create-user",
            "--role",
            "teacher",
            "--username",
            "x-teacher",
            "--password",
            "long-enough-1",
            "--school",
            "XJ-M02",
        ]
    )
    assert wrong_anchor.exit_code != 0 and "teacher_id" in wrong_anchor.output


def test_create_region_cli(app: Flask, session: Session) -> None:
    runner = app.test_cli_runner()
    top = runner.invoke(
        args=["create-region", "--code", "99", "--name", "测试省", "--level", "province"]
    )
    assert top.exit_code == 0, top.output
    child = runner.invoke(
        args=[
            "create-region",
            "--code",
            "9901",
            "--name",
            "测试市",
            "--level",
            "city",
            "--parent",
            "99",
        ]
    )
    assert child.exit_code == 0 and "/99/9901/" in child.output
    orphan = runner.invoke(
        args=["create-region", "--code", "9902", "--name", "x", "--level", "city", "--parent", "98"]
    )
    assert orphan.exit_code != 0 and "98" in orphan.output
    again = runner.invoke(
        args=["create-region", "--code", "99", "--name", "x", "--level", "province"]
    )
    assert again.exit_code != 0 and "exists" in again.output


def test_region_codes_cannot_carry_wildcards_or_separators(app: Flask, session: Session) -> None:
    runner = app.test_cli_runner()
    for code in ("64_", "6%", "64/1", "六四"):
        result = runner.invoke(
            args=["create-region", "--code", code, "--name", "x", "--level", "province"]
        )
        assert result.exit_code != 0 and "letters and digits" in result.output, code

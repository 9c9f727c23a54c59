"""Removing what was entered by mistake: only when nothing refers to it, only in scope."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from backend.exchange.models import Teacher
from backend.org.models import Region, School
from tests import factories
from tests.factories import committed_world


def test_unreferenced_school_can_be_removed_referenced_cannot(
    app: Flask, session: Session, client: FlaskClient
) -> None:
    w = committed_world(session, app)
    spare = factories.school(session, w.county_a)
    session.commit()
    bureau = w.headers["bureau_a"]
    assert (
        client.delete(f"/api/v1/schools/{spare.id}", headers=w.headers["bureau_b"]).status_code
        == 404
    )
    assert (
        client.delete(
            f"/api/v1/schools/{spare.id}", headers=w.headers["school_admin_a"]
        ).status_code
        == 403
    )
    assert client.delete(f"/api/v1/schools/{spare.id}", headers=bureau).status_code == 204
    spare_id = spare.id
    session.expire_all()
    assert session.get(School, spare_id) is None
    busy = client.delete(f"/api/v1/schools/{w.core_a.id}", headers=bureau)
    assert (
        busy.status_code == 409 and busy.json is not None and "referenced" in busy.json["message"]
    )
    session.expire_all()
    assert session.get(School, w.core_a.id) is not None


def test_teacher_without_history_can_be_removed(
    app: Flask, session: Session, client: FlaskClient
) -> None:
    w = committed_world(session, app)
    fresh_hire = factories.teacher(session, w.core_a)
    session.commit()
    assert (
        client.delete(
            f"/api/v1/teachers/{w.teacher_a.id}", headers=w.headers["bureau_a"]
        ).status_code
        == 409
    )
    assert (
        client.delete(
            f"/api/v1/teachers/{fresh_hire.id}", headers=w.headers["teacher_a"]
        ).status_code
        == 403
    )
    assert (
        client.delete(
            f"/api/v1/teachers/{fresh_hire.id}", headers=w.headers["school_admin_a"]
        ).status_code
        == 204
    )
    hire_id = fresh_hire.id
    session.expire_all()
    assert session.get(Teacher, hire_id) is None


def test_regions_rename_and_remove(app: Flask, session: Session, client: FlaskClient) -> None:
    w = committed_world(session, app)
    town = factories.region(session, parent=w.county_a, level="township")
    session.commit()
    bureau = w.headers["bureau_a"]
    renamed = client.patch(f"/api/v1/regions/{town.id}", json={"name": "兴隆镇"}, headers=bureau)
    assert (
        renamed.status_code == 200 and renamed.json is not None and renamed.json["name"] == "兴隆镇"
    )
    assert client.delete(f"/api/v1/regions/{w.county_a.id}", headers=bureau).status_code == 403
    assert (
        client.delete(
            f"/api/v1/regions/{w.county_a.id}", headers=w.headers["bureau_city"]
        ).status_code
        == 409
    )
    assert (
        client.delete(f"/api/v1/regions/{town.id}", headers=w.headers["bureau_b"]).status_code
        == 404
    )
    assert client.delete(f"/api/v1/regions/{town.id}", headers=bureau).status_code == 204
    town_id = town.id
    session.expire_all()
    assert session.get(Region, town_id) is None

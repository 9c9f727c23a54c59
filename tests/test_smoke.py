from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from tests import factories


def test_world_builds_and_scopes(app: Flask, session: Session, client: FlaskClient) -> None:
    w = factories.world(session, app)
    r = client.get("/api/v1/schools", headers=w.headers["bureau_a"])
    assert r.status_code == 200, r.json
    assert r.json is not None
    ids = {s["id"] for s in r.json["items"]}
    assert str(w.core_a.id) in ids and str(w.core_b.id) not in ids

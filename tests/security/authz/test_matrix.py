"""The matrix itself: each row of ``matrix.MATRIX`` is requested by every persona (each
cell in a savepoint rolled back afterwards, so cells are independent), and the statuses
must be exactly the table's. A 2xx the table does not grant is reported first.

And the completeness test: every (method, rule) of the app under /api/v1 is a row group of
the table or an exemption with its reason, so a new route without a row fails.
"""

from __future__ import annotations

import pytest
from flask import Flask

from tests.security.authz.cells import run_cell
from tests.security.authz.matrix import COLUMNS, EXEMPT, MATRIX, expected
from tests.security.authz.routes import SPECS, owners_of, rules_by_key
from tests.security.authz.world import AuthzWorld

API = "/api/v1/"
IGNORED = {"HEAD", "OPTIONS"}
ROWS = [(route, owner) for route, owners in MATRIX.items() for owner in owners]


def _api_routes(app: Flask) -> set[str]:
    return {
        f"{method} {rule.rule}"
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith(API)
        for method in (rule.methods or set()) - IGNORED
    }


def test_every_api_route_is_in_the_matrix_or_exempt(app: Flask) -> None:
    routes = _api_routes(app)
    assert len(routes) > 150  # the walk itself works
    assert not set(MATRIX) & set(EXEMPT), "a route is both in the matrix and exempt"
    assert set(MATRIX) - routes == set(), "the matrix names routes the app does not have"
    assert set(EXEMPT) - routes == set(), "EXEMPT names routes the app does not have"
    assert all(reason.strip() for reason in EXEMPT.values())
    missing = sorted(routes - set(MATRIX) - set(EXEMPT))
    assert missing == [], f"routes with neither a matrix row nor an exemption: {missing}"


def test_every_route_taking_an_object_id_has_a_row(app: Flask) -> None:
    """Exemptions are for routes without an object id in the path, or public ones."""
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(API) or not rule.arguments:
            continue
        for method in (rule.methods or set()) - IGNORED:
            key = f"{method} {rule.rule}"
            if key in EXEMPT:
                assert "public" in EXEMPT[key], f"{key} takes an id but is exempt"
            else:
                assert key in MATRIX, key


def test_every_row_has_a_way_to_call_it_and_real_owners(authz: AuthzWorld) -> None:
    assert set(MATRIX) == set(SPECS)
    for route, owners in MATRIX.items():
        assert set(owners) == set(owners_of(authz, SPECS[route].kind)), route
        for owner in owners:
            expected(route, owner)
    # The table grants something to someone on every route, and refuses someone too.
    for route, owners in MATRIX.items():
        codes = {code for owner in owners for code in expected(route, owner).values()}
        assert any(c < 300 for c in codes) == (route not in _NOBODY), route
        assert any(c in (403, 404) for c in codes), route


# Rows where, in this world, nobody gets a 2xx, and why. A 409 proves the persona got past
# the scope check (a refusal by the object's state), so these rows still split 409 from
# 404/403 per persona.
_NOBODY: dict[str, str] = {
    "DELETE /api/v1/regions/<uuid:region_id>": "every region holds schools (409)",
    "DELETE /api/v1/schools/<uuid:school_id>": "every school is referenced (409)",
    "DELETE /api/v1/teachers/<uuid:teacher_id>": "every teacher has a secondment (409)",
    "POST /api/v1/reports/host/<uuid:report_id>/confirm": "the month is confirmed (409)",
}


@pytest.mark.parametrize(("route", "owner"), ROWS, ids=[f"{r} @{o}" for r, o in ROWS])
def test_cell_statuses_are_the_matrix(route: str, owner: str, authz: AuthzWorld) -> None:
    rule = rules_by_key(authz.app)[route]
    spec = SPECS[route]
    want = expected(route, owner)
    got = {persona: run_cell(authz, route, rule, spec, owner, persona) for persona in COLUMNS}
    unexpected_success = {p: got[p] for p in COLUMNS if got[p] < 300 and not want[p] < 300}
    assert unexpected_success == {}, f"UNEXPECTED SUCCESS {route} @{owner}: {unexpected_success}"
    assert got == want

"""Schemathesis over the whole API (issue 9): every operation of ``/api/v1/openapi.json``,
called in-process with valid tokens, answers without a server error and as documented
(status code and body), for valid input and for input the schema says is invalid.

Bounded and reproducible for CI: a few examples per operation and mode, derandomized (a fixed
seed). One test per operation and mode, each in its own rolled-back transaction, so the
fuzzer may write freely and no transaction grows with the whole API. Nothing is excluded:
tus chunks (``application/offset+octet-stream``) are sent as raw bytes (the alias below).
``UCOMM_FUZZ_EXAMPLES`` raises the bound for a deeper local run.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import (
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy.orm import Session

from backend.app import create_app
from backend.config import Settings
from tests import factories
from tests.conftest import TEST_SECRET

MAX_EXAMPLES = int(os.environ.get("UCOMM_FUZZ_EXAMPLES", "5"))
CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]
# Each example is sent as one of these, drawn by Hypothesis: a county bureau, a school, a
# teacher — the three scopes the policy distinguishes.
ROLES = ("bureau_a", "school_admin_a", "teacher_a")
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch"}


# A tus chunk is raw bytes: sent as schemathesis sends any octet stream.
schemathesis.serializer.alias("application/offset+octet-stream", "application/octet-stream")


def _spec(app: Flask) -> dict[str, Any]:
    spec: dict[str, Any] = app.test_client().get("/api/v1/openapi.json").get_json()
    return spec


def _cases() -> list[Any]:
    """Every (method, path, mode) of the document, read at collection from an app that does
    no I/O. Negative mode only where the operation takes some input to make invalid."""
    spec = _spec(create_app(Settings.from_env({"SECRET_KEY": TEST_SECRET})))
    cases = []
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method not in HTTP_METHODS:
                continue
            takes_input = any(
                (operation.get("parameters"), operation.get("requestBody"), item.get("parameters"))
            )
            for mode in ("positive", "negative") if takes_input else ("positive",):
                cases.append(pytest.param(method, path, mode, id=f"{mode} {method.upper()} {path}"))
    return cases


@pytest.fixture(scope="module")
def api_schema(app: Flask) -> Any:
    schema = schemathesis.openapi.from_dict(_spec(app))
    schema.app = app
    return schema


@pytest.mark.parametrize(("method", "path", "mode"), _cases())
def test_operation_answers_as_documented(
    session: Session,
    world: factories.World,
    api_schema: Any,
    method: str,
    path: str,
    mode: str,
) -> None:
    operation = api_schema[path][method]
    # Random ids only ever find nothing: path ids are drawn from the world's records too.
    known = sorted(
        [str(v.id) for v in vars(world).values() if hasattr(v, "id")]
        + [str(u.id) for u in world.users.values()]
    )

    @settings(
        max_examples=MAX_EXAMPLES,
        derandomize=True,
        deadline=None,
        database=None,
        # The strategies are schemathesis's, built from the schema: Hypothesis's checks on
        # them (filtering, data size, generation speed) say nothing about the API.
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=GenerationMode(mode)), data=st.data())
    def run(case: Any, data: st.DataObject) -> None:
        if mode == "positive":
            for name, value in (case.path_parameters or {}).items():
                if name.endswith(("_id", "_pk")):
                    case.path_parameters[name] = data.draw(st.sampled_from([value, *known]))
        headers = dict(world.headers[data.draw(st.sampled_from(ROLES))])
        if path.startswith("/api/v1/uploads") and mode == "positive":
            # The tus protocol's version header: without it every request is a 412.
            headers["Tus-Resumable"] = "1.0.0"
        case.call_and_validate(headers=headers, checks=CHECKS)

    run()

"""/metrics: refused without its token; with it, request latency and sync counters."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families

from backend.config import Settings
from backend.extensions import settings_of, store_settings
from tests.sync.phone import Phone, check_in

TOKEN = "scrape-token-for-tests"


@pytest.fixture
def metrics_on(app: Flask) -> Iterator[None]:
    """The suite's app with METRICS_TOKEN set (put back afterwards)."""
    original: Settings = settings_of(app)
    store_settings(app, original.with_(metrics_token=TOKEN))
    yield
    store_settings(app, original)


def _scrape(client: FlaskClient) -> str:
    response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200, response.data
    assert response.mimetype == "text/plain"
    return response.get_data(as_text=True)


def _value(text: str, sample_name: str, **labels: str) -> float:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == sample_name and all(
                sample.labels.get(k) == v for k, v in labels.items()
            ):
                return float(sample.value)
    return 0.0


def test_metrics_are_off_while_no_token_is_set(client: FlaskClient) -> None:
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", headers={"Authorization": "Bearer "}).status_code == 404


@pytest.mark.usefixtures("metrics_on")
@pytest.mark.parametrize(
    "authorization", [None, "Bearer wrong", f"Basic {TOKEN}", f"Bearer {TOKEN}x", "Bearer"]
)
def test_metrics_refuse_without_the_token(client: FlaskClient, authorization: str | None) -> None:
    headers = {"Authorization": authorization} if authorization is not None else {}
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 401
    assert b"ucomm_" not in response.data


@pytest.mark.usefixtures("metrics_on")
def test_request_latency_by_route_template(client: FlaskClient) -> None:
    labels = {"method": "GET", "route": "/health/live", "status": "2xx"}
    before = _value(_scrape(client), "ucomm_http_request_duration_seconds_count", **labels)
    client.get("/health/live")
    missing = "/api/v1/photos/00000000-0000-0000-0000-000000000000/url"
    client.get(missing)
    text = _scrape(client)
    after = _value(text, "ucomm_http_request_duration_seconds_count", **labels)
    assert after == before + 1
    # The template, not the path: no series per object id.
    assert "00000000-0000-0000-0000-000000000000" not in text
    refused = {"method": "GET", "route": "/api/v1/photos/<uuid:photo_pk>/url", "status": "4xx"}
    assert _value(text, "ucomm_http_request_duration_seconds_count", **refused) >= 1
    assert "ucomm_outbox_pending" in text


@pytest.mark.usefixtures("metrics_on")
def test_sync_counters_after_a_push(client: FlaskClient, phone: Phone) -> None:
    before = _scrape(client)
    phone.pull()
    phone.create("check_ins", check_in("ci00000000metric1"))
    phone.create("check_ins", check_in("ci00000000metric2", teacher_id="not-a-uuid"))
    response = phone.sync()
    assert response.status_code == 200, response.json
    result = response.json
    assert result is not None
    after = _scrape(client)
    for outcome in ("applied", "quarantined"):
        gained = _value(after, "ucomm_sync_records_total", outcome=outcome) - _value(
            before, "ucomm_sync_records_total", outcome=outcome
        )
        assert gained == result[outcome]
    assert result["applied"] >= 1
    assert _value(after, "ucomm_sync_pushes_total") == _value(before, "ucomm_sync_pushes_total") + 1

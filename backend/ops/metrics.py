"""Prometheus metrics: request latency, sync outcomes, job failures, photos processed, and
queue depth (read when scraped).

Each process keeps its own counters. Under gunicorn each worker answers ``/metrics`` with
its own, unless ``PROMETHEUS_MULTIPROC_DIR`` names an empty, writable folder (set before the
workers start): then every worker writes its samples there and any one of them answers for
all (see README, "Operating it").
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Mapping
from typing import Any

import sqlalchemy as sa
from flask import Flask, Response, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from backend.db import database_of
from backend.extensions import settings_of
from backend.ops.logs import duration_seconds

log = logging.getLogger(__name__)

REQUEST_DURATION = Histogram(
    "ucomm_http_request_duration_seconds",
    "Time to answer a request, by method, route template and status class",
    ["method", "route", "status"],
)
SYNC_RECORDS = Counter(
    "ucomm_sync_records",
    "Records pushed by phones, by outcome (applied, unchanged, ignored, quarantined)",
    ["outcome"],
)
SYNC_PUSHES = Counter("ucomm_sync_pushes", "Sync pushes accepted")
JOB_FAILURES = Counter(
    "ucomm_job_failures",
    "Jobs that failed: 'relay' an outbox row that could not be queued (or, in process, run)",
    ["stage"],
)
PHOTOS_PROCESSED = Counter(
    "ucomm_photos_processed", "Photos processed, by outcome (valid, invalid)", ["outcome"]
)

SYNC_OUTCOMES = ("applied", "unchanged", "ignored", "quarantined")


def count_sync_push(result: Mapping[str, Any]) -> None:
    """Count a push's records from its response (``applied``, ``quarantined``…)."""
    SYNC_PUSHES.inc()
    for outcome in SYNC_OUTCOMES:
        count = result.get(outcome)
        if isinstance(count, int) and count > 0:
            SYNC_RECORDS.labels(outcome).inc(count)


def _observe_request(response: Response) -> Response:
    # The route template, not the path: ids in paths would make a series per object.
    route = request.url_rule.rule if request.url_rule is not None else "<unmatched>"
    status = f"{response.status_code // 100}xx"
    REQUEST_DURATION.labels(request.method, route, status).observe(duration_seconds())
    return response


def install(app: Flask) -> None:
    app.after_request(_observe_request)


class QueueCollector(Collector):
    """Read on scrape: outbox rows not yet relayed and, with Redis, RQ's queue and failures."""

    def __init__(self, app: Flask) -> None:
        self.app = app

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from backend.jobs import QUEUE, OutboxJob

        errors = GaugeMetricFamily(
            "ucomm_scrape_error", "1 when a source could not be read this scrape", labels=["source"]
        )
        try:
            with database_of(self.app).new_session() as session:
                pending = session.scalar(
                    sa.select(sa.func.count())
                    .select_from(OutboxJob)
                    .where(OutboxJob.relayed_at.is_(None))
                )
            yield GaugeMetricFamily(
                "ucomm_outbox_pending", "Outbox jobs committed but not yet relayed", pending or 0
            )
            errors.add_metric(["database"], 0)
        except Exception:
            log.warning("metrics: the outbox could not be read", exc_info=True)
            errors.add_metric(["database"], 1)
        redis_url = settings_of(self.app).redis_url
        if redis_url:
            try:
                yield from _rq_gauges(redis_url, QUEUE)
                errors.add_metric(["redis"], 0)
            except Exception:
                log.warning("metrics: the RQ queue could not be read", exc_info=True)
                errors.add_metric(["redis"], 1)
        yield errors


def _rq_gauges(redis_url: str, name: str) -> list[GaugeMetricFamily]:
    from redis import Redis
    from rq import Queue
    from rq.registry import FailedJobRegistry

    connection = Redis.from_url(redis_url, socket_connect_timeout=0.5, socket_timeout=0.5)
    try:
        queue = Queue(name, connection=connection)
        queued = GaugeMetricFamily("ucomm_rq_queued", "Jobs waiting in the RQ queue", len(queue))
        failed = GaugeMetricFamily(
            "ucomm_rq_failed",
            "Jobs in RQ's failed registry (runs that raised; kept for a year by default)",
            FailedJobRegistry(queue=queue).count,
        )
        return [queued, failed]
    finally:
        connection.close()


def exposition(app: Flask) -> tuple[bytes, str]:
    """The text exposition: this process's metrics (or every worker's, in multiprocess
    mode) followed by the gauges read now."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        process: CollectorRegistry = CollectorRegistry()
        MultiProcessCollector(process)  # type: ignore[no-untyped-call]
    else:
        process = REGISTRY
    scrape = CollectorRegistry(auto_describe=False)
    scrape.register(QueueCollector(app))
    return generate_latest(process) + generate_latest(scrape), CONTENT_TYPE_LATEST

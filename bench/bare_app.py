"""Baseline B: a bare Flask endpoint doing one INSERT + COMMIT per request (psycopg 3).

Served by ``bench/sync_push.py`` with the same gunicorn settings as the real app
(``gunicorn -w 2 --chdir bench bare_app:app``). It reads the same one-record push body
the phones send to ``/api/v1/sync`` and stores the record in a scratch table shaped
like ``check_ins``: no auth, no ORM, no journal, no validation beyond the JSON parse.

Environment: ``BENCH_DSN`` (libpq URL of the bench database), ``BENCH_TEACHER_ID`` (a
teacher the scratch table's foreign key accepts).
"""

from __future__ import annotations

import os
import threading
from typing import Any

import psycopg
from flask import Flask, jsonify, request

app = Flask(__name__)

_SQL = (
    "INSERT INTO bench_bare_check_ins (id, teacher_id, kind, captured_at, latitude,"
    " longitude, accuracy_m, coord_system, mock_location, photo_id, photo_sha256,"
    " elapsed_ms, boot_id, note, received_at, status, flags, client_digest, server_serial,"
    " created_at, updated_at)"
    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, now(), 'accepted',"
    " '[]', '', 0, now(), now())"
    " ON CONFLICT (id) DO NOTHING"
)
_local = threading.local()


def _connection() -> psycopg.Connection[Any]:
    # One connection per worker thread (a sync worker has one; gthread workers several).
    conn: psycopg.Connection[Any] | None = getattr(_local, "conn", None)
    if conn is None or conn.closed:
        conn = psycopg.connect(os.environ["BENCH_DSN"])
        _local.conn = conn
    return conn


@app.post("/checkin")
def checkin() -> Any:
    body = request.get_json()
    record = body["check_ins"]["created"][0]
    conn = _connection()
    conn.execute(
        _SQL,
        (
            record["id"],
            os.environ["BENCH_TEACHER_ID"],
            record["kind"],
            record["captured_at"],
            record["latitude"],
            record["longitude"],
            record.get("accuracy_m"),
            record.get("coord_system") or "wgs84",
            bool(record.get("mock_location")),
            record.get("photo_id"),
            record.get("photo_sha256"),
            record.get("elapsed_ms"),
            record.get("boot_id"),
            record.get("note") or "",
        ),
    )
    conn.commit()
    return jsonify(ok=True, applied=1)

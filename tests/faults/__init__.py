"""Fault injection with real processes on loopback: the API (gunicorn) killed with SIGKILL
mid-push, a private Redis stopped and restarted, a private PostgreSQL cluster restarted
(and crashed, and frozen) under load, an RQ worker killed mid-job.

Every process a test starts runs in its own process group and is killed in a ``finally``
(see :mod:`tests.faults.procs`); nothing shared is touched: the machine's PostgreSQL on
5432 and Redis on 6379 keep serving the rest of the suite.

Knobs (environment):

- ``FAULT_REDIS_OUTAGE_SECONDS`` (default 3): how long Redis stays down in
  ``test_redis_outage``. The issue asks for "minutes"; CI uses seconds, and a soak run
  sets e.g. ``FAULT_REDIS_OUTAGE_SECONDS=300``.
- ``PG_BINDIR``: where ``initdb``/``pg_ctl`` are, when not under
  ``/usr/lib/postgresql/<version>/bin`` or on ``PATH``.
"""

"""The audit trail: an append-only, hash-chained record of every change to what pay,
careers and public trust rest on (check-ins, requests, findings, evidence, reviews,
reports). See :mod:`backend.audit.trail` for how changes are captured and chained."""

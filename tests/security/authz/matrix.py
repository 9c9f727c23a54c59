"""THE authorization matrix (issue 9): every route under /api/v1 that takes an object id,
every method, each owner's object of the route's kind, and what each persona gets.

Read as data: ``MATRIX["METHOD rule"][owner]`` is a row of status codes, one per persona
in ``COLUMNS`` order (the personas of ``world.PERSONAS``: teacher A, teacher B at the same
school, teacher C elsewhere, the admins of core A / member A / core B, the assigned and the
unassigned inspector of county A, the bureau admins of county A, county B and the city).
Owners are those of ``world.py``: ``a`` teacher A / community A / county A, ``a2`` teacher
B, ``b`` county B's counterpart; schools are named; users and devices by their persona.
How each cell is requested (path values, a valid body, the day, ETags) is ``routes.py``.

What the codes mean (README "An object outside the caller's scope answers 404, ... an
action the caller's role may never perform answers 403"):

* 2xx: allowed. Any 2xx where the table says otherwise fails the test, and so does a
  refusal where the table says 2xx.
* 404: outside the persona's scope (its existence not leaked).
* 403: the role may never do this (or may see the object but it is not theirs to change:
  a teacher editing a colleague's class report they can read).
* 409 / 422: allowed past authorization, refused by the object's state (a region or
  school still referenced, a device not revoked, a month already confirmed, a core school
  asking to leave its own community). Still distinct from 403/404: it proves the persona
  got past the scope check, which the table means to record.

This is what the code does today, reviewed against DOMAIN.md and policy.py; deviations
found while building it are in ``FINDINGS`` below (none is a 2xx for a foreign persona).
"""

from __future__ import annotations

from tests.security.authz.world import PERSONAS

COLUMNS = PERSONAS  # tA tA2 tB adA hstA adB inA inA2 buA buB buC

# fmt: off
MATRIX: dict[str, dict[str, str]] = {
    "GET /api/v1/regions/<uuid:region_id>": {
        # owner          tA  tA2   tB  adA hstA  adB  inA inA2  buA  buB  buC
        "a":           "403  403  403  403  403  403  200  200  200  404  200",
        "b":           "403  403  403  403  403  403  404  404  404  200  200",
        "city":        "403  403  403  403  403  403  404  404  404  404  200",
    },
    "PATCH /api/v1/regions/<uuid:region_id>": {
        # owner          tA  tA2   tB  adA hstA  adB  inA inA2  buA  buB  buC
        "a":           "403  403  403  403  403  403  403  403  200  404  200",
        "b":           "403  403  403  403  403  403  403  403  404  200  200",
        "city":        "403  403  403  403  403  403  403  403  404  404  200",
    },
    "DELETE /api/v1/regions/<uuid:region_id>": {
        # owner          tA  tA2   tB  adA hstA  adB  inA inA2  buA  buB  buC
        "a":           "403  403  403  403  403  403  403  403  403  404  409",
        "b":           "403  403  403  403  403  403  403  403  404  403  409",
        "city":        "403  403  403  403  403  403  403  403  404  404  403",
    },
    "GET /api/v1/schools/<uuid:school_id>": {
        # owner          tA  tA2   tB  adA hstA  adB  inA inA2  buA  buB  buC
        "core_a":      "200  200  404  200  200  404  200  200  200  404  200",
        "member_a":    "200  200  404  200  200  404  200  200  200  404  200",
        "other_a":     "404  404  404  404  404  404  200  200  200  404  200",
        "core_b":      "404  404  200  404  404  200  404  404  404  200  200",
    },
    "PATCH /api/v1/schools/<uuid:school_id>": {
        # owner          tA  tA2   tB  adA hstA  adB  inA inA2  buA  buB  buC
        "core_a":      "403  403  403  200  404  404  403  403  200  404  200",
        "member_a":    "403  403  403  404  200  404  403  403  200  404  200",
        "other_a":     "403  403  403  404  404  404  403  403  200  404  200",
        "core_b":      "403  403  403  404  404  200  403  403  404  200  200",
    },
    "DELETE /api/v1/schools/<uuid:school_id>": {
        # owner          tA  tA2   tB  adA hstA  adB  inA inA2  buA  buB  buC
        "core_a":      "403  403  403  403  403  403  403  403  409  404  409",
        "member_a":    "403  403  403  403  403  403  403  403  409  404  409",
        "other_a":     "403  403  403  403  403  403  403  403  409  404  409",
        "core_b":      "403  403  403  403  403  403  403  403  404  409  409",
    },
    "GET /api/v1/communities/<uuid:community_id>": {
        # owner          tA  tA2   tB  adA hstA  adB  inA inA2  buA  buB  buC
        "a":           "200  200  404  200  200  404  200  200  200  404  200",
        "b":           "404  404  200  404  404  200  404  404  404  200  200",
    },
    "PATCH /api/v1/communities/<uuid:community_id>": {
        # owner          tA  tA2   tB  adA hstA  adB  inA inA2  buA  buB  buC
        "a":           "403  403  403  403  403  403  403  403  200  404  200",
        "b":           "403  403  403  403  403  403  403  403  404  200  200",
    },
    "GET /api/v1/communities/<uuid:community_id>/membership-changes": {
        # owner          tA  tA2   tB  adA hstA  adB  inA inA2  buA  buB  buC
        "a":           "403  403  403  200  200  404  200  200  200  404  200",
        "b":           "403  403  403  404  404  200  404  404  404  200  200",
    },
    "POST /api/v1/communities/<uuid:community_id>/membership-changes": {
        # owner          tA  tA2   tB  adA hstA  adB  inA inA2  buA  buB  buC
        "a":           "403  403  403  422  201  404  403  403  201  404  201",
        "b":           "403  403  403  404  404  422  403  403  404  201  201",
    },
    "POST /api/v1/communities/membership-changes/<uuid:change_id>/approve": {
        # owner          tA  tA2   tB  adA hstA  adB  inA inA2  buA  buB  buC
        "a":           "403  403  403  403  403  403  403  403  200  404  200",
        "b":           "403  403  403  403  403  403  403  403  404  200  200",
    },
    "POST /api/v1/communities/membership-changes/<uuid:change_id>/reject": {
        # owner          tA  tA2   tB  adA hstA  adB  inA inA2  buA  buB  buC
        "a":           "403  403  403  403  403  403  403  403  200  404  200",
        "b":           "403  403  403  403  403  403  403  403  404  200  200",
    },
    "GET /api/v1/teachers/<uuid:teacher_id>": {
        # owner          tA  tA2   tB  adA hstA  adB  inA inA2  buA  buB  buC
        "a":           "200  404  404  200  200  404  200  200  200  404  200",
        "a2":          "404  200  404  200  200  404  200  200  200  404  200",
        "b":           "404  404  200  404  404  200  404  404  404  200  200",
    },
    "PATCH /api/v1/teachers/<uuid:teacher_id>": {
        # owner          tA  tA2   tB  adA hstA  adB  inA inA2  buA  buB  buC
        "a":           "403  403  403  200  404  404  403  403  200  404  200",
        "a2":          "403  403  403  200  404  404  403  403  200  404  200",
        "b":           "403  403  403  404  404  200  403  403  404  200  200",
    },
    "DELETE /api/v1/teachers/<uuid:teacher_id>": {
        # owner          tA  tA2   tB  adA hstA  adB  inA inA2  buA  buB  buC
        "a":           "403  403  403  409  404  404  403  403  409  404  409",
        "a2":          "403  403  403  409  404  404  403  403  409  404  409",
        "b":           "403  403  403  404  404  409  403  403  404  409  409",
    },
    "GET /api/v1/secondments/<uuid:secondment_id>": {
        # owner          tA  tA2   tB  adA hstA  adB  inA inA2  buA  buB  buC
        "a":           "200  404  404  200  200  404  200  200  200  404  200",
        "a2":          "404  200  404  200  200  404  200  200  200  404  200",
        "b":           "404  404  200  404  404  200  404  404  404  200  200",
    },
    "POST /api/v1/secondments/<uuid:secondment_id>/cancel": {
        # owner          tA  tA2   tB  adA hstA  adB  inA inA2  buA  buB  buC
        "a":           "403  403  403  403  403  403  403  403  200  404  200",
        "a2":          "403  403  403  403  403  403  403  403  200  404  200",
        "b":           "403  403  403  403  403  403  403  403  404  200  200",
    },
    "POST /api/v1/secondments/<uuid:secondment_id>/extensions": {
        # owner          tA  tA2   tB  adA hstA  adB  inA inA2  buA  buB  buC
        "a":           "403  403  403  403  403  403  403  403  201  404  201",
        "a2":          "403  403  403  403  403  403  403  403  201  404  201",
        "b":           "403  403  403  403  403  403  403  403  404  201  201",
    },
    "GET /api/v1/users/<uuid:user_id>": {
        # owner          tA  tA2   tB  adA hstA  adB  inA inA2  buA  buB  buC
        "teacher_a":   "403  403  403  200  404  404  403  403  200  404  200",
        "host_admin_a": "403  403  403  404  200  404  403  403  200  404  200",
        "teacher_b":   "403  403  403  404  404  200  403  403  404  200  200",
    },
    "PATCH /api/v1/users/<uuid:user_id>": {
        # owner          tA  tA2   tB  adA hstA  adB  inA inA2  buA  buB  buC
        "teacher_a":   "403  403  403  403  403  403  403  403  200  404  200",
        "host_admin_a": "403  403  403  403  403  403  403  403  200  404  200",
        "teacher_b":   "403  403  403  403  403  403  403  403  404  200  200",
    },
    "POST /api/v1/devices/<uuid:device_pk>/revoke": {
        # owner          tA  tA2   tB  adA hstA  adB  inA inA2  buA  buB  buC
        "teacher_a":   "200  404  404  200  404  404  404  404  200  404  200",
        "teacher_a2":  "404  200  404  200  404  404  404  404  200  404  200",
        "teacher_b":   "404  404  200  404  404  200  404  404  404  200  200",
    },
    "POST /api/v1/devices/<uuid:device_pk>/restore": {
        # owner          tA  tA2   tB  adA hstA  adB  inA inA2  buA  buB  buC
        "teacher_a":   "401  403  403  200  404  404  403  403  200  404  200",
        "teacher_a2":  "403  401  403  200  404  404  403  403  200  404  200",
        "teacher_b":   "403  403  401  404  404  200  403  403  404  200  200",
    },
    "GET /api/v1/attendance/assessments/<uuid:teacher_id>/<string:month>": {
        # owner          tA  tA2   tB  adA hstA  adB  inA inA2  buA  buB  buC
        "a":           "200  404  404  200  200  404  200  200  200  404  200",
        "a2":          "404  200  404  200  200  404  200  200  200  404  200",
        "b":           "404  404  200  404  404  200  404  404  404  200  200",
    },
    "PUT /api/v1/attendance/assessments/<uuid:teacher_id>/<string:month>": {
        # owner          tA  tA2   tB  adA hstA  adB  inA inA2  buA  buB  buC
        "a":           "403  403  403  404  200  404  403  403  403  403  403",
        "a2":          "403  403  403  404  200  404  403  403  403  403  403",
        "b":           "403  403  403  404  404  404  403  403  403  403  403",
    },
    "POST /api/v1/attendance/check-ins/<string:check_in_id>/flags/<string:code>/review": {
        # owner          tA  tA2   tB  adA hstA  adB  inA inA2  buA  buB  buC
        "a":           "403  403  403  404  201  404  403  403  201  404  201",
        "a2":          "403  403  403  404  201  404  403  403  201  404  201",
        "b":           "403  403  403  404  404  404  403  403  404  201  201",
    },
    "GET /api/v1/attendance/rules/<uuid:rule_id>": {
        # owner          tA  tA2   tB  adA hstA  adB  inA inA2  buA  buB  buC
        "a":           "200  200  404  200  200  404  200  200  200  404  200",
        "b":           "404  404  200  404  404  200  404  404  404  200  200",
    },
    "DELETE /api/v1/attendance/rules/<uuid:rule_id>": {
        # owner          tA  tA2   tB  adA hstA  adB  inA inA2  buA  buB  buC
        "a":           "403  403  403  403  403  403  403  403  204  404  204",
        "b":           "403  403  403  403  403  403  403  403  404  204  204",
    },
    "GET /api/v1/attendance/schools/<uuid:school_id>/board": {
        # owner          tA  tA2   tB  adA hstA  adB  inA inA2  buA  buB  buC
        "core_a":      "200  200  404  200  200  404  200  200  200  404  200",
        "member_a":    "200  200  404  200  200  404  200  200  200  404  200",
        "other_a":     "404  404  404  404  404  404  200  200  200  404  200",
        "core_b":      "404  404  200  404  404  200  404  404  404  200  200",
    },
    "GET /api/v1/attendance/teachers/<uuid:teacher_id>/days/<string:day>/changes": {
        # owner          tA  tA2   tB  adA hstA  adB  inA inA2  buA  buB  buC
        "a":           "200  404  404  200  200  404  200  200  200  404  200",
        "a2":          "404  200  404  200  200  404  200  200  200  404  200",
        "b":           "404  404  200  404  404  200  404  404  404  200  200",
    },
    "GET /api/v1/attendance/teachers/<uuid:teacher_id>/months/<month>": {
        # owner          tA  tA2   tB  adA hstA  adB  inA inA2  buA  buB  buC
        "a":           "200  404  404  200  200  404  200  200  200  404  200",
        "a2":          "404  200  404  200  200  404  200  200  200  404  200",
        "b":           "404  404  200  404  404  200  404  404  404  200  200",
    },
    "GET /api/v1/calendar/regions/<uuid:region_id>/periods": {
        # owner          tA  tA2   tB  adA hstA  adB  inA inA2  buA  buB  buC
        "a":           "200  200  404  200  200  404  200  200  200  404  200",
        "b":           "404  404  200  404  404  200  404  404  404  200  200",
        "city":        "200  200  200  200  200  200  200  200  200  200  200",
    },
    "POST /api/v1/calendar/regions/<uuid:region_id>/periods": {
        # owner          tA  tA2   tB  adA hstA  adB  inA inA2  buA  buB  buC
        "a":           "403  403  403  403  403  403  403  403  201  404  201",
        "b":           "403  403  403  403  403  403  403  403  404  201  201",
        "city":        "403  403  403  403  403  403  403  403  404  404  201",
    },
    "DELETE /api/v1/calendar/regions/<uuid:region_id>/periods/<uuid:period_id>": {
        # owner          tA  tA2   tB  adA hstA  adB  inA inA2  buA  buB  buC
        "a":           "403  403  403  403  403  403  403  403  204  404  204",
        "b":           "403  403  403  403  403  403  403  403  404  204  204",
    },
    "GET /api/v1/calendar/regions/<uuid:region_id>/years": {
        # owner          tA  tA2   tB  adA hstA  adB  inA inA2  buA  buB  buC
        "a":           "200  200  404  200  200  404  200  200  200  404  200",
        "b":           "404  404  200  404  404  200  404  404  404  200  200",
        "city":        "200  200  200  200  200  200  200  200  200  200  200",
    },
    "GET /api/v1/calendar/regions/<uuid:region_id>/years/<int:year>": {
        # owner          tA  tA2   tB  adA hstA  adB  inA inA2  buA  buB  buC
        "a":           "200  200  404  200  200  404  200  200  200  404  200",
        "b":           "404  404  200  404  404  200  404  404  404  200  200",
        "city":        "404  404  404  404  404  404  404  404  404  404  404",
    },
    "PUT /api/v1/calendar/regions/<uuid:region_id>/years/<int:year>": {
        # owner          tA  tA2   tB  adA hstA  adB  inA inA2  buA  buB  buC
        "a":           "403  403  403  403  403  403  403  403  200  404  200",
        "b":           "403  403  403  403  403  403  403  403  404  200  200",
        "city":        "403  403  403  403  403  403  403  403  404  404  200",
    },
    "DELETE /api/v1/calendar/regions/<uuid:region_id>/years/<int:year>": {
        # owner          tA  tA2   tB  adA hstA  adB  inA inA2  buA  buB  buC
        "a":           "403  403  403  403  403  403  403  403  204  404  204",
        "b":           "403  403  403  403  403  403  403  403  404  204  204",
        "city":        "403  403  403  403  403  403  403  403  404  404  404",
    },
    "GET /api/v1/calendar/schools/<uuid:school_id>/days": {
        # owner          tA  tA2   tB  adA hstA  adB  inA inA2  buA  buB  buC
        "core_a":      "200  200  404  200  200  404  200  200  200  404  200",
        "member_a":    "200  200  404  200  200  404  200  200  200  404  200",
        "other_a":     "404  404  404  404  404  404  200  200  200  404  200",
        "core_b":      "404  404  200  404  404  200  404  404  404  200  200",
    },
    "GET /api/v1/calendar/schools/<uuid:school_id>/exceptions": {
        # owner          tA  tA2   tB  adA hstA  adB  inA inA2  buA  buB  buC
        "core_a":      "200  200  404  200  200  404  200  200  200  404  200",
        "member_a":    "200  200  404  200  200  404  200  200  200  404  200",
        "other_a":     "404  404  404  404  404  404  200  200  200  404  200",
        "core_b":      "404  404  200  404  404  200  404  404  404  200  200",
    },
    "POST /api/v1/calendar/schools/<uuid:school_id>/exceptions": {
        # owner          tA  tA2   tB  adA hstA  adB  inA inA2  buA  buB  buC
        "core_a":      "403  403  403  201  404  404  403  403  201  404  201",
        "member_a":    "403  403  403  404  201  404  403  403  201  404  201",
        "other_a":     "403  403  403  404  404  404  403  403  201  404  201",
        "core_b":      "403  403  403  404  404  201  403  403  404  201  201",
    },
    "DELETE /api/v1/calendar/schools/<uuid:school_id>/exceptions/<uuid:exception_id>": {
        # owner          tA  tA2   tB  adA hstA  adB  inA inA2  buA  buB  buC
        "a":           "403  403  403  204  404  404  403  403  204  404  204",
        "b":           "403  403  403  404  404  204  403  403  404  204  204",
    },
    "GET /api/v1/leave-requests/<string:request_id>": {
        # owner          tA  tA2   tB  adA hstA  adB  inA inA2  buA  buB  buC
        "a":           "200  404  404  200  200  404  200  200  200  404  200",
        "a2":          "404  200  404  200  200  404  200  200  200  404  200",
        "b":           "404  404  200  404  404  200  404  404  404  200  200",
    },
    "PATCH /api/v1/leave-requests/<string:request_id>": {
        # owner          tA  tA2   tB  adA hstA  adB  inA inA2  buA  buB  buC
        "a":           "200  404  404  404  200  404  403  403  200  404  200",
        "a2":          "404  200  404  404  200  404  403  403  200  404  200",
        "b":           "404  404  200  404  404  404  403  403  404  200  200",
    },
    "POST /api/v1/leave-requests/<string:request_id>/approve": {
        # owner          tA  tA2   tB  adA hstA  adB  inA inA2  buA  buB  buC
        "a":           "403  403  403  404  200  404  403  403  200  404  200",
        "a2":          "403  403  403  404  200  404  403  403  200  404  200",
        "b":           "403  403  403  404  404  404  403  403  404  200  200",
    },
    "POST /api/v1/leave-requests/<string:request_id>/reject": {
        # owner          tA  tA2   tB  adA hstA  adB  inA inA2  buA  buB  buC
        "a":           "403  403  403  404  200  404  403  403  200  404  200",
        "a2":          "403  403  403  404  200  404  403  403  200  404  200",
        "b":           "403  403  403  404  404  404  403  403  404  200  200",
    },
    "POST /api/v1/leave-requests/<string:request_id>/cancel": {
        # owner          tA  tA2   tB  adA hstA  adB  inA inA2  buA  buB  buC
        "a":           "200  404  404  404  200  404  403  403  200  404  200",
        "a2":          "404  200  404  404  200  404  403  403  200  404  200",
        "b":           "404  404  200  404  404  404  403  403  404  200  200",
    },
    "GET /api/v1/punch-corrections/<string:request_id>": {
        # owner          tA  tA2   tB  adA hstA  adB  inA inA2  buA  buB  buC
        "a":           "200  404  404  200  200  404  200  200  200  404  200",
        "a2":          "404  200  404  200  200  404  200  200  200  404  200",
        "b":           "404  404  200  404  404  200  404  404  404  200  200",
    },
    "PATCH /api/v1/punch-corrections/<string:request_id>": {
        # owner          tA  tA2   tB  adA hstA  adB  inA inA2  buA  buB  buC
        "a":           "200  404  404  404  200  404  403  403  200  404  200",
        "a2":          "404  200  404  404  200  404  403  403  200  404  200",
        "b":           "404  404  200  404  404  404  403  403  404  200  200",
    },
    "POST /api/v1/punch-corrections/<string:request_id>/approve": {
        # owner          tA  tA2   tB  adA hstA  adB  inA inA2  buA  buB  buC
        "a":           "403  403  403  404  200  404  403  403  200  404  200",
        "a2":          "403  403  403  404  200  404  403  403  200  404  200",
        "b":           "403  403  403  404  404  404  403  403  404  200  200",
    },
    "POST /api/v1/punch-corrections/<string:request_id>/reject": {
        # owner          tA  tA2   tB  adA hstA  adB  inA inA2  buA  buB  buC
        "a":           "403  403  403  404  200  404  403  403  200  404  200",
        "a2":          "403  403  403  404  200  404  403  403  200  404  200",
        "b":           "403  403  403  404  404  404  403  403  404  200  200",
    },
    "POST /api/v1/punch-corrections/<string:request_id>/cancel": {
        # owner          tA  tA2   tB  adA hstA  adB  inA inA2  buA  buB  buC
        "a":           "200  404  404  404  200  404  403  403  200  404  200",
        "a2":          "404  200  404  404  200  404  403  403  200  404  200",
        "b":           "404  404  200  404  404  404  403  403  404  200  200",
    },
    "GET /api/v1/inspection/plans/<uuid:plan_id>": {
        # owner          tA  tA2   tB  adA hstA  adB  inA inA2  buA  buB  buC
        "a":           "403  403  403  403  403  403  403  403  200  404  200",
        "b":           "403  403  403  403  403  403  403  403  404  200  200",
    },
    "PATCH /api/v1/inspection/plans/<uuid:plan_id>": {
        # owner          tA  tA2   tB  adA hstA  adB  inA inA2  buA  buB  buC
        "a":           "403  403  403  403  403  403  403  403  200  404  200",
        "b":           "403  403  403  403  403  403  403  403  404  200  200",
    },
    "POST /api/v1/inspection/plans/<uuid:plan_id>/commit": {
        # owner          tA  tA2   tB  adA hstA  adB  inA inA2  buA  buB  buC
        "a":           "403  403  403  403  403  403  403  403  200  404  200",
        "b":           "403  403  403  403  403  403  403  403  404  200  200",
    },
    "POST /api/v1/inspection/plans/<uuid:plan_id>/cancel": {
        # owner          tA  tA2   tB  adA hstA  adB  inA inA2  buA  buB  buC
        "a":           "403  403  403  403  403  403  403  403  200  404  200",
        "b":           "403  403  403  403  403  403  403  403  404  200  200",
    },
    "POST /api/v1/inspection/plans/<uuid:plan_id>/draw": {
        # owner          tA  tA2   tB  adA hstA  adB  inA inA2  buA  buB  buC
        "a":           "403  403  403  403  403  403  403  403  200  404  200",
        "b":           "403  403  403  403  403  403  403  403  404  200  200",
    },
    "POST /api/v1/inspection/plans/<uuid:plan_id>/reveal": {
        # owner          tA  tA2   tB  adA hstA  adB  inA inA2  buA  buB  buC
        "a":           "403  403  403  403  403  403  403  403  200  404  200",
        "b":           "403  403  403  403  403  403  403  403  404  200  200",
    },
    "GET /api/v1/inspection/plans/<uuid:plan_id>/draw-record": {
        # owner          tA  tA2   tB  adA hstA  adB  inA inA2  buA  buB  buC
        "a":           "403  403  403  403  403  403  403  403  200  404  200",
        "b":           "403  403  403  403  403  403  403  403  404  200  200",
    },
    "GET /api/v1/inspection/plans/<uuid:plan_id>/spot-checks": {
        # owner          tA  tA2   tB  adA hstA  adB  inA inA2  buA  buB  buC
        "a":           "403  403  403  403  403  403  403  403  200  404  200",
        "b":           "403  403  403  403  403  403  403  403  404  200  200",
    },
    "DELETE /api/v1/inspection/conflicts/<uuid:conflict_id>": {
        # owner          tA  tA2   tB  adA hstA  adB  inA inA2  buA  buB  buC
        "a":           "403  403  403  403  403  403  403  403  204  404  204",
        "b":           "403  403  403  403  403  403  403  403  404  204  204",
    },
    "GET /api/v1/inspection/spot-checks/<uuid:spot_check_id>": {
        # owner          tA  tA2   tB  adA hstA  adB  inA inA2  buA  buB  buC
        "a":           "403  403  403  404  200  404  200  404  200  404  200",
        "b":           "403  403  403  404  404  404  404  404  404  200  200",
    },
    "GET /api/v1/inspection/visits/<string:visit_id>": {
        # owner          tA  tA2   tB  adA hstA  adB  inA inA2  buA  buB  buC
        "a":           "403  403  403  404  200  404  200  404  200  404  200",
        "b":           "403  403  403  404  404  404  404  404  404  200  200",
    },
    "GET /api/v1/classes/timetable/<uuid:entry_id>": {
        # owner          tA  tA2   tB  adA hstA  adB  inA inA2  buA  buB  buC
        "a":           "200  200  404  200  200  404  200  200  200  404  200",
        "b":           "404  404  200  404  404  200  404  404  404  200  200",
    },
    "PATCH /api/v1/classes/timetable/<uuid:entry_id>": {
        # owner          tA  tA2   tB  adA hstA  adB  inA inA2  buA  buB  buC
        "a":           "403  403  403  200  404  404  403  403  200  404  200",
        "b":           "403  403  403  404  404  200  403  403  404  200  200",
    },
    "DELETE /api/v1/classes/timetable/<uuid:entry_id>": {
        # owner          tA  tA2   tB  adA hstA  adB  inA inA2  buA  buB  buC
        "a":           "403  403  403  204  404  404  403  403  204  404  204",
        "b":           "403  403  403  404  404  204  403  403  404  204  204",
    },
    "GET /api/v1/classes/sessions/<string:session_id>": {
        # owner          tA  tA2   tB  adA hstA  adB  inA inA2  buA  buB  buC
        "a":           "200  200  404  200  200  404  200  200  200  404  200",
        "b":           "404  404  200  404  404  200  404  404  404  200  200",
    },
    "PATCH /api/v1/classes/sessions/<string:session_id>": {
        # owner          tA  tA2   tB  adA hstA  adB  inA inA2  buA  buB  buC
        "a":           "200  403  404  200  200  404  403  403  403  403  403",
        "b":           "404  404  200  404  404  200  403  403  403  403  403",
    },
    "DELETE /api/v1/classes/sessions/<string:session_id>": {
        # owner          tA  tA2   tB  adA hstA  adB  inA inA2  buA  buB  buC
        "a":           "204  403  404  204  204  404  403  403  403  403  403",
        "b":           "404  404  204  404  404  204  403  403  403  403  403",
    },
    "GET /api/v1/evidence/<string:item_id>": {
        # owner          tA  tA2   tB  adA hstA  adB  inA inA2  buA  buB  buC
        "a":           "403  403  403  200  200  404  200  200  200  404  200",
        "b":           "403  403  403  404  404  200  404  404  404  200  200",
    },
    "PATCH /api/v1/evidence/<string:item_id>": {
        # owner          tA  tA2   tB  adA hstA  adB  inA inA2  buA  buB  buC
        "a":           "403  403  403  200  200  404  403  403  403  403  403",
        "b":           "403  403  403  404  404  200  403  403  403  403  403",
    },
    "DELETE /api/v1/evidence/<string:item_id>": {
        # owner          tA  tA2   tB  adA hstA  adB  inA inA2  buA  buB  buC
        "a":           "403  403  403  204  204  404  403  403  403  403  403",
        "b":           "403  403  403  404  404  204  403  403  403  403  403",
    },
    "GET /api/v1/evidence/<string:item_id>/history": {
        # owner          tA  tA2   tB  adA hstA  adB  inA inA2  buA  buB  buC
        "a":           "403  403  403  200  200  404  200  200  200  404  200",
        "b":           "403  403  403  404  404  200  404  404  404  200  200",
    },
    "POST /api/v1/reviews/evidence/<string:record_id>/verify": {
        # owner          tA  tA2   tB  adA hstA  adB  inA inA2  buA  buB  buC
        "a":           "403  403  403  403  403  403  403  403  200  404  200",
        "b":           "403  403  403  403  403  403  403  403  404  200  200",
    },
    "POST /api/v1/reviews/evidence/<string:record_id>/reject": {
        # owner          tA  tA2   tB  adA hstA  adB  inA inA2  buA  buB  buC
        "a":           "403  403  403  403  403  403  403  403  200  404  200",
        "b":           "403  403  403  403  403  403  403  403  404  200  200",
    },
    "POST /api/v1/reviews/class_session/<string:record_id>/verify": {
        # owner          tA  tA2   tB  adA hstA  adB  inA inA2  buA  buB  buC
        "a":           "403  403  403  403  403  403  403  403  200  404  200",
        "b":           "403  403  403  403  403  403  403  403  404  200  200",
    },
    "POST /api/v1/reviews/class_session/<string:record_id>/reject": {
        # owner          tA  tA2   tB  adA hstA  adB  inA inA2  buA  buB  buC
        "a":           "403  403  403  403  403  403  403  403  200  404  200",
        "b":           "403  403  403  403  403  403  403  403  404  200  200",
    },
    "GET /api/v1/reviews/evidence/<string:record_id>/history": {
        # owner          tA  tA2   tB  adA hstA  adB  inA inA2  buA  buB  buC
        "a":           "403  403  403  403  403  403  403  403  200  404  200",
        "b":           "403  403  403  403  403  403  403  403  404  200  200",
    },
    "GET /api/v1/reviews/class_session/<string:record_id>/history": {
        # owner          tA  tA2   tB  adA hstA  adB  inA inA2  buA  buB  buC
        "a":           "403  403  403  403  403  403  403  403  200  404  200",
        "b":           "403  403  403  403  403  403  403  403  404  200  200",
    },
    "GET /api/v1/rubrics/<uuid:rubric_id>": {
        # owner          tA  tA2   tB  adA hstA  adB  inA inA2  buA  buB  buC
        "a":           "403  403  403  200  200  404  200  200  200  404  200",
        "b":           "403  403  403  404  404  200  404  404  404  200  200",
    },
    "GET /api/v1/scorecards/<uuid:community_id>/<int:school_year>": {
        # owner          tA  tA2   tB  adA hstA  adB  inA inA2  buA  buB  buC
        "a":           "403  403  403  200  200  404  200  200  200  404  200",
        "b":           "403  403  403  404  404  200  404  404  404  200  200",
    },
    "GET /api/v1/scorecards/<uuid:community_id>/<int:school_year>/progress": {
        # owner          tA  tA2   tB  adA hstA  adB  inA inA2  buA  buB  buC
        "a":           "403  403  403  200  200  404  200  200  200  404  200",
        "b":           "403  403  403  404  404  200  404  404  404  200  200",
    },
    "GET /api/v1/scorecards/<uuid:community_id>/<int:school_year>/export.xlsx": {
        # owner          tA  tA2   tB  adA hstA  adB  inA inA2  buA  buB  buC
        "a":           "403  403  403  200  200  404  200  200  200  404  200",
        "b":           "403  403  403  404  404  200  404  404  404  200  200",
    },
    "PUT /api/v1/scorecards/<uuid:community_id>/<int:school_year>/manual/<string:criterion>": {
        # owner          tA  tA2   tB  adA hstA  adB  inA inA2  buA  buB  buC
        "a":           "403  403  403  403  403  403  403  403  200  404  200",
        "b":           "403  403  403  403  403  403  403  403  404  200  200",
    },
    "GET /api/v1/reports/host/<uuid:report_id>": {
        # owner          tA  tA2   tB  adA hstA  adB  inA inA2  buA  buB  buC
        "a":           "403  403  403  404  200  404  200  200  200  404  200",
        "b":           "403  403  403  404  404  404  404  404  404  200  200",
    },
    "GET /api/v1/reports/host/<uuid:report_id>/export.<any(csv, xlsx):fmt>": {
        # owner          tA  tA2   tB  adA hstA  adB  inA inA2  buA  buB  buC
        "a":           "403  403  403  404  200  404  200  200  200  404  200",
        "b":           "403  403  403  404  404  404  404  404  404  200  200",
    },
    "POST /api/v1/reports/host/<uuid:report_id>/confirm": {
        # owner          tA  tA2   tB  adA hstA  adB  inA inA2  buA  buB  buC
        "a":           "403  403  403  404  409  404  403  403  409  404  409",
        "b":           "403  403  403  404  404  404  403  403  404  409  409",
    },
    "GET /api/v1/reports/home/<uuid:report_id>": {
        # owner          tA  tA2   tB  adA hstA  adB  inA inA2  buA  buB  buC
        "a":           "403  403  403  200  404  404  200  200  200  404  200",
        "b":           "403  403  403  404  404  200  404  404  404  200  200",
    },
    "GET /api/v1/reports/home/<uuid:report_id>/export.<any(csv, xlsx):fmt>": {
        # owner          tA  tA2   tB  adA hstA  adB  inA inA2  buA  buB  buC
        "a":           "403  403  403  200  404  404  200  200  200  404  200",
        "b":           "403  403  403  404  404  200  404  404  404  200  200",
    },
    "POST /api/v1/reports/home/<uuid:report_id>/acknowledge": {
        # owner          tA  tA2   tB  adA hstA  adB  inA inA2  buA  buB  buC
        "a":           "403  403  403  200  404  404  403  403  403  403  403",
        "b":           "403  403  403  404  404  200  403  403  403  403  403",
    },
    "GET /api/v1/reports/runs/<uuid:run_id>": {
        # owner          tA  tA2   tB  adA hstA  adB  inA inA2  buA  buB  buC
        "a":           "403  403  403  404  200  404  200  200  200  404  200",
        "b":           "403  403  403  404  404  404  404  404  404  200  200",
    },
    "GET /api/v1/photos/<uuid:photo_pk>": {
        # owner          tA  tA2   tB  adA hstA  adB  inA inA2  buA  buB  buC
        "a":           "200  404  404  200  404  404  404  404  200  404  200",
        "a2":          "404  200  404  200  404  404  404  404  200  404  200",
        "b":           "404  404  200  404  404  200  404  404  404  200  200",
    },
    "GET /api/v1/photos/<uuid:photo_pk>/url": {
        # owner          tA  tA2   tB  adA hstA  adB  inA inA2  buA  buB  buC
        "a":           "200  404  404  200  404  404  404  404  200  404  200",
        "a2":          "404  200  404  200  404  404  404  404  200  404  200",
        "b":           "404  404  200  404  404  200  404  404  404  200  200",
    },
    "POST /api/v1/sync/quarantine/<uuid:entry_id>/dismiss": {
        # owner          tA  tA2   tB  adA hstA  adB  inA inA2  buA  buB  buC
        "a":           "403  403  403  403  403  403  403  403  200  404  200",
        "a2":          "403  403  403  403  403  403  403  403  200  404  200",
        "b":           "403  403  403  403  403  403  403  403  404  200  200",
    },
    "DELETE /api/v1/uploads/<uuid:upload_id>": {
        # owner          tA  tA2   tB  adA hstA  adB  inA inA2  buA  buB  buC
        "a":           "204  404  404  404  404  404  404  404  404  404  404",
        "a2":          "404  204  404  404  404  404  404  404  404  404  404",
        "b":           "404  404  204  404  404  404  404  404  404  404  404",
    },
    "PATCH /api/v1/uploads/<uuid:upload_id>": {
        # owner          tA  tA2   tB  adA hstA  adB  inA inA2  buA  buB  buC
        "a":           "204  404  404  404  404  404  404  404  404  404  404",
        "a2":          "404  204  404  404  404  404  404  404  404  404  404",
        "b":           "404  404  204  404  404  404  404  404  404  404  404",
    },
    "POST /api/v1/uploads/<uuid:upload_id>": {
        # owner          tA  tA2   tB  adA hstA  adB  inA inA2  buA  buB  buC
        "a":           "204  404  404  404  404  404  404  404  404  404  404",
        "a2":          "404  204  404  404  404  404  404  404  404  404  404",
        "b":           "404  404  204  404  404  404  404  404  404  404  404",
    },
}
# fmt: on

# Routes under /api/v1 deliberately outside the table, each with its reason.
_LIST = "list: covered by test_lists.py (foreign ids never appear, own ids do)"
_CREATE = (
    "create without an object id in the path; the referenced ids in its body are checked "
    "against scope by the route (tests/security/test_mass_assignment.py CLIENT_CHOSEN and "
    "the feature tests named there); the created object's own cells are in MATRIX"
)
EXEMPT: dict[str, str] = {
    # Credentials and tokens, not objects.
    "POST /api/v1/auth/login": "public: credentials in, tokens out",
    "POST /api/v1/auth/refresh": "public: a refresh token, not an object",
    "POST /api/v1/auth/logout": "the caller's own session only (no id)",
    "GET /api/v1/auth/me": "the caller's own user only (no id)",
    # Public by design (一公开) or documents.
    "GET /api/v1/docs": "public: API documents",
    "GET /api/v1/docs/assets/<path:filename>": "public: static assets",
    "GET /api/v1/openapi.json": "public: API document",
    "GET /api/v1/public/inspection/plans": "public (双随机、一公开): revealed plans only",
    "GET /api/v1/public/inspection/plans/<uuid:plan_id>": "public (一公开): revealed only",
    "GET /api/v1/public/inspection/plans/<uuid:plan_id>/draw-record": "public (一公开)",
    "GET /api/v1/public/inspection/plans/<uuid:plan_id>/verification": "public (一公开)",
    "GET /api/v1/photos/signed/<token>": (
        "public: a signed, expiring token minted by GET /photos/<pk>/url, which is in MATRIX"
    ),
    # Sync: the pull is walked per table by test_lists.py, pushes by test_sync_push.py.
    "GET /api/v1/sync": "sync pull: test_lists.py (every REGISTRY table, every persona)",
    "POST /api/v1/sync": "sync push: test_sync_push.py (every pushable table)",
    # tus creation: a new upload of the caller's own; its id routes are in MATRIX.
    "POST /api/v1/uploads": "tus creation: the caller's own new upload (no id)",
    # The caller's own school's webhook (no id: the school is the token's).
    "GET /api/v1/reports/webhook": "the caller's own school's webhook (no id)",
    "PUT /api/v1/reports/webhook": "the caller's own school's webhook (no id)",
    "DELETE /api/v1/reports/webhook": "the caller's own school's webhook (no id)",
    # Spreadsheet imports: rows name schools/teachers by code, each checked against scope
    # (tests/imports/test_api.py).
    "POST /api/v1/imports/schools": "import (rows scoped by tests/imports/test_api.py)",
    "POST /api/v1/imports/teachers": "import (rows scoped by tests/imports/test_api.py)",
    "POST /api/v1/imports/secondments": "import (rows scoped by tests/imports/test_api.py)",
    "GET /api/v1/rubrics/default": "the built-in rubric of 003 attachment 2: no owner",
    **dict.fromkeys(
        [
            "POST /api/v1/attendance/rules",
            "POST /api/v1/classes/sessions",
            "POST /api/v1/classes/timetable",
            "POST /api/v1/communities",
            "POST /api/v1/evidence",
            "POST /api/v1/inspection/conflicts",
            "POST /api/v1/inspection/plans",
            "POST /api/v1/leave-requests",
            "POST /api/v1/punch-corrections",
            "POST /api/v1/regions",
            "POST /api/v1/reports/host/tally",
            "POST /api/v1/rubrics",
            "POST /api/v1/schools",
            "POST /api/v1/secondments",
            "POST /api/v1/teachers",
            "POST /api/v1/users",
        ],
        _CREATE,
    ),
    **dict.fromkeys(
        [
            "GET /api/v1/attendance/assessments",
            "GET /api/v1/attendance/flags",
            "GET /api/v1/attendance/rules",
            "GET /api/v1/attendance/rules/effective",
            "GET /api/v1/classes/progress",
            "GET /api/v1/classes/sessions",
            "GET /api/v1/classes/timetable",
            "GET /api/v1/communities",
            "GET /api/v1/devices",
            "GET /api/v1/evidence",
            "GET /api/v1/inspection/conflicts",
            "GET /api/v1/inspection/plans",
            "GET /api/v1/inspection/spot-checks",
            "GET /api/v1/leave-requests",
            "GET /api/v1/punch-corrections",
            "GET /api/v1/regions",
            "GET /api/v1/reports/home",
            "GET /api/v1/reports/host",
            "GET /api/v1/reports/inbox",
            "GET /api/v1/reports/runs",
            "GET /api/v1/reviews/queue",
            "GET /api/v1/rubrics",
            "GET /api/v1/schools",
            "GET /api/v1/scorecards",
            "GET /api/v1/secondments",
            "GET /api/v1/sync/quarantine",
            "GET /api/v1/teachers",
            "GET /api/v1/users",
        ],
        _LIST,
    ),
}


def expected(route: str, owner: str) -> dict[str, int]:
    """The row as {persona: status}."""
    codes = [int(code) for code in MATRIX[route][owner].split()]
    assert len(codes) == len(COLUMNS), (route, owner)
    return dict(zip(COLUMNS, codes, strict=True))


# What building the table found, for the record (each checked against DOMAIN.md/policy.py).
FINDINGS: tuple[str, ...] = (
    "No 2xx for a persona outside the policy's scope on any route, list or sync table.",
    "GET /photos/<pk>[/url]: the host school's admin gets 404 for photos of the teachers it "
    "hosts (photos follow USER READ, i.e. the home school), although the host school keeps "
    "their attendance and reviews their flagged punches (003 §四(三)4). A refusal, not a "
    "leak: recorded as is, left for the attendance owners to decide.",
    "PATCH/DELETE of a class report a teacher may read but did not file answers 403 (not "
    "404): existence is not hidden from someone who may already read the row.",
    "The unassigned inspector of a county reads its host and home reports, leave requests "
    "and teachers (OVERSIGHT read, README 'everything in their region, read-only'), but not "
    "spot checks or visits not drawn for them (404), as 双随机 requires.",
)

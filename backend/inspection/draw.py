"""The verifiable draw of spot checks (双随机: random targets, random inspectors).

Pure: no database, no Flask, no clock. Anyone holding a plan's published *draw record* —
its inputs and, after the period, its revealed seed — re-runs it and gets the same spot
checks::

    python -m backend.inspection.draw record.json       # or: flask inspection verify-draw

Commit–reveal
    When the plan is committed the server draws a secret ``seed`` (32 random bytes, hex)
    and publishes ``commitment = sha256(seed)`` together with ``inputs_digest`` (sha256 of
    the canonical JSON of the frozen inputs below). The draw itself may name a public
    ``beacon`` fixed only after the commit (e.g. the numbers of a lottery drawn on a stated
    later date), so that whoever holds the seed cannot have picked it for an outcome. After
    the period the seed is revealed: ``sha256(seed) == commitment`` proves it is the seed
    committed to, and re-running :func:`run` proves the published spot checks came from it.

Randomness
    ``key = HMAC-SHA256(seed, inputs_digest + "|" + beacon)``; the n-th number of a named
    stream is ``HMAC-SHA256(key, f"{stream}|{n}")``'s first 8 bytes as an integer, mapped
    to (0, 1) as ``(x + 0.5) / 2**64``. Every choice below names its stream, so no choice
    depends on the order of any other.

Inputs (``DRAW_VERSION`` 1; ids are opaque strings)
    ``candidates``: ``{ref, school, stratum, weight}`` — a seconded teacher (``ref`` a
    pseudonym), their host school, their stratum (the host school, the community, or
    ``"all"``) and their risk weight, 1 to :data:`MAX_WEIGHT`;
    ``target``: how many teachers to draw; ``inspectors``: inspector refs;
    ``exclusions``: ``[inspector, school or teacher ref]`` pairs (recusals);
    ``inspectors_per_visit``; ``workdays`` (ISO dates a visit window may start on);
    ``window_days``; ``period_end``.

Steps
    1. **Allocation**: stratum *s* with *N_s* of *N* candidates gets ``floor(target·N_s/N)``
       draws; the rest go one each to the strata with the largest remainders (ties: the
       larger ``u("allocate", s)``), so the sample is spread as the candidates are.
    2. **Targets**, within each stratum: weighted sampling without replacement
       (Efraimidis–Spirakis): each candidate's key is ``u("target", ref) ** (1 / weight)``
       and the largest keys are drawn. A weight of 2 makes a teacher about twice as likely
       to be drawn as a weight of 1, when few of a stratum are drawn.
    3. **Visits**: the drawn teachers of one host school are one spot check; its window
       starts on ``workdays[floor(u("window", school) · len(workdays))]`` and lasts
       ``window_days`` calendar days (not past ``period_end``).
    4. **Inspectors**, visit by visit in school order: the inspectors not excluded from the
       school nor from any teacher drawn there, least loaded first, ties by
       ``u("inspector", school + "/" + inspector)``; ``inspectors_per_visit`` of them. Too
       few eligible is an error (:class:`DrawImpossible`), never a weaker draw.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import sys
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

DRAW_VERSION = 1
MAX_WEIGHT = 3.0  # risk weighting is bounded: nobody is more than 3× as likely as another


class DrawImpossible(ValueError):
    """The inputs admit no draw that keeps every rule (e.g. too few eligible inspectors)."""


@dataclass(frozen=True)
class Visit:
    school: str
    window_start: date
    window_end: date
    teachers: tuple[str, ...]
    inspectors: tuple[str, ...]

    def as_json(self) -> dict[str, Any]:
        return {
            "school": self.school,
            "window_start": self.window_start.isoformat(),
            "window_end": self.window_end.isoformat(),
            "teachers": list(self.teachers),
            "inspectors": list(self.inspectors),
        }


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def commitment(seed: str) -> str:
    return sha256_hex(seed)


def inputs_digest(inputs: dict[str, Any]) -> str:
    return sha256_hex(canonical(inputs))


def result_digest(visits: list[Visit]) -> str:
    return sha256_hex(canonical([v.as_json() for v in visits]))


class _Stream:
    def __init__(self, seed: str, digest: str, beacon: str) -> None:
        self._key = hmac.new(seed.encode(), f"{digest}|{beacon}".encode(), "sha256").digest()

    def u(self, stream: str, name: str) -> float:
        """A uniform number in (0, 1), fixed by the seed, the stream's name and ``name``."""
        raw = hmac.new(self._key, f"{stream}|{name}".encode(), "sha256").digest()
        return (int.from_bytes(raw[:8], "big") + 0.5) / 2**64


def validate(inputs: dict[str, Any]) -> None:
    """Refuse inputs the algorithm does not define (clear errors, not a silent draw)."""
    if inputs.get("version") != DRAW_VERSION:
        raise DrawImpossible(f"unknown draw version {inputs.get('version')!r}")
    refs = [c["ref"] for c in inputs["candidates"]]
    if len(set(refs)) != len(refs):
        raise DrawImpossible("candidate refs repeat")
    for c in inputs["candidates"]:
        if not 1.0 <= float(c["weight"]) <= MAX_WEIGHT:
            raise DrawImpossible(f"weight of {c['ref']} outside 1–{MAX_WEIGHT:g}")
    if int(inputs["target"]) < 0:
        raise DrawImpossible("a negative target")
    if int(inputs["inspectors_per_visit"]) < 2:
        raise DrawImpossible("at least 2 inspectors per visit (双随机)")
    if inputs["candidates"] and not inputs["workdays"]:
        raise DrawImpossible("no workday in the period for a visit")
    # Known before any draw: a school that too few inspectors may visit could never be
    # drawn. (A recusal from a teacher can still make one draw impossible: see ``run``.)
    recused: dict[str, set[str]] = defaultdict(set)
    for inspector, other in inputs["exclusions"]:
        recused[str(other)].add(str(inspector))
    needed, everyone = int(inputs["inspectors_per_visit"]), len(inputs["inspectors"])
    short = sorted(
        school
        for school in {str(c["school"]) for c in inputs["candidates"]}
        if everyone - len(recused[school]) < needed
    )
    if short:
        raise DrawImpossible(
            f"{len(short)} school(s) have fewer than {needed} inspectors who may visit them"
            f" (of {everyone}; recusals counted): {', '.join(short[:5])}"
        )


def allocate(strata: dict[str, int], target: int, rng: _Stream) -> dict[str, int]:
    """Draws per stratum, proportional to its size (largest remainders)."""
    total = sum(strata.values())
    target = min(target, total)
    if total == 0 or target == 0:
        return dict.fromkeys(strata, 0)
    exact = {s: target * n / total for s, n in strata.items()}
    quota = {s: math.floor(x) for s, x in exact.items()}
    left = target - sum(quota.values())
    order = sorted(strata, key=lambda s: (-(exact[s] - quota[s]), -rng.u("allocate", s), s))
    for s in order[:left]:
        quota[s] += 1
    return quota


def _targets(inputs: dict[str, Any], rng: _Stream) -> list[dict[str, Any]]:
    by_stratum: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for c in inputs["candidates"]:
        by_stratum[str(c["stratum"])].append(c)
    quota = allocate({s: len(cs) for s, cs in by_stratum.items()}, int(inputs["target"]), rng)
    drawn = []
    for stratum in sorted(by_stratum):
        ranked = sorted(
            by_stratum[stratum],
            key=lambda c: (-(rng.u("target", c["ref"]) ** (1.0 / float(c["weight"]))), c["ref"]),
        )
        drawn.extend(ranked[: quota[stratum]])
    return drawn


def run(inputs: dict[str, Any], seed: str, beacon: str = "") -> list[Visit]:
    """The spot checks these inputs and this seed give (see the module docstring)."""
    validate(inputs)
    rng = _Stream(seed, inputs_digest(inputs), beacon)
    by_school: dict[str, list[str]] = defaultdict(list)
    for c in _targets(inputs, rng):
        by_school[str(c["school"])].append(str(c["ref"]))
    workdays = [date.fromisoformat(d) for d in inputs["workdays"]]
    period_end = date.fromisoformat(inputs["period_end"])
    excluded: dict[str, set[str]] = defaultdict(set)
    for inspector, other in inputs["exclusions"]:
        excluded[str(inspector)].add(str(other))
    load = dict.fromkeys((str(i) for i in inputs["inspectors"]), 0)
    per_visit = int(inputs["inspectors_per_visit"])
    visits = []
    for school in sorted(by_school):
        teachers = sorted(by_school[school])
        involved = {school, *teachers}
        eligible = [i for i in sorted(load) if not excluded[i] & involved]
        if len(eligible) < per_visit:
            raise DrawImpossible(
                f"school {school}: {len(eligible)} eligible inspectors, {per_visit} needed"
            )
        chosen = sorted(eligible, key=lambda i: (load[i], rng.u("inspector", f"{school}/{i}")))
        chosen = chosen[:per_visit]
        for i in chosen:
            load[i] += 1
        start = workdays[math.floor(rng.u("window", school) * len(workdays))]
        end = min(period_end, start + timedelta(days=int(inputs["window_days"]) - 1))
        visits.append(Visit(school, start, end, tuple(teachers), tuple(sorted(chosen))))
    return visits


def verify(record: dict[str, Any]) -> dict[str, Any]:
    """Check a published draw record: the seed matches its commitment, the inputs their
    digest, and re-running the draw gives the published spot checks."""
    if not isinstance(record, dict):
        return {"verified": False, "reason": "a draw record is a JSON object"}
    seed = record.get("seed")
    if not seed:
        return {"verified": False, "reason": "the seed is not revealed yet"}
    try:
        inputs = record["inputs"]
        checks = {
            "seed_matches_commitment": commitment(seed) == record["seed_commitment"],
            "inputs_match_digest": inputs_digest(inputs) == record["inputs_digest"],
        }
        visits = run(inputs, seed, record.get("beacon", ""))
        checks["result_matches"] = (
            result_digest(visits) == record["result_digest"]
            and [v.as_json() for v in visits] == record["visits"]
        )
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        # A damaged or tampered record (DrawImpossible is a ValueError) is "not verified",
        # with the reason, never a crash of the verifier.
        return {"verified": False, "reason": f"not a valid draw record: {exc!r}"}
    return {
        "verified": all(checks.values()),
        **checks,
        "visits": [v.as_json() for v in visits],
    }


def main(argv: list[str]) -> int:
    """``python -m backend.inspection.draw record.json``: verify a published draw record."""
    if len(argv) != 1:
        print("usage: python -m backend.inspection.draw DRAW_RECORD.json", file=sys.stderr)
        return 2
    outcome = verify(json.loads(Path(argv[0]).read_text(encoding="utf-8")))
    print(json.dumps(outcome, ensure_ascii=False, indent=2))
    return 0 if outcome["verified"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

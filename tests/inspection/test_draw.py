"""The pure verifiable draw: reproducible, verifiable, stratified, recusals kept, risk
weights honoured and bounded."""

from __future__ import annotations

import hashlib
import json
import math
from collections import Counter
from datetime import date, timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backend.inspection import draw

pytestmark = pytest.mark.db_independent

WORKDAYS = ["2026-10-12", "2026-10-13", "2026-10-14", "2026-10-15", "2026-10-16", "2026-10-19"]
SEED = "a" * 64


def make_inputs(
    candidates: list[dict[str, Any]],
    target: int,
    inspectors: list[str],
    *,
    exclusions: list[list[str]] | None = None,
    per_visit: int = 2,
    workdays: list[str] | None = None,
    window_days: int = 3,
    period_end: str = "2026-10-20",
) -> dict[str, Any]:
    return {
        "version": draw.DRAW_VERSION,
        "candidates": candidates,
        "target": target,
        "inspectors": inspectors,
        "exclusions": exclusions or [],
        "inspectors_per_visit": per_visit,
        "workdays": WORKDAYS if workdays is None else workdays,
        "window_days": window_days,
        "period_end": period_end,
    }


def county(schools: int = 5, per_school: int = 6) -> dict[str, Any]:
    candidates = [
        {"ref": f"t-{s}-{i}", "school": f"s{s}", "stratum": f"s{s}", "weight": 1.0}
        for s in range(schools)
        for i in range(per_school)
    ]
    return make_inputs(candidates, 8, [f"i-{n}" for n in range(8)])


def record(inputs: dict[str, Any], seed: str, beacon: str = "") -> dict[str, Any]:
    visits = draw.run(inputs, seed, beacon)
    return {
        "inputs": inputs,
        "inputs_digest": draw.inputs_digest(inputs),
        "seed_commitment": draw.commitment(seed),
        "beacon": beacon,
        "seed": seed,
        "result_digest": draw.result_digest(visits),
        "visits": [v.as_json() for v in visits],
    }


def seed_of(n: int) -> str:
    return hashlib.sha256(f"seed {n}".encode()).hexdigest()


# --- reproducibility and verification ------------------------------------------------------


def test_same_inputs_seed_and_beacon_give_the_same_draw() -> None:
    inputs = county()
    first = draw.run(inputs, SEED, "lottery 3 1 4")
    again = draw.run(json.loads(json.dumps(inputs)), SEED, "lottery 3 1 4")
    assert first == again
    assert sum(len(v.teachers) for v in first) == 8


def test_other_seeds_and_beacons_give_other_draws() -> None:
    inputs = county()
    outcomes = {draw.result_digest(draw.run(inputs, seed_of(n))) for n in range(6)}
    assert len(outcomes) == 6
    assert draw.run(inputs, SEED, "beacon A") != draw.run(inputs, SEED, "beacon B")


def test_commitment_is_the_sha256_of_the_seed() -> None:
    assert draw.commitment(SEED) == hashlib.sha256(SEED.encode()).hexdigest()
    assert draw.commitment(SEED) != draw.commitment(seed_of(1))


def test_verify_accepts_an_honest_record() -> None:
    outcome = draw.verify(record(county(), SEED, "beacon"))
    assert outcome["verified"] is True
    assert outcome["seed_matches_commitment"] and outcome["inputs_match_digest"]
    assert outcome["result_matches"]


def test_verify_refuses_a_record_before_the_seed_is_revealed() -> None:
    unrevealed = {**record(county(), SEED), "seed": None, "visits": None}
    assert draw.verify(unrevealed) == {
        "verified": False,
        "reason": "the seed is not revealed yet",
    }


def test_verify_detects_a_wrong_seed() -> None:
    honest = record(county(), SEED)
    outcome = draw.verify({**honest, "seed": seed_of(7)})
    assert outcome["verified"] is False
    assert outcome["seed_matches_commitment"] is False


def test_verify_detects_tampered_inputs() -> None:
    honest = record(county(), SEED)
    tampered = json.loads(json.dumps(honest))
    tampered["inputs"]["candidates"] = tampered["inputs"]["candidates"][1:]
    outcome = draw.verify(tampered)
    assert outcome["verified"] is False
    assert outcome["inputs_match_digest"] is False


def test_verify_detects_a_tampered_visit() -> None:
    honest = record(county(), SEED)
    tampered = json.loads(json.dumps(honest))
    visit = tampered["visits"][0]
    visit["window_start"] = visit["window_end"] = "2026-10-20"
    outcome = draw.verify(tampered)
    assert outcome["verified"] is False
    assert outcome["seed_matches_commitment"] and outcome["inputs_match_digest"]
    assert outcome["result_matches"] is False


def test_verify_calls_a_damaged_record_unverified_instead_of_crashing() -> None:
    damaged = record(county(), SEED)
    damaged["inputs"]["candidates"][0]["weight"] = 9.0  # refused by the algorithm
    assert draw.verify(damaged)["verified"] is False
    del damaged["inputs"]
    assert draw.verify(damaged)["verified"] is False
    assert draw.verify([1, 2])["verified"] is False  # type: ignore[arg-type]


def test_the_module_verifies_a_record_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    honest = record(county(), SEED, "beacon")
    good = tmp_path / "good.json"
    good.write_text(json.dumps(honest), encoding="utf-8")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**honest, "beacon": "another"}), encoding="utf-8")
    assert draw.main([str(good)]) == 0
    assert json.loads(capsys.readouterr().out)["verified"] is True
    assert draw.main([str(bad)]) == 1
    assert draw.main([]) == 2


# --- properties over many inputs and seeds ---------------------------------------------------


@st.composite
def draw_cases(draw_: st.DrawFn) -> tuple[dict[str, Any], str]:
    schools = draw_(st.integers(1, 6))
    by_community = draw_(st.booleans())
    candidates = []
    for s in range(schools):
        for i in range(draw_(st.integers(1, 6))):
            candidates.append(
                {
                    "ref": f"t-{s}-{i}",
                    "school": f"s{s}",
                    "stratum": f"c{s % 2}" if by_community else f"s{s}",
                    "weight": draw_(st.sampled_from([1.0, 1.5, 2.0, 2.5, 3.0])),
                }
            )
    inspectors = [f"i-{n}" for n in range(draw_(st.integers(2, 9)))]
    others = [f"s{s}" for s in range(schools)] + [c["ref"] for c in candidates]
    exclusions: list[tuple[str, str]] = draw_(
        st.lists(st.tuples(st.sampled_from(inspectors), st.sampled_from(others)), max_size=8)
    )
    inputs = make_inputs(
        candidates,
        draw_(st.integers(0, len(candidates) + 3)),
        inspectors,
        exclusions=[list(pair) for pair in exclusions],
        per_visit=draw_(st.integers(2, 3)),
        window_days=draw_(st.integers(1, 10)),
    )
    return inputs, draw_(st.text("0123456789abcdef", min_size=1, max_size=64))


def _excluded(inputs: dict[str, Any]) -> dict[str, set[str]]:
    excluded: dict[str, set[str]] = {}
    for inspector, other in inputs["exclusions"]:
        excluded.setdefault(inspector, set()).add(other)
    return excluded


@settings(max_examples=60, derandomize=True, deadline=None)
@given(draw_cases())
def test_every_draw_keeps_every_rule(case: tuple[dict[str, Any], str]) -> None:
    inputs, seed = case
    candidates = inputs["candidates"]
    excluded = _excluded(inputs)
    try:
        visits = draw.run(inputs, seed)
    except draw.DrawImpossible:
        # Only when some school has too few inspectors free of its own recusals, even
        # before its teachers' recusals are counted.
        short = [
            school
            for school in {c["school"] for c in candidates}
            if sum(1 for i in inputs["inspectors"] if school not in excluded.get(i, set()))
            < inputs["inspectors_per_visit"]
        ]
        teacher_recusals = any(o.startswith("t-") for pairs in excluded.values() for o in pairs)
        assert short or teacher_recusals
        return
    drawn = [t for v in visits for t in v.teachers]
    # The total, and no teacher twice.
    assert len(drawn) == len(set(drawn)) == min(inputs["target"], len(candidates))
    # Each stratum gets the floor or the ceiling of its proportional share.
    target = min(inputs["target"], len(candidates))
    size = Counter(c["stratum"] for c in candidates)
    stratum_of = {c["ref"]: c["stratum"] for c in candidates}
    got = Counter(stratum_of[t] for t in drawn)
    for stratum, n in size.items():
        share = Fraction(target * n, len(candidates))
        assert math.floor(share) <= got[stratum] <= math.ceil(share)
    school_of = {c["ref"]: c["school"] for c in candidates}
    workdays = [date.fromisoformat(d) for d in inputs["workdays"]]
    period_end = date.fromisoformat(inputs["period_end"])
    for visit in visits:
        assert {school_of[t] for t in visit.teachers} == {visit.school}
        # Inspectors: exactly as many as asked, distinct, none recused from the school or
        # from a teacher checked there.
        assert len(visit.inspectors) == len(set(visit.inspectors))
        assert len(visit.inspectors) == inputs["inspectors_per_visit"]
        for inspector in visit.inspectors:
            assert not excluded.get(inspector, set()) & {visit.school, *visit.teachers}
        assert visit.window_start in workdays
        assert visit.window_end == min(
            period_end, visit.window_start + timedelta(days=inputs["window_days"] - 1)
        )
    assert len({v.school for v in visits}) == len(visits)


def test_too_few_eligible_inspectors_is_impossible_not_a_weaker_draw() -> None:
    candidates = [{"ref": "t-1", "school": "s1", "stratum": "s1", "weight": 1.0}]
    inputs = make_inputs(candidates, 1, ["i-1", "i-2", "i-3"], exclusions=[["i-1", "s1"]])
    assert len(draw.run(inputs, SEED)[0].inspectors) == 2
    inputs["exclusions"].append(["i-2", "t-1"])
    with pytest.raises(draw.DrawImpossible, match="1 eligible inspectors, 2 needed"):
        draw.run(inputs, SEED)
    with pytest.raises(draw.DrawImpossible):
        draw.run(make_inputs(candidates, 1, ["i-1"]), SEED)


# --- risk weights ----------------------------------------------------------------------------


def test_a_weight_of_two_is_drawn_about_twice_as_often() -> None:
    candidates = [
        {"ref": "t-light", "school": "s1", "stratum": "all", "weight": 1.0},
        {"ref": "t-heavy", "school": "s1", "stratum": "all", "weight": 2.0},
    ]
    inputs = make_inputs(candidates, 1, ["i-1", "i-2"])
    runs = 4000
    heavy = sum(draw.run(inputs, seed_of(n))[0].teachers == ("t-heavy",) for n in range(runs))
    # 2/3 expected; the standard error is 0.0075, so 1/2 (equal weights) is far outside.
    assert abs(heavy / runs - 2 / 3) < 0.035


def test_weights_are_bounded() -> None:
    def with_weight(weight: float) -> dict[str, Any]:
        candidate = {"ref": "t-1", "school": "s1", "stratum": "s1", "weight": weight}
        return make_inputs([candidate], 1, ["i-1", "i-2"])

    draw.validate(with_weight(draw.MAX_WEIGHT))
    for weight in (draw.MAX_WEIGHT + 0.01, 10.0, 0.5):
        with pytest.raises(draw.DrawImpossible, match="weight"):
            draw.validate(with_weight(weight))

"""The pure check-in evaluation: GCJ-02, distance, the fence verdict, time, and flags."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backend.attendance.evaluation import (
    EARTH_MEAN_RADIUS_M,
    FLAG_CODES,
    Context,
    Evaluation,
    Fence,
    Punch,
    PushClock,
    distance_m,
    estimate_capture_time,
    evaluate,
    gcj02_to_wgs84,
    in_mainland_china,
    location_verdict,
    wgs84_to_gcj02,
)

pytestmark = pytest.mark.db_independent  # runs once in CI, not per database

MINUTE = 60_000
DAY = 86_400_000
# 2025-03-03 08:00 China time (a Monday), server epoch ms.
T0 = 1_740_960_000_000

# Xiji county seat, Ningxia (WGS-84).
XIJI = (35.965, 105.731)
FENCE = Fence(latitude=XIJI[0], longitude=XIJI[1], radius_m=300.0)


def north_of(lat: float, lon: float, metres: float) -> tuple[float, float]:
    """The point `metres` due north: exact for distance_m, which uses the same sphere."""
    return lat + math.degrees(metres / EARTH_MEAN_RADIUS_M), lon


def punch(**changes: object) -> Punch:
    base = Punch(
        kind="in",
        captured_at=T0,
        latitude=XIJI[0],
        longitude=XIJI[1],
        accuracy_m=10.0,
        coord_system="wgs84",
        mock_location=False,
        elapsed_ms=3_600_000,
        boot_id="boot-a",
        has_photo=True,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def clock(**changes: object) -> PushClock:
    # Pushed 20 minutes after capture, from an exact clock, without a reboot.
    base = PushClock(
        received_at=T0 + 20 * MINUTE,
        device_time=T0 + 20 * MINUTE,
        elapsed_ms=3_600_000 + 20 * MINUTE,
        boot_id="boot-a",
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def context(**changes: object) -> Context:
    base = Context(
        fences=(FENCE,),
        has_active_secondment=True,
        photo_required=False,
        device_revoked_at=None,
        recent_same_kind_at=(),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def codes(result: Evaluation) -> list[str]:
    return [f.code for f in result.flags]


def reason(result: Evaluation, code: str) -> str:
    return next(f.reason for f in result.flags if f.code == code)


# --- GCJ-02 ------------------------------------------------------------------------------

# Published WGS-84 → GCJ-02 pairs: googollee/eviltransform's test vectors (go/transform_test.go,
# python/test.py) and the Beijing (Tiananmen) example in wandergis/coordtransform test/app.js.
PUBLISHED = [
    pytest.param((31.1774276, 121.5272106), (31.17530398364597, 121.531541859215), id="shanghai"),
    pytest.param((22.543847, 113.912316), (22.540796131694766, 113.9171764808363), id="shenzhen"),
    pytest.param((39.911954, 116.377817), (39.91334545536069, 116.38404722455657), id="beijing"),
    pytest.param((39.915, 116.404), (39.91640428150164, 116.41024449916938), id="tiananmen"),
]


@pytest.mark.parametrize(("wgs", "gcj"), PUBLISHED)
def test_wgs84_to_gcj02_matches_published_pairs(
    wgs: tuple[float, float], gcj: tuple[float, float]
) -> None:
    got = wgs84_to_gcj02(*wgs)
    assert got == pytest.approx(gcj, abs=1e-9)


@pytest.mark.parametrize(("wgs", "gcj"), PUBLISHED)
def test_gcj02_to_wgs84_inverts_published_pairs(
    wgs: tuple[float, float], gcj: tuple[float, float]
) -> None:
    assert distance_m(*gcj02_to_wgs84(*gcj), *wgs) < 0.01


def test_xiji_round_trip_and_the_offset_matters() -> None:
    gcj = wgs84_to_gcj02(*XIJI)
    # Hundreds of metres: more than a fence's radius, so skipping the conversion is wrong.
    assert 300 < distance_m(*gcj, *XIJI) < 600
    assert distance_m(*gcj02_to_wgs84(*gcj), *XIJI) < 1.0


@pytest.mark.parametrize(
    "point",
    [
        pytest.param((35.6812, 139.7671), id="tokyo"),
        pytest.param((37.5665, 126.9780), id="seoul"),
        pytest.param((25.0330, 121.5654), id="taipei"),
        pytest.param((21.0285, 105.8542), id="hanoi"),
        pytest.param((47.9186, 106.9176), id="ulaanbaatar"),
        pytest.param((51.5007, -0.1246), id="london"),
        pytest.param((0.0, 0.0), id="null-island"),
    ],
)
def test_identity_outside_mainland_china(point: tuple[float, float]) -> None:
    assert not in_mainland_china(*point)
    assert wgs84_to_gcj02(*point) == point
    assert gcj02_to_wgs84(*point) == point


@pytest.mark.parametrize(
    "point", [XIJI, (39.9087, 116.3975), (43.8256, 87.6168), (18.25, 109.5), (29.65, 91.1)]
)
def test_mainland_points_are_in_china(point: tuple[float, float]) -> None:
    assert in_mainland_china(*point)
    assert wgs84_to_gcj02(*point) != point


@given(
    lat=st.floats(min_value=18.2, max_value=53.5),
    lon=st.floats(min_value=73.5, max_value=134.7),
)
def test_gcj02_round_trip_anywhere_in_the_mainland(lat: float, lon: float) -> None:
    gcj = wgs84_to_gcj02(lat, lon)
    if in_mainland_china(lat, lon) and in_mainland_china(*gcj):
        assert distance_m(*gcj02_to_wgs84(*gcj), lat, lon) < 0.01


# --- distance ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "geodesic_m"),
    [
        # WGS-84 geodesic lengths (GeographicLib, Karney 2013).
        pytest.param((36.12, -86.67), (33.94, -118.40), 2_892_776.96, id="BNA-LAX"),
        pytest.param((39.9087, 116.3975), (31.2304, 121.4737), 1_066_676.40, id="beijing-shanghai"),
        pytest.param((0.0, 0.0), (90.0, 0.0), 10_001_965.73, id="quarter-meridian"),
    ],
)
def test_distance_within_half_a_percent_of_the_geodesic(
    a: tuple[float, float], b: tuple[float, float], geodesic_m: float
) -> None:
    assert distance_m(*a, *b) == pytest.approx(geodesic_m, rel=0.005)
    assert distance_m(*b, *a) == pytest.approx(distance_m(*a, *b))


def test_distance_zero_and_small() -> None:
    assert distance_m(*XIJI, *XIJI) == 0
    assert distance_m(*XIJI, *north_of(*XIJI, 300)) == pytest.approx(300, abs=1e-6)


# --- location ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("beyond", "accuracy", "expected"),
    [
        (-10.0, 10.0, "inside"),  # the error circle touches the edge from inside
        (-9.999, 10.0, "uncertain"),
        (10.0, 10.0, "uncertain"),  # touches it from outside: not clearly beyond
        (10.001, 10.0, "outside"),
        (0.0, 0.0, "inside"),  # a point on the edge counts as inside
        (0.001, 0.0, "outside"),
    ],
)
def test_location_verdict_edges(beyond: float, accuracy: float, expected: str) -> None:
    assert location_verdict(beyond, accuracy) == expected


@pytest.mark.parametrize(
    ("metres", "accuracy", "expected", "flag"),
    [
        (0, 10.0, "inside", None),
        (289, 10.0, "inside", None),
        (291, 10.0, "uncertain", "uncertain_location"),
        (309, 10.0, "uncertain", "uncertain_location"),
        (311, 10.0, "outside", "outside_fence"),
        (250, 80.0, "uncertain", "uncertain_location"),
        (100, 250.0, "uncertain", "uncertain_location"),
        (1_500, 1_000.0, "outside", "outside_fence"),
        (299, None, "inside", None),
        (301, None, "outside", "outside_fence"),
    ],
)
def test_fence_of_300_m_with_accuracy(
    metres: float, accuracy: float | None, expected: str, flag: str | None
) -> None:
    lat, lon = north_of(*XIJI, metres)
    result = evaluate(punch(latitude=lat, longitude=lon, accuracy_m=accuracy), clock(), context())
    assert result.location == expected
    assert result.distance_m == pytest.approx(metres - 300, abs=1e-6)
    location_flags = [c for c in codes(result) if c in {"outside_fence", "uncertain_location"}]
    assert location_flags == ([flag] if flag else [])


def test_outside_reason_gives_metres_beyond_and_accuracy() -> None:
    lat, lon = north_of(*XIJI, 1_512)
    result = evaluate(punch(latitude=lat, longitude=lon, accuracy_m=25.0), clock(), context())
    text = reason(result, "outside_fence")
    assert "1,212 m beyond" in text
    assert "radius 300 m" in text
    assert "±25 m" in text


def test_outside_without_accuracy_says_so() -> None:
    lat, lon = north_of(*XIJI, 400)
    result = evaluate(punch(latitude=lat, longitude=lon, accuracy_m=None), clock(), context())
    assert "100 m beyond" in reason(result, "outside_fence")
    assert "no GPS accuracy reported" in reason(result, "outside_fence")


def test_uncertain_reason() -> None:
    lat, lon = north_of(*XIJI, 250)
    result = evaluate(punch(latitude=lat, longitude=lon, accuracy_m=80.0), clock(), context())
    text = reason(result, "uncertain_location")
    assert "±80 m is too coarse" in text
    assert "50 m inside" in text


def test_nearest_of_several_fence_points() -> None:
    here = north_of(*XIJI, 5_000)
    teaching_site = Fence(*north_of(*XIJI, 5_120), radius_m=100.0)  # 20 m beyond its edge
    far_site = Fence(*north_of(*XIJI, 9_000), radius_m=200.0)
    result = evaluate(
        punch(latitude=here[0], longitude=here[1], accuracy_m=5.0),
        clock(),
        context(fences=(FENCE, teaching_site, far_site)),
    )
    assert result.location == "outside"
    assert result.distance_m == pytest.approx(20, abs=1e-6)


def test_nearest_means_nearest_edge_not_nearest_centre() -> None:
    # 200 m from a 50 m satellite's centre, but inside a 1 km campus 900 m away.
    small = Fence(*north_of(*XIJI, 200), radius_m=50.0)
    big = Fence(*north_of(*XIJI, -900), radius_m=1_000.0)
    result = evaluate(punch(), clock(), context(fences=(small, big)))
    assert result.location == "inside"
    assert result.distance_m == pytest.approx(-100, abs=1e-6)


def test_gcj02_input_is_converted_before_the_fence_check() -> None:
    gcj_lat, gcj_lon = wgs84_to_gcj02(*north_of(*XIJI, 100))
    as_gcj = evaluate(
        punch(latitude=gcj_lat, longitude=gcj_lon, coord_system="gcj02"), clock(), context()
    )
    assert as_gcj.location == "inside"
    assert as_gcj.distance_m == pytest.approx(-200, abs=0.01)
    assert (as_gcj.latitude, as_gcj.longitude) == pytest.approx(north_of(*XIJI, 100), abs=1e-9)
    # The same numbers taken as WGS-84 would be a wrong "outside".
    as_wgs = evaluate(punch(latitude=gcj_lat, longitude=gcj_lon), clock(), context())
    assert as_wgs.location == "outside"


def test_unknown_coordinate_system_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="bd09"):
        evaluate(punch(coord_system="bd09"), clock(), context())


def test_zero_zero_is_no_position() -> None:
    result = evaluate(punch(latitude=0.0, longitude=0.0, coord_system="gcj02"), clock(), context())
    assert result.location == "unknown"
    assert result.distance_m is None
    assert codes(result) == ["no_position"]


def test_zero_latitude_alone_is_a_position() -> None:
    result = evaluate(punch(latitude=0.0, longitude=105.0), clock(), context())
    assert result.location == "outside"
    assert "no_position" not in codes(result)


def test_no_fence_with_a_secondment() -> None:
    result = evaluate(punch(), clock(), context(fences=()))
    assert (result.location, result.distance_m) == ("unknown", None)
    assert codes(result) == ["no_fence"]


def test_no_active_secondment() -> None:
    result = evaluate(punch(), clock(), context(fences=(), has_active_secondment=False))
    assert result.location == "unknown"
    assert codes(result) == ["no_active_secondment"]
    assert evaluate(punch(), clock(), context()).flags == ()


def test_mock_location() -> None:
    result = evaluate(punch(mock_location=True), clock(), context())
    assert result.location == "inside"
    assert codes(result) == ["mock_location"]
    assert "mock_location" not in codes(evaluate(punch(), clock(), context()))


# --- time --------------------------------------------------------------------------------


def test_clean_punch_has_no_flags_and_the_exact_time() -> None:
    result = evaluate(punch(), clock(), context())
    assert result.flags == ()
    assert (result.estimated_at, result.estimate_method) == (T0, "elapsed_same_boot")


def test_same_boot_ignores_a_wall_clock_moved_back_an_hour_before_the_push() -> None:
    # Exact at capture; the user then set the clock back an hour and synced 20 min later.
    moved = clock(device_time=T0 + 20 * MINUTE - 60 * MINUTE)
    result = evaluate(punch(), moved, context())
    assert (result.estimated_at, result.estimate_method) == (T0, "elapsed_same_boot")
    assert "clock_skew" not in codes(result)


def test_same_boot_sees_through_a_clock_set_back_an_hour_before_capture() -> None:
    result = evaluate(
        punch(captured_at=T0 - 60 * MINUTE), clock(device_time=T0 - 40 * MINUTE), context()
    )
    assert (result.estimated_at, result.estimate_method) == (T0, "elapsed_same_boot")
    assert "60 min behind" in reason(result, "clock_skew")


def test_after_a_reboot_only_the_skew_is_used() -> None:
    # The device clock runs 7 min slow; it rebooted between capture and push.
    slow = 7 * MINUTE
    result = evaluate(
        punch(captured_at=T0 - slow, elapsed_ms=9_000_000, boot_id="boot-a"),
        clock(device_time=T0 + 20 * MINUTE - slow, elapsed_ms=60_000, boot_id="boot-b"),
        context(),
    )
    assert (result.estimated_at, result.estimate_method) == (T0, "skew_only")
    assert "7.0 min behind" in reason(result, "clock_skew")


@pytest.mark.parametrize(
    "changes",
    [
        {"elapsed_ms": None},
        {"boot_id": None},
        {"boot_id": ""},
        {"elapsed_ms": 99_000_000},  # more than the push's: impossible under one boot
    ],
)
def test_skew_only_when_the_boot_evidence_is_missing_or_impossible(
    changes: dict[str, object],
) -> None:
    raw, method = estimate_capture_time(punch(**changes), clock())
    assert (raw, method) == (T0, "skew_only")


def test_skew_only_when_the_push_has_no_elapsed() -> None:
    assert estimate_capture_time(punch(), clock(elapsed_ms=None)) == (T0, "skew_only")


def test_received_at_fallback() -> None:
    no_clock = clock(device_time=None, elapsed_ms=None, boot_id=None)
    result = evaluate(punch(captured_at=T0 - 10 * MINUTE), no_clock, context())
    assert (result.estimated_at, result.estimate_method) == (T0 + 20 * MINUTE, "received_at")
    # 30 min between the claim and the receipt: delay or skew, nothing tells which.
    assert result.flags == ()


def test_received_at_fallback_flags_a_claim_in_the_future() -> None:
    no_clock = clock(device_time=None, elapsed_ms=None, boot_id=None)
    ok = evaluate(punch(captured_at=T0 + 21 * MINUTE), no_clock, context())
    assert ok.flags == ()
    ahead = evaluate(punch(captured_at=T0 + 21 * MINUTE + 1), no_clock, context())
    assert "after the server received it" in reason(ahead, "clock_skew")


def test_received_at_fallback_judges_late_sync_on_the_device_claim() -> None:
    no_clock = clock(device_time=None, elapsed_ms=None, boot_id=None)
    result = evaluate(punch(captured_at=T0 + 20 * MINUTE - 10 * DAY), no_clock, context())
    assert "unverified" in reason(result, "late_sync")
    assert "clock_skew" not in codes(result)


@pytest.mark.parametrize(
    ("offset_ms", "flagged", "words"),
    [
        (5 * MINUTE, False, ""),
        (5 * MINUTE + 1, True, "ahead of"),
        (-5 * MINUTE, False, ""),
        (-5 * MINUTE - 1, True, "behind"),
        (-3 * 60 * MINUTE, True, "3.0 h behind"),
    ],
)
def test_clock_skew_threshold(offset_ms: int, flagged: bool, words: str) -> None:
    # The device clock is off by offset_ms throughout; the estimate stays exact.
    result = evaluate(
        punch(captured_at=T0 + offset_ms),
        clock(device_time=T0 + 20 * MINUTE + offset_ms),
        context(),
    )
    assert result.estimated_at == T0
    assert ("clock_skew" in codes(result)) is flagged
    if flagged:
        assert words in reason(result, "clock_skew")
        assert "limit 5.0 min" in reason(result, "clock_skew")


@pytest.mark.parametrize(("future_ms", "flagged"), [(MINUTE, False), (MINUTE + 1, True)])
def test_capture_in_the_future_is_clamped_and_flagged(future_ms: int, flagged: bool) -> None:
    # Skew only (another boot) with the wall clock moved between capture and push.
    received = T0 + 20 * MINUTE
    result = evaluate(
        punch(captured_at=received + future_ms, boot_id="boot-old"),
        clock(device_time=received),
        context(),
    )
    assert result.estimate_method == "skew_only"
    assert result.estimated_at == received
    assert ("clock_skew" in codes(result)) is flagged
    if flagged:
        assert "after the server received it" in reason(result, "clock_skew")


def test_clock_moved_back_after_capture_without_boot_evidence() -> None:
    # The assumption of skew-only breaks: the estimate would land an hour in the future.
    result = evaluate(
        punch(elapsed_ms=None), clock(device_time=T0 + 20 * MINUTE - 60 * MINUTE), context()
    )
    assert result.estimated_at == T0 + 20 * MINUTE
    assert "40 min after the server received it" in reason(result, "clock_skew")


# --- flags at their thresholds -----------------------------------------------------------


def test_punch_synced_ten_days_late() -> None:
    received = T0 + 10 * DAY
    result = evaluate(
        punch(),
        clock(received_at=received, device_time=received, elapsed_ms=3_600_000 + 10 * DAY),
        context(),
    )
    assert result.estimated_at == T0
    assert codes(result) == ["late_sync"]
    assert "10.0 days after capture" in reason(result, "late_sync")
    assert "limit 3 days" in reason(result, "late_sync")


@pytest.mark.parametrize(("delay", "flagged"), [(3 * DAY, False), (3 * DAY + 1, True)])
def test_late_sync_threshold(delay: int, flagged: bool) -> None:
    result = evaluate(
        punch(),
        clock(received_at=T0 + delay, device_time=T0 + delay, elapsed_ms=3_600_000 + delay),
        context(),
    )
    assert ("late_sync" in codes(result)) is flagged


@pytest.mark.parametrize(
    ("revoked_at", "flagged"),
    [(None, False), (T0 + 1, False), (T0, True), (T0 - 90 * MINUTE, True)],
)
def test_after_device_revoked(revoked_at: int | None, flagged: bool) -> None:
    result = evaluate(punch(), clock(), context(device_revoked_at=revoked_at))
    assert ("after_device_revoked" in codes(result)) is flagged


def test_after_device_revoked_reason() -> None:
    result = evaluate(punch(), clock(), context(device_revoked_at=T0 - 90 * MINUTE))
    assert reason(result, "after_device_revoked") == "captured 1.5 h after the device was revoked"


@pytest.mark.parametrize(
    ("others", "flagged"),
    [
        ((), False),
        ((T0 - 3 * MINUTE,), True),
        ((T0 + 5 * MINUTE,), True),
        ((T0 - 5 * MINUTE,), True),
        ((T0 - 5 * MINUTE - 1,), False),
        ((T0 - 6 * MINUTE, T0 + 6 * MINUTE), False),
        ((T0 - 60 * MINUTE, T0 + 4 * MINUTE), True),
    ],
)
def test_duplicate_punch_window(others: tuple[int, ...], flagged: bool) -> None:
    result = evaluate(punch(), clock(), context(recent_same_kind_at=others))
    assert ("duplicate_punch" in codes(result)) is flagged


def test_duplicate_reason_names_the_nearest() -> None:
    result = evaluate(
        punch(kind="out"),
        clock(),
        context(recent_same_kind_at=(T0 - 60 * MINUTE, T0 - 150_000)),
    )
    assert reason(result, "duplicate_punch") == (
        "another 'out' check-in 2.5 min earlier (window 5.0 min)"
    )


def test_duplicate_uses_the_estimate_not_the_device_claim() -> None:
    # The device clock is 30 min fast: its claim is far from the other punch, the truth is not.
    result = evaluate(
        punch(captured_at=T0 + 30 * MINUTE),
        clock(device_time=T0 + 50 * MINUTE),
        context(recent_same_kind_at=(T0 - 2 * MINUTE,)),
    )
    assert "duplicate_punch" in codes(result)


@pytest.mark.parametrize(
    ("required", "has_photo", "flagged"),
    [(True, False, True), (True, True, False), (False, False, False)],
)
def test_photo_required(required: bool, has_photo: bool, flagged: bool) -> None:
    result = evaluate(punch(has_photo=has_photo), clock(), context(photo_required=required))
    assert ("photo_missing" in codes(result)) is flagged


def test_everything_at_once_keeps_every_flag_in_a_stable_order() -> None:
    received = T0 + 10 * DAY
    lat, lon = north_of(*XIJI, 800)
    result = evaluate(
        punch(latitude=lat, longitude=lon, mock_location=True, has_photo=False, boot_id="x"),
        clock(received_at=received, device_time=received - 30 * MINUTE),
        context(
            has_active_secondment=False,
            photo_required=True,
            device_revoked_at=T0,
            recent_same_kind_at=(T0 + 30 * MINUTE,),
        ),
    )
    assert codes(result) == [
        "outside_fence",
        "mock_location",
        "clock_skew",
        "late_sync",
        "after_device_revoked",
        "duplicate_punch",
        "photo_missing",
        "no_active_secondment",
    ]
    assert set(codes(result)) <= set(FLAG_CODES)
    assert all(f.reason for f in result.flags)


# --- properties --------------------------------------------------------------------------

_RANK = {"inside": 0, "uncertain": 1, "outside": 2}


@given(
    near=st.floats(min_value=0, max_value=5_000),
    extra=st.floats(min_value=0, max_value=5_000),
    accuracy=st.one_of(st.none(), st.floats(min_value=0, max_value=2_000)),
    radius=st.floats(min_value=10, max_value=2_000),
)
def test_location_verdict_is_monotone_in_distance(
    near: float, extra: float, accuracy: float | None, radius: float
) -> None:
    ctx = context(fences=(replace(FENCE, radius_m=radius),))
    verdicts = []
    for metres in (near, near + extra):
        lat, lon = north_of(*XIJI, metres)
        result = evaluate(punch(latitude=lat, longitude=lon, accuracy_m=accuracy), clock(), ctx)
        verdicts.append(_RANK[result.location])
    assert verdicts[0] <= verdicts[1]


@given(
    beyond=st.floats(min_value=-10_000, max_value=10_000),
    accuracy=st.floats(min_value=0, max_value=5_000),
    worse=st.floats(min_value=0, max_value=5_000),
)
def test_coarser_accuracy_only_moves_towards_uncertain(
    beyond: float, accuracy: float, worse: float
) -> None:
    sharp = location_verdict(beyond, accuracy)
    coarse = location_verdict(beyond, accuracy + worse)
    assert coarse in {sharp, "uncertain"}


@given(
    true_capture=st.integers(min_value=1_600_000_000_000, max_value=2_000_000_000_000),
    delay=st.integers(min_value=0, max_value=30 * DAY),
    since_boot=st.integers(min_value=0, max_value=90 * DAY),
)
def test_exact_clock_same_boot_estimate_is_the_capture_time(
    true_capture: int, delay: int, since_boot: int
) -> None:
    received = true_capture + delay
    result = evaluate(
        punch(captured_at=true_capture, elapsed_ms=since_boot),
        clock(received_at=received, device_time=received, elapsed_ms=since_boot + delay),
        context(),
    )
    assert result.estimated_at == true_capture
    assert result.estimate_method == "elapsed_same_boot"
    assert "clock_skew" not in codes(result)


@given(
    offset=st.integers(min_value=-10 * DAY, max_value=10 * DAY),
    delay=st.integers(min_value=0, max_value=30 * DAY),
)
def test_skew_only_estimate_ignores_a_constant_clock_error(offset: int, delay: int) -> None:
    received = T0 + delay
    result = evaluate(
        punch(captured_at=T0 + offset, boot_id=None),
        clock(received_at=received, device_time=received + offset),
        context(),
    )
    assert (result.estimated_at, result.estimate_method) == (T0, "skew_only")
    assert ("clock_skew" in codes(result)) is (abs(offset) > 5 * MINUTE)

"""Judging one check-in: where it was taken against the host school's fence, and when.

Pure: plain frozen dataclasses in, frozen dataclasses out. No Flask, no database, no clock,
no I/O; the sync push builds the inputs and stores the :class:`Evaluation`. Flags inform
admins; nothing here rejects or drops a punch.

Coordinates
-----------
Fences are WGS-84. A punch tagged ``gcj02`` (what Amap, Tencent and other Chinese map SDKs
return) is converted to WGS-84 first with :func:`gcj02_to_wgs84`, the exact inverse of the
public GCJ-02 forward transform (below). ``(0, 0)`` means "no position": WatermelonDB
writes 0 for a missing number, so that punch gets location ``unknown`` and ``no_position``.

Distance and the location verdict
---------------------------------
``distance_m`` is the signed distance beyond the nearest fence: for each fence,
``haversine(punch, centre) − radius`` (negative when the point is inside, by that many
metres), and the smallest of those. For one circle this is exactly the signed distance to
its edge; with several fences it picks the fence whose edge is nearest, not merely the
nearest centre (a big fence slightly farther away can still contain the point).

GPS accuracy ``a`` (the phone's error radius in metres) widens the point to a circle:

* ``inside``    if ``distance_m + a ≤ 0`` — the whole error circle lies inside one fence;
* ``outside``   if ``distance_m − a > 0`` — the whole error circle lies beyond every fence;
* ``uncertain`` otherwise (flag ``uncertain_location``): the fix is too coarse to tell;
* ``unknown``   when there is no fence (or no position); ``distance_m`` is then ``None``.

A punch with no accuracy (older clients, some web browsers) is judged as a point
(``a = 0``): the verdict rests on the position alone, and any location flag says "no GPS
accuracy reported" so an admin can weigh it. An error circle covered only by the union of
two overlapping fences is ``uncertain`` (conservative, and rare).

Time
----
Device clocks are evidence, never the time (reference: sync §7). The estimated true capture
time, in server epoch ms, comes from the first method that applies:

``elapsed_same_boot``
    The punch and the push carry the same ``boot_id`` and both carry elapsed-since-boot
    milliseconds: ``estimated = received_at − (push.elapsed_ms − punch.elapsed_ms)``. The
    monotonic clock since boot cannot be set by the user, so this holds even when the wall
    clock was moved between capture and upload. Assumptions: the elapsed clock counts
    through deep sleep (Android ``SystemClock.elapsedRealtime()``; on iOS
    ``mach_continuous_time``, not ``systemUptime``), ``boot_id`` changes at every boot, and
    the push's elapsed value was read close to when the server received it (the upload's
    latency, typically seconds, makes the estimate that much late). A push elapsed value
    *smaller* than the punch's under the same boot id is impossible, so the method falls
    through to the next one.
``skew_only``
    Otherwise, when the push carried the device's wall time:
    ``estimated = captured_at + (received_at − push.device_time)``. Assumes the wall clock
    was not changed between capture and push (a reboot does not change it; a user or the
    network time can). If it was, the estimate may land after the receipt: see below.
``received_at``
    Neither: the server's receive time, the only time we know (no device evidence to
    correct the claim with).

A capture cannot happen after the server received it: an estimate later than
``received_at`` is clamped to it, and when it was more than a minute later the punch gets
``clock_skew`` saying so (the wall clock must have been changed before the upload).

Flags (code, and a reason with the numbers)
-------------------------------------------
``no_position``, ``outside_fence``, ``uncertain_location``, ``mock_location``,
``no_fence`` (an active secondment whose host school has no fence: nothing to check
against), ``clock_skew`` (``|captured_at − estimated| > clock_skew_limit_ms``, or a capture
in the future), ``late_sync`` (``received_at − estimated > late_sync_days``),
``after_device_revoked`` (``estimated ≥ device_revoked_at``), ``duplicate_punch`` (another
punch of the same kind within ``duplicate_window_ms`` of the estimate, inclusive),
``photo_missing``, ``no_active_secondment``. Thresholds are strict where the issue says
"more than" (skew, late sync) and inclusive where it says "within" (duplicates).

With the ``received_at`` fallback the device's claim cannot be checked against anything:
``clock_skew`` is then raised only for a claim in the future, and ``late_sync`` is judged
on the device's own (unverified) capture time, saying so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# Coordinate transforms and distances live in the kernel, shared with the school API.
from backend.geo import (
    EARTH_MEAN_RADIUS_M,
    distance_m,
    gcj02_to_wgs84,
    in_mainland_china,
    wgs84_to_gcj02,
)

# --- inputs and outputs ------------------------------------------------------------------


@dataclass(frozen=True)
class Fence:
    """One fence point of the host school (its centre and radius, WGS-84)."""

    latitude: float
    longitude: float
    radius_m: float


@dataclass(frozen=True)
class Punch:
    kind: str  # "in" | "out"
    captured_at: int  # device epoch ms
    latitude: float
    longitude: float
    accuracy_m: float | None
    coord_system: str  # "wgs84" | "gcj02"
    mock_location: bool
    elapsed_ms: int | None  # device ms since boot at capture
    boot_id: str | None
    has_photo: bool


@dataclass(frozen=True)
class PushClock:
    """The device clock when the push carrying the punch arrived."""

    received_at: int  # server epoch ms
    device_time: int | None  # device epoch ms at push (X-Device-Time)
    elapsed_ms: int | None  # device ms since boot at push (X-Device-Elapsed)
    boot_id: str | None


@dataclass(frozen=True)
class Context:
    fences: tuple[Fence, ...]  # empty when there is no active secondment
    has_active_secondment: bool
    photo_required: bool
    device_revoked_at: int | None  # server epoch ms, or None
    # Estimated times (ms) of the teacher's *other* punches of the same kind that day: the
    # caller leaves out the punch being evaluated, or it would be its own duplicate.
    recent_same_kind_at: tuple[int, ...]
    late_sync_days: int = 3
    duplicate_window_ms: int = 5 * 60_000
    clock_skew_limit_ms: int = 5 * 60_000


@dataclass(frozen=True)
class Flag:
    code: str
    reason: str  # human-readable, with the numbers


@dataclass(frozen=True)
class Evaluation:
    latitude: float  # WGS-84 (converted from GCJ-02 when needed)
    longitude: float
    # Signed metres beyond the nearest fence: min over fences of (distance to the centre −
    # radius); negative inside. None without fences or without a position.
    distance_m: float | None
    location: str  # "inside" | "outside" | "uncertain" | "unknown"
    estimated_at: int  # estimated true capture time, server epoch ms
    estimate_method: str  # "elapsed_same_boot" | "skew_only" | "received_at"
    flags: tuple[Flag, ...]


LOCATIONS = ("inside", "outside", "uncertain", "unknown")
ESTIMATE_METHODS = ("elapsed_same_boot", "skew_only", "received_at")
FLAG_CODES = (
    "no_position",
    "outside_fence",
    "uncertain_location",
    "mock_location",
    "no_fence",
    "clock_skew",
    "late_sync",
    "after_device_revoked",
    "duplicate_punch",
    "photo_missing",
    "no_active_secondment",
)

# A capture later than the receipt by up to this much is rounding and latency, not skew.
# Re-exported: callers and tests reach the transforms through this module too.
__all__ = [
    "EARTH_MEAN_RADIUS_M",
    "distance_m",
    "gcj02_to_wgs84",
    "in_mainland_china",
    "wgs84_to_gcj02",
]

FUTURE_TOLERANCE_MS = 60_000
_DAY_MS = 86_400_000


def _metres(value: float) -> str:
    return f"{value:,.0f} m"


def _duration(ms: float) -> str:
    """A positive span for people: '45 s', '5.5 min', '62 min', '3.2 h', '10.0 days'."""
    seconds = abs(ms) / 1000
    if seconds < 90:
        return f"{seconds:.0f} s"
    minutes = seconds / 60
    if minutes < 10:
        return f"{minutes:.1f} min"
    if minutes < 90:
        return f"{minutes:.0f} min"
    hours = minutes / 60
    if hours < 48:
        return f"{hours:.1f} h"
    return f"{hours / 24:.1f} days"


# --- location ----------------------------------------------------------------------------


def _usable_accuracy(accuracy_m: float | None) -> float | None:
    if accuracy_m is None or not math.isfinite(accuracy_m) or accuracy_m < 0:
        return None
    return accuracy_m


def _has_position(lat: float, lon: float) -> bool:
    if not (math.isfinite(lat) and math.isfinite(lon)):
        return False
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return False
    return not (lat == 0 and lon == 0)


def location_verdict(beyond_m: float, accuracy_m: float) -> str:
    """inside / outside / uncertain from the signed distance beyond the fence and accuracy."""
    if beyond_m + accuracy_m <= 0:
        return "inside"
    if beyond_m - accuracy_m > 0:
        return "outside"
    return "uncertain"


def _to_wgs84(punch: Punch) -> tuple[float, float]:
    if punch.coord_system == "wgs84":
        return punch.latitude, punch.longitude
    if punch.coord_system == "gcj02":
        return gcj02_to_wgs84(punch.latitude, punch.longitude)
    raise ValueError(f"unknown coordinate system {punch.coord_system!r}")


@dataclass(frozen=True)
class _Location:
    latitude: float
    longitude: float
    distance_m: float | None
    location: str
    flags: tuple[Flag, ...]


def _locate(punch: Punch, ctx: Context) -> _Location:
    mock = (
        (
            Flag(
                "mock_location",
                "the phone reported that this position came from a mock-location provider"
                " (a location-spoofing app or developer setting)",
            ),
        )
        if punch.mock_location
        else ()
    )
    if not _has_position(punch.latitude, punch.longitude):
        reason = f"no usable position was recorded ({punch.latitude}, {punch.longitude})"
        return _Location(
            punch.latitude, punch.longitude, None, "unknown", (Flag("no_position", reason), *mock)
        )

    lat, lon = _to_wgs84(punch)
    if not ctx.fences:
        no_fence = (
            (
                Flag(
                    "no_fence",
                    "the host school has no fence set, so the location cannot be checked",
                ),
            )
            if ctx.has_active_secondment
            else ()
        )
        return _Location(lat, lon, None, "unknown", (*no_fence, *mock))

    beyond, nearest = _nearest(lat, lon, ctx.fences)
    accuracy = _usable_accuracy(punch.accuracy_m)
    verdict = location_verdict(beyond, accuracy or 0.0)
    fence_text = (
        f"the nearest fence (radius {_metres(nearest.radius_m)}"
        f" around {nearest.latitude:.5f}, {nearest.longitude:.5f})"
    )
    verdict_flags: tuple[Flag, ...] = ()
    if verdict == "outside":
        accuracy_text = (
            f"GPS accuracy ±{_metres(accuracy)}"
            if accuracy is not None
            else "no GPS accuracy reported: judged on the position alone"
        )
        reason = f"{_metres(beyond)} beyond {fence_text}; {accuracy_text}"
        verdict_flags = (Flag("outside_fence", reason),)
    elif verdict == "uncertain":
        # Only reachable with an accuracy > 0: a point is always inside or outside.
        where = f"{_metres(-beyond)} inside" if beyond <= 0 else f"{_metres(beyond)} beyond"
        reason = (
            f"GPS accuracy ±{_metres(accuracy or 0.0)} is too coarse to tell:"
            f" the fix is {where} the edge of {fence_text}"
        )
        verdict_flags = (Flag("uncertain_location", reason),)
    return _Location(lat, lon, beyond, verdict, (*verdict_flags, *mock))


def _nearest(lat: float, lon: float, fences: tuple[Fence, ...]) -> tuple[float, Fence]:
    best: tuple[float, Fence] | None = None
    for fence in fences:
        beyond = distance_m(lat, lon, fence.latitude, fence.longitude) - fence.radius_m
        if best is None or beyond < best[0]:
            best = (beyond, fence)
    assert best is not None
    return best


# --- time --------------------------------------------------------------------------------


def estimate_capture_time(punch: Punch, clock: PushClock) -> tuple[int, str]:
    """The unclamped estimate of the true capture time (server epoch ms) and its method."""
    if (
        punch.boot_id
        and punch.boot_id == clock.boot_id
        and punch.elapsed_ms is not None
        and clock.elapsed_ms is not None
        and clock.elapsed_ms >= punch.elapsed_ms
    ):
        return clock.received_at - (clock.elapsed_ms - punch.elapsed_ms), "elapsed_same_boot"
    if clock.device_time is not None:
        return punch.captured_at + (clock.received_at - clock.device_time), "skew_only"
    return clock.received_at, "received_at"


def _time_flags(
    punch: Punch, clock: PushClock, ctx: Context, raw: int, method: str, estimated: int
) -> list[Flag]:
    flags: list[Flag] = []
    received = clock.received_at

    # clock_skew
    if method == "received_at":
        ahead = punch.captured_at - received
        if ahead > FUTURE_TOLERANCE_MS:
            flags.append(
                Flag(
                    "clock_skew",
                    f"the device claims a capture {_duration(ahead)} after the server"
                    " received it: its clock is ahead (no push clock to measure by how much)",
                )
            )
    elif raw - received > FUTURE_TOLERANCE_MS:
        flags.append(
            Flag(
                "clock_skew",
                f"estimated capture time is {_duration(raw - received)} after the server"
                " received it: the device clock was changed between capture and upload;"
                " the receive time is used instead",
            )
        )
    else:
        offset = punch.captured_at - estimated  # > 0: the device clock was ahead
        if abs(offset) > ctx.clock_skew_limit_ms:
            direction = "ahead of" if offset > 0 else "behind"
            flags.append(
                Flag(
                    "clock_skew",
                    f"device clock was {_duration(offset)} {direction} the server's"
                    f" estimate at capture (limit {_duration(ctx.clock_skew_limit_ms)};"
                    f" method {method})",
                )
            )

    # late_sync
    limit_ms = ctx.late_sync_days * _DAY_MS
    if method == "received_at":
        delay = received - punch.captured_at
        if delay > limit_ms:
            flags.append(
                Flag(
                    "late_sync",
                    f"received {_duration(delay)} after capture by the device's own,"
                    f" unverified clock (limit {ctx.late_sync_days} days)",
                )
            )
    else:
        delay = received - estimated
        if delay > limit_ms:
            flags.append(
                Flag(
                    "late_sync",
                    f"received {_duration(delay)} after capture (limit {ctx.late_sync_days} days)",
                )
            )

    # after_device_revoked
    if ctx.device_revoked_at is not None and estimated >= ctx.device_revoked_at:
        after = estimated - ctx.device_revoked_at
        when = "at the moment" if after == 0 else f"{_duration(after)} after"
        flags.append(Flag("after_device_revoked", f"captured {when} the device was revoked"))

    # duplicate_punch
    if ctx.recent_same_kind_at:
        other = min(ctx.recent_same_kind_at, key=lambda t: (abs(t - estimated), t))
        gap = other - estimated
        if abs(gap) <= ctx.duplicate_window_ms:
            side = (
                "at the same time"
                if gap == 0
                else (f"{_duration(gap)} {'later' if gap > 0 else 'earlier'}")
            )
            flags.append(
                Flag(
                    "duplicate_punch",
                    f"another '{punch.kind}' check-in {side}"
                    f" (window {_duration(ctx.duplicate_window_ms)})",
                )
            )
    return flags


# --- the whole evaluation ----------------------------------------------------------------


def evaluate(punch: Punch, clock: PushClock, ctx: Context) -> Evaluation:
    """Where and when a punch was taken, and every flag it earns (nothing is rejected)."""
    located = _locate(punch, ctx)
    raw, method = estimate_capture_time(punch, clock)
    estimated = min(raw, clock.received_at)
    flags = [*located.flags, *_time_flags(punch, clock, ctx, raw, method, estimated)]
    if ctx.photo_required and not punch.has_photo:
        flags.append(Flag("photo_missing", "the region requires a photo and none was attached"))
    if not ctx.has_active_secondment:
        flags.append(
            Flag("no_active_secondment", "the teacher has no active secondment on this day")
        )
    return Evaluation(
        latitude=located.latitude,
        longitude=located.longitude,
        distance_m=located.distance_m,
        location=located.location,
        estimated_at=estimated,
        estimate_method=method,
        flags=tuple(flags),
    )

"""Geodesy the service needs: WGS-84 distances and China's GCJ-02 map coordinates.

Shared by the features that read positions (school fences, check-ins): GPS gives WGS-84,
while Chinese map SDKs (Amap, Tencent, Baidu's base) give GCJ-02, a few hundred metres off.
"""

from __future__ import annotations

import math

# --- GCJ-02 ------------------------------------------------------------------------------
#
# GCJ-02 ("Mars coordinates") is WGS-84 plus a smooth, deliberately obscured offset of a
# few hundred metres, applied to maps and location SDKs in mainland China. The forward
# transform below is the well-known public reconstruction (Krasovsky 1940 ellipsoid,
# a = 6378245 m, e² = 0.00669342162296594323) used by every open implementation, e.g.
# googollee/eviltransform (MIT) and wandergis/coordtransform (MIT); see also
# https://en.wikipedia.org/wiki/Restrictions_on_geographic_data_in_China. Its tests check
# the published pairs of both projects. There is no closed-form inverse: gcj02_to_wgs84
# solves wgs + offset(wgs) = gcj by fixed-point iteration, which converges to well under a
# millimetre in a few steps (the offset varies slowly). The common one-step inverse
# ``gcj − offset(gcj)`` is off by up to a few metres.

_GCJ_A = 6378245.0
_GCJ_EE = 0.00669342162296594323

# Mainland China as rectangles (west, south, east, north), minus excluded ones: the
# approximation published by Aimeast (2012) and reproduced by coordtransform ports. Finer
# than the usual single box (which also shifts Seoul, Taipei and Hanoi); Hong Kong, Macau
# and a few border strips still fall inside. Only a point *labelled* GCJ-02 is affected.
_CHINA = (
    (79.446200, 42.889900, 96.330000, 49.220400),
    (109.687200, 39.374200, 135.000200, 54.141500),
    (73.124600, 29.529700, 124.143255, 42.889900),
    (82.968400, 26.718600, 97.035200, 29.529700),
    (97.025300, 20.414096, 124.367395, 29.529700),
    (107.975793, 17.871542, 111.744104, 20.414096),
)
_NOT_CHINA = (
    (119.921265, 21.785006, 122.497559, 25.398623),  # Taiwan
    (101.865200, 20.098800, 106.665000, 22.284000),  # northern Laos and Vietnam
    (106.452500, 20.487800, 108.051000, 21.542200),  # Vietnam's coast
    (109.032300, 50.325700, 119.127000, 55.817500),  # Russia and Mongolia
    (127.456800, 49.557400, 137.022700, 55.817500),  # Russia (Amur)
    (131.266200, 42.569200, 137.022700, 44.892200),  # Russia (Primorye)
)


def _in_box(box: tuple[float, float, float, float], lat: float, lon: float) -> bool:
    west, south, east, north = box
    return west <= lon <= east and south <= lat <= north


def in_mainland_china(lat: float, lon: float) -> bool:
    """Whether GCJ-02 applies at this point (a rectangle approximation of the mainland)."""
    return any(_in_box(b, lat, lon) for b in _CHINA) and not any(
        _in_box(b, lat, lon) for b in _NOT_CHINA
    )


def _gcj_offset(lat: float, lon: float) -> tuple[float, float]:
    """GCJ-02 − WGS-84 at a WGS-84 point, in degrees (latitude, longitude)."""
    x, y = lon - 105.0, lat - 35.0
    pi = math.pi
    common = (20.0 * math.sin(6.0 * x * pi) + 20.0 * math.sin(2.0 * x * pi)) * 2.0 / 3.0
    d_lat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
    d_lat += common
    d_lat += (20.0 * math.sin(y * pi) + 40.0 * math.sin(y / 3.0 * pi)) * 2.0 / 3.0
    d_lat += (160.0 * math.sin(y / 12.0 * pi) + 320.0 * math.sin(y * pi / 30.0)) * 2.0 / 3.0
    d_lon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
    d_lon += common
    d_lon += (20.0 * math.sin(x * pi) + 40.0 * math.sin(x / 3.0 * pi)) * 2.0 / 3.0
    d_lon += (150.0 * math.sin(x / 12.0 * pi) + 300.0 * math.sin(x / 30.0 * pi)) * 2.0 / 3.0
    rad_lat = lat / 180.0 * pi
    magic = 1.0 - _GCJ_EE * math.sin(rad_lat) ** 2
    sqrt_magic = math.sqrt(magic)
    d_lat = (d_lat * 180.0) / ((_GCJ_A * (1.0 - _GCJ_EE)) / (magic * sqrt_magic) * pi)
    d_lon = (d_lon * 180.0) / (_GCJ_A / sqrt_magic * math.cos(rad_lat) * pi)
    return d_lat, d_lon


def wgs84_to_gcj02(lat: float, lon: float) -> tuple[float, float]:
    """WGS-84 → GCJ-02 (identity outside mainland China)."""
    if not in_mainland_china(lat, lon):
        return lat, lon
    d_lat, d_lon = _gcj_offset(lat, lon)
    return lat + d_lat, lon + d_lon


_INVERSE_STEPS = 20
_INVERSE_TOLERANCE_DEG = 1e-12  # about 0.1 µm


def gcj02_to_wgs84(lat: float, lon: float) -> tuple[float, float]:
    """GCJ-02 → WGS-84, the exact inverse (identity outside mainland China).

    Whether the transform applies is decided on the GCJ-02 point itself, as the forward
    direction's users do; the iteration then never switches it off half-way at a border.
    """
    if not in_mainland_china(lat, lon):
        return lat, lon
    w_lat, w_lon = lat, lon
    for _ in range(_INVERSE_STEPS):
        d_lat, d_lon = _gcj_offset(w_lat, w_lon)
        n_lat, n_lon = lat - d_lat, lon - d_lon
        done = (
            abs(n_lat - w_lat) < _INVERSE_TOLERANCE_DEG
            and abs(n_lon - w_lon) < _INVERSE_TOLERANCE_DEG
        )
        w_lat, w_lon = n_lat, n_lon
        if done:
            break
    return w_lat, w_lon


# --- distance ----------------------------------------------------------------------------

EARTH_MEAN_RADIUS_M = 6_371_008.8  # IUGG mean radius R1


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle (haversine) distance in metres on the mean-radius sphere.

    Differs from the WGS-84 ellipsoidal (geodesic) distance by about 0.5 % at worst —
    1.5 m across a 300 m fence, well under GPS accuracy — so no geodesy library is needed.
    """
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    d_phi = phi2 - phi1
    d_lambda = math.radians(lon2 - lon1)
    h = math.sin(d_phi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(d_lambda / 2) ** 2
    return 2 * EARTH_MEAN_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


# --- formatting --------------------------------------------------------------------------

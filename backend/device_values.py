"""Values a phone sends, typed and range-checked: what a number, an integer, a yes/no and a
short text may look like on the sync wire, defined once for every feature that takes
records from phones. Each check raises the caller's own error, built from (field, message),
so a bad value is that feature's quarantine reason."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

Invalid = Callable[[str, str], Exception]

# JavaScript's exact-integer limit: what a phone can mean, and what BIGINT stores.
MAX_INTEGER = 2**53 - 1
_TRUE = frozenset({"true", "1", "yes", "y"})
_FALSE = frozenset({"false", "0", "no", "n", ""})


def number(
    values: Mapping[str, Any], name: str, invalid: Invalid, *, optional: bool
) -> float | None:
    value = values.get(name)
    if value is None or value == "":
        if optional:
            return None
        raise invalid(name, "is required")
    if isinstance(value, bool):  # JSON true is not 1 here: a phone never means it so
        raise invalid(name, "must be a number")
    try:
        result = float(value)
    except (TypeError, ValueError, OverflowError) as exc:  # OverflowError: a 400-digit int
        raise invalid(name, "must be a number") from exc
    if not math.isfinite(result):
        raise invalid(name, "must be a finite number")
    return result


def integer(
    values: Mapping[str, Any], name: str, invalid: Invalid, *, optional: bool
) -> int | None:
    result = number(values, name, invalid, optional=optional)
    if result is None:
        return None
    if abs(result) > MAX_INTEGER:
        raise invalid(name, "is out of range")
    return int(result)


def flag(values: Mapping[str, Any], name: str, invalid: Invalid) -> bool:
    """A yes/no as SQLite-backed apps send it: a boolean, 0/1, or its text."""
    value = values.get(name)
    if value is None or isinstance(value, bool):
        return bool(value)
    if isinstance(value, int | float):
        return value != 0
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise invalid(name, "must be true or false")


def short_text(values: Mapping[str, Any], name: str, invalid: Invalid, limit: int) -> str | None:
    value = values.get(name)
    if value is None or value == "":
        return None
    text = str(value)
    if len(text) > limit:
        raise invalid(name, f"is longer than {limit} characters")
    return text


# 2020-01-01 UTC: a capture time before it is a phone with its clock unset, not a time.
MIN_EPOCH_MS = 1_577_836_800_000


def epoch_ms(values: Mapping[str, Any], name: str, invalid: Invalid) -> int:
    """A required device time in epoch milliseconds."""
    result = integer(values, name, invalid, optional=False)
    assert result is not None  # required
    if result < MIN_EPOCH_MS:
        raise invalid(name, "must be device epoch milliseconds")
    return result


def elapsed_ms(values: Mapping[str, Any], name: str, invalid: Invalid) -> int | None:
    """An optional duration in milliseconds (e.g. time since boot)."""
    result = integer(values, name, invalid, optional=True)
    if result is not None and result < 0:
        raise invalid(name, "must not be negative")
    return result


def position(
    values: Mapping[str, Any], invalid: Invalid, coord_systems: tuple[str, ...]
) -> dict[str, Any]:
    """Where a phone says it was: latitude, longitude, accuracy_m, coord_system (the first
    of ``coord_systems`` when none is named) and mock_location."""
    latitude = number(values, "latitude", invalid, optional=False)
    longitude = number(values, "longitude", invalid, optional=False)
    assert latitude is not None and longitude is not None  # required
    if not -90 <= latitude <= 90:
        raise invalid("latitude", "must be between -90 and 90")
    if not -180 <= longitude <= 180:
        raise invalid("longitude", "must be between -180 and 180")
    accuracy = number(values, "accuracy_m", invalid, optional=True)
    if accuracy is not None and accuracy < 0:
        raise invalid("accuracy_m", "must not be negative")
    coord_system = values.get("coord_system") or coord_systems[0]
    if coord_system not in coord_systems:
        raise invalid("coord_system", f"must be one of {', '.join(coord_systems)}")
    return {
        "latitude": latitude,
        "longitude": longitude,
        "accuracy_m": accuracy,
        "coord_system": coord_system,
        "mock_location": flag(values, "mock_location", invalid),
    }

"""What a phone may send as a number, an integer or a yes/no: anything else is the
feature's own error (its quarantine reason), never an exception that fails the push."""

from __future__ import annotations

from typing import Any

import pytest

from backend import device_values

pytestmark = pytest.mark.db_independent


class Bad(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")


@pytest.mark.parametrize("value", [10**400, "1e999", "nan", True, "x", [], {}], ids=repr)
def test_anything_but_a_finite_number_is_the_callers_error(value: Any) -> None:
    with pytest.raises(Bad):
        device_values.number({"n": value}, "n", Bad, optional=False)


def test_integers_stay_within_what_a_phone_can_mean() -> None:
    assert device_values.integer({"n": "1733000000000"}, "n", Bad, optional=False) == 1733000000000
    with pytest.raises(Bad, match="out of range"):
        device_values.integer({"n": 2**53}, "n", Bad, optional=False)
    assert device_values.integer({}, "n", Bad, optional=True) is None


@pytest.mark.parametrize(
    ("value", "meant"), [(1, True), ("yes", True), ("0", False), (None, False)]
)
def test_yes_or_no(value: Any, meant: bool) -> None:
    assert device_values.flag({"f": value}, "f", Bad) is meant

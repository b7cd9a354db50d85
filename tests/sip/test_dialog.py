"""One dialog's bookkeeping: the fixed-point text of its times, as float formatting writes it."""

from __future__ import annotations

import pytest

from hangup.sip.dialog import fixed_point

TIES = (2**20 + 2**-7, 2**20 + 3 * 2**-7)  # fractions ending in exactly 5 at the seventh digit: rounded half to even


@pytest.mark.parametrize("value", [
    1_700_000_000.0, 1_700_000_000.0005, 1_700_000_000.9999996, 1_700_000_000.123456789, *TIES,
    2**20, 2**52 - 0.5,  # the exact range, at both ends
    0.0005, 0.0015, 0.0025, 0.9995, 0.9999995, 2047.9995, 1.5, 0.5,  # differences of two times
    0.0, -0.0, -1.5, 0.1, 1e-7, 2**-33, 1e300, 2**52, float("inf"), float("nan"),  # formatted
])
@pytest.mark.parametrize("places", [1, 3, 6])
def test_fixed_point_is_the_formatted_text(value: float, places: int) -> None:
    assert fixed_point(value, places) == f"{value:.{places}f}"

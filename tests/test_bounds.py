"""The documented ranges of ``hangup.bounds``: inside, at the edges, outside, and the "not reported" value."""

from __future__ import annotations

import pytest

from hangup import bounds


@pytest.mark.parametrize(
    ("limits", "value", "valid"),
    [
        (bounds.TIME, 0, True),  # not reported
        (bounds.TIME, 1, True),
        (bounds.TIME, 4102444799, True),  # 2099-12-31T23:59:59Z
        (bounds.TIME, 4102444800, False),
        (bounds.TIME, -1, False),
        (bounds.DURATION, 604800, True),
        (bounds.DURATION, 604801, False),
        (bounds.DURATION, 2**63 - 1, False),
        (bounds.Q850, 0, True),
        (bounds.Q850, 127, True),
        (bounds.Q850, 128, False),
        (bounds.SIP, 99, False),
        (bounds.SIP, 100, True),
        (bounds.SIP, 699, True),
        (bounds.SIP, 700, False),
        (bounds.TERMINATE, 0, False),
        (bounds.CALL_END_REASON, 10000, False),
        (bounds.INTEGER, 2**53 + 1, False),
    ],
)
def test_each_range_accepts_exactly_its_values(limits: bounds.Bounds, value: int, valid: bool) -> None:
    error = limits.error(value)
    assert (error is None) is valid
    if error is not None:
        assert error.startswith("out of range") and str(limits.high) in error


@pytest.mark.parametrize(("value", "clamped"), [(-5, 0), (30, 30), (2**63 - 1, bounds.MAX_DURATION)])
def test_clamp_forces_a_value_into_the_range(value: int, clamped: int) -> None:
    assert bounds.DURATION.clamp(value) == clamped


@pytest.mark.parametrize(("text", "most", "value"), [
    ("16", 18, 16),
    ("0", 18, 0),
    ("9" * 18, 18, 10**18 - 1),
    ("9" * 19, 18, None),  # more digits than asked for
    ("9" * 5000, 18, None),  # int() itself refuses over 4300 digits (ValueError)
    ("\u00b2", 18, None),  # isdigit() takes a superscript that int() refuses
    ("\u0661\u0666", 18, None),  # another script's digits
    ("-1", 18, None),
    (" 16", 18, None),
    ("", 18, None),
])
def test_digits_reads_only_short_ascii_digit_strings(text: str, most: int, value: int | None) -> None:
    assert bounds.digits(text, most) == value

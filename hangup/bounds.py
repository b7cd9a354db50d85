"""The valid range of every number and time a call record carries, checked where data enters.

Callbacks come from the internet, so a value is accepted only inside the range its meaning allows;
outside it the request is refused (400 naming the field, kept in the quarantine) instead of being
stored and poisoning later arithmetic (a day's rollup sums, date formatting of the call log).

| Value | Range | Why |
|---|---|---|
| a time (Unix seconds) | 0, or 1970-01-01 … 2099-12-31T23:59:59Z | 0 is "not reported"; later is no real call |
| a duration (seconds) | 0 … 604,800 (7 days) | no platform keeps a call up longer; a day's sums stay far from 2**63 |
| a Q.850 cause | 1 … 127 (0 where a platform sends it for "none") | ITU-T Q.850 §2.2.5, the cause value is 7 bits |
| a SIP status | 100 … 699 (0 where a platform sends it for "none") | RFC 3261 §7.2, three digits, first 1–6 |
| Planet ``call_end_reason`` | 0 … 9999 | LINE Planet "Server release reason": four-digit detail codes |
| Planet ``terminate`` | 1 … 127 | LINE Planet: the simple release codes reuse Q.850 values |
| any other integer | 0 … 2**53 | exact in JSON doubles and storable on every back end |
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_TIME = 4102444799  # 2099-12-31T23:59:59Z
MAX_DURATION = 7 * 86400


@dataclass(frozen=True, slots=True)
class Bounds:
    """An inclusive integer range; ``absent`` is the one value outside it that means "not reported"."""

    low: int
    high: int
    what: str  # how an error message names the value
    absent: int | None = None

    def error(self, value: int) -> str | None:
        """``None`` when ``value`` is valid, else the message a field error carries."""
        if self.low <= value <= self.high or value == self.absent:
            return None
        return f"out of range: {self.what} is from {self.low} to {self.high}"

    def clamp(self, value: int) -> int:
        """``value`` forced into the range: for arithmetic over values stored before they were checked."""
        return min(max(value, self.low), self.high)


TIME = Bounds(1, MAX_TIME, "a time (Unix seconds, up to 2099-12-31)", absent=0)
DURATION = Bounds(0, MAX_DURATION, "a duration in seconds (at most 7 days)")
Q850 = Bounds(1, 127, "a Q.850 cause", absent=0)
SIP = Bounds(100, 699, "a SIP status", absent=0)
CALL_END_REASON = Bounds(0, 9999, "a Planet call_end_reason")
TERMINATE = Bounds(1, 127, "a Planet terminate code (Q.850 values)")
INTEGER = Bounds(0, 2**53, "an integer")


def digits(text: str, most: int = 18) -> int | None:
    """The value of ``text`` when it is 1 to ``most`` ASCII digits, else ``None``.

    Text from outside is read through this instead of ``isdigit()`` then ``int()``: ``isdigit()`` takes
    superscripts ("²") that ``int()`` refuses, and ``int()`` refuses more than 4300 digits (ValueError).
    """
    return int(text) if 0 < len(text) <= most and text.isascii() and text.isdigit() else None

__all__ = ["CALL_END_REASON", "DURATION", "INTEGER", "MAX_DURATION", "MAX_TIME", "Q850", "SIP", "TERMINATE",
           "TIME", "Bounds", "digits"]

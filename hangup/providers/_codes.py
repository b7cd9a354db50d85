"""Which numbers a platform reports are real protocol codes.

Platforms fill code fields loosely: Telnyx's ``sip_hangup_cause`` sometimes holds a Q.850 cause
("16"), a CDR may carry ``0`` for "no response". A reported code is kept only when it lies in its
protocol's range (``hangup.bounds``: SIP statuses 100–699, RFC 3261 §7.2; Q.850 causes 1–127, ITU-T
Q.850 §2.2.5) — so the record never states a SIP status that no SIP message carried. Unlike a field a
payload must get right, an out-of-range code here is not refused: it stays in ``extra`` as sent.
"""

from __future__ import annotations

from hangup import bounds

SIP_RANGE = range(bounds.SIP.low, bounds.SIP.high + 1)
Q850_RANGE = range(bounds.Q850.low, bounds.Q850.high + 1)


def _number(value: object) -> int | None:
    text = str(value).strip() if value is not None else ""
    return bounds.digits(text)


def sip_status(value: object) -> int | None:
    """The SIP status in ``value``, or ``None`` when it is absent or not a SIP status."""
    number = _number(value)
    return number if number is not None and number in SIP_RANGE else None


def q850_cause(value: object) -> int | None:
    """The Q.850 cause value in ``value``, or ``None`` when it is absent or out of range."""
    number = _number(value)
    return number if number is not None and number in Q850_RANGE else None


__all__ = ["q850_cause", "sip_status"]

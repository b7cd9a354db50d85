"""The LINE Planet call-event callback (``on_call_evt_cb``) as hangup emits it.

Keys, order and types follow the LINE Planet API specification, "Server Callback: Call Event": an HTTP GET to the
application's URL with exactly these 19 query keys. The nullable keys (``stid``, ``user_rel_code``) are sent with an
empty value when absent, so a receiver always sees all 19.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode

import msgspec

# The receiver's definition of the specification's keys serves both sides.
from hangup.providers import planet

CALLBACK_KEYS: tuple[str, ...] = planet.KEYS
NULLABLE = planet.NULLABLE


class CallEvent(msgspec.Struct, kw_only=True, frozen=True):
    """One call-event callback: the 19 values the receiver gets."""

    sid: str
    from_service_id: str
    from_user_id: str
    to_service_id: str
    to_user_id: str
    type: str  # "A" audio, "V" video
    stid: str | None
    setup_time: int
    start_time: int  # 0 = never answered
    end_time: int
    duration: int  # end_time - start_time; 0 for a failed call
    srcip: str
    dstip: str
    call_end_reason: int  # 1000-1100
    terminate: int  # simple Q.850 subset: 16, 77, 21, 17, 18, 127
    releaser: str  # "initiator", "responder" or the releasing server's hostname
    rel_code: int  # hangup debug code (data/rel_codes.csv) or the final SIP status
    rel_code_str: str
    user_rel_code: str | None

    def to_params(self) -> list[tuple[str, str]]:
        """The query parameters in the specification's order, every value a string."""
        return [(key, _text(getattr(self, key))) for key in CALLBACK_KEYS]

    def to_query(self) -> str:
        return urlencode(self.to_params())


def _text(value: object) -> str:
    return "" if value is None else str(value)


def event_from_query(query: str) -> CallEvent:
    """Parse a query string written by ``CallEvent.to_query`` (used by tests and the outbox listing)."""
    params = dict(parse_qsl(query, keep_blank_values=True))
    return msgspec.convert(
        {k: (params.get(k) or None) if k in NULLABLE else params.get(k, "") for k in CALLBACK_KEYS},
        type=CallEvent,
        strict=False,
    )

"""What statistics can be broken down and filtered by.

Ordinary dimensions have a few dozen values and are kept at every bucket level. Route dimensions (the
route, destination and origin country, destination prefix) can have thousands: they are kept at every
level too, but with at most ``cap`` values per UTC day each; later new values of that day are counted
under ``OTHER`` (``hangup.stats.fold``). "Top" dimensions
(users, destinations, IP pairs) can have millions of values, so they are kept per UTC day and only
for failed calls: they answer "who fails most", not "who calls most".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from hangup.errors import PayloadError
from hangup.records import CallRecord

#: The dimension of the grand total (every call).
ALL = ""


def _text(value: int | str | None) -> str:
    return "" if value is None else str(value)


def service_of(record: CallRecord) -> str:
    """The calling service, else the called one (Planet calls carry both; most platforms neither)."""
    return record.from_service_id or record.to_service_id


@dataclass(frozen=True, slots=True)
class Dimension:
    """A field calls are grouped by: its id, a label and how to read it from a record."""

    id: str
    label: str
    key: Callable[[CallRecord], str]
    top: bool = False  # high cardinality: per day, failed calls only
    cap: int = 0  # most distinct values kept per UTC day (more fold into OTHER); 0 = no limit


_DIMENSIONS: tuple[Dimension, ...] = (
    Dimension("outcome", "Outcome", lambda r: r.outcome),
    Dimension("call_end_reason", "Call end reason", lambda r: _text(r.call_end_reason)),
    Dimension("terminate", "Terminate", lambda r: _text(r.terminate)),
    Dimension("cause", "Cause", lambda r: r.cause),
    Dimension("ended_by", "Ended by", lambda r: r.ended_by),
    Dimension("fault", "Fault", lambda r: r.fault),
    Dimension("call_type", "Call type", lambda r: r.call_type),
    Dimension("direction", "Direction", lambda r: r.direction),
    Dimension("service", "Service", service_of),
    Dimension("provider", "Provider", lambda r: r.provider),
    Dimension("route", "Route", lambda r: r.route, cap=2000),
    Dimension("destination_country", "Destination country", lambda r: r.to_country, cap=300),
    Dimension("destination_prefix", "Destination prefix", lambda r: r.to_prefix, cap=2000),
    Dimension("origin_country", "Origin country", lambda r: r.from_country, cap=300),
    Dimension("user", "Caller", lambda r: r.from_user_id, top=True),
    Dimension("destination", "Callee", lambda r: r.to_user_id, top=True),
    Dimension("ip_pair", "IP pair", lambda r: f"{r.srcip}>{r.dstip}", top=True),
)

#: The value rare values of a capped dimension are counted under, once its day holds ``cap`` values.
OTHER = "(other)"
#: Route and destination dimensions: what ``/routes`` and ``hangup stats routes`` show.
ROUTE_DIMENSIONS: tuple[str, ...] = ("route", "destination_country", "destination_prefix", "origin_country")

#: Every dimension by id, in display order.
DIMENSIONS: dict[str, Dimension] = {d.id: d for d in _DIMENSIONS}
#: Dimensions kept at every level for every call.
BREAKDOWNS: tuple[str, ...] = tuple(d.id for d in _DIMENSIONS if not d.top)
#: Dimensions kept per day for failed calls.
TOPS: tuple[str, ...] = tuple(d.id for d in _DIMENSIONS if d.top)
#: Dimensions with a per-day cap on their values, and the cap.
CAPS: dict[str, int] = {d.id: d.cap for d in _DIMENSIONS if d.cap}


class UnknownDimension(PayloadError):
    error_id = "unknown_dimension"


def get_dimension(dim_id: str, field: str = "by") -> Dimension:
    try:
        return DIMENSIONS[dim_id]
    except KeyError:
        valid = ", ".join(DIMENSIONS)
        raise UnknownDimension(
            f"unknown dimension {dim_id!r}; valid: {valid}", [{"field": field, "error": f"must be one of: {valid}"}]
        ) from None

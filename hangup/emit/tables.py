"""The emitter's code tables, loaded once from ``hangup/emit/data/*.csv``.

``release.csv``: (how, party) -> LINE Planet ``call_end_reason`` (LINE Planet API specification, "Server release
reason"). ``rel_codes.csv``: hangup's own debug release codes (``rel_code``/``rel_code_str``). ``sip_release.csv``:
final SIP response -> release method (RFC 3398 §8.2.6.1 meanings). Each file cites its source in its comment lines.
"""

from __future__ import annotations

import csv
import functools
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from types import MappingProxyType
from typing import Literal

from hangup.emit.facts import ReleaseMethod

When = Literal["before", "after", "any"]
ANY_PARTY = "*"


@dataclass(frozen=True, slots=True)
class ReleaseRule:
    """One row of ``release.csv``."""

    how: ReleaseMethod
    party: str  # "caller", "callee" or "*"
    call_end_reason: int
    when: When


@dataclass(frozen=True, slots=True)
class RelCode:
    """One row of ``rel_codes.csv``: a hangup debug release code."""

    code: int
    name: str
    how: ReleaseMethod
    description: str


@dataclass(frozen=True, slots=True)
class EmitTables:
    """All three tables as dict lookups."""

    release: Mapping[tuple[ReleaseMethod, str], ReleaseRule]
    rel_codes: Mapping[ReleaseMethod, RelCode]
    sip: Mapping[str, ReleaseMethod]  # "486" or a class key "4xx"


def _rows(name: str) -> list[dict[str, str]]:
    text = resources.files("hangup.emit.data").joinpath(name).read_text(encoding="utf-8")
    body = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    return list(csv.DictReader(body))


@functools.cache
def emit_tables() -> EmitTables:
    release = {
        (ReleaseMethod(r["how"]), r["party"]): ReleaseRule(
            ReleaseMethod(r["how"]), r["party"], int(r["call_end_reason"]), _when(r["when"])
        )
        for r in _rows("release.csv")
    }
    rel_codes = {
        ReleaseMethod(r["how"]): RelCode(int(r["code"]), r["name"], ReleaseMethod(r["how"]), r["description"])
        for r in _rows("rel_codes.csv")
    }
    sip = {r["sip"]: ReleaseMethod(r["how"]) for r in _rows("sip_release.csv")}
    return EmitTables(MappingProxyType(release), MappingProxyType(rel_codes), MappingProxyType(sip))


def _when(value: str) -> When:
    try:
        return _WHEN[value]
    except KeyError:
        raise ValueError(f"release.csv: bad 'when' value {value!r}") from None


_WHEN: Mapping[str, When] = {"before": "before", "after": "after", "any": "any"}

"""One RFC 3326 ``Reason`` header value: ``Q.850;cause=17;text="User busy"`` or ``SIP;cause=487``.

A BYE, a CANCEL or a final response may carry several (repeated or comma-joined, split by
``hangup.sip.message.split_list``); each says which protocol's cause ended the call and names it with the
catalog reference the classifier resolves (``q850:17``, ``sip:487``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from hangup.bounds import digits

_PARAM: Final = re.compile(r';\s*([A-Za-z0-9_.!%*+`\'~-]+)\s*(?:=\s*("(?:[^"\\]|\\.)*"|[^;]*))?')


@dataclass(frozen=True, slots=True)
class Reason:
    """One RFC 3326 ``Reason`` value: protocol (``Q.850``, ``SIP``), its cause and text."""

    protocol: str  # as written, e.g. "Q.850", "SIP", "X.int"
    cause: int | None  # the cause parameter; None when absent or not a number
    text: str  # the text parameter, unquoted; "" when absent

    @property
    def ref(self) -> str | None:
        """The catalog reference of this reason (``q850:17``, ``sip:487``), when it has one."""
        if self.cause is None:
            return None
        scheme = {"Q.850": "q850", "SIP": "sip"}.get(self.protocol.upper())
        return f"{scheme}:{self.cause}" if scheme else None

    def __str__(self) -> str:
        text = f';text="{self.text}"' if self.text else ""
        return f"{self.protocol};cause={self.cause if self.cause is not None else ''}{text}"


def parse_reason(value: str) -> Reason:
    """One ``Reason`` value (``Q.850;cause=16;text="Normal call clearing"``); a bad cause becomes ``None``."""
    protocol, _, rest = value.partition(";")
    cause: int | None = None
    text = ""
    for match in _PARAM.finditer(";" + rest):
        name, raw = match.group(1).lower(), (match.group(2) or "").strip()
        if name == "cause" and (code := digits(raw, 4)) is not None:
            cause = code
        elif name == "text":
            text = raw[1:-1].replace('\\"', '"') if raw.startswith('"') and raw.endswith('"') else raw
    return Reason(protocol.strip(), cause, text)

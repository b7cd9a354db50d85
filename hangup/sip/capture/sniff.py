"""Is this SIP? The cheap test of a payload's first line, and where a message ends in a stream.

A request line is ``METHOD SP Request-URI SP SIP/2.0`` and a status line ``SIP/2.0 SP code SP
reason`` (RFC 3261 §7.1, §7.2), so the first line alone tells SIP from RTP, DNS or HTTP on any port.
Over a stream, a message ends ``Content-Length`` bytes after the blank line (§18.3); its compact
form is ``l`` (§7.3.3). The blank line is the first empty line whether lines end in CRLF or in LF alone
(§7.5; hepgen.js and some stacks write LF), found by ``message.head_end`` as ``message.parse`` finds it.
"""

from __future__ import annotations

import re

from hangup.sip.message import head_end

STATUS_PREFIX = b"SIP/2.0 "
#: The longest first line looked at: Request-URIs are short, and an unbounded search is not cheap.
MAX_FIRST_LINE = 1024
_REQUEST_LINE = re.compile(rb"[A-Z][A-Z-]{1,31} [^ \r\n]+ SIP/2\.0\r?\n")
_START = re.compile(rb"(?m)^(?:SIP/2\.0 \d{3} |[A-Z][A-Z-]{1,31} [^ \r\n]+ SIP/2\.0\r?$)")
_CONTENT_LENGTH = re.compile(rb"(?im)^(?:content-length|l)[ \t]*:[ \t]*(\d+)")


def looks_like_sip(payload: bytes) -> bool:
    """Whether ``payload`` starts with a SIP request or status line."""
    if payload.startswith(STATUS_PREFIX):
        return True
    return _REQUEST_LINE.match(payload, 0, MAX_FIRST_LINE) is not None


def next_start(buffer: bytes | bytearray, start: int = 0) -> int:
    """Where the next line that opens a SIP message begins at or after ``start``; -1 if none."""
    found = _START.search(buffer, start)
    return found.start() if found else -1


def message_length(buffer: bytes | bytearray) -> int | None:
    """The length of the SIP message at the start of ``buffer``, or None until its end is in.

    A message without ``Content-Length`` ends at the blank line (the header is mandatory over
    streams, so its absence means an empty body).
    """
    ends = head_end(buffer)
    if ends is None:
        return None
    end, body = ends
    found = _CONTENT_LENGTH.search(buffer, 0, end)
    total = body + (int(found.group(1)) if found else 0)
    return total if len(buffer) >= total else None

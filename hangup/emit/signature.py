"""The optional HMAC-SHA256 signature of an emitted callback.

Header ``X-Hangup-Signature: t=<unix seconds>,v1=<hex>`` where ``hex`` is
``HMAC-SHA256(secret, f"{t}.{query}")`` and ``query`` is the raw query string exactly as sent (everything after
``?``). Signing the query rather than the whole URL keeps the signature valid behind proxies that rewrite the
host or path; the timestamp lets a receiver refuse old replays.
"""

from __future__ import annotations

import hashlib
import hmac

from hangup.bounds import digits

SIGNATURE_HEADER = "X-Hangup-Signature"
DEFAULT_TOLERANCE = 300  # seconds a receiver accepts between the signature time and its own clock


def sign(secret: str, query: str, timestamp: int) -> str:
    """The header value for ``query`` signed at ``timestamp``."""
    digest = hmac.new(secret.encode(), f"{timestamp}.{query}".encode(), hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify(secret: str, query: str, header: str, now: int, tolerance: int = DEFAULT_TOLERANCE) -> bool:
    """True when ``header`` signs ``query`` with ``secret`` and its time is within ``tolerance`` of ``now``."""
    parts = dict(item.split("=", 1) for item in header.split(",") if "=" in item)
    timestamp = parts.get("t", "")
    seconds = digits(timestamp)
    if seconds is None or abs(now - seconds) > tolerance:
        return False
    expected = sign(secret, query, seconds).split("v1=", 1)[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))

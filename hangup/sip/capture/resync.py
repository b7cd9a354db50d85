"""Finding the next record after a corrupt one, as pcapfix does, instead of giving the file up.

A record header with an impossible length (a capture cut by a crash and appended to, a disk error)
would make every later header wrong. The bytes after it are searched, at most ``MAX_SKIP`` of them,
for a place where a record plausibly starts: a libpcap header whose lengths and time fit and whose
successor's do too, or a pcapng block whose length is repeated at its end (draft-ietf-opsawg-pcapng
§3.1). The search looks for a marker with ``bytes.find`` (the high bytes of the last good time, the
block type), so a large skip costs little.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import IO

MAX_SKIP = 4 * 1024 * 1024
CHUNK = 256 * 1024
MAX_ORIGINAL = 16 * 1024 * 1024  # a frame's length on the wire, as far as any link goes
MAX_CLOCK_JUMP = 86_400  # seconds between neighbouring records, at most

#: check(window, position, at_end) → True/False, or None to be asked again with more bytes.
Check = Callable[[bytearray, int, bool], "bool | None"]


class Pushback:
    """A byte stream that takes back what a search read past the next record."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream
        self._back = b""

    def read(self, size: int) -> bytes:
        if not self._back:
            return self._stream.read(size)
        head, self._back = self._back[:size], self._back[size:]
        return head + self._stream.read(size - len(head)) if len(head) < size else head

    def unread(self, data: bytes) -> None:
        self._back = data + self._back


def skip_to(stream: Pushback, seen: bytes, marker: bytes, marker_at: int, check: Check) -> int | None:
    """Bytes from the start of ``seen`` to the next plausible record (the stream is left there), or None."""
    window, search, at_end = bytearray(seen), 1 + marker_at, False
    while True:
        found = window.find(marker, search)
        verdict = check(window, found - marker_at, at_end) if found >= 0 else None
        if verdict:
            stream.unread(bytes(window[found - marker_at:]))
            return found - marker_at
        if verdict is False:
            search = found + 1
            continue
        if at_end or len(window) > MAX_SKIP:
            return None
        if found < 0:
            search = max(search, len(window) - len(marker) + 1)
        more = stream.read(CHUNK)
        at_end = not more
        window += more


def time_marker(order: str, second: int) -> tuple[bytes, int]:
    """The high two bytes of a record's seconds as the file stores them, and their place in the header."""
    packed = struct.pack(order + "I", second)
    return (packed[2:], 2) if order == "<" else (packed[:2], 0)


def pcap_check(order: str, divisor: float, last_second: int) -> Check:
    """A libpcap record header at the position, and another where it ends (or the file ends there)."""

    def plausible(window: bytearray, position: int) -> bool:
        second, fraction, captured, original = struct.unpack_from(order + "IIII", window, position)
        return bool(captured <= min(original, MAX_ORIGINAL) and fraction < divisor
                    and abs(second - last_second) <= MAX_CLOCK_JUMP)

    def check(window: bytearray, position: int, at_end: bool) -> bool | None:
        if position < 0 or len(window) < position + 16:
            return False if position < 0 or at_end else None
        if not plausible(window, position):
            return False
        end = position + 16 + struct.unpack_from(order + "I", window, position + 8)[0]
        if len(window) < end + 16:
            return end == len(window) if at_end else None
        return plausible(window, end)

    return check


def pcapng_check(order: str, max_block: int) -> Check:
    """A pcapng block at the position: a sane length, repeated in its last four bytes."""

    def check(window: bytearray, position: int, at_end: bool) -> bool | None:
        if position < 0 or len(window) < position + 8:
            return False if position < 0 or at_end else None
        length = struct.unpack_from(order + "I", window, position + 4)[0]
        if length < 12 or length % 4 or length > max_block:
            return False
        if len(window) < position + length:
            return False if at_end else None
        return bool(struct.unpack_from(order + "I", window, position + length - 4)[0] == length)

    return check

"""SIP over TCP and over WebSocket: byte streams back into messages, with bounded buffers.

Each direction of a TCP connection is a flow. Segments are put in sequence order (a retransmitted
or overlapping segment adds only its new bytes; one that arrives early waits, at most ``MAX_AHEAD``
of them and ``MAX_BUFFER`` bytes); messages are then cut at ``Content-Length``
(``sniff.message_length``), so a message split over segments and several messages in one segment
both come out whole.

A head, SIP or HTTP, ends at its first empty line whether its lines end in CRLF or LF alone
(``message.head_end``; RFC 3261 §7.5, RFC 9112 §2.2 let a receiver take a bare LF).

A flow whose first bytes are an HTTP ``GET`` with ``Upgrade: websocket``, or the ``101`` answer to
one, carries SIP over WebSocket (RFC 7118): after the HTTP head, each WebSocket message (frames
parsed by the ``websockets`` library, client frames unmasked) is one SIP message.

A flow seen from its middle (the capture started during the connection), or one whose buffer
passes ``MAX_BUFFER`` without a complete message, or a gap that never fills, is resynchronised at
the next SIP start line; the bytes skipped are a ``Malformed`` region. At most ``MAX_FLOWS`` flows
are followed, the least recently active forgotten first.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field

from websockets.exceptions import PayloadTooBig, ProtocolError
from websockets.frames import Frame, Opcode
from websockets.streams import StreamReader

from hangup.sip.capture.files import Malformed
from hangup.sip.capture.layers import Segment
from hangup.sip.capture.sniff import MAX_FIRST_LINE, looks_like_sip, message_length, next_start
from hangup.sip.message import head_end
from hangup.sip.packet import Packet

MAX_BUFFER = 64 * 1024  # bytes held per flow, and again past a gap: real SIP messages are a few KiB
MAX_AHEAD = 64  # segments held past a gap
#: Flows followed at once; with the two buffers this bounds what streams hold to about 256 MiB even
#: for a capture built to exhaust it. A forgotten flow that speaks again is joined like a new one.
MAX_FLOWS = 2048
MAX_SEARCH = 64 * 1024  # bytes of a flow joined mid-connection searched for a SIP start line
SYN, FIN, RST = 0x02, 0x01, 0x04
_SEQ = 1 << 32
_WS_UPGRADE = re.compile(rb"(?im)^upgrade[ \t]*:[ \t]*websocket")


@dataclass(slots=True)
class _WebSocket:
    """The frame parser of one WebSocket direction and the message being assembled from its frames."""

    masked: bool  # client → server frames are masked (RFC 6455 §5.3)
    reader: StreamReader = field(default_factory=StreamReader)
    parser: Generator[None, None, Frame] | None = None
    parts: list[bytes] = field(default_factory=list)


@dataclass(slots=True)
class _Flow:
    next_seq: int | None = None  # the sequence number of the next byte expected
    buffer: bytearray = field(default_factory=bytearray)
    ahead: dict[int, bytes] = field(default_factory=dict)  # early segments by sequence number
    synced: bool = False  # the buffer starts at a message boundary
    sip: bool = False  # SIP (or a WebSocket upgrade) was seen in this flow
    ignored: bool = False  # another protocol: its bytes are dropped as they come
    websocket: _WebSocket | None = None


class Streams:
    """Follows TCP flows and answers the SIP messages each segment completes."""

    def __init__(self) -> None:
        self._flows: OrderedDict[str, _Flow] = OrderedDict()
        self.forgotten = 0  # flows dropped to keep MAX_FLOWS

    def add(self, segment: Segment) -> Iterator[Packet | Malformed]:
        key = segment.flow()
        flow = self._flows.get(key)
        if flow is None:
            flow = self._flows[key] = _Flow()
            if len(self._flows) > MAX_FLOWS:
                self._flows.popitem(last=False)
                self.forgotten += 1
        else:
            self._flows.move_to_end(key)
        if segment.flags & SYN:
            flow.next_seq, flow.synced = (segment.seq + 1) % _SEQ, True
            flow.buffer.clear()
            flow.ahead.clear()
        if segment.payload:
            yield from self._place(flow, segment)
            yield from self._drain(flow, segment)
        if segment.flags & (FIN | RST):
            yield from self._close(key, flow)

    def close(self) -> Iterator[Malformed]:
        """The end of the capture: what each flow still holds is an incomplete message."""
        for key, flow in list(self._flows.items()):
            yield from self._close(key, flow)

    def _place(self, flow: _Flow, segment: Segment) -> Iterator[Malformed]:
        if flow.next_seq is None:
            flow.next_seq = segment.seq  # joined mid-connection: the first bytes seen start the stream
        flow.ahead[segment.seq] = segment.payload
        _take_ahead(flow)
        if len(flow.ahead) > MAX_AHEAD or sum(map(len, flow.ahead.values())) > MAX_BUFFER:
            # a gap that never filled: give the missing bytes up and go on
            if flow.buffer:
                yield Malformed("tcp", "bytes missing from the capture; partial message dropped",
                                bytes(flow.buffer), segment.flow())
            start = flow.next_seq
            flow.next_seq = min(flow.ahead, key=lambda seq: (seq - start) % _SEQ)
            flow.buffer.clear()
            flow.synced = False
            _take_ahead(flow)

    def _drain(self, flow: _Flow, segment: Segment) -> Iterator[Packet | Malformed]:
        if not flow.sip:
            _recognise(flow)
        if flow.ignored:
            flow.buffer.clear()
            return
        if flow.websocket is None and bytes(flow.buffer[:4]) in (b"GET ", b"HTTP") and _is_upgrade(flow.buffer):
            ends = head_end(flow.buffer)
            if ends is None:
                return
            masked = flow.buffer.startswith(b"GET ")
            del flow.buffer[:ends[1]]
            flow.websocket, flow.synced = _WebSocket(masked), True
        if flow.websocket is not None:
            yield from _frames(flow, segment)
            return
        yield from _messages(flow, segment)

    def _close(self, key: str, flow: _Flow) -> Iterator[Malformed]:
        leftover = bytes(flow.buffer).strip(b"\r\n")
        self._flows.pop(key, None)
        # only a SIP flow can end inside a message: one still undecided (a binary protocol's few bytes
        # with no line end, a flow joined mid-connection with no start line yet) held no SIP
        if leftover and flow.sip:
            yield Malformed("tcp", "connection ended inside a message", leftover, key)


def _recognise(flow: _Flow) -> None:
    """Decide from a flow's first bytes whether it carries SIP: content decides, not the port.

    A flow followed from its SYN must start with SIP, CRLF keep-alives or an HTTP upgrade; one
    joined in its middle may start inside a message, so its first SIP start line is looked for
    (the bytes before it are the tail of a message the capture missed, not an error).
    """
    buffer = flow.buffer
    text = bytes(buffer[:MAX_FIRST_LINE]).lstrip(b"\r\n")
    if bytes(buffer[:4]) in (b"GET ", b"HTTP"):
        if head_end(buffer) is not None:
            flow.sip = _is_upgrade(buffer)
            flow.ignored = not flow.sip
        return
    if looks_like_sip(text):
        flow.sip = True
    elif flow.synced:
        flow.ignored = not _first_line_pending(text)
    else:
        start = next_start(buffer)
        if start >= 0:
            del buffer[:start]
            flow.sip = flow.synced = True
        else:
            flow.ignored = len(buffer) > MAX_SEARCH


def _first_line_pending(text: bytes) -> bool:
    """Whether a start line may still be arriving: no line end yet, and short enough to be one."""
    return b"\n" not in text and len(text) < MAX_FIRST_LINE


def _take_ahead(flow: _Flow) -> None:
    """Append every held segment that starts at or before the next expected byte, in order."""
    while flow.next_seq is not None:
        expected = flow.next_seq
        found = next((seq for seq in flow.ahead if (expected - seq) % _SEQ < _SEQ // 2), None)
        if found is None:
            return
        payload = flow.ahead.pop(found)
        skip = (expected - found) % _SEQ  # bytes already in: a retransmission or an overlap
        if skip < len(payload):
            flow.buffer += payload[skip:]
            flow.next_seq = (found + len(payload)) % _SEQ


def _is_upgrade(buffer: bytearray) -> bool:
    ends = head_end(buffer)
    return _WS_UPGRADE.search(buffer, 0, ends[0] if ends else len(buffer)) is not None


def _messages(flow: _Flow, segment: Segment) -> Iterator[Packet | Malformed]:
    buffer = flow.buffer
    while buffer:
        start = _message_start(flow)
        if start < 0:
            if len(buffer) > MAX_BUFFER:
                yield Malformed("tcp", "no SIP message in the stream", bytes(buffer[:MAX_BUFFER]), segment.flow())
                buffer.clear()
            return
        if start:
            if buffer[:start].strip(b"\r\n"):  # CRLF keep-alives (RFC 5626 §4.4.1) are not garbage
                yield Malformed("tcp", "bytes that are not SIP skipped", bytes(buffer[:start]),
                                segment.flow())
            del buffer[:start]
        length = message_length(buffer)
        if length is None:
            if len(buffer) > MAX_BUFFER:
                yield Malformed("tcp", f"message longer than {MAX_BUFFER} bytes", bytes(buffer[:MAX_BUFFER]),
                                segment.flow())
                buffer.clear()
                flow.synced = False
            return
        yield _packet(segment, "tcp", bytes(buffer[:length]))
        del buffer[:length]
        flow.synced = True


def _message_start(flow: _Flow) -> int:
    """Where the next message starts: at once when in step, else at the next SIP start line."""
    buffer = flow.buffer
    if flow.synced:
        skip = len(buffer) - len(buffer.lstrip(b"\r\n"))
        text = bytes(buffer[skip:skip + MAX_FIRST_LINE])
        if looks_like_sip(text):
            return skip
        if _first_line_pending(text):
            return -1
        flow.synced = False
    return next_start(buffer)


def _frames(flow: _Flow, segment: Segment) -> Iterator[Packet | Malformed]:
    socket = flow.websocket
    assert socket is not None
    socket.reader.feed_data(bytes(flow.buffer))
    flow.buffer.clear()
    while True:
        if socket.parser is None:
            socket.parser = Frame.parse(socket.reader.read_exact, mask=socket.masked, max_size=MAX_BUFFER)
        try:
            next(socket.parser)
            return  # the frame is not all in yet
        except StopIteration as done:
            frame: Frame = done.value
        except (ProtocolError, PayloadTooBig, EOFError) as exc:
            yield Malformed("websocket", f"unreadable frame: {exc}"[:200], bytes(socket.reader.buffer[:4096]),
                            segment.flow())
            socket.reader.discard()
            socket.parser, socket.parts = None, []
            return
        socket.parser = None
        if frame.opcode in (Opcode.TEXT, Opcode.BINARY, Opcode.CONT):
            socket.parts.append(bytes(frame.data))
            if frame.fin:
                message, socket.parts = b"".join(socket.parts), []
                if looks_like_sip(message.lstrip(b"\r\n")):
                    yield _packet(segment, "ws", message)


def _packet(segment: Segment, transport: str, payload: bytes) -> Packet:
    return Packet(segment.time, segment.src, segment.sport, segment.dst, segment.dport, transport, payload)

"""The HEP listener of ``hangup serve --hep HOST:PORT``: mirrored SIP in, classified calls into the store.

One asyncio UDP endpoint (HEP v1, v2, v3: one packet per datagram) and one TCP server (HEP3 frames
back to back, each carrying its length) on the same address feed one ``DialogEngine``. Each finished
call is stored with ``await store.add(record)`` by a single writer task, so the event loop never waits
on a commit; the engine is expired every second.

Bad input never stops the listener: a datagram or frame that is not HEP, or whose payload is not SIP, is
counted and kept in the quarantine (``provider`` ``hep``, ``client`` its source address, ``body`` its bytes),
at most ``QUARANTINE_PER_MINUTE`` a minute so a flood cannot fill the store. A packet whose capture
password is wrong is counted and dropped (``HANGUP_HEP_PASSWORD``). A TCP stream that stops being HEP3
is quarantined and its connection closed, since its framing is lost.

Restarts: the open dialogs are written to ``HANGUP_HEP_STATE`` (every ``SNAPSHOT_EVERY`` seconds and at
shutdown) and read back at start, so a call in progress across a clean restart keeps its verdict. What
is lost is bounded: HEP is fire-and-forget, so messages sent while hangup is down are gone (a call whose
BYE was among them is closed as orphaned); after a crash, dialogs opened since the last snapshot are lost
and a call finished since then may be stored again as orphaned, which the store keeps as a conflict of
the first version.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import pickle
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from hmac import compare_digest
from typing import Any, Protocol

from hangup.errors import PayloadError
from hangup.records import CallRecord
from hangup.settings import Settings, listen_address
from hangup.sip import metrics, state
from hangup.sip.dialogs import DialogEngine
from hangup.sip.hep import SIP, HepError, decode, frame_length
from hangup.sip.message import SipParseError
from hangup.store.base import QuarantineEntry, Store

log = logging.getLogger("hangup.sip")

QUARANTINE_PER_MINUTE = 100
SNAPSHOT_EVERY = 30.0
EXPIRE_EVERY = 1.0
MAX_BODY = 64 * 1024
_STATE_VERSION = 2  # 2: a dialog keeps its proxy's branches (hangup.sip.proxy); a version-1 file is ignored


@dataclass(slots=True)
class HepStats:
    """What the listener has received, for logs and tests."""

    counts: Counter[str] = field(default_factory=Counter)  # packets, calls, malformed, not_sip, unauthorized …

    def __getitem__(self, key: str) -> int:
        return self.counts[key]


class HepListener:
    """Decodes HEP, follows dialogs and queues finished calls and rejects for the writer task."""

    def __init__(self, store: Store, *, address: str, password: str = "", state_path: str = "",
                 engine: DialogEngine | None = None) -> None:
        self.store = store
        self.address = address
        self.password = password
        self.state_path = state_path
        self.engine = engine or DialogEngine()
        self.stats = HepStats()
        self._queue: asyncio.Queue[CallRecord | QuarantineEntry | None] = asyncio.Queue()
        self._minute, self._quarantined = 0, 0
        self.skew = 0.0  # the sender's clock minus ours, from the latest packet (see ``expire``)

    # -- input ------------------------------------------------------------------------------
    def datagram(self, data: bytes, source: str, transport: str = "udp") -> None:
        """One HEP packet from ``source`` ("ip:port"); never raises."""
        self.stats.counts["packets"] += 1
        received = time.time()
        try:
            hep = decode(data, received)
        except HepError as exc:
            self.reject(data, source, transport, "not HEP", exc)
            return
        if self.password and not compare_digest(hep.password.encode(), self.password.encode()):
            self._count("unauthorized")
            return
        if hep.protocol_type != SIP:
            self._count("not_sip")
            return
        packet = hep.packet
        if packet.time <= 0:  # a sender that puts in no time chunks: the time of receipt
            packet = packet._replace(time=received)
        self.skew = packet.time - received
        try:
            records = self.engine.feed(packet)
        except SipParseError as exc:
            self.reject(data, source, transport, "not a SIP message", exc)
            return
        metrics.SIP_PACKETS.inc()
        self._store(records)

    def _count(self, result: str) -> None:
        self.stats.counts[result] += 1
        metrics.PACKETS.labels(result).inc()

    def expire(self, now: float) -> None:
        """Close what is due at ``now`` (our clock), read on the senders' clock: the engine's times are theirs.

        Without this a sender whose clock runs minutes behind ours would have every ringing call closed as
        orphaned at the next tick. With several senders the latest packet's skew is used.
        """
        self._store(self.engine.expire(now + self.skew))
        metrics.OPEN_DIALOGS.set(self.engine.open_dialogs)

    def _store(self, records: list[CallRecord]) -> None:
        for record in records:
            self.stats.counts["calls"] += 1
            metrics.CALLS.inc()
            self._queue.put_nowait(record)

    def reject(self, data: bytes, source: str, transport: str, what: str, exc: ValueError) -> None:
        """Count a bad packet and keep it in the quarantine (within the per-minute bound)."""
        self._count("malformed")
        minute = int(time.time() // 60)
        if minute != self._minute:
            self._minute, self._quarantined = minute, 0
        if self._quarantined >= QUARANTINE_PER_MINUTE:
            self.stats.counts["quarantine_skipped"] += 1
            return
        self._quarantined += 1
        error = PayloadError(f"{what}: {exc}"[:200], details=[{"field": getattr(exc, "what", "packet"),
                                                                 "error": str(exc)[:200]}])
        self._queue.put_nowait(QuarantineEntry(
            id=0, received_at=time.time(), provider="hep", method="HEP", path=f"{transport}://{self.address}",
            query="", body=data[:MAX_BODY], headers={}, client=source, status=error.status, error=error.to_json(),
        ))

    # -- output -----------------------------------------------------------------------------
    async def write(self) -> None:
        """The writer task: store each finished call, quarantine each reject, until ``None``."""
        while (item := await self._queue.get()) is not None:
            try:
                if isinstance(item, CallRecord):
                    await self.store.add(item)
                else:
                    await self.store.aquarantine(item)
            except Exception:  # a store failure must not end the listener; the item is counted as lost
                self.stats.counts["store_errors"] += 1
                log.exception("hangup: could not store a SIP call or quarantine entry")

    async def drain(self) -> None:
        """Let the writer finish what is queued, then stop it."""
        self._queue.put_nowait(None)

    # -- dialogs across restarts ------------------------------------------------------------------
    def state(self) -> bytes:
        """The open dialogs as bytes (taken on the event loop, where the engine changes)."""
        return state.dumps((_STATE_VERSION, self.engine.snapshot()))

    def save_state(self, data: bytes) -> None:
        """Write ``state()`` atomically (a reader never sees half a file)."""
        if not self.state_path:
            return
        temporary = f"{self.state_path}.tmp"
        with open(temporary, "wb") as out:
            out.write(data)
        os.replace(temporary, self.state_path)

    def load_state(self) -> int:
        """Restore the dialogs saved by the previous run; how many were restored (0 without a state file)."""
        if not self.state_path or not os.path.exists(self.state_path):
            return 0
        try:
            with open(self.state_path, "rb") as saved:
                version, snapshot = state.load(saved)
            if version == _STATE_VERSION:
                self.engine.restore(snapshot)
        except (OSError, EOFError, pickle.UnpicklingError, ValueError, TypeError, AttributeError) as exc:
            log.warning("hangup: ignoring unreadable SIP dialog state %s: %s", self.state_path, exc)
            return 0
        return self.engine.open_dialogs


class _Datagrams(asyncio.DatagramProtocol):
    def __init__(self, listener: HepListener) -> None:
        self.listener = listener

    def datagram_received(self, data: bytes, addr: tuple[Any, ...]) -> None:
        self.listener.datagram(data, f"{addr[0]}:{addr[1]}")


async def _stream(listener: HepListener, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    peer = writer.get_extra_info("peername") or ("?", 0)
    source = f"{peer[0]}:{peer[1]}"
    try:
        while len(header := await _read(reader, 6)) == 6:
            try:
                length = frame_length(header)
            except HepError as exc:
                rest = await reader.read(MAX_BODY)
                listener.reject(header + rest, source, "tcp", "not a HEP3 stream", exc)
                return
            body = await _read(reader, length - 6)
            if len(body) < length - 6:
                return  # the peer closed mid-frame
            listener.datagram(header + body, source, "tcp")
    except (ConnectionError, asyncio.IncompleteReadError):
        return
    finally:
        writer.close()


async def _read(reader: asyncio.StreamReader, size: int) -> bytes:
    try:
        return await reader.readexactly(size)
    except asyncio.IncompleteReadError as exc:
        return exc.partial


async def _ticks(listener: HepListener, stop: asyncio.Event) -> None:
    last_snapshot = time.monotonic()
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), EXPIRE_EVERY)
        listener.expire(time.time())
        if time.monotonic() - last_snapshot >= SNAPSHOT_EVERY:
            await asyncio.to_thread(listener.save_state, listener.state())
            last_snapshot = time.monotonic()


async def _bind(listener: HepListener, host: str, port: int
                ) -> tuple[asyncio.DatagramTransport, asyncio.Server, int]:
    """UDP and TCP on one port; port 0 picks one free for both (a free UDP port may be taken for TCP)."""
    loop = asyncio.get_running_loop()
    for _ in range(20 if port == 0 else 1):
        transport, _protocol = await loop.create_datagram_endpoint(lambda: _Datagrams(listener),
                                                                   local_addr=(host, port))
        bound: int = transport.get_extra_info("sockname")[1]
        try:
            server = await asyncio.start_server(lambda r, w: _stream(listener, r, w), host, bound)
        except OSError:
            transport.close()
            if port != 0:
                raise
            continue
        return transport, server, bound
    raise OSError(f"no port on {host} is free for both UDP and TCP")


@contextlib.asynccontextmanager
async def serve_hep(store: Store, address: str, *, password: str = "", state_path: str = "",
                    engine: DialogEngine | None = None) -> AsyncIterator[HepListener]:
    """Listen on ``address`` (UDP and TCP) until the block exits; the listener's dialogs are saved on exit."""
    host, port = listen_address(address)
    listener = HepListener(store, address=address, password=password, state_path=state_path, engine=engine)
    restored = listener.load_state()
    transport, server, bound = await _bind(listener, host, port)
    listener.address = f"{host}:{bound}"
    log.warning("hangup: HEP listener on udp and tcp %s (%d dialogs restored)", listener.address, restored)
    stop = asyncio.Event()
    writer, ticks = asyncio.create_task(listener.write()), asyncio.create_task(_ticks(listener, stop))
    try:
        yield listener
    finally:
        stop.set()
        transport.close()
        server.close()
        await ticks
        await listener.drain()
        await writer
        await asyncio.to_thread(listener.save_state, listener.state())
        await server.wait_closed()


class _State(Protocol):
    @property
    def settings(self) -> Settings: ...

    @property
    def store(self) -> Store: ...


@contextlib.asynccontextmanager
async def hep_lifespan(state: _State) -> AsyncIterator[None]:
    """``hangup serve``'s lifespan hook: the HEP listener when ``HANGUP_HEP_LISTEN`` is set."""
    settings = state.settings
    if not settings.hep_listen:
        yield
        return
    async with serve_hep(state.store, settings.hep_listen, password=settings.hep_password,
                         state_path=settings.hep_state):
        yield

"""The HEP listener on 127.0.0.1: UDP and TCP in, calls and quarantine entries out, state across a restart.

Every wait is bounded (``settled`` polls for at most ``WAIT`` seconds); nothing asserts on timing.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from dpkt import ethernet, pcap
from sip_helpers import invite, request, response

from hangup.records import CallRecord
from hangup.sip.dialogs import DialogEngine
from hangup.sip.hep import encode_v2, encode_v3
from hangup.sip.listener import HepListener, serve_hep
from hangup.sip.packet import Packet
from hangup.store import open_store
from hangup.store.base import CallQuery, Store

WAIT = 10.0
DATA = Path(__file__).resolve().parent.parent / "data" / "sip"


def hep(time_: float, payload: bytes, *, toward_callee: bool = True, call: int = 0, **options: str) -> bytes:
    ends = [("10.0.0.1", 5060), ("10.0.0.2", 5060)]
    (src, sport), (dst, dport) = ends if toward_callee else ends[::-1]
    payload = payload.replace(b"3848276298220188511@10.0.0.1", f"call-{call}@10.0.0.1".encode())
    return encode_v3(Packet(time_, src, sport, dst, dport, "udp", payload), **options)


def busy_call(call: int, **options: str) -> list[bytes]:
    now = time.time()
    return [hep(now, invite(), call=call, **options),
            hep(now + 1, response(486, "Busy Here"), toward_callee=False, call=call, **options)]


def answered_call(call: int) -> list[bytes]:
    now = time.time()
    return [hep(now, invite(), call=call), hep(now + 2, response(200, "OK"), toward_callee=False, call=call),
            hep(now + 2.1, request("ACK", 1), call=call), hep(now + 32, request("BYE", 2), call=call)]


async def settled(check: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT
    while not check():
        assert time.monotonic() < deadline, "nothing arrived in time"
        await asyncio.sleep(0.02)


def _udp(port: int, datagrams: list[bytes]) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for datagram in datagrams:
            sock.sendto(datagram, ("127.0.0.1", port))


async def _tcp(port: int, chunks: list[bytes]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    for chunk in chunks:
        writer.write(chunk)
        await writer.drain()
    writer.close()
    await writer.wait_closed()


def _port(listener: HepListener) -> int:
    return int(listener.address.rpartition(":")[2])


def _calls(store: Store) -> dict[str, str]:
    return {c.provider_call_id: c.outcome for c in store.iter_calls(CallQuery())}


def test_udp_and_tcp_calls_are_stored(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "calls.db"))

    async def main() -> None:
        async with serve_hep(store, "127.0.0.1:0", state_path="") as listener:
            port = _port(listener)
            _udp(port, busy_call(1) + [encode_v2(Packet(time.time(), "10.0.0.1", 5060, "10.0.0.2", 5060, "udp",
                                                        invite().replace(b"3848276298220188511", b"v2")))])
            frames = b"".join(answered_call(2))
            await _tcp(port, [frames[:5], frames[5:200], frames[200:]])  # split anywhere, several per write
            await settled(lambda: store.count() >= 2)
            assert listener.engine.open_dialogs == 1  # the HEP v2 INVITE, still ringing

    asyncio.run(main())
    assert _calls(store) == {"call-1@10.0.0.1": "busy", "call-2@10.0.0.1": "completed"}
    store.close()


def _sample(name: str, **labels: str) -> float:
    from hangup.sip.metrics import REGISTRY

    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_bad_input_is_quarantined_and_the_listener_goes_on(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "calls.db"))
    before = (_sample("hangup_hep_packets_total", result="malformed"), _sample("hangup_sip_calls_total"))

    async def main() -> None:
        async with serve_hep(store, "127.0.0.1:0", state_path="") as listener:
            port = _port(listener)
            not_sip = hep(time.time(), b"\x00\x01 binary junk")
            _udp(port, [b"garbage", not_sip])
            await _tcp(port, [b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"])
            _udp(port, busy_call(3))
            await settled(lambda: store.count() == 1 and store.quarantine_count() == 3)
            assert listener.stats["malformed"] == 3

    asyncio.run(main())
    after = (_sample("hangup_hep_packets_total", result="malformed"), _sample("hangup_sip_calls_total"))
    assert (after[0] - before[0], after[1] - before[1]) == (3, 1)  # the /metrics counters (docs/dashboard.md)
    entries = {e.error["error"].split(":")[0]: e for e in store.quarantined()}
    assert set(entries) == {"not HEP", "not a SIP message", "not a HEP3 stream"}
    assert entries["not HEP"].body == b"garbage" and entries["not HEP"].client.startswith("127.0.0.1:")
    assert entries["not HEP"].provider == "hep" and entries["not a HEP3 stream"].path.startswith("tcp://127.0.0.1:")
    store.close()


@pytest.mark.parametrize("payload", [
    # found by fuzzing HEP: int() raised ValueError, not SipParseError, out of ``datagram`` (neither counted
    # nor quarantined)
    invite().replace(b"Content-Length: 0", b"Content-Length: " + b"9" * 5000),
    invite().replace(b"CSeq: 1 INVITE", b"CSeq: \xc2\xb2 INVITE"),
])
def test_a_found_datagram_is_counted_malformed(tmp_path: Path, payload: bytes) -> None:
    store = open_store(str(tmp_path / "calls.db"))
    listener = HepListener(store, address="127.0.0.1:0")
    listener.datagram(hep(time.time(), payload), "127.0.0.1:5060")
    assert listener.stats["malformed"] == 1 and listener.engine.open_dialogs == 0
    store.close()


def test_a_wrong_capture_password_is_dropped(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "calls.db"))

    async def main() -> None:
        async with serve_hep(store, "127.0.0.1:0", password="right", state_path="") as listener:
            _udp(_port(listener), busy_call(4, password="wrong") + busy_call(5, password="right"))
            await settled(lambda: store.count() == 1)
            await settled(lambda: listener.stats["unauthorized"] == 2)

    asyncio.run(main())
    assert _calls(store) == {"call-5@10.0.0.1": "busy"}
    store.close()


def test_a_call_in_progress_survives_a_restart(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "calls.db"))
    state = str(tmp_path / "hep.state")
    first, rest = answered_call(6)[:3], answered_call(6)[3:]

    async def run(datagrams: list[bytes], until: Callable[[HepListener], bool]) -> None:
        async with serve_hep(store, "127.0.0.1:0", state_path=state) as listener:
            _udp(_port(listener), datagrams)
            await settled(lambda: until(listener))

    asyncio.run(run(first, lambda listener: listener.engine.open_dialogs == 1 and listener.stats["packets"] == 3))
    assert Path(state).exists() and store.count() == 0
    asyncio.run(run(rest, lambda listener: store.count() == 1))
    [call] = list(store.iter_calls(CallQuery()))
    assert (call.outcome, call.answered, call.duration, call.ended_by) == ("completed", True, 30, "caller")
    store.close()


def test_without_a_state_file_a_restart_loses_the_open_dialog(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "calls.db"))
    listener = HepListener(store, address="127.0.0.1:0", state_path="", engine=DialogEngine())
    for datagram in answered_call(7)[:3]:
        listener.datagram(datagram, "127.0.0.1:1")
    assert listener.load_state() == 0
    again = HepListener(store, address="127.0.0.1:0", state_path="")
    again.datagram(answered_call(7)[3], "127.0.0.1:1")
    assert again.engine.open_dialogs == 0 and again.engine.counters.messages == 1  # the BYE waits for nothing
    store.close()


@pytest.mark.parametrize("address", ["9060", "127.0.0.1", "127.0.0.1:port", ":9060", "127.0.0.1:70000",
                                     "127.0.0.1:90²"])  # a superscript: isdigit() takes it, int() does not
def test_a_bad_listen_address_is_refused(address: str) -> None:
    from hangup.errors import ConfigError
    from hangup.settings import listen_address

    with pytest.raises(ConfigError, match="HANGUP_HEP_LISTEN"):
        listen_address(address)


@pytest.mark.parametrize(("args", "env", "refused"), [
    (("127.0.0.1", None, None, None, False, "127.0.0.1:9060"), {}, None),
    (("127.0.0.1", None, None, "2", False, "127.0.0.1:9060"), {}, "--workers 1"),
    (("127.0.0.1", None, None, None, False, "0.0.0.0:9060"), {}, "HANGUP_HEP_PASSWORD"),
    (("127.0.0.1", None, None, None, False, "0.0.0.0:9060"), {"HANGUP_HEP_PASSWORD": "p"}, None),
    (("127.0.0.1", None, None, None, True, "[::]:9060"), {}, None),
    (("127.0.0.1", None, None, None, False, "nowhere"), {}, "HANGUP_HEP_LISTEN"),
])
def test_serve_checks_the_hep_listener(monkeypatch: pytest.MonkeyPatch, args: tuple[object, ...],
                                       env: dict[str, str], refused: str | None) -> None:
    import click

    from hangup.cli.serve import resolve_settings

    for name, value in env.items():
        monkeypatch.setenv(name, value)
    if refused is None:
        assert resolve_settings(*args).hep_listen == args[5]  # type: ignore[arg-type]
        return
    with pytest.raises(click.ClickException, match=refused):
        resolve_settings(*args)  # type: ignore[arg-type]


def test_the_server_lifespan_runs_the_listener_when_configured(tmp_path: Path) -> None:
    from hangup.settings import load_settings
    from hangup.sip.listener import hep_lifespan

    store = open_store(str(tmp_path / "calls.db"))
    state_file = tmp_path / "hep.state"

    class State:
        settings = load_settings({"HANGUP_HEP_LISTEN": "127.0.0.1:0", "HANGUP_HEP_STATE": str(state_file)})

        def __init__(self) -> None:
            self.store = store

    async def main() -> None:
        async with hep_lifespan(State()):
            pass
        async with hep_lifespan(type("Off", (), {"settings": load_settings({}), "store": store})()):
            pass

    asyncio.run(main())
    assert state_file.exists()  # the listener ran and saved its (empty) dialogs on the way out
    store.close()


@pytest.mark.parametrize("skew", [-1000.0, 0.0, 1000.0])
def test_waits_run_on_the_agents_clock(tmp_path: Path, skew: float) -> None:
    store = open_store(str(tmp_path / "calls.db"))
    listener = HepListener(store, address="127.0.0.1:0")
    listener.datagram(hep(time.time() + skew, invite(), call=8), "127.0.0.1:1")
    listener.expire(time.time() + 1)
    assert listener.engine.open_dialogs == 1  # a ringing call, whatever the sender's clock says
    listener.expire(time.time() + 301)
    assert listener.engine.open_dialogs == 0  # its early timeout, counted on the sender's clock
    store.close()


def test_a_packet_without_a_time_is_timed_by_its_receipt(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "calls.db"))
    listener = HepListener(store, address="127.0.0.1:0")
    before = time.time()
    v1_invite = invite().replace(b"3848276298220188511@10.0.0.1", b"call-0@10.0.0.1")
    listener.datagram(encode_v2(Packet(0.0, "10.0.0.1", 5060, "10.0.0.2", 5060, "udp", v1_invite), version=1),
                      "127.0.0.1:1")
    listener.datagram(hep(0.0, response(486, "Busy Here"), toward_callee=False), "127.0.0.1:1")
    assert listener.stats["calls"] == 1 and listener.engine.open_dialogs == 0
    record = listener._queue.get_nowait()
    assert isinstance(record, CallRecord) and record.setup_time >= int(before)
    store.close()


@pytest.mark.parametrize("version", [2, 3])
def test_hep_kamailio_sent_makes_the_calls_it_mirrored(version: int, tmp_path: Path) -> None:
    """The datagrams of ``tests/data/sip/kamailio-5.6.3-siptrace-hep{2,3}-calls.pcap`` (Kamailio 5.6.3 ``siptrace``,
    four sipp calls through it) sent to the listener as they were captured."""
    store = open_store(str(tmp_path / "calls.db"))
    with (DATA / f"kamailio-5.6.3-siptrace-hep{version}-calls.pcap").open("rb") as capture:
        datagrams = [bytes(ethernet.Ethernet(frame).data.data.data) for _, frame in pcap.Reader(capture)]

    async def main() -> None:
        async with serve_hep(store, "127.0.0.1:0", state_path="") as listener:
            _udp(_port(listener), datagrams)
            await settled(lambda: store.count() >= 4)
            assert (listener.stats["packets"], listener.stats["malformed"], listener.engine.open_dialogs) == (48, 0, 0)

    asyncio.run(main())
    assert _calls(store) == {"caller_bye-1@acc": "completed", "callee_bye-1@acc": "completed",
                             "busy_486-1@acc": "busy", "caller_cancel-1@acc": "canceled"}
    store.close()

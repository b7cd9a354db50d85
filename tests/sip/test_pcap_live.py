"""Captures made by real tools: tcpdump records two sipp instances calling each other on 127.0.0.1.

UDP is captured on ``lo`` (Ethernet link type, microseconds); TCP on ``any`` (Linux cooked SLL2,
nanoseconds). Every process a test starts is stopped by its PID, and every wait is bounded.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hangup.importer import Importer
from hangup.records import CallRecord
from hangup.sip.capture import Malformed, packets
from hangup.sip.capture.files import Frame, frames
from hangup.sip.dialogs import calls_from
from hangup.sip.packet import Packet
from hangup.sip.pcap import read_capture
from hangup.store.base import CallQuery, Store

CALLS = 4
LINKTYPES = {"lo": 1, "any": 276}  # tcpdump on lo: Ethernet; on "any": Linux cooked v2
pytestmark = pytest.mark.skipif(not (shutil.which("tcpdump") and shutil.which("sipp")),
                                reason="tcpdump and sipp are needed (scripts/ensure-test-tools installs them)")


def free_port(kind: int) -> int:
    with socket.socket(socket.AF_INET, kind) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
    if process.stderr is not None:
        process.stderr.close()


def start_tcpdump(path: Path, interface: str, ports: tuple[int, int], nano: bool) -> subprocess.Popen[bytes]:
    command = ["tcpdump", "-i", interface, "-U", "-s", "0", "-w", str(path)]
    command += ["--time-stamp-precision=nano"] if nano else []
    command += ["host", "127.0.0.1", "and", "(port", str(ports[0]), "or", "port", f"{ports[1]})"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert process.stderr is not None
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # tcpdump says "listening on" once the capture runs
        line = process.stderr.readline()
        if b"listening on" in line or not line:
            break
    return process


@pytest.fixture(scope="module", params=[("udp", "lo", False), ("tcp", "any", True), ("udp", "any", False)],
                ids=["udp-ethernet", "tcp-sll2", "udp-sll2"])
def capture(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """One recorded run of CALLS calls per transport, shared by the tests of this module."""
    transport, interface, nano = request.param
    tmp_path = tmp_path_factory.mktemp("capture")
    kind = socket.SOCK_DGRAM if transport == "udp" else socket.SOCK_STREAM
    uas_port, uac_port = free_port(kind), free_port(kind)
    path = tmp_path / f"sipp-{transport}.pcap"
    flag = ["-t", "u1" if transport == "udp" else "t1"]
    dump = start_tcpdump(path, interface, (uas_port, uac_port), nano)
    uas = subprocess.Popen(["sipp", "-sn", "uas", *flag, "-i", "127.0.0.1", "-p", str(uas_port), "-nostdin"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(0.3)
        subprocess.run(["sipp", "-sn", "uac", *flag, "-i", "127.0.0.1", "-p", str(uac_port),
                        f"127.0.0.1:{uas_port}", "-m", str(CALLS), "-r", "20", "-d", "100", "-nostdin"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30, check=True)
        time.sleep(0.5)  # the last 200 OK reaches tcpdump's buffer
    finally:
        stop(uas)
        stop(dump)
    yield f"{transport}-{interface}", path


def test_every_message_of_every_call_comes_out(capture: tuple[str, Path]) -> None:
    """Each message once, though on "any" Linux records every loopback packet twice."""
    name, path = capture
    transport, interface = name.split("-")
    with path.open("rb") as stream:
        found = list(packets(stream))
    with path.open("rb") as stream:
        assert {f.linktype for f in frames(stream) if isinstance(f, Frame)} == {LINKTYPES[interface]}
    messages = [p for p in found if isinstance(p, Packet)]
    firsts = [p.payload.split(b"\r\n", 1)[0].split(b" ")[0 if not p.payload.startswith(b"SIP/") else 1]
              for p in messages]
    assert [m for m in found if isinstance(m, Malformed)] == []
    assert {p.transport for p in messages} == {transport}
    assert firsts.count(b"INVITE") == CALLS and firsts.count(b"BYE") == CALLS and firsts.count(b"ACK") == CALLS
    assert firsts.count(b"200") == 2 * CALLS  # one for each INVITE, one for each BYE
    assert [p.time for p in messages] == sorted(p.time for p in messages)


def test_calls_from_the_capture_equal_the_calls_fed_directly(capture: tuple[str, Path]) -> None:
    _, path = capture
    with path.open("rb") as stream:
        direct = list(calls_from(p for p in packets(stream) if isinstance(p, Packet)))
    with path.open("rb") as stream:
        imported = [item.record for item in read_capture(stream, 0.0)]
    assert len(direct) == CALLS
    assert all(r is not None and r.answered for r in imported)
    assert [comparable(r) for r in imported] == [comparable(r) for r in direct]


def comparable(record: CallRecord | None) -> dict[str, object]:
    assert record is not None
    fields = dict(record.to_json())
    fields.pop("received_at")
    return fields


def test_hangup_import_guesses_the_capture_and_stores_its_calls(capture: tuple[str, Path],
                                                                 fresh_store: Store) -> None:
    _, path = capture
    summary = Importer(fresh_store, parallel=False).run([str(path)])
    assert (summary.formats, summary.imported, summary.rejected) == ({str(path): "pcap"}, CALLS, 0)
    assert fresh_store.count(CallQuery()) == CALLS

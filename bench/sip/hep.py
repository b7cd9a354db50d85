"""How fast is HEP ingest? SIP messages mirrored as HEP3 over UDP, received and made into calls.

A child process sends pre-built HEP3 datagrams (the generated calls of ``bench/sip/pcap.py``: seven
messages each, ``--concurrent`` calls in progress) to 127.0.0.1 in batches of ``BATCH``, waiting
for the receiver to finish each batch, so no datagram is dropped and both sides are measured on the
same traffic. In the same run:

* the baseline: a Python loop that only receives and counts the datagrams;
* hangup: receive, decode with ``hangup.sip.hep.decode``, feed the dialog engine, one record per
  call: the listener's path without its store writes (``hangup.sip.listener.HepListener`` also
  commits each call; the store's rate is measured by ``bench/ingest``). Where the package has no
  ``hangup.sip.hep.decode``, this script walks the HEP3 chunks itself ("HEP3", length, then
  vendor/type/length chunks; type 15 is the payload) and says so.

It prints messages/s, dialogs/s and CPU microseconds per message of both, hangup's share of the
baseline's rate (target: at least 0.3x) and of its CPU time per message.

Usage: ``python bench/sip/hep.py [--calls 20000] [--concurrent 200]``.
"""

from __future__ import annotations

import argparse
import importlib
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pcap import call_messages  # noqa: E402  # the same generated calls as the capture benchmark

from hangup import native  # noqa: E402
from hangup.sip.dialogs import DialogEngine  # noqa: E402
from hangup.sip.packet import Packet  # noqa: E402

BATCH = 100
TARGET = 0.3


def chunk(kind: int, value: bytes) -> bytes:
    return struct.pack("!HHH", 0, kind, 6 + len(value)) + value


def hep3(payload: bytes, forward: bool, stamp: float) -> bytes:
    src, dst = (b"\x0a\x01\x00\x01", b"\x0a\x02\x00\x01") if forward else (b"\x0a\x02\x00\x01", b"\x0a\x01\x00\x01")
    body = b"".join([
        chunk(1, b"\x02"), chunk(2, b"\x11"), chunk(3, src), chunk(4, dst), chunk(7, struct.pack("!H", 5060)),
        chunk(8, struct.pack("!H", 5060)), chunk(9, struct.pack("!I", int(stamp))),
        chunk(10, struct.pack("!I", int(stamp % 1 * 1e6))), chunk(11, b"\x01"), chunk(12, struct.pack("!I", 2001)),
        chunk(15, payload),
    ])
    return b"HEP3" + struct.pack("!H", 6 + len(body)) + body


def datagrams(calls: int, concurrent: int) -> list[bytes]:
    out, stamp = [], 1_700_000_000.0
    for first in range(0, calls, concurrent):
        wave = [call_messages(call) for call in range(first, min(calls, first + concurrent))]
        for step in range(7):
            for messages in wave:
                out.append(hep3(messages[step][1], messages[step][0], stamp))
                stamp += 0.0005
    return out


def standin_decode(data: bytes) -> Packet:
    """HEP3 chunks → Packet (IPv4 only): the stand-in while the package has no HEP decoder."""
    fields: dict[int, bytes] = {}
    position = 6
    while position + 6 <= len(data):
        _, kind, length = struct.unpack_from("!HHH", data, position)
        fields[kind] = data[position + 6:position + length]
        position += length
    stamp = struct.unpack("!I", fields[9])[0] + struct.unpack("!I", fields[10])[0] / 1e6
    return Packet(stamp, socket.inet_ntoa(fields[3]), struct.unpack("!H", fields[7])[0], socket.inet_ntoa(fields[4]),
                  struct.unpack("!H", fields[8])[0], "udp", fields[15])


def package_decoder() -> Callable[[bytes], Packet] | None:
    try:
        module = importlib.import_module("hangup.sip.hep")
    except ImportError:
        return None
    decode = getattr(module, "decode", None)
    if not callable(decode):
        return None
    return lambda data: decode(data, 0.0).packet  # type: ignore[no-any-return]


SENDER = """
import pickle, socket, sys
port, datagrams, batch = pickle.load(sys.stdin.buffer)
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for first in range(0, len(datagrams), batch):
    for data in datagrams[first:first + batch]:
        sock.sendto(data, ("127.0.0.1", port))
    sys.stdin.buffer.readline()  # the receiver has taken the batch
"""


def run(datagrams: list[bytes], handle: Callable[[bytes], int]) -> tuple[float, float, int]:
    """(wall seconds, CPU seconds of this process, calls) of receiving every datagram through ``handle``."""
    import pickle

    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
    receiver.bind(("127.0.0.1", 0))
    receiver.settimeout(10)
    sender = subprocess.Popen([sys.executable, "-c", SENDER], stdin=subprocess.PIPE)
    assert sender.stdin is not None
    sender.stdin.write(pickle.dumps((receiver.getsockname()[1], datagrams, BATCH)))
    sender.stdin.flush()
    calls, started, cpu = 0, time.perf_counter(), time.process_time()
    try:
        for first in range(0, len(datagrams), BATCH):
            for _ in range(min(BATCH, len(datagrams) - first)):
                calls += handle(receiver.recv(65535))
            sender.stdin.write(b"\n")
            sender.stdin.flush()
        elapsed, used = time.perf_counter() - started, time.process_time() - cpu
    finally:
        sender.stdin.close()
        sender.wait(timeout=30)
        receiver.close()
    return elapsed, used, calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--concurrent", type=int, default=200)
    args = parser.parse_args()
    sent = datagrams(args.calls, args.concurrent)
    decode = package_decoder()
    print(f"{len(sent)} HEP3 datagrams, {args.calls} calls; decoder: "
          + ("hangup.sip.hep.decode" if decode else "this script's stand-in (hangup.sip.hep has no decode yet)")
          + f"; SIP modules: {native.MODE} (hangup/native.py)")
    decoder = decode or standin_decode
    base_wall, base_cpu, _ = run(sent, lambda data: 0)
    engine = DialogEngine()
    wall, cpu, calls = run(sent, lambda data: len(engine.feed(decoder(data))))
    calls += len(engine.flush())
    for name, seconds, used in (("receive-and-count baseline", base_wall, base_cpu), ("hangup", wall, cpu)):
        print(f"{name}: {len(sent) / seconds:,.0f} messages/s, {args.calls / seconds:,.0f} dialogs/s, "
              f"{used / len(sent) * 1e6:.1f} µs CPU per message")
    ratio = base_wall / wall
    print(f"hangup / baseline: {ratio:.2f}x ({'meets' if ratio >= TARGET else 'misses'} the {TARGET}x target); "
          f"{calls} calls classified")
    # The rate ratio above includes the wait for the sender, which a loaded machine stretches for both;
    # CPU time per message is the steadier figure when others share the cores.
    print(f"CPU per message, baseline / hangup: {base_cpu / cpu:.2f}x")


if __name__ == "__main__":
    main()

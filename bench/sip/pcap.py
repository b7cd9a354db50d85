"""How fast does ``hangup import`` read SIP out of a capture, and in how much memory?

The script writes a libpcap capture of generated calls (not timed): Ethernet / IPv4 / UDP, each call an
INVITE with SDP, 100, 180, 200 with SDP, ACK, BYE and its 200, ``--concurrent`` calls in progress at
once, between E.164 numbers as carriers write them (a new caller every call, callees out of a few
hundred), SIP only (the worst case for a reader: a real capture's RTP frames are skipped after one look
at their first line). Then, in the same run:

* the baseline: ``tshark -r FILE -Y sip`` counting the SIP messages of the same file (Wireshark's own
  dissectors in C). tshark is installed for this benchmark only (``apt-get install tshark``); without
  it the baseline is skipped and said so;
* hangup: ``hangup.sip.pcap.read_capture`` over the same file, the reader ``hangup import`` uses:
  frames, link layers, SIP by content, every message through the dialog engine, one record per call.

It prints messages/s and CPU per message of both and their ratio (wall and CPU: on a shared machine
the CPU figure is the steadier), and the capture reading alone, without the dialog engine.

With ``--big-mb`` it also writes a capture of that size (or reuses the one at ``--big-path`` if it is
there; writing 1 GB takes minutes), imports it with ``python -m hangup import`` into a fresh SQLite store in
a child process and prints the peak RSS of that process tree (the importing process and its reading
process, summed, sampled every 20 ms from ``/proc``; target: a 1 GB capture under 300 MB), then reads it
again through the import's reader in a child that stores nothing and prints that child's peak RSS (the
capture path alone).

Usage: ``python bench/sip/pcap.py [--calls 20000] [--concurrent 200] [--big-mb 1024] [--big-path FILE]``.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from hangup.sip.capture import packets
from hangup.sip.packet import Packet
from hangup.sip.pcap import read_capture

SDP = ("v=0\r\no=- 20518 0 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0 8 101\r\n"
       "a=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n")
RSS_TARGET_MB = 300


#: Area codes of the generated US numbers (NANPA: the exchange's first digit is 2-9).
AREAS = ("212", "312", "415", "617", "713", "206")
#: Distinct callees: the destinations of a platform repeat (trunks, service numbers), so calls share them.
CALLEES = 500


def number(index: int) -> str:
    """A valid E.164 number per index (US, London and Berlin in turn): what carriers put in From and To."""
    country = index % 3
    if country == 0:
        return f"+1{AREAS[index // 3 % len(AREAS)]}{2_000_000 + index // 18 % 8_000_000}"
    if country == 1:
        return f"+4420{70_000_000 + index // 3 % 10_000_000}"
    return f"+4930{10_000_000 + index // 3 % 90_000_000}"


def message(start: str, cseq: str, call: int, to_tag: bool, body: str = "") -> bytes:
    """One message of call ``call``: every call has a new caller number (each new to hangup's number cache,
    the costly case), and one of ``CALLEES`` callee numbers."""
    lines = [start, f"Via: SIP/2.0/UDP 10.1.0.1:5060;branch=z9hG4bK{call}x{cseq[0]}",
             "Max-Forwards: 70", f'From: "Caller {call}" <sip:{number(call)}@a.example.com>;tag=f{call}',
             f"To: <sip:{number(10**9 + call % CALLEES)}@b.example.com>{';tag=t' + str(call) if to_tag else ''}",
             f"Call-ID: {call}-bench@10.1.0.1", f"CSeq: {cseq}", "Contact: <sip:10.1.0.1:5060>",
             "User-Agent: bench", f"Content-Length: {len(body)}"]
    if body:
        lines.insert(-1, "Content-Type: application/sdp")
    return ("\r\n".join(lines) + "\r\n\r\n" + body).encode()


def call_messages(call: int) -> list[tuple[bool, bytes]]:
    uri = f"sip:{number(10**9 + call % CALLEES)}@b.example.com SIP/2.0"
    return [
        (True, message(f"INVITE {uri}", "1 INVITE", call, False, SDP.format(ip="10.1.0.1"))),
        (False, message("SIP/2.0 100 Trying", "1 INVITE", call, False)),
        (False, message("SIP/2.0 180 Ringing", "1 INVITE", call, True)),
        (False, message("SIP/2.0 200 OK", "1 INVITE", call, True, SDP.format(ip="10.2.0.1"))),
        (True, message(f"ACK {uri}", "1 ACK", call, True)),
        (True, message(f"BYE {uri}", "2 BYE", call, True)),
        (False, message("SIP/2.0 200 OK", "2 BYE", call, True)),
    ]


def frame(payload: bytes, forward: bool) -> bytes:
    """Ethernet / IPv4 / UDP around ``payload`` (checksums left zero, as offloading NICs capture them)."""
    src, dst = (b"\x0a\x01\x00\x01", b"\x0a\x02\x00\x01") if forward else (b"\x0a\x02\x00\x01", b"\x0a\x01\x00\x01")
    udp = struct.pack("!HHHH", 5060, 5060, 8 + len(payload), 0)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 28 + len(payload), 0, 0x4000, 64, 17, 0, src, dst)
    return b"\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01\x08\x00" + ip + udp + payload


def frames(calls: int, concurrent: int) -> Iterator[bytes]:
    """Calls in waves of ``concurrent``: each message step of every call in the wave, then the next step."""
    for first in range(0, calls, concurrent):
        wave = [call_messages(call) for call in range(first, min(calls, first + concurrent))]
        for step in range(7):
            for messages in wave:
                yield frame(messages[step][1], messages[step][0])


def write_capture(path: Path, calls: int, concurrent: int, max_bytes: int | None = None) -> tuple[int, int]:
    """Write the capture; (calls, messages) written."""
    written, messages, stamp = 24, 0, 1_700_000_000.0
    with path.open("wb") as out:
        out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
        for data in frames(calls, concurrent):
            seconds = int(stamp)
            out.write(struct.pack("<IIII", seconds, int((stamp - seconds) * 1e6), len(data), len(data)) + data)
            written += 16 + len(data)
            messages += 1
            stamp += 0.0005
            if max_bytes is not None and written >= max_bytes and messages % (7 * concurrent) == 0:
                break  # only between waves: every call in the file is whole
    return messages // 7, messages


def cpu_of_children() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def hangup_rate(path: Path) -> tuple[float, float, int]:
    """(wall s, CPU s, calls) of the import reader: capture → messages → dialog engine → records."""
    started, cpu = time.perf_counter(), time.process_time()
    with path.open("rb") as stream:
        records = sum(1 for item in read_capture(stream, 0.0) if item.record is not None)
    return time.perf_counter() - started, time.process_time() - cpu, records


def reading_rate(path: Path) -> tuple[float, float, int]:
    """(wall s, CPU s, messages) of the capture reading alone, without the dialog engine."""
    started, cpu = time.perf_counter(), time.process_time()
    with path.open("rb") as stream:
        messages = sum(1 for found in packets(stream) if isinstance(found, Packet))
    return time.perf_counter() - started, time.process_time() - cpu, messages


def tshark_rate(path: Path) -> tuple[float, float, int] | None:
    if shutil.which("tshark") is None:
        return None
    started, cpu = time.perf_counter(), cpu_of_children()
    done = subprocess.run(["tshark", "-n", "-r", str(path), "-Y", "sip", "-T", "fields", "-e", "frame.number"],
                          capture_output=True, timeout=3600, check=True)
    return time.perf_counter() - started, cpu_of_children() - cpu, len(done.stdout.splitlines())


def tree_rss_mb(root: int) -> float:
    """The resident memory of process ``root`` and its descendants, summed (from ``/proc``), in MB."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:  # ended meanwhile
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    tree, grew = {root}, True
    while grew:
        more = {pid for pid, parent in parents.items() if parent in tree} - tree
        tree |= more
        grew = bool(more)
    total = 0
    for pid in tree:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        total += next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0)
    return total / 1024


def big_import(folder: Path, megabytes: int, concurrent: int, reuse: Path | None) -> None:
    path = reuse or folder / "big.pcap"
    if reuse is None or not reuse.exists():
        write_capture(path, 10**9, concurrent, megabytes * 1024 * 1024)
    size = path.stat().st_size / 1024 / 1024
    print(f"big capture: {size:.0f} MB ({path})")
    started = time.perf_counter()
    child = subprocess.Popen([sys.executable, "-m", "hangup", "import", "--quiet", "--db",
                              f"sqlite:///{folder / 'big.db'}", str(path)], stdout=subprocess.DEVNULL)
    peak = 0.0
    while child.poll() is None:
        peak = max(peak, tree_rss_mb(child.pid))
        time.sleep(0.02)
    if child.returncode:
        raise SystemExit(f"hangup import failed ({child.returncode})")
    seconds = time.perf_counter() - started
    verdict = "meets" if peak < RSS_TARGET_MB else "misses"
    print(f"hangup import of it: {seconds:.1f} s ({size / seconds:.1f} MB/s), peak RSS of the process tree "
          f"{peak:.0f} MB ({verdict} the {RSS_TARGET_MB} MB target)")
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", READ_ONLY, str(path)], check=True, timeout=3600,
                          capture_output=True, text=True)
    calls_read, peak_read = done.stdout.split()
    verdict = "meets" if float(peak_read) < RSS_TARGET_MB else "misses"
    print(f"reading it without a store (read_capture, {calls_read} calls): {time.perf_counter() - started:.1f} s, "
          f"peak RSS {float(peak_read):.0f} MB ({verdict} the {RSS_TARGET_MB} MB target)")
    if reuse is None:
        path.unlink()


#: A child that reads a capture through the import's reader, stores nothing, and prints its calls and peak RSS.
READ_ONLY = """
import resource, sys
from hangup.sip.pcap import read_capture
with open(sys.argv[1], "rb") as stream:
    calls = sum(1 for item in read_capture(stream, 0.0) if item.record is not None)
print(calls, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--concurrent", type=int, default=200)
    parser.add_argument("--big-mb", type=int, default=0, help="also import a capture of this size, RSS recorded")
    parser.add_argument("--big-path", type=Path, help="the big capture: reused if it exists, else written and kept")
    args = parser.parse_args()
    socket.setdefaulttimeout(5)
    with tempfile.TemporaryDirectory(prefix="hangup-bench-pcap-") as name:
        folder = Path(name)
        path = folder / "calls.pcap"
        calls, messages = write_capture(path, args.calls, args.concurrent)
        print(f"capture: {path.stat().st_size / 1024 / 1024:.1f} MB, {calls} calls, {messages} SIP messages")
        wall, cpu, counted = reading_rate(path)
        print(f"capture reading alone (hangup.sip.capture.packets): {wall:.2f} s, {counted / wall:,.0f} messages/s, "
              f"{cpu / counted * 1e6:.1f} µs CPU per message")
        wall, cpu, records = hangup_rate(path)
        print(f"hangup read_capture (reading + dialog engine): {wall:.2f} s, {messages / wall:,.0f} messages/s, "
              f"{records / wall:,.0f} calls/s ({records} calls), {cpu / messages * 1e6:.1f} µs CPU per message")
        baseline = tshark_rate(path)
        if baseline is None:
            print("tshark -Y sip: not installed (apt-get install tshark), no baseline")
        else:
            tshark_wall, tshark_cpu, counted = baseline
            print(f"tshark -Y sip: {tshark_wall:.2f} s, {counted / tshark_wall:,.0f} messages/s ({counted} counted), "
                  f"{tshark_cpu / counted * 1e6:.1f} µs CPU per message")
            print(f"ratio hangup / tshark: {tshark_wall / wall:.2f}x by wall time, {tshark_cpu / cpu:.2f}x by CPU time")
        if args.big_mb:
            big_import(folder, args.big_mb, args.concurrent, args.big_path)


if __name__ == "__main__":
    main()

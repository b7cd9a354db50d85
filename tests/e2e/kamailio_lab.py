"""Real SIP on loopback: Kamailio with ``deploy/kamailio/kamailio.cfg``, sipp as caller and callee, ``hangup serve``.

Every process binds 127.0.0.1 only, runs under a time limit, and is stopped by the PID this module got
when it started it (Kamailio and sipp in a process group of their own, so their forked children go too).
Debian's ``kamailio``, ``sipp`` (package ``sip-tester``) or ``tcpdump`` missing, or no root for tcpdump,
means a loud skip, or a failure when ``CI`` is set (CI installs them through ``scripts/ensure-test-tools``).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "deploy" / "kamailio" / "kamailio.cfg"
SCENARIOS = Path(__file__).resolve().parent / "scenarios"
SECRET = "e2e-secret"
#: Hard limit of one sipp run: sipp's own -timeout does not stop a UAS still waiting for a request.
SIPP_LIMIT = 20.0


def tool(name: str) -> str | None:
    """Where a tool is installed; Debian puts kamailio in /usr/sbin, which a user's PATH may lack."""
    return shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/local/sbin:/sbin")


def tools_or_skip() -> None:
    missing = [name for name in ("kamailio", "sipp", "tcpdump") if tool(name) is None]
    if tool("tcpdump") and os.geteuid() != 0:
        missing.append("root (tcpdump captures loopback)")
    if not missing:
        return
    reason = (f"KAMAILIO E2E TESTS NOT RUN: {' and '.join(missing)} not available "
              "(Debian packages kamailio*, sip-tester, tcpdump; run scripts/ensure-test-tools)")
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


#: Ports ``free_port`` has handed out: the probe's socket is closed before the port is used, so the kernel
#: may offer the same number again (the web server's TCP port came back as a sipp UDP port, and the
#: capture filter, which names ports, then recorded HTTP).
_HANDED_OUT: set[int] = set()


def free_port(kind: int = socket.SOCK_DGRAM) -> int:
    """A port free for both UDP and TCP on 127.0.0.1 (Kamailio may listen on both), never the same twice."""
    while True:
        with socket.socket(socket.AF_INET, kind) as first:
            first.bind(("127.0.0.1", 0))
            port = int(first.getsockname()[1])
            other = socket.SOCK_STREAM if kind == socket.SOCK_DGRAM else socket.SOCK_DGRAM
            with socket.socket(socket.AF_INET, other) as second:
                try:
                    second.bind(("127.0.0.1", port))
                except OSError:
                    continue
        if port not in _HANDED_OUT:
            _HANDED_OUT.add(port)
            return port


def wait_until(check: Callable[[], bool], limit: float, what: str) -> None:
    """Poll ``check`` until it holds; fail naming ``what`` after ``limit`` seconds (a bound, not a measurement)."""
    deadline = time.monotonic() + limit
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {limit} s waiting for {what}")
        time.sleep(0.1)


def stop(process: subprocess.Popen[bytes], group: bool) -> None:
    """SIGTERM the process we started (its own process group when ``group``), SIGKILL after 10 s."""
    if process.poll() is None:
        send = (lambda sig: os.killpg(process.pid, sig)) if group else process.send_signal
        send(signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            send(signal.SIGKILL)
            process.wait(10)


class Hangup:
    """``hangup serve`` on a fixed loopback port, so it can be stopped and started again where Kamailio posts."""

    def __init__(self, workdir: Path, port: int, *extra: str) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.port = port
        self.db = workdir / "hangup.db"
        self.log = workdir / "hangup.log"
        self.extra = extra
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "HANGUP_KAMAILIO_SECRET": SECRET}
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "hangup", "serve", "--host", "127.0.0.1", "--port", str(self.port),
                 "--db", f"sqlite:///{self.db}", *self.extra], cwd=self.db.parent, stdout=log,
                stderr=subprocess.STDOUT, env=env)
        wait_until(self._ready, 20, "hangup serve to answer /readyz")

    def _ready(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"hangup serve exited with {self.process.returncode}: {self.log.read_text()[-2000:]}")
        try:
            return httpx.get(f"{self.url}/readyz", timeout=1.0).status_code == 200
        except httpx.TransportError:
            return False

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process, group=False)


class Kamailio:
    """The shipped configuration, started exactly as docs/kamailio.md says, plus lower timers for the tests."""

    def __init__(self, workdir: Path, name: str, listen: str, callee: str, hangup_url: str,
                 defines: Sequence[str] = ()) -> None:
        self.rundir = workdir / f"kamailio-{name}"
        self.rundir.mkdir()
        self.log = workdir / f"kamailio-{name}.log"
        host, _, port = listen.partition(":")[2].partition(":")
        self.address = (host, int(port))
        self.command = [
            tool("kamailio") or "kamailio", "-f", str(CONFIG), "-DD", "-E",
            "-Y", str(self.rundir), "-P", str(self.rundir / "pid"),
            "-A", f"LISTEN={listen}", "-A", f'CALLEE="{callee}"', "-A", f'HANGUP_URL="{hangup_url}"',
            "-A", f'HANGUP_SECRET="{SECRET}"', *[arg for define in defines for arg in ("-A", define)],
        ]
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(self.command, stdout=log, stderr=subprocess.STDOUT,
                                            start_new_session=True)
        wait_until(self._ready, 15, "kamailio to answer SIP")

    def _ready(self) -> bool:
        """A SIP worker answers an in-dialog OPTIONS it cannot route (``404 Not here``)."""
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"kamailio exited with {self.process.returncode}: {self.text()[-3000:]}")
        return _answers(self.address)

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process, group=True)


class Capture:
    """tcpdump recording the SIP ports on loopback into a pcap file, as an operator would capture them."""

    def __init__(self, workdir: Path, ports: Sequence[int]) -> None:
        self.path = workdir / "calls.pcap"
        self.log = workdir / "tcpdump.log"
        self.ports = tuple(ports)
        self.filter = " or ".join(f"port {port}" for port in ports)
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as log:
            # -U: write each packet at once, so the file is complete when tcpdump is stopped
            command = [tool("tcpdump") or "tcpdump", "-i", "lo", "-U", "-n", "-s", "0", "-w", str(self.path),
                       self.filter]
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        wait_until(lambda: "listening on" in self.log.read_text(errors="replace") or self._died(), 10,
                   "tcpdump to listen")

    def _died(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"tcpdump exited: {self.log.read_text(errors='replace')[-1000:]}")
        return False

    def drain(self) -> None:
        """Return once every packet sent so far is in the file, before ``stop`` drops what tcpdump has not read.

        A loaded machine leaves tcpdump behind the traffic; a marker datagram sent now is written after
        everything sent before it, so seeing it in the file means nothing before it is still unread.
        """
        marker = f"hangup-capture-drained-{time.time_ns()}".encode()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
            sender.sendto(marker, ("127.0.0.1", self.ports[0]))
        wait_until(lambda: marker in self.path.read_bytes(), 20, "tcpdump to write what was sent")

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process, group=False)


class Sipp:
    """Runs sipp scenarios: a callee in the background, then a caller to completion."""

    def __init__(self, workdir: Path, uas_port: int, uac_port: int) -> None:
        self.workdir = workdir
        self.uas_port = uas_port
        self.uac_port = uac_port

    def _command(self, scenario: Path, port: int, args: Sequence[str]) -> list[str]:
        return ["timeout", "-k", "2", str(SIPP_LIMIT), tool("sipp") or "sipp", "-sf", str(scenario), "-i", "127.0.0.1",
                "-p", str(port), "-nostdin", "-timeout", f"{int(SIPP_LIMIT)}s", *args]

    def callee(self, scenario: Path, args: Sequence[str]) -> subprocess.Popen[bytes]:
        log = (self.workdir / f"uas-{scenario.stem}.log").open("ab")
        process = subprocess.Popen(self._command(scenario, self.uas_port, args), cwd=self.workdir, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        # sipp binds its port before reading the scenario's first message; a caller sent earlier is lost
        wait_until(lambda: _udp_bound(self.uas_port) or process.poll() is not None, 5, "the sipp callee")
        return process

    def caller(self, scenario: Path, service: str, call_ids: str, args: Sequence[str], proxy: str) -> int:
        command = [*self._command(scenario, self.uac_port, args), "-s", service, "-cid_str", call_ids, proxy]
        with (self.workdir / f"uac-{scenario.stem}.log").open("ab") as log:
            return subprocess.run(command, cwd=self.workdir, stdout=log, stderr=subprocess.STDOUT,
                                  timeout=SIPP_LIMIT + 5).returncode


def _answers(address: tuple[str, int]) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        probe.settimeout(0.3)
        port = probe.getsockname()[1]
        probe.sendto((
            f"OPTIONS sip:probe@{address[0]}:{address[1]} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK-probe-{time.monotonic_ns()}\r\n"
            f"From: <sip:probe@127.0.0.1>;tag=probe\r\nTo: <sip:probe@127.0.0.1>;tag=probe\r\n"
            f"Call-ID: probe-{time.monotonic_ns()}@e2e\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 5\r\n"
            "Content-Length: 0\r\n\r\n").encode(), address)
        try:
            return probe.recv(4096).startswith(b"SIP/2.0 ")
        except OSError:
            return False


def _udp_bound(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def finish(process: subprocess.Popen[bytes]) -> int:
    """Wait for a sipp callee (bounded by its ``timeout`` wrapper) and return its exit code."""
    try:
        return process.wait(SIPP_LIMIT + 5)
    except subprocess.TimeoutExpired:
        stop(process, group=True)
        return -1

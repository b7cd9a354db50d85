"""Ingest benchmark: the Planet callback on a bare ASGI app, a naive FastAPI + SQLAlchemy app, the minimal
durable receiver (``durable.py``) and hangup.

Every server gets the same load, one after the other, on 127.0.0.1 only: the 19-key on_call_evt_cb GET
with a unique sid per request, 32 connections, a short warm-up, then ``--duration`` seconds. After each
run the rows the server stored are counted and compared with the 200 responses the load generator saw.

Setup (once)::

    .venv/bin/pip install -e '.[bench]'     # fastapi + sqlalchemy for the naive baseline
    sudo apt-get install -y wrk             # the load generator; without it a slower Python client is used

Run::

    .venv/bin/python bench/ingest/run.py                 # all four, 10 s each
    .venv/bin/python bench/ingest/run.py --duration 5 --only hangup

With ``taskset`` available the server is pinned to CPU 0 and wrk to CPU 1, so they do not compete.
Prints req/s, p50/p99 latency, server CPU per request (all threads, and the main thread: the event loop;
the rest is the store's writer thread), rows vs 200s, then hangup's ratios against the baselines.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import secrets
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
PATH = "/callbacks/planet"
REST = (HERE / "sids.lua").read_text().split('local rest = "', 1)[1].split("local threads", 1)[0]
REST = "".join(re.findall(r'"([^"]*)"', '"' + REST))


@dataclass
class Result:
    name: str
    rps: float
    p50_ms: float
    p99_ms: float
    ok: int
    rows: int
    errors: int
    connections: int
    cpu_us: float  # server CPU (user + system, all threads) per answered request
    loop_us: float = 0.0  # of which the server process's main thread (uvicorn's event loop)

    @property
    def rows_check(self) -> str:
        # wrk stops mid-flight: up to one answer per connection may be stored but not counted as a 200.
        if self.rows < self.ok:
            return f"LOST {self.ok - self.rows}"
        return "ok" if self.rows - self.ok <= self.connections else f"{self.rows - self.ok} extra"


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pinned(cpu: int, command: list[str]) -> list[str]:
    return ["taskset", "-c", str(cpu), *command] if shutil.which("taskset") and os.cpu_count() and \
        os.cpu_count() > 1 else command  # type: ignore[operator]


def server_command(name: str, port: int, workdir: Path) -> tuple[list[str], dict[str, str]]:
    uvicorn = [sys.executable, "-m", "uvicorn", "--host", "127.0.0.1", "--port", str(port), "--loop", "uvloop",
               "--http", "httptools", "--no-access-log", "--log-level", "warning", "--app-dir", str(HERE)]
    if name == "bare":
        return [*uvicorn, "bare:app"], {}
    if name == "naive":
        return [*uvicorn, "naive:app"], {"NAIVE_DB": f"sqlite:///{workdir}/naive.db"}
    if name == "durable":
        return [*uvicorn, "durable:app"], {"DURABLE_DB": str(workdir / "durable.db")}
    db = f"sqlite:///{workdir}/hangup.db"
    if name == "hangup-granian":  # granian importable (pip install granian); hangup does not depend on it
        return [sys.executable, "-m", "granian", "--interface", "asgi", "--factory", "--host", "127.0.0.1",
                "--port", str(port), "--loop", "uvloop", "--no-ws", "--log-level", "warning",
                "hangup.web.app:app_from_env"], {"HANGUP_DB": db}
    if name == "hangup-core":
        return [sys.executable, str(HERE / "hangup_core.py"), str(port), db], {}
    return [sys.executable, "-m", "hangup", "serve", "--port", str(port), "--db", db], {}


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads) from /proc; 0 where /proc is missing."""
    return cpu_seconds_of(Path(f"/proc/{pid}/stat"))


def main_thread_cpu_seconds(pid: int) -> float:
    """``cpu_seconds`` of a process's main thread only (the event loop; the store's writer is another thread)."""
    return cpu_seconds_of(Path(f"/proc/{pid}/task/{pid}/stat"))


def cpu_seconds_of(stat: Path) -> float:
    try:
        fields = stat.read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tree_cpu_seconds(pid: int) -> float:
    """``cpu_seconds`` of a process and every process below it (a server that forks its workers)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parents[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
    tree, grew = {pid}, True
    while grew:
        below = {child for child, parent in parents.items() if parent in tree} - tree
        tree |= below
        grew = bool(below)
    return sum(cpu_seconds(p) for p in tree)


def count_rows(name: str, workdir: Path, prefix: str) -> int:
    table, column, path = {"naive": ("call_events", "sid", "naive.db"), "hangup": ("calls", "id", "hangup.db"),
                           "hangup-core": ("calls", "id", "hangup.db"), "hangup-granian": ("calls", "id", "hangup.db"),
                           "durable": ("callbacks", "sid", "durable.db")}[name]
    with sqlite3.connect(workdir / path) as conn:
        return int(conn.execute(f"SELECT COUNT(*) FROM {table} WHERE {column} LIKE ?", (prefix + "%",)).fetchone()[0])


def wait_ready(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server exited: {process.returncode}")
        try:
            httpx.get(url + "/healthz", timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise SystemExit("server did not start")


# -- load generators ----------------------------------------------------------------------------
def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text.strip())
    if match is None:
        raise SystemExit(f"cannot read wrk latency {text!r}")
    value, unit = match.groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}[unit]


def run_wrk(url: str, seconds: float, connections: int, prefix: str,
            delay_ms: float = 0.0) -> tuple[float, float, float, int, int]:
    """wrk against ``url``: as fast as the server answers, or with ``delay_ms`` of wait between an answer and a
    connection's next request (a paced load, ``sids.lua``)."""
    paced = [f"{delay_ms:g}"] if delay_ms > 0 else []
    command = pinned(1, ["wrk", "-t1", f"-c{connections}", f"-d{seconds:.0f}s", "--latency", "-s",
                         str(HERE / "sids.lua"), url + PATH, "--", prefix, *paced])
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    bad = int(non2xx.group(1)) if non2xx else 0
    return (float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
            _ms(re.search(r"^\s*50%\s+(\S+)", out, re.M).group(1)),  # type: ignore[union-attr]
            _ms(re.search(r"^\s*99%\s+(\S+)", out, re.M).group(1)),  # type: ignore[union-attr]
            total - bad, bad + (sum(map(int, errors.groups())) if errors else 0))


def run_python(url: str, seconds: float, connections: int, prefix: str) -> tuple[float, float, float, int, int]:
    latencies: list[float] = []
    counts = {"ok": 0, "bad": 0}

    async def worker(client: httpx.AsyncClient, wid: int, stop_at: float) -> None:
        n = 0
        while time.monotonic() < stop_at:
            n += 1
            sid = f"{prefix}-{wid:04x}-4000-8000-{n:012d}"
            started = time.perf_counter()
            response = await client.get(f"{PATH}?sid={sid}&{REST}")
            latencies.append(time.perf_counter() - started)
            counts["ok" if response.status_code == 200 else "bad"] += 1

    async def main() -> float:
        limits = httpx.Limits(max_connections=connections)
        async with httpx.AsyncClient(base_url=url, limits=limits, timeout=10) as client:
            started = time.monotonic()
            await asyncio.gather(*(worker(client, w, started + seconds) for w in range(connections)))
            return time.monotonic() - started

    elapsed = asyncio.run(main())
    latencies.sort()
    return (len(latencies) / elapsed, latencies[len(latencies) // 2] * 1000,
            latencies[int(len(latencies) * 0.99)] * 1000, counts["ok"], counts["bad"])


def bench(name: str, seconds: float, connections: int, tool: str) -> Result:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix=f"bench-{name}-") as tmp:
        workdir = Path(tmp)
        command, env = server_command(name, port, workdir)
        process = subprocess.Popen(pinned(0, command), cwd=workdir, env={**os.environ, **env},
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            wait_ready(url, process)
            load = run_wrk if tool == "wrk" else run_python
            load(url, 2, connections, secrets.token_hex(4))  # warm-up, rows not counted
            prefix = secrets.token_hex(4)
            cpu_before, loop_before = tree_cpu_seconds(process.pid), main_thread_cpu_seconds(process.pid)
            rps, p50, p99, ok, bad = load(url, seconds, connections, prefix)
            cpu = tree_cpu_seconds(process.pid) - cpu_before
            loop = main_thread_cpu_seconds(process.pid) - loop_before
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(30)
        rows = count_rows(name, workdir, prefix) if name != "bare" else ok
    per_request = 1e6 / max(ok, 1)
    return Result(name, rps, p50, p99, ok, rows, bad, connections, cpu * per_request, loop * per_request)


def report(results: list[Result]) -> None:
    print(f"{'server':<11} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'CPU us/req':>10} {'loop us':>8} {'200s':>8} "
          f"{'rows':>8} {'errors':>7}  rows = 200s")
    for r in results:
        rows = "-" if r.name == "bare" else str(r.rows)
        check = "-" if r.name == "bare" else r.rows_check
        print(f"{r.name:<11} {r.rps:>9.0f} {r.p50_ms:>8.2f} {r.p99_ms:>8.2f} {r.cpu_us:>10.1f} {r.loop_us:>8.1f} "
              f"{r.ok:>8} {rows:>8} {r.errors:>7}  {check}")
    by = {r.name: r for r in results}
    if "hangup" in by:
        h = by["hangup"]
        if "naive" in by:
            print(f"hangup / naive = {h.rps / by['naive'].rps:.1f}x   (target >= 25x)")
        if "bare" in by:
            print(f"hangup / bare  = {h.rps / by['bare'].rps:.2f}x  (target >= 0.25x); "
                  f"by server CPU per request: {by['bare'].cpu_us / h.cpu_us:.2f}x")
        if "durable" in by:
            print(f"hangup / durable = {h.rps / by['durable'].rps:.2f}x  (target >= 0.9x); "
                  f"by server CPU per request: {by['durable'].cpu_us / h.cpu_us:.2f}x")
        print(f"hangup p99     = {h.p99_ms:.2f} ms  (target < 15 ms)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per measured run (max 60)")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--only", default="bare,naive,durable,hangup",
                        help="comma-separated subset of bare, naive, durable (the 19 keys stored through a "
                             "group-commit SQLite writer, synchronous=FULL, nothing else), hangup, hangup-core "
                             "(hangup without the app's write hooks: statistics rollups, metrics), hangup-granian "
                             "(the same app on granian instead of uvicorn, if granian is importable)")
    parser.add_argument("--tool", choices=("wrk", "python"), default="wrk" if shutil.which("wrk") else "python")
    args = parser.parse_args()
    seconds = min(max(args.duration, 1.0), 60.0)
    if args.tool == "python":
        print("wrk not found (sudo apt-get install -y wrk); using the slower Python client, which caps the rates")
    names = [n for n in args.only.split(",") if n]
    print(f"load: {args.tool}, {args.connections} connections, {seconds:.0f} s per server, 19-key GET, unique sids; "
          f"cpus: {os.cpu_count()}, pinned: {bool(shutil.which('taskset'))}")
    report([bench(name, seconds, args.connections, args.tool) for name in names])


if __name__ == "__main__":
    os.chdir(ROOT)
    main()

"""``hangup simulate``: simulated call-event callbacks, sent to a receiver or written to a file."""

from __future__ import annotations

import asyncio
import sys
import time
from collections import Counter
from collections.abc import Iterable
from typing import IO

import click
import httpx

from hangup.emit.signature import SIGNATURE_HEADER, sign
from hangup.emit.simulate import SimulatedCall, Simulator

SEEDED_START = 1_767_225_600  # 2026-01-01T00:00:00Z: the default start of a seeded run, so its output is fixed


@click.command("simulate")
@click.option("--rate", type=click.FloatRange(min=0.001), default=5.0, show_default=True, help="Calls per second.")
@click.option("--duration", type=click.FloatRange(min=0), default=60.0, show_default=True, help="Seconds of traffic.")
@click.option("--seed", type=int, default=None, help="Random seed: the same seed and start give the same output.")
@click.option("--start", type=int, default=None, help="Unix time of the first call end [default: now; with --seed, "
              "2026-01-01T00:00:00Z].")  # fmt: skip
@click.option("--target", metavar="URL", help="Receiver URL to send each callback to (HTTP GET, in real time).")
@click.option("--out", type=click.File("w"), help="File to write one callback query string per line ('-' = stdout).")
@click.option("--fast", is_flag=True, help="With --target: send as fast as possible instead of in real time.")
@click.option("--stid", default="sim", show_default=True, help="stid of every callback (marks simulated data).")
@click.option("--users", type=click.IntRange(min=2), default=200, show_default=True, help="Users to draw from.")
@click.option("--anomalies", type=click.FloatRange(0, 1), default=0.01, show_default=True,
              help="Share of callbacks with a contradiction a receiver must flag.")  # fmt: skip
@click.option("--secret", envvar="HANGUP_EMIT_SECRET", default="", help="Sign requests (X-Hangup-Signature).")
@click.option("--concurrency", type=click.IntRange(min=1), default=16, show_default=True,
              help="Requests in flight with --target.")  # fmt: skip
@click.option("--quiet", is_flag=True, help="No progress bar.")
def simulate(
    rate: float, duration: float, seed: int | None, start: int | None, target: str | None, out: IO[str] | None,
    fast: bool, stid: str, users: int, anomalies: float, secret: str, concurrency: int, quiet: bool,
) -> None:  # fmt: skip
    """Simulate realistic call-event traffic: about 55 % answered, busy, no-answer, cancel, reject and failures."""
    if (target is None) == (out is None):
        raise click.UsageError("give exactly one of --target URL or --out FILE")
    if start is None:
        start = SEEDED_START if seed is not None else int(time.time())
    simulator = Simulator(seed, users=users, stid=stid or None, anomaly_share=anomalies)
    calls = simulator.calls(rate, duration, start)
    if out is not None:
        written = _write(calls, out, expected=int(rate * duration), quiet=quiet or out is sys.stdout)
        click.echo(f"wrote {written} callbacks", err=True)
        return
    assert target is not None
    statuses = asyncio.run(_send(list(calls), target, fast, secret, concurrency, quiet))
    summary = ", ".join(f"{status}: {n}" for status, n in sorted(statuses.items()))
    click.echo(f"sent {sum(statuses.values())} callbacks ({summary})", err=True)
    if any(not str(s).startswith("2") for s in statuses):
        sys.exit(1)


def _write(calls: Iterable[SimulatedCall], out: IO[str], expected: int, quiet: bool) -> int:
    written = 0
    with click.progressbar(length=max(1, expected), label="simulating", file=sys.stderr, hidden=quiet) as bar:
        for call in calls:
            out.write(call.event.to_query() + "\n")
            written += 1
            bar.update(1)
    return written


async def _send(
    calls: list[SimulatedCall], target: str, fast: bool, secret: str, concurrency: int, quiet: bool
) -> Counter[str]:
    statuses: Counter[str] = Counter()
    limit = asyncio.Semaphore(concurrency)
    separator = "&" if "?" in target else "?"
    began = time.monotonic()

    async def send(client: httpx.AsyncClient, call: SimulatedCall) -> None:
        query = call.event.to_query()
        headers = {SIGNATURE_HEADER: sign(secret, query, int(time.time()))} if secret else {}
        try:
            response = await client.get(f"{target}{separator}{query}", headers=headers)
            statuses[str(response.status_code)] += 1
        except httpx.HTTPError as exc:
            statuses[type(exc).__name__] += 1
        finally:
            limit.release()

    tasks: set[asyncio.Task[None]] = set()
    async with httpx.AsyncClient(timeout=10.0, trust_env=False) as client:
        with click.progressbar(length=len(calls), label="sending", file=sys.stderr, hidden=quiet) as bar:
            for call in calls:
                if not fast:
                    await asyncio.sleep(max(0.0, call.offset - (time.monotonic() - began)))
                await limit.acquire()
                task = asyncio.create_task(send(client, call))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
                bar.update(1)
            await asyncio.gather(*tasks)
    return statuses

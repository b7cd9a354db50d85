"""What a call end costs through ``hangup.ingest.receive`` on a platform whose detections come on their own.

In one process, with no HTTP server: ``--ends`` hangup callbacks of ``--platform`` (Plivo: the adapter tests'
completed call, ``tests/data/plivo/completed_caller.form``; Twilio: ``tests/data/twilio/completed.form``; a
unique call id each) go through ``receive`` into a new SQLite store opened as ``hangup serve`` opens it
(``synchronous=FULL``, the standard write hooks), ``--concurrency`` at a time on one event loop, as the
receiver's connections hand them over. Two variants: the ends alone, and each end after its call's detection
request (Plivo's ``MachineDetection``, Twilio's ``AsyncAmdStatusCallback``) was kept (only the ends are timed;
``--variants`` picks, for a tree whose adapter reads no detection). Reported per end: wall µs, CPU µs
(``time.process_time``: every thread, the writer's commits and fsyncs included), and the writer operations and
batches it took (``writer_stats``), medians of ``--rounds``. Signatures are not checked (``*_accept_unsigned``),
so the numbers are the store path's.

Run with the tree to measure on ``PYTHONPATH`` (this script reads only what both trees have)::

    PYTHONPATH=$PWD .venv/bin/python bench/ingest/detections.py --rounds 3
    PYTHONPATH=$PWD .venv/bin/python bench/ingest/detections.py --platform twilio --rounds 3
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

from hangup import ingest
from hangup.composition import open_configured_store
from hangup.providers.base import WebhookRequest
from hangup.providers.registry import providers
from hangup.settings import load_settings
from hangup.store.base import Store

DATA = Path(__file__).resolve().parents[2] / "tests/data"
VARIANTS = ("ends alone", "detection first")


@dataclass(frozen=True)
class Platform:
    end: str  # a recorded call end's form body
    call_id: str  # its call id, replaced by each end's own
    id_format: str  # a unique call id of (round, n)
    detection: Callable[[str], dict[str, str]]  # the parameters of a detection request for a call id


PLATFORMS = {
    # plivo.com "Asynchronous machine detection"
    "plivo": Platform((DATA / "plivo/completed_caller.form").read_text().strip(),
                      "70ce9e67-9a4b-4b4a-8c8e-5b7f0d2e1a11", "70ce9e67-9a4b-4b4a-{:04d}-{:012d}",
                      lambda call: {"CallUUID": call, "ALegUUID": call, "Event": "MachineDetection", "Machine": "false",
                                    "CallStatus": "in-progress", "Direction": "outbound"}),
    # twilio.com/docs/voice/answering-machine-detection (AsyncAmdStatusCallback)
    "twilio": Platform((DATA / "twilio/completed.form").read_text().strip(),
                       "CA0f1e2d3c4b5a69788796a5b4c3d2e1f0", "CA{:04d}{:028d}",
                       lambda call: {"AccountSid": "AC95a1b2c3d4e5f60718293a4b5c6d7e8f", "CallSid": call,
                                     "AnsweredBy": "human", "MachineDetectionDuration": "2400"}),
}


def _request(name: str, body: str) -> WebhookRequest:
    return WebhookRequest("POST", f"http://127.0.0.1/callbacks/{name}", "", body.encode(),
                          {"content-type": "application/x-www-form-urlencoded"}, received_at=time.time())


async def _receive_all(name: str, requests: list[WebhookRequest], store: Store, concurrency: int) -> None:
    adapter, secrets = providers()[name], {f"{name}_accept_unsigned": "1"}  # the store path, not the signature
    for start in range(0, len(requests), concurrency):
        await asyncio.gather(*(ingest.receive(adapter, r, store, secrets)
                               for r in requests[start:start + concurrency]))


def run(name: str, variant: str, round_: int, ends: int, concurrency: int) -> tuple[float, float, float, float]:
    """(wall µs, CPU µs, writer operations, writer batches) per end."""
    platform = PLATFORMS[name]
    calls = [platform.id_format.format(round_, n) for n in range(ends)]
    end_requests = [_request(name, platform.end.replace(platform.call_id, c)) for c in calls]
    with tempfile.TemporaryDirectory(prefix="bench-detections-") as tmp:
        store = open_configured_store(load_settings({}), f"sqlite:///{tmp}/hangup.db")
        try:
            warm = [_request(name, platform.end.replace(platform.call_id, platform.id_format.format(9999, n)))
                    for n in range(concurrency)]
            asyncio.run(_receive_all(name, warm, store, concurrency))
            if variant == "detection first":
                detections = [_request(name, urlencode(platform.detection(c))) for c in calls]
                asyncio.run(_receive_all(name, detections, store, concurrency))
            stats = store.writer_stats()
            events, batches = stats.events, stats.batches
            wall, cpu = time.perf_counter(), time.process_time()
            asyncio.run(_receive_all(name, end_requests, store, concurrency))
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            stats = store.writer_stats()
            assert store.count() == ends + len(warm)
            return (wall / ends * 1e6, cpu / ends * 1e6, (stats.events - events) / ends,
                    (stats.batches - batches) / ends)
        finally:
            store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--platform", choices=sorted(PLATFORMS), default="plivo")
    parser.add_argument("--ends", type=int, default=2000, help="call ends per variant and round")
    parser.add_argument("--concurrency", type=int, default=32, help="ends in flight at once")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated, of: " + ", ".join(VARIANTS))
    args = parser.parse_args()
    variants = args.variants.split(",")
    measured: dict[str, list[tuple[float, float, float, float]]] = {v: [] for v in variants}
    for round_ in range(args.rounds):
        for variant in variants:
            measured[variant].append(run(args.platform, variant, round_, args.ends, args.concurrency))
    print(f"{args.ends} {args.platform} ends, {args.concurrency} at a time, {args.rounds} rounds;"
          " per end, median (all)")
    for variant in variants:
        columns = list(zip(*measured[variant], strict=True))
        cells = [f"{name} {statistics.median(values):7.1f} ({', '.join(f'{x:.1f}' for x in values)})"
                 for name, values in zip(("wall µs", "CPU µs"), columns[:2], strict=True)]
        print(f"{variant:<16} {'  '.join(cells)}  writer ops {statistics.median(columns[2]):.2f}"
              f"  batches {statistics.median(columns[3]):.3f}")


if __name__ == "__main__":
    main()

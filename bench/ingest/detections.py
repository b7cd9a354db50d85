"""What a Plivo call end costs through ``hangup.ingest.receive`` (a platform whose detections come on their own).

In one process, with no HTTP server: ``--ends`` Plivo hangup callbacks (the adapter tests' completed call,
``tests/data/plivo/completed_caller.form``, a unique ``CallUUID`` each) go through ``receive`` into a new SQLite
store opened as ``hangup serve`` opens it (``synchronous=FULL``, the standard write hooks), ``--concurrency``
at a time on one event loop, as the receiver's connections hand them over. Two variants: the ends alone, and
each end after its call's ``MachineDetection`` request was kept (only the ends are timed). Reported per end:
wall µs, CPU µs (``time.process_time``: every thread, the writer's commits and fsyncs included), and the writer
operations and batches it took (``writer_stats``), medians of ``--rounds``. Signatures are not checked
(``plivo_accept_unsigned``), so the numbers are the store path's.

Run with the tree to measure on ``PYTHONPATH`` (this script reads only what both trees have)::

    PYTHONPATH=$PWD .venv/bin/python bench/ingest/detections.py --rounds 3
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

from hangup import ingest
from hangup.composition import open_configured_store
from hangup.providers.base import WebhookRequest
from hangup.providers.registry import providers
from hangup.settings import load_settings
from hangup.store.base import Store

END = (Path(__file__).resolve().parents[2] / "tests/data/plivo/completed_caller.form").read_text().strip()
TEMPLATE_UUID = "70ce9e67-9a4b-4b4a-8c8e-5b7f0d2e1a11"
VARIANTS = ("ends alone", "detection first")
PLIVO = providers()["plivo"]
SECRETS = {"plivo_accept_unsigned": "1"}  # the store path is measured, not the signature check


def _request(body: str) -> WebhookRequest:
    return WebhookRequest("POST", "http://127.0.0.1/callbacks/plivo", "", body.encode(),
                          {"content-type": "application/x-www-form-urlencoded"}, received_at=time.time())


def _uuid(round_: int, n: int) -> str:
    return f"70ce9e67-9a4b-4b4a-{round_:04d}-{n:012d}"


def _detection(call_uuid: str) -> WebhookRequest:
    """Plivo's MachineDetection parameters (plivo.com "Asynchronous machine detection")."""
    return _request(urlencode({"CallUUID": call_uuid, "ALegUUID": call_uuid, "Event": "MachineDetection",
                               "Machine": "false", "CallStatus": "in-progress", "Direction": "outbound"}))


async def _receive_all(requests: list[WebhookRequest], store: Store, concurrency: int) -> None:
    for start in range(0, len(requests), concurrency):
        await asyncio.gather(*(ingest.receive(PLIVO, r, store, SECRETS)
                               for r in requests[start:start + concurrency]))


def run(variant: str, round_: int, ends: int, concurrency: int) -> tuple[float, float, float, float]:
    """(wall µs, CPU µs, writer operations, writer batches) per end."""
    uuids = [_uuid(round_, n) for n in range(ends)]
    end_requests = [_request(END.replace(TEMPLATE_UUID, u)) for u in uuids]
    with tempfile.TemporaryDirectory(prefix="bench-detections-") as tmp:
        store = open_configured_store(load_settings({}), f"sqlite:///{tmp}/hangup.db")
        try:
            warm = [_request(END.replace(TEMPLATE_UUID, _uuid(9999, n))) for n in range(concurrency)]
            asyncio.run(_receive_all(warm, store, concurrency))
            if variant == "detection first":
                asyncio.run(_receive_all([_detection(u) for u in uuids], store, concurrency))
            stats = store.writer_stats()
            events, batches = stats.events, stats.batches
            wall, cpu = time.perf_counter(), time.process_time()
            asyncio.run(_receive_all(end_requests, store, concurrency))
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            stats = store.writer_stats()
            assert store.count() == ends + len(warm)
            return (wall / ends * 1e6, cpu / ends * 1e6, (stats.events - events) / ends,
                    (stats.batches - batches) / ends)
        finally:
            store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--ends", type=int, default=2000, help="call ends per variant and round")
    parser.add_argument("--concurrency", type=int, default=32, help="ends in flight at once")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    measured: dict[str, list[tuple[float, float, float, float]]] = {v: [] for v in VARIANTS}
    for round_ in range(args.rounds):
        for variant in VARIANTS:
            measured[variant].append(run(variant, round_, args.ends, args.concurrency))
    print(f"{args.ends} Plivo ends, {args.concurrency} at a time, {args.rounds} rounds; per end, median (all)")
    for variant in VARIANTS:
        columns = list(zip(*measured[variant], strict=True))
        cells = [f"{name} {statistics.median(values):7.1f} ({', '.join(f'{x:.1f}' for x in values)})"
                 for name, values in zip(("wall µs", "CPU µs"), columns[:2], strict=True)]
        print(f"{variant:<16} {'  '.join(cells)}  writer ops {statistics.median(columns[2]):.2f}"
              f"  batches {statistics.median(columns[3]):.3f}")


if __name__ == "__main__":
    main()

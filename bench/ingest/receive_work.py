"""The work of a Planet callback without HTTP, for counting its instructions.

``hangup.ingest.receive`` of ``N`` on_call_evt_cb requests (the 19 keys of ``bench/ingest/sids.lua``, a
unique sid each), 30 at a time as 32 connections give the writer, into a fresh SQLite store opened as
``hangup serve`` opens it. Under ``valgrind --tool=callgrind`` the count does not depend on what else the
machine runs, so it compares two versions of the callback path where timings on a shared machine cannot;
start-up cancels out of the difference of two runs::

    PYTHONHASHSEED=0 valgrind --tool=callgrind --callgrind-out-file=/dev/null \
        python bench/ingest/receive_work.py 300
    (the same with 900); instructions per callback = (900 − 300) / 600
"""

from __future__ import annotations

import asyncio
import sys
import tempfile

from hangup import ingest
from hangup.composition import open_store
from hangup.providers.base import WebhookRequest
from hangup.providers.registry import get_provider

REST = ("type=A&from_service_id=planetkit&from_user_id=caller.id&to_service_id=planetkit&to_user_id=callee.id"
        "&stid=bench&setup_time=1700000000&start_time=1700000005&end_time=1700000035&duration=30"
        "&srcip=1.2.3.4&dstip=1.2.3.3&call_end_reason=1004&terminate=16&releaser=initiator"
        "&rel_code=2&rel_code_str=NORMAL&user_rel_code=")
AT_ONCE = 30


async def receive_all(count: int, url: str) -> None:
    store = open_store(url)
    planet = get_provider("planet")
    try:
        for first in range(0, count, AT_ONCE):
            requests = [WebhookRequest("GET", "/callbacks/planet", f"sid=00000000-0000-4000-8000-{i:012d}&{REST}",
                                       received_at=1_700_000_040.0) for i in range(first, min(count, first + AT_ONCE))]
            await asyncio.gather(*(ingest.receive(planet, r, store, {}) for r in requests))
    finally:
        store.close()


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    with tempfile.TemporaryDirectory(prefix="bench-receive-") as tmp:
        asyncio.run(receive_all(count, f"sqlite:///{tmp}/calls.db"))


if __name__ == "__main__":
    main()

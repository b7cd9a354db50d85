"""The durable floor: a plain ASGI app that stores the 19 Planet keys of each callback and answers 200 after
the row is on disk, with nothing else (no validation, classification, rollups, metrics, quarantine).

Requests hand their row to one writer thread, which takes every row waiting, inserts them with one
``executemany`` and commits (SQLite WAL, ``synchronous=FULL``: the commit waits for the disk), then answers
each request of the batch: the same group commit hangup's writer does. A repeated sid is ignored (``INSERT
OR IGNORE`` on the primary key), as hangup answers a repeat without storing it twice. Run by
``bench/ingest/run.py`` with ``DURABLE_DB`` naming the file.
"""

from __future__ import annotations

import asyncio
import os
import queue
import sqlite3
import threading
from typing import Any
from urllib.parse import parse_qsl

KEYS = ("sid", "from_service_id", "from_user_id", "to_service_id", "to_user_id", "type", "stid", "setup_time",
        "start_time", "end_time", "duration", "srcip", "dstip", "call_end_reason", "terminate", "releaser",
        "rel_code", "rel_code_str", "user_rel_code")
_INSERT = f"INSERT OR IGNORE INTO callbacks ({', '.join(KEYS)}) VALUES ({', '.join('?' * len(KEYS))})"
_START = {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]}
_BODY = {"type": "http.response.body", "body": b"ok"}
_BAD = {"type": "http.response.start", "status": 503, "headers": [(b"content-type", b"text/plain")]}

Pending = tuple[tuple[str | None, ...], asyncio.Future[bool], asyncio.AbstractEventLoop]
_queue: queue.SimpleQueue[Pending | None] = queue.SimpleQueue()


def _writer(path: str) -> None:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute(f"CREATE TABLE IF NOT EXISTS callbacks ({KEYS[0]} TEXT PRIMARY KEY, "
                 + ", ".join(f"{k} TEXT" for k in KEYS[1:]) + ")")
    while True:
        first = _queue.get()
        if first is None:
            return
        batch = [first]
        while True:
            try:
                item = _queue.get_nowait()
            except queue.Empty:
                break
            if item is None:
                _queue.put(None)
                break
            batch.append(item)
        try:
            conn.execute("BEGIN")
            conn.executemany(_INSERT, [row for row, _, _ in batch])
            conn.execute("COMMIT")
            ok = True
        except sqlite3.Error:
            conn.rollback()
            ok = False
        for _, future, loop in batch:
            loop.call_soon_threadsafe(_settle, future, ok)


def _settle(future: asyncio.Future[bool], ok: bool) -> None:
    if not future.done():
        future.set_result(ok)


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                threading.Thread(target=_writer, args=(os.environ["DURABLE_DB"],), daemon=True).start()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                _queue.put(None)
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["path"] == "/healthz":
        await send(_START)
        await send(_BODY)
        return
    values = dict(parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True))
    loop = asyncio.get_running_loop()
    future: asyncio.Future[bool] = loop.create_future()
    _queue.put((tuple(values.get(k) for k in KEYS), future, loop))
    stored = await future
    await send(_START if stored else _BAD)
    await send(_BODY)

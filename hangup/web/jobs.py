"""The repeating jobs of ``hangup serve`` (``hangup.composition.repeating_jobs``), each a loop while serving.

A job's step runs in the thread pool (it reads and writes the database), at start and then every
``every`` seconds. A failure is logged and tried again next time: it must stop neither the loop nor the
server. On leaving, the job's ``stop`` event is set, so a long step ends after its current chunk.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator

from starlette.concurrency import run_in_threadpool

from hangup.composition import Job, repeating_jobs
from hangup.web.dashboard_api import stats_service
from hangup.web.state import AppState


@contextlib.asynccontextmanager
async def lifespan(state: AppState) -> AsyncIterator[None]:
    """Run every job the settings ask for while serving."""
    async with contextlib.AsyncExitStack() as stack:
        for job in repeating_jobs(state.store, state.settings, stats_service(state)):
            stack.callback(job.close)
            await stack.enter_async_context(_repeating(job))
        yield


@contextlib.asynccontextmanager
async def _repeating(job: Job) -> AsyncIterator[None]:
    stop = threading.Event()

    async def loop() -> None:
        while True:
            try:
                await run_in_threadpool(job.step, stop)
            except Exception:
                job.logger.exception(job.failure)
            await asyncio.sleep(job.every)

    task = asyncio.create_task(loop())
    try:
        yield
    finally:
        stop.set()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

"""``hangup emitter``: deliver the outbox's callbacks to the receiver, close orphaned calls, take call events."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
from urllib.parse import urlsplit

import click
import uvicorn

from hangup.cli.db import db_option
from hangup.cli.serve import refuse_unprotected
from hangup.emit.api import create_emitter_app
from hangup.emit.delivery import DeliveryConfig
from hangup.emit.outbox import open_outbox
from hangup.emit.service import Emitter
from hangup.errors import ConfigError, HangupError
from hangup.settings import Settings, listen_address, load_settings
from hangup.types import ASGIApp
from hangup.web.app import PROTECTED_PREFIXES
from hangup.web.auth import BrowserGuard, TokenAuth, allowed_hosts


def _listen_address(value: str) -> tuple[str, int]:
    try:
        return listen_address(value, "--listen")
    except ConfigError as exc:
        raise click.BadParameter(str(exc), param_hint="--listen") from None


@click.command("emitter")
@click.option("--url", envvar="HANGUP_EMIT_URL", required=True, help="Receiver URL of the call-event callback "
              "(HANGUP_EMIT_URL), e.g. http://app.example:20200/call_event.")  # fmt: skip
@db_option
@click.option("--secret", envvar="HANGUP_EMIT_SECRET", default="", help="HMAC-SHA256 signing secret.")
@click.option("--listen", metavar="HOST:PORT", help="Also take POST /api/events/call-ended|call-started here.")
@click.option("--timeout", type=click.FloatRange(min=0.1), default=10.0, show_default=True,
              help="Seconds per request.")  # fmt: skip
@click.option("--per-destination", type=click.IntRange(min=1), default=8, show_default=True,
              help="Requests in flight to one receiver.")  # fmt: skip
@click.option("--max-age", type=click.FloatRange(min=1), default=86_400.0, show_default=True,
              help="Seconds after which an undelivered callback is dead-lettered.")  # fmt: skip
@click.option("--backoff", type=click.FloatRange(min=0.01), default=1.0, show_default=True,
              help="Seconds before the first retry; doubles per attempt, with jitter.")  # fmt: skip
@click.option("--backoff-cap", type=click.FloatRange(min=0.01), default=300.0, show_default=True,
              help="Longest wait between attempts.")  # fmt: skip
@click.option("--lease", type=click.FloatRange(min=1), default=60.0, show_default=True,
              help="Seconds before a claimed but unfinished delivery (a killed emitter) is sent again.")  # fmt: skip
@click.option("--orphan-timeout", type=click.FloatRange(min=1), default=3600.0, show_default=True,
              help="Seconds after call-started with no call-ended before the call is closed as orphaned.")  # fmt: skip
def emitter(
    url: str, db: str, secret: str, listen: str | None, timeout: float, per_destination: int, max_age: float,
    backoff: float, backoff_cap: float, lease: float, orphan_timeout: float,
) -> None:  # fmt: skip
    """Deliver queued call-event callbacks with retries until stopped (SIGTERM or Ctrl-C)."""
    if urlsplit(url).scheme not in ("http", "https"):
        raise click.BadParameter(f"expected an http(s) URL, got {url!r}", param_hint="--url")
    address = _listen_address(listen) if listen else None
    try:
        settings = load_settings()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    if address is not None:
        refuse_unprotected(address[0], settings)
    config = DeliveryConfig(
        timeout=timeout, per_destination=per_destination, max_age=max_age, backoff_base=backoff,
        backoff_cap=backoff_cap, lease=lease, secret=secret,
    )  # fmt: skip
    try:
        outbox = open_outbox(db)
    except (HangupError, sqlite3.Error) as exc:
        raise click.ClickException(f"cannot open the outbox at {db}: {exc}") from exc
    try:
        asyncio.run(_run(Emitter(outbox, url, config, orphan_timeout=orphan_timeout), address, settings))
    finally:
        outbox.close()


def listener_app(emitter: Emitter, host: str, settings: Settings) -> ASGIApp:
    """The ``--listen`` app behind the server's own guards: the API token when set, else the browser guard."""
    inner = create_emitter_app(emitter)
    app: ASGIApp = TokenAuth(inner, settings.api_token, PROTECTED_PREFIXES)
    return BrowserGuard(app, settings.api_token, [host, *allowed_hosts(settings)], inner.routes)


async def _run(emitter: Emitter, address: tuple[str, int] | None, settings: Settings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    worker = asyncio.create_task(emitter.run(stop))
    if address is None:
        click.echo(f"hangup emitter: delivering to {emitter.destination}", err=True)
        await worker
        return
    config = uvicorn.Config(listener_app(emitter, address[0], settings), host=address[0], port=address[1],
                            log_level="warning")
    server = uvicorn.Server(config)
    click.echo(f"hangup emitter: delivering to {emitter.destination}; events at http://{address[0]}:{address[1]}",
               err=True)  # fmt: skip
    serving = asyncio.create_task(server.serve())
    await asyncio.wait({serving, asyncio.create_task(stop.wait())}, return_when=asyncio.FIRST_COMPLETED)
    server.should_exit = True
    stop.set()
    await serving
    await worker

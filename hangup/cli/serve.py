"""``hangup serve``: the receiver, the API and the docs on uvicorn (uvloop + httptools).

Every option falls back to its ``HANGUP_*`` variable (``docs/settings.md``). A host other than loopback
is refused without ``HANGUP_API_TOKEN`` unless ``--insecure`` is given, so the call log is never
published by accident.
"""

from __future__ import annotations

import os
from typing import Any

import click

from hangup.errors import ConfigError
from hangup.settings import BY_NAME, Settings, cast, listen_address, load_settings
from hangup.web.auth import is_loopback
from hangup.web.deadline import DeadlineProtocol

#: uvicorn's own limits, set so that its answers to oversized or malformed requests are 4xx, never 5xx.
#: ``http`` is httptools with a per-request read deadline (``hangup.web.deadline``, HANGUP_REQUEST_READ_TIMEOUT):
#: uvicorn itself never times out a request that is being sent.
UVICORN_OPTIONS: dict[str, Any] = {
    "loop": "uvloop",
    "http": DeadlineProtocol,
    "access_log": False,
    "server_header": False,
    "proxy_headers": False,
    "timeout_keep_alive": 30,
    "h11_max_incomplete_event_size": 64 * 1024,
}


def _option(name: str, value: str | None) -> Any:
    return None if value is None else cast(BY_NAME[name], value)


def resolve_settings(host: str | None, port: str | None, db: str | None, workers: str | None,
                     insecure: bool, hep: str | None = None) -> Settings:
    """Environment first, then the command line; refuse an unprotected public listener."""
    try:
        settings = load_settings().with_overrides(
            host=host, port=_option("port", port), db=db, workers=_option("workers", workers),
            insecure=True if insecure else None, hep_listen=_option("hep_listen", hep),
        )
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    _check_hep(settings)
    refuse_unprotected(settings.host, settings)
    return settings


def refuse_unprotected(host: str, settings: Settings) -> None:
    """A listener on a host other than loopback needs HANGUP_API_TOKEN, or an explicit HANGUP_INSECURE."""
    if not is_loopback(host) and not settings.api_token and not settings.insecure:
        raise click.ClickException(
            f"refusing to listen on {host} without an API token: set HANGUP_API_TOKEN "
            "(or pass --insecure to publish the call log without one)"
        )


def _check_hep(settings: Settings) -> None:
    """The HEP listener needs one process (one dialog engine) and, off loopback, a capture password."""
    if not settings.hep_listen:
        return
    if settings.workers > 1:
        raise click.ClickException("the HEP listener needs --workers 1: every message of a dialog must reach "
                                   "the same process")
    host, _ = listen_address(settings.hep_listen)
    if not is_loopback(host) and not settings.hep_password and not settings.insecure:
        raise click.ClickException(f"refusing to take HEP on {host} without a capture password: set "
                                   "HANGUP_HEP_PASSWORD (or pass --insecure)")


@click.command()
@click.option("--host", default=None, help="Listen address (HANGUP_HOST, default 127.0.0.1).")
@click.option("--port", default=None, help="TCP port (HANGUP_PORT, default 8080).")
@click.option("--db", default=None, help="Store URL (HANGUP_DB, default sqlite:///./hangup.db).")
@click.option("--workers", default=None, help="Worker processes (HANGUP_WORKERS, default 1).")
@click.option("--insecure", is_flag=True, help="Allow a non-loopback host without HANGUP_API_TOKEN.")
@click.option("--demo", is_flag=True, help="Feed simulated demo traffic into this server.")
@click.option("--hep", default=None, metavar="HOST:PORT",
              help="Take mirrored SIP as HEP on this address, UDP and TCP (HANGUP_HEP_LISTEN; docs/sip.md).")
def serve(host: str | None, port: str | None, db: str | None, workers: str | None, insecure: bool,
          demo: bool, hep: str | None) -> None:
    """Receive call-end callbacks and serve the call-log API."""
    import uvicorn

    settings = resolve_settings(host, port, db, workers, insecure, hep)
    if demo:
        settings = settings.with_overrides(demo=True)  # worker processes get it through as_env() below
    click.echo(f"hangup: listening on http://{settings.host}:{settings.port}  store {settings.db}  "
               f"callbacks at {settings.planet_path} and /callbacks/{{provider}}", err=True)
    # Worker processes build their app from the environment, and the read deadline is read from it in every one.
    os.environ.update(settings.as_env())
    options = {**UVICORN_OPTIONS, "limit_concurrency": settings.max_connections}
    if settings.workers > 1:
        uvicorn.run("hangup.web.app:app_from_env", factory=True, host=settings.host, port=settings.port,
                    workers=settings.workers, **options)
        return
    from hangup.web.app import create_app

    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, **options)

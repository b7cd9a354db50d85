"""The contract every platform adapter fulfils.

An adapter turns one webhook request (or one imported row) of its platform into canonical
``CallRecord`` values. It is a module ``hangup/providers/<name>.py`` that opens with constants
naming the platform's payload keys, and exposes an object (``Provider``) with:

``name``
    the adapter's name, used in ``/callbacks/{name}``, ``--format`` and ``CallRecord.provider``.
``methods``
    the HTTP methods the platform uses for this webhook.
``verify(request, secrets)``
    check the platform's signature or credentials; raise ``Unauthorized`` (401, missing) or
    ``Forbidden`` (403, wrong) naming the reason. Called before anything is parsed or stored.
    ``secrets`` holds the values of every adapter's settings rows (and ``public_url``), as strings.
``parse(request)``
    return the ``CallRecord`` of a call-end event, ``None`` for an event that is not a call end
    (ringing, answered …), or raise ``PayloadError`` naming every bad field. Build the record with
    ``hangup.providers.draft.RecordDraft``, which classifies it through ``hangup.causes.classify``.

and, optionally, describes itself (each has an empty default):

``settings``
    ``SettingRow`` values: the ``HANGUP_*`` settings it reads, usually its credential and
    ``<name>_accept_unsigned`` (``hangup.providers._common.credential_settings``).
``kept_headers``
    request headers worth keeping with a quarantined request (its signature headers).
``flags``
    ``{flag: meaning}`` of the flags it sets on records itself, for explanations.
``imports``
    ``{format: ImportFormat}`` of the files ``hangup import --format`` reads with it, and how such a
    file is recognised (``hangup.providers.reading``).
``reclassify(record)``
    the stored record read again from its ``raw`` with today's catalog, or ``None`` when ``raw``
    does not read as that call any more; ``hangup reclassify`` keeps what the adapter knew (who hung
    up, reported codes) only through this. Without it, the stored cause references are classified
    again on their own.
``detection(request)``
    for a request that reports only who answered a call (an answering-machine detection result sent
    while the call goes on, which ``parse`` answers ``None``): ``(the platform's call id, {native key:
    value})``, else ``None``. The receiver keeps it and adds it to the call's end (``hangup.ingest``).
    ``parse`` refuses one that names no call (``_common.detected_call``), so it is quarantined, not kept.

Built-in adapters are listed in ``hangup.providers.registry``; other packages register theirs
through the ``hangup.providers`` entry-point group.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import IO, NamedTuple, Protocol
from urllib.parse import parse_qsl

from hangup.errors import HTTPError
from hangup.records import CallRecord

_NO_HEADERS: Mapping[str, str] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class WebhookRequest:
    """A received request as adapters see it, independent of the web framework."""

    method: str  # "GET" or "POST"
    url: str  # the full URL the platform called (HANGUP_PUBLIC_URL applied), used by signature schemes
    query: str  # raw query string, undecoded
    body: bytes = b""  # raw body
    headers: Mapping[str, str] = field(default_factory=lambda: _NO_HEADERS)  # lower-case names
    received_at: float = 0.0  # Unix s
    client: str = ""  # peer address

    def form(self) -> dict[str, str]:
        """Query and form-encoded body merged (body wins), the way platforms send hangup callbacks."""
        params = dict(parse_qsl(self.query, keep_blank_values=True))
        if self.body and "json" not in self.headers.get("content-type", ""):
            params.update(parse_qsl(self.body.decode("utf-8", "replace"), keep_blank_values=True))
        return params


@dataclass(frozen=True, slots=True)
class Item:
    """One event of an imported file: a record, a rejection, or neither (not a call end)."""

    location: str  # "line 12", "row 7", "document"
    record: CallRecord | None = None
    error: HTTPError | None = None
    raw: str = ""


#: A reader: (text stream, the time to record as received) → an ``Item`` per call-end event.
ImportReader = Callable[[IO[str], float], Iterator[Item]]


@dataclass(frozen=True, slots=True)
class ImportFormat:
    """A file format an adapter reads for ``hangup import --format NAME`` (``hangup.providers.reading``
    holds the building blocks of readers)."""

    read: ImportReader
    #: File name endings that name the format outright (``.cdr.json``).
    endings: tuple[str, ...] = ()
    #: (extensions, text found in the file's first bytes) that tell the format; ``""`` is any extension.
    markers: tuple[tuple[tuple[str, ...], str], ...] = ()
    #: A record's ``extra`` rebuilt from its ``raw`` row, where the format's rows hold the same values twice:
    #: a bulk import then stores the row once (``extra`` naming the format; ``hangup.store.sql.row_record``).
    extra_from_raw: Callable[[str], Mapping[str, str]] | None = None
    #: Whether the format's times without an offset are the writer's wall clock (a switch's CDR files), so
    #: ``hangup import --timezone`` applies to them; times of webhook bodies and exports carry their zone.
    local_times: bool = False


class SettingRow(NamedTuple):
    """One ``HANGUP_*`` setting an adapter reads: a row of hangup's settings table (``hangup.settings``)."""

    name: str  # lower-case; the environment variable is HANGUP_ + its upper-case form
    default: str
    help: str  # one line for docs/settings.md
    kind: str = "str"  # str | int | float | bool | networks | secret | timezone


class Provider(Protocol):
    """One platform's webhook adapter (see the module docstring for the contract and the optional members)."""

    @property
    def name(self) -> str: ...

    @property
    def methods(self) -> tuple[str, ...]: ...

    def verify(self, request: WebhookRequest, secrets: Mapping[str, str]) -> None: ...

    def parse(self, request: WebhookRequest) -> CallRecord | None: ...

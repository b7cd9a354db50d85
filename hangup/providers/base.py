"""The contract every platform adapter fulfils.

An adapter turns one webhook request (or one imported row) of its platform into canonical
``CallRecord`` values. It is a module ``hangup/providers/<name>.py`` that opens with constants
naming the platform's payload keys, and exposes an object with:

``name``
    the adapter's name, used in ``/callbacks/{name}``, ``--format`` and ``CallRecord.provider``.
``methods``
    the HTTP methods the platform uses for this webhook.
``verify(request, settings)``
    check the platform's signature or credentials; raise ``Unauthorized`` (401, missing) or
    ``Forbidden`` (403, wrong) naming the reason. Called before anything is parsed or stored.
``parse(request)``
    return the ``CallRecord`` of a call-end event, ``None`` for an event that is not a call end
    (ringing, answered …), or raise ``PayloadError`` naming every bad field.

Adapters are registered in ``hangup.providers.registry``: a new platform is one new file and one
line there.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Protocol
from urllib.parse import parse_qsl

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


class Provider(Protocol):
    """One platform's webhook adapter (see the module docstring for the contract)."""

    @property
    def name(self) -> str: ...

    @property
    def methods(self) -> tuple[str, ...]: ...

    def verify(self, request: WebhookRequest, secrets: Mapping[str, str]) -> None: ...

    def parse(self, request: WebhookRequest) -> CallRecord | None: ...

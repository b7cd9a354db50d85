"""The adapters hangup serves at ``/callbacks/{name}``: built-in ones listed in ``DEFAULT_PROVIDERS``.

A new platform is one module ``hangup/providers/<name>.py`` exposing an adapter object (see
``hangup.providers.base``) and one line in ``DEFAULT_PROVIDERS`` naming ``"module:attribute"``.
Adapters are imported on first use, so one broken optional adapter cannot stop the others.
"""

from __future__ import annotations

import functools
import importlib

from hangup.errors import NotFound
from hangup.providers.base import Provider

DEFAULT_PROVIDERS: tuple[str, ...] = (
    "hangup.providers.planet:PROVIDER",
    "hangup.providers.plivo:PROVIDER",
    "hangup.providers.twilio:PROVIDER",
    "hangup.providers.telnyx:PROVIDER",
    "hangup.providers.vonage:PROVIDER",
    "hangup.providers.freeswitch:PROVIDER",
    "hangup.providers.asterisk:PROVIDER",
    "hangup.providers.callcenter:PROVIDER",
    "hangup.providers.generic:PROVIDER",
    "hangup.providers.kamailio:PROVIDER",
)


@functools.cache
def providers() -> dict[str, Provider]:
    """Every registered adapter by name."""
    found: dict[str, Provider] = {}
    for target in DEFAULT_PROVIDERS:
        module_name, _, attribute = target.partition(":")
        provider: Provider = getattr(importlib.import_module(module_name), attribute)
        found[provider.name] = provider
    return found


def get_provider(name: str) -> Provider:
    """The adapter called ``name``; ``NotFound`` (404) naming the known ones otherwise."""
    provider = providers().get(name)
    if provider is None:
        known = ", ".join(sorted(providers()))
        raise NotFound(f"no provider {name!r}", [{"field": "provider", "error": f"known providers: {known}"}])
    return provider


def available() -> tuple[str, ...]:
    return tuple(sorted(providers()))

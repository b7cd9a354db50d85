"""The adapters hangup serves at ``/callbacks/{name}``, and the tables built from what they declare.

Built-in adapters are listed in ``DEFAULT_PROVIDERS`` as ``"module:attribute"``; an installed package
adds its own through the ``hangup.providers`` entry-point group, with the same ``module:attribute``
value (see docs/providers.md, "Writing an adapter"). Built-in adapters come first: an outside adapter
whose name is taken, or that fails to import, is left out and logged, so it cannot stop the others.

Each adapter describes itself (``hangup.providers.base``); the central tables are built here from
the registered adapters, never by naming them: its settings rows (``setting_rows``), the request
headers kept with a quarantined request (``kept_headers``), the meanings of its flags
(``flag_meanings``) and its import formats (``import_formats``).
"""

from __future__ import annotations

import functools
import importlib
import logging
from collections.abc import Mapping
from importlib.metadata import entry_points
from types import MappingProxyType
from typing import Any

from hangup.errors import NotFound
from hangup.providers.base import ImportFormat, Provider, SettingRow

ENTRY_POINT_GROUP = "hangup.providers"

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

#: Request headers worth keeping with any quarantined request (an adapter adds its signature headers).
COMMON_KEPT_HEADERS = frozenset(
    {"content-type", "content-length", "user-agent", "host", "x-forwarded-for", "x-real-ip"}
)

log = logging.getLogger(__name__)


def _load(target: str) -> Provider:
    module_name, _, attribute = target.partition(":")
    provider: Provider = getattr(importlib.import_module(module_name), attribute)
    return provider


@functools.cache
def providers() -> Mapping[str, Provider]:
    """Every registered adapter by name: the built-in ones, then those of installed packages."""
    found: dict[str, Provider] = {}
    for target in DEFAULT_PROVIDERS:
        provider = _load(target)
        found[provider.name] = provider
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        try:
            provider = entry.load()
            name = provider.name
        except Exception:  # an outside package's bug must not take the built-in adapters down with it
            log.exception("adapter %s (%s) could not be loaded; it is not served", entry.name, entry.value)
            continue
        if name in found:
            log.error("adapter %s (%s) is not served: the name %r is taken", entry.name, entry.value, name)
            continue
        found[name] = provider
    return MappingProxyType(found)


def get_provider(name: str) -> Provider:
    """The adapter called ``name``; ``NotFound`` (404) naming the known ones otherwise."""
    provider = providers().get(name)
    if provider is None:
        known = ", ".join(sorted(providers()))
        raise NotFound(f"no provider {name!r}", [{"field": "provider", "error": f"known providers: {known}"}])
    return provider


def forget() -> None:
    """Forget the registered adapters and the tables built from them: the next use reads them again
    (after a package with an adapter was installed into a running interpreter)."""
    for cached in (providers, kept_headers, flag_meanings, zone_settings):
        cached.cache_clear()


def available() -> tuple[str, ...]:
    return tuple(sorted(providers()))


def _declared(attribute: str, default: Any) -> list[Any]:
    return [getattr(p, attribute, default) for p in providers().values()]


def setting_rows() -> tuple[SettingRow, ...]:
    """The settings rows every registered adapter reads (its credentials), in registry order."""
    return tuple(row for rows in _declared("settings", ()) for row in rows)


@functools.cache
def kept_headers() -> frozenset[str]:
    """Request headers kept with a quarantined request: the common ones and every adapter's signature headers."""
    return COMMON_KEPT_HEADERS.union(*(_lower(h) for h in _declared("kept_headers", ())))


@functools.cache
def zone_settings() -> frozenset[str]:
    """The ``<provider>_timezone`` settings adapters declare (``zone_setting``): platforms whose posts write
    local times without an offset."""
    return frozenset(row.name for row in setting_rows() if row.kind == "timezone")


def _lower(headers: tuple[str, ...]) -> frozenset[str]:
    return frozenset(h.lower() for h in headers)


@functools.cache
def flag_meanings() -> Mapping[str, str]:
    """The meaning of every flag an adapter sets on its records, by flag."""
    meanings: dict[str, str] = {}
    for flags in _declared("flags", {}):
        meanings.update(flags)
    return MappingProxyType(meanings)


def import_formats() -> Mapping[str, ImportFormat]:
    """``hangup import`` formats the adapters read, by format name, in registry order."""
    formats: dict[str, ImportFormat] = {}
    for declared in _declared("imports", {}):
        formats.update(declared)
    return MappingProxyType(formats)

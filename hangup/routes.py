"""The route of a call: the carrier, trunk or next hop its platform sent it through.

Each adapter says where its platform reports the route (``docs/providers.md``, "Routes"): a FreeSWITCH
gateway name, an Asterisk destination channel's peer, a SIP next hop, a Twilio trunk, a Telnyx
connection … ``route_of`` turns that report into the route: a SIP or hop address loses its scheme, user
part, parameters and port (``sip:+4930…@10.0.0.7:5060;transport=udp`` → ``10.0.0.7``), so one carrier's
calls share one value. A route map (``HANGUP_ROUTE_MAP``, a TOML file) then names carriers::

    [[carrier]]
    name = "Acme Telecom"
    match = ["203.0.113.0/24", "2001:db8:a::/48", "*.acme.example", "acme-*"]

A route that is an IP address inside one of a carrier's networks, or whose text matches one of its
shell-style patterns (``fnmatch``, case-insensitive), becomes the carrier's name; the first carrier that
matches wins; a route no carrier matches stays as it is. Answers are cached per raw route (bounded LRU).
"""

from __future__ import annotations

import fnmatch
import ipaddress
import re
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from hangup.errors import ConfigError

CACHE_SIZE = 16384
#: Longest route kept; longer reports are cut (a route is a label, not a document).
MAX_ROUTE = 128

_SIP = re.compile(r"^(?:sips?:)?(?:[^@;]*@)?(\[[0-9A-Fa-f:.]+\]|[^:;>?]*)", re.IGNORECASE)
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True)
class Carrier:
    """One carrier of the route map: its name, networks and host or name patterns."""

    name: str
    networks: tuple[Network, ...] = ()
    patterns: tuple[str, ...] = ()  # lower case, fnmatch

    def matches(self, route: str, address: ipaddress.IPv4Address | ipaddress.IPv6Address | None) -> bool:
        if address is not None and any(address in network for network in self.networks):
            return True
        lowered = route.lower()
        return any(fnmatch.fnmatchcase(lowered, pattern) for pattern in self.patterns)


@dataclass(frozen=True, slots=True)
class RouteMap:
    """The carriers of a route map file, in file order."""

    carriers: tuple[Carrier, ...] = ()

    def carrier(self, route: str) -> str:
        """The carrier ``route`` belongs to, or ``route`` itself."""
        if not self.carriers or not route:
            return route
        address = _address(route)
        for carrier in self.carriers:
            if carrier.matches(route, address):
                return carrier.name
        return route


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return None


def _carrier(raw: object, index: int) -> Carrier:
    if not isinstance(raw, dict) or not str(raw.get("name") or "").strip():
        raise ConfigError(f"route map: [[carrier]] number {index + 1} needs a name")
    name = str(raw["name"]).strip()
    networks: list[Network] = []
    patterns: list[str] = []
    for item in raw.get("match") or []:
        text = str(item).strip()
        try:
            networks.append(ipaddress.ip_network(text, strict=False))
        except ValueError:
            if not text:
                raise ConfigError(f"route map: carrier {name!r} has an empty match") from None
            patterns.append(text.lower())
    return Carrier(name, tuple(networks), tuple(patterns))


def parse_route_map(text: str) -> RouteMap:
    """A route map from TOML text; a mistake is a ``ConfigError`` naming the carrier."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"route map is not valid TOML: {exc}") from None
    return RouteMap(tuple(_carrier(raw, i) for i, raw in enumerate(data.get("carrier") or [])))


def load_route_map(path: str | Path) -> RouteMap:
    try:
        return parse_route_map(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read route map {path}: {exc}") from None


_map = RouteMap()


def configure(route_map: RouteMap) -> None:
    """Set the map every later ``route_of`` uses (the composition root does, from ``HANGUP_ROUTE_MAP``)."""
    global _map
    _map = route_map
    route_of.cache_clear()


def hop(text: str) -> str:
    """The host of a SIP URI or ``host:port`` hop, the text itself when it is a plain name."""
    text = text.strip()
    if text.startswith("<"):
        text = text[1:]
    if _address(text) is not None:  # a bare IPv6 address: its colons are not a port
        return text
    match = _SIP.match(text)
    return match.group(1) if match and match.group(1) else text


@lru_cache(maxsize=CACHE_SIZE)
def route_of(report: str) -> str:
    """The route of what a platform reported (a gateway name, a hop, a SIP URI), mapped to its carrier."""
    return _map.carrier(hop(report)[:MAX_ROUTE])


__all__ = ["Carrier", "RouteMap", "configure", "hop", "load_route_map", "parse_route_map", "route_of"]

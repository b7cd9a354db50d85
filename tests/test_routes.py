"""A call's route (``hangup.routes``): the host of a hop, and carriers named by a route map."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from hangup import routes
from hangup.errors import ConfigError
from hangup.routes import RouteMap, hop, parse_route_map, route_of

MAP = """
[[carrier]]
name = "Acme Telecom"
match = ["203.0.113.0/24", "2001:db8:a::/48", "*.acme.example"]

[[carrier]]
name = "Globex"
match = ["globex-*", "203.0.113.7"]  # after Acme: 203.0.113.7 stays Acme's
"""


@pytest.fixture(autouse=True)
def _no_map() -> Iterator[None]:
    yield
    routes.configure(RouteMap())


@pytest.mark.parametrize(("report", "want"), [
    ("gw-carrier-a", "gw-carrier-a"),
    ("10.0.0.7", "10.0.0.7"),
    ("10.0.0.7:5060", "10.0.0.7"),
    ("sip:+4930123@10.0.0.7:5060;transport=udp", "10.0.0.7"),
    ("sips:sbc.example.net;lr", "sbc.example.net"),
    ("<sip:192.0.2.1;lr>", "192.0.2.1"),
    ("2001:db8::1", "2001:db8::1"),
    ("[2001:db8::1]:5060", "[2001:db8::1]"),
    ("", ""),
])
def test_a_hop_is_its_host(report: str, want: str) -> None:
    assert hop(report) == want


@pytest.mark.parametrize(("report", "want"), [
    ("203.0.113.9:5060", "Acme Telecom"),
    ("sip:x@203.0.113.7", "Acme Telecom"),  # the first carrier that matches wins
    ("[2001:db8:a::5]:5061", "Acme Telecom"),
    ("sip:sbc1.ACME.example", "Acme Telecom"),
    ("globex-frankfurt", "Globex"),
    ("198.51.100.1", "198.51.100.1"),  # no carrier: the route stays
    ("acme.example", "acme.example"),
])
def test_the_route_map_names_carriers(report: str, want: str) -> None:
    routes.configure(parse_route_map(MAP))
    assert route_of(report) == want


@pytest.mark.parametrize(("text", "error"), [
    ("[[carrier]]\nmatch = ['10.0.0.0/8']", "needs a name"),
    ("[[carrier]]\nname = 'x'\nmatch = ['']", "empty match"),
    ("[[carrier]\n", "not valid TOML"),
])
def test_a_bad_route_map_is_refused(text: str, error: str) -> None:
    with pytest.raises(ConfigError, match=error):
        parse_route_map(text)

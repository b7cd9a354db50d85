"""hangup's settings: one table of (name, default, help), read from ``HANGUP_*`` environment variables.

``SETTINGS`` holds hangup's own rows; each adapter declares the rows it reads (its credentials,
``hangup.providers.base.SettingRow``) and ``all_settings()`` appends them, so a new platform brings its
settings with it. Their values are in ``Settings.adapters`` and reach adapters through ``secrets()``.

Every row is documented in ``docs/settings.md`` (a test keeps the two in step). A value is cast by the
row's ``kind``; a bad value raises ``ConfigError`` naming the environment variable, so a misconfigured
server fails at start instead of at the first request. Command-line options override the environment.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

import phonenumbers

from hangup import bounds
from hangup.errors import ConfigError
from hangup.numbers import parse_regions
from hangup.providers.draft import zone_named

ENV_PREFIX = "HANGUP_"
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off", ""})


@dataclass(frozen=True, slots=True)
class Setting:
    """One configurable value: its name (``HANGUP_`` + upper-case name in the environment), default and help."""

    name: str
    default: str
    help: str
    kind: str = "str"  # str | int | float | bool | networks | secret | timezone

    @property
    def env(self) -> str:
        return ENV_PREFIX + self.name.upper()


SETTINGS: tuple[Setting, ...] = (
    Setting("host", "127.0.0.1", "Address `hangup serve` listens on."),
    Setting("port", "8080", "TCP port `hangup serve` listens on.", "int"),
    Setting("db", "sqlite:///./hangup.db", "Store URL: `sqlite:///PATH` (default) or `postgresql://…`."),
    Setting("workers", "1", "Server worker processes.", "int"),
    Setting("insecure", "false", "Allow a non-loopback `--host` without `HANGUP_API_TOKEN`.", "bool"),
    Setting("api_token", "", "Bearer token required by `/api/*` (and the dashboard) when set.", "secret"),
    Setting("planet_path", "/callbacks/planet", "Path of the LINE Planet `on_call_evt_cb` receiver."),
    Setting(
        "callback_secret", "", "Secret path segment: callbacks are served only under `/SECRET/callbacks/…` when set.",
        "secret",
    ),
    Setting("callback_allow", "", "Comma-separated networks (CIDR) allowed to call callback endpoints; empty = any.",
            "networks"),
    Setting("trust_forwarded", "false", "Take the client address from `X-Forwarded-For` (behind a trusted proxy).",
            "bool"),
    Setting("max_query_bytes", "8192", "Longest accepted query string; longer → 414.", "int"),
    # 1 MiB: full mod_json_cdr / mod_xml_cdr posts (every channel variable, the call flow, url-encoded) exceed 64 KiB
    Setting("max_body_bytes", "1048576", "Largest accepted request body; larger → 413.", "int"),
    Setting("max_keys", "64", "Most keys accepted in one callback; more → 400.", "int"),
    Setting("request_read_timeout", "10",
            "Seconds a client has to send a whole request (line, headers, body); then it is disconnected.", "float"),
    Setting("max_connections", "1000", "Most open connections `hangup serve` serves at once; above it → 503.",
            "int"),
    Setting("allowed_hosts", "",
            "Comma-separated `Host` names served besides loopback ones (DNS-rebinding guard when no API token).",
            "str"),
    Setting("quarantine_entry_bytes", "16384",
            "Largest quarantined body; longer bodies are cut, their length and SHA-256 kept.", "int"),
    Setting("quarantine_max_bytes", "67108864",
            "Total size of the quarantine; the oldest entries are deleted to stay under it.", "int"),
    Setting("quarantine_per_minute", "60",
            "Most rejected requests kept per source address and minute; more are answered, not kept.", "int"),
    Setting("sqlite_synchronous", "FULL", "SQLite `synchronous` pragma: FULL (durable, default) or NORMAL."),
    Setting("batch_size", "256", "Most events the store writer commits in one transaction (group commit).", "int"),
    Setting("retention_months", "0",
            "PostgreSQL: drop month partitions of calls older than this many months; 0 = keep.", "int"),
    Setting("minute_rollup_days", "8",
            "Days minute rollup rows are kept (older range edges are read to whole hours); 0 = keep.", "int"),
    Setting("public_url", "", "Public base URL platforms call (for signature schemes that sign the URL)."),
    Setting("alerts_file", "", "Alert rules (TOML) `hangup serve` evaluates; empty = no alerting."),
    Setting("actions_file", "",
            "Overrides (TOML) of the catalog's next action per cause, platform or route; read again when it changes."),
    Setting("emit_url", "", "Receiver URL of the emitted call-event callback; empty = emitter off."),
    Setting("emit_secret", "", "HMAC-SHA256 secret signing emitted callbacks (`X-Hangup-Signature`).", "secret"),
    Setting("emit_deliver", "true", "Deliver emitted callbacks from inside `hangup serve` (false: `hangup emitter`).",
            "bool"),
    Setting("emit_orphan_timeout", "3600", "Seconds after call-started with no call-ended before closing as orphaned.",
            "float"),
    Setting("emit_max_age", "86400", "Seconds after which an undelivered callback is dead-lettered.", "float"),
    Setting("emit_per_destination", "8", "Emitted requests in flight to one receiver.", "int"),
    Setting("emit_timeout", "10", "Seconds per emitted delivery request.", "float"),
    Setting("demo", "false", "Feed simulated demo traffic (stid `demo`) into this server (`hangup serve --demo`).",
            "bool"),
    Setting("demo_rate", "2", "Demo calls per second.", "float"),
    Setting("hep_listen", "",
            "`HOST:PORT` of the HEP (v1/v2/v3) listener, UDP and TCP (`hangup serve --hep`); empty = off."),
    Setting("hep_password", "", "Capture password (HEP3 chunk 14) every HEP packet must carry; empty = any.", "secret"),
    Setting("hep_state", "./hangup-hep.state",
            "File the HEP listener keeps open SIP dialogs in across restarts; empty = lost at a restart."),
    Setting("default_region", "",
            "ISO 3166 region national numbers are read in (e.g. `US`); empty = only international forms normalise."),
    Setting("provider_regions", "",
            "Per-platform regions for national numbers, `PROVIDER=REGION` comma-separated (e.g. `asterisk=DE`)."),
    Setting("prefix_depth", "4", "Digits of a callee's E.164 number (country code included) kept as its prefix.",
            "int"),
    Setting("route_map", "", "Route map (TOML): IP networks and host patterns → carrier names; empty = none."),
)

#: Settings that must be greater than zero.
_POSITIVE = frozenset({"workers", "batch_size", "max_keys", "emit_orphan_timeout", "emit_max_age",
                       "emit_per_destination", "emit_timeout", "demo_rate", "request_read_timeout",
                       "max_connections", "quarantine_entry_bytes", "quarantine_max_bytes",
                       "quarantine_per_minute"})

BY_NAME: Mapping[str, Setting] = {s.name: s for s in SETTINGS}


def _cast_int(text: str) -> int:
    value = int(text.strip(), 10)
    if value < 0:
        raise ValueError("must not be negative")
    return value


def _cast_float(text: str) -> float:
    value = float(text.strip())
    if not 0 <= value < float("inf"):
        raise ValueError("must be a finite number, not negative")
    return value


def _cast_bool(text: str) -> bool:
    low = text.strip().lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    raise ValueError("expected true/false, 1/0, yes/no or on/off")


def _cast_zone(text: str) -> str:
    """An IANA time zone name, checked (empty: none)."""
    name = text.strip()
    if name:
        zone_named(name)
    return name


def _cast_networks(text: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(part.strip(), strict=False) for part in text.split(",") if part.strip())


_CASTS: Mapping[str, Callable[[str], Any]] = {
    "str": str,
    "secret": str,
    "int": _cast_int,
    "float": _cast_float,
    "bool": _cast_bool,
    "networks": _cast_networks,
    "timezone": _cast_zone,
}


@dataclass(frozen=True, slots=True)
class Settings:
    """Typed values of every row of ``SETTINGS`` (field names equal setting names)."""

    host: str
    port: int
    db: str
    workers: int
    insecure: bool
    api_token: str
    planet_path: str
    callback_secret: str
    callback_allow: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]
    trust_forwarded: bool
    max_query_bytes: int
    max_body_bytes: int
    max_keys: int
    request_read_timeout: float
    max_connections: int
    allowed_hosts: str
    quarantine_entry_bytes: int
    quarantine_max_bytes: int
    quarantine_per_minute: int
    sqlite_synchronous: str
    batch_size: int
    retention_months: int
    minute_rollup_days: int
    public_url: str
    alerts_file: str
    actions_file: str
    emit_url: str
    emit_secret: str
    emit_deliver: bool
    emit_orphan_timeout: float
    emit_max_age: float
    emit_per_destination: int
    emit_timeout: float
    demo: bool
    demo_rate: float
    hep_listen: str
    hep_password: str
    hep_state: str
    default_region: str
    provider_regions: str
    prefix_depth: int
    route_map: str
    #: Values of the registered adapters' own rows (their credentials), by setting name.
    adapters: Mapping[str, Any] = field(default_factory=dict, hash=False)

    def with_overrides(self, **values: Any) -> Settings:
        """A copy with command-line values applied (``None`` means "not given")."""
        given = {k: v for k, v in values.items() if v is not None}
        return replace(self, **given) if given else self

    def secrets(self) -> dict[str, str]:
        """The values adapters may need for ``verify``: their own rows and ``public_url``, as strings."""
        out = {name: _text(value) for name, value in self.adapters.items()}
        out["public_url"] = self.public_url
        return out

    def as_env(self) -> dict[str, str]:
        """These values as ``HANGUP_*`` variables (how ``serve --workers`` hands them to worker processes)."""
        out: dict[str, str] = {}
        for setting in all_settings():
            value = self.adapters[setting.name] if setting.name in self.adapters else getattr(self, setting.name)
            if setting.kind == "networks":
                out[setting.env] = ",".join(str(n) for n in value)
            else:
                out[setting.env] = _text(value)
        return out


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def all_settings() -> tuple[Setting, ...]:
    """hangup's own rows, then the rows every registered adapter declares (its credentials)."""
    # imported here: the registry imports the adapters, which only the values' readers need
    from hangup.providers.registry import setting_rows

    return SETTINGS + tuple(Setting(*row) for row in setting_rows())


def cast(setting: Setting, raw: str) -> Any:
    """Cast one raw value; a bad value is a ``ConfigError`` naming the variable."""
    try:
        value = _CASTS[setting.kind](raw)
    except ValueError as exc:
        raise ConfigError(f"{setting.env}={raw!r} is not valid: {exc}") from None
    return _check(setting, value)


def _check(setting: Setting, value: Any) -> Any:
    if setting.name == "sqlite_synchronous" and value.upper() not in ("FULL", "NORMAL", "EXTRA"):
        raise ConfigError(f"{setting.env}={value!r} is not valid: expected FULL, NORMAL or EXTRA")
    if setting.name == "planet_path" and not value.startswith("/"):
        raise ConfigError(f"{setting.env}={value!r} is not valid: a path starts with '/'")
    if setting.name == "callback_secret" and "/" in value:
        raise ConfigError(f"{setting.env} is not valid: a path segment cannot contain '/'")
    if setting.name == "hep_listen" and value:
        listen_address(value, setting.env)
    if setting.name == "default_region" and value and value.upper() not in phonenumbers.SUPPORTED_REGIONS:
        raise ConfigError(f"{setting.env}={value!r} is not valid: expected an ISO 3166 region such as US")
    if setting.name == "provider_regions":
        try:
            parse_regions(value)
        except ValueError as exc:
            raise ConfigError(f"{setting.env} is not valid: {exc}") from None
    if setting.name == "prefix_depth" and not 1 <= value <= 15:
        raise ConfigError(f"{setting.env}={value!r} is not valid: an E.164 number has 1-15 digits")
    if setting.name in ("port",) and not 0 <= value <= 65535:
        raise ConfigError(f"{setting.env}={value!r} is not valid: a TCP port is 0-65535")
    if setting.name in _POSITIVE and value <= 0:
        raise ConfigError(f"{setting.env}={value!r} is not valid: must be positive")
    return value


def listen_address(text: str, name: str = "HANGUP_HEP_LISTEN") -> tuple[str, int]:
    """``HOST:PORT`` (``[v6]:PORT`` for IPv6) as a (host, port) pair; ``ConfigError`` naming ``name`` when it
    is not one. Every listening address hangup takes (the HEP listener, the emitter's) is read here."""
    host, sep, port = text.strip().rpartition(":")
    host = host.strip("[]")
    number = bounds.digits(port)  # "²", which isdigit() takes and int() refuses, is no port either
    if not sep or not host or number is None or number > 65535:
        raise ConfigError(f"{name}={text!r} is not valid: expected HOST:PORT, e.g. 127.0.0.1:9060")
    return host, number


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read every setting from ``environ`` (``os.environ`` by default), falling back to the defaults."""
    env = os.environ if environ is None else environ
    values = {s.name: cast(s, env.get(s.env, s.default)) for s in SETTINGS}
    adapters = {s.name: cast(s, env.get(s.env, s.default)) for s in all_settings()[len(SETTINGS):]}
    return Settings(**values, adapters=adapters)


def setting_names() -> tuple[str, ...]:
    """Names of hangup's own settings (the adapters' rows are in ``Settings.adapters``)."""
    return tuple(f.name for f in fields(Settings) if f.name != "adapters")

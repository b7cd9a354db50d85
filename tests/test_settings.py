"""The settings table: casting, failing fast with the key's name, documented, handed to workers intact."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import click
import pytest

from hangup.cli.serve import is_loopback, resolve_settings
from hangup.errors import ConfigError
from hangup.native import PURE_ENV
from hangup.settings import SETTINGS, Settings, all_settings, load_settings

DOCS = Path(__file__).parents[1] / "docs" / "settings.md"


def test_every_setting_is_a_field_and_documented() -> None:
    assert [s.name for s in SETTINGS] == [f.name for f in dataclasses.fields(Settings) if f.name != "adapters"]
    every = all_settings()
    assert len({s.name for s in every}) == len(every)
    documented = set(re.findall(r"`(HANGUP_[A-Z0-9_]+)`", DOCS.read_text()))
    assert {s.env for s in every} <= documented
    # read before any setting (hangup.native) or by the tests alone
    assert documented - {s.env for s in every} <= {"HANGUP_REQUIRE_POSTGRES", "HANGUP_REQUIRE_BROWSER", PURE_ENV}


def test_adapter_rows_are_read_cast_and_handed_back() -> None:
    settings = load_settings({"HANGUP_PLIVO_ACCEPT_UNSIGNED": "yes", "HANGUP_GENERIC_SECRET": "s"})
    assert settings.adapters["plivo_accept_unsigned"] is True and settings.adapters["twilio_auth_token"] == ""
    assert settings.secrets()["plivo_accept_unsigned"] == "true" and settings.secrets()["generic_secret"] == "s"
    assert load_settings(settings.as_env()) == settings
    with pytest.raises(ConfigError, match="HANGUP_VONAGE_ACCEPT_UNSIGNED"):
        load_settings({"HANGUP_VONAGE_ACCEPT_UNSIGNED": "maybe"})


def test_a_platform_zone_is_checked_when_the_settings_load() -> None:
    settings = load_settings({"HANGUP_ASTERISK_TIMEZONE": "Europe/Paris"})
    assert settings.secrets()["asterisk_timezone"] == "Europe/Paris" and settings.secrets()["freeswitch_timezone"] == ""
    with pytest.raises(ConfigError, match="HANGUP_FREESWITCH_TIMEZONE"):
        load_settings({"HANGUP_FREESWITCH_TIMEZONE": "Europe/Atlantis"})


def test_defaults() -> None:
    settings = load_settings({})
    assert (settings.host, settings.port, settings.db) == ("127.0.0.1", 8080, "sqlite:///./hangup.db")
    assert settings.sqlite_synchronous == "FULL" and settings.callback_allow == ()


@pytest.mark.parametrize(("env", "value"), [
    ({"HANGUP_PORT": "9000"}, ("port", 9000)),
    ({"HANGUP_INSECURE": "yes"}, ("insecure", True)),
    ({"HANGUP_CALLBACK_ALLOW": "10.0.0.0/8, ::1"}, ("callback_allow", 2)),
    ({"HANGUP_PLANET_PATH": "/call_event"}, ("planet_path", "/call_event")),
    ({"HANGUP_PROVIDER_REGIONS": "asterisk=de, vonage=GB"}, ("provider_regions", "asterisk=de, vonage=GB")),
    ({"HANGUP_PREFIX_DEPTH": "6"}, ("prefix_depth", 6)),
])
def test_values_are_cast(env: dict[str, str], value: tuple[str, object]) -> None:
    got = getattr(load_settings(env), value[0])
    assert (len(got) if isinstance(got, tuple) else got) == value[1]


@pytest.mark.parametrize(("env", "key"), [
    ({"HANGUP_PORT": "http"}, "HANGUP_PORT"),
    ({"HANGUP_PORT": "70000"}, "HANGUP_PORT"),
    ({"HANGUP_WORKERS": "0"}, "HANGUP_WORKERS"),
    ({"HANGUP_INSECURE": "maybe"}, "HANGUP_INSECURE"),
    ({"HANGUP_CALLBACK_ALLOW": "10.0.0.0/33"}, "HANGUP_CALLBACK_ALLOW"),
    ({"HANGUP_SQLITE_SYNCHRONOUS": "OFF"}, "HANGUP_SQLITE_SYNCHRONOUS"),
    ({"HANGUP_PLANET_PATH": "callbacks"}, "HANGUP_PLANET_PATH"),
    ({"HANGUP_CALLBACK_SECRET": "a/b"}, "HANGUP_CALLBACK_SECRET"),
    ({"HANGUP_DEFAULT_REGION": "XX"}, "HANGUP_DEFAULT_REGION"),
    ({"HANGUP_PROVIDER_REGIONS": "asterisk"}, "HANGUP_PROVIDER_REGIONS"),
    ({"HANGUP_PROVIDER_REGIONS": "asterisk=Germany"}, "HANGUP_PROVIDER_REGIONS"),
    ({"HANGUP_PREFIX_DEPTH": "0"}, "HANGUP_PREFIX_DEPTH"),
])
def test_a_bad_value_fails_fast_naming_the_key(env: dict[str, str], key: str) -> None:
    with pytest.raises(ConfigError, match=key):
        load_settings(env)


def test_settings_survive_the_trip_to_worker_processes() -> None:
    settings = load_settings({"HANGUP_CALLBACK_ALLOW": "10.0.0.0/8", "HANGUP_API_TOKEN": "t", "HANGUP_PORT": "1"})
    assert load_settings(settings.as_env()) == settings


def test_secrets_are_strings_keyed_by_setting_name() -> None:
    secrets = load_settings({"HANGUP_PLIVO_AUTH_TOKEN": "p", "HANGUP_TWILIO_ACCEPT_UNSIGNED": "1"}).secrets()
    assert secrets["plivo_auth_token"] == "p" and secrets["twilio_accept_unsigned"] == "true"
    assert secrets["public_url"] == "" and "api_token" not in secrets and "callback_secret" not in secrets


@pytest.mark.parametrize(("host", "loopback"), [("127.0.0.1", True), ("::1", True), ("localhost", True),
                                                ("0.0.0.0", False), ("10.1.2.3", False), ("example.com", False)])
def test_loopback_detection(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_serve_refuses_a_public_host_without_a_token_unless_insecure(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(click.ClickException, match="HANGUP_API_TOKEN"):
        resolve_settings("0.0.0.0", None, None, None, False)
    assert resolve_settings("0.0.0.0", "9000", None, None, True).port == 9000
    monkeypatch.setenv("HANGUP_API_TOKEN", "secret")
    assert resolve_settings("0.0.0.0", None, None, None, False).host == "0.0.0.0"


def test_every_adapter_credential_is_a_setting_handed_to_adapters() -> None:
    import importlib

    from hangup.providers.registry import DEFAULT_PROVIDERS

    secrets = load_settings({}).secrets()
    checked = 0
    for target in DEFAULT_PROVIDERS:
        module = importlib.import_module(target.partition(":")[0])
        key = getattr(module, "SECRET", None)
        if key is None:  # LINE Planet signs nothing
            continue
        checked += 1
        assert key in secrets and f"{module.NAME}_accept_unsigned" in secrets, module.NAME
    assert checked >= 8
    assert "emit_secret" not in secrets and "api_token" not in secrets


def test_emitter_and_alert_settings_are_rows_of_the_table() -> None:
    settings = load_settings({"HANGUP_EMIT_TIMEOUT": "2.5", "HANGUP_DEMO": "on", "HANGUP_ALERTS_FILE": "a.toml"})
    assert (settings.emit_timeout, settings.demo, settings.alerts_file, settings.demo_rate) == (2.5, True, "a.toml", 2)
    with pytest.raises(ConfigError, match="HANGUP_DEMO_RATE"):
        load_settings({"HANGUP_DEMO_RATE": "0"})
    assert load_settings(settings.as_env()) == settings

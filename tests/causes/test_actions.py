"""Every catalog entry says what to do next; an overrides file changes that per platform or route."""

from __future__ import annotations

import csv
import dataclasses
from importlib import resources
from pathlib import Path

import pytest

from hangup import ingest
from hangup.causes import Action, default_catalog
from hangup.causes.actions import call_action, overrides_from_file, parse_overrides
from hangup.errors import ConfigError
from hangup.records import CallRecord

DATA_FILES = sorted(p.name for p in resources.files("hangup.causes.data").iterdir()
                    if p.name.endswith(".csv") and p.name != "mappings.csv")


@pytest.mark.parametrize("name", DATA_FILES)
def test_every_row_of_every_file_has_an_action_and_the_file_names_its_source(name: str) -> None:
    text = resources.files("hangup.causes.data").joinpath(name).read_text(encoding="utf-8")
    assert any(line.startswith("# action:") for line in text.splitlines()), f"{name} has no '# action:' source"
    rows = list(csv.DictReader(line for line in text.splitlines() if not line.startswith("#")))
    assert rows and all(r["action"] in {str(a) for a in Action} for r in rows), name


def test_every_loaded_entry_carries_its_action_source() -> None:
    entries = list(default_catalog().entries())
    assert len(entries) > 400
    assert all(e.action_source for e in entries)


@pytest.mark.parametrize(("ref", "action"), [
    ("sip:200", "none"),  # answered
    ("sip:486", "retry_later"),  # RFC 3261 21.4.24
    ("sip:480", "retry_later"),  # 21.4.18
    ("sip:503", "fail_over"),  # 21.5.4: forward to an alternate server
    ("sip:401", "fix_configuration"),  # 21.4.2: credentials
    ("sip:603", "final"),  # 21.6: 6xx definitive
    ("sip:604", "final"),
    ("q850:1", "final"),  # unallocated number
    ("q850:34", "fail_over"),  # RFC 3398: 503
    ("q850:17", "retry_later"),
    ("q850:88", "fix_configuration"),  # RFC 3398: 488
    ("planet:1003", "final"),
    ("plivo:3010", "retry_later"),
    ("vonage-detail:internal_error", "fail_over"),
])
def test_catalog_actions(ref: str, action: str) -> None:
    assert default_catalog().resolve(ref).action == action


def record(provider: str = "plivo", cause: str = "sip:480", route: str = "") -> CallRecord:
    return CallRecord(id="c1", provider=provider, provider_call_id="p1", from_service_id="", from_user_id="a",
                      to_service_id="", to_user_id="b", call_type="A", setup_time=1, start_time=0, end_time=2,
                      duration=0, answered=False, cause=cause, causes=(cause,), route=route)


OVERRIDES = """
[[override]]
cause = "sip:480"
provider = "plivo"
action = "fail_over"
reason = "this carrier answers 480 when its trunk is full"

[[override]]
cause = "sip:480"
provider = "plivo"
route = "carrier-x"
action = "final"
"""


@pytest.mark.parametrize(("call", "action", "origin"), [
    (record(), "fail_over", "override"),  # the provider-level rule
    (record(provider="twilio"), "retry_later", "catalog"),  # another platform keeps the catalog's action
    (record(cause="sip:486"), "retry_later", "catalog"),  # another code of the same platform
    (record(route="carrier-x"), "final", "override"),  # the more specific route rule wins
    (record(route="carrier-y"), "fail_over", "override"),
])
def test_an_override_changes_one_platforms_code_without_touching_the_catalog(
        call: CallRecord, action: str, origin: str) -> None:
    found = call_action(call, parse_overrides(OVERRIDES))
    assert (found["action"], found["from"]) == (action, origin)
    assert default_catalog().resolve("sip:480").action == "retry_later"


def test_a_route_field_on_the_record_is_matched_like_one_in_extra() -> None:
    """Once ``route`` is a record field the same rule matches it (``getattr`` before ``extra``)."""

    @dataclasses.dataclass(frozen=True)
    class Routed:
        route: str
        cause: str = "sip:480"
        causes: tuple[str, ...] = ("sip:480",)
        provider: str = "plivo"
        extra: dict[str, str] = dataclasses.field(default_factory=dict)

    found = call_action(Routed("carrier-x"), parse_overrides(OVERRIDES))  # type: ignore[arg-type]
    assert found["action"] == "final"


def test_editing_the_file_applies_to_calls_already_stored(tmp_path: Path) -> None:
    path = tmp_path / "actions.toml"
    path.write_text(OVERRIDES)
    stored = record()
    assert ingest.status(stored, overrides_from_file(str(path)))["action"] == "fail_over"
    path.write_text(OVERRIDES.replace('action = "fail_over"', 'action = "fix_configuration"') + "\n")
    assert ingest.status(stored, overrides_from_file(str(path)))["action"] == "fix_configuration"


@pytest.mark.parametrize(("text", "named"), [
    ('[[override]]\ncause = "sip:480"\n', "'action' is required"),
    ('[[override]]\ncause = "sip:480"\naction = "later"\n', "action 'later'"),
    ('[[override]]\ncause = "480"\naction = "final"\n', "cause"),
    ('[[override]]\ncause = "sip:480"\naction = "final"\ncarrier = "x"\n', "unknown keys ['carrier']"),
    ('[rules]\n', "unknown top-level keys"),
    ("[[override]\n", "not valid TOML"),
])
def test_a_bad_overrides_file_names_the_rule_and_key(text: str, named: str) -> None:
    with pytest.raises(ConfigError, match="override|TOML|top-level") as caught:
        parse_overrides(text, "a.toml")
    assert named in str(caught.value)

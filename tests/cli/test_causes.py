"""``hangup explain``, ``hangup translate`` and ``hangup codes`` through Click's CliRunner."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable

import pytest
from click.testing import CliRunner

from hangup.cli import _register, cli

Invoke = Callable[..., tuple[int, str, str]]


@pytest.fixture(scope="module")
def run() -> Invoke:
    _register()
    runner = CliRunner()

    def invoke(*args: str) -> tuple[int, str, str]:
        result = runner.invoke(cli, list(args))
        return result.exit_code, result.stdout, result.stderr

    return invoke


def test_explain_json_planet_1003(run: Invoke) -> None:
    code, out, _ = run("explain", "planet:1003", "--json")
    data = json.loads(out)
    assert code == 0
    assert (data["outcome"], data["ended_by"], data["q850"], data["known"]) == ("rejected", "callee", 21, True)
    assert {"scheme", "code", "name", "description", "outcome", "ended_by", "fault", "normal", "q850", "sip",
            "next_steps", "known"} <= set(data)


def test_explain_several_refs_gives_an_array(run: Invoke) -> None:
    code, out, _ = run("explain", "q850:17", "sip:486", "plivo-source:Carrier", "--json")
    assert code == 0
    assert [d["name"] for d in json.loads(out)] == ["USER_BUSY", "Busy Here", "Carrier"]


def test_explain_unknown_code(run: Invoke) -> None:
    code, out, _ = run("explain", "q850:999", "--json")
    data = json.loads(out)
    assert code == 0 and data["known"] is False and data["outcome"] == "unknown"


def test_explain_text_for_humans(run: Invoke) -> None:
    code, out, _ = run("explain", "planet:1010")
    assert code == 0
    assert "CALLER_NETWORK_ERROR" in out and "outcome: failed" in out and "next steps:" in out
    assert "Q.850: 41 NORMAL_TEMPORARY_FAILURE" in out


@pytest.mark.parametrize("args", [["explain", "planet1003"], ["explain", "isdn:17"], ["explain", "q850:17", ":3"],
                                  ["translate", "sip:486", "--to", "isdn"], ["translate", "sip", "--to", "q850"],
                                  ["codes", "--scheme", "nope"], ["codes", "--json", "--csv"]])
def test_user_errors_exit_2_with_one_line(run: Invoke, args: list[str]) -> None:
    code, out, err = run(*args)
    assert code == 2 and out == ""
    assert err.startswith("Error: ") and err.count("\n") == 1


def test_translate_sip_486_to_q850(run: Invoke) -> None:
    code, out, _ = run("translate", "sip:486", "--to", "q850", "--json")
    data = json.loads(out)
    assert code == 0 and data["entries"][0]["code"] == 17 and data["entries"][0]["via"] == "rfc3398"
    code, out, _ = run("translate", "sip:486", "--to", "q850")
    assert code == 0 and out.splitlines()[1].split()[0] == "q850:17"


def test_translate_says_why_when_there_is_nothing(run: Invoke) -> None:
    code, out, _ = run("translate", "plivo-source:Caller", "--to", "sip")
    assert code == 0 and "no equivalent: " in out
    code, out, _ = run("translate", "plivo-source:Caller", "--to", "sip", "--json")
    data = json.loads(out)
    assert data["entries"] == [] and data["reason"]


def test_codes_filters_by_scheme_and_outcome(run: Invoke) -> None:
    code, out, _ = run("codes", "--scheme", "planet", "--outcome", "busy", "--json")
    assert code == 0
    assert sorted(json.loads(line)["name"] for line in out.splitlines()) == ["CALLEE_BUSY", "OTHER_DEV_IN_USE"]


def test_codes_csv(run: Invoke) -> None:
    code, out, _ = run("codes", "--scheme", "plivo-source", "--csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 0 and len(rows) == 8
    assert rows[0]["scheme"] == "plivo-source" and rows[0]["normal"] in {"true", "false"}


def test_codes_table(run: Invoke) -> None:
    code, out, _ = run("codes", "--scheme", "planet-terminate")
    lines = out.splitlines()
    assert code == 0 and lines[0].split()[:3] == ["REF", "NAME", "OUTCOME"]
    assert len(lines) == 7 and any(line.startswith("planet-terminate:77") for line in lines)


def test_codes_rejects_an_unknown_outcome(run: Invoke) -> None:
    code, _, err = run("codes", "--outcome", "exploded")
    assert code == 2 and "exploded" in err

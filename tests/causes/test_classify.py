"""The one classifier: cause chain, who-hung-up sources and adapter overrides → the verdict on a call."""

from __future__ import annotations

from typing import Any

import pytest

from hangup.causes import CauseCatalog, default_catalog
from hangup.causes.classify import FLAGS, VERDICT_FIELDS, Evidence, Verdict, classify
from hangup.record_fields import Role
from hangup.records import FIELDS

# (evidence, the verdict fields expected)
CASES: list[tuple[Evidence, dict[str, Any]]] = [
    # the first known reference with a definite outcome is the primary cause; unknown ones are skipped
    (Evidence(chain=("nosuch:1", "q850:17")),
     {"cause": "q850:17", "causes": ("nosuch:1", "q850:17"), "outcome": "busy", "ended_by": "callee",
      "fault": "none", "normal": True, "q850": 17, "sip": 486, "flags": ()}),
    # a known reference without an outcome gives way to a later one with an outcome
    (Evidence(chain=("plivo-source:Caller", "sip:486")), {"cause": "sip:486", "outcome": "busy"}),
    # references are kept as the catalog spells them, duplicates once, sources after the chain
    (Evidence(chain=("freeswitch:USER_BUSY", "q850:17", "freeswitch:17"), sources=("plivo-source:Caller",)),
     {"causes": ("freeswitch:17", "q850:17", "plivo-source:Caller")}),
    # a source that names the party decides who hung up …
    (Evidence(chain=("q850:17",), sources=("plivo-source:Caller",)), {"ended_by": "caller"}),
    # … and the adapter's own answer wins over both
    (Evidence(chain=("q850:17",), sources=("plivo-source:Caller",), ended_by="platform"), {"ended_by": "platform"}),
    # the platform's named releaser only when neither sources nor the cause say
    (Evidence(chain=("q850:16",), answered=True, releaser="caller"), {"ended_by": "caller", "flags": ()}),
    (Evidence(chain=("q850:17",), releaser="caller"), {"ended_by": "callee"}),
    # reported codes win over the catalog's equivalents
    (Evidence(chain=("sip:486", "q850:17"), q850=21, sip=600), {"cause": "sip:486", "q850": 21, "sip": 600}),
    (Evidence(chain=("sip:486", "q850:17"), ended_by="callee"), {"q850": 17, "sip": 486, "ended_by": "callee"}),
    # contradictions between the answer and the cause are flagged
    (Evidence(chain=("q850:17",), answered=True), {"outcome": "busy", "flags": ("answered_but_busy",)}),
    (Evidence(chain=("q850:16",), answered=False), {"flags": ("completed_without_answer",)}),
    # nothing known: an explicit unknown verdict that says which codes were not found
    (Evidence(chain=("nosuch:1", "nosuch:2")),
     {"cause": "nosuch:1", "outcome": "unknown", "ended_by": "unknown", "normal": False, "q850": None,
      "flags": ("unknown_cause",), "reason": "nosuch:1 and nosuch:2 are not in the cause catalog"}),
    # no chain at all: no cause, nothing to flag
    (Evidence(), {"cause": "", "causes": (), "outcome": "unknown", "reason": "", "flags": ()}),
]


@pytest.mark.parametrize(("evidence", "want"), CASES, ids=lambda v: str(v)[:60])
def test_classify(evidence: Evidence, want: dict[str, Any]) -> None:
    verdict = classify(evidence)
    assert {k: getattr(verdict, k) for k in want} == want


def test_the_answer_depends_on_the_catalog_given() -> None:
    evidence = Evidence(chain=("planet:1004", "planet-terminate:16"), answered=True)
    older = CauseCatalog([default_catalog().table("planet-terminate")])
    assert classify(evidence).cause == "planet:1004"
    assert classify(evidence, older).cause == "planet-terminate:16"
    assert classify(evidence).cause == "planet:1004"  # each catalog's answer is cached apart


def test_a_verdict_is_the_record_fields_of_the_same_names() -> None:
    record_fields = {f.name for f in FIELDS if f.role is Role.VERDICT}
    assert set(VERDICT_FIELDS) <= record_fields
    assert VERDICT_FIELDS == Verdict._fields


def test_every_flag_the_classifier_sets_has_a_meaning() -> None:
    outcomes = ("busy", "no_answer", "rejected", "canceled", "unreachable")
    assert {f"answered_but_{o}" for o in outcomes} | {"completed_without_answer", "unknown_cause"} == set(FLAGS)
    assert all(FLAGS.values())

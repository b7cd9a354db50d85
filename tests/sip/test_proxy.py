"""A proxy's own endings told from the signalling (``hangup.sip.proxy``): the message orders Kamailio 5.6 sends."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sip_helpers import CALLEE, CALLER, PROXY, cancel, invite, packet, request, response

from hangup.records import CallRecord
from hangup.sip.dialogs import DialogEngine, calls_from
from hangup.sip.packet import Packet
from hangup.sip.pcap import read_capture
from hangup.sip.trace import read_trace

UP, DOWN, OUT, BACK = (CALLER, PROXY), (PROXY, CALLER), (PROXY, CALLEE), (CALLEE, PROXY)
SECOND = ("10.0.0.4", 5060)  # another target of the proxy (serial forking)
DATA = Path(__file__).parents[1] / "data" / "sip"
PROXY_TAG = "13884b59a3717f18f5b62927e4496fdd-6bcc9611"  # the To tag of tm's own replies, as Kamailio makes it


def flow(*steps: tuple[float, bytes, tuple[tuple[str, int], tuple[str, int]]]) -> list[Packet]:
    return [packet(time, text, *path) for time, text, path in steps]


def own(status: int, phrase: str, **kw: object) -> bytes:
    """A final response the proxy makes itself: its own To tag, on the caller's hop."""
    return response(status, phrase, to_tag=PROXY_TAG, **kw)


def trying(**kw: object) -> bytes:
    return response(100, "trying -- your call is important to us", to_tag="", **kw)


TRYING = trying()
#: Kamailio's fr_inv_timer: the callee rings, the proxy answers 408 upstream, then CANCELs the branch.
NO_ANSWER_TIMER = flow(
    (0.0, invite(), UP), (0.001, TRYING, DOWN), (0.002, invite(vias=2), OUT),
    (0.003, response(180, "Ringing", vias=2), BACK), (0.004, response(180, "Ringing"), DOWN),
    (2.0, own(408, "Request Timeout"), DOWN), (2.001, request("ACK", 1, to_tag=PROXY_TAG), UP),
    (2.002, cancel(branch="z9hG4bKproxy74bf9"), OUT), (2.005, response(200, "OK", "1 CANCEL", vias=1), BACK),
    (2.006, response(487, "Request Terminated", vias=2), BACK), (2.007, request("ACK", 1, vias=2), OUT),
)
#: fr_timer: the INVITE is sent on and retransmitted, nothing answers, the proxy answers 408.
NOTHING_LISTENING = flow(
    (0.0, invite(), UP), (0.001, TRYING, DOWN), (0.002, invite(vias=2), OUT), (0.5, invite(vias=2), OUT),
    (1.0, own(408, "Request Timeout"), DOWN), (1.001, request("ACK", 1, to_tag=PROXY_TAG), UP),
)
#: The INVITE cannot be sent on (TCP refused): the proxy answers 503 without any INVITE leaving it.
NOT_SENT_ON = flow((10.0, invite(call_id="refused@10.0.0.1"), UP), (10.001, trying(call_id="refused@10.0.0.1"), DOWN),
                   (10.002, own(503, "Service Unavailable", call_id="refused@10.0.0.1"), DOWN))
#: An ordinary call through the same proxy earlier in the capture: the proxy is seen forwarding.
FORWARDED_BEFORE = flow(
    (0.0, invite(call_id="earlier@10.0.0.1"), UP), (0.01, invite(vias=2, call_id="earlier@10.0.0.1"), OUT),
    (1.0, response(486, "Busy Here", vias=2, call_id="earlier@10.0.0.1"), BACK),
    (1.01, response(486, "Busy Here", call_id="earlier@10.0.0.1"), DOWN),
)
#: The callee's 503 relayed upstream as 500 (RFC 3261 §16.7 step 6): a relay, not the proxy's own reply.
RELAYED_503 = flow(
    (0.0, invite(), UP), (0.01, invite(vias=2), OUT), (0.3, response(503, "Service Unavailable", vias=2), BACK),
    (0.301, request("ACK", 1, vias=2), OUT), (0.302, own(500, "Service Unavailable"), DOWN),
)
#: A callee's own 408 relayed: the branch got that very code.
RELAYED_408 = flow(
    (0.0, invite(), UP), (0.01, invite(vias=2), OUT), (0.02, response(180, "Ringing", vias=2), BACK),
    (0.03, response(180, "Ringing"), DOWN), (9.0, response(408, "Request Timeout", vias=2), BACK),
    (9.01, response(408, "Request Timeout"), DOWN),
)
#: The first target fails with 503, the second rings until the proxy's timer: the 408 is the proxy's.
FAILOVER_THEN_TIMER = flow(
    (0.0, invite(), UP), (0.01, invite(vias=2), OUT), (0.2, response(503, "Service Unavailable", vias=2), BACK),
    (0.21, invite(vias=2, branch="z9hG4bKtry2"), (PROXY, SECOND)),
    (0.3, response(180, "Ringing", vias=2, branch="z9hG4bKtry2"), (SECOND, PROXY)),
    (60.3, own(408, "Request Timeout"), DOWN),
)
#: Every branch failed and the proxy answers with a code of its own (a failure route's reply).
REPLACED = flow(
    (0.0, invite(), UP), (0.01, invite(vias=2), OUT), (1.0, response(486, "Busy Here", vias=2), BACK),
    (1.01, own(480, "Temporarily Unavailable"), DOWN),
)


def caller_hop(packets: list[Packet]) -> list[Packet]:
    """What a capture at the caller's side holds of the same call."""
    return [p for p in packets if CALLER in ((p.src, p.sport), (p.dst, p.dport))]


#: (case, packets, expected record fields, expected extra values; None: the key is absent)
CASES: list[tuple[str, list[Packet], dict[str, Any], dict[str, str | None]]] = [
    ("the proxy's no-answer timer", NO_ANSWER_TIMER,
     {"outcome": "no_answer", "ended_by": "platform", "cause": "q850:19", "causes": ("q850:19", "sip:408"),
      "q850": 19, "sip": 408, "end_time": 2},
     {"generated_by": "proxy", "proxy_ending": "no_answer", "ended_by": "platform", "final_code": "408"}),
    ("nothing listening behind the proxy", NOTHING_LISTENING,
     {"outcome": "unreachable", "ended_by": "platform", "cause": "sip:408", "q850": 102, "sip": 408},
     {"generated_by": "proxy", "proxy_ending": "no_response"}),
    ("the proxy could not send the INVITE on", FORWARDED_BEFORE + NOT_SENT_ON,
     {"provider_call_id": "refused@10.0.0.1", "outcome": "failed", "ended_by": "platform", "cause": "sip:503"},
     {"generated_by": "proxy", "proxy_ending": "not_forwarded"}),
    ("a proxy never seen forwarding: its 503 is any 503", NOT_SENT_ON,
     {"outcome": "failed", "ended_by": "carrier", "cause": "sip:503"}, {"generated_by": None}),
    ("a 503 relayed as 500", RELAYED_503, {"outcome": "failed", "ended_by": "carrier", "cause": "sip:500"},
     {"generated_by": None, "branch_codes": "503"}),
    ("the callee's own 408 relayed", RELAYED_408, {"outcome": "unreachable", "ended_by": "carrier"},
     {"generated_by": None}),
    ("failover, then the proxy's timer", FAILOVER_THEN_TIMER,
     {"outcome": "no_answer", "ended_by": "platform", "cause": "q850:19"}, {"proxy_ending": "no_answer"}),
    ("every branch failed, the proxy's own code", REPLACED,
     {"outcome": "no_answer", "ended_by": "platform", "cause": "sip:480"}, {"proxy_ending": "replaced"}),
    # the same calls captured at the caller's side only: nothing shows the proxy's part, the reply decides
    ("caller's side only: the timer's 408", caller_hop(NO_ANSWER_TIMER),
     {"outcome": "unreachable", "ended_by": "carrier", "cause": "sip:408"}, {"generated_by": None}),
    ("caller's side only: nothing listening", caller_hop(NOTHING_LISTENING),
     {"outcome": "unreachable", "ended_by": "carrier", "cause": "sip:408"}, {"generated_by": None}),
]


def _last(packets: list[Packet]) -> CallRecord:
    return list(calls_from(packets))[-1]


@pytest.mark.parametrize(("name", "packets", "fields", "extra"), CASES, ids=[c[0] for c in CASES])
def test_a_proxys_own_ending_is_told_from_a_relayed_one(name: str, packets: list[Packet], fields: dict[str, Any],
                                                        extra: dict[str, str | None]) -> None:
    record = _last(packets)
    assert {k: getattr(record, k) for k in fields} == fields
    assert {k: record.extra.get(k) for k in extra} == extra
    assert "orphaned" not in record.flags


def test_the_call_ends_with_the_proxys_reply_not_with_its_cancel_of_the_branch() -> None:
    engine = DialogEngine()
    done = [(index, r) for index, p in enumerate(NO_ANSWER_TIMER) for r in engine.feed(p)]
    assert [index for index, _ in done] == [5] and engine.open_dialogs == 0


def test_what_the_capture_showed_of_a_proxy_survives_a_restart() -> None:
    first = DialogEngine()
    for item in FORWARDED_BEFORE:
        first.feed(item)
    second = DialogEngine()
    second.restore(first.snapshot())
    records = [r for p in NOT_SENT_ON for r in second.feed(p)]
    assert [(r.ended_by, r.extra.get("proxy_ending")) for r in records] == [("platform", "not_forwarded")]


#: The four proxy endings of the Kamailio lab (tests/e2e), recorded: (outcome, ended_by, cause, proxy_ending).
RECORDED = {
    "proxy_no_answer_timer-1@e2e": ("no_answer", "platform", "q850:19", "no_answer"),
    "proxy_nothing_listening-1@e2e": ("unreachable", "platform", "sip:408", "no_response"),
    # the second proxy never sends an INVITE on in this capture: its 503 reads as any relayed 503
    "proxy_tcp_refused-1@e2e": ("failed", "carrier", "sip:503", None),
    "proxy_dialog_timeout-1@e2e": ("failed", "platform", "q850:102", "lifetime"),
}


# the same capture as sngrep 1.6.0 mirrors it in HEP3 (``sngrep -I … -H udp:…:9060``), captured on udp/9060
@pytest.mark.parametrize("name", ["kamailio-proxy-endings.pcap", "kamailio-proxy-endings.txt",
                                  "sngrep-1.6.0-hep3-proxy-endings.pcap"])
def test_the_recorded_proxy_endings(name: str) -> None:
    reader = read_capture if name.endswith(".pcap") else read_trace
    with (DATA / name).open("rb" if name.endswith(".pcap") else "r") as stream:
        items = list(reader(stream, 1_800_000_000.0))  # type: ignore[arg-type]
    records = {i.record.provider_call_id: i.record for i in items if i.record is not None}
    assert len(records) == len(items) == len(RECORDED)
    assert {k: (r.outcome, r.ended_by, r.cause, r.extra.get("proxy_ending")) for k, r in records.items()} == RECORDED
    timeout = records["proxy_dialog_timeout-1@e2e"]
    assert (timeout.answered, timeout.sip, timeout.q850, timeout.extra["ended_with"]) == (True, 200, 102, "BYE")

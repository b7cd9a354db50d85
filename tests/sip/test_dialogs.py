"""Dialog scenarios: a list of captured messages in, the one call hangup makes of them out."""

from __future__ import annotations

from typing import Any

import pytest
from sip_helpers import CALLEE, CALLEE_TAG, CALLER, CALLER_TAG, PROXY, cancel, invite, packet, request, response

from hangup.records import CallRecord
from hangup.sip.dialogs import DialogEngine, Limits, calls_from
from hangup.sip.packet import Packet

UP, DOWN = (CALLER, PROXY), (PROXY, CALLER)  # caller → proxy, proxy → caller
OUT, BACK = (PROXY, CALLEE), (CALLEE, PROXY)  # proxy → callee, callee → proxy


def flow(*steps: tuple[float, bytes, tuple[tuple[str, int], tuple[str, int]]]) -> list[Packet]:
    return [packet(time, text, *path) for time, text, path in steps]


def answered_call(bye: bytes, bye_at: float = 63.0) -> list[Packet]:
    return flow(
        (0.0, invite(), UP), (0.1, response(100, "Trying", to_tag=""), DOWN), (1.0, response(180, "Ringing"), DOWN),
        (3.0, response(200, "OK"), DOWN), (3.1, request("ACK", 1), UP), (bye_at, bye, UP),
        (bye_at + 0.1, response(200, "OK", "2 BYE"), DOWN),
    )


def failed(status: int, phrase: str) -> list[Packet]:
    return flow((0.0, invite(), UP), (1.0, response(180, "Ringing"), DOWN), (9.0, response(status, phrase), DOWN),
                (9.1, request("ACK", 1), UP))


CANCELED = flow(
    (0.0, invite(), UP), (1.0, response(180, "Ringing"), DOWN), (10.0, cancel(), UP),
    (10.1, response(200, "OK", "1 CANCEL", to_tag=""), DOWN), (10.2, response(487, "Request Terminated"), DOWN),
    (10.3, request("ACK", 1), UP),
)
CHALLENGED = flow(
    (0.0, invite(1), UP), (0.1, response(407, "Proxy Authentication Required", to_tag="px1"), DOWN),
    (0.2, request("ACK", 1, to_tag="px1"), UP),
    (0.3, invite(2, branch="z9hG4bK2nd", headers=('Proxy-Authorization: Digest username="alice"',)), UP),
    (1.3, response(180, "Ringing", "2 INVITE"), DOWN), (4.3, response(200, "OK", "2 INVITE"), DOWN),
    (4.4, request("ACK", 2), UP), (34.3, request("BYE", 3), UP), (34.4, response(200, "OK", "3 BYE"), DOWN),
)
REINVITE = flow(
    (0.0, invite(), UP), (2.0, response(200, "OK"), DOWN), (2.1, request("ACK", 1), UP),
    (20.0, request("INVITE", 2, headers=("Content-Type: application/sdp",)), UP),
    (20.1, response(200, "OK", "2 INVITE"), DOWN), (20.2, request("ACK", 2), UP),
    (30.0, request("UPDATE", 1, by_callee=True), BACK), (30.1, response(200, "OK", "1 UPDATE", from_tag=CALLEE_TAG,
                                                                        to_tag=CALLER_TAG), UP),
    (40.0, request("INVITE", 2, by_callee=True, headers=("Content-Type: application/sdp",)), DOWN),
    (40.1, response(491, "Request Pending", "2 INVITE", from_tag=CALLEE_TAG, to_tag=CALLER_TAG), UP),
    (62.0, request("BYE", 3), UP),
)
FORKED = flow(
    (0.0, invite(), UP), (0.01, invite(vias=2), OUT), (0.02, invite(vias=2), (PROXY, ("10.0.0.4", 5060))),
    (1.0, response(180, "Ringing", to_tag="b1", vias=2), BACK), (1.01, response(180, "Ringing", to_tag="b1"), DOWN),
    (1.5, response(180, "Ringing", to_tag="b2", vias=2), (("10.0.0.4", 5060), PROXY)),
    (1.51, response(180, "Ringing", to_tag="b2"), DOWN),
    (5.0, response(200, "OK", to_tag="b2", vias=2), (("10.0.0.4", 5060), PROXY)),
    (5.01, response(200, "OK", to_tag="b2"), DOWN), (5.02, cancel(branch="z9hG4bKproxyf9"), OUT),
    (5.1, response(487, "Request Terminated", to_tag="b1", vias=2), BACK),
    (5.2, request("ACK", 1, to_tag="b2"), UP), (25.0, request("BYE", 2, to_tag="b2"), UP),
)
REDIRECTED = flow(
    (0.0, invite(1), UP), (0.5, response(302, "Moved Temporarily", to_tag="r1",
                                          headers=("Contact: <sip:bob@10.0.0.9>",)), DOWN),
    (0.6, request("ACK", 1, to_tag="r1"), UP), (0.7, invite(2, branch="z9hG4bKredir"), UP),
    (2.0, response(200, "OK", "2 INVITE"), DOWN), (12.0, request("BYE", 3), UP),
)
TWO_HOPS_BUSY = flow(
    (0.0, invite(), UP), (0.01, invite(vias=2), OUT), (1.0, response(180, "Ringing", vias=2), BACK),
    (1.01, response(180, "Ringing"), DOWN), (6.0, response(486, "Busy Here", vias=2), BACK),
    (6.01, request("ACK", 1, vias=2), OUT), (6.02, response(486, "Busy Here"), DOWN), (6.1, request("ACK", 1), UP),
)
SERIAL_FAILOVER = flow(
    (0.0, invite(), UP), (0.01, invite(vias=2), OUT), (3.0, response(503, "Service Unavailable", vias=2), BACK),
    (3.01, invite(vias=2, branch="z9hG4bKtry2"), (PROXY, ("10.0.0.4", 5060))),
    (4.0, response(200, "OK", vias=2, branch="z9hG4bKtry2"), (("10.0.0.4", 5060), PROXY)),
    (4.01, response(200, "OK"), DOWN), (14.0, request("BYE", 2, by_callee=True), (CALLEE, PROXY)),
)
BYE_BEFORE_ANSWER = flow(
    (0.0, invite(), UP), (1.0, response(180, "Ringing"), DOWN), (30.0, request("BYE", 2, by_callee=True), DOWN),
    (29.9, response(200, "OK"), DOWN), (30.2, request("ACK", 1), UP),
)
RETRANSMITTED = flow(
    (0.0, invite(), UP), (0.5, invite(), UP), (1.5, invite(), UP), (1.6, response(100, "Trying", to_tag=""), DOWN),
    (2.0, response(180, "Ringing"), DOWN), (2.5, response(180, "Ringing"), DOWN),
    (7.0, response(486, "Busy Here"), DOWN), (7.5, response(486, "Busy Here"), DOWN), (7.6, request("ACK", 1), UP),
    (8.5, response(486, "Busy Here"), DOWN), (8.6, request("ACK", 1), UP),
)
BYE_WITH_REASON = answered_call(request("BYE", 2, headers=('Reason: Q.850;cause=38;text="Network out of order"',)))
BYE_BY_CALLEE = flow(
    (0.0, invite(), UP), (3.0, response(200, "OK"), DOWN), (3.1, request("ACK", 1), UP),
    (48.0, request("BYE", 1, by_callee=True), DOWN), (48.1, response(200, "OK", "1 BYE", from_tag=CALLEE_TAG,
                                                                     to_tag=CALLER_TAG), UP),
)


def torn_down_by_the_proxy(caller_side_first: bool) -> list[Packet]:
    """The proxy ends an answered call itself (a dialog timeout): a BYE of its own to each party."""
    to_callee = (40.0 if caller_side_first else 40.1, request("BYE", 99, branch="z9hG4bKdlgto1"), OUT)
    to_caller = (40.1 if caller_side_first else 40.0,
                 request("BYE", 98, by_callee=True, branch="z9hG4bKdlgto2"), DOWN)
    return flow(
        (0.0, invite(), UP), (0.01, invite(vias=2), OUT), (2.0, response(200, "OK", vias=2), BACK),
        (2.01, response(200, "OK"), DOWN), (2.1, request("ACK", 1), UP), (2.11, request("ACK", 1, vias=2), OUT),
        *sorted([to_callee, to_caller], key=lambda step: step[0]),
    )


#: (scenario, packets, expected record fields, expected extra values)
SCENARIOS: list[tuple[str, list[Packet], dict[str, Any], dict[str, str]]] = [
    ("caller BYE", answered_call(request("BYE", 2)),
     {"outcome": "completed", "ended_by": "caller", "answered": True, "duration": 60, "sip": 200, "cause": "q850:16",
      "setup_time": 0, "start_time": 3, "end_time": 63},
     {"pdd": "1.000", "answer_delay": "3.000", "ended_with": "BYE"}),
    ("callee BYE", BYE_BY_CALLEE, {"outcome": "completed", "ended_by": "callee", "duration": 45}, {}),
    ("486 busy", failed(486, "Busy Here"),
     {"outcome": "busy", "ended_by": "callee", "answered": False, "sip": 486, "cause": "sip:486", "duration": 0},
     {"final_code": "486", "ended_with": "response"}),
    ("480 unavailable", failed(480, "Temporarily Unavailable"), {"outcome": "no_answer", "sip": 480}, {}),
    ("408 ring timeout", failed(408, "Request Timeout"), {"outcome": "unreachable", "sip": 408}, {}),
    ("CANCEL then 487", CANCELED,
     {"outcome": "canceled", "ended_by": "caller", "answered": False, "sip": 487, "end_time": 10}, {}),
    ("603 decline", failed(603, "Decline"), {"outcome": "rejected", "ended_by": "callee"}, {}),
    ("404 not found", failed(404, "Not Found"), {"outcome": "unreachable", "sip": 404}, {}),
    ("503 unavailable", failed(503, "Service Unavailable"), {"outcome": "failed", "fault": "network"}, {}),
    ("BYE with Reason Q.850", BYE_WITH_REASON, {"cause": "q850:38", "q850": 38, "ended_by": "caller", "answered": True},
     {"ending_reasons": 'Q.850;cause=38;text="Network out of order"'}),
    ("407 then 200", CHALLENGED, {"outcome": "completed", "answered": True, "duration": 30, "setup_time": 0},
     {"challenges": "1", "pdd": "1.300"}),
    ("re-INVITE, UPDATE, 491 then BYE", REINVITE, {"outcome": "completed", "duration": 60, "ended_by": "caller"}, {}),
    ("fork: two 180s, one 200", FORKED, {"outcome": "completed", "duration": 20},
     {"to_tag": "b2", "early_dialogs": "2", "branch_codes": "487"}),
    ("302 then the new target answers", REDIRECTED, {"outcome": "completed", "duration": 10}, {"redirects": "302"}),
    ("the same dialog on two hops", TWO_HOPS_BUSY, {"outcome": "busy", "end_time": 6},
     {"hops": "10.0.0.1:5060>10.0.0.2:5060 10.0.0.2:5060>10.0.0.3:5060 10.0.0.3:5060>10.0.0.2:5060 "
              "10.0.0.2:5060>10.0.0.1:5060", "branch_codes": "486"}),
    ("a proxy fails over after a 503", SERIAL_FAILOVER, {"outcome": "completed", "ended_by": "callee"},
     {"branch_codes": "503"}),
    ("BYE seen before the 200 of the INVITE", BYE_BEFORE_ANSWER,
     {"outcome": "completed", "answered": True, "start_time": 29, "end_time": 30, "flags": ()}, {}),
    ("retransmissions", RETRANSMITTED, {"outcome": "busy", "setup_time": 0}, {"pdd": "2.000"}),
    ("the proxy tears the dialog down (caller side first)", torn_down_by_the_proxy(True),
     {"outcome": "failed", "ended_by": "platform", "duration": 38, "cause": "q850:102", "q850": 102, "sip": 200},
     {"generated_by": "proxy", "proxy_ending": "lifetime"}),
    ("the proxy tears the dialog down (callee side first)", torn_down_by_the_proxy(False),
     {"outcome": "failed", "ended_by": "platform", "duration": 38, "cause": "q850:102", "q850": 102, "sip": 200},
     {"generated_by": "proxy", "proxy_ending": "lifetime"}),
    ("a caller BYE relayed by the proxy", flow(
        (0.0, invite(), UP), (0.01, invite(vias=2), OUT), (2.0, response(200, "OK", vias=2), BACK),
        (2.01, response(200, "OK"), DOWN), (9.0, request("BYE", 2), UP), (9.01, request("BYE", 2, vias=2), OUT)),
     {"ended_by": "caller", "duration": 7}, {}),
    ("a callee BYE relayed by the proxy", flow(
        (0.0, invite(), UP), (0.01, invite(vias=2), OUT), (2.0, response(200, "OK", vias=2), BACK),
        (2.01, response(200, "OK"), DOWN), (9.0, request("BYE", 1, by_callee=True), BACK)),
     {"ended_by": "callee", "duration": 7}, {}),
]


@pytest.mark.parametrize(("name", "packets", "fields", "extra"), SCENARIOS, ids=[s[0] for s in SCENARIOS])
def test_each_scenario_is_one_call_classified(name: str, packets: list[Packet], fields: dict[str, Any],
                                             extra: dict[str, str]) -> None:
    records = list(calls_from(packets))
    assert len(records) == 1, [r.to_json() for r in records]
    record = records[0]
    assert record.provider == "sip" and record.provider_call_id == "3848276298220188511@10.0.0.1"
    assert (record.from_user_id, record.to_user_id) == ("alice", "bob")
    assert {k: getattr(record, k) for k in fields} == fields
    assert {k: record.extra.get(k) for k in extra} == extra
    assert "orphaned" not in record.flags


def _finished_by(packets: list[Packet]) -> tuple[int, CallRecord]:
    """The index of the message that finished the call (the engine answers as soon as it knows)."""
    engine = DialogEngine()
    for index, item in enumerate(packets):
        done = engine.feed(item)
        if done:
            assert len(done) == 1 and engine.open_dialogs == 0
            return index, done[0]
    raise AssertionError("no message finished the call")


@pytest.mark.parametrize(("packets", "index"), [
    (answered_call(request("BYE", 2)), 5),  # the BYE itself
    (TWO_HOPS_BUSY, 6),  # the proxy's 486 towards the caller, not the callee's 486 to the proxy
    (CANCELED, 4),  # the 487, not the CANCEL
])
def test_a_call_is_returned_by_the_message_that_ends_it(packets: list[Packet], index: int) -> None:
    assert _finished_by(packets)[0] == index


def test_messages_after_the_end_start_nothing() -> None:
    engine = DialogEngine()
    late = packet(64.0, response(200, "OK", "2 BYE"), *DOWN)
    done = [r for p in answered_call(request("BYE", 2)) for r in engine.feed(p)]
    assert len(done) == 1
    assert engine.feed(late) == [] and engine.expire(70.0) == [] and engine.flush() == []
    assert engine.counters.late >= 2


@pytest.mark.parametrize(("packets", "now", "fields", "flags"), [
    (flow((0.0, invite(), UP), (1.0, response(180, "Ringing"), DOWN)), 301.0,
     {"answered": False, "sip": 408, "outcome": "unreachable"}, ("orphaned",)),
    (flow((0.0, invite(), UP), (2.0, response(200, "OK"), DOWN), (2.1, request("ACK", 1), UP)), 14_402.1,
     {"answered": True, "start_time": 2, "end_time": 2}, ("orphaned",)),
    (flow((0.0, invite(1), UP), (0.1, response(407, "Proxy Authentication Required", to_tag="px"), DOWN)), 32.1,
     {"answered": False, "sip": 407, "outcome": "failed"}, ()),
    (CANCELED[:3], 42.0, {"outcome": "canceled", "ended_by": "caller", "end_time": 10}, ()),
    (flow((0.0, invite(), UP), (0.5, response(302, "Moved Temporarily", to_tag="r"), DOWN)), 33.0,
     {"outcome": "transferred", "sip": 302}, ()),
])
def test_expire_closes_what_waited_long_enough(packets: list[Packet], now: float, fields: dict[str, Any],
                                               flags: tuple[str, ...]) -> None:
    engine = DialogEngine()
    assert [r for p in packets for r in engine.feed(p)] == []
    assert engine.expire(now - 1.0) == []  # not yet due
    records = engine.expire(now)
    assert len(records) == 1 and engine.open_dialogs == 0
    assert {k: getattr(records[0], k) for k in fields} == fields
    assert records[0].flags == flags


def test_flush_closes_every_open_dialog_as_orphaned() -> None:
    engine = DialogEngine()
    for number in range(3):
        engine.feed(packet(float(number), invite(call_id=f"call-{number}")))
    records = engine.flush()
    assert sorted(r.provider_call_id for r in records) == ["call-0", "call-1", "call-2"]
    assert all(r.flags == ("orphaned",) for r in records)


def test_open_dialogs_are_capped_and_the_least_recent_is_closed_first() -> None:
    engine = DialogEngine(Limits(max_open=2))
    engine.feed(packet(0.0, invite(call_id="first")))
    engine.feed(packet(1.0, invite(call_id="second")))
    engine.feed(packet(2.0, response(180, "Ringing", call_id="first"), *DOWN))  # "first" is now the more recent
    evicted = engine.feed(packet(3.0, invite(call_id="third")))
    assert [(r.provider_call_id, r.flags) for r in evicted] == [("second", ("orphaned", "evicted"))]
    assert engine.open_dialogs == 2 and engine.counters.evicted == 1


def test_a_message_before_its_invite_is_kept_until_the_invite_comes() -> None:
    packets = flow((1.0, response(180, "Ringing"), DOWN), (0.0, invite(), UP), (2.0, response(486, "Busy Here"), DOWN))
    records = list(calls_from(packets))
    assert len(records) == 1 and records[0].extra["pdd"] == "1.000" and records[0].outcome == "busy"


def test_messages_whose_invite_never_comes_are_dropped_and_counted() -> None:
    engine = DialogEngine()
    assert engine.feed(packet(0.0, request("BYE", 2), *UP)) == []
    assert engine.expire(40.0) == [] and engine.counters.unmatched == 1


def test_raw_text_keeps_each_distinct_message_once_within_its_bound() -> None:
    records = list(calls_from(RETRANSMITTED))
    raw = records[0].raw
    assert raw.count("INVITE sip:bob@biloxi.example.com SIP/2.0") == 1
    assert raw.count("SIP/2.0 486 Busy Here") == 1
    bounded = list(calls_from(RETRANSMITTED, engine=DialogEngine(Limits(raw_messages=2))))
    assert bounded[0].raw.count("\n\n") <= 2 * 2 + 1


def test_a_payload_that_is_not_sip_is_reported_and_reading_goes_on() -> None:
    errors: list[str] = []
    packets = [packet(0.0, b"\x16\x03\x01 not sip"), *failed(486, "Busy Here")]
    records = list(calls_from(packets, on_error=lambda p, e: errors.append(e.what)))
    assert errors == ["start line"] and [r.outcome for r in records] == ["busy"]


@pytest.mark.parametrize(("addresses", "route"), [
    (True, CALLEE[0]),  # captured on the proxy: where its INVITE (two Vias) went
    (False, "biloxi.example.com"),  # a trace without addresses: the Request-URI's host
])
def test_the_route_is_where_the_furthest_invite_went(addresses: bool, route: str) -> None:
    def on_wire(time: float, text: bytes, src: tuple[str, int], dst: tuple[str, int]) -> Packet:
        return packet(time, text, src, dst) if addresses else packet(time, text, ("", 0), ("", 0))

    packets = [
        on_wire(0.0, invite(), CALLER, PROXY),
        on_wire(0.01, invite(vias=2), PROXY, CALLEE),
        on_wire(1.0, response(486, "Busy Here", vias=2), CALLEE, PROXY),
        on_wire(1.01, response(486, "Busy Here"), PROXY, CALLER),
    ]
    (record,) = calls_from(packets)
    assert record.route == route

"""``hangup import`` of captures other projects wrote (``tests/data/sip/real/``, sources and licences in its README).

What each test expects was read from the capture's messages: how many SIP messages it holds, which INVITE
dialogs it has and how far each got, which messages are broken and why.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from capture_helpers import import_paths
from dpkt import pcap

from hangup.sip.capture import packets
from hangup.sip.packet import Packet
from hangup.store.base import CallQuery, Store

REAL = Path(__file__).resolve().parent.parent / "data" / "sip" / "real"


@dataclass(frozen=True)
class Call:
    call_id: str
    answered: bool
    sip: int
    outcome: str
    ended_by: str
    ended_with: str
    from_user: str
    to_user: str


#: An INVITE with no final response when the capture ends: closed as orphaned, as the caller's Timer C would (408).
#: Who ended it is the catalog's word for a 408, the network's.
UNANSWERED = {"answered": False, "sip": 408, "outcome": "unreachable", "ended_by": "carrier", "ended_with": "orphaned"}

CAPTURES = [
    # file, SIP messages in it, the calls, the rejected messages (reason, where)
    ("zeek-invalid-content-length.pcap", 2, [], [
        ("Content-Length: not a number of bytes: 'bad'", "udp message (10.0.0.1:5060 > 10.0.0.2:5060)"),
        ("Content-Length: not a number of bytes: 'xyz'", "udp message (10.0.0.2:5060 > 10.0.0.1:5060)"),
    ]),
    # the four zero bytes before the REGISTER are a datagram of their own, not SIP: skipped like RTP or a
    # keep-alive; the REGISTER has no Call-ID, From, To or CSeq
    ("zeek-sip-junk-before-request.pcap", 1, [], [
        ("Call-ID: missing", "udp message (1.1.1.1:31000 > 1.1.1.2:5060)"),
    ]),
    ("zeek-sip-long-request-response-paths.pcap", 2, [], []),  # OPTIONS: not a call
    ("pcapplusplus-sdp.pcap", 1, [], []),  # a 200 OK whose INVITE was before the capture: not reported
    ("pcapplusplus-sip_not_sdp.pcap", 1, [], []),  # PUBLISH: not a call
    ("pcapplusplus-sip_resp.pcap", 7, [], []),  # responses only, one in a TCP segment from mid-connection
    ("pcapplusplus-sip_non_default_port.pcap", 2, [
        Call("0c3bab2cebe34ec997a80daa4346b393", **UNANSWERED, from_user="1005", to_user="1006"),
    ], []),
    # several hundred sessions of other protocols over TCP, UDP and SCTP, IPv4 and IPv6, none of them SIP's concern;
    # an INVITE over UDP with no answer, and OPTIONS, its 200 and a PUBLISH over TCP
    ("arkime-arkime_synthetic.pcap", 4, [
        Call("12345", **UNANSWERED, from_user="alice", to_user="bob"),
    ], []),
    # an iPhone on LTE, captured on the mobile core (Linux cooked, IPv4, GTP-U, IPv6): registration (401, 200),
    # SUBSCRIBE refused 405, a MESSAGE, de-registration, and a call to 122 over TCP that rings, is answered, and is
    # hung up by the far end (YATE's BYE, From the callee's tag); an ICMP error quotes a DNS answer
    ("arkime-gtp-iphone.pcap", 17, [
        Call("zTHDK1uOm6wLihi3m15pRfSR", answered=True, sip=200, outcome="completed", ended_by="callee",
             ended_with="BYE", from_user="+88270006", to_user="122"),
    ], []),
    # HEP3 on udp/9060 from hepgen.js: an INVITE whose Content-Length counts its body's lines as CRLF-ended while
    # they end with LF alone (287 said, 276 there), so it is refused as RFC 3261 §18.3 has a UDP receiver refuse it,
    # and the 100 and 407 that answer it make no call; an OPTIONS and its 200, a PUBLISH miscounted likewise; a log
    # line (type 100) and an RTCP report (type 5) are not SIP
    ("hepgenjs-default.pcap", 6, [], [
        ("Content-Length: says 287 bytes, the message has 276 after the headers",
         "udp message (192.168.1.1:5060 > 192.168.1.2:5060)"),
        ("Content-Length: says 450 bytes, the message has 424 after the headers",
         "udp message (192.168.1.1:5060 > 192.168.1.2:5060)"),
    ]),
    # HEP3 from hepgen.js's B2BUA scenario (load balancer, proxy, B2BUA): the caller's INVITE challenged (407, ACK),
    # sent again with credentials and answered through the B2BUA's outbound leg (Call-ID ``…_b2b-1``); the caller
    # hangs up, the proxy passes the BYE on, and five seconds later the B2BUA ends its outbound leg itself
    ("hepgenjs-b2bcall.pcap", 36, [
        Call("665nn@127.0.0.1", answered=True, sip=200, outcome="completed", ended_by="caller", ended_with="BYE",
             from_user="hepgenjs", to_user="133"),
        Call("665nn@127.0.0.1_b2b-1", answered=True, sip=200, outcome="completed", ended_by="caller",
             ended_with="BYE", from_user="+12025550143", to_user="133"),
    ], []),
    # the CANCEL (over PPPoE) and the ACK belong to a call whose INVITE is not in the capture; the BYE is cut
    # inside its Content-Length header name
    ("pcapplusplus-sip_reqs.pcap", 4, [
        Call("12013223@200.57.7.195", **UNANSWERED, from_user="200.57.7.195", to_user="francisco"),
    ], [
        ("header: not a 'Name: value' line: 'Content-Lengt'", "udp message (10.0.2.15:5060 > 10.0.2.20:5060)"),
    ]),
]


@pytest.mark.parametrize(("name", "messages", "calls", "rejected"), CAPTURES, ids=[c[0] for c in CAPTURES])
def test_a_real_capture_imports_what_its_messages_show(name: str, messages: int, calls: list[Call],
                                                       rejected: list[tuple[str, str]], fresh_store: Store,
                                                       tmp_path: Path) -> None:
    with (REAL / name).open("rb") as stream:
        assert sum(1 for found in packets(stream) if isinstance(found, Packet)) == messages
    summary, rejects = import_paths(fresh_store, tmp_path, [REAL / name])
    assert (summary["formats"], summary["imported"]) == ({str(REAL / name): "pcap"}, len(calls))
    assert [(r["error"], r["location"]) for r in rejects] == rejected
    assert summary["rejected"] == len(rejected)
    assert sorted(_calls(fresh_store), key=lambda c: c.call_id) == calls


def test_an_invite_and_its_responses_from_two_real_captures_make_one_answered_call(fresh_store: Store,
                                                                                   tmp_path: Path) -> None:
    """The Clarent gateway's INVITE (``sip_reqs``) and the X-Lite phone's 100, 180, 200 (``sip_resp``) in time order."""
    frames = sorted(_frames(REAL / "pcapplusplus-sip_reqs.pcap") + _frames(REAL / "pcapplusplus-sip_resp.pcap"))
    path = tmp_path / "merged.pcap"
    with path.open("wb") as out:
        writer = pcap.Writer(out)
        for time, frame in frames:
            writer.writepkt(frame, time)
    summary, rejects = import_paths(fresh_store, tmp_path, [path])
    assert (summary["imported"], [r["error"] for r in rejects]) == (
        1, ["header: not a 'Name: value' line: 'Content-Lengt'"])
    call, = fresh_store.query(CallQuery()).calls
    assert (call.provider_call_id, call.answered, call.sip, call.extra["to_tag"]) == (
        "12013223@200.57.7.195", True, 200, "298852044")
    # 180 Ringing 47.5 ms after the INVITE, 200 Ok 8.478 s after it; no BYE in the capture
    assert (call.extra["pdd"], call.extra["answer_delay"], call.extra["ended_with"]) == ("0.048", "8.478", "orphaned")
    assert "orphaned" in call.flags


def test_damaged_real_captures_do_not_stop_an_import_of_several(fresh_store: Store, tmp_path: Path) -> None:
    paths = [REAL / c[0] for c in CAPTURES]
    summary, rejects = import_paths(fresh_store, tmp_path, paths)
    assert (summary["imported"], summary["rejected"]) == (sum(len(c[2]) for c in CAPTURES),
                                                          sum(len(c[3]) for c in CAPTURES))
    assert {Path(str(r["file"])).name for r in rejects} == {c[0] for c in CAPTURES if c[3]}


def _calls(store: Store) -> list[Call]:
    return [Call(c.provider_call_id, c.answered, c.sip or 0, c.outcome, c.ended_by, str(c.extra.get("ended_with")),
                 c.from_user_id, c.to_user_id) for c in store.query(CallQuery()).calls]


def _frames(path: Path) -> list[tuple[float, bytes]]:
    with path.open("rb") as stream:
        return [(time, bytes(frame)) for time, frame in pcap.Reader(stream)]

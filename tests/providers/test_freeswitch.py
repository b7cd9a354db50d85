from __future__ import annotations

import base64
import json
from pathlib import Path
from urllib.parse import quote

import pytest
from payload_cases import BASE_URL, cases, compare, expected, request_for

from hangup.errors import Forbidden, PayloadError, Unauthorized
from hangup.providers.base import WebhookRequest
from hangup.providers.freeswitch import PROVIDER

URL = BASE_URL + "freeswitch"
DATA = Path(__file__).parent.parent / "data/freeswitch"
SECRETS = {"freeswitch_basic_auth": "cdr:s3cret"}


@pytest.mark.parametrize("payload", cases("freeswitch"), ids=lambda p: p.name)
def test_recorded_cdrs(payload: Path) -> None:
    record = PROVIDER.parse(request_for(payload, "freeswitch"))
    assert record is not None
    compare(record, expected(payload))
    assert record.extra["uuid"] == record.provider_call_id


def _post(body: bytes, content_type: str, query: str = "") -> WebhookRequest:
    return WebhookRequest("POST", URL + (f"?{query}" if query else ""), query, body, {"content-type": content_type})


def test_every_encoding_of_one_cdr_gives_one_record() -> None:
    document = (DATA / "inbound_recv_bye.json").read_bytes()
    bodies = [
        (document, "application/json"),
        (b"cdr=" + quote(document.decode(), safe="").encode(), "application/x-www-form-urlencoded"),
        (b"cdr=" + base64.b64encode(document), "application/x-www-form-base64-encoded"),
        (b"cdr=" + document, "application/x-www-form-plaintext"),
    ]
    records = [PROVIDER.parse(_post(body, kind)) for body, kind in bodies]
    assert len({(r.id, r.cause, r.outcome, r.duration, r.from_user_id) for r in records if r}) == 1


def test_values_encoded_by_encode_values_are_decoded() -> None:
    record = PROVIDER.parse(_post((DATA / "inbound_recv_bye.json").read_bytes(), "application/json"))
    assert record is not None
    assert record.extra["caller_id_name"] == "Alice Example"
    assert record.extra["sip_call_id"] == "3c2a7b5e1f9d4c8a@192.168.1.20"


def test_uuid_from_the_query_when_variables_lack_it() -> None:
    cdr = {"variables": {"hangup_cause": "NORMAL_CLEARING", "billsec": "3", "direction": "inbound"}}
    record = PROVIDER.parse(_post(json.dumps(cdr).encode(), "application/json", "uuid=a_1234-abcd"))
    assert record is not None and record.provider_call_id == "1234-abcd"


@pytest.mark.parametrize(
    ("direction", "disposition", "bridge_epoch", "ended_by"),
    [("inbound", "recv_bye", "10", "caller"), ("inbound", "send_bye", "10", "callee"),
     ("outbound", "recv_bye", "10", "callee"), ("outbound", "send_bye", "10", "caller"),
     ("outbound", "recv_refuse", "0", "callee"), ("inbound", "recv_cancel", "0", "caller"),
     # never bridged: FreeSWITCH itself hung up (IVR, failed bridge), nobody on the other side
     ("inbound", "send_bye", "0", "platform"), ("outbound", "send_bye", "0", "platform")],
)
def test_disposition_read_with_direction(direction: str, disposition: str, bridge_epoch: str, ended_by: str) -> None:
    cdr = {"variables": {"uuid": "u1", "direction": direction, "hangup_cause": "NORMAL_CLEARING",
                         "answer_epoch": "10", "bridge_epoch": bridge_epoch, "billsec": "5",
                         "sip_hangup_disposition": disposition}}
    record = PROVIDER.parse(_post(json.dumps(cdr).encode(), "application/json"))
    assert record is not None and record.ended_by == ended_by


@pytest.mark.parametrize(
    "body",
    [b"", b"cdr=", b"<cdr><variables>", b'<!DOCTYPE x [<!ENTITY a "b">]><cdr/>', b"{not json", b"[]"],
)
def test_broken_documents_are_payload_errors(body: bytes) -> None:
    with pytest.raises(PayloadError):
        PROVIDER.parse(_post(body, "text/xml"))


def test_missing_uuid_is_named() -> None:
    with pytest.raises(PayloadError) as caught:
        PROVIDER.parse(_post(b'{"variables": {"billsec": "x"}}', "application/json"))
    assert {d["field"] for d in caught.value.details} == {"billsec", "variables.uuid"}


def _auth(credentials: str) -> dict[str, str]:
    return {"authorization": "Basic " + base64.b64encode(credentials.encode()).decode()}


def test_basic_auth() -> None:
    body = (DATA / "inbound_recv_bye.json").read_bytes()
    PROVIDER.verify(WebhookRequest("POST", URL, "", body, _auth("cdr:s3cret")), SECRETS)
    with pytest.raises(Forbidden):
        PROVIDER.verify(WebhookRequest("POST", URL, "", body, _auth("cdr:guess")), SECRETS)
    with pytest.raises(Unauthorized):
        PROVIDER.verify(WebhookRequest("POST", URL, "", body, {}), SECRETS)
    with pytest.raises(Unauthorized):
        PROVIDER.verify(WebhookRequest("POST", URL, "", body, {"authorization": "Basic %%%"}), SECRETS)
    with pytest.raises(Unauthorized):
        PROVIDER.verify(WebhookRequest("POST", URL, "", body, {}), {})
    PROVIDER.verify(WebhookRequest("POST", URL, "", body, {}), {"freeswitch_accept_unsigned": "true"})


FREESWITCH_CAUSES = ["NORMAL_CLEARING", "USER_BUSY", "NO_ANSWER", "NO_USER_RESPONSE", "CALL_REJECTED",
                     "ORIGINATOR_CANCEL", "UNALLOCATED_NUMBER", "NO_ROUTE_DESTINATION", "NORMAL_TEMPORARY_FAILURE",
                     "RECOVERY_ON_TIMER_EXPIRE", "MEDIA_TIMEOUT", "ALLOTTED_TIMEOUT", "LOSE_RACE", "MANAGER_REQUEST",
                     "BLIND_TRANSFER", "ATTENDED_TRANSFER", "PICKED_OFF", "USER_NOT_REGISTERED", "PROGRESS_TIMEOUT",
                     "GATEWAY_DOWN", "INCOMPATIBLE_DESTINATION", "DESTINATION_OUT_OF_ORDER", "SUBSCRIBER_ABSENT"]


@pytest.mark.parametrize("cause", FREESWITCH_CAUSES)
def test_common_causes_classify(cause: str) -> None:
    cdr = {"variables": {"uuid": "u1", "hangup_cause": cause}}
    record = PROVIDER.parse(_post(json.dumps(cdr).encode(), "application/json"))
    assert record is not None and record.outcome != "unknown" and "unknown_cause" not in record.flags


def _xml_cdr(variables: dict[str, str], callflow: str = "", channel_direction: str = "") -> bytes:
    """An XML CDR as mod_xml_cdr writes it: one element per channel variable, named after it."""
    values = "".join(f"<{name}>{value}</{name}>" for name, value in variables.items())
    channel = f"<channel_data><direction>{channel_direction}</direction></channel_data>" if channel_direction else ""
    document = f'<cdr core-uuid="c1">{channel}<variables>{values}</variables>{callflow}</cdr>'
    return f'<?xml version="1.0"?>\n{document}'.encode()


def test_variables_exported_with_a_prefix_do_not_refuse_the_cdr() -> None:
    # `export nolocal:req_uuid=${uuid}` in the dialplan makes FreeSWITCH write <nolocal:req_uuid>, a prefix
    # no namespace declares; the CDR is a valid call and must be stored, the variable kept.
    body = _xml_cdr({"direction": "inbound", "uuid": "5e1d07aa", "nolocal:req_uuid": "5e1d07aa",
                     "hangup_cause": "NORMAL_CLEARING", "hangup_cause_q850": "16", "answer_epoch": "1700000000",
                     "billsec": "142", "sip_hangup_disposition": "send_bye", "export_vars": "nolocal%3Areq_uuid"})
    for encoded, content_type in ((body, "text/xml"), (b"cdr=" + quote(body.decode(), safe="").encode(),
                                                      "application/x-www-form-urlencoded")):
        record = PROVIDER.parse(_post(encoded, content_type))
        assert record is not None and record.outcome == "completed" and record.duration == 142
        assert record.extra["nolocal:req_uuid"] == "5e1d07aa" and record.extra["export_vars"] == "nolocal:req_uuid"


REAL = Path(__file__).parent.parent / "data/real/freeswitch"


@pytest.mark.parametrize("name", ["ccm-local-call-cdr", "ccm-incoming-call-cdr", "ccm-error-call-cdr"])
def test_a_real_cdr_with_a_prefixed_variable_reads_as_without_it(name: str) -> None:
    # A real mod_xml_cdr CDR (CommunityCellularManager, tests/data/real/PROVENANCE.md) given the element a
    # dialplan's `export nolocal:req_uuid=${uuid}` adds to <variables>: the same call, the variable kept.
    original = (REAL / f"{name}.xml").read_bytes()
    prefixed = original.replace(b"<variables>", b"<variables><nolocal:req_uuid>5e1d07aa</nolocal:req_uuid>", 1)
    assert prefixed != original
    plain, read = (PROVIDER.parse(_post(body, "text/xml")) for body in (original, prefixed))
    assert plain is not None and read is not None and read.extra["nolocal:req_uuid"] == "5e1d07aa"
    facts = json.loads((REAL / f"{name}.expected.json").read_text())
    assert {k: getattr(read, k) for k in facts} == {k: getattr(plain, k) for k in facts}


A_LEG_FLOW = "<callflow><caller_profile><originatee><originatee_caller_profile/></originatee></caller_profile>" \
    "</callflow>"
B_LEG_FLOW = "<callflow><caller_profile><originator><originator_caller_profile/></originator></caller_profile>" \
    "</callflow>"


@pytest.mark.parametrize(
    ("variables", "callflow", "channel", "direction", "ended_by"),
    [
        ({"sip_hangup_disposition": "recv_bye", "bridge_epoch": "5"}, "", "inbound", "inbound", "caller"),
        ({"sip_hangup_disposition": "recv_bye", "bleg_uuid": "b1"}, "", "", "inbound", "caller"),
        ({"sip_hangup_disposition": "recv_bye"}, A_LEG_FLOW, "", "inbound", "caller"),
        ({"sip_hangup_disposition": "recv_bye", "originating_leg_uuid": "a1"}, "", "", "outbound", "callee"),
        ({"sip_hangup_disposition": "send_bye"}, B_LEG_FLOW, "", "outbound", "caller"),
        ({"sip_hangup_disposition": "recv_cancel"}, "", "", "inbound", "caller"),
        ({"sip_hangup_disposition": "recv_refuse"}, "", "", "outbound", "callee"),
    ],
)
def test_leg_direction_without_a_direction_variable(variables: dict[str, str], callflow: str, channel: str,
                                                    direction: str, ended_by: str) -> None:
    body = _xml_cdr({"uuid": "u1", "hangup_cause": "NORMAL_CLEARING", **variables}, callflow, channel)
    record = PROVIDER.parse(_post(body, "text/xml"))
    assert record is not None and (record.direction, record.ended_by) == (direction, ended_by)


def test_a_call_answered_by_freeswitch_that_failed_to_bridge_is_not_the_callees_hang_up() -> None:
    # FreeSWITCH answered the caller (IVR, early answer), then the bridge to an unregistered user failed:
    # FreeSWITCH sent the BYE; the callee was never reached, so the callee did not end it.
    cdr = {"variables": {"uuid": "u1", "direction": "inbound", "hangup_cause": "SUBSCRIBER_ABSENT",
                         "hangup_cause_q850": "20", "answer_epoch": "100", "bridge_epoch": "0", "billsec": "4",
                         "sip_hangup_disposition": "send_bye", "originate_disposition": "SUBSCRIBER_ABSENT"}}
    record = PROVIDER.parse(_post(json.dumps(cdr).encode(), "application/json"))
    assert record is not None
    assert (record.outcome, record.ended_by, record.q850) == ("unreachable", "platform", 20)


@pytest.mark.parametrize(("status", "sip"), [("486", 486), ("200", 200), ("0", None), ("16", None), ("", None)])
def test_sip_term_status_kept_only_when_it_is_a_sip_status(status: str, sip: int | None) -> None:
    cdr = {"variables": {"uuid": "u1", "hangup_cause": "USER_BUSY", "sip_term_status": status}}
    record = PROVIDER.parse(_post(json.dumps(cdr).encode(), "application/json"))
    assert record is not None and record.sip == (sip if sip is not None else 486)  # absent: the catalog's


@pytest.mark.parametrize(
    ("variables", "sip", "ended_by"),
    [
        # the A-leg of a bridge the far side refused (CommunityCellularManager's cdr-with-origination.xml)
        ({"sip_invite_failure_status": "403", "sip_hangup_disposition": "send_refuse"}, 403, "callee"),
        # the leg's own dialog status wins over its bridge's
        ({"sip_term_status": "486", "sip_invite_failure_status": "403", "sip_hangup_disposition": "send_refuse"},
         486, "callee"),
        # refused by FreeSWITCH itself, no bridge attempted: the platform's refusal and the catalog's status
        ({"sip_hangup_disposition": "send_refuse"}, 603, "platform"),
        ({"sip_invite_failure_status": "0", "sip_hangup_disposition": "send_refuse"}, 603, "platform"),
    ],
)
def test_a_refusal_passing_on_the_bridges_failure_is_the_callee_sides(variables: dict[str, str], sip: int,
                                                                      ended_by: str) -> None:
    cdr = {"variables": {"uuid": "u1", "direction": "inbound", "hangup_cause": "CALL_REJECTED",
                         "hangup_cause_q850": "21", "answer_epoch": "0", **variables}}
    record = PROVIDER.parse(_post(json.dumps(cdr).encode(), "application/json"))
    assert record is not None and (record.sip, record.ended_by, record.outcome) == (sip, ended_by, "rejected")

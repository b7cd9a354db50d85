"""SIP message parsing: RFC 3261 example messages, compact forms, comma lists, Reason, malformed input."""

from __future__ import annotations

import pytest

from hangup.sip.message import SipParseError, parse, split_list, tag_of, user_of
from hangup.sip.reason import Reason

# RFC 3261 §24.2, F1 (Alice's INVITE to the atlanta.com proxy) and F9 (the 200 OK as it reaches Alice).
RFC3261_F1 = (
    b"INVITE sip:bob@biloxi.com SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bKnashds8\r\n"
    b"Max-Forwards: 70\r\n"
    b"To: Bob <sip:bob@biloxi.com>\r\n"
    b"From: Alice <sip:alice@atlanta.com>;tag=1928301774\r\n"
    b"Call-ID: a84b4c76e66710\r\n"
    b"CSeq: 314159 INVITE\r\n"
    b"Contact: <sip:alice@pc33.atlanta.com>\r\n"
    b"Content-Type: application/sdp\r\n"
    b"Content-Length: 4\r\n"
    b"\r\n"
    b"v=0\r\n"
)
RFC3261_F9 = (
    b"SIP/2.0 200 OK\r\n"
    b"Via: SIP/2.0/UDP server10.biloxi.com\r\n"
    b"   ;branch=z9hG4bKnashds8;received=192.0.2.3\r\n"
    b"Via: SIP/2.0/UDP bigbox3.site3.atlanta.com\r\n"
    b"   ;branch=z9hG4bK77ef4c2312983.1;received=192.0.2.2\r\n"
    b"Via: SIP/2.0/UDP pc33.atlanta.com\r\n"
    b"   ;branch=z9hG4bK776asdhds ;received=192.0.2.1\r\n"
    b"To: Bob <sip:bob@biloxi.com>;tag=a6c85cf\r\n"
    b"From: Alice <sip:alice@atlanta.com>;tag=1928301774\r\n"
    b"Call-ID: a84b4c76e66710@pc33.atlanta.com\r\n"
    b"CSeq: 314159 INVITE\r\n"
    b"Contact: <sip:bob@192.0.2.4>\r\n"
    b"Content-Length: 0\r\n\r\n"
)
# RFC 3261 §7.3.3: the same request with compact header names, comma-joined Vias and LF line ends.
COMPACT = (
    b"BYE sip:alice@pc33.atlanta.com SIP/2.0\n"
    b"v: SIP/2.0/UDP 192.0.2.4;branch=z9hG4bKnashds10, SIP/2.0/UDP 10.1.1.1;branch=z9hG4bKfirst\n"
    b'f: "Bob, the builder" <sip:bob@biloxi.com>;tag=a6c85cf\n'
    b"t: Alice <sip:alice@atlanta.com;tag=uri-param>;tag=1928301774\n"
    b"i: a84b4c76e66710\n"
    b"CSeq: 231 BYE\n"
    b'Reason: Q.850;cause=16;text="Normal call clearing, by user", SIP;cause=200;text="Call completed elsewhere"\n'
    b"Reason: X.int ;cause=0x0A\n"
    b"l: 0\n\n"
)


@pytest.mark.parametrize(("data", "expected"), [
    (RFC3261_F1, {"method": "INVITE", "uri": "sip:bob@biloxi.com", "status": 0, "call_id": "a84b4c76e66710",
                  "from_tag": "1928301774", "to_tag": "", "cseq": 314159, "cseq_method": "INVITE",
                  "branch": "z9hG4bKnashds8", "body": b"v=0\r", "is_request": True}),
    (RFC3261_F9, {"method": "INVITE", "status": 200, "phrase": "OK", "to_tag": "a6c85cf", "branch": "z9hG4bKnashds8",
                  "call_id": "a84b4c76e66710@pc33.atlanta.com", "body": b"", "is_request": False}),
    (COMPACT, {"method": "BYE", "from_tag": "a6c85cf", "to_tag": "1928301774", "cseq": 231,
               "branch": "z9hG4bKnashds10", "call_id": "a84b4c76e66710"}),
])
def test_parse_reads_the_values_a_dialog_needs(data: bytes, expected: dict[str, object]) -> None:
    message = parse(data)
    assert {k: getattr(message, k) for k in expected} == expected


def test_folded_and_comma_joined_vias_are_each_one_value() -> None:
    assert len(parse(RFC3261_F9).vias) == 3
    assert parse(COMPACT).vias == ("SIP/2.0/UDP 192.0.2.4;branch=z9hG4bKnashds10",
                                   "SIP/2.0/UDP 10.1.1.1;branch=z9hG4bKfirst")


def test_reasons_repeated_and_comma_joined_with_quoted_commas() -> None:
    assert parse(COMPACT).reasons() == [
        Reason("Q.850", 16, "Normal call clearing, by user"),
        Reason("SIP", 200, "Call completed elsewhere"),
        Reason("X.int", None, ""),
    ]


@pytest.mark.parametrize(("value", "parts"), [
    ('a, "b, c" <sip:x>, <sip:y;p=1,2>', ['a', '"b, c" <sip:x>', '<sip:y;p=1,2>']),
    ("one", ["one"]),
    (" , ,", []),
])
def test_split_list(value: str, parts: list[str]) -> None:
    assert list(split_list(value)) == parts


@pytest.mark.parametrize(("value", "tag", "user"), [
    ('"Alice" <sip:alice@atlanta.com>;tag=88sja8x', "88sja8x", "alice"),
    ("<sip:+15551234567@gw.example.com;user=phone;tag=not-this>", "", "+15551234567"),
    ("sip:bob@biloxi.com;tag=x1", "x1", "bob"),
    ("<tel:+15551234567>;TAG=T9", "T9", "+15551234567"),
    ("<sip:pbx.example.com>", "", "pbx.example.com"),
    ("<sip:200.57.7.195:55061;user=phone>;tag=GR52RWG346-34", "GR52RWG346-34", "200.57.7.195"),
    ("<sip:[2001:db8::1]:5061>;tag=v6", "v6", "[2001:db8::1]"),
    ("sip:[2001:db8::1]", "", "[2001:db8::1]"),
    ("<sip:a@b;tag=in-uri>;tag=y1", "y1", "a"),
    ("<sip:a@b>;tag=first;tag=second", "first", "a"),
    ("<sip:a@b>;x=1;tag=z9", "z9", "a"),
    ("<sip:a@b>;tag=a-b.c", "a-b.c", "a"),
    ("sip:a@b;tag=", "", "a"),
    ("<SIPS:Carol@chicago.com?subject=x>", "", "Carol"),  # the scheme in any case; a header after the host
    ("<sip:@host:5060>", "", "host"),  # an empty user part: the host
    ("<sip:host;maddr=a@b>", "", "host"),  # an @ after a parameter is not a user part's
    ("sip:x?y=a@b", "", "x"),  # nor after a header
    ("Anonymous <sip:a@b", "", "Anonymous <sip:a@b"),  # no closing >: the value up to its first parameter
    ("<mailto:a@b>", "", "mailto:a@b"),  # not a SIP or tel URI: the URI itself
    ("<\u017fip:a@b>", "", "a"),  # long s, which case folding takes as s
])
def test_tag_and_user(value: str, tag: str, user: str) -> None:
    assert tag_of(value) == tag and user_of(value) == user


@pytest.mark.parametrize(("data", "what"), [
    (b"", "start line"),
    (b"\r\n\r\n", "start line"),
    (b"HTTP/1.1 200 OK\r\n\r\n", "start line"),
    (b"SIP/2.0 700 Odd\r\nCall-ID: x\r\n\r\n", "status line"),
    (RFC3261_F1.replace(b"Call-ID: a84b4c76e66710\r\n", b""), "Call-ID"),
    (RFC3261_F1.replace(b"CSeq: 314159 INVITE", b"CSeq: many INVITE"), "CSeq"),
    (RFC3261_F1.replace(b"CSeq: 314159 INVITE", b"CSeq: 314159 BYE"), "CSeq"),
    (RFC3261_F1.replace(b"Content-Length: 4", b"Content-Length: 400"), "Content-Length"),
    (RFC3261_F1.replace(b"Content-Length: 4", b"Content-Length: four"), "Content-Length"),
    # found by fuzzing HEP: each raised a ValueError that was not a SipParseError, past the listener's count
    (RFC3261_F1.replace(b"Content-Length: 4", b"Content-Length: " + b"9" * 5000), "Content-Length"),
    (RFC3261_F1.replace(b"Content-Length: 4", b"Content-Length: \xc2\xb2"), "Content-Length"),
    (RFC3261_F1.replace(b"CSeq: 314159 INVITE", b"CSeq: \xc2\xb2 INVITE"), "CSeq"),
    (RFC3261_F1.replace(b"Max-Forwards: 70", b"this line has no colon"), "header"),
    (RFC3261_F1.replace(b"From: Alice <sip:alice@atlanta.com>;tag=1928301774\r\n", b""), "From"),
])
def test_malformed_messages_name_what_is_wrong(data: bytes, what: str) -> None:
    with pytest.raises(SipParseError) as raised:
        parse(data)
    assert raised.value.what == what


def test_a_datagram_without_content_length_has_the_rest_as_body() -> None:
    data = RFC3261_F1.replace(b"Content-Length: 4\r\n", b"")
    assert parse(data).body == b"v=0\r\n"


@pytest.mark.parametrize(("data", "name", "values"), [
    (RFC3261_F1, "Max-Forwards", ["70"]),
    (RFC3261_F1, "l", ["4"]),
    (RFC3261_F1, "contact", ["<sip:alice@pc33.atlanta.com>"]),
    (RFC3261_F9, "v", ["SIP/2.0/UDP server10.biloxi.com ;branch=z9hG4bKnashds8;received=192.0.2.3",
                       "SIP/2.0/UDP bigbox3.site3.atlanta.com ;branch=z9hG4bK77ef4c2312983.1;received=192.0.2.2",
                       "SIP/2.0/UDP pc33.atlanta.com ;branch=z9hG4bK776asdhds ;received=192.0.2.1"]),
    (COMPACT, "reason", ['Q.850;cause=16;text="Normal call clearing, by user"',
                         'SIP;cause=200;text="Call completed elsewhere"', "X.int ;cause=0x0A"]),
    (COMPACT, "User-Agent", []),
])
def test_headers_not_read_at_parse_time_are_read_when_asked(data: bytes, name: str, values: list[str]) -> None:
    message = parse(data)
    assert message.values(name) == values
    assert message.header(name) == (values[0] if values else None)
    assert [name for name, _ in parse(RFC3261_F1).headers] == [
        "via", "max-forwards", "to", "from", "call-id", "cseq", "contact", "content-type", "content-length"]


def test_more_header_values_than_the_limit_is_malformed() -> None:
    data = RFC3261_F1.replace(b"Max-Forwards: 70", b"Allow: " + b",".join([b"INFO"] * 300))
    with pytest.raises(SipParseError) as raised:
        parse(data)
    assert raised.value.what == "header"


def _read(data: bytes) -> tuple[object, ...]:
    message = parse(data)
    return (message.start_line, message.call_id, message.from_value, message.to_value, message.from_tag,
            message.to_tag, message.cseq, message.cseq_method, message.vias, message.branch, message.reason_values,
            message.body, message.headers)


_VARIANTS = [
    RFC3261_F1,
    COMPACT,
    RFC3261_F1.replace(b"To: Bob", b"tO : Bob").replace(b"Call-ID:", b"CALL-ID:\t"),
    RFC3261_F1.replace(b";tag=1928301774", b" ; TAG = 1928301774"),
    RFC3261_F1.replace(b";tag=1928301774", b";x=1;tag=19283-01774"),
    RFC3261_F1.replace(b";tag=1928301774", b";tag=19283.01774;y=2"),
    RFC3261_F1.replace(b"Max-Forwards: 70", b"Reason: SIP;cause=487, Q.850;cause=16\r\nReason: X;cause=1"),
    RFC3261_F1.replace(b"Via: SIP/2.0/UDP pc33.atlanta.com",
                       b"v:  SIP/2.0/UDP a, SIP/2.0/UDP b\r\nVia:\t SIP/2.0/UDP c"),
    RFC3261_F1.replace(b"Call-ID: a84b4c76e66710", b"i:a84b4c76e66710").replace(b"Max-Forwards: 70", b"Subject:a: b"),
    RFC3261_F1.replace(b"To: Bob <sip:bob@biloxi.com>", b"To:Bob <sip:bob@biloxi.com>;tag=a: b"),
    b"SIP/2.0 180 Ringing\r\n" + RFC3261_F1.split(b"\r\n", 1)[1],
    b"SIP/2.0 603\r\n" + RFC3261_F1.split(b"\r\n", 1)[1],
]


@pytest.mark.parametrize("data", _VARIANTS)
def test_a_head_with_bare_line_feeds_reads_as_the_same_head_with_crlf(data: bytes) -> None:
    # CRLF heads are read line by line, others by the general path's scans: both must give the same message
    head, _, body = data.partition(b"\r\n\r\n")
    assert _read(head.replace(b"\r\n", b"\n") + b"\n\n" + body) == _read(data)


_LF_HEAD = RFC3261_F1.split(b"\r\n\r\n")[0].replace(b"\r\n", b"\n")


@pytest.mark.parametrize(("data", "body"), [
    # hepgen.js (tests/data/sip/real/hepgenjs-default.pcap): header lines ended by LF alone, the body by CRLF CRLF;
    # the first empty line ends the head, not the CRLF CRLF after the body
    (_LF_HEAD + b"\n\nv=0\na=sendrecv\r\n\r\n", b"v=0\na=sendrecv\r\n\r\n"),
    (_LF_HEAD + b"\n\r\nv=0\r\n\r\n", b"v=0\r\n\r\n"),  # an LF line, then an empty CRLF line
    (_LF_HEAD.replace(b"\n", b"\r\n", 3) + b"\n\nv=0\r\n\r\n", b"v=0\r\n\r\n"),  # CRLF, then LF lines
    (RFC3261_F1 + b"\n\n", b"v=0\r\n\n\n"),  # LF LF after the blank line of a CRLF message: the body's
    (RFC3261_F1, b"v=0\r\n"),
])
def test_the_first_empty_line_ends_the_head_however_its_lines_end(data: bytes, body: bytes) -> None:
    message = parse(data)  # Content-Length: 4 keeps the body's first four bytes
    assert (message.call_id, message.cseq, message.body) == ("a84b4c76e66710", 314159, body[:4])
    assert [name for name, _ in message.headers][-2:] == ["content-type", "content-length"]


@pytest.mark.parametrize(("line", "what"), [
    (b"Max-Forwards 70", "header"),  # no colon
    (b"Max Forwards: 70", "header"),  # white space in the name
    (b"\x0bMax-Forwards: 70", "header"),  # a vertical tab is white space but neither a fold nor a name
    (b"\x0cMax-Forwards: 70", "header"),  # a form feed likewise
    (b"SIP/2.0 20 OK", "start line"),
    (b"SIP/2.0 2000 OK", "start line"),
    (b"SIP/2.0 099 Early", "status line"),
])
def test_a_bad_line_of_a_crlf_head_is_named(line: bytes, what: str) -> None:
    data = RFC3261_F1.replace(b"Max-Forwards: 70", line) if b"Forwards" in line else \
        line + b"\r\n" + RFC3261_F1.split(b"\r\n", 1)[1]
    with pytest.raises(SipParseError) as raised:
        parse(data)
    assert raised.value.what == what


@pytest.mark.parametrize(("via", "branch"), [
    # the usual Via, read without the regular expression, and the others, read with it: the same branch
    ("SIP/2.0/UDP a;branch=z9hG4bK-1.x~", "z9hG4bK-1.x~"),
    ("SIP/2.0/UDP a;rport;branch=z9hG4bKb", "z9hG4bKb"),
    ("SIP/2.0/UDP a ; BRANCH = z9hG4bKc ;received=192.0.2.1", "z9hG4bKc"),
    ("SIP/2.0/UDP a;branch=z9hG4bKd, SIP/2.0/UDP b;branch=z9hG4bKe", "z9hG4bKd"),
    ("SIP/2.0/UDP a;branch=z9hG4bKf ;received=192.0.2.1", "z9hG4bKf"),
    ("SIP/2.0/UDP a;branch=;branch=z9hG4bKg", "z9hG4bKg"),
    ("SIP/2.0/UDP a;branch=", ""),
    ("SIP/2.0/UDP a", ""),
    ("SIP/2.0/UDP a;branch=z9hG4bKh\u00a0i", "z9hG4bKh"),  # a no-break space is white space
    ("SIP/2.0/UDP a;branch=z9hG4bKj\x1ck", "z9hG4bKj"),  # so is an information separator
])
def test_the_top_via_branch(via: str, branch: str) -> None:
    old = b"Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bKnashds8"
    assert parse(RFC3261_F1.replace(old, b"Via: " + via.encode())).branch == branch


@pytest.mark.parametrize(("line", "method", "uri"), [
    # the usual request line, read without the regular expression, and the others, read with it
    ("INVITE sip:bob@biloxi.com SIP/2.0", "INVITE", "sip:bob@biloxi.com"),
    ("invite sip:bob@biloxi.com SIP/2.0", "INVITE", "sip:bob@biloxi.com"),
    ("X-Msg.1 sip:b SIP/2.0", "X-MSG.1", "sip:b"),
    ("INVITE sip:b SIP/3.10", "INVITE", "sip:b"),
    ("INVITE sip:\u00e9 SIP/2.0", "INVITE", "sip:\u00e9"),
    ("INVITE  sip:b SIP/2.0", "", ""),  # two spaces
    ("INVITE sip:b\x0b SIP/2.0", "", ""),  # white space in the URI
    ("INVITE sip:b SIP/2.0 x", "", ""),
    ("1NVITE sip:b SIP/2.0", "", ""),
])
def test_request_lines(line: str, method: str, uri: str) -> None:
    data = line.encode() + b"\r\n" + RFC3261_F1.split(b"\r\n", 1)[1].replace(b"INVITE", method.encode() or b"INVITE")
    if not method:
        with pytest.raises(SipParseError, match="start line"):
            parse(data)
        return
    message = parse(data)
    assert (message.method, message.uri) == (method, uri)


@pytest.mark.parametrize(("line", "call_id", "note"), [
    # a header line is split at its first colon, a space after it or not, whatever colons its value holds
    (b"Call-ID: a84b:c7", "a84b:c7", None),
    (b"Call-ID:a84b: c7", "a84b: c7", None),
    (b"Call-ID :a84b", "a84b", None),
    (b"i:a84b", "a84b", None),
    (b"Call-ID: a84b\r\nX-Note:b: c", "a84b", "b: c"),
    (b"Call-ID: a84b\r\nX-Note: b:c", "a84b", "b:c"),
    (b"Call-ID: a84b\r\nX-Note:", "a84b", ""),
])
def test_a_header_line_splits_at_its_first_colon(line: bytes, call_id: str, note: str | None) -> None:
    for _ in range(2):  # the second time, the names and values met before are remembered
        message = parse(RFC3261_F1.replace(b"Call-ID: a84b4c76e66710", line))
        assert (message.call_id, message.header("x-note"), message.body) == (call_id, note, b"v=0\r")

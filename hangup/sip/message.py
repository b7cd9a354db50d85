"""One SIP message read from its bytes: start line, headers, body and the values a dialog needs.

The grammar is RFC 3261 §7 and §25: a request line (``INVITE sip:bob@example.com SIP/2.0``) or a status
line (``SIP/2.0 180 Ringing``), header lines up to an empty line, a body of ``Content-Length`` bytes.
Header names are case-insensitive and have compact forms (§7.3.3, IANA "Header Fields" registry);
headers whose grammar is a comma-separated list (Via, Reason, Contact …) may be repeated or joined
with commas, and commas inside quoted strings or ``<…>`` do not separate values. Each ``Reason`` value
is read by ``hangup.sip.reason``.

Bytes that are not a SIP message raise ``SipParseError`` naming what is wrong.

``parse`` runs for every message a listener receives, so it reads only what the dialog engine needs:
the header block is decoded once and split at its CRLFs, and one pass over the lines checks each is
``Name: value`` and picks out Call-ID, CSeq, From, To, Via, Reason and Content-Length (header names as
written are looked up in a cache). A head with folded lines, bare line feeds or a bad line takes the
general path: two regular-expression scans that join the folds, name the bad line and pick out the same
headers. The other headers are split from the kept lines when first asked for.
"""

from __future__ import annotations

import itertools
import re
from typing import Final, TypeVar

from hangup.bounds import digits
from hangup.sip.reason import Reason, parse_reason

#: Compact header forms → full names, lower case (RFC 3261 §7.3.3, RFC 3265, RFC 3515, RFC 3841, RFC 4028, RFC 4474).
COMPACT_FORMS: dict[str, str] = {
    "a": "accept-contact", "b": "referred-by", "c": "content-type", "d": "request-disposition",
    "e": "content-encoding", "f": "from", "i": "call-id", "j": "reject-contact", "k": "supported",
    "l": "content-length", "m": "contact", "n": "identity-info", "o": "event", "r": "refer-to", "s": "subject",
    "t": "to", "u": "allow-events", "v": "via", "x": "session-expires", "y": "identity",
}
#: Headers whose grammar is a comma-separated list (RFC 3261 §7.3.1, §20): split into one value each. Every
#: other header is kept whole, since commas inside it (a display name, Digest parameters) separate nothing.
_LIST_VALUED = frozenset({"via", "reason", "contact", "route", "record-route", "path", "service-route", "allow",
                          "supported", "require", "proxy-require", "unsupported", "allow-events", "accept",
                          "history-info", "p-asserted-identity"})
_FOLD: Final = re.compile(r"\r?\n[ \t]+")
_NAMES: Final[dict[str, str]] = {}  # header name as written → canonical name (a cache: a handful of spellings repeat)
_DIALOG_HEADERS: Final = frozenset({"call-id", "cseq", "from", "to", "via", "reason", "content-length"})
_LINE_NAMES: Final[dict[str, str]] = {}  # header name as written, before its colon → ``_line_name``
_STATUS_LINES: Final[dict[str, tuple[str, str, int, str]]] = {}  # status line → ``_start_line`` of it
_METHODS: Final[dict[str, str]] = {}  # a request line's method as written, if ASCII letters → upper case
_CSEQS: Final[dict[str, tuple[int, str]]] = {}  # CSeq value → ``_cseq`` of it (``_remember``)
_TAGS: Final[dict[str, str]] = {}  # From or To value → ``tag_of`` it (``_remember``)
_LENGTHS: Final[dict[str, int]] = {}  # Content-Length value → its number (``_body``)
_Value = TypeVar("_Value")
_REQUEST_LINE: Final = re.compile(r"^([A-Za-z][A-Za-z0-9.!%*_+`'~-]*) (\S+) SIP/(\d+\.\d+)$")
_STATUS_LINE: Final = re.compile(r"^SIP/(\d+\.\d+) (\d{3})(?: (.*))?$")
_TAG: Final = re.compile(r";\s*tag\s*=\s*([^;,\s>]+)", re.IGNORECASE)
_BRANCH: Final = re.compile(r";\s*branch\s*=\s*([^;,\s]+)", re.IGNORECASE)
_USER = re.compile(r"^(?:sips?|tel):(?:([^@;?]*)@)?([^;?>]*)", re.IGNORECASE)
#: The lines of the headers a dialog reads, each after its line feed: one scan instead of splitting every line.
_WANTED: Final = re.compile(r"\n((?i:call-id|cseq|from|to|via|reason|content-length|[iftvl]))[ \t]*:[ \t]*([^\r\n]*)")
_WANTED_NAMES = {"Call-ID": "call-id", "CSeq": "cseq", "From": "from", "To": "to", "Via": "via",
                 "Reason": "reason", "Content-Length": "content-length"}  # the usual spellings, before _canonical
#: A line feed not followed by ``Name:``: a folded, blank or bad line comes next.
_IRREGULAR: Final = re.compile(r"\n(?![^\s:]+[ \t]*:)")
#: A line that is neither empty nor ``Name: value`` (a name without white space, then a colon); white space
#: other than SP, HTAB and CR (a vertical tab, a form feed) is no fold and no name, so such a line is one.
_BAD_LINE: Final = re.compile(r"\n(?![^\s:]+[ \t]*:)[ \t\r]*[^ \t\r\n]")
#: An empty line: the line feed that ends a line, then a line feed alone or CR LF (``head_end``).
_EMPTY_LINE: Final = re.compile(rb"\n\r?\n")
MAX_HEADERS: Final = 256
_CR_LF: Final = (13, 10)


class SipParseError(ValueError):
    """The bytes are not one well-formed SIP message; ``what`` names the part at fault."""

    def __init__(self, what: str, detail: str) -> None:
        super().__init__(f"{what}: {detail}")
        self.what = what
        self.detail = detail


class SipMessage:
    """A parsed SIP request or response; header names are kept lower case, compact forms expanded.

    What a dialog reads (start line, Call-ID, CSeq, From, To, Via, Reason) is read when the message is
    parsed; every other header is split out of the kept header text only when asked for (``headers``,
    ``header``, ``values``), since most messages are never asked.
    """

    __slots__ = ("method", "uri", "status", "phrase", "body", "call_id", "from_value", "to_value", "cseq",
                 "cseq_method", "vias", "reason_values", "from_tag", "to_tag", "is_request", "_lines", "_headers",
                 "_branch")

    def __init__(self, method: str, uri: str, status: int, phrase: str, body: bytes, call_id: str,
                 from_value: str, to_value: str, cseq: int, cseq_method: str, vias: tuple[str, ...],
                 reason_values: tuple[str, ...], lines: list[str]) -> None:
        self.method = method  # request method, or the CSeq method of a response
        self.uri = uri  # request URI; "" for a response
        self.status = status  # response status code; 0 for a request
        self.phrase = phrase  # response reason phrase
        self.body = body
        self.call_id = call_id
        self.from_value = from_value
        self.to_value = to_value
        self.cseq = cseq
        self.cseq_method = cseq_method
        self.vias = vias  # every Via value, top first, comma lists split
        self.reason_values = reason_values  # every Reason value as written, comma lists split
        self.from_tag = tag_of(from_value)
        self.to_tag = tag_of(to_value)
        self.is_request = status == 0
        self._lines = lines  # the head's lines (folds joined), the start line first, split by ``headers`` on demand
        self._headers: tuple[tuple[str, str], ...] | None = None
        self._branch: str | None = None

    @property
    def branch(self) -> str:
        """The top Via's branch parameter ("" when absent)."""
        if self._branch is None:
            self._branch = _branch_of(self.vias[0]) if self.vias else ""
        return self._branch

    @property
    def headers(self) -> tuple[tuple[str, str], ...]:
        """(lower-case full name, value) of every header in order, comma lists split."""
        if self._headers is None:
            self._headers = _headers(self._lines)
        return self._headers

    def header(self, name: str) -> str | None:
        """The first value of a header (any case, compact form accepted)."""
        key = _canonical(name)
        return next((v for k, v in self.headers if k == key), None)

    def values(self, name: str) -> list[str]:
        key = _canonical(name)
        return [v for k, v in self.headers if k == key]

    def reasons(self) -> list[Reason]:
        """Every ``Reason`` value, in order (RFC 3326 allows several, repeated or comma-joined)."""
        return [parse_reason(v) for v in self.reason_values]

    @property
    def start_line(self) -> str:
        return f"SIP/2.0 {self.status} {self.phrase}" if self.status else f"{self.method} {self.uri} SIP/2.0"


def _branch_of(via: str) -> str:
    """The branch parameter of one Via value, as ``_BRANCH`` finds it ("" when absent)."""
    before, usual, rest = via.partition(";branch=")
    value = rest.partition(";")[0]
    # the usual Via: branch the first parameter, its value up to the next ";" with no comma or white space in it
    # (every white space character but SP is unprintable): what _BRANCH takes, without a regular expression
    if usual and value and ";" not in before and value.isprintable() and " " not in value and "," not in value:
        return value
    found = _BRANCH.search(via)
    return found.group(1) if found else ""


def _canonical(name: str) -> str:
    found = _NAMES.get(name)
    if found is None:
        low = name.strip().lower()
        found = _remember(_NAMES, name, COMPACT_FORMS.get(low, low))
    return found


def tag_of(value: str) -> str:
    """The ``tag`` parameter of a From/To value, outside the ``<URI>`` (whose own parameters are not the tag)."""
    found = _TAGS.get(value)  # every message of a dialog repeats its From, and its To once answered
    return _remember(_TAGS, value, _tag(value)) if found is None else found


def _tag(value: str) -> str:
    after = value.rpartition(">")[2]  # the parameters after the URI; all of a value written without <…>
    before, usual, tag = after.rpartition(";tag=")
    # the usual tag: the last parameter, its value to the end with none of ";,>" or white space in it, and the
    # only parameter after the URI: what _TAG takes; partitions, as they parse no arguments, cost less than finds
    if usual and tag.isalnum() and ";" not in before:
        return tag
    found = _TAG.search(after) if ";" in after else None  # no parameter (a To before the answer): no tag
    return found.group(1) if found else ""


def user_of(value: str) -> str:
    """The user part of a From/To value's URI (``alice`` of ``"A" <sip:alice@x>;tag=1``), else its host."""
    # the URI: inside the first <…>, else the value up to its first parameter
    inside, closed, _ = value.partition("<")[2].partition(">")
    uri = (inside if closed else value.split(";", 1)[0]).strip()
    scheme = uri[:5].lower()
    # the usual sip:, sips: or tel: URI, read with partitions as _USER reads it (they cost less than a match);
    # any other text is left to _USER, whose case folding also takes some non-ASCII letters
    if scheme.startswith("sip:") or scheme.startswith("tel:"):
        rest = uri[4:]
    elif scheme == "sips:":
        rest = uri[5:]
    else:
        found = _USER.match(uri)
        return (found.group(1) or _host(found.group(2))) if found else uri
    user, at, after_user = rest.partition("@")
    if at and ";" not in user and "?" not in user:  # a user part: up to an @ before any parameter or header
        if user:
            return user
        rest = after_user
    return _host(rest.partition(";")[0].partition("?")[0].partition(">")[0])


def _host(hostport: str) -> str:
    """The host of a URI's ``host[:port]``: a gateway's ``<sip:192.0.2.1:5061>`` names 192.0.2.1, not its port."""
    if hostport.startswith("["):  # an IPv6 reference, whose colons are the address's
        return hostport.partition("]")[0] + "]"
    return hostport.partition(":")[0]


def split_list(value: str) -> list[str]:
    """The values of a comma-separated header, commas inside quotes or ``<…>`` left alone."""
    if "," not in value:  # the commonest case: one value
        value = value.strip()
        return [value] if value else []
    if '"' not in value and "<" not in value:  # the common case (Via, Allow): every comma separates
        return [part for part in (p.strip() for p in value.split(",")) if part]
    parts: list[str] = []
    start, quoted, angle, escaped = 0, False, False, False
    for index, char in enumerate(value):
        if escaped:
            escaped = False
        elif char == "\\" and quoted:
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif not quoted and char in "<>":
            angle = char == "<"
        elif char == "," and not quoted and not angle:
            parts.append(value[start:index].strip())
            start = index + 1
    parts.append(value[start:].strip())
    return [part for part in parts if part]


def parse(data: bytes) -> SipMessage:
    """Parse one SIP message; ``SipParseError`` names the first thing that makes it unreadable."""
    head, blank, body = data.partition(b"\r\n\r\n")
    usual = bool(blank and head) and data[0] not in _CR_LF  # the usual message: CRLF lines, a blank line, the body
    if not usual:
        head, body = _split_head(data)
    text = head.decode("utf-8", "replace")
    lines = text.split("\r\n")
    # the usual head: CRLF line ends only (no CR or LF left once they are taken out: one copy and two memchr
    # scans, cheaper than counting each), each line ``Name: value`` (checked by _scan); else the general path
    bare = "".join(lines)
    wanted = _scan(lines) if "\n" not in bare and "\r" not in bare else None
    if wanted is None:
        if usual and ("\n\n" in text or "\n\r\n" in text):
            # an empty line ended by LF alone came first: the head ends there (hepgen.js ends its header lines
            # with LF alone and its bodies with CRLF CRLF)
            head, body = _split_head(data)
            text = head.decode("utf-8", "replace")
        if _IRREGULAR.search(text) is not None:  # folded, blank or bad lines: rare, so looked into only then
            text = _regular(text)
        lines = text.split("\n")
    method, uri, status, phrase = _start_line(lines[0].strip())
    # only then can there be more values: one per line or comma, and each of at least one character and a separator
    if len(text) > 2 * MAX_HEADERS and len(lines) + text.count(",") > MAX_HEADERS:
        _headers(lines)
    first, vias, reasons = wanted or _wanted("\n" + text.partition("\n")[2])
    body = _body(first, body)
    call_id, cseq_text = first.get("call-id", "").strip(), first.get("cseq", "").strip()
    from_value, to_value = first.get("from", "").strip(), first.get("to", "").strip()
    if not (call_id and cseq_text and from_value and to_value):
        _missing(call_id, cseq_text)
    sequence, cseq_method = _CSEQS.get(cseq_text) or _cseq(cseq_text)
    if status == 0 and cseq_method != method:
        raise SipParseError("CSeq", f"method {cseq_method!r} does not match the request's {method!r}")
    if not (from_value and to_value):
        raise SipParseError("From" if not from_value else "To", "missing")
    return SipMessage(method if status == 0 else cseq_method, uri, status, phrase, body, call_id,
                      from_value, to_value, sequence, cseq_method, tuple(vias), tuple(reasons), lines)


def _cseq(text: str) -> tuple[int, str]:
    """The number and method of a CSeq value, remembered in ``_CSEQS`` (a request and its responses share one)."""
    number, _, method = text.partition(" ")
    method = method.strip().upper()
    sequence = digits(number, 10)
    if sequence is None or not method:
        raise SipParseError("CSeq", f"expected a number and a method, got {text[:40]!r}")
    return _remember(_CSEQS, text, (sequence, method))


def _remember(cache: dict[str, _Value], key: str, value: _Value) -> _Value:
    """``value``, kept for ``key`` in a cache of what recent messages repeat: only a short key is kept, and a
    full cache is emptied, so it holds at most 4096 keys of those asked for lately."""
    if len(key) <= 256:
        if len(cache) >= 4096:
            cache.clear()
        cache[key] = value
    return value


def _regular(text: str) -> str:
    """The head with folded lines joined; ``SipParseError`` for a header line that is not ``Name: value``."""
    if "\n " in text or "\n\t" in text:
        text = _FOLD.sub(" ", text)  # RFC 3261 §7.3.1: a line starting with white space continues the one before
    bad = _BAD_LINE.search(text, text.find("\n"))
    if bad is not None:
        line = text[bad.start() + 1:].partition("\n")[0]
        raise SipParseError("header", f"not a 'Name: value' line: {line.strip()[:60]!r}")
    return text


def _scan(lines: list[str]) -> tuple[dict[str, str], list[str], list[str]] | None:
    """What ``_wanted`` finds, read line by line from a head split at its CRLFs; ``None`` when a header line
    is not ``Name: value`` (a name without white space, then spaces or tabs, then a colon): the general path
    then names it."""
    first: dict[str, str] = {}
    vias: list[str] = []
    reasons: list[str] = []
    # indexes, finds and slices rather than ``islice`` and ``partition``: compiled, each is a C call on a str or
    # list, with no tuple made per line, and a value is cut out only for the headers a dialog reads
    for index in range(1, len(lines)):
        line = lines[index]
        # the usual "Name: value" split at its first ": ", whose value then needs no stripping; else at the
        # first colon. A name has no colon: "A:b: c" goes to the general path, which splits it at the first colon
        colon = line.find(":")
        if colon < 0:
            return None
        start = colon + 2
        # (an index, not startswith with a start offset, which compiles to a generic method call)
        if start > len(line) or line[colon + 1] != " ":
            if line.find(": ", colon) >= 0:  # "A:b: c": a colon before the first ": "
                return None
            start = colon + 1
        name = line[:colon]
        key = _LINE_NAMES.get(name)
        if not key:  # a header the dialog does not read (""), or a name not seen before (None)
            if key is None and (key := _line_name(name)) is None:
                return None
            if not key:
                continue
        value = line[start:]
        if key == "via":
            value = value.lstrip(" \t")
            if "," in value or not value:
                vias.extend(split_list(value))
            else:
                vias.append(value.rstrip())
        elif key == "reason":
            reasons.extend(split_list(value))
        else:
            first.setdefault(key, value)  # the first one; stripped by the readers, as _wanted's values are
    return first, vias, reasons


def _line_name(name: str) -> str | None:
    """The wanted header a written name is (``_DIALOG_HEADERS``), "" for any other header, ``None`` when
    it is no header name; remembered in ``_LINE_NAMES`` (a handful of spellings repeat)."""
    bare = name.rstrip(" \t")
    if bare.split() != [bare] or ":" in bare:  # empty, white space inside or before it, a colon: not a name
        return None
    key = _canonical(bare)
    return _remember(_LINE_NAMES, name, key if key in _DIALOG_HEADERS else "")


def _wanted(rest: str) -> tuple[dict[str, str], list[str], list[str]]:
    """The first value of each header a dialog needs, and every Via and Reason value."""
    first: dict[str, str] = {}
    vias: list[str] = []
    reasons: list[str] = []
    for name, value in _WANTED.findall(rest):
        key = _WANTED_NAMES.get(name) or _canonical(name)
        if key == "via":
            vias += split_list(value) if "," in value or not value else [value.rstrip()]
        elif key == "reason":
            reasons += split_list(value)
        elif key not in first:
            first[key] = value  # stripped by _required and _body, which read it
    return first, vias, reasons


def head_end(data: bytes | bytearray, start: int = 0) -> tuple[int, int] | None:
    """Where the head starting at ``start`` ends (its last line's line feed) and its body starts, or ``None``
    while no empty line is in: the first empty line ends it, LF LF, or CRLF CRLF and LF CRLF (the line before it
    ended by LF alone), since RFC 3261 §7.5 lets a receiver take a line ended by LF alone. ``parse`` and the
    stream framer (``capture.sniff.message_length``) both cut a head here."""
    found = _EMPTY_LINE.search(data, start)
    return (found.start(), found.end()) if found else None


def _split_head(data: bytes) -> tuple[bytes, bytes]:
    start = 0
    if data[:1] in (b"\r", b"\n"):  # RFC 3261 §7.5: empty lines before the start line are ignored
        start = len(data) - len(data.lstrip(b"\r\n"))
    ends = head_end(data, start)
    if ends is not None:
        index, body = ends
        return data[start:index].rstrip(b"\r"), data[body:]
    head = data[start:].rstrip(b"\r\n")
    if not head:
        raise SipParseError("start line", "empty message")
    return head, b""  # headers only, no blank line: allowed for datagrams without a body


def _start_line(line: str) -> tuple[str, str, int, str]:
    if not line.startswith("SIP/"):  # no method starts so (a method has no "/"): a request line or nothing
        return _request_line(line)
    found = _STATUS_LINES.get(line)  # a handful of status lines repeat: 100 Trying, 180 Ringing, 200 OK …
    if found is None:
        found = _remember(_STATUS_LINES, line, _status_line(line))
    return found


def _status_line(line: str) -> tuple[str, str, int, str]:
    code = line[8:11]
    if line[:8] == "SIP/2.0 " and len(code) == 3 and code.isascii() and code.isdigit() and line[11:12] in ("", " "):
        status, phrase = int(code), line[12:]  # the usual status line, read as _STATUS_LINE would
    else:
        found = _STATUS_LINE.match(line)
        if not found:
            return _request_line(line)  # which names the line
        status, phrase = int(found.group(2)), found.group(3) or ""
    if not 100 <= status <= 699:
        raise SipParseError("status line", f"status code {status} is outside 100-699")
    return "", "", status, phrase.strip()


def _request_line(line: str) -> tuple[str, str, int, str]:
    method, _, rest = line.partition(" ")
    uri, _, version = rest.partition(" ")
    # the usual request line, "METHOD uri SIP/2.0" with a method of letters and a URI of printable characters
    # other than SP (no white space): read as _REQUEST_LINE would
    if version == "SIP/2.0" and uri and uri.isprintable():
        upper = _METHODS.get(method)  # a handful of methods: looked up, not tested and upper-cased each time
        if upper is None and method.isascii() and method.isalpha():
            upper = _remember(_METHODS, method, method.upper())
        if upper is not None:
            return upper, uri, 0, ""
    request = _REQUEST_LINE.match(line)
    if request:
        return request.group(1).upper(), request.group(2), 0, ""
    raise SipParseError("start line", f"not a SIP request or status line: {line[:60]!r}")


def _headers(lines: list[str]) -> tuple[tuple[str, str], ...]:
    """Every (name, value) in order, list headers split, of the head's lines after the start line."""
    headers: list[tuple[str, str]] = []
    for line in itertools.islice(lines, 1, None):
        name, colon, value = line.partition(":")
        if not colon:
            if line.strip():
                raise SipParseError("header", f"not a 'Name: value' line: {line.strip()[:60]!r}")
            continue
        key = _NAMES.get(name) or _canonical(name)
        if not key or " " in key or "\t" in key:
            raise SipParseError("header", f"not a 'Name: value' line: {line.strip()[:60]!r}")
        if key in _LIST_VALUED:
            headers += [(key, part) for part in split_list(value)]
        else:
            headers.append((key, value.strip()))
    if len(headers) > MAX_HEADERS:
        raise SipParseError("header", f"more than {MAX_HEADERS} header values")
    return tuple(headers)


def _missing(call_id: str, cseq: str) -> None:
    """Name a missing Call-ID or CSeq (a missing From or To is named after the CSeq is checked)."""
    if not call_id:
        raise SipParseError("Call-ID", "missing")
    if not cseq:
        raise SipParseError("CSeq", "missing")


def _body(first: dict[str, str], body: bytes) -> bytes:
    length_text = first.get("content-length")
    if length_text is None:
        return body  # a datagram's body runs to its end (RFC 3261 §18.3)
    length = _LENGTHS.get(length_text)  # a few lengths repeat: 0, and the size of each kind of SDP
    if length is None:
        length_text = length_text.strip()
        length = digits(length_text)
        if length is None:
            raise SipParseError("Content-Length", f"not a number of bytes: {length_text[:20]!r}")
        _remember(_LENGTHS, first["content-length"], length)
    if length > len(body):
        raise SipParseError("Content-Length", f"says {length} bytes, the message has {len(body)} after the headers")
    return body if length == len(body) else body[:length]  # a slice, even a whole one, is a copy when compiled

"""Caller and callee numbers normalised to E.164, with their country, number type and a prefix.

The numbering plans are Google's libphonenumber metadata, through its Python port ``phonenumbers``
(https://github.com/daviddrysdale/python-phonenumbers). A number is normalised when it is a *valid*
number of some country; anything else (a SIP user name, a Twilio ``client:`` identity, a Planet user id,
a short code, a truncated number) gets no normalised form and its raw value stays the only one, as it
always does: the record keeps ``from_user_id``/``to_user_id`` exactly as received.

How a raw value is read, in order:

* a ``sip:``/``sips:``/``tel:`` URI gives its user part, but only when that part is written as a
  telephone number (digits, an optional leading ``+`` and the visual separators ``-.() ``), as
  RFC 3966 and the ``user=phone`` convention of RFC 3261 §19.1.6 write it; ``sip:alice@host`` stays a name;
* an international form (``+49 30 …``, or ``00`` then the country code) is read as such;
* a national form (``030 …``, ``(415) 555-…``) is read in the region of the platform
  (``HANGUP_PROVIDER_REGIONS``, else ``HANGUP_DEFAULT_REGION``; none: national forms stay raw);
* digits alone that are not a valid national number are tried as an international number without its
  ``+`` (Vonage, Telnyx and many CDRs write ``14155550100``).

Parsing costs tens of microseconds, and a platform's numbers repeat (the same trunks, agents and
destinations), so results are cached per (raw value, region) in a bounded LRU (``CACHE_SIZE``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import NamedTuple

import phonenumbers
from phonenumbers import (
    COUNTRY_CODE_TO_REGION_CODE,
    REGION_CODE_FOR_NON_GEO_ENTITY,
    NumberParseException,
    PhoneMetadata,
    PhoneNumberType,
)
from phonenumbers.phonenumberutil import (
    ValidationResult,
    _extract_country_code,
    _maybe_strip_national_prefix_carrier_code,
    _number_type_helper,
    _test_number_length,
)
from phonenumbers.re_util import enable_pattern_cache, re_compile

#: Distinct (raw value, region) pairs whose answer is kept.
CACHE_SIZE = 65536
#: Digits of the E.164 number (country code included, ``+`` left out) kept as its prefix by default.
DEFAULT_PREFIX_DEPTH = 4

_URI = re.compile(r"^(?:sips?|tel):([^@;?]*)", re.IGNORECASE)
_TELEPHONE = re.compile(r"^\+?[0-9(][0-9\-.() ]*$")
_NOT_DIGIT = re.compile(r"[^0-9]")
#: ``+`` then ASCII digits only, as long as ``phonenumbers.parse`` takes: the form ``_international`` reads.
_PLUS_DIGITS = re.compile(r"\+[0-9]{3,249}")
#: Results of ``phonenumbers``' length test after which ``parse`` keeps the national prefix it found.
_PREFIX_KEPT = frozenset({ValidationResult.TOO_SHORT, ValidationResult.IS_POSSIBLE_LOCAL_ONLY,
                          ValidationResult.INVALID_LENGTH})
_TYPES: Mapping[int, str] = {
    value: name.lower() for name, value in vars(PhoneNumberType).items()
    if name.isupper() and isinstance(value, int)
}


class Number(NamedTuple):
    """A normalised number; every field is ``""`` when the raw value is not a valid number."""

    e164: str  # "+493012345678"
    country: str  # ISO 3166-1 alpha-2 region of the number, "DE"; "001" for non-geographic numbers
    type: str  # libphonenumber's type, lower case: mobile, fixed_line, toll_free, voip …


NOT_A_NUMBER = Number("", "", "")


@dataclass(frozen=True, slots=True)
class NumberPlan:
    """Where national numbers are read: a default region and per-platform ones, and the prefix depth."""

    default_region: str = ""  # ISO 3166-1 alpha-2, e.g. "US"; "" = national forms are not read
    provider_regions: Mapping[str, str] = field(default_factory=dict)  # e.g. {"planet": "JP"}
    prefix_depth: int = DEFAULT_PREFIX_DEPTH

    def region(self, provider: str) -> str:
        return self.provider_regions.get(provider, self.default_region)


_plan = NumberPlan()
# phonenumbers compiles its metadata's patterns through ``re``, whose cache (512 patterns) the patterns of a
# few dozen countries overflow, so each would be compiled again and again; kept once compiled instead
enable_pattern_cache()


def configure(plan: NumberPlan) -> None:
    """Set the plan every later normalisation uses (the composition root does, from the settings)."""
    global _plan
    _plan = plan


def plan() -> NumberPlan:
    return _plan


def parse_regions(text: str) -> dict[str, str]:
    """``"vonage=GB, planet=JP"`` → ``{"vonage": "GB", "planet": "JP"}``; a bad item raises ``ValueError``."""
    regions: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        provider, _, region = item.partition("=")
        region = region.strip().upper()
        if not provider.strip() or region not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(f"{item!r} is not PROVIDER=REGION with a known ISO 3166 region")
        regions[provider.strip()] = region
    return regions


def telephone_part(raw: str) -> str | None:
    """The part of ``raw`` that may be a telephone number, or ``None`` when it is a name."""
    text = raw.strip()
    match = _URI.match(text)
    if match:
        text = match.group(1)
    return text if _TELEPHONE.match(text) else None


@lru_cache(maxsize=CACHE_SIZE)
def normalise(raw: str, region: str = "") -> Number:
    """``raw`` as an E.164 number with its country and type, or ``NOT_A_NUMBER``."""
    text = telephone_part(raw)
    if text is None:
        return NOT_A_NUMBER
    digits = _NOT_DIGIT.sub("", text)
    candidates = [text]
    if not text.startswith("+"):
        if digits.startswith("00"):
            candidates.append("+" + digits[2:])
        candidates.append("+" + digits)
    for candidate in candidates:
        found = _valid(candidate, region)
        if found is not None:
            return found
    return NOT_A_NUMBER


def _valid(text: str, region: str) -> Number | None:
    if not text.startswith("+") and not region:
        return None
    read = _international(text) if _PLUS_DIGITS.fullmatch(text) else None
    if read is not None:
        code, national = read
    else:
        try:
            number = phonenumbers.parse(text, region or None)
        except NumberParseException:
            return None
        code, national = number.country_code or 0, phonenumbers.national_significant_number(number)
    lengths = _lengths(code)
    if lengths is not None and len(national) not in lengths:
        return None  # no region of the country code has valid numbers this long: the checks below would fail
    found = _country_and_type(code, national)
    if found is None:
        return None
    country, kind = found
    # E.164 as format_number writes it: "+", the country code, the national significant number
    return Number(f"+{code}{national}", country, _TYPES.get(kind, "unknown"))


def _international(text: str) -> tuple[int, str] | None:
    """``(country code, national significant number)`` of ``+`` and digits, as ``phonenumbers.parse`` reads
    them, or ``None`` where ``parse`` would take another way (no known country code) or refuse the number.

    ``parse`` is general: it looks for the number inside any text, an extension, an RFC 3966 context, letters
    and other digit sets, and its default region's international prefix, each a pass over the text in Python.
    For ``+`` and ASCII digits none of those applies and what is left are the steps below, in ``parse``'s
    order with its own functions: the country code, the national prefix of the code's main region taken off
    when the rest is still a possible length there, and the length bounds. ``tests/test_numbers.py`` holds
    the result to ``parse`` on every region's example numbers and random digit strings."""
    code, national = _extract_country_code(text[1:])
    if code == 0:
        return None  # parse tries the digits again as a national number of the default region
    metadata = PhoneMetadata.metadata_for_region_or_calling_code(
        code, phonenumbers.region_code_for_country_code(code))
    if metadata is None or len(national) < 2:
        return None
    stripped = _maybe_strip_national_prefix_carrier_code(national, metadata)[1]
    if _test_number_length(stripped, metadata) not in _PREFIX_KEPT:
        national = stripped
    if not 2 <= len(national) <= 17:
        return None
    # a national significant number keeps its leading zeros (parse's italian_leading_zero), so it is the text
    return code, national


def _country_and_type(code: int, national: str) -> tuple[str, int] | None:
    """``region_code_for_number`` and ``number_type`` of a number, ``None`` when ``is_valid_number`` is false.

    ``is_valid_number`` is ``region_code_for_number`` then ``is_valid_number_for_region``, and ``number_type``
    repeats both; the region lookup and the type match are the costly parts, so each is made once here, as
    the library makes them: the region is the first of the country code's whose leading digits match the
    number or, for one without leading digits, whose type match finds a type (that match is the type)."""
    regions = COUNTRY_CODE_TO_REGION_CODE.get(code)
    if not regions:
        return None
    if len(regions) == 1:
        return _typed(code, national, regions[0], None)
    for country in regions:
        metadata = PhoneMetadata.metadata_for_region(country.upper(), None)
        if metadata is None:
            continue
        if metadata.leading_digits is not None:
            if re_compile(metadata.leading_digits).match(national):
                return _typed(code, national, country, None)
        else:
            kind: int = _number_type_helper(national, metadata)
            if kind != PhoneNumberType.UNKNOWN:
                return _typed(code, national, country, kind)
    return None


def _typed(code: int, national: str, country: str, kind: int | None) -> tuple[str, int] | None:
    """``country`` and the number's type there when it is valid there (``is_valid_number_for_region``);
    ``kind`` is the type when already matched against the region's metadata."""
    metadata = PhoneMetadata.metadata_for_region_or_calling_code(code, country.upper())
    if metadata is None or (country != REGION_CODE_FOR_NON_GEO_ENTITY
                            and code != phonenumbers.country_code_for_valid_region(country)):
        return None
    if kind is None:
        kind = _number_type_helper(national, metadata)
    return None if kind == PhoneNumberType.UNKNOWN else (country, kind)


@lru_cache(maxsize=1024)  # one entry per country code: a few hundred at most
def _lengths(code: int) -> frozenset[int] | None:
    """Every length of a valid national number of country code ``code`` (the possible lengths of the
    general description of each of its regions); ``None`` when a region leaves them open (any length)."""
    lengths: set[int] = set()
    for country in COUNTRY_CODE_TO_REGION_CODE.get(code, ()):
        metadata = PhoneMetadata.metadata_for_region_or_calling_code(code, country.upper())
        if metadata is None:
            continue  # region_code_for_number skips it too
        general = metadata.general_desc
        if general is None or not general.possible_length:
            return None
        lengths.update(general.possible_length)
    return frozenset(lengths)


class Parties(NamedTuple):
    """The normalised caller and callee of a call, as the record keeps them."""

    from_e164: str
    from_country: str
    to_e164: str
    to_country: str
    to_number_type: str
    to_prefix: str


NO_PARTIES = Parties("", "", "", "", "", "")


def caller_fields(provider: str, caller: str) -> tuple[str, str]:
    """``(from_e164, from_country)`` of a raw caller of ``provider``."""
    a = normalise(caller, _plan.region(provider)) if caller else NOT_A_NUMBER
    return a.e164, a.country


def callee_fields(provider: str, callee: str) -> tuple[str, str, str, str]:
    """``(to_e164, to_country, to_number_type, to_prefix)`` of a raw callee of ``provider``."""
    b = normalise(callee, _plan.region(provider)) if callee else NOT_A_NUMBER
    return b.e164, b.country, b.type, b.e164[1:1 + _plan.prefix_depth]


def parties(provider: str, caller: str, callee: str) -> Parties:
    """The record's number fields of a call of ``provider`` from ``caller`` to ``callee`` (raw values)."""
    return Parties(*caller_fields(provider, caller), *callee_fields(provider, callee))


__all__ = ["CACHE_SIZE", "NOT_A_NUMBER", "NO_PARTIES", "Number", "NumberPlan", "Parties", "callee_fields",
           "caller_fields", "configure",
           "normalise", "parse_regions", "parties", "plan", "telephone_part"]

"""Numbers normalised to E.164 (``hangup.numbers``): national and international forms of several countries."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from hangup import numbers
from hangup.numbers import NOT_A_NUMBER, Number, NumberPlan, normalise, parse_regions, parties


@pytest.fixture(autouse=True)
def _default_plan() -> Iterator[None]:
    before = numbers.plan()
    yield
    numbers.configure(before)


@pytest.mark.parametrize(("raw", "region", "want"), [
    # international forms: "+", "00" and the country code's digits alone
    ("+49 30 12345678", "", Number("+493012345678", "DE", "fixed_line")),
    ("0049 30 12345678", "", Number("+493012345678", "DE", "fixed_line")),
    ("4915112345678", "", Number("+4915112345678", "DE", "mobile")),
    ("+44 20 7183 8750", "", Number("+442071838750", "GB", "fixed_line")),
    ("+81 3-1234-5678", "", Number("+81312345678", "JP", "fixed_line")),
    ("+33 1 42 68 53 00", "", Number("+33142685300", "FR", "fixed_line")),
    ("14155552671", "", Number("+14155552671", "US", "fixed_line_or_mobile")),
    # national forms, read in the platform's region
    ("030 12345678", "DE", Number("+493012345678", "DE", "fixed_line")),
    ("020 7183 8750", "GB", Number("+442071838750", "GB", "fixed_line")),
    ("090-1234-5678", "JP", Number("+819012345678", "JP", "mobile")),
    ("01 42 68 53 00", "FR", Number("+33142685300", "FR", "fixed_line")),
    ("(415) 555-2671", "US", Number("+14155552671", "US", "fixed_line_or_mobile")),
    ("0967301606", "ZM", Number("+260967301606", "ZM", "mobile")),
    # an international form wins over the region; "00" is the region's international prefix
    ("+442071838750", "DE", Number("+442071838750", "GB", "fixed_line")),
    ("0044 20 7183 8750", "DE", Number("+442071838750", "GB", "fixed_line")),
    # telephone-number SIP and tel URIs give their user part
    ("sip:+442071838750@gw.example;user=phone", "", Number("+442071838750", "GB", "fixed_line")),
    ("tel:+81-3-1234-5678", "", Number("+81312345678", "JP", "fixed_line")),
    ("sips:030-12345678@pbx.example", "DE", Number("+493012345678", "DE", "fixed_line")),
    # names, national forms without a region, short codes and invalid numbers stay raw
    ("sip:alice@atlanta.example.com", "", NOT_A_NUMBER),
    ("client:alice", "", NOT_A_NUMBER),
    ("Anonymous", "US", NOT_A_NUMBER),
    ("IMSI510555550000884", "", NOT_A_NUMBER),
    ("030 12345678", "", NOT_A_NUMBER),
    ("2003", "DE", NOT_A_NUMBER),
    ("112", "GB", NOT_A_NUMBER),
    ("+1 555 0100", "", NOT_A_NUMBER),
    ("", "US", NOT_A_NUMBER),
])
def test_numbers_normalise(raw: str, region: str, want: Number) -> None:
    assert normalise(raw, region) == want


def test_the_platform_region_wins_over_the_default_and_the_prefix_has_the_configured_depth() -> None:
    numbers.configure(NumberPlan("US", {"asterisk": "DE"}, prefix_depth=5))
    assert parties("asterisk", "0301234567", "030 12345678") == (
        "+49301234567", "DE", "+493012345678", "DE", "fixed_line", "49301")
    assert parties("plivo", "(415) 555-2671", "bob") == ("+14155552671", "US", "", "", "", "")


def test_the_cache_is_bounded() -> None:
    assert normalise.cache_info().maxsize == numbers.CACHE_SIZE


@pytest.mark.parametrize(("text", "want"), [
    ("", {}),
    ("asterisk=de", {"asterisk": "DE"}),
    (" vonage=GB , planet=JP ", {"vonage": "GB", "planet": "JP"}),
])
def test_provider_regions_read(text: str, want: dict[str, str]) -> None:
    assert parse_regions(text) == want


@pytest.mark.parametrize("text", ["asterisk", "=DE", "asterisk=Germany", "asterisk=XX"])
def test_a_bad_provider_region_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="PROVIDER=REGION"):
        parse_regions(text)


def _public_answer(raw: str, region: str) -> Number:
    """What ``normalise`` gives, spelled with phonenumbers' public calls only (``is_valid_number``,
    ``number_type``), which ``hangup.numbers`` shortcuts: the two must agree on every number."""
    import re

    import phonenumbers

    text = numbers.telephone_part(raw)
    if text is None:
        return NOT_A_NUMBER
    digits = re.sub(r"[^0-9]", "", text)
    candidates = [text] if text.startswith("+") else [text, *(["+" + digits[2:]] if digits.startswith("00") else []),
                                                       "+" + digits]
    for candidate in candidates:
        if not candidate.startswith("+") and not region:
            continue
        try:
            number = phonenumbers.parse(candidate, region or None)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            kind = phonenumbers.number_type(number)
            return Number(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164),
                          phonenumbers.region_code_for_number(number) or "",
                          {v: k.lower() for k, v in vars(phonenumbers.PhoneNumberType).items()
                           if k.isupper()}.get(kind, "unknown"))
    return NOT_A_NUMBER


def _table() -> list[tuple[str, str]]:
    """Example numbers of every region and type (international and national forms, and one digit more and
    less), digits alone of every length, and bench-like user names."""
    import random

    import phonenumbers

    rows: list[tuple[str, str]] = []
    for country in sorted(phonenumbers.SUPPORTED_REGIONS):
        for kind in range(12):
            example = phonenumbers.example_number_for_type(country, kind)
            if example is None:
                continue
            e164 = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
            national = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.NATIONAL)
            rows += [(e164, ""), (e164[1:], ""), (e164 + "5", ""), (e164[:-1], ""), (national, country),
                     (national, "US"), ("00" + e164[1:], "DE")]
    for code in sorted(phonenumbers.COUNTRY_CODES_FOR_NON_GEO_REGIONS):  # +800, +870, +882 …: no region of their own
        example = phonenumbers.example_number_for_non_geo_entity(code)
        if example is not None:
            e164 = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
            rows += [(e164, ""), (e164[1:], ""), (e164 + "5", ""), (e164[:-1], "")]
    rng = random.Random(7)
    # every country code followed by random digits: national prefixes (+39 0…, +7 8…, +1 1…) and lengths
    # around the valid ones, the cases where parse takes a prefix off or keeps it
    for code in sorted(phonenumbers.COUNTRY_CODE_TO_REGION_CODE):
        for length in range(1, 16):
            digits = "".join(rng.choice("0123456789") for _ in range(length))
            rows += [(f"+{code}{digits}", ""), (f"+{code}0{digits}", ""), (f"{code}{digits}", "")]
    for length in range(1, 18):
        for _ in range(40):
            digits = "".join(rng.choice("0123456789") for _ in range(length))
            rows += [(digits, ""), ("+" + digits, ""), (digits, rng.choice(["US", "DE", "GB", "JP", "IN"]))]
    return rows


def test_normalise_agrees_with_phonenumbers_public_calls_on_every_example_number() -> None:
    rows = _table()
    assert len(rows) > 5000
    normalise.cache_clear()
    differing = [(raw, region) for raw, region in rows if normalise(raw, region) != _public_answer(raw, region)]
    assert differing == []
    assert sum(normalise(raw, region) != NOT_A_NUMBER for raw, region in rows) > 2000  # valid ones were compared

"""The work of ``bench/sip/hep.py``'s hangup side without sockets, for counting its instructions.

Under ``valgrind --tool=callgrind`` a count does not depend on what else the machine runs, so it
compares two versions of hangup where timings on a shared machine cannot. The script builds the HEP3
datagrams of ``--calls`` generated calls (those of ``bench/sip/pcap.py``, numbered from 10,000) and,
unless ``--build-only``, decodes each with ``hangup.sip.hep.decode`` and feeds it to a dialog engine,
one record per call. Every numbering plan is loaded first, so that a region first met late is not
counted as work. Start-up cancels out of the difference of two runs::

    valgrind --tool=callgrind --callgrind-out-file=/dev/null python bench/sip/hep_work.py --calls 400
    valgrind --tool=callgrind --callgrind-out-file=/dev/null python bench/sip/hep_work.py --calls 800

and the same two with ``--build-only``; instructions per message = ((800 − 400) − (800 − 400 build
only)) / (400 × 7). ``--until decode`` or ``--until parse`` stops each message after that step, and
``--until engine`` runs everything with number normalisation left out: the differences say what each
step costs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import phonenumbers
from phonenumbers import PhoneMetadata

sys.path.insert(0, str(Path(__file__).resolve().parent))
from hep import hep3  # noqa: E402  # the bench's own HEP3 packing
from pcap import call_messages  # noqa: E402

from hangup import numbers  # noqa: E402
from hangup.sip.dialogs import DialogEngine  # noqa: E402
from hangup.sip.hep import decode  # noqa: E402
from hangup.sip.message import parse  # noqa: E402

FIRST_CALL = 10_000
CONCURRENT = 200


def datagrams(calls: int) -> list[bytes]:
    """As ``bench/sip/hep.py`` sends them: each message step of a wave of calls, then the next step."""
    out, stamp = [], 1_700_000_000.0
    for first in range(FIRST_CALL, FIRST_CALL + calls, CONCURRENT):
        wave = [call_messages(call) for call in range(first, min(FIRST_CALL + calls, first + CONCURRENT))]
        for step in range(7):
            for messages in wave:
                out.append(hep3(messages[step][1], messages[step][0], stamp))
                stamp += 0.0005
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=400)
    parser.add_argument("--build-only", action="store_true", help="build the datagrams, decode nothing")
    parser.add_argument("--until", choices=("decode", "parse", "engine"),
                        help="stop after decoding or parsing; or run the engine without number normalisation")
    args = parser.parse_args()
    for region in phonenumbers.SUPPORTED_REGIONS:
        PhoneMetadata.metadata_for_region(region)
    for code in phonenumbers.COUNTRY_CODES_FOR_NON_GEO_REGIONS:
        PhoneMetadata.metadata_for_nongeo_region(code)
    sent = datagrams(args.calls)
    if args.build_only:
        return
    if args.until in ("decode", "parse"):
        for data in sent:
            packet = decode(data, 0.0).packet
            if args.until == "parse":
                parse(packet.payload)
        return
    if args.until == "engine":
        numbers.normalise = lambda raw, region="": numbers.NOT_A_NUMBER  # type: ignore[assignment]
    engine = DialogEngine()
    calls = sum(len(engine.feed(decode(data, 0.0).packet)) for data in sent) + len(engine.flush())
    print(f"{len(sent)} messages, {calls} calls")


if __name__ == "__main__":
    main()

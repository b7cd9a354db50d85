"""The ``hangup import`` formats of SIP signalling: packet captures, plain-text traces and ``acc`` records.

They are not one platform's webhooks, so no adapter declares them; the importer appends them to the
adapters' formats (``hangup.importer.formats``), after every other format, because a call-log export or
a webhook body may quote a SIP message. A capture is told by its magic number (``capture.files.is_capture``,
checked by the importer on the file's first bytes), the text formats by these markers.
"""

from __future__ import annotations

from collections.abc import Mapping

from hangup.providers.reading import ImportFormat
from hangup.sip.acc import read_acc_csv, read_acc_log
from hangup.sip.pcap import read_capture
from hangup.sip.trace import read_trace

_ANY = ("",)

SIGNALLING_FORMATS: Mapping[str, ImportFormat] = {
    "pcap": ImportFormat(read_capture, endings=(".pcap", ".pcapng")),
    "sip-acc-log": ImportFormat(read_acc_log, markers=((_ANY, "ACC: transaction answered:"),
                                                       (_ANY, "ACC: call missed:"))),
    "sip-acc-csv": ImportFormat(read_acc_csv, markers=((_ANY, "sip_code"),), local_times=True),
    "sip-trace": ImportFormat(read_trace, markers=((_ANY, "SIP/2.0"),)),
}

"""The digest of a call's facts: how a second delivery of a call is told from the first.

Two deliveries of one call are the same (a duplicate, stored once) when their facts (the ``Fact[…]`` fields
of ``CallRecord``) are; otherwise the second is a conflict. The store keeps a digest of the facts with each
call so that it need not read the call back to tell.

A digest hashes the values of the facts that have no default, and the names and values of the other facts
whose value is not the field's default. A release that adds a fact field gives the calls stored before it the
field's default, so their digests, and those of their repeats, stay what they were: a platform's retry of a
call stored before an upgrade is still a duplicate.

A digest starts with ``PREFIX``, which names this definition. A stored digest without it is *stale*: empty
(bulk imports store none) or computed by an earlier definition (digests written before the prefix hashed
every fact, so any added field changed them). A stale digest is never compared: ``hangup.store.sql.row_digest``
computes the digest from the stored row instead, and ``stale``/``stale_sql`` say which stored ones are stale.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import Any, cast

from hangup.record_fields import RecordField, Role, build_function
from hangup.records import FIELDS, CallRecord

#: The start of every digest of this definition (the facts off their defaults; the digests before had none).
PREFIX = "v2:"


def digest_of(fields: Sequence[RecordField]) -> Callable[[Any], str]:
    """The digest function of records with the fact fields ``fields`` (``hangup.record_fields.describe``).

    It hashes ``repr`` of one flat tuple (nested pairs cost twice the time; this runs on every insert): the
    value of each field without a default, then the name and value of each other field off its default, in
    declaration order. ``repr`` tells ``None`` from ``"None"`` and ``1`` from ``"1"``; a map gives its sorted
    items. The function is compiled from the field list (``build_function``).
    """
    namespace = {"_blake2b": hashlib.blake2b, "_PREFIX": PREFIX, **{f"_default_{f.name}": f.default for f in fields}}
    items = [*(_item(f) for f in fields if f.required), *(_item(f) for f in fields if not f.required)]
    expression = (f"_PREFIX + _blake2b(repr(({''.join(items)})).encode('utf-8', 'surrogatepass'), "
                  "digest_size=16).hexdigest()")
    return cast(Callable[[Any], str], build_function("digest", "r", expression, namespace))


def _item(f: RecordField) -> str:
    """A field as items of a tuple display. A field without a default is always there, so its value alone says
    it (a new one changes every digest whatever is written); any other is named, and left out at its default
    (a field added with a default leaves earlier digests as they were)."""
    value = f"sorted(r.{f.name}.items())" if f.kind == "map" else f"r.{f.name}"
    if f.required:
        return f"{value}, "
    return f"*(({f.name!r}, {value}) if r.{f.name} != _default_{f.name} else ()), "


#: The digest of a ``CallRecord``'s facts.
digest: Callable[[CallRecord], str] = digest_of(tuple(f for f in FIELDS if f.role is Role.FACT))


def stale(stored: str) -> bool:
    """Whether a stored digest is not of this definition (empty, or older): computed again, never compared."""
    return not stored.startswith(PREFIX)


def stale_sql(column: str) -> str:
    """``stale`` as an SQL condition on a digest column (SQLite and PostgreSQL)."""
    return f"substr({column}, 1, {len(PREFIX)}) <> '{PREFIX}'"

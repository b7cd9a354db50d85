"""The digest of a call's facts: how a second delivery of a call is told from the first.

Two deliveries of one call are the same (a duplicate, stored once) when their facts (the ``Fact[…]`` fields
of ``CallRecord``) are; otherwise the second is a conflict. The store keeps a digest of the facts with each
call so that it need not read the call back to tell.

A digest hashes the names and values of the facts whose value is not the field's default, in declaration
order. A release that adds a fact field gives the calls stored before it the field's default, so
their digests, and those of their repeats, stay what they were: a platform's retry of a call stored before an
upgrade is still a duplicate.

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

#: The start of every digest of this definition (the ``(name, value)`` pairs of the facts off their defaults).
PREFIX = "v2:"


def digest_of(fields: Sequence[RecordField]) -> Callable[[Any], str]:
    """The digest function of records with the fact fields ``fields`` (``hangup.record_fields.describe``).

    It hashes ``repr`` of one flat tuple, name then value (nested pairs cost twice the time; this runs on every
    insert): ``repr`` tells ``None`` from ``"None"`` and ``1`` from ``"1"``, a map gives its sorted items. The
    function is compiled from the field list (``build_function``).
    """
    namespace = {"_blake2b": hashlib.blake2b, "_PREFIX": PREFIX, **{f"_default_{f.name}": f.default for f in fields}}
    expression = (f"_PREFIX + _blake2b(repr(({''.join(map(_item, fields))})).encode('utf-8', 'surrogatepass'), "
                  "digest_size=16).hexdigest()")
    return cast(Callable[[Any], str], build_function("digest", "r", expression, namespace))


def _item(f: RecordField) -> str:
    """A field's name and value, as items of a tuple display: always when the field has no default, else only
    when its value is not the default (a field added with a default leaves earlier digests as they were)."""
    value = f"sorted(r.{f.name}.items())" if f.kind == "map" else f"r.{f.name}"
    if f.required:
        return f"{f.name!r}, {value}, "
    return f"*(({f.name!r}, {value}) if r.{f.name} != _default_{f.name} else ()), "


#: The digest of a ``CallRecord``'s facts.
digest: Callable[[CallRecord], str] = digest_of(tuple(f for f in FIELDS if f.role is Role.FACT))


def stale(stored: str) -> bool:
    """Whether a stored digest is not of this definition (empty, or older): computed again, never compared."""
    return not stored.startswith(PREFIX)


def stale_sql(column: str) -> str:
    """``stale`` as an SQL condition on a digest column (SQLite and PostgreSQL)."""
    return f"substr({column}, 1, {len(PREFIX)}) <> '{PREFIX}'"

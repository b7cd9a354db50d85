"""The fields of ``CallRecord`` as data: the one list every other list of them is built from.

``CallRecord`` (``hangup/records.py``) declares each field once, with its type and a comment on its meaning.
Everything else that names the fields is built from ``describe(CallRecord)`` when its module is imported:
``to_json``, the stored ``calls`` columns and their types, the store's row codec, the staged and bulk import
schemas, the CSV, JSON Lines and Parquet export columns, the canonical import and the OpenAPI call schema.
A new field is therefore one line of the record, plus the named migration that adds its column.

What a field's annotation says:

* its **kind**: ``text`` (``str``, or a ``Literal`` of strings whose values are its ``choices``, or ``str``
  marked ``Choices(SomeStrEnum)`` where the closed set is the cause taxonomy's),
  ``integer``, ``real`` (``float``), ``boolean``, ``list`` (``tuple[str, ...]``) or ``map``
  (``Mapping[str, str]``), and whether ``None`` is a value (``… | None``);
* its **role**: ``Fact[…]`` marks what the platform reported (two deliveries of one call are compared on
  the facts), ``Verdict[…]`` what hangup's classification derived from them (rewritten when calls are
  reclassified); the unmarked fields are the call's identity and its receipt (``id``, ``raw``, ``received_at``);
* its **JSON key**, where it is not the field's name: ``Annotated[…, JsonKey("type")]``, or
  ``JsonKey(None)`` for a field ``to_json`` leaves out.

A type with no stored form is refused when ``hangup.records`` is imported, naming the field.
"""

from __future__ import annotations

import dataclasses
import enum
import types
from collections.abc import Callable, Mapping, Sequence
from typing import Annotated, Any, Literal, TypeVar, Union, cast, get_args, get_origin, get_type_hints

T = TypeVar("T")

Kind = Literal["text", "integer", "real", "boolean", "list", "map"]

_KINDS: Mapping[Any, Kind] = {str: "text", int: "integer", float: "real", bool: "boolean"}


class Role(enum.Enum):
    """What a field holds, beyond its type (see the module's description)."""

    FACT = "fact"
    VERDICT = "verdict"


#: A value the platform reported.
Fact = Annotated[T, Role.FACT]
#: A value hangup's classification derived from the facts.
Verdict = Annotated[T, Role.VERDICT]


@dataclasses.dataclass(frozen=True, slots=True)
class JsonKey:
    """The key of a field in ``CallRecord.to_json()``; ``None`` leaves the field out."""

    key: str | None


@dataclasses.dataclass(frozen=True, slots=True)
class Choices:
    """The only values of a field typed ``str``: the members of ``values`` (``Annotated[str, Choices(Outcome)]``).

    The taxonomy's sets are ``StrEnum``s (``hangup.causes.model``) that classification writes as text, so the
    field keeps the type ``str`` and names its set here.
    """

    values: type[enum.StrEnum]


@dataclasses.dataclass(frozen=True, slots=True)
class RecordField:
    """One field of the record, as the derived lists need it."""

    name: str  # the attribute, and the name of its stored column
    kind: Kind  # the kind of value (see the module's description)
    nullable: bool  # None is a value
    choices: tuple[str, ...]  # the only values of a Literal-typed or Choices-marked field; () when any text will do
    role: Role | None  # Role.FACT, Role.VERDICT, or None for the identity and receipt fields
    json_key: str | None  # key in to_json(); None when to_json leaves the field out
    default: Any  # the value a record gets when it is not given; dataclasses.MISSING when it must be

    @property
    def required(self) -> bool:
        return self.default is dataclasses.MISSING


def describe(cls: type[Any]) -> tuple[RecordField, ...]:
    """The fields of a dataclass declared as ``CallRecord`` is, in declaration order."""
    hints = get_type_hints(cls, include_extras=True)
    return tuple(_describe(field, hints[field.name]) for field in dataclasses.fields(cls))


def _describe(field: dataclasses.Field[Any], hint: Any) -> RecordField:
    marks: tuple[Any, ...] = ()
    if get_origin(hint) is Annotated:
        hint, marks = get_args(hint)[0], hint.__metadata__
    nullable = False
    if get_origin(hint) in (Union, types.UnionType):
        options = get_args(hint)
        others = [option for option in options if option is not type(None)]
        nullable = len(others) < len(options)
        if len(others) == 1:  # else the union stays, and has no kind
            hint = others[0]
    kind, choices = _kind(field.name, hint)
    marked = next((mark.values for mark in marks if isinstance(mark, Choices)), None)
    if marked is not None and kind == "text" and not choices:
        choices = tuple(str(member) for member in marked)
    default: Any = field.default
    if field.default_factory is not dataclasses.MISSING:
        default = field.default_factory()
    return RecordField(
        name=field.name, kind=kind, nullable=nullable, choices=choices,
        role=next((mark for mark in marks if isinstance(mark, Role)), None),
        json_key=next((mark.key for mark in marks if isinstance(mark, JsonKey)), field.name),
        default=default,
    )


def _kind(name: str, hint: Any) -> tuple[Kind, tuple[str, ...]]:
    if get_origin(hint) is Literal and all(isinstance(value, str) for value in get_args(hint)):
        return "text", get_args(hint)
    if hint in _KINDS:
        return _KINDS[hint], ()
    if get_origin(hint) is tuple and get_args(hint) == (str, ...):
        return "list", ()
    if get_origin(hint) is Mapping and get_args(hint) == (str, str):
        return "map", ()
    raise TypeError(f"record field {name!r}: {hint!r} has no stored form (see hangup/record_fields.py)")


def build_function(name: str, parameter: str, expression: str, namespace: Mapping[str, Any],
                   statements: Sequence[str] = ()) -> Callable[..., Any]:
    """``def name(parameter): statements…; return expression``, compiled once from a derived field list.

    ``dataclasses`` writes ``__init__`` the same way. The functions built here run for every stored or listed
    call (a bulk import encodes millions of rows), so they cost what a hand-written one costs: no loop over
    the fields, no lookup by name, per call.
    """
    body = "".join(f"    {statement}\n" for statement in statements)
    source = f"def {name}({parameter}):\n{body}    return {expression}\n"
    scope: dict[str, Any] = {}
    exec(compile(source, f"<hangup {name}>", "exec"), dict(namespace), scope)
    return cast(Callable[..., Any], scope[name])

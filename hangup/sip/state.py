"""The open dialogs a HEP listener saves across a restart, written so that either build of hangup reads them.

The SIP modules run compiled (``hangup/native.py``) or from their sources, and pickle writes the objects of
each differently: a compiled class's state is a dict of its attributes, a slotted dataclass's from source is
not, and neither loads the other's. A restart after an upgrade may change which one runs (an extension left
stale by a ``git pull`` runs the sources until ``make native``), and the dialogs then in progress would be
lost. So each object is written as its class, its attribute names and their values, and rebuilt from them
by ``_rebuild``, which both builds share.
"""

from __future__ import annotations

import copyreg
import dataclasses
import io
import pickle
from collections.abc import Callable
from typing import IO, Any

from hangup.sip.dialog import Branch, Dialog, Ending, Pending
from hangup.sip.reason import Reason

_SAVED: tuple[type, ...] = (Dialog, Ending, Pending, Branch, Reason)


def _names(obj: object) -> tuple[str, ...]:
    if dataclasses.is_dataclass(obj):
        return tuple(f.name for f in dataclasses.fields(obj))
    # a compiled class has no __dict__; mypyc lists its attributes in __mypyc_attrs__ (what its own pickling uses)
    compiled: tuple[str, ...] | None = getattr(type(obj), "__mypyc_attrs__", None)
    return compiled if compiled is not None else tuple(vars(obj))


def _by_attributes(obj: object) -> tuple[Callable[..., object], tuple[Any, ...]]:
    names = _names(obj)
    return _rebuild, (type(obj), names, tuple(getattr(obj, name) for name in names))


def _rebuild(cls: Any, names: tuple[str, ...], values: tuple[Any, ...]) -> object:
    """An object of ``cls`` with these attributes, set as unpickling sets them (past a frozen class's guard)."""
    obj: object = cls.__new__(cls)
    for name, value in zip(names, values, strict=True):
        object.__setattr__(obj, name, value)
    return obj


def dumps(value: object) -> bytes:
    out = io.BytesIO()
    pickler = pickle.Pickler(out)
    pickler.dispatch_table = {**copyreg.dispatch_table, **{cls: _by_attributes for cls in _SAVED}}
    pickler.dump(value)
    return out.getvalue()


def load(stream: IO[bytes]) -> Any:
    return pickle.load(stream)  # noqa: S301  (hangup's own file, written by dumps)

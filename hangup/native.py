"""The modules that run compiled to C, and the rule that a compiled module is used only if it is current.

The SIP per-message path (``hangup/native.txt`` lists its modules) runs once per mirrored message, so
``make run`` and ``make test`` compile it with mypyc (``scripts/build-native``): the same typed sources,
checked by ``mypy --strict``, become C extensions beside them, which Python imports in preference to the
``.py`` files. There is no second implementation: a plain ``pip install`` runs the sources as they are.

An extension built from an older source would silently run old code, so the build writes the SHA-256 of
each source it compiled into ``hangup/native.json``, and ``use_current`` (called by ``hangup/__init__``
before any listed module is imported) compares them with the sources on disk. If any differs, or if
``HANGUP_PURE_PYTHON`` is set, every listed module is imported from its source instead (all or none:
compiled modules call each other inside one shared library).
"""

from __future__ import annotations

import hashlib
import importlib.abc
import importlib.machinery
import importlib.util
import json
import os
import sys
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import ModuleType

#: The package's directory: the listed sources are named relative to its parent.
PACKAGE = Path(__file__).resolve().parent
#: The modules compiled by ``scripts/build-native``, one source path per line (``#`` starts a comment).
LISTED = PACKAGE / "native.txt"
#: What the last build compiled: module name → SHA-256 of the source it was built from.
MANIFEST = PACKAGE / "native.json"
#: Set (to anything but "" or "0") to run every listed module from its source.
PURE_ENV = "HANGUP_PURE_PYTHON"


def listed(text: str | None = None) -> list[str]:
    """The source paths of ``native.txt`` (relative to the package's parent), in order."""
    text = LISTED.read_text(encoding="utf-8") if text is None else text
    return [line for line in (raw.partition("#")[0].strip() for raw in text.splitlines()) if line]


def module_name(source: str) -> str:
    """``hangup/sip/message.py`` → ``hangup.sip.message``."""
    return source.removesuffix(".py").replace("/", ".")


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def stale(built: Mapping[str, str], root: Path) -> list[str]:
    """The modules of a manifest whose source under ``root`` is missing or differs from what was compiled."""
    out = []
    for name, sha in built.items():
        source = root / (name.replace(".", "/") + ".py")
        if not source.is_file() or digest(source) != sha:
            out.append(name)
    return out


def read_manifest(path: Path = MANIFEST) -> dict[str, str]:
    """The manifest's module → SHA-256 map; empty when nothing was compiled (or the file is unreadable)."""
    try:
        modules = json.loads(path.read_text(encoding="utf-8")).get("modules", {})
    except (OSError, ValueError, AttributeError):
        return {}
    return {str(k): str(v) for k, v in modules.items()} if isinstance(modules, dict) else {}


class _FromSource(importlib.abc.MetaPathFinder):
    """Finds the listed modules as their ``.py`` sources, ahead of the extension beside them."""

    def __init__(self, names: Sequence[str], root: Path) -> None:
        self.names = frozenset(names)
        self.root = root

    def find_spec(self, fullname: str, path: Sequence[str] | None,
                  target: ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        if fullname not in self.names:
            return None
        return importlib.util.spec_from_file_location(fullname, self.root / (fullname.replace(".", "/") + ".py"))


def use_current(environ: Mapping[str, str] = os.environ) -> str:
    """Import the listed modules compiled only when every one is current; say which: "compiled",
    "source" (nothing compiled), "pure" (``HANGUP_PURE_PYTHON``) or "stale"."""
    built = read_manifest()
    if not built:
        return "source"
    pure = environ.get(PURE_ENV, "") not in ("", "0")
    outdated = [] if pure else stale(built, PACKAGE.parent)
    if not pure and not outdated:
        return "compiled"
    if outdated:
        warnings.warn(f"compiled modules older than their sources ({', '.join(outdated)}): running the sources; "
                      "`make native` compiles them again", RuntimeWarning, stacklevel=2)
    if not any(isinstance(finder, _FromSource) for finder in sys.meta_path):
        sys.meta_path.insert(0, _FromSource(list(built), PACKAGE.parent))
    return "pure" if pure else "stale"


def running() -> dict[str, str]:
    """Each compiled module of the manifest → "compiled" or "source": what this process imported."""
    out = {}
    for name in read_manifest():
        module = sys.modules.get(name) or importlib.import_module(name)
        out[name] = "compiled" if str(getattr(module, "__file__", "")).endswith(tuple(
            importlib.machinery.EXTENSION_SUFFIXES)) else "source"
    return out


#: What ``use_current`` decided for this process, when ``hangup`` was first imported.
MODE = use_current()

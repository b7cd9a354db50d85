"""The layering of docs/architecture.md: no module depends on a higher layer, by import or by string.

Each module is placed by the longest prefix of its name in ``LAYERS`` (lowest first); it may use modules
of its own layer and of lower ones. Imports (also inside functions and ``TYPE_CHECKING`` blocks) and
string constants naming a ``hangup`` module (``"hangup.stats.db:attach_rollups"``, what
``importlib.import_module`` would load) both count; docstrings are prose and do not. The package root
(``hangup/__init__.py``) is imported by Python before any submodule, so importing it is allowed from
anywhere; its own imports are those of the top layer.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "hangup"

#: Lowest first; a module belongs to the layer of the longest prefix of its name.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("hangup.errors", "hangup.types", "hangup.taxonomy", "hangup.record_fields", "hangup.records", "hangup.bounds",
     "hangup.legs", "hangup.numbers", "hangup.routes"),
    ("hangup.causes",),
    ("hangup.providers", "hangup.sip", "hangup.store", "hangup.settings"),
    ("hangup.stats", "hangup.alerts", "hangup.emit", "hangup.importer"),
    ("hangup.ingest",),
    ("hangup.composition",),
    ("hangup.web", "hangup.cli", "hangup.emit.web"),
    ("hangup", "hangup.__main__"),
)
_MODULE_TEXT = re.compile(r"\bhangup(?:\.[A-Za-z_][A-Za-z0-9_]*)+")


def layer_of(module: str) -> int:
    best, found = -1, -1
    for index, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best:
                best, found = len(prefix), index
    if found < 0:
        raise AssertionError(f"{module} is in no layer; add it to LAYERS and docs/architecture.md")
    return found


def module_names() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


MODULES = module_names()


def _known(name: str) -> str | None:
    """The longest ``hangup`` module ``name`` (``a.b.c`` or ``a.b:attr``) names, if any."""
    parts = name.split(":", 1)[0].split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in MODULES:
            return candidate
    return None


def _docstrings(tree: ast.AST) -> set[int]:
    ids: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                ids.add(id(first.value))
    return ids


def references(source: str) -> Iterator[tuple[str, str]]:
    """``(kind, module)`` for each ``hangup`` module ``source`` imports or names in a string."""
    tree = ast.parse(source)
    prose = _docstrings(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield "import", alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:  # ``from hangup import ingest`` imports the module hangup.ingest
                yield "import", _known(f"{node.module}.{alias.name}") or node.module
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in prose:
            for text in _MODULE_TEXT.findall(node.value):
                yield "string", text


def upward(module: str, source: str) -> list[str]:
    """Every reference of ``module`` (with ``source``) to a module of a higher layer."""
    own = layer_of(module)
    found: list[str] = []
    for kind, name in references(source):
        target = _known(name) if kind == "string" else name
        if target is None or not target.startswith("hangup") or target == "hangup":
            continue
        if layer_of(target) > own:
            found.append(f"{module} -> {target} ({kind})")
    return found


def test_no_module_depends_on_a_higher_layer() -> None:
    problems = [p for name, path in MODULES.items() for p in upward(name, path.read_text("utf-8"))]
    assert problems == []


@pytest.mark.parametrize(
    ("module", "source", "upward_to"),
    [
        ("hangup.store.planted", "from hangup.stats import rollups\n", ["hangup.stats.rollups"]),
        ("hangup.store.planted", "import hangup.emit.schema\n", ["hangup.emit.schema"]),
        ("hangup.store.planted", "def f():\n    from hangup.web.app import create_app\n", ["hangup.web.app"]),
        ("hangup.store.planted", 'HOOKS = ("hangup.stats.db:attach_rollups",)\n', ["hangup.stats.db"]),
        ("hangup.causes.planted", "from hangup import ingest\n", ["hangup.ingest"]),
        ("hangup.web.planted", "from hangup.composition import open_store\n", []),  # downward
        ("hangup.store.planted", '"""Read by ``hangup.stats.db``."""\n', []),  # prose, not a dependency
        ("hangup.store.planted", 'DEFAULT = "sqlite:///./hangup.db"\n', []),  # not a module
        ("hangup.cli.planted", "from hangup import __version__\n", []),  # the package root
    ],
)
def test_a_planted_reference_is_judged_by_its_layers(module: str, source: str, upward_to: list[str]) -> None:
    assert [p.split(" -> ")[1].split(" ")[0] for p in upward(module, source)] == upward_to


def test_every_module_is_in_a_layer() -> None:
    for name in MODULES:
        layer_of(name)

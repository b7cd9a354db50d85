"""The compiled SIP modules (hangup/native.py): used only when current, and the same answers as the sources."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from hangup import native

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(("text", "sources"), [
    ("hangup/sip/message.py\n", ["hangup/sip/message.py"]),
    ("# a comment\n\n  hangup/a.py  # why\nhangup/b/c.py", ["hangup/a.py", "hangup/b/c.py"]),
    ("", []),
])
def test_listed_sources(text: str, sources: list[str]) -> None:
    assert native.listed(text) == sources


def test_the_listed_sources_exist_and_name_their_modules() -> None:
    sources = native.listed()
    assert sources and all((ROOT / s).is_file() for s in sources)
    assert native.module_name("hangup/sip/message.py") == "hangup.sip.message"


@pytest.mark.parametrize(("change", "expected"), [
    (None, []),  # the source compiled
    (b"# edited\n", ["pkg.mod"]),  # edited since
    ("delete", ["pkg.mod"]),  # gone
])
def test_a_module_is_stale_when_its_source_differs_from_what_was_compiled(
        tmp_path: Path, change: bytes | str | None, expected: list[str]) -> None:
    source = tmp_path / "pkg" / "mod.py"
    source.parent.mkdir()
    source.write_bytes(b"X = 1\n")
    built = {"pkg.mod": native.digest(source)}
    if change == "delete":
        source.unlink()
    elif isinstance(change, bytes):
        source.write_bytes(source.read_bytes() + change)
    assert native.stale(built, tmp_path) == expected


@pytest.mark.parametrize("content", [None, "not json", '["a list"]', '{"modules": 3}'])
def test_an_absent_or_unreadable_manifest_is_no_build(tmp_path: Path, content: str | None) -> None:
    path = tmp_path / "native.json"
    if content is not None:
        path.write_text(content)
    assert native.read_manifest(path) == {}


def _run(code: str, cwd: Path = ROOT, **env: str) -> tuple[str, str]:
    done = subprocess.run([sys.executable, "-W", "always", "-c", code], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(cwd), **env}, cwd=cwd, timeout=300, check=True)
    return done.stdout, done.stderr


def _require_build() -> None:
    if not native.MANIFEST.exists():
        if os.environ.get("CI"):
            pytest.fail("the SIP modules are not compiled: `make test` runs `make native` first")
        pytest.skip("not compiled here (`make native`); CI requires it")


SHOWN = "from hangup import native; print(native.MODE, sorted(set(native.running().values())))"


def test_make_test_runs_the_compiled_modules() -> None:
    _require_build()
    assert native.MODE == "compiled", native.MODE
    assert set(native.running().values()) == {"compiled"}


def test_the_sources_run_when_asked() -> None:
    _require_build()
    assert _run(SHOWN, HANGUP_PURE_PYTHON="1")[0] == "pure ['source']\n"


def test_an_extension_older_than_its_source_is_not_imported(tmp_path: Path) -> None:
    _require_build()
    shutil.copytree(ROOT / "hangup", tmp_path / "hangup", ignore=shutil.ignore_patterns("__pycache__"))
    edited = native.listed()[-1]
    with (tmp_path / edited).open("a") as source:
        source.write("\n# edited after the build\n")
    out, warned = _run(SHOWN, cwd=tmp_path)
    assert out == "stale ['source']\n"
    assert native.module_name(edited) in warned and "make native" in warned


def test_compiled_and_source_modules_read_every_recorded_capture_alike() -> None:
    _require_build()
    script = f"import runpy; runpy.run_path({str(ROOT / 'tests' / 'native_calls.py')!r}, run_name='__main__')"
    compiled, pure = (json.loads(_run(script, **env)[0]) for env in ({}, {"HANGUP_PURE_PYTHON": "1"}))
    assert compiled.pop("mode") == ["compiled"] and pure.pop("mode") == ["pure"]
    assert sum(len(v) for v in compiled.values()) > 5_000  # calls, rejections and parses: not an empty run
    assert compiled == pure


def test_a_wheel_of_a_built_tree_carries_the_extensions(tmp_path: Path) -> None:
    """What deploy/Dockerfile does: the package installed from a tree the extensions were built in (its build
    stage copies pyproject.toml, README.md and hangup/, without .gitignore) carries them and their manifest."""
    _require_build()
    tree = tmp_path / "src"
    tree.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, tree / name)
    shutil.copytree(ROOT / "hangup", tree / "hangup", ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(tmp_path), str(tree)],
                   capture_output=True, text=True, timeout=600, check=True)
    (wheel,) = tmp_path.glob("hangup-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "hangup/native.json" in names
    for module in native.read_manifest():
        assert any(n.startswith(module.replace(".", "/") + ".cpython-") and n.endswith(".so") for n in names), module
    assert any(n.startswith("hangup/native__mypyc.") for n in names)

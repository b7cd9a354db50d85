"""``hangup.__all__`` is the curated public API: exactly the public names the package defines, each importable."""

from __future__ import annotations

import types

import hangup
import hangup.causes


def public_names(module: types.ModuleType) -> set[str]:
    return {
        name for name, value in vars(module).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType) and name != "annotations"
    }


def test_all_matches_the_public_names() -> None:
    assert sorted(hangup.__all__) == sorted(set(hangup.__all__))
    assert set(hangup.__all__) == public_names(hangup) | {"__version__"}


def test_every_exported_member_exists() -> None:
    for name in hangup.__all__:
        assert getattr(hangup, name) is not None, name


def test_exported_classes_come_from_hangup() -> None:
    for name in hangup.__all__:
        member = getattr(hangup, name)
        if isinstance(member, type):
            assert member.__module__.startswith("hangup."), name


def test_causes_package_exports_what_it_defines() -> None:
    assert set(hangup.causes.__all__) == public_names(hangup.causes)


def test_version_is_a_string() -> None:
    assert isinstance(hangup.__version__, str) and hangup.__version__.count(".") >= 1

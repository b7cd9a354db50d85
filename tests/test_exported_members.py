"""``hangup.__all__`` is the curated public API: exactly the public names the package defines, each importable."""

from __future__ import annotations

import subprocess
import sys
import types

import hangup
import hangup.causes
import hangup.providers


def public_names(module: types.ModuleType) -> set[str]:
    return {
        name for name, value in vars(module).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType) and name != "annotations"
    }


def test_all_matches_the_public_names() -> None:
    assert sorted(hangup.__all__) == sorted(set(hangup.__all__))
    assert set(hangup.__all__) == public_names(hangup) | set(hangup._LAZY) | {"__version__"}
    assert set(hangup._LAZY) <= set(dir(hangup))


def test_lazy_members_are_the_submodules_own() -> None:
    from hangup.composition import open_store
    from hangup.web.app import create_app

    assert (hangup.open_store, hangup.create_app) == (open_store, create_app)


def test_import_hangup_stays_light() -> None:
    code = ("import sys, hangup; hangup.default_catalog(); "
            "print(sorted(m for m in ('starlette', 'hangup.store', 'hangup.web', 'uvicorn') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_an_unknown_name_is_an_attribute_error() -> None:
    assert not hasattr(hangup, "no_such_member")


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


def test_providers_package_exports_the_adapter_contract() -> None:
    assert set(hangup.providers.__all__) == public_names(hangup.providers)
    assert {"Provider", "WebhookRequest", "RecordDraft"} <= set(hangup.providers.__all__)
    for name in hangup.providers.__all__:
        assert getattr(hangup.providers, name).__doc__, name

"""Browser tests: Debian's Chromium driven by Playwright against the app served by uvicorn on loopback.

Chromium missing means a loud skip, or a failure when ``HANGUP_REQUIRE_BROWSER=1`` (CI). A failing test
leaves a screenshot under ``tests/artifacts/``. Test modules import the fixtures by name (a second
``conftest.py`` would shadow the root one's helpers).
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from hangup.composition import open_store
from hangup.settings import load_settings
from hangup.stats import traffic
from hangup.store.base import Store
from hangup.web.app import create_app

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
#: The seeded traffic: 24 hours ending at a fixed UTC hour, so figures do not depend on the clock.
END = 1_795_000_000 - 1_795_000_000 % 3600
START = END - 86400


def chromium_or_skip() -> str:
    path = shutil.which("chromium") or (CHROMIUM if os.path.exists(CHROMIUM) else None)
    if path:
        return path
    reason = f"BROWSER TESTS NOT RUN: Debian's chromium is not installed at {CHROMIUM} (run scripts/ensure-test-tools)"
    if os.environ.get("HANGUP_REQUIRE_BROWSER") == "1":
        pytest.fail(reason)
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Served:
    """The app on loopback: its base URL and its store."""

    url: str
    store: Store


@pytest.fixture(scope="module", name="served")
def served_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    db = tmp_path_factory.mktemp("browser") / "calls.db"
    store = open_store(f"sqlite:///{db}")
    app = create_app(load_settings({}), store=store)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the app did not start")
        time.sleep(0.05)
    store.add_many(list(traffic.generate(3000, START, END, seed=21, users=60)))  # after startup: hooks are on
    yield Served(f"http://127.0.0.1:{port}", store)
    server.should_exit = True
    thread.join(10)
    store.close()


@pytest.fixture(scope="module", name="browser")
def browser_fixture() -> Iterator[Any]:
    executable = chromium_or_skip()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        instance = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
        yield instance
        instance.close()


@pytest.fixture(name="page")
def page_fixture(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1360, "height": 900})
    tab = context.new_page()
    failed_before = request.session.testsfailed
    yield tab
    if request.session.testsfailed > failed_before:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        tab.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    context.close()

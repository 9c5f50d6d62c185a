"""Fixtures for the browser tests: Debian's Chromium driven by Playwright, a real relay,
members with their own ``cove app`` processes, axe-core scans and screenshots.

Every member has a home folder, an app subprocess (tests/support/app_process.py) and a
browser context of their own (separate cookies, as two people on two computers).
Screenshots go to ``tests/browser/artifacts/`` (ignored by git); with
``COVE_UPDATE_SCREENSHOTS=1`` they are also written to ``docs/client/img/``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, expect, sync_playwright

from cove.client.service import CoveClient
from tests.browser.provision import AXE_JS, CHROMIUM, axe_installed
from tests.support.app_process import AppProcess
from tests.support.relay_process import RelayProcess

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "browser" / "artifacts"
DOC_IMAGES = ROOT / "docs" / "client" / "img"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
LIMITS = {"unauth_per_address": 1_000_000, "requests_per_account": 1_000_000}
PASSPHRASE = "quiet harbour seven lanterns"

expect.set_options(timeout=20_000)
_worker = concurrent.futures.ThreadPoolExecutor(max_workers=1)


def off_loop(fn: Callable[[], Any]) -> Any:
    """Run ``fn`` in a worker thread: Playwright's sync API keeps an event loop running
    in this thread, so ``asyncio.run`` (the relay's health wait, the Python API) must
    run elsewhere."""
    return _worker.submit(fn).result(timeout=120)


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    """Per module, not per session: while Playwright's sync API is running it keeps an
    event loop in this thread, and the other test folders call ``asyncio.run``."""
    if not CHROMIUM.exists() or not axe_installed():
        pytest.fail("Chromium or axe-core is missing: run scripts/test (it installs them)")
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    b = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
    yield b
    b.close()


@pytest.fixture(scope="module")
def relay(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RelayProcess]:
    data = tmp_path_factory.mktemp("relay")
    proc = RelayProcess.init(data, registration="invite", limits=LIMITS)
    off_loop(proc.serve)
    try:
        yield proc
    finally:
        proc.stop()


def invite(relay: RelayProcess, uses: int = 50) -> str:
    return relay.cli("invite", "create", "--uses", str(uses)).strip().splitlines()[-1]


@dataclass
class Member:
    handle: str
    home: Path
    browser: Browser
    stack: contextlib.ExitStack
    app: AppProcess | None = None
    context: BrowserContext | None = None
    page: Page = None  # type: ignore[assignment]
    console: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    def elsewhere(self) -> list[str]:
        """Every request the member's pages made to anything but their own app."""
        assert self.app is not None
        own = (self.app.base + "/", self.app.base.replace("http", "ws", 1) + "/")
        return [u for u in self.requests if not u.startswith(own)]

    def start(self, *, unlocked: bool = True) -> Member:
        """Start the member's app, open it in a browser context of their own, unlock."""
        self.app = self.stack.enter_context(AppProcess.start(self.home))
        self.context, self.page, self.console = launch(self.browser, self.app, self.requests)
        if unlocked:
            unlock(self.page)
        return self

    def stop(self) -> None:
        """Close the member's browser context and stop their app (Ctrl-C)."""
        assert self.app is not None and self.context is not None
        self.context.close()
        self.app.stop()
        self.context = None

    def go(self, path: str) -> Page:
        assert self.app is not None
        self.page.goto(self.app.base + path)
        expect(self.page.locator("body")).to_have_attribute("data-ready", "yes")
        return self.page

    def api(self, work: Any) -> Any:
        """Run ``work(client)`` with the Python API while the app is not running."""
        assert self.app is None or self.app.proc is None

        async def run() -> Any:
            client = await CoveClient.open(self.home, PASSPHRASE)
            try:
                return await work(client)
            finally:
                await client.close()

        return off_loop(lambda: asyncio.run(run()))


def scratch_folders() -> set[Path]:
    """What is in the system's memory-backed and temporary folders (where an app that
    staged plaintext files would put them)."""
    import tempfile

    found: set[Path] = set()
    for base in (Path("/dev/shm"), Path(tempfile.gettempdir())):
        if base.is_dir():
            with contextlib.suppress(OSError):
                found.update(base.iterdir())
    return found


def open_context(browser: Browser, **kw: Any) -> BrowserContext:
    kw.setdefault("viewport", {"width": 1024, "height": 800})
    context = browser.new_context(**kw)
    context.set_default_timeout(20_000)
    return context


def watch_console(page: Page, sink: list[str]) -> None:
    """Script errors and CSP violations ("Refused to ...") land in ``sink``; a page
    answered with an error status (a refused form) is expected in some tests."""

    def on_console(m: Any) -> None:
        if m.type in ("error", "warning") and not m.text.startswith("Failed to load resource"):
            sink.append(m.text)

    page.on("console", on_console)
    page.on("pageerror", lambda e: sink.append(str(e)))


def launch(
    browser: Browser, app: AppProcess, requests: list[str] | None = None
) -> tuple[BrowserContext, Page, list[str]]:
    context = open_context(browser)
    if requests is not None:
        context.on("request", lambda r: requests.append(r.url))
        context.on("page", lambda p: p.on("websocket", lambda ws: requests.append(ws.url)))
    page = context.new_page()
    console: list[str] = []
    watch_console(page, console)
    page.goto(app.url)
    page.wait_for_url(re.compile(r"/(welcome|unlock|)(\?.*)?$"))
    return context, page, console


def unlock(page: Page, passphrase: str = PASSPHRASE) -> None:
    page.wait_for_url(re.compile(r"/unlock$"))
    page.get_by_label("Passphrase").fill(passphrase)
    page.get_by_role("button", name="Unlock").click()
    expect(page.get_by_role("heading", name="Your groups")).to_be_visible()


def first_run(page: Page, relay: RelayProcess, code: str, handle: str) -> None:
    """The first-run form, filled as a newcomer would, with an invite link."""
    page.get_by_label("Invite link or code").fill(f"{relay.url}/#invite={code}")
    page.get_by_label("The name other members will see").fill(handle)
    page.get_by_label("Passphrase", exact=True).fill(PASSPHRASE)
    page.get_by_label("Type your passphrase again").fill(PASSPHRASE)
    page.get_by_label("I understand that nobody can recover my passphrase").check()
    page.get_by_role("button", name="Create my account").click()
    expect(page.get_by_role("heading", name="Your groups")).to_be_visible()


@pytest.fixture(scope="module")
def code(relay: RelayProcess) -> str:
    return invite(relay, 50)


@pytest.fixture(scope="module")
def members(
    relay: RelayProcess, browser: Browser, code: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Any]:
    """``members("ana")``: an account made with the Python API, its app started and
    unlocked in a browser context of its own (``start=False``: not started yet;
    ``account=False``: no account either, for the first-run flow)."""
    made: list[Member] = []
    root = tmp_path_factory.mktemp("homes")
    with contextlib.ExitStack() as stack:

        def make(handle: str, *, start: bool = True, account: bool = True) -> Member:
            home = root / handle
            if account:

                async def init() -> None:
                    client = await CoveClient.init(home, PASSPHRASE, relay.url, handle, code)
                    await client.close()

                off_loop(lambda: asyncio.run(init()))
            member = Member(handle, home, browser, stack)
            made.append(member)
            if start:
                member.start(unlocked=account)
            return member

        yield make
        for m in made:
            if m.context is not None:
                m.context.close()


# -- axe-core and screenshots --------------------------------------------------------

AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """Serious and critical violations found by axe-core on the page as it is now."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(AXE_JS.read_text())  # DevTools evaluation: the page's CSP stays on
    result = page.evaluate(
        "async (tags) => await axe.run(document, {runOnly: {type: 'tag', values: tags}})",
        AXE_TAGS,
    )
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def assert_accessible(page: Page, label: str) -> None:
    found = axe_violations(page)
    assert found == [], f"{label}: {json.dumps(found, ensure_ascii=False)}"


def screenshot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    if os.environ.get("COVE_UPDATE_SCREENSHOTS") == "1":
        DOC_IMAGES.mkdir(parents=True, exist_ok=True)
        (DOC_IMAGES / path.name).write_bytes(path.read_bytes())
    return path

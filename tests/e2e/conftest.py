"""Browser tests: the service on loopback, driven by Debian's Chromium through Playwright (no
browser download). Each test signs in as a real account, does what a user does, saves a
screenshot (``var/screenshots/`` or ``$PLACEMENT_SCREENSHOTS``) and runs an automated
accessibility check (axe-core) on every page it opens.

Where Chromium or Playwright is missing the tests are skipped with the reason, except when the
CI variable is set: then they fail (``.ci/run`` installs Chromium).
"""

from __future__ import annotations

import os
import shutil

import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from data.db import Database
from tests.api_support import sample_system
from tests.servers import free_port

CHROMIUM = os.environ.get("PLACEMENT_CHROMIUM", "/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = Path(os.environ.get("PLACEMENT_SCREENSHOTS", ROOT / "var" / "screenshots"))
PASSWORD = "correct-horse-battery-7"
ACCOUNTS = {
    # name: (role, service, structures)
    "alice": ("officer", "sector-8", ()),
    "bruno": ("officer", "sector-8", ()),
    "chloe": ("officer", "sector-1", ()),
    "mona": ("structure_manager", None, ("S-near",)),
    "paul": ("planner", None, ()),
}


def _missing() -> str | None:
    if not Path(CHROMIUM).exists():
        return f"Chromium not found at {CHROMIUM} (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
        import axe_playwright_python  # noqa: F401
    except ImportError as err:
        return f"Playwright or axe-playwright-python missing: {err}"
    return None


@pytest.fixture(scope="session", autouse=True)
def _browser_available() -> None:
    problem = _missing()
    if problem:
        if os.environ.get("CI"):
            pytest.fail(f"{problem} (CI is set, so the browser tests must run)")
        pytest.skip(problem)




@dataclass
class Server:
    url: str
    database_url: str


@pytest.fixture
def server(tmp_path_factory) -> Iterator[Server]:
    """A fresh store for each test (the sample system and one account per name of ACCOUNTS),
    served by uvicorn."""
    from tests.e2e.accounts import create_accounts

    tmp = tmp_path_factory.mktemp("e2e")
    url = f"sqlite:///{tmp / 'placement.sqlite3'}"
    db = Database(url)
    db.migrate()
    db.save_system(sample_system())
    db.dispose()
    create_accounts(url, str(tmp), ACCOUNTS, PASSWORD)
    port = free_port()
    log = open(tmp / "server.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "tests.e2e.server", url, str(tmp), str(port)],
                            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the server did not start: {(tmp / 'server.log').read_text()[-2000:]}")
            time.sleep(0.2)
        yield Server(base, url)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture(scope="session")
def browser() -> Iterator:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        try:
            yield b
        finally:
            b.close()


class User:
    """One person in a browser context of their own."""

    def __init__(self, browser, server: Server, name: str, test_name: str):
        self.context = browser.new_context(base_url=server.url, locale="fr-FR", viewport={"width": 1366, "height": 768},
                                           accept_downloads=True)
        self.page = self.context.new_page()
        self.name = name
        self.test_name = test_name
        self.shots = 0
        self.errors: list[str] = []
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))

    def sign_in(self) -> None:
        self.page.goto("/web/sign-in")
        self.page.get_by_label("Identifiant").fill(self.name)
        self.page.get_by_label("Mot de passe").fill(PASSWORD)
        self.page.get_by_role("button", name="Se connecter").click()
        self.page.wait_for_load_state("networkidle")

    def open(self, path: str) -> None:
        self.page.goto(path)
        self.page.wait_for_load_state("networkidle")

    def screenshot(self, what: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        self.shots += 1
        path = SCREENSHOTS / f"{self.test_name}-{self.shots:02d}-{self.name}-{what}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def accessible(self) -> None:
        """No serious or critical accessibility violation on the page as it is now (axe-core)."""
        from axe_playwright_python.sync_playwright import Axe

        results = Axe().run(self.page)
        bad = [v for v in results.response["violations"] if v.get("impact") in ("serious", "critical")]
        assert not bad, "accessibility violations on " + self.page.url + ": " + "; ".join(
            f"{v['id']} ({v['impact']}): {v['help']} [{len(v['nodes'])} node(s)]" for v in bad)

    def close(self) -> None:
        assert not self.errors, f"script errors in the page: {self.errors}"
        self.context.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the test, so that a failed test leaves a screenshot of every
    page it had open (what the user saw when it went wrong)."""
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"report_{report.when}", report)


@pytest.fixture
def people(browser, server, request) -> Iterator:
    """``people("alice")`` opens a browser context for an account; all are closed after the test."""
    opened: list[User] = []

    def make(name: str) -> User:
        user = User(browser, server, name, request.node.name)
        opened.append(user)
        user.sign_in()
        return user

    yield make
    failed = getattr(request.node, "report_call", None) is not None and request.node.report_call.failed
    for user in opened:
        if failed:
            user.screenshot("failure")
            print(f"{user.name}: {user.page.url}: message {user.page.locator('#message').inner_text()!r}; "
                  f"script errors {user.errors}")
            user.errors.clear()
        user.close()

"""Fixtures for the browser tests: one real app server and one Chromium for the whole package
(torn down with it: Playwright's sync API holds an event loop in the main thread, which the
tests after tests/e2e need free),
a fresh browser context (a new Streamlit session) per test, a screenshot per scenario."""

import os
from pathlib import Path

import pytest

from .harness import CHROMIUM_ARGS, app_server, chromium_path, real_console_error

SHOTS = Path(os.environ.get("RNNVIZ_E2E_SHOTS", Path(__file__).parent / "artifacts"))


@pytest.fixture(scope="package")
def server_url():
    if chromium_path() is None:
        pytest.skip("Debian's chromium is not installed (.ci/run installs it)")
    with app_server() as url:
        yield url


@pytest.fixture(scope="package")
def browser(server_url):
    from playwright.sync_api import sync_playwright
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, request):
    """A new session; collects page errors and console errors, saves a screenshot at the end."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    tab = context.new_page()
    tab.problems = []
    tab.on("pageerror", lambda err: tab.problems.append(f"page error: {err}"))
    tab.on("console", lambda msg: real_console_error(msg) and tab.problems.append(
        f"console error: {msg.text} ({(msg.location or {}).get('url', '')})"))
    yield tab
    SHOTS.mkdir(parents=True, exist_ok=True)
    try:
        tab.screenshot(path=str(SHOTS / f"{request.node.name}.png"), full_page=True)
    finally:
        context.close()

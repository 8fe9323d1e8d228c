"""Start the real app and drive it in Debian's Chromium with Playwright (never a downloaded
browser). Used by the e2e tests and by ``python -m tests.e2e.screenshots``."""

from __future__ import annotations

import contextlib
import re
import shutil
import time

from rnnviz.app.server import ROOT, local_server

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-quic", "--disable-dev-shm-usage"]
NAV = "[data-testid='stSidebarNavLink']"
CHART = "[data-testid='stPlotlyChart']"
EXCEPTION = "[data-testid='stException']"


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@contextlib.contextmanager
def app_server(env: dict | None = None, timeout: float = 90):
    """``streamlit run app.py`` on a free port; stopped afterwards whatever happens."""
    with local_server(ROOT, env, timeout) as (url, _):
        yield url


# Streamlit's front end first probes its endpoints relative to a deep link's page path
# (/playground/_stcore/health) and then falls back to the root: two harmless 404s in the console.
_DEEP_LINK_PROBE = re.compile(r"/[a-z_]+/_stcore/(health|host-config)")


def real_console_error(message) -> bool:
    """A console error that is not Streamlit's deep-link probe."""
    url = (message.location or {}).get("url", "")
    return message.type == "error" and not _DEEP_LINK_PROBE.search(url)


def settle(page, timeout: float = 120_000) -> None:
    """Wait until the app is connected and its script has finished running."""
    page.wait_for_selector("[data-testid='stApp'][data-test-connection-state='CONNECTED']",
                           timeout=timeout)
    page.wait_for_timeout(400)
    page.wait_for_selector("[data-testid='stApp'][data-test-script-state='notRunning']",
                           timeout=timeout)


def open_page(page, title: str) -> None:
    """Click a sidebar link and wait until it is the current page and the script is done."""
    page.locator(NAV, has_text=title).first.click()
    page.locator(f"{NAV}[aria-current='page']", has_text=title).wait_for(timeout=30_000)
    settle(page)


def nav_titles(page) -> list[str]:
    """Sidebar page titles (the icon's ligature text comes first in each link)."""
    return [t.strip().splitlines()[-1].strip() for t in page.locator(NAV).all_inner_texts()]


def train_button(page):
    return page.locator("[data-testid='stBaseButton-primaryFormSubmit']")


def slider_value(page, label: str) -> str | None:
    return page.locator(f"input[type='range'][aria-label='{label}']").first.input_value()


def selectbox_value(page, label: str) -> str:
    return page.locator(f"input[role='combobox'][aria-label='{label}']").first.input_value()


def set_number(page, label: str, value) -> None:
    """Type into a number input found by its label (the form applies it on Train), opening the
    form's "Advanced settings" when the field is in there."""
    box = page.get_by_label(label, exact=True)
    if not box.is_visible():
        page.get_by_text("Advanced settings").first.click()
        box.wait_for(state="visible", timeout=10_000)
    box.fill(str(value))
    box.press("Tab")


def train_tiny(page, steps: int = 60) -> None:
    """Fill the Playground form with a tiny run and press Train; wait for the result."""
    set_number(page, "Training steps", steps)
    set_number(page, "Validate every", 10)
    set_number(page, "Probe every", 10)
    train_button(page).click()
    wait_for_run(page)


def wait_for_run(page, timeout: float = 60) -> None:
    deadline = time.time() + timeout
    sidebar = page.locator("[data-testid='stSidebar']")
    while "Current run" not in sidebar.inner_text():
        if time.time() > deadline:
            raise TimeoutError("training did not finish in the browser")
        page.wait_for_timeout(300)
    settle(page)


def plotly_data_points(page) -> list[int]:
    """Data points plotly actually drew in each chart on the page (0 = an empty frame).

    Reads plotly's own ``_fullData`` (decoded arrays) of every rendered chart, after scrolling
    each into view so lazily mounted charts render."""
    for chart in page.locator(CHART).all():
        chart.scroll_into_view_if_needed()
    page.wait_for_timeout(500)
    return page.evaluate("""() => Array.from(document.querySelectorAll('.js-plotly-plot'))
        .map(el => (el._fullData || []).reduce((n, t) => {
            const size = a => (a && a.length) || 0;
            return n + Math.max(size(t.x), size(t.y), size(t.z), size(t.r));
        }, 0))""")


SIZES = {"desktop": (1400, 900), "classroom": (1280, 720), "phone": (390, 844)}


@contextlib.contextmanager
def sized_tab(browser, size: str):
    """A new session in a window of one of ``SIZES`` (its own context: no stored sidebar
    state); collects page errors in ``tab.problems``."""
    width, height = SIZES[size]
    context = browser.new_context(viewport={"width": width, "height": height})
    tab = context.new_page()
    tab.problems = []
    tab.on("pageerror", lambda err: tab.problems.append(f"page error: {err}"))
    try:
        yield tab
    finally:
        context.close()


def box(page, selector: str) -> dict | None:
    """The first match's bounding box in viewport pixels (top, bottom, left, right)."""
    return page.evaluate("""(sel) => { const e = document.querySelector(sel);
        if (!e) return null; const r = e.getBoundingClientRect();
        return {top: r.top, bottom: r.bottom, left: r.left, right: r.right}; }""", selector)


def sidebar_collapsed(page) -> bool:
    return page.locator("[data-testid='stSidebar']").get_attribute("data-collapsed") == "true"

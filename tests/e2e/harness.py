"""Start the real app and drive it in Debian's Chromium with Playwright (never a downloaded
browser). Used by the e2e tests and by ``python -m tests.e2e.screenshots``."""

from __future__ import annotations

import contextlib
import re
import shutil
import signal
import time
from pathlib import Path

from rnnviz.app.server import ROOT, local_server

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-quic", "--disable-dev-shm-usage"]
NAV = "[data-testid='stSidebarNavLink']"
CHART = "[data-testid='stPlotlyChart']"
EXCEPTION = "[data-testid='stException']"


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


SERVERS: dict[str, object] = {}  # url -> the server's process, while it runs


@contextlib.contextmanager
def app_server(env: dict | None = None, timeout: float = 90):
    """``streamlit run app.py`` on a free port; stopped afterwards whatever happens."""
    with local_server(ROOT, env, timeout) as (url, process):
        SERVERS[url] = process
        try:
            yield url
        finally:
            SERVERS.pop(url, None)


def server_stacks(url: str) -> str:
    """Every thread's stack of the server at ``url`` now (``rnnviz.app.serving`` writes them to
    its log on SIGUSR1): for the report of a test that waited for a page in vain."""
    process = SERVERS.get(url)
    if process is None:
        return "(no server process known for this url)"
    log = Path(process.log_path)
    before = log.stat().st_size
    process.send_signal(signal.SIGUSR1)
    time.sleep(2)  # faulthandler writes from its own signal handler, at once
    with log.open(errors="replace") as text:
        text.seek(before)
        return text.read()[-8000:]


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


SIDEBAR_HAS_RUN = """() => ((document.querySelector("[data-testid='stSidebar']") || {})
    .innerText || '').includes('Current run')"""


def wait_for_run(page, timeout: float = 60) -> None:
    """Wait until the sidebar names the current run (the training ended and the page took its
    run), then until the script is done."""
    page.wait_for_function(SIDEBAR_HAS_RUN, timeout=timeout * 1000, polling=250)
    settle(page)


# a plotly chart's title as the reader sees it (plotly's <b> and <br> taken out)
PLOT_TITLE = """(el) => (((el.layout || {}).title || {}).text || '')
    .replace(/<br>/g, ' ').replace(/<[^>]+>/g, '')"""


def count_visible_at_once(page, title_start: str) -> None:
    """From now on, note after every change of the page the charts whose title starts with
    ``title_start`` that are visible at once (``most_visible_at_once`` reads the most seen).

    Visible, not present: Streamlit 1.67 keeps a chart that a rerun replaced with a different
    one in the page, hidden (``display: none``), until a run of that part of the page ends
    without another one queued behind it; while a fragment redraws back to back on a busy
    machine, the page holds several of them."""
    page.evaluate("""(start) => {
        const title = """ + PLOT_TITLE + """;
        const seen = () => Array.from(document.querySelectorAll('.js-plotly-plot'))
            .filter(el => title(el).startsWith(start) && el.checkVisibility()).map(title);
        const note = () => {
            const now = seen();
            if (now.length > window.__atOnce.most) {
                window.__atOnce = {most: now.length, titles: now};
            }
        };
        window.__atOnce = {most: 0, titles: []};
        note();
        new MutationObserver(note).observe(document.body,
            {subtree: true, childList: true, attributes: true, characterData: true});
    }""", title_start)


def most_visible_at_once(page) -> dict:
    """``{"most": n, "titles": [...]}``: the most charts ``count_visible_at_once`` saw visible
    together, and their titles then."""
    return page.evaluate("() => window.__atOnce")


DRAWN = """([atLeast, heading]) => {
    const app = document.querySelector("[data-testid='stApp']");
    const visible = sel => Array.from(document.querySelectorAll(sel))
        .filter(el => el.checkVisibility());
    const charts = visible("[data-testid='stPlotlyChart']");
    const h1 = document.querySelector("[data-testid='stMain'] h1");
    return app.getAttribute('data-test-script-state') === 'notRunning'
        && visible("[data-stale='true']").length === 0
        && visible("[data-testid='stSkeleton']").length === 0
        && charts.length >= atLeast
        && charts.every(el => (el.querySelector('.js-plotly-plot') || {})._fullData)
        && (!heading || (h1 !== null && h1.innerText.includes(heading)));
}"""


def wait_until_drawn(page, at_least: int = 0, heading: str | None = None,
                     timeout: float = 60_000) -> None:
    """Wait until the script is done, nothing on the page is stale or a placeholder, and
    plotly drew every visible chart (at least ``at_least`` of them), under the ``h1``
    ``heading`` when one is given (the page a link opened, not the one before)."""
    page.wait_for_function(DRAWN, arg=[at_least, heading], timeout=timeout, polling=250)


def wait_for_sidebar(page, collapsed: bool, timeout: float = 30_000) -> None:
    """Wait until the sidebar is closed (and out of the way: its box ends at the window's left
    edge) or open (at its full width)."""
    page.wait_for_function("""(collapsed) => {
        const bar = document.querySelector("[data-testid='stSidebar']");
        const box = bar.getBoundingClientRect();
        return (bar.getAttribute('data-collapsed') === 'true') === collapsed
            && (collapsed ? box.right <= 1 : box.left >= 0 && box.width > 100);
    }""", arg=collapsed, timeout=timeout, polling=100)


def plotly_data_points(page) -> list[int]:
    """Data points plotly actually drew in each chart on the page (0 = an empty frame).

    Reads plotly's own ``_fullData`` (decoded arrays) of every rendered chart, after scrolling
    each into view so lazily mounted charts render."""
    for chart in page.locator(CHART).all():
        chart.scroll_into_view_if_needed()
    wait_until_drawn(page)
    return page.evaluate("""() => Array.from(document.querySelectorAll('.js-plotly-plot'))
        .map(el => (el._fullData || []).reduce((n, t) => {
            const size = a => (a && a.length) || 0;
            return n + Math.max(size(t.x), size(t.y), size(t.z), size(t.r));
        }, 0))""")


SIZES = {"desktop": (1400, 900), "classroom": (1280, 720), "phone": (390, 844)}
# a phone's browser says so in its user agent ("Mobile"), as the app's phone layout reads it
PHONE_AGENT = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
               "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1")


def train_at_size(page, url: str, query: str, size: str) -> None:
    """Train ``query``'s run through the Playground; at the projector size the teacher trained
    at the desk and then switches classroom mode on (it hides the Train button)."""
    page.goto(f"{url}/playground" + (f"?{query}" if query else ""))
    settle(page)
    train_button(page).click()
    wait_for_run(page, timeout=300)
    if size == "classroom":
        page.get_by_text("Classroom mode").first.click()
        settle(page)


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


def boxes_when_there(page, *selectors: str, timeout: float = 60_000) -> list[dict]:
    """The boxes of the first match of every selector, all read at one moment once all exist.
    A chart that redraws (the live board, every snapshot) replaces its elements, so a box read
    after a separate wait can find none: seen in CI on a slow machine."""
    handle = page.wait_for_function("""(selectors) => {
        const found = selectors.map(sel => document.querySelector(sel));
        if (found.some(e => e === null)) return null;
        return found.map(e => { const r = e.getBoundingClientRect();
            return {top: r.top, bottom: r.bottom, left: r.left, right: r.right}; }); }""",
        arg=list(selectors), timeout=timeout, polling=100)
    return handle.json_value()


def sidebar_collapsed(page) -> bool:
    return page.locator("[data-testid='stSidebar']").get_attribute("data-collapsed") == "true"

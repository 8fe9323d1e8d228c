"""axe-core (bundled by axe-playwright-python) on every page of the app, before and after a run
is trained, at a desk and on a phone: zero WCAG 2.1 A and AA violations."""

from __future__ import annotations

from pathlib import Path

from .harness import (
    nav_titles,
    open_page,
    settle,
    sidebar_collapsed,
    sized_tab,
    train_tiny,
    wait_for_sidebar,
    wait_until_drawn,
)

# every page of the navigation (Home is pages/home.py); Recorded runs is listed only with a log
# folder (rnnviz app --logdir): tests/e2e/test_installed_app.py runs axe-core on it there
PAGES = [page for page in sorted((Path(__file__).parents[2] / "pages").glob("*.py"))
         if page.name != "recorded.py"]
WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def _violations(page) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe
    results = Axe().run(page, options={"runOnly": {"type": "tag", "values": WCAG}})
    found = []
    for violation in results.response["violations"]:
        for node in violation["nodes"]:
            summary = node.get("failureSummary", "")[:160]
            found.append(f"{violation['id']}: {node['target']} ({summary})")
    return found


def _every_page(page) -> dict[str, list[str]]:
    report = {}
    for title in nav_titles(page):
        if sidebar_collapsed(page):  # on a phone it closes after each page link
            page.locator("[data-testid='stExpandSidebarButton']").first.click()
            wait_for_sidebar(page, collapsed=False)
        open_page(page, title)
        wait_until_drawn(page)  # charts finish drawing
        report[title] = _violations(page)
    return report


def test_no_wcag_violations_before_training(page, server_url):
    page.goto(server_url)
    settle(page)
    report = _every_page(page)
    assert not any(report.values()), {k: v for k, v in report.items() if v}


def test_no_wcag_violations_after_training(page, server_url):
    page.goto(f"{server_url}/playground?seq_len=8&hidden_size=6")
    settle(page)
    train_tiny(page, steps=40)
    report = _every_page(page)
    assert not any(report.values()), {k: v for k, v in report.items() if v}


def test_no_wcag_violations_on_a_phone(browser, server_url):
    with sized_tab(browser, "phone") as tab:
        tab.goto(f"{server_url}/playground?seq_len=8&hidden_size=6")
        settle(tab)
        train_tiny(tab, steps=40)
        report = _every_page(tab)
    assert len(report) == len(PAGES), sorted(report)  # every page, the sidebar's links opened
    assert not any(report.values()), {k: v for k, v in report.items() if v}

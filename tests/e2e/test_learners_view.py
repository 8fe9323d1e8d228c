"""The learner's view in Chromium at the three sizes the app is used at: a desk (1400×900), a
projector in classroom mode (1280×720, ``?classroom=1``) and a phone (390×844)."""

from __future__ import annotations

import re

from .conftest import SHOTS as SHOTS_DIR
from .harness import (
    EXCEPTION,
    NAV,
    SIZES,
    box,
    open_page,
    server_stacks,
    settle,
    sidebar_collapsed,
    sized_tab,
    train_button,
    train_tiny,
    wait_for_run,
    wait_for_sidebar,
    wait_until_drawn,
)

DESK_HEIGHT = 900
METRIC_FONTS = """() => Array.from(document.querySelectorAll('[data-testid=stMetric]')).map(m => {
    const size = sel => parseFloat(getComputedStyle(m.querySelector(sel + ' p')).fontSize);
    return {value: size('[data-testid=stMetricValue]'), label: size('[data-testid=stMetricLabel]')};
})"""
LEGENDS = """() => Array.from(document.querySelectorAll('.js-plotly-plot')).filter(el =>
        el.querySelector('.legend') && el.querySelector('.gtitle') && el.querySelector('.xtitle'))
    .map(el => {
        const box = sel => el.querySelector(sel).getBoundingClientRect();
        return {title: box('.gtitle').bottom, legend: box('.legend').top,
                legendBottom: box('.legend').bottom, xtitle: box('.xtitle').bottom};
    })"""
CLIPPED_SEGMENTS = """() => Array.from(document.querySelectorAll(
        "[data-testid=stMain] [data-testid=stButtonGroup] [role=radiogroup]"))
    .filter(g => g.scrollWidth > g.clientWidth + 1)
    .map(g => `${g.getAttribute('aria-label')}: ${g.scrollWidth} > ${g.clientWidth}`)"""


def _shot(tab, name: str) -> None:
    SHOTS_DIR.mkdir(parents=True, exist_ok=True)
    tab.screenshot(path=str(SHOTS_DIR / f"{name}.png"))


def test_a_classroom_link_opens_with_the_sidebar_collapsed(browser, server_url):
    with sized_tab(browser, "classroom") as tab:
        tab.goto(f"{server_url}/lessons?classroom=1")
        settle(tab)
        assert sidebar_collapsed(tab)
        assert tab.locator(EXCEPTION).count() == 0
        _shot(tab, "classroom_lessons_1280x720")


def test_classroom_numbers_are_larger_than_their_labels_and_nothing_is_clipped(browser,
                                                                                server_url):
    with sized_tab(browser, "classroom") as tab:
        tab.goto(f"{server_url}/playground?seq_len=8&hidden_size=6")
        settle(tab)
        train_tiny(tab, steps=60)
        tab.get_by_text("Classroom mode").first.click()  # switched on in this session
        tab.wait_for_function("() => location.search.includes('classroom=1')", timeout=30_000)
        wait_for_sidebar(tab, collapsed=True)  # the projector gets the whole width
        wait_until_drawn(tab, at_least=1)
        fonts = tab.evaluate(METRIC_FONTS)
        assert fonts and all(f["value"] > 1.5 * f["label"] for f in fonts), fonts
        legend = tab.evaluate("() => Array.from(document.querySelectorAll('.legendtext'))"
                              ".map(e => parseFloat(getComputedStyle(e).fontSize))")
        assert legend and min(legend) >= 16, legend  # plotly's default is 12 px
        _shot(tab, "classroom_playground_1280x720")
        # no legend, at projector size, runs into its chart's title (half-width charts)
        tab.locator("[data-testid='stExpandSidebarButton']").first.click()
        open_page(tab, "Gradients")
        wait_until_drawn(tab, at_least=1, heading="Gradients")
        legends = tab.evaluate(LEGENDS)
        assert legends and all(lg["legend"] >= lg["title"] for lg in legends), legends
        # Step through with the sidebar open (the narrowest its controls get) and closed
        open_page(tab, "Step through")
        wait_until_drawn(tab, at_least=1, heading="Step through")
        assert tab.evaluate(CLIPPED_SEGMENTS) == []
        tab.locator("[data-testid='stSidebarCollapseButton'] button").first.click()
        wait_for_sidebar(tab, collapsed=True)
        assert tab.evaluate(CLIPPED_SEGMENTS) == []
        _shot(tab, "classroom_step_through_1280x720")
        assert tab.locator(EXCEPTION).count() == 0
        assert tab.problems == []


def test_the_result_of_a_train_press_is_in_view_without_scrolling(browser, server_url):
    with sized_tab(browser, "desktop") as tab:
        tab.goto(f"{server_url}/playground?seq_len=8&hidden_size=6&steps=3000&eval_every=50"
                 "&probe_every=50")
        settle(tab)
        train_button(tab).click()
        tab.locator(".st-key-live_grid").first.wait_for(timeout=60_000)  # the live view
        live = box(tab, ".st-key-live_grid")
        assert 0 <= live["top"] < DESK_HEIGHT - 100, live
        wait_for_run(tab, timeout=120)
        wait_until_drawn(tab, at_least=1)
        assert tab.evaluate("() => document.querySelector('[data-testid=stMain]').scrollTop") \
            == 0
        verdict = box(tab, "[data-testid=stMain] [data-testid=stAlert]")
        loss = box(tab, ".st-key-loss_curves")
        assert verdict["bottom"] <= DESK_HEIGHT, verdict  # the verdict, whole
        assert loss["top"] < DESK_HEIGHT - 60, loss  # and the loss chart begins on screen
        _shot(tab, "desktop_result_1400x900")


def _start_lesson(tab, key: str, title: str) -> None:
    """Press the lesson's Start and wait for its page. Seen once in a full CI run only (never
    alone, nor after the tests before it here): the page did not open within 3 minutes; the
    press is then made once more on a reloaded page, so a lost press is told from a lesson
    that never opens (which still fails)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    tab.locator(f".st-key-start_detail_{key} button").first.click()
    try:
        tab.locator("h1", has_text=title).wait_for(timeout=180_000)
    except PlaywrightTimeout:
        tab.reload()
        settle(tab)
        tab.locator(f".st-key-start_detail_{key} button").first.click()
        tab.locator("h1", has_text=title).wait_for(timeout=180_000)


def test_a_lessons_chart_is_in_view_when_the_lesson_opens(browser, server_url):
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    for size, key, title, chart in (("desktop", "vanishing", "Gradients", "profile"),
                                    ("desktop", "lstm", "Gates", "gate_f"),
                                    ("classroom", "vanishing", "Gradients", "profile")):
        height = SIZES[size][1]
        with sized_tab(browser, size) as tab:
            tab.goto(f"{server_url}/lessons?lesson={key}"
                     + ("&classroom=1" if size == "classroom" else ""))
            settle(tab)
            _start_lesson(tab, key, title)
            settle(tab)
            # the chart exists once the lesson's runs have trained (lesson 2's two 1500-step
            # runs take a while on a busy 2-core machine): wait for it, then for the scroll
            try:
                tab.locator(f".st-key-{chart}").first.wait_for(state="attached",
                                                               timeout=240_000)
            except PlaywrightTimeout:  # what the page shows instead, for the report
                _shot(tab, f"{size}_lesson_{key}_no_chart")
                main = tab.locator("[data-testid=stMain]").inner_text()
                raise AssertionError(f"no {chart} chart after 4 minutes; the page: "
                                     f"{main[:1500]}\nthe server's threads: "
                                     f"{server_stacks(server_url)}") from None
            try:  # the page scrolls once the charts above have been drawn
                tab.wait_for_function("""([key, height]) => {
                    const chart = document.querySelector('.st-key-' + key);
                    return chart !== null && chart.getBoundingClientRect().bottom <= height;
                }""", arg=[chart, height], timeout=60_000, polling=250)
            except PlaywrightTimeout:
                pass  # the assertions below say where it is
            banner = box(tab, ".st-key-lesson_banner")
            referred = box(tab, f".st-key-{chart}")
            where = (size, key, banner, referred)
            assert banner["bottom"] - banner["top"] < 250, where  # compact
            assert banner["top"] >= 0, where  # the question stays on the screen
            # and the chart it is about is whole on the screen too, under the banner
            assert banner["bottom"] <= referred["top"] and referred["bottom"] <= height, where
            _shot(tab, f"{size}_lesson_{key}")
            if key == "lstm":  # the carrying unit is marked on the forget gate's heatmap
                tab.wait_for_function("""() => (document.querySelector(
                    '.st-key-gate_f .js-plotly-plot') || {})._fullData""", timeout=60_000)
                texts = tab.evaluate("""() => (document.querySelector(
                    '.st-key-gate_f .js-plotly-plot').layout.annotations || [])
                    .map(a => a.text)""")
                assert any(re.search(r"unit \d+ carries the first number", t) for t in texts)


def test_on_a_phone_the_sidebar_closes_after_choosing_a_page(browser, server_url):
    with sized_tab(browser, "phone") as tab:
        tab.goto(server_url)
        settle(tab)
        assert sidebar_collapsed(tab)
        tab.locator("[data-testid='stExpandSidebarButton']").first.click()
        wait_for_sidebar(tab, collapsed=False)
        tab.locator(NAV, has_text="Gates").first.click()
        tab.locator(f"{NAV}[aria-current='page']", has_text="Gates").wait_for(timeout=30_000)
        settle(tab)
        wait_for_sidebar(tab, collapsed=True)  # the phone script closes it after the link
        assert "Gates" in tab.locator("h1").first.inner_text()
        _shot(tab, "phone_after_navigation_390x844")


def test_on_a_phone_legends_sit_below_the_plot_not_on_the_title(browser, server_url):
    with sized_tab(browser, "phone") as tab:
        tab.goto(server_url)
        settle(tab)
        tab.locator(".st-key-home_loss").wait_for(timeout=120_000)  # the Home run's charts
        wait_until_drawn(tab, at_least=1)
        legends = tab.evaluate(LEGENDS)
        assert legends, "no chart with a legend on Home"
        for legend in legends:
            assert legend["legend"] >= legend["xtitle"], legend  # under the x axis title
        _shot(tab, "phone_home_390x844")
    with sized_tab(browser, "desktop") as tab:  # and at a desk
        tab.goto(server_url)
        settle(tab)
        tab.locator(".st-key-home_loss").wait_for(timeout=120_000)
        wait_until_drawn(tab, at_least=1)
        legends = tab.evaluate(LEGENDS)
        assert legends and all(legend["legend"] >= legend["xtitle"] for legend in legends)

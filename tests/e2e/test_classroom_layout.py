"""A teacher projecting a lesson at 1280x720 in classroom mode (issue 20, item 6), in Chromium:
the banner is compact, the chart the class is asked about stays in view when the lesson's run is
switched, no "Try:" button sits between them, and colour bars read like the axes."""

from __future__ import annotations

from .harness import EXCEPTION, SIZES, box, open_page, settle, sized_tab, wait_until_drawn
from .test_accessibility import _violations
from .test_learners_view import _shot, _start_lesson

HEIGHT = SIZES["classroom"][1]
MAIN_SCROLL = "() => document.querySelector('[data-testid=stMain]').scrollTop"
# the chart whole on the screen, under the (sticky) banner
CHART_UNDER_BANNER = """([key, height]) => {
    const banner = document.querySelector('.st-key-lesson_banner');
    const chart = document.querySelector('.st-key-' + key);
    if (!banner || !chart) return false;
    const b = banner.getBoundingClientRect(), c = chart.getBoundingClientRect();
    return b.top >= 0 && b.bottom <= c.top && c.bottom <= height;
}"""
VISIBLE_TRY = """() => Array.from(document.querySelectorAll('[data-testid=stMain] button'))
    .filter(b => b.checkVisibility() && b.innerText.includes('Try:')).map(b => b.innerText)"""
# every colour bar's tick labels: their font size, and any two that overlap
COLOUR_BARS = """() => Array.from(document.querySelectorAll('.js-plotly-plot .colorbar'))
  .map(bar => {
    const ticks = Array.from(bar.querySelectorAll('.cbaxis text')).filter(t => t.textContent);
    const boxes = ticks.map(t => t.getBoundingClientRect());
    const overlaps = [];
    boxes.forEach((a, i) => boxes.slice(i + 1).forEach((b, j) => {
        if (a.top < b.bottom - 1 && b.top < a.bottom - 1 && a.left < b.right && b.left < a.right)
            overlaps.push([ticks[i].textContent, ticks[i + 1 + j].textContent]);
    }));
    return {sizes: ticks.map(t => parseFloat(getComputedStyle(t).fontSize)), overlaps};
})"""


def test_a_projected_lesson_keeps_its_question_and_chart_in_view(browser, server_url):
    with sized_tab(browser, "classroom") as tab:
        tab.goto(f"{server_url}/lessons?lesson=exploding&classroom=1")
        settle(tab)
        _start_lesson(tab, "exploding", "Playground")
        tab.locator(".st-key-loss_curves").first.wait_for(timeout=240_000)
        wait_until_drawn(tab, at_least=1, heading="Playground")
        tab.wait_for_function(CHART_UNDER_BANNER, arg=["loss_curves", HEIGHT], timeout=60_000,
                              polling=250)
        banner = box(tab, ".st-key-lesson_banner")
        # compact: it took 192 px (the question in three lines at the projector's 1.35rem)
        assert banner["bottom"] - banner["top"] <= 130, banner
        # the exploded run's verdict offers fixes, which change settings a projector hides
        assert tab.evaluate(VISIBLE_TRY) == []
        _shot(tab, "classroom_lesson_exploding_1280x720")

        # the class looks down the page, then the teacher switches to the clipped run: the
        # chart comes back under the banner (the rerun had left it under the banner)
        tab.evaluate("() => document.querySelector('[data-testid=stMain]').scrollBy(0, 2000)")
        assert tab.evaluate(MAIN_SCROLL) > 0
        banner_box = tab.locator(".st-key-lesson_banner")
        banner_box.get_by_text("clipping at 1", exact=True).first.click()
        exploded = tab.locator("[data-testid=stMain] [data-testid=stAlert]",
                               has_text="The run exploded")
        exploded.first.wait_for(state="detached", timeout=60_000)  # the clipped run is shown
        settle(tab)
        wait_until_drawn(tab, at_least=1, heading="Playground")
        tab.wait_for_function(CHART_UNDER_BANNER, arg=["loss_curves", HEIGHT], timeout=30_000,
                              polling=250)
        assert _violations(tab) == []  # the compact banner, at projector sizes
        _shot(tab, "classroom_lesson_exploding_switched_1280x720")

        # the gradient of the exploded run spans many decades: its colour bars read like the
        # axes (16 px) and no two labels overlap
        banner_box.get_by_text("no clipping", exact=True).first.click()
        exploded.first.wait_for(timeout=60_000)
        settle(tab)
        tab.locator("[data-testid='stExpandSidebarButton']").first.click()
        open_page(tab, "Gradients")
        wait_until_drawn(tab, at_least=2, heading="Gradients")
        for chart in tab.locator(".js-plotly-plot").all():
            chart.scroll_into_view_if_needed()
        wait_until_drawn(tab, at_least=2, heading="Gradients")
        bars = [bar for bar in tab.evaluate(COLOUR_BARS) if bar["sizes"]]
        assert bars, "the Gradients page draws colour bars"
        for bar in bars:
            assert min(bar["sizes"]) >= 16, bar  # plotly's 12 px beside 16 px axes before
            assert bar["overlaps"] == [], bar
        assert tab.locator(EXCEPTION).count() == 0
        assert tab.problems == []

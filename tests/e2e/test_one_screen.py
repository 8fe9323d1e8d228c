"""The Playground as one screen, in Chromium (issue 20, items 1-3 and 7): the inside is in view
the moment Train is pressed and stays after training; every panel of the live view names one
snapshot and none is faded; one progress figure; the header's Stop is gone; a phone scrolls to
the live view."""

from __future__ import annotations

import re
import time

from .harness import (
    EXCEPTION,
    PHONE_AGENT,
    SIZES,
    boxes_when_there,
    settle,
    sized_tab,
    train_button,
    wait_for_run,
)

LONG = "seq_len=10&hidden_size=8&steps=30000&probe_every=50&eval_every=100"
SHORT = "seq_len=8&hidden_size=6&steps=1500&probe_every=50&eval_every=50"
GRID_CHART = ".st-key-live_grid [data-testid='stPlotlyChart']"

# the live board (one figure): the steps its title and panel titles name, and the step the loss
# marks; the opacity of every element container of the live view; its progress text
LIVE_STATE = """() => {
    const root = document.querySelector('.st-key-live_view');
    if (!root) return null;
    const boards = Array.from(root.querySelectorAll('.st-key-live_grid .js-plotly-plot'))
        .filter(el => el.checkVisibility() && el._fullLayout);
    const texts = boards.flatMap(el => [el._fullLayout.title.text || '',
        ...(el._fullLayout.annotations || []).map(a => a.text || '')]);
    const faded = Array.from(root.querySelectorAll('[data-testid=stElementContainer]'))
        .map(el => +getComputedStyle(el).opacity).filter(o => o < 0.99);
    const progress = Array.from(root.querySelectorAll('[data-testid=stProgress]'))
        .map(el => el.innerText);
    return {boards: boards.length, texts, faded: faded.length, progress};
}"""
# the texts of the board in ``container`` (its tick labels, axis and colour-bar titles) that
# reach past the figure's left, right or bottom edge: cut off on screen. The board lays out its
# own margins (plotly does not grow them: ``charts.live_board``), so they must fit every label.
# (Not the top: the title's line box rises a few pixels above the figure, its letters inside.)
CUT_LABELS = """(container) => {
    const board = document.querySelector(`.st-key-${container} .js-plotly-plot`);
    if (!board) return null;
    const edge = board.querySelector('.main-svg').getBoundingClientRect();
    return Array.from(board.querySelectorAll('text'))
        .filter(t => t.textContent.trim() && t.checkVisibility())
        .filter(t => { const r = t.getBoundingClientRect();
            return r.left < edge.left - 1 || r.right > edge.right + 1
                || r.bottom > edge.bottom + 1; })
        .map(t => t.textContent);
}"""
# the plot area of the board's first inside panel (plotly's drag layer of subplot x2y2)
FIRST_PANEL = ".st-key-live_grid .nsewdrag[data-subplot='x2y2']"


def test_train_shows_the_inside_at_once_beside_the_controls_and_keeps_it(browser, server_url):
    with sized_tab(browser, "desktop") as tab:
        tab.goto(f"{server_url}/playground?{LONG}")
        settle(tab)
        pressed = time.perf_counter()
        train_button(tab).click()
        [first] = boxes_when_there(tab, FIRST_PANEL)
        waited = time.perf_counter() - pressed
        # the first row of the inside grid, whole, in the first screen: no scrolling
        assert first["top"] >= 0 and first["bottom"] <= SIZES["desktop"][1], (first, waited)
        assert tab.evaluate("() => document.querySelector('[data-testid=stMain]').scrollTop") \
            == 0
        # beside the Train button, not under it
        train = train_button(tab).bounding_box()
        assert first["left"] > train["x"] + train["width"], (first, train)
        # the header's Stop (which stopped only the page's script) is not offered
        assert tab.locator("[data-testid=stStatusWidget] button:visible").count() == 0
        # one progress figure: the page's, none in the sidebar while the Playground shows
        tab.get_by_text(re.compile(r"Training: step \d+ of 30000")).first.wait_for(
            timeout=120_000)
        assert tab.locator("[data-testid=stSidebar] [data-testid=stProgress]").count() == 0
        assert tab.get_by_text("Its progress is on the page.").count() == 1
        # for a while: one board, every title in it names one step (the loss marks the same),
        # and nothing is faded
        seen_steps, deadline = set(), time.monotonic() + 20
        while time.monotonic() < deadline:
            live = tab.evaluate(LIVE_STATE)
            if live and live["boards"]:
                assert live["boards"] == 1, live
                steps = {int(m.group(1)) for text in live["texts"]
                         if (m := re.search(r"step (\d+)", text))}
                assert len(steps) == 1, live
                seen_steps |= steps
                assert live["faded"] == 0, live
                assert "left" in live["progress"][0] or "measuring" in live["progress"][0], live
            tab.wait_for_timeout(300)
        assert len(seen_steps) >= 2, seen_steps  # it moved on, and agreed every time
        assert tab.evaluate(CUT_LABELS, "live_grid") == []
        assert tab.locator(EXCEPTION).count() == 0
        tab.locator(".st-key-stop [data-testid^='stBaseButton']").first.click()
        wait_for_run(tab, timeout=120)
        settle(tab)
        # after training the inside stays: the grid of the kept weights, the Training step
        # slider over it, and real links to the pages that go deeper
        tab.locator(".st-key-inside_grid .nsewdrag[data-subplot='x3y3']").first.wait_for(
            timeout=60_000)  # the board's panels, drawn
        assert tab.get_by_role("slider", name="Training step").count() == 1
        hrefs = tab.evaluate("""() => Array.from(document.querySelectorAll(
            '[data-testid=stMain] [data-testid=stPageLink] a')).map(a => a.href)""")
        for page in ("hidden_states", "gates", "gradients"):
            assert any(href.endswith(f"/{page}") for href in hrefs), hrefs
        assert tab.evaluate(CUT_LABELS, "inside_grid") == []
        assert tab.locator(EXCEPTION).count() == 0 and tab.problems == []


def test_a_phone_scrolls_to_the_live_view_on_train(browser, server_url):
    width, height = SIZES["phone"]
    context = browser.new_context(viewport={"width": width, "height": height},
                                  user_agent=PHONE_AGENT)
    tab = context.new_page()
    tab.problems = []
    tab.on("pageerror", lambda err: tab.problems.append(f"page error: {err}"))
    try:
        tab.goto(f"{server_url}/playground?{SHORT}&seed=7")
        settle(tab)
        train_button(tab).click()
        tab.locator(GRID_CHART).first.wait_for(timeout=60_000)
        tab.wait_for_function("""() => { const e = document.querySelector('.st-key-live_view');
            if (!e) return false; const r = e.getBoundingClientRect();
            return r.top >= -5 && r.top < window.innerHeight / 2; }""", timeout=15_000)
        # stacked: the pictures under the controls, the panels one under another
        [chart] = boxes_when_there(tab, GRID_CHART)
        assert chart["right"] <= width + 1, chart
        one, two = boxes_when_there(
            tab, *(f".st-key-live_grid .nsewdrag[data-subplot='x{n}y{n}']" for n in (2, 3)))
        assert two["top"] >= one["bottom"], (one, two)
        assert tab.evaluate(CUT_LABELS, "live_grid") == []
        assert tab.locator(EXCEPTION).count() == 0 and tab.problems == []
    finally:
        context.close()

"""Watching the network learn, in Chromium: the Playground's live inside view while a long run
trains, and the "Training step" slider of every inside page."""

from __future__ import annotations

import re

from .harness import (
    CHART,
    EXCEPTION,
    PLOT_TITLE,
    count_visible_at_once,
    most_visible_at_once,
    open_page,
    settle,
    train_button,
    train_tiny,
)

LIVE_TITLES = ("Hidden states h_t", "‖∂L/∂h_t‖ of example 0", "Gradient over training")
HIDDEN = "Hidden states h_t, example 0, step "

# every visible plotly chart: its title and its first trace's z (or y) values, and whether plotly
# drew it. Visible only: Streamlit keeps a chart a rerun replaced, hidden, in the page for a while
# (harness.count_visible_at_once)
CHARTS = """() => Array.from(document.querySelectorAll('.js-plotly-plot'))
    .filter(el => el.checkVisibility()).map(el => {
        const t = (el._fullData || [])[0] || {};
        return {title: (""" + PLOT_TITLE + """)(el), drawn: !!el._fullData,
                values: JSON.stringify(Array.from(t.z || t.y || []).slice(0, 50))};
    })"""


def _wait_for_charts(page, condition: str, arg=None, timeout: float = 60_000) -> list[dict]:
    """The visible charts (``CHARTS``) once ``condition(charts, arg)``, a JS function, holds,
    read in the same evaluation as the condition."""
    return page.wait_for_function(f"""(arg) => {{ const charts = ({CHARTS})();
        return ({condition})(charts, arg) ? charts : null; }}""", arg=arg, timeout=timeout,
                                  polling=250).json_value()


def test_a_long_run_shows_the_inside_live_and_it_changes(page, server_url):
    page.goto(f"{server_url}/playground?seq_len=10&hidden_size=8&steps=20000&probe_every=50")
    settle(page)
    train_button(page).click()
    page.get_by_text(re.compile(r"Training: step \d+ of 20000")).wait_for(timeout=60_000)
    count_visible_at_once(page, "Hidden states")
    # a drawn live set: the loss curve and the inside of one snapshot (hidden states, gradient
    # profile, gradient over training; an LSTM's forget gate besides)
    first = _wait_for_charts(page, """(charts, titles) => titles.every(t => charts.some(c =>
        c.drawn && c.title.startsWith(t)))""", ["Training live", *LIVE_TITLES])
    hidden_then = next(c for c in first if c["title"].startswith(HIDDEN))
    step_then = int(hidden_then["title"][len(HIDDEN):])
    # the live view moves on to a newer snapshot
    later = _wait_for_charts(page, f"""(charts, step) => charts.some(c => c.drawn &&
        c.title.startsWith({HIDDEN!r}) && +c.title.slice({len(HIDDEN)}) > step)""", step_then)
    hidden_now = next(c for c in later if c["title"].startswith(HIDDEN))
    assert hidden_now["values"] != hidden_then["values"], (hidden_then, hidden_now)
    # the learner never sees two hidden-state figures (an old snapshot's and a new one's)
    at_once = most_visible_at_once(page)
    assert at_once["most"] == 1, at_once
    assert page.locator(EXCEPTION).count() == 0
    page.locator(".st-key-stop [data-testid^='stBaseButton']").first.click()


START = "'step 0, before training'"  # a JS string: the first snapshot, in a chart's title


def _drawn(page, condition: str) -> dict[str, str]:
    """Each visible chart's title -> its values, once plotly drew every visible chart and
    ``condition(charts)`` holds (the chosen step is the one drawn)."""
    charts = _wait_for_charts(page, f"(charts) => charts.length > 0 && "
                              f"charts.every(c => c.drawn) && ({condition})(charts)",
                              timeout=30_000)
    return {c["title"]: c["values"] for c in charts}


def test_every_inside_page_rewinds_to_the_start(page, server_url):
    page.goto(f"{server_url}/playground?seq_len=10&hidden_size=8")
    settle(page)
    train_tiny(page, steps=60)
    for title in ("Hidden states", "Gates", "Gradients", "Step through"):
        open_page(page, title)
        page.wait_for_selector(CHART)
        slider = page.get_by_role("slider", name="Training step")
        assert slider.count() == 1, title
        slider.focus()
        slider.press("End")  # the run's end (the step chosen on the last page is kept)
        settle(page)
        last = _drawn(page, "(charts) => !charts.some(c => c.title.includes(" + START + "))")
        slider.focus()
        slider.press("Home")  # the first snapshot: step 0
        settle(page)
        first = _drawn(page, "(charts) => charts.some(c => c.title.includes(" + START + "))")
        assert sorted(first.values()) != sorted(last.values()), title
        assert page.locator(EXCEPTION).count() == 0
    assert page.problems == []


def _chosen_step(page) -> str:
    """The Training step slider's own label: the step it shows."""
    lines = [line for line in page.locator(".st-key-train_step").inner_text().splitlines()
             if line.strip()]
    return lines[1]


def test_the_chosen_training_step_follows_the_learner_from_page_to_page(page, server_url):
    """Set on Gates, the step is the one Gradients, Hidden states and Gates again open at, also
    after a page without the slider (Streamlit forgets a widget's value with its page)."""
    page.goto(f"{server_url}/playground?seq_len=10&hidden_size=8&seed=41")
    settle(page)
    train_tiny(page, steps=200)
    open_page(page, "Gates")
    slider = page.get_by_role("slider", name="Training step")
    slider.focus()
    for _ in range(2):
        slider.press("ArrowLeft")
    settle(page)
    chosen = _chosen_step(page)
    assert chosen.startswith("step ") and "before training" not in chosen, chosen
    for title in ("Gradients", "Home", "Gates", "Hidden states", "Step through"):
        open_page(page, title)
        if title != "Home":
            assert _chosen_step(page) == chosen, title
    assert page.locator(EXCEPTION).count() == 0


def test_the_sidebar_follows_the_live_run_and_a_reused_run(page, server_url):
    page.goto(f"{server_url}/playground?seq_len=10&hidden_size=8&steps=20000&seed=31")
    settle(page)
    train_button(page).click()
    page.get_by_text(re.compile(r"Training: step \d+ of 20000")).wait_for(timeout=60_000)
    # the sidebar's step moves on from 0 with the run; both read at one moment
    in_sidebar, on_page = page.wait_for_function("""() => {
        const text = sel => (document.querySelector(sel) || {}).innerText || '';
        const side = /step (\\d+) \\/ 20000/.exec(text("[data-testid='stSidebar']"));
        const main = /Training: step (\\d+) of 20000/.exec(text("[data-testid='stMain']"));
        return side && main && +side[1] > 0 ? [+side[1], +main[1]] : null;
    }""", timeout=60_000, polling=250).json_value()
    assert abs(in_sidebar - on_page) < 2000, (in_sidebar, on_page)  # a second of training apart
    page.locator(".st-key-stop [data-testid^='stBaseButton']").first.click()
    # a run this server already trained is reused at once: the sidebar says so too
    page.goto(f"{server_url}/playground?seq_len=10&hidden_size=8")
    settle(page)
    train_tiny(page, steps=30)
    other = page.context.browser.new_page()
    try:
        other.goto(f"{server_url}/playground?seq_len=10&hidden_size=8&steps=30&eval_every=10"
                   "&probe_every=10")
        settle(other)
        train_button(other).click()
        settle(other)
        assert "reused" in other.locator("[data-testid='stMain']").inner_text()
        assert "Current run" in other.locator("[data-testid='stSidebar']").inner_text()
    finally:
        other.close()

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


# the live board (one figure): its title, its panels' titles and its first panel's values
BOARD = """() => Array.from(document.querySelectorAll('.st-key-live_grid .js-plotly-plot'))
    .filter(el => el.checkVisibility() && el._fullLayout).map(el => ({
        title: el._fullLayout.title.text || '',
        panels: (el._fullLayout.annotations || []).map(a => a.text || ''),
        hidden: JSON.stringify(Array.from(((el._fullData || []).find(t => t.type === 'heatmap')
            || {}).z || []).slice(0, 50))}))"""


def _board_at(page, condition: str, arg=None) -> dict:
    """The visible live board once ``condition(board, arg)`` holds."""
    return page.wait_for_function(f"""(arg) => {{ const boards = ({BOARD})();
        return boards.length === 1 && ({condition})(boards[0], arg) ? boards[0] : null; }}""",
                                  arg=arg, timeout=60_000, polling=250).json_value()


def _step(board: dict) -> int:
    return int(re.search(r"at step (\d+)", board["title"]).group(1))


def test_a_long_run_shows_the_inside_live_and_it_changes(page, server_url):
    page.goto(f"{server_url}/playground?seq_len=10&hidden_size=8&steps=20000&probe_every=50")
    settle(page)
    train_button(page).click()
    page.get_by_text(re.compile(r"Training: step \d+ of 20000")).wait_for(timeout=60_000)
    count_visible_at_once(page, "Training live")
    # a drawn board of a snapshot after step 0: the loss, and every inside panel of that step
    then = _board_at(page, """(board, titles) => /at step [1-9]/.test(board.title) &&
        titles.every(t => board.panels.some(p => p.includes(t)))""", list(LIVE_TITLES))
    step_then = _step(then)
    for panel in then["panels"]:  # every panel of the board says the board's step
        found = re.search(r"step (\d+)", panel)
        assert found is None or int(found.group(1)) == step_then, (panel, then["title"])
    # the live view moves on to a newer snapshot, and the hidden states with it
    later = _board_at(page, "(board, step) => +(/at step (\\d+)/.exec(board.title) || [0, 0])[1]"
                      " > step", step_then)
    assert later["hidden"] != then["hidden"], (then["title"], later["title"])
    # the learner never sees two boards (an old snapshot's and a new one's)
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
    # on the Playground one progress figure, the page's; on another page the sidebar's, which
    # moves on with the run
    sidebar = page.locator("[data-testid='stSidebar']")
    assert sidebar.locator("[data-testid='stProgress']").count() == 0
    open_page(page, "Hidden states")
    steps = []
    for _ in range(2):
        steps.append(page.wait_for_function("""(after) => {
            const text = (document.querySelector("[data-testid='stSidebar']") || {}).innerText;
            const side = /Progress: step (\\d+) of 20000/.exec(text || '');
            return side && +side[1] > after ? +side[1] : null;
        }""", arg=steps[-1] if steps else 0, timeout=60_000, polling=250).json_value())
    assert steps[1] > steps[0] > 0, steps
    open_page(page, "Playground")
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

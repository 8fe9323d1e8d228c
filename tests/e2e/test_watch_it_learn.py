"""Watching the network learn, in Chromium: the Playground's live inside view while a long run
trains, and the "Training step" slider of every inside page."""

from __future__ import annotations

import re

from .harness import CHART, EXCEPTION, open_page, settle, train_button, train_tiny

LIVE_TITLES = ("Hidden states h_t", "‖∂L/∂h_t‖ of example 0", "Gradient over training")


def _chart_data(page) -> dict[str, list]:
    """Each drawn plotly chart's title -> its first trace's z (or y) values."""
    return page.evaluate("""() => Object.fromEntries(
        Array.from(document.querySelectorAll('.js-plotly-plot')).map(el => {
            const title = (((el.layout || {}).title || {}).text || '').replace(/<[^>]+>/g, '');
            const t = (el._fullData || [])[0] || {};
            const values = t.z || t.y || [];
            return [title, JSON.stringify(Array.from(values).slice(0, 50))];
        }))""")


def test_a_long_run_shows_the_inside_live_and_it_changes(page, server_url):
    page.goto(f"{server_url}/playground?seq_len=10&hidden_size=8&steps=20000&probe_every=50")
    settle(page)
    train_button(page).click()
    page.get_by_text(re.compile(r"Training: step \d+ of 20000")).wait_for(timeout=60_000)
    page.get_by_text(re.compile(r"Hidden states h_t, example 0, step \d+")).wait_for(
        timeout=60_000)
    for _ in range(40):  # the live fragment redraws every second: catch a drawn set
        first = _chart_data(page)
        live = [t for t in first if t.startswith(LIVE_TITLES)]
        if len(live) >= 3:
            break
        page.wait_for_timeout(250)
    assert len(live) >= 3 and any(t.startswith("Training live") for t in first), list(first)
    page.wait_for_timeout(2500)
    later = _chart_data(page)
    hidden_then = next(v for t, v in first.items() if t.startswith("Hidden states h_t"))
    hidden_now = next(v for t, v in later.items() if t.startswith("Hidden states h_t"))
    assert hidden_now != hidden_then  # a newer snapshot, a different inside
    assert page.locator(EXCEPTION).count() == 0
    page.locator(".st-key-stop [data-testid^='stBaseButton']").first.click()


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
        page.wait_for_timeout(500)
        last = _chart_data(page)
        slider.focus()
        slider.press("Home")  # the first snapshot: step 0
        settle(page)
        page.wait_for_timeout(500)
        first = _chart_data(page)
        assert any("step 0, before training" in t for t in first), (title, list(first))
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
    page.wait_for_timeout(3000)
    sidebar = page.locator("[data-testid='stSidebar']")
    main = page.locator("[data-testid='stMain']")
    in_sidebar = int(re.search(r"step (\d+) / 20000", sidebar.inner_text()).group(1))
    on_page = int(re.search(r"Training: step (\d+) of 20000", main.inner_text()).group(1))
    assert in_sidebar > 0 and abs(in_sidebar - on_page) < 2000  # a second of training apart
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

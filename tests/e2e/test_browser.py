"""The app in a real browser (Debian's Chromium driven by Playwright)."""

import re

from .harness import (
    CHART,
    EXCEPTION,
    nav_titles,
    open_page,
    plotly_data_points,
    selectbox_value,
    settle,
    slider_value,
    train_button,
    train_tiny,
    wait_for_run,
)

PAGE_TITLES = ["Home", "Lessons", "Playground", "Hidden states", "Gates", "Gradients",
               "Compare", "Step through", "Forecasting", "Text"]


def test_every_page_loads_without_errors(page, server_url):
    page.goto(server_url)
    settle(page)
    titles = nav_titles(page)
    for title in PAGE_TITLES:
        assert title in titles
    for title in titles:
        open_page(page, title)
        assert page.locator(EXCEPTION).count() == 0, title
    assert page.problems == []


def test_train_tiny_run_then_every_page_draws_data(page, server_url):
    page.goto(f"{server_url}/playground?task=copy&lag=2&seq_len=10&hidden_size=8")
    settle(page)
    train_tiny(page)
    assert "Current run" in page.locator("[data-testid='stSidebar']").inner_text()
    for title in ("Playground", "Hidden states", "Gates", "Gradients"):
        open_page(page, title)
        page.wait_for_selector(CHART)
        points = plotly_data_points(page)
        assert points and all(n > 0 for n in points), (title, points)
        assert page.locator(EXCEPTION).count() == 0
    assert page.problems == []


def test_shared_link_reproduces_configuration(browser, server_url):
    link = "/playground?cell=gru&seq_len=33&task=parity&hidden_size=12"
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        page = context.new_page()
        page.goto(server_url + link)
        settle(page)
        sliders = {label: slider_value(page, label) for label in ("Sequence length",
                                                                  "Hidden units")}
        assert sliders == {"Sequence length": "33", "Hidden units": "12"}
        # the boxes show the names a learner reads; the link keeps the codes
        assert selectbox_value(page, "Cell") == "GRU"
        assert selectbox_value(page, "Task") == "Parity of marked bits"
        assert "cell=gru" in page.url and "seq_len=33" in page.url
    finally:
        context.close()


def test_bad_link_value_shows_a_warning(page, server_url):
    page.goto(f"{server_url}/playground?seq_len=-3&cell=banana")
    settle(page)
    alerts = page.locator("[data-testid='stAlert']").all_inner_texts()
    assert any("seq_len=-3" in a for a in alerts)
    assert any("cell=banana" in a for a in alerts)
    assert page.locator(EXCEPTION).count() == 0


def test_stop_during_training_stops_it(page, server_url):
    page.goto(f"{server_url}/playground?seq_len=10&hidden_size=8&steps=20000")
    settle(page)
    train_button(page).click()
    page.get_by_text(re.compile(r"Training: step \d+ of 20000")).wait_for(timeout=30_000)
    page.locator(".st-key-stop [data-testid^='stBaseButton']").first.click()
    wait_for_run(page)
    main = page.locator("[data-testid='stMain']").inner_text()
    assert "stopped by the user" in main
    step = int(re.search(r"step (\d+)", page.locator("[data-testid='stSidebar']")
                         .inner_text()).group(1))
    assert 0 < step < 20000


def test_back_and_forward_keep_the_run(page, server_url):
    page.goto(f"{server_url}/playground?seq_len=8&hidden_size=6")
    settle(page)
    train_tiny(page, steps=20)
    open_page(page, "Hidden states")
    open_page(page, "Gradients")
    page.go_back()
    settle(page)
    assert "Hidden states" in page.locator("h1").first.inner_text()
    page.go_forward()
    settle(page)
    assert "Gradients" in page.locator("h1").first.inner_text()
    assert "Current run" in page.locator("[data-testid='stSidebar']").inner_text()
    assert page.locator(CHART).count() > 0


def test_classroom_mode_hides_the_controls(page, server_url):
    page.goto(f"{server_url}/playground")
    settle(page)
    assert page.locator("[data-testid='stForm']").count() == 1
    page.goto(f"{server_url}/playground?classroom=1")
    settle(page)
    assert page.locator("[data-testid='stForm']").count() == 0
    assert "Classroom mode hides the settings" in page.locator("[data-testid='stMain']") \
        .inner_text()
    assert page.locator(EXCEPTION).count() == 0

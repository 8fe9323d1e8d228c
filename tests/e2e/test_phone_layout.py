"""A phone held upright (390x844), in Chromium (issue 20, item 7): plotly's toolbar off the chart
titles, the lessons in order, the Sentiment answer whole, the Text page's characters apart, the
lesson banner out of the way."""

from __future__ import annotations

from rnnviz.studies.lessons import LESSONS

from .harness import EXCEPTION, box, settle, sized_tab, wait_until_drawn
from .test_accessibility import _violations
from .test_learners_view import _shot

# every chart's title and, where it is shown, plotly's toolbar (the modebar), overlapping
TOOLBAR_ON_TITLE = """() => Array.from(document.querySelectorAll('.js-plotly-plot'))
  .filter(el => el.checkVisibility()).map(el => {
    const bar = el.querySelector('.modebar-container'), title = el.querySelector('.gtitle');
    if (!bar || !title || !bar.checkVisibility({opacityProperty: true})) return null;
    const a = bar.getBoundingClientRect(), b = title.getBoundingClientRect();
    const overlap = a.width > 0 && a.left < b.right && b.left < a.right && a.top < b.bottom
        && b.top < a.bottom;
    return overlap ? title.textContent : null;
  }).filter(t => t !== null)"""
# st.metric values cut with an ellipsis
CUT_METRICS = """() => Array.from(document.querySelectorAll('[data-testid=stMetricValue]'))
  .filter(v => [v, ...v.querySelectorAll('*')].some(e => e.scrollWidth > e.clientWidth + 1))
  .map(v => v.innerText)"""
# pairs of neighbouring characters of a text grid drawn over each other
OVERLAPPING_CHARACTERS = """(key) => {
  const texts = Array.from(document.querySelectorAll(`.st-key-${key} .heatmap-label text`))
      .filter(t => t.textContent.trim());
  const boxes = texts.map(t => t.getBoundingClientRect());
  const pairs = [];
  for (let i = 1; i < boxes.length; i++) {
    const a = boxes[i - 1], b = boxes[i];
    if (Math.abs(a.top - b.top) < 2 && a.right > b.left + 0.5)
      pairs.push(texts[i - 1].textContent + texts[i].textContent);
  }
  return {characters: texts.length, pairs};
}"""


def test_on_a_phone_no_toolbar_sits_on_a_chart_title(browser, server_url):
    with sized_tab(browser, "phone") as tab:
        tab.goto(server_url)
        settle(tab)
        tab.locator(".st-key-home_loss").wait_for(timeout=120_000)  # the Home run's charts
        wait_until_drawn(tab, at_least=1)
        chart = tab.locator(".st-key-home_loss .js-plotly-plot").first
        chart.scroll_into_view_if_needed()
        assert tab.evaluate(TOOLBAR_ON_TITLE) == []
        chart.hover()  # a tap on a phone: where plotly shows its toolbar
        tab.wait_for_timeout(300)  # plotly's own fade-in of the toolbar
        assert tab.evaluate(TOOLBAR_ON_TITLE) == []
        _shot(tab, "phone_chart_titles_390x844")


def test_on_a_phone_the_lessons_read_in_order(browser, server_url):
    with sized_tab(browser, "phone") as tab:
        tab.goto(f"{server_url}/lessons")
        settle(tab)
        tops = tab.evaluate("""() => Array.from(document.querySelectorAll(
            "[class*='st-key-lesson_card_']")).map(c => [c.innerText.match(/(\\d+) · /)[1],
            c.getBoundingClientRect().top])""")
        order = [int(number) for number, _ in sorted(tops, key=lambda t: t[1])]
        assert order == list(range(1, len(LESSONS) + 1)), order


def test_on_a_phone_the_sentiment_answer_is_whole(browser, server_url):
    with sized_tab(browser, "phone") as tab:
        tab.goto(f"{server_url}/sentiment")
        settle(tab)
        tab.locator(".st-key-train_preset_sentiment button:visible").first.click()
        tab.locator("[data-testid=stMetricValue]").first.wait_for(timeout=300_000)
        wait_until_drawn(tab, at_least=1)
        tab.locator("[data-testid=stMetricValue]").first.scroll_into_view_if_needed()
        assert tab.evaluate(CUT_METRICS) == []  # "negative · P(positive) …" before
        values = tab.locator("[data-testid=stMetricValue]").all_inner_texts()
        assert any(v.strip() in ("positive", "negative") for v in values), values
        _shot(tab, "phone_sentiment_390x844")
        assert tab.locator(EXCEPTION).count() == 0
        assert tab.problems == []


# notes whether the page ever said how long the training has left
WATCH_ESTIMATE = """() => { window.__estimate = false; new MutationObserver(() => {
    if (document.body.innerText.includes("left at this run's measured"))
        window.__estimate = true; }).observe(document.body,
    {subtree: true, childList: true, characterData: true}); }"""


def test_on_a_phone_the_text_pages_characters_do_not_overlap(browser, server_url):
    with sized_tab(browser, "phone") as tab:
        tab.goto(f"{server_url}/text")
        settle(tab)
        tab.evaluate(WATCH_ESTIMATE)
        tab.locator(".st-key-train_preset_text button:visible").first.click()
        tab.locator(".st-key-text_grid .heatmap-label").first.wait_for(timeout=600_000)
        wait_until_drawn(tab, at_least=1)
        for key in ("text_grid", "finder_grid"):
            tab.locator(f".st-key-{key}").first.scroll_into_view_if_needed()
            wait_until_drawn(tab, at_least=1)
            drawn = tab.evaluate(OVERLAPPING_CHARACTERS, key)
            assert drawn["characters"] > 100 and drawn["pairs"] == [], (key, drawn)
        # the page itself does not scroll sideways: the grid does, in its own box
        assert tab.evaluate("() => document.querySelector('[data-testid=stMain]').scrollWidth"
                            " <= window.innerWidth")
        # while it trained, how long was left, from this run's own speed (no fixed promise)
        assert tab.evaluate("() => window.__estimate")
        # a box that scrolls sideways takes the keyboard's focus (axe: scrollable-region-...)
        assert _violations(tab) == []
        _shot(tab, "phone_text_390x844")
        assert tab.locator(EXCEPTION).count() == 0
        assert tab.problems == []


def test_on_a_phone_the_lesson_banner_scrolls_away_and_lesson_1_marks_its_steps(browser,
                                                                                server_url):
    with sized_tab(browser, "phone") as tab:
        tab.goto(f"{server_url}/lessons?lesson=recurrence")
        settle(tab)
        tab.locator(".st-key-start_detail_recurrence button:visible").first.click()
        tab.locator("h1", has_text="Hidden states").wait_for(timeout=300_000)
        tab.locator(".st-key-sequence .js-plotly-plot").first.wait_for(timeout=120_000)
        wait_until_drawn(tab, at_least=1, heading="Hidden states")
        position = tab.evaluate("""() => getComputedStyle(document.querySelector(
            '.st-key-lesson_banner').closest('[data-testid=stLayoutWrapper]')).position""")
        assert position != "sticky"  # it took a third of the screen, over the page
        banner = box(tab, ".st-key-lesson_banner")
        assert banner["bottom"] - banner["top"] < 844 / 2, banner
        # the steps lesson 1's question compares, marked on the chart it is about
        tab.wait_for_function("""() => ((document.querySelector('.st-key-sequence .js-plotly-plot')
            || {}).layout || {}).annotations""", timeout=60_000)
        texts = tab.evaluate("""() => document.querySelector('.st-key-sequence .js-plotly-plot')
            .layout.annotations.map(a => a.text)""")
        assert any("t = 0" in t for t in texts) and any("t = 2" in t for t in texts), texts
        # and that chart is brought into view, whole, under Streamlit's header
        tab.wait_for_function("""() => {
            const c = document.querySelector('.st-key-sequence').getBoundingClientRect();
            return c.top >= 0 && c.bottom <= window.innerHeight; }""", timeout=30_000,
            polling=250)
        assert _violations(tab) == []  # the banner and the marks too
        _shot(tab, "phone_lesson_recurrence_390x844")

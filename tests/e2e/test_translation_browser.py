"""The Translation page in Chromium: the attention of the validation example changes while a
dates model trains (the live board), the rewound view at step 0 differs from the last step,
and axe-core finds nothing at a desk and on a phone, nothing wider than the screen."""

from __future__ import annotations

import pytest

from .harness import EXCEPTION, settle, sized_tab, wait_until_drawn
from .test_accessibility import _violations

HEADING = "Translation: the bottleneck and the attention that fixes it"
STEPS = 300
ATTENTION = """() => { for (const el of document.querySelectorAll('.js-plotly-plot')) {
    const title = (((el.layout || {}).title || {}).text || '').replace(/<[^>]+>/g, ' ');
    const step = title.match(/Attention at training step (\\d+)/);
    if (step && el._fullData)
        return [Number(step[1]), JSON.stringify(Array.from(el._fullData[0].z || [],
                                                           row => Array.from(row)))];
    } return null; }"""


def _attention(tab):
    return tab.evaluate(ATTENTION)


def _train(tab, server_url: str) -> None:
    tab.goto(f"{server_url}/translation")
    settle(tab)
    box = tab.get_by_label("Training steps", exact=True)
    box.wait_for(timeout=120_000)
    box.fill(str(STEPS))
    box.press("Tab")
    settle(tab)
    tab.get_by_role("button", name="Train", exact=True).click()


def test_live_attention_changes_and_rewinds(browser, server_url):
    with sized_tab(browser, "desktop") as tab:
        _train(tab, server_url)
        seen = []
        while not tab.get_by_text("Translate your own").count():
            shown = _attention(tab)
            if shown is not None and (not seen or shown != seen[-1]):
                seen.append(shown)
            tab.wait_for_timeout(150)
            assert len(seen) < 400
        # while it trained, the attention of at least two snapshots was drawn, and they differ
        assert len({title for title, _ in seen}) >= 2, [t for t, _ in seen]
        assert len({z for _, z in seen}) >= 2
        wait_until_drawn(tab, at_least=2, heading=HEADING, timeout=120_000)
        last = _attention(tab)
        assert last[0] == STEPS
        slider = tab.get_by_role("slider", name="Training step")
        slider.focus()
        slider.press("Home")
        tab.wait_for_function("() => { const s = (" + ATTENTION + ")();"
                              " return s && s[0] === 0; }",
                              timeout=60_000, polling=200)
        first = _attention(tab)
        assert first[1] != last[1]
        assert tab.locator(EXCEPTION).count() == 0
        assert not tab.problems, tab.problems


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_translation_page_passes_axe(browser, server_url, size):
    with sized_tab(browser, size) as tab:
        _train(tab, server_url)  # the run of the test above: the registry has it at once
        tab.get_by_text("Translate your own").wait_for(timeout=300_000)
        wait_until_drawn(tab, at_least=2, heading=HEADING, timeout=120_000)
        assert tab.locator(EXCEPTION).count() == 0
        width = tab.evaluate("document.documentElement.scrollWidth")
        assert width <= tab.viewport_size["width"] + 1, width
        found = _violations(tab)
        assert not tab.problems, tab.problems
    assert not found, found

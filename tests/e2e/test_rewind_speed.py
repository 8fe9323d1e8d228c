"""The Training step slider on the Gates page, at desk size in Chromium (issue 20, item 5:
"Rewind is slow and stale"): a notch redraws the charts of its step without rerunning the page,
Replay walks every snapshot in order, its label never ahead of the charts and nothing faded, the
Example controls are on the page once, and the first row of gate heatmaps is in view with the
slider. The times of a notch and of a Replay frame are printed (median and worst): they depend
on the machine, and ``python -m rnnviz.measure.rewind_timing`` prints the server's share.

What "shown" means here is what a learner sees: every visible chart whose title names a step
names the slider's step (at the run's end the charts name none), plotly has drawn it, and
nothing in the rewind area is faded."""

from __future__ import annotations

import statistics
import time

import pytest

from .harness import EXCEPTION, open_page, settle, sized_tab, train_button, wait_for_run

CONFIG = "steps=400&probe_every=50&eval_every=50"  # the default LSTM, 9 snapshots
SLIDER = "input[type=range][aria-label='Training step']"

# One look at the page: the slider's step, the charts' steps, what is faded or stale.
LOOK = """() => {
    const slider = document.querySelector(`SLIDER`);
    const main = document.querySelector("[data-testid='stMain']");
    const visible = el => el.checkVisibility();
    const area = document.querySelector(".st-key-rewind_area") || main;
    const plots = Array.from(area.querySelectorAll('.js-plotly-plot')).filter(visible);
    const title = el => (((el._fullLayout || {}).title || {}).text || '');
    const stepOf = text => { const m = /step (\\d+)/.exec(text); return m ? +m[1] : 'end'; };
    const named = plots.map(title).map(stepOf);
    const containers = Array.from(main.querySelectorAll("[data-testid='stElementContainer']"))
        .filter(visible);
    const faded = containers.filter(el => el.closest('.st-key-rewind_area')
        && parseFloat(getComputedStyle(el).opacity) < 0.99).length;
    const staleOutside = containers.filter(el => !el.closest('.st-key-rewind_area')
        && el.getAttribute('data-stale') === 'true').length;
    const examples = Array.from(main.querySelectorAll("[data-testid='stSlider']"))
        .filter(el => visible(el) && el.innerText.trim().startsWith('Example')).length;
    // while Replay plays, a bar in the slider's place says the step
    const bar = area.querySelector("[data-testid='stProgress']");
    const label = slider ? slider.getAttribute('aria-valuetext') : bar ? bar.innerText : '';
    const step = stepOf(label);
    return {t: performance.now(), slider: !label ? null : step === LAST ? 'end' : step, label,
            charts: named, drawn: plots.every(el => el._fullData), faded, staleOutside, examples,
            playing: !!Array.from(main.querySelectorAll('button'))
                .find(b => b.innerText.includes('Pause')),
            state: document.querySelector("[data-testid='stApp']")
                .getAttribute('data-test-script-state')};
}""".replace("SLIDER", SLIDER).replace("LAST", "400")  # the run's last step: its charts name none

# Every animation frame, a look, kept in window.__looks (started by RECORD, read by LOOKS).
RECORD = """() => {
    window.__looks = [];
    window.__recording = true;
    const look = LOOK;
    const tick = () => { if (!window.__recording) return;
        window.__looks.push(look()); requestAnimationFrame(tick); };
    requestAnimationFrame(tick);
}""".replace("LOOK", LOOK)
STOP = "() => { window.__recording = false; return window.__looks; }"
SHOWN = """(before) => { const now = (LOOK)();
    return now.label !== before && now.charts.length > 0 && now.drawn && now.faded === 0
        && now.charts.every(step => step === now.slider || step === 'end' && now.slider === 'end')
        && now.charts.some(step => step === now.slider); }""".replace("LOOK", LOOK)


@pytest.fixture
def gates(browser, server_url):
    """A desk-sized tab on the Gates page of a freshly trained default LSTM, at step 0."""
    with sized_tab(browser, "desktop") as tab:
        tab.goto(f"{server_url}/playground?{CONFIG}")
        settle(tab)
        train_button(tab).click()
        wait_for_run(tab, timeout=180)
        open_page(tab, "Gates")
        tab.wait_for_selector(SLIDER)
        yield tab
        assert tab.locator(EXCEPTION).count() == 0
        assert tab.problems == []


def _home(tab) -> None:
    slider = tab.locator(SLIDER)
    slider.focus()
    slider.press("Home")
    tab.wait_for_function(SHOWN, arg="", timeout=60_000, polling="raf")
    settle(tab)


def _summary(times: list[float]) -> str:
    return f"median {statistics.median(times):.2f} s, worst {max(times):.2f} s, n={len(times)}"


def test_a_notch_redraws_its_charts_and_nothing_else(gates):
    _home(gates)
    slider = gates.locator(SLIDER)
    times, looks = [], []
    for _ in range(6):
        before = slider.get_attribute("aria-valuetext")
        gates.evaluate(RECORD)
        started = time.perf_counter()
        slider.press("ArrowRight")
        gates.wait_for_function(SHOWN, arg=before, timeout=60_000, polling="raf")
        times.append(time.perf_counter() - started)
        settle(gates)
        looks += gates.evaluate(STOP)
    print(f"\nGates, one notch of the Training step slider: {_summary(times)}")
    # the notch reran the rewind fragment alone: nothing else on the page was ever stale
    assert max(look["staleOutside"] for look in looks) == 0
    assert max(look["faded"] for look in looks) == 0
    assert all(look["examples"] == 1 for look in looks)


def test_replay_shows_every_snapshot_never_ahead_of_its_charts_never_faded(gates):
    _home(gates)
    gates.evaluate(RECORD)
    gates.get_by_role("button", name="Replay").click()
    gates.get_by_role("button", name="Pause").wait_for(timeout=30_000)
    # to the end of training (8 more snapshots), where Replay stops by itself
    gates.get_by_role("button", name="Replay").wait_for(timeout=120_000)
    settle(gates)
    looks = gates.evaluate(STOP)
    # (between the slider and the bar that stands for it while Replay plays, a frame has none;
    # while a chart is replaced by its next step's, plotly has it out of view for a frame)
    every = max(len(look["charts"]) for look in looks)
    drawn = [look for look in looks
             if len(look["charts"]) == every and look["drawn"] and look["slider"] is not None]
    steps = [look["slider"] for look in drawn]
    walked = [step for i, step in enumerate(steps) if i == 0 or step != steps[i - 1]]
    assert walked == [0, 50, 100, 150, 200, 250, 300, 350, "end"], walked
    # the label never names a step the charts do not show yet: it is drawn after them. (While
    # a frame arrives the charts change one by one, so for a moment some show the next step:
    # Streamlit sends a run's elements as they are drawn.)
    ahead = [(look["slider"], look["charts"]) for look in drawn
             if look["slider"] not in look["charts"]]
    assert ahead == [], ahead[:5]
    assert max(look["faded"] for look in looks) == 0
    assert all(look["examples"] == 1 for look in looks)
    # when each snapshot appeared, from the first look at it
    first = {}
    for look in drawn:
        first.setdefault(look["slider"], look["t"])
    times = [(b - a) / 1000 for a, b in zip(list(first.values()), list(first.values())[1:],
                                            strict=False)]
    print(f"\nGates, Replay, time between snapshots (asked: 0.8 s): {_summary(times)}")


def test_the_slider_and_the_first_gate_heatmaps_are_in_view_together(gates):
    """1400x900, at the top of the page: the slider, the Example controls and the first row of
    heatmaps (input and forget gates for an LSTM) are whole on the screen."""
    _home(gates)
    height = gates.viewport_size["height"]
    boxes = gates.evaluate("""() => ['.st-key-train_step', '.st-key-example',
            '.st-key-gate_i', '.st-key-gate_f'].map(sel => {
        const r = document.querySelector(sel).getBoundingClientRect();
        return {sel, top: r.top, bottom: r.bottom}; })""")
    for box in boxes:
        assert 0 <= box["top"] and box["bottom"] <= height, (box, height)

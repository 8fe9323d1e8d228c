"""How long a learner waits for a picture, measured in Chromium on the real app.

    python -m tests.e2e.view_timings [--repeats 5]

Starts the app and a Chromium, trains one small run to warm the server (its worker processes,
its imports), then times, each ``--repeats`` times, from the click or key press to the moment
plotly has drawn the picture it asked for:

- **Train -> first inside picture**: the Playground's live board at step 0 (a fresh seed each
  time, so nothing is reused), drawn;
- **rewind notch**: one notch of the Training step slider on the Playground's finished board
  and on Gates, until every chart that names a step names the new one;
- **page switch**: from the Playground with a trained run to Hidden states, Gates and Gradients,
  until every chart of the new page is drawn.

A benchmark that prints a table (median and worst, seconds), not a test: machines differ, so
the README quotes its output with the machine it ran on.
"""

from __future__ import annotations

import argparse
import os
import statistics

from .harness import (
    CHROMIUM_ARGS,
    DRAWN,
    app_server,
    chromium_path,
    open_page,
    settle,
    train_button,
    wait_for_run,
    wait_until_drawn,
)

FIRST = ".st-key-live_grid .nsewdrag[data-subplot='x2y2']"  # the board's first inside panel
RUN = "seq_len=10&hidden_size=8&steps=400&probe_every=25&eval_every=25"
LIVE = "seq_len=10&hidden_size=8&steps=20000&probe_every=50"
SLIDER = "input[type=range][aria-label='Training step']"

# every visible, drawn chart of the main area that names a step names ``step``
AT_STEP = """(step) => {
    const main = document.querySelector("[data-testid='stMain']");
    const plots = Array.from(main.querySelectorAll('.js-plotly-plot'))
        .filter(el => el.checkVisibility());
    if (!plots.length || !plots.every(el => el._fullLayout)) return false;
    const named = plots.map(el => [el._fullLayout.title.text || '',
        ...(el._fullLayout.annotations || []).map(a => a.text || '')].join(' '))
        .map(text => Array.from(text.matchAll(/step (\\d+)/g), m => +m[1]))
        .filter(steps => steps.length);
    return named.length > 0 && named.every(steps => steps.every(s => s === step));
}"""


# The clock is the page's own (performance.now): from the click or key press, as the browser
# received it, to the first animation frame at which the picture is drawn. Playwright's round
# trips (tens to hundreds of milliseconds on a busy machine) are not the learner's wait.
ARM = """() => { window.__pressed = null;
    const mark = () => { if (window.__pressed === null) window.__pressed = performance.now(); };
    document.addEventListener('click', mark, {capture: true, once: true});
    document.addEventListener('keydown', mark, {capture: true, once: true}); }"""


def _measured(tab, action, condition: str, arg=None) -> float:
    """Seconds from ``action``'s click or key press to the frame where ``condition(arg)``, a JS
    function, first holds."""
    tab.evaluate(ARM)
    action()
    waited = tab.wait_for_function(
        f"(arg) => window.__pressed !== null && ({condition})(arg) ? "
        "performance.now() - window.__pressed : null", arg=arg, polling="raf",
        timeout=120_000)
    return waited.json_value() / 1000


DRAWN_BOARD = f"() => !!document.querySelector(\"{FIRST}\")"
# the slider's step (its label) is the one every chart that names a step names
AT_SLIDER_STEP = """() => { const s = document.querySelector("SLIDER");
    const m = s && /step (\\d+)/.exec(s.getAttribute('aria-valuetext') || '');
    return m ? (AT_STEP)(+m[1]) : false; }""".replace("SLIDER", SLIDER).replace(
    "AT_STEP", AT_STEP)
PAGE_DRAWN = f"(heading) => ({DRAWN})([1, heading])"


def first_pictures(browser, url: str, repeats: int) -> list[float]:
    times = []
    for index in range(repeats):
        context = browser.new_context(viewport={"width": 1400, "height": 900})
        tab = context.new_page()
        tab.goto(f"{url}/playground?{LIVE}&seed={500 + index}")
        settle(tab)
        wait_until_drawn(tab, at_least=1, heading="Playground")  # the network before training
        times.append(_measured(tab, lambda: train_button(tab).click(),  # noqa: B023
                               DRAWN_BOARD))
        tab.locator(".st-key-stop [data-testid^='stBaseButton']").first.click()
        wait_for_run(tab, timeout=120)
        context.close()
    return times


def notches(tab, repeats: int) -> list[float]:
    """Notches to the left from the run's end (the chosen step is shared by the pages: End
    brings it back), each until the page shows its step. The first is not timed: at the run's
    end the charts name no step (they are the run's), and the condition would hold as soon as
    the first chart of the new step was drawn."""
    slider = tab.locator(SLIDER).first
    for key in ("End", "ArrowLeft"):
        slider.focus()
        slider.press(key)
        settle(tab)
    tab.wait_for_function(AT_SLIDER_STEP, polling="raf", timeout=120_000)
    times = []
    for _ in range(repeats):
        before = slider.get_attribute("aria-valuetext")
        slider.focus()
        times.append(_measured(tab, lambda: slider.press("ArrowLeft"), AT_SLIDER_STEP))
        settle(tab)
        if slider.get_attribute("aria-valuetext") == before:  # at step 0: nothing was redrawn
            raise SystemExit(f"--repeats {repeats} is more notches than the run has snapshots")
    return times


def page_switches(tab, repeats: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {}
    for _ in range(repeats):
        for title in ("Hidden states", "Gates", "Gradients"):
            open_page(tab, "Playground")
            wait_until_drawn(tab, at_least=1, heading="Playground")
            link = tab.locator("[data-testid='stSidebarNavLink']", has_text=title).first
            times.setdefault(title, []).append(_measured(tab, link.click, PAGE_DRAWN, title))
    return times


def main(argv: list[str] | None = None) -> int:
    from playwright.sync_api import sync_playwright
    parser = argparse.ArgumentParser(prog="python -m tests.e2e.view_timings")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    rows = []
    with app_server() as url, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        tab = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
        tab.goto(f"{url}/playground?{RUN}")
        settle(tab)
        train_button(tab).click()
        wait_for_run(tab, timeout=300)
        rows.append(("Train -> first inside picture", first_pictures(browser, url, args.repeats)))
        tab.goto(f"{url}/playground?{RUN}")  # the run this server trained, reused
        settle(tab)
        train_button(tab).click()
        wait_for_run(tab, timeout=300)
        wait_until_drawn(tab, at_least=1)
        rows.append(("rewind notch, Playground", notches(tab, args.repeats)))
        for title, times in page_switches(tab, args.repeats).items():
            rows.append((f"page switch to {title}", times))
        open_page(tab, "Gates")
        wait_until_drawn(tab, at_least=1, heading="Gates")
        rows.append(("rewind notch, Gates", notches(tab, args.repeats)))
        browser.close()
    print(f"Chromium at 1400x900, {os.cpu_count()} CPU cores, {args.repeats} repeats")
    print(f"{'what':<34}{'median s':>10}{'worst s':>10}")
    for what, times in rows:
        print(f"{what:<34}{statistics.median(times):>10.2f}{max(times):>10.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

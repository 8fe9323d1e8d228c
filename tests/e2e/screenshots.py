"""Regenerate the README's screenshots from the real app in Chromium.

    python -m tests.e2e.screenshots --out docs/screenshots [--query "cell=gru"]
                                    [--size desktop|classroom|phone|all]

Starts the app, trains the default run (or the one in --query) through the Playground, then
saves a full-page PNG of every page in the sidebar, named after the page, and the Playground
while a long run trains (``playground_live.png``, at every size). On Compare it first
trains the three cells and runs the dependency sweep, and on Forecasting and Text it trains the
model the page needs, so the pictures show results rather than forms.

Sizes (``harness.SIZES``): ``desktop`` 1400 px wide, into ``--out`` itself (the README's
pictures); ``classroom`` 1280 px in classroom mode (switched on after the run is trained, as a
teacher would), into ``--out/classroom``; ``phone`` 390 px, into ``--out/phone``. ``all`` takes
the three, one session each.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from .harness import (
    CHROMIUM_ARGS,
    EXCEPTION,
    PHONE_AGENT,
    SIZES,
    app_server,
    chromium_path,
    nav_titles,
    open_page,
    settle,
    sidebar_collapsed,
    train_at_size,
    train_button,
    wait_for_run,
)

FOLDERS = {"desktop": "", "classroom": "classroom", "phone": "phone"}


def full_page_shot(page, path: Path) -> None:
    """Streamlit scrolls inside its main block, so grow the viewport to the content first."""
    viewport = page.viewport_size
    page.wait_for_timeout(800)
    height = page.evaluate("() => document.querySelector('[data-testid=stMain]').scrollHeight")
    page.set_viewport_size({"width": viewport["width"],
                            "height": min(max(int(height) + 40, viewport["height"]), 9000)})
    page.wait_for_timeout(800)
    page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size(viewport)


def go_to(page, title: str, size: str) -> None:
    """A sidebar link, opening the sidebar first where it is collapsed; a projector's sidebar
    is closed again for the picture (a phone's closes by itself)."""
    if sidebar_collapsed(page):
        page.locator("[data-testid='stExpandSidebarButton']").first.click()
        page.wait_for_timeout(400)
    open_page(page, title)
    if size == "classroom" and not sidebar_collapsed(page):
        page.locator("[data-testid='stSidebarCollapseButton'] button").first.click()
        page.wait_for_timeout(400)


# buttons pressed on a page before its picture, so that it shows results rather than a form
PRESS_FIRST = {"Compare": ("Train the set", "Run the sweep"),
               "Forecasting": ("Train a forecaster",), "Text": ("Train a text model",),
               "Sentiment": ("Train a sentiment model",), "Speech": ("Train a digits model",),
               # exactly "Train": an icon button's label holds the word too
               "Translation": (re.compile(r"^Train$"),)}
# a page that fills in by itself: Home trains its run, Translation draws its finished run's
# rewindable attention once its training ends
WAIT_FOR = {"Home": ".st-key-home_loss", "Translation": "text=Fed its own guesses"}
LIVE_QUERY = "seq_len=10&hidden_size=8&steps=20000&probe_every=50"  # long enough to watch
TRAINING_NOTICE = "this page fills in when it is done"  # a page waiting for its own run


def press_and_wait(page, label: str, timeout: float = 300_000) -> None:
    """Click a button and wait for the script run it starts to end (nothing to do where the
    page does not offer it, e.g. a control classroom mode hides)."""
    button = page.get_by_role("button", name=label)
    if not button.count():
        return
    button.first.click()
    try:
        page.wait_for_selector("[data-testid='stApp'][data-test-script-state='running']",
                               timeout=5_000)
    except Exception:  # the run was over before we looked
        pass
    settle(page, timeout=timeout)
    notice = page.get_by_text(TRAINING_NOTICE)
    if notice.count():
        notice.first.wait_for(state="detached", timeout=timeout)
        settle(page, timeout=timeout)


def step_slider(page, key: str, presses: int) -> None:
    """Press ``key`` on the Training step slider ``presses`` times, each after the page has
    drawn the last: a notch redraws the slider, and presses sent meanwhile were lost (the
    rewound picture showed 4 notches back one time, 11 another)."""
    for _ in range(presses):
        slider = page.get_by_role("slider", name="Training step")
        slider.focus()
        slider.press(key)
        settle(page)


def live_shot(page, url: str, out: Path, size: str, problems: list) -> None:
    """The Playground while a long run trains (on a projector: pressed at the desk, then
    classroom mode switched on, and off again to stop it)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    page.goto(f"{url}/playground?{LIVE_QUERY}")
    settle(page)
    train_button(page).click()
    classroom = size == "classroom"
    if classroom:
        page.get_by_text("Classroom mode").first.click()
    try:
        page.locator(".st-key-live_grid .nsewdrag[data-subplot='x2y2']").first.wait_for(
            timeout=240_000)
        page.get_by_text(re.compile(r"Training: step [1-9]\d* of")).first.wait_for(
            timeout=240_000)
    except PlaywrightTimeout:  # e.g. queued behind other trainings: said, not a crash
        problems.append(f"{size}: the live view did not appear within 4 minutes")
    else:
        page.wait_for_timeout(6000)
        path = out / "playground_live.png"
        if classroom:  # what the projector shows: the screen, not the page grown to its length
            page.screenshot(path=str(path))  # (the grown one left the toggle off screen)
        else:
            full_page_shot(page, path)
        print(path)
    if classroom:  # classroom mode closed the sidebar, where its switch is
        if sidebar_collapsed(page):
            page.locator("[data-testid='stExpandSidebarButton']").first.click()
            page.wait_for_timeout(400)
        page.get_by_text("Classroom mode").first.click()
        settle(page)
    # dispatched: the grown and restored viewport can leave Playwright thinking it is off screen
    page.locator(".st-key-stop [data-testid^='stBaseButton']:visible").first.dispatch_event(
        "click")
    wait_for_run(page, timeout=120)


def shoot(browser, url: str, out: Path, size: str, query: str, problems: list) -> None:
    """Every page at one size, in one session."""
    width, height = SIZES[size]
    # a phone's browser says so (the live board lays its panels out in one column for it)
    agent = {"user_agent": PHONE_AGENT} if size == "phone" else {}
    page = browser.new_page(viewport={"width": width, "height": height}, **agent)
    page.on("pageerror", lambda err: problems.append(f"{size}: {err}"))
    live_shot(page, url, out, size, problems)
    train_at_size(page, url, query, size)
    titles = nav_titles(page)
    rewound = out / "gates_rewound.png"  # the inside at an earlier moment of training
    go_to(page, "Gates", size)
    step_slider(page, "ArrowLeft", 12)  # a dozen snapshots back from the end
    full_page_shot(page, rewound)
    print(rewound)
    # back to the end: the slider is shared by the inside pages, and the other pictures show
    # the trained model
    step_slider(page, "End", 1)
    for title in titles:
        go_to(page, title, size)
        for label in PRESS_FIRST.get(title, ()):
            press_and_wait(page, label)
        if title in WAIT_FOR:  # a page that fills in by itself (Home trains its run)
            page.locator(WAIT_FOR[title]).first.wait_for(state="attached", timeout=300_000)
            settle(page)
        path = out / (title.lower().replace(" ", "_") + ".png")
        full_page_shot(page, path)
        errors = page.locator(EXCEPTION).count()
        print(f"{path}  ({errors} exception boxes)")
        if errors:
            problems.append(f"{size} {title}: {errors} exception boxes")
    page.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.e2e.screenshots")
    parser.add_argument("--out", default="docs/screenshots")
    parser.add_argument("--query", default="", help="configuration for the trained run")
    parser.add_argument("--size", default="desktop", choices=[*SIZES, "all"],
                        help="window size (and mode) of the pictures; all: the three")
    args = parser.parse_args(argv)
    sizes = list(SIZES) if args.size == "all" else [args.size]
    from playwright.sync_api import sync_playwright
    problems: list[str] = []
    with app_server() as url, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        for size in sizes:
            out = Path(args.out) / FOLDERS[size]
            out.mkdir(parents=True, exist_ok=True)
            shoot(browser, url, out, size, args.query, problems)
        browser.close()
    for problem in problems:
        print("PROBLEM:", problem)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())

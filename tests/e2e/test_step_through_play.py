"""Step through plays in the browser: ▶ Play walks the animated figure's frames on the client,
forward from the first step and backward from the loss, while the app's script stays idle (no
rerun per step, as the old 0.9 s timer needed); Pause stops it."""

from __future__ import annotations

import time

from .harness import EXCEPTION, open_page, settle, train_tiny

ANIMATED = """() => Array.from(document.querySelectorAll('.js-plotly-plot'))
    .filter(el => ((el._transitionData || {})._frames || []).length)
    .map(el => ({frame: el._fullLayout._currentFrame, active: el._fullLayout.sliders[0].active,
                 frames: el._transitionData._frames.length}))"""
SCRIPT_STATE = "[data-testid='stApp']"


def _watch(page, seconds: float | None = None, frames_seen: int = 0,
           timeout: float = 60) -> tuple[list[int], set[str]]:
    """The animated figure's current frame, and the script's states, sampled every 150 ms for
    ``seconds``, or until ``frames_seen`` different frames were seen (at most ``timeout``)."""
    frames, states = [], set()
    started = time.time()
    while time.time() - started < (seconds if seconds is not None else timeout):
        (figure,) = page.evaluate(ANIMATED)
        if figure["frame"] is not None:
            frames.append(int(figure["frame"]))
        states.add(page.locator(SCRIPT_STATE).get_attribute("data-test-script-state"))
        if seconds is None and len(set(frames)) >= frames_seen:
            break
        page.wait_for_timeout(150)
    return frames, states


def _play(page) -> tuple[list[int], set[str]]:
    """Press Play and watch until the figure has shown 4 different frames (the rate is the
    machine's; the walk is the point)."""
    page.locator(".updatemenu-button", has_text="Play").first.click()
    started = time.time()
    watched = _watch(page, frames_seen=4)
    print(f"{abs(watched[0][-1] - watched[0][0]) / (time.time() - started):.1f} steps/s")
    return watched


def _pause(page) -> None:
    """Press Pause and wait until plotly's animation loop has stopped."""
    page.locator(".updatemenu-button", has_text="Pause").first.click()
    page.wait_for_function("""() => Array.from(document.querySelectorAll('.js-plotly-plot'))
        .filter(el => ((el._transitionData || {})._frames || []).length)
        .every(el => !el._transitionData._animationRaf)""", timeout=30_000)


def test_play_walks_the_steps_in_the_browser(page, server_url):
    page.goto(f"{server_url}/playground?seq_len=40&hidden_size=8")
    settle(page)
    train_tiny(page, steps=60)
    open_page(page, "Step through")
    (figure,) = page.evaluate(ANIMATED)
    assert figure["frames"] == 40 and figure["active"] == 0
    frames, states = _play(page)
    assert len(set(frames)) >= 3 and frames == sorted(frames), frames  # forward, moving
    assert states == {"notRunning"}, states  # no rerun of the page while it plays
    _pause(page)
    paused, _ = _watch(page, seconds=0.8)  # and it stays on its frame
    assert len(set(paused)) == 1, paused
    page.get_by_role("radio", name="Backward").click()
    settle(page)
    (figure,) = page.evaluate(ANIMATED)
    assert figure["active"] == 39  # the backward walk starts at the loss
    frames, states = _play(page)
    assert len(set(frames)) >= 3 and frames == sorted(frames, reverse=True), frames
    assert frames[0] > 30 and states == {"notRunning"}
    assert page.locator(EXCEPTION).count() == 0
    # plotly rejects the promise of an animation that Pause interrupts ("Uncaught (in promise)
    # undefined"): its own, harmless; anything else is a problem
    assert [p for p in page.problems if p != "page error: undefined"] == []

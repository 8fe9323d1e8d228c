"""The Speech page in Chromium: its one-click digits model trains and the page fills in, at a
desk and on a phone, with nothing wider than the screen and nothing axe-core finds; and the
microphone, fed a real FSDD recording through Chromium's fake capture device, is heard."""

from __future__ import annotations

import wave

import numpy as np
import pytest

from rnnviz.core import speech

from .conftest import SHOTS
from .harness import CHROMIUM_ARGS, EXCEPTION, chromium_path, settle, sized_tab, wait_until_drawn
from .test_accessibility import _violations

HEADING = "Speech: a network hearing spoken digits"


def _train_and_fill(tab, server_url: str) -> None:
    tab.goto(f"{server_url}/speech")
    settle(tab)
    tab.get_by_role("button", name="Train a digits model (an LSTM)").click()
    tab.get_by_text("On the whole test split").wait_for(timeout=300_000)
    settle(tab)
    wait_until_drawn(tab, at_least=2, heading=HEADING, timeout=120_000)


def _tall_screenshot(tab, name: str) -> None:
    """The whole page (Streamlit scrolls inside its own container, so a full-page screenshot
    is one screen): the window made as tall as the page, after the checks."""
    height = tab.evaluate("document.querySelector(\"[data-testid='stMain']\").scrollHeight")
    tab.set_viewport_size({"width": tab.viewport_size["width"], "height": min(height, 6000)})
    settle(tab)
    SHOTS.mkdir(parents=True, exist_ok=True)
    tab.screenshot(path=str(SHOTS / name))


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_speech_page_fills_in_and_passes_axe(browser, server_url, size):
    with sized_tab(browser, size) as tab:
        _train_and_fill(tab, server_url)
        assert tab.locator(EXCEPTION).count() == 0
        # the recording's player, with the trimmed recording in it (about a second)
        tab.wait_for_function("() => { const a = document.querySelector('audio');"
                              " return a && a.duration > 0.3 && a.duration < 3; }",
                              timeout=30_000)
        assert tab.get_by_text("The model says").count() >= 1
        width = tab.evaluate("document.documentElement.scrollWidth")
        assert width <= tab.viewport_size["width"] + 1, width
        found = _violations(tab)
        assert not tab.problems, tab.problems
        _tall_screenshot(tab, f"speech_{size}.png")
    assert not found, found


def test_the_microphone_hears_a_real_recording(browser, server_url, tmp_path):
    """Chromium's fake capture device plays a WAV file (FSDD's 3_theo_2, at 16 kHz as a
    laptop records it) into st.audio_input; the page must answer from it, not refuse it."""
    samples = speech.recording(speech.find(3, "theo", 2))
    upsampled = np.repeat(samples, 2)  # 16 kHz (the doubling rings above 4 kHz: cut again)
    clip = np.concatenate([np.zeros(4000, np.int16), upsampled, np.zeros(16000, np.int16)])
    path = tmp_path / "digit.wav"
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16000)
        out.writeframes(clip.astype("<i2").tobytes())
    args = [*CHROMIUM_ARGS, "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-audio-capture={path}%noloop"]
    # a second Chromium from the package's Playwright (a second sync_playwright would clash
    # with its event loop), with the fake capture device playing the file
    chromium = browser.browser_type.launch(executable_path=chromium_path(), args=args)
    context = chromium.new_context(viewport={"width": 1400, "height": 1000},
                                   permissions=["microphone"])
    tab = context.new_page()
    try:
        _train_and_fill(tab, server_url)
        widget = tab.locator("[data-testid='stAudioInput']")
        widget.scroll_into_view_if_needed()
        widget.get_by_role("button", name="Record").click()
        # the clip lasts 1.8 s: stop once the widget's own clock has passed 2 s
        widget.get_by_text("00:02").wait_for(timeout=30_000)
        widget.get_by_role("button", name="Stop recording").click()
        tab.get_by_text("Your recording: what the").wait_for(timeout=120_000)
        settle(tab)
        assert tab.locator(EXCEPTION).count() == 0
        assert tab.get_by_text("This recording can't be used").count() == 0
        # the preset LSTM (deterministic per config) names theo's 3
        answer = tab.locator(".st-key-speech_voice_answer [data-testid='stMetricValue']")
        assert answer.first.inner_text().strip() == "3"
        _tall_screenshot(tab, "speech_microphone.png")
    finally:
        context.close()
        chromium.close()

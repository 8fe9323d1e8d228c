"""Every inside page opens on a digits run without an exception: Hidden states, Gates,
Gradients and Step through draw a spoken-digit example (the Hidden states page's sequence panel
raised ``no sequence panel for task 'digits'`` before ``charts.sequences`` knew the task)."""

from __future__ import annotations

import json

import pytest

from rnnviz.core.config import RunConfig
from rnnviz.core.train import train
from tests.apptest import open_app

INSIDE_PAGES = ("pages/hidden_states.py", "pages/gates.py", "pages/gradients.py",
                "pages/step_through.py")


@pytest.fixture(scope="module", params=["digits", "digits_speaker"])
def digits_run(request):
    # tiny: the pages' drawing is under test, not what the network learned
    return train(RunConfig(task=request.param, cell="lstm", seq_len=16, hidden_size=8,
                           steps=20, eval_every=10, probe_every=10, device="cpu"))


@pytest.mark.parametrize("page", INSIDE_PAGES)
def test_inside_page_opens_on_a_digits_run(digits_run, page):
    at = open_app(timeout=120)
    at.session_state["run"] = digits_run
    at.switch_page(page).run()
    assert not at.exception, [e.message for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    assert at.get("plotly_chart"), f"{page} drew no figure for a digits run"


def test_hidden_states_draws_the_recording_panel():
    """The Hidden states page's example panel is the recording's frames, said digit in its
    title."""
    run = train(RunConfig(task="digits", cell="lstm", seq_len=16, hidden_size=8, steps=20,
                          eval_every=10, probe_every=10, device="cpu"))
    at = open_app(timeout=120)
    at.session_state["run"] = run
    at.switch_page("pages/hidden_states.py").run()
    assert not at.exception
    titles = [json.loads(c.proto.spec)["layout"]["title"]["text"] for c in at.get("plotly_chart")]
    assert any(t.startswith("A recording of ") for t in titles), titles


def test_charts_re_exports_the_speech_builders():
    from rnnviz import charts
    from rnnviz.charts import speech

    for name in ("listening_figure", "confusion_figure", "digits_panel"):
        assert getattr(charts, name) is getattr(speech, name)


def test_the_task_field_says_it_covers_real_data():
    """The Task widget's help named only toy problems while two of its choices are recordings."""
    from rnnviz.core.config import FIELDS

    help_text = FIELDS["task"].help
    assert "digits" in FIELDS["task"].choices
    assert "real data" in help_text and "spoken digits" in help_text

"""A verdict for every finished run on the Playground, against chance, computed here from the
model's own validation score (AppTest), and the next step it offers applied in one click."""

from __future__ import annotations

import torch

from rnnviz import TASKS
from rnnviz.core.tasks import validation_set
from tests.apptest import open_app, press, set_widgets, wait_for_run


def _progress(run) -> float:
    """How far from chance to perfect, from the model's validation loss computed here."""
    x, y = validation_set(run.config)
    with torch.no_grad():
        mse = float(((run.model(x) - y) ** 2).mean())
    chance = float(((y - y.mean()) ** 2).mean())
    return (chance - mse) / chance


def _trained(**config):
    at = open_app()
    at.switch_page("pages/playground.py").run()
    set_widgets(at, **config)
    press(at, "Train")
    run = wait_for_run(at)
    at.run()
    return at, run


def test_a_vanilla_rnn_on_the_long_adding_problem_is_told_it_is_guessing_and_what_to_try():
    at, run = _trained(cell="rnn", seq_len=50, steps=300)
    progress = _progress(run)
    assert progress < 0.3  # independently: it did not learn
    errors = " ".join(w.value for w in at.warning)
    assert "no better than guessing" in errors
    assert (f"{progress:.0%} of the way" in errors or "no closer to perfect than chance"
            in errors)
    labels = [b.label for b in at.button if b.key and b.key.startswith("next_step_")]
    assert labels[0] == "Try: use an LSTM, which can keep its memory"
    next(b for b in at.button if b.key == "next_step_0").click().run()
    assert not at.exception
    lstm = wait_for_run(at)
    assert lstm.config == run.config.replace(cell="lstm")  # one click applied it


def test_the_default_lstm_is_told_it_learned():
    at, run = _trained(steps=1000)
    progress = _progress(run)
    assert progress >= 0.8
    assert any("It **learned** the task" in s.value and f"{progress:.0%}" in s.value
               for s in at.success)
    assert not [b for b in at.button if b.key and b.key.startswith("next_step_")]
    assert TASKS[run.config.task].metric_name == "MSE"

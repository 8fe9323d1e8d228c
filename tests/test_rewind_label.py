"""The "Training step" slider's label states a loss of the weights it shows (issue 19: "step
450, training loss 0.0313" was the loss of step 450's batch before its update, while the weights
at step 450 score 0.0202 on it). The truth is computed here: ``run.model_at(step)`` scored by
hand on the validation set (the adding problem's MSE), against the labels AppTest reads."""

from __future__ import annotations

import re

import pytest
import torch

from rnnviz.app import rewind
from rnnviz.core.tasks import validation_set
from tests.apptest import TINY, open_app, press, set_widgets, wait_for_run


def _labels(eval_every: int):
    at = open_app()
    at.switch_page("pages/playground.py").run()
    set_widgets(at, **{**TINY, "steps": 60, "probe_every": 20, "eval_every": eval_every})
    press(at, "Train")
    run = wait_for_run(at)
    at.switch_page("pages/hidden_states.py").run()
    assert not at.exception
    slider = next(s for s in at.get("select_slider") if s.key == rewind.STEP)
    assert run.snapshot_steps == [0, 20, 40, 60]
    return run, dict(zip(run.snapshot_steps, slider.options))


def _validation_loss_by_hand(run, step: int) -> float:
    x, y = validation_set(run.config)
    with torch.no_grad():
        return float(((run.model_at(step)(x) - y) ** 2).mean())


@pytest.mark.parametrize("eval_every", [10, 15])
def test_the_slider_states_the_loss_of_the_weights_it_shows(eval_every):
    run, labels = _labels(eval_every)
    assert labels[0] == "step 0, before training"
    stated = 0
    for step in (20, 40, 60):
        if step % eval_every and step != 60:  # no validation at this step: no number at all
            assert labels[step] == f"step {step}"
            continue
        found = re.fullmatch(rf"step {step}, validation loss ([-+.e\d]+)", labels[step])
        assert found, labels[step]
        # three significant digits: within half a unit of the third
        assert float(found[1]) == pytest.approx(_validation_loss_by_hand(run, step), rel=5e-3)
        stated += 1
    assert stated == (3 if eval_every == 10 else 1)
    assert not any("training loss" in label for label in labels.values())

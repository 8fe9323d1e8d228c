"""Sentences of the explanations, the step-through legend and lesson 4, checked against what
PyTorch and the trained model actually do (audit items 7, 13 and 14)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rnnviz import RunConfig, trace, train
from rnnviz.core.tasks import probe_batch
from rnnviz.studies.explain import TOPICS
from rnnviz.studies.lessons import ADDING_LSTM, LESSONS
from tests.oracles import forget_gates_by_hand, gru_gates_by_hand, rnn_profile_by_hand


def _text(topic: str) -> str:
    return " ".join(body for _, body in TOPICS[topic].blocks)


def _one_step(optimizer_class, weight_decay: float, penalty: float, **kwargs) -> torch.Tensor:
    """Two steps of ``optimizer_class`` on a fixed least-squares problem, with torch's
    ``weight_decay`` and/or an explicit ``penalty * ||w||^2`` added to the loss."""
    torch.manual_seed(0)
    w = torch.nn.Parameter(torch.randn(5))
    x, y = torch.randn(8, 5), torch.randn(8)
    optimizer = optimizer_class([w], lr=0.1, weight_decay=weight_decay, **kwargs)
    for _ in range(2):
        optimizer.zero_grad()
        loss = ((x @ w - y) ** 2).mean() + penalty * (w ** 2).sum()
        loss.backward()
        optimizer.step()
    return w.detach().clone()


def test_weight_decay_is_half_lambda_times_the_squared_norm_and_not_adamw():
    lam = 0.05
    # SGD (with the app's momentum): weight_decay=λ is training on L + (λ/2)‖θ‖²
    torch.testing.assert_close(_one_step(torch.optim.SGD, lam, 0.0, momentum=0.9),
                               _one_step(torch.optim.SGD, 0.0, lam / 2, momentum=0.9))
    assert not torch.allclose(_one_step(torch.optim.SGD, lam, 0.0, momentum=0.9),
                              _one_step(torch.optim.SGD, 0.0, lam, momentum=0.9))
    # Adam: the same L2 term inside the adaptive step, which is not AdamW's decoupled decay
    torch.testing.assert_close(_one_step(torch.optim.Adam, lam, 0.0),
                               _one_step(torch.optim.Adam, 0.0, lam / 2))
    assert not torch.allclose(_one_step(torch.optim.Adam, lam, 0.0),
                              _one_step(torch.optim.AdamW, lam, 0.0))
    text = _text("regularization")
    latex = [body for kind, body in TOPICS["regularization"].blocks if kind == "latex"]
    assert any(r"\frac{\lambda}{2} \|\theta\|^2" in body for body in latex)
    assert "(λ/2)‖θ‖²" in text and "AdamW" in text
    assert "adds λ‖θ‖² to the loss" not in text


def test_the_step_jacobian_legend_says_can_grow():
    """‖J_t‖ > 1 bounds the per-step factor; the gradient need not grow there. Find a step of a
    trained vanilla RNN where the norm is above 1 and the gradient still shrinks going back."""
    from rnnviz import charts
    from rnnviz.studies.stepthrough import backward_terms
    run = train(RunConfig(cell="rnn", task="adding", seq_len=20, hidden_size=16, steps=200,
                          recurrent_scale=1.2, seed=3))
    x, y = probe_batch(run.config)
    tr = trace(run.model, x, y)
    jac = tr.jacobian_norm[0]  # [B, T]: factor from step t back to t-1
    grad = tr.grad_h[0]  # [B, T]
    # steps t where ‖J_t‖ > 1 and yet the part carried back to t-1 is smaller than at t
    carried_down = (jac[:, 1:] > 1) & (grad[:, :-1] < grad[:, 1:])
    assert carried_down.any()
    figure = charts.backward_animation(backward_terms(run.model, x, y, tr, 0, 0), 5)
    names = [t.name for t in figure.data if t.name]
    legend = next(name for name in names if name.startswith("step Jacobian norm"))
    assert "can grow" in legend and "red > 1 grows" not in legend


@pytest.fixture(scope="module")
def lstm_run():
    return train(ADDING_LSTM)


def test_lesson_4_counts_the_rows_of_f_that_stay_open(lstm_run):
    lesson = LESSONS["lstm"]
    x, _ = probe_batch(ADDING_LSTM)
    forget = forget_gates_by_hand(lstm_run.model, x)[0]  # example 0, the Gates page's first
    open_units = np.flatnonzero((forget > 0.9).all(axis=0))
    text = lesson.look_at_for({"LSTM": lstm_run})
    if len(open_units) == 1:
        assert f"one row of example 0 stays above 0.9 at every step: unit {open_units[0]}" \
            in text
    else:
        assert f"{len(open_units)} rows of example 0 stay above 0.9" in text
    assert "A few rows stay dark red" not in text
    facts = " ".join(lesson.outcome({"LSTM": lstm_run}).facts)
    assert f"{len(open_units)} of the {ADDING_LSTM.hidden_size} units" in facts


def test_lesson_4_says_g_is_drawn_on_its_own_scale(lstm_run):
    from rnnviz import charts
    x, y = probe_batch(ADDING_LSTM)
    tr = trace(lstm_run.model, x, y)
    g = charts.gate_heatmap(tr.gates[0]["g"][0], "g", "lstm").data[0]
    f = charts.gate_heatmap(tr.gates[0]["f"][0], "f", "lstm").data[0]
    assert (g.zmin, g.zmax) == (-1.0, 1.0) and (f.zmin, f.zmax) == (0.0, 1.0)
    look_at = LESSONS["lstm"].look_at
    assert "every gate uses the same scale" not in look_at
    assert "g is a tanh, drawn on [−1, 1]" in look_at


def test_lesson_1_predicts_well_two_steps_in():
    """Lesson 1's question says the RNN "predicts well" two steps after seeing its first
    number: its error at t = 2 is near its average over the rest, far below t = 0's."""
    from rnnviz.core.tasks import validation_set
    from rnnviz.studies.lessons import SINE
    run = train(SINE)
    x, y = validation_set(SINE)
    with torch.no_grad():
        per_step = ((run.model(x) - y) ** 2).mean(dim=(0, 2)).numpy()
    assert per_step[2] < 1.5 * per_step[2:].mean() and per_step[0] > 3 * per_step[2]
    assert "Two steps later it predicts well" in LESSONS["recurrence"].question


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_the_gates_page_box_states_the_batchs_gate_numbers(cell):
    from tests.apptest import TINY, open_app, press, set_widgets, wait_for_run
    at = open_app()
    at.switch_page("pages/playground.py").run()
    set_widgets(at, **{**TINY, "cell": cell})
    press(at, "Train")
    run = wait_for_run(at)
    at.switch_page("pages/gates.py").run()
    assert not at.exception
    x, _ = probe_batch(run.config)  # the page opens on the probe batch
    box = " ".join(s.value for s in at.success)
    if cell == "lstm":
        forget = forget_gates_by_hand(run.model, x)
        assert f"mean is **{forget.mean():.2f}**" in box
        assert f"above 0.9 on **{(forget > 0.9).mean():.0%}** of unit-steps" in box
    else:
        z = gru_gates_by_hand(run.model.rnn, x)
        assert f"Mean $z_t$ over this batch is **{z.mean():.2f}**" in box


def test_lesson_2_says_how_far_this_runs_gradient_falls():
    import math

    from rnnviz.studies.lessons import ADDING_RNN_20, ADDING_RNN_50
    runs = {"T = 50": train(ADDING_RNN_50), "T = 20": train(ADDING_RNN_20)}
    import copy
    x, y = probe_batch(ADDING_RNN_50)
    model64 = copy.deepcopy(runs["T = 50"].model).double()
    profile = rnn_profile_by_hand(model64, x.double(), y.double())  # float64: no underflow
    orders = math.log10(profile[-1] / profile[0])
    text = LESSONS["vanishing"].look_at_for(runs)
    assert f"falls {orders:.0f} orders of magnitude from the last step back to the first" \
        in text
    assert "about ten orders of magnitude" not in text
    radius = float(torch.linalg.eigvals(runs["T = 50"].model.rnn.weight_hh_l0).abs().max())
    assert f"Its ρ is {radius:.2f}" in text


def _update_cosines_of_clipping(cfg: RunConfig, steps: int) -> tuple[list[float], list[float]]:
    """On every clipped step of ``cfg``'s training (SGD with momentum), the cosine between the
    clipped and the raw gradient, and between the momentum update it makes and the one the raw
    gradient would have made. Computed here with flat vectors, not with the engine's loop."""
    from rnnviz.core.models import build_model
    from rnnviz.core.tasks import TASKS
    from rnnviz.core.train import SGD_MOMENTUM, BatchStream
    model, task = build_model(cfg), TASKS[cfg.task]
    batches = BatchStream(cfg, torch.device("cpu"))
    buffer = None
    gradient_cos, update_cos = [], []
    model.train()
    for _ in range(steps):
        x, y = batches.next()
        model.zero_grad()
        task.loss(model(x), y).backward()
        raw = torch.cat([p.grad.flatten() for p in model.parameters()]).double()
        clipped = raw * min(1.0, cfg.clip / float(raw.norm()))
        previous = torch.zeros_like(raw) if buffer is None else buffer
        buffer = clipped if buffer is None else SGD_MOMENTUM * previous + clipped
        if float(raw.norm()) > cfg.clip:
            unclipped = raw if buffer is None else SGD_MOMENTUM * previous + raw
            gradient_cos.append(float(torch.nn.functional.cosine_similarity(clipped, raw, 0)))
            update_cos.append(float(torch.nn.functional.cosine_similarity(buffer, unclipped, 0)))
        with torch.no_grad():  # plain momentum SGD, as torch.optim.SGD(momentum=0.9) steps
            offset = 0
            for p in model.parameters():
                p -= cfg.lr * buffer[offset: offset + p.numel()].view_as(p).float()
                offset += p.numel()
    return gradient_cos, update_cos


def test_lesson_3_says_clipping_keeps_the_gradients_direction_not_the_updates():
    """Audit: "Clipping changes only the length of the update, never its direction" with SGD
    whose momentum is 0.9. Clipping keeps the *gradient's* direction; the momentum update mixes
    in earlier gradients, so its direction changes."""
    from rnnviz.studies.lessons import CLIPPED
    assert CLIPPED.optimizer == "sgd"
    gradient_cos, update_cos = _update_cosines_of_clipping(CLIPPED, 60)
    assert gradient_cos and min(gradient_cos) > 1 - 1e-9
    assert min(update_cos) < 0.99  # the update's direction did change on a clipped step
    lesson = LESSONS["exploding"]
    words = " ".join([lesson.question, lesson.look_at, _text("clipping"), _text("exploding"),
                      _text("optimizers")])
    assert "of the update, never its direction" not in words
    assert "gradient and keeps its direction" in lesson.question
    assert "plain SGD" not in words  # the optimizer has momentum

"""The Step-through engine: its numbers are the trace's numbers (forward) and the BPTT
gradients (backward), checked against PyTorch's own cell kernels as an independent oracle."""

import numpy as np
import pytest
import torch

from rnnviz.core.config import RunConfig
from rnnviz.core.tasks import probe_batch
from rnnviz.core.trace import trace
from rnnviz.core.train import train
from rnnviz.studies.stepthrough import (
    TraceMismatch,
    backward_equations,
    backward_terms,
    forward_equations,
    forward_terms,
    html_number,
)

# PyTorch's fused single-step kernels: the same equations, written by someone else
TORCH_CELL = {"rnn": torch.rnn_tanh_cell, "lstm": torch.lstm_cell, "gru": torch.gru_cell}


@pytest.fixture(scope="module", params=["rnn", "lstm", "gru"])
def traced(request):
    cfg = RunConfig(cell=request.param, task="copy", lag=2, seq_len=7, hidden_size=5,
                    num_layers=2, steps=25, eval_every=5, probe_every=5, batch_size=16,
                    device="cpu")
    run = train(cfg)
    x, y = probe_batch(cfg)
    return run, x, y, trace(run.model, x, y)


def _weights(model, layer):
    return [getattr(model.rnn, f"{name}_l{layer}").detach()
            for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]


@pytest.mark.parametrize("layer", [0, 1])
def test_forward_terms_are_the_trace_and_add_up(traced, layer):
    run, x, _, tr = traced
    example = 3
    terms = forward_terms(run.model, x, tr, layer, example)
    np.testing.assert_array_equal(terms.h, tr.hidden[layer][example])
    np.testing.assert_array_equal(terms.h_prev[1:], tr.hidden[layer][example][:-1])
    assert not terms.h_prev[0].any()
    for name, values in tr.gates[layer].items():
        np.testing.assert_array_equal(terms.gates[name], values[example])
    if run.config.cell == "lstm":
        np.testing.assert_array_equal(terms.c, tr.cell[layer][example])
    # one step of torch's own cell from the trace's state at t-1 gives the trace's state at t
    w_ih, w_hh, b_ih, b_hh = _weights(run.model, layer)
    inputs = torch.as_tensor(terms.x, dtype=torch.float32)
    h_prev = torch.as_tensor(terms.h_prev, dtype=torch.float32)
    if run.config.cell == "lstm":
        c_prev = torch.as_tensor(terms.c_prev, dtype=torch.float32)
        h, c = torch.lstm_cell(inputs, (h_prev, c_prev), w_ih, w_hh, b_ih, b_hh)
        np.testing.assert_allclose(c.numpy(), terms.c, atol=1e-5)
    else:
        h = TORCH_CELL[run.config.cell](inputs, h_prev, w_ih, w_hh, b_ih, b_hh)
    np.testing.assert_allclose(h.numpy(), terms.h, atol=1e-5)
    # every number of one unit at one step, and where each pre-activation comes from
    t, unit = 4, 2
    values = terms.unit_values(t, unit)
    assert values["h"] == pytest.approx(float(tr.hidden[layer][example, t, unit]))
    blocks = {"rnn": ["h"], "lstm": list("ifgo"), "gru": list("rzn")}[run.config.cell]
    for position, block in enumerate(blocks):
        row = position * terms.hidden_size + unit
        expected_in = float(w_ih[row] @ inputs[t] + b_ih[row])
        assert values[f"in_{block}"] == pytest.approx(expected_in, abs=1e-5)
        parts = terms.contributions(t, unit, block, run.model)
        total = parts["input"].sum() + parts["bias_input"] + parts["recurrent"].sum() + \
            parts["bias_recurrent"]
        assert total == pytest.approx(values[f"pre_{block}"], abs=1e-5)


def test_forward_terms_refuse_a_trace_that_does_not_add_up(traced):
    run, x, _, tr = traced
    name = next(iter(tr.gates[0]), None)
    spoiled = trace(run.model, x)
    if name is None:
        spoiled.hidden[0] = spoiled.hidden[0] + 0.05  # the RNN: its h_t is the activation
    else:
        spoiled.gates[0][name] = spoiled.gates[0][name] + 0.05
    with pytest.raises(TraceMismatch):
        forward_terms(run.model, x, spoiled, 0, 0)


@pytest.mark.parametrize("layer", [0, 1])
def test_backward_terms_are_the_trace_gradients(traced, layer):
    run, x, y, tr = traced
    example = 5
    back = backward_terms(run.model, x, y, tr, layer, example)
    np.testing.assert_array_equal(back.grad_norm, tr.grad_h[layer][example])
    np.testing.assert_array_equal(back.jacobian_norm, tr.jacobian_norm[layer][example])
    np.testing.assert_allclose(np.linalg.norm(back.grad_h, axis=-1), back.grad_norm,
                               rtol=1e-5, atol=1e-9)
    np.testing.assert_allclose(back.direct + back.carried, back.grad_h, atol=1e-12)
    assert back.loss == pytest.approx(float(tr.loss[example]))
    # the last step receives nothing from a later step
    assert np.abs(back.carried[-1]).max() < 1e-9
    if back.top_layer:  # copy task, lag 2: the first two steps have no target, so no readout
        assert not back.direct[:2].any() and np.abs(back.direct[2:]).sum() > 0


def test_carried_gradient_is_the_transposed_jacobian_of_torchs_cell(traced):
    """carried_t = J_{t+1}^T dL/ds_{t+1}, with J from autograd through torch's own cell, and
    its spectral norm is the trace's jacobian_norm[t+1]."""
    run, x, y, tr = traced
    if run.config.cell == "lstm":
        pytest.skip("the LSTM carries (h, c); covered by the norm check below")
    layer, example = 1, 2
    back = backward_terms(run.model, x, y, tr, layer, example)
    terms = forward_terms(run.model, x, tr, layer, example)
    w_ih, w_hh, b_ih, b_hh = _weights(run.model, layer)
    cell = TORCH_CELL[run.config.cell]
    for t in range(back.steps - 1):
        x_next = torch.as_tensor(terms.x[t + 1], dtype=torch.float32)
        h_t = torch.as_tensor(terms.h[t], dtype=torch.float32)
        jac = torch.autograd.functional.jacobian(
            lambda h, x_next=x_next: cell(x_next[None], h[None], w_ih, w_hh, b_ih, b_hh)[0],
            h_t).double()
        expected = jac.T.numpy() @ back.grad_h[t + 1]
        np.testing.assert_allclose(back.carried[t], expected, rtol=1e-4, atol=1e-7)
        assert torch.linalg.matrix_norm(jac, ord=2) == pytest.approx(
            back.jacobian_norm[t + 1], rel=1e-4)
        assert np.linalg.norm(back.carried[t]) <= back.carry_bound(t) * (1 + 1e-5)


def test_lstm_jacobian_norm_is_that_of_torchs_lstm_cell(traced):
    run, x, y, tr = traced
    if run.config.cell != "lstm":
        pytest.skip("LSTM only")
    layer, example, t = 0, 1, 3
    terms = forward_terms(run.model, x, tr, layer, example)
    back = backward_terms(run.model, x, y, tr, layer, example)
    w_ih, w_hh, b_ih, b_hh = _weights(run.model, layer)
    hidden = terms.hidden_size
    x_t = torch.as_tensor(terms.x[t], dtype=torch.float32)[None]

    def step(state):
        h, c = torch.lstm_cell(x_t, (state[None, :hidden], state[None, hidden:]),
                               w_ih, w_hh, b_ih, b_hh)
        return torch.cat([h[0], c[0]])

    state = torch.cat([torch.as_tensor(terms.h_prev[t]), torch.as_tensor(terms.c_prev[t])])
    jac = torch.autograd.functional.jacobian(step, state.float()).double()
    assert torch.linalg.matrix_norm(jac, ord=2) == pytest.approx(back.jacobian_norm[t],
                                                                 rel=1e-4)
    assert back.carry_bound(t) is None and back.grad_c is not None


def test_equations_show_the_trace_numbers(traced):
    run, x, y, tr = traced
    terms = forward_terms(run.model, x, tr, 0, 0)
    t, unit = 3, 1
    lines = [" ".join(parts) for parts in forward_equations(terms, t, unit)]
    h = float(tr.hidden[0][0, t, unit])
    assert lines[-1].startswith("h<sub>t</sub>")
    assert lines[-1].endswith(f"<b>{html_number(h)}</b>")  # ends in the model's h_t
    for name, values in tr.gates[0].items():  # each gate line ends in the trace's value
        line = next(row for row in lines if row.startswith(f"{name}<sub>t</sub>"))
        assert line.endswith(f"<b>{html_number(float(values[0, t, unit]), name in 'gn')}</b>")
    back = backward_terms(run.model, x, y, tr, 0, 0)
    text = " ".join(" ".join(parts) for parts in backward_equations(back, t))
    norm = html_number(float(tr.grad_h[0][0, t]), signed=False, significant=True)
    assert f"<b>{norm}</b>" in text and f"h<sub>{t}</sub>" in text


def test_html_numbers():
    assert html_number(0.5) == '<span style="color:#B2182B">0.500</span>'
    assert html_number(-0.25, paren=True) == '<span style="color:#2166AC">(−0.250)</span>'
    assert html_number(0.0012, signed=False, significant=True) == "1.20×10<sup>−3</sup>"
    assert html_number(4550.0, signed=False, significant=True) == "4.55×10<sup>3</sup>"
    assert html_number(0.0) == "0"


def test_equation_lines_fit_a_phone_and_keep_every_part():
    """Broken between parts, never inside one; a subscript counts less than a letter."""
    from rnnviz.charts.stepthrough_frames import EQUATION_UNITS, _units, equation_lines
    parts = ["r<sub>t</sub> = σ(W<sub>ir</sub>x<sub>t</sub> + b<sub>ir</sub>)",
             "= σ(0.123 + (−0.456))", "= σ(−0.333)", "= <b>0.417</b>"]
    lines = equation_lines(parts)
    assert "".join(lines).replace("\u00a0", "").replace(" ", "") == "".join(parts).replace(
        " ", "")
    assert all(_units(line) <= EQUATION_UNITS for line in lines)
    assert _units("x<sub>ab</sub>") == pytest.approx(1 + 0.7 * 2)
    assert equation_lines(parts, units=200) == [" ".join(parts)]


# ---------------------------------------------------------------- the animated figures


def _torch_walk(model, x, layer_input, cell):
    """Layer 0 run by torch's own single-step kernels from a zero state, written here
    independently of ``trace`` and of the study: every step's h, c and gate activations."""
    w_ih, w_hh, b_ih, b_hh = _weights(model, 0)
    hidden = w_hh.shape[1]
    h = torch.zeros(hidden)
    c = torch.zeros(hidden)
    out = {"h": [], "h_prev": [], "c": [], "gates": []}
    for x_t in torch.as_tensor(layer_input, dtype=torch.float32):
        out["h_prev"].append(h)
        if cell == "gru":  # r, z from the summed parts; n with r on the recurrent part
            gi, gh = w_ih @ x_t + b_ih, w_hh @ h + b_hh
            r, z = torch.sigmoid(gi[:hidden] + gh[:hidden]), torch.sigmoid(
                gi[hidden:2 * hidden] + gh[hidden:2 * hidden])
            n = torch.tanh(gi[2 * hidden:] + r * gh[2 * hidden:])
            out["gates"].append({"r": r, "z": z, "n": n})
        elif cell == "lstm":
            pre = (w_ih @ x_t + b_ih + w_hh @ h + b_hh).chunk(4)
            out["gates"].append(dict(zip("ifgo", (torch.sigmoid(pre[0]), torch.sigmoid(
                pre[1]), torch.tanh(pre[2]), torch.sigmoid(pre[3])))))
        if cell == "lstm":
            h, c = torch.lstm_cell(x_t[None], (h[None], c[None]), w_ih, w_hh, b_ih, b_hh)
            h, c = h[0], c[0]
            out["c"].append(c)
        else:
            h = TORCH_CELL[cell](x_t[None], h[None], w_ih, w_hh, b_ih, b_hh)[0]
        out["h"].append(h)
    return out


def _strip_z(frame_trace) -> np.ndarray:
    return np.asarray(frame_trace.z, dtype=np.float64).reshape(-1)


def test_forward_animation_has_every_steps_real_numbers(traced):
    """One frame per time step; frame k shows the study's terms at k, and those are torch's
    own cell run from a zero state (so the frames are the model's numbers, not the trace's
    alone)."""
    from rnnviz import charts
    run, x, _, tr = traced
    cell, example, unit, shown = run.config.cell, 4, 1, 2
    terms = forward_terms(run.model, x, tr, 0, example)
    np.testing.assert_allclose(terms.x, x[example].numpy())  # the copy task's own input
    fig = charts.forward_animation(terms, unit, shown)
    steps = run.config.seq_len
    assert [frame.name for frame in fig.frames] == [str(k) for k in range(steps)]
    oracle = _torch_walk(run.model, x, x[example].numpy(), cell)
    for k, frame in enumerate(fig.frames):
        rows = charts.forward_strip_rows(terms, k)
        assert len(frame.data) == len(rows) == len(frame.traces)
        strips = dict(zip([label for label, _, _ in rows], frame.data))
        ours = {label: _strip_z(trace) for label, trace in strips.items()}
        np.testing.assert_array_equal(ours["h<sub>t</sub>: the new hidden state"],
                                      terms.h[k])  # the study's numbers, exactly
        np.testing.assert_allclose(ours["h<sub>t</sub>: the new hidden state"],
                                   oracle["h"][k].numpy(), atol=1e-5)  # and torch's
        np.testing.assert_allclose(ours["h<sub>t−1</sub>: the state coming in"],
                                   oracle["h_prev"][k].numpy(), atol=1e-5)
        np.testing.assert_allclose(ours["x<sub>t</sub>: the input"], x[example, k].numpy())
        for name in terms.gates:
            label = next(label for label in ours if label.startswith(f"{name}<sub>t</sub>"))
            np.testing.assert_allclose(ours[label], oracle["gates"][k][name].numpy(),
                                       atol=1e-5)
        if cell == "lstm":
            np.testing.assert_allclose(ours["c<sub>t</sub>: the memory cell going out"],
                                       oracle["c"][k].numpy(), atol=1e-5)
        # the title, the first panel's head and the equations say step k; the equations
        # carry the unit's numbers at k, ending in torch's own h_t
        assert frame.layout.title.text.startswith(f"Walking forward through time, t = {k}")
        head, equations = frame.layout.annotations[:2]
        assert head.text.startswith(f"<b>t = {k}</b>")
        assert equations.text.startswith(f"<b>The equations at t = {k}, unit {unit}</b>")
        h = float(oracle["h"][k][unit])
        assert equations.text.endswith(f"<b>{html_number(h if abs(h) >= 5e-4 else 0.0)}</b>")
        outline = frame.layout.shapes[-2 if k < steps - 1 else -1]
        assert (outline.x0, outline.x1) == (k - 0.5, k + 0.5)  # step k outlined
    # the figure itself shows step `shown`, and its slider stands there
    strip_traces = fig.data[1:]
    np.testing.assert_array_equal(_strip_z(strip_traces[-1]), terms.h[shown])
    assert fig.layout.sliders[0].active == shown


def test_backward_animation_walks_back_with_the_gradients(traced):
    from rnnviz import charts
    run, x, y, tr = traced
    example, layer = 5, 1
    back = backward_terms(run.model, x, y, tr, layer, example)
    fig = charts.backward_animation(back)
    steps = run.config.seq_len
    assert [frame.name for frame in fig.frames] == [str(k) for k in range(steps)]
    for k, frame in enumerate(fig.frames):
        walked, now, bars, *strips = frame.data
        assert list(walked.x) == list(range(k, steps)) and list(now.x) == [k]
        np.testing.assert_allclose(now.y, [tr.grad_h[layer][example, k]], rtol=1e-6)
        widths = list(bars.marker.line.width)
        assert widths.index(3) == k + 1 if k + 1 < steps else max(widths) == 0
        np.testing.assert_array_equal(_strip_z(strips[0]), back.grad_h[k])
        np.testing.assert_allclose(np.linalg.norm(_strip_z(strips[0])),
                                   tr.grad_h[layer][example, k], rtol=1e-5)  # the trace's
        np.testing.assert_allclose(_strip_z(strips[1]) + _strip_z(strips[2]), back.grad_h[k])
        if run.config.cell == "lstm":
            np.testing.assert_array_equal(_strip_z(strips[3]), back.grad_c[k])
        assert frame.layout.annotations[0].text.startswith(f"<b>t = {k}</b>")
        assert frame.layout.title.text.startswith(f"Walking back through time, t = {k}")
        equations = frame.layout.annotations[2].text
        assert equations.startswith(f"<b>The step back to t = {k}</b>")
        norm = html_number(float(tr.grad_h[layer][example, k]), signed=False,
                           significant=True)
        assert f"‖∂L/∂h<sub>{k}</sub>‖ = ‖direct + carried‖" in equations
        assert f"= <b>{norm}</b>" in equations  # the trace's norm at k, maybe on its own line
    assert fig.layout.sliders[0].active == steps - 1  # the walk starts at the loss


@pytest.mark.parametrize("backward", [False, True])
def test_the_player_walks_at_reading_speed_in_the_browser(traced, backward):
    """Play is plotly's own animation (no server round trip): 100-200 ms a frame, from the
    current frame on, backward from the last step; Pause and every slider step jump at once."""
    from rnnviz import charts
    run, x, y, tr = traced
    if backward:
        fig = charts.backward_animation(backward_terms(run.model, x, y, tr, 0, 0), 3)
    else:
        fig = charts.forward_animation(forward_terms(run.model, x, tr, 0, 0), 0, 3)
    play, pause = fig.layout.updatemenus[0].buttons
    assert play.method == pause.method == "animate"
    frames, options = play.args
    assert frames is None  # all frames, in the order the direction says
    assert 100 <= options["frame"]["duration"] <= 200 and options["frame"]["redraw"]
    assert options["fromcurrent"] and options["transition"]["duration"] == 0
    assert options["direction"] == ("reverse" if backward else "forward")
    assert list(pause.args[0]) == [None] and pause.args[1]["mode"] == "immediate"
    steps = fig.layout.sliders[0].steps
    assert [list(step.args[0]) for step in steps] == [[str(k)] for k in range(run.config.seq_len)]
    assert all(step.method == "animate" and step.args[1]["frame"]["duration"] == 0
               for step in steps)
    assert fig.layout.sliders[0].active == 3
    fig.to_json()

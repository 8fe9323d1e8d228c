"""Step through: the unrolled network one time step at a time, forward and backward."""

from rnnviz.app.entry import via_app

via_app()


import time

import numpy as np
import pandas as pd
import streamlit as st

from rnnviz import charts
from rnnviz.app import rewind, state, views
from rnnviz.studies.stepthrough import (
    TraceMismatch,
    backward_equations,
    backward_terms,
    forward_equations,
    forward_terms,
)

FORWARD, BACKWARD = "Forward", "Backward"
T_KEY, PLAYING, MODE, LAST_TICK = "st_t", "st_playing", "st_mode", "_st_last_tick"
PLAY_EVERY_S = 0.9

st.title("Step through time")
st.markdown(
    "The network reads the sequence one step at a time. Pick a step and a unit to see every "
    "number of the cell's equations at that step, computed with the trained weights. "
    "**Backward** walks the other way: from the loss at the end back to the first step, "
    "the way back-propagation through time does, and shows how much gradient survives each "
    "step.")


def _steps() -> int:
    return st.session_state.get("_st_steps", 1)


def _set_t(value: int) -> None:
    st.session_state[T_KEY] = int(np.clip(value, 0, _steps() - 1))


def _on_mode_change() -> None:
    st.session_state[PLAYING] = False
    _set_t(_steps() - 1 if st.session_state.get(MODE) == BACKWARD else 0)


def _toggle_play() -> None:
    playing = not st.session_state.get(PLAYING, False)
    backward = st.session_state.get(MODE) == BACKWARD
    t = st.session_state.get(T_KEY, 0)
    if playing and t == (0 if backward else _steps() - 1):  # at the end: start over
        _set_t(_steps() - 1 if backward else 0)
    st.session_state[PLAYING] = playing
    st.session_state[LAST_TICK] = time.monotonic()  # the first tick comes one interval later


def controls_row(backward: bool) -> int:
    """Time slider, step buttons and play/pause; returns the step t."""
    steps = _steps()
    direction = -1 if backward else 1
    if T_KEY not in st.session_state or not 0 <= st.session_state[T_KEY] < steps:
        _set_t(steps - 1 if backward else 0)
    now = time.monotonic()
    due = now - st.session_state.get(LAST_TICK, 0.0) >= 0.8 * PLAY_EVERY_S
    if st.session_state.get(PLAYING) and due:  # a tick of the player: one step along the walk
        st.session_state[LAST_TICK] = now
        nxt = st.session_state[T_KEY] + direction
        if 0 <= nxt < steps:
            _set_t(nxt)
        else:
            st.session_state[PLAYING] = False
    row = st.columns([6, 1, 1, 1.3], vertical_alignment="bottom")
    t = row[0].slider("Time step t", 0, steps - 1, key=T_KEY,
                      help="Drag to any step. The walk goes left to right forward, right to "
                           "left backward.")
    row[1].button("", icon=":material/skip_previous:", key="st_prev", width="stretch",
                  help="One step back along the walk" if not backward else
                       "One step back along the walk (towards the loss, t + 1)",
                  on_click=_set_t, args=(t - direction,))
    row[2].button("", icon=":material/skip_next:", key="st_next", width="stretch",
                  help="One step along the walk" + (" (t − 1)" if backward else " (t + 1)"),
                  on_click=_set_t, args=(t + direction,))
    playing = st.session_state.get(PLAYING, False)
    row[3].button("Pause" if playing else "Play", key="st_play", width="stretch",
                  icon=":material/pause:" if playing else ":material/play_arrow:",
                  type="primary", on_click=_toggle_play,
                  help="Walk through the steps automatically.")
    return t


run = views.require_run()
if run is not None:
    run = rewind.rewind(run)
    cfg = run.config
    layers = cfg.num_layers > 1
    top = st.columns([1, 1.2, 0.9, 3.6] if layers else [1.2, 0.9, 3.6],
                     vertical_alignment="bottom")
    layer = views.pick_layer(run, top[0]) if layers else 0
    top = top[1:] if layers else top
    mode = top[0].segmented_control("Direction", [FORWARD, BACKWARD], default=FORWARD,
                                    key=MODE, on_change=_on_mode_change,
                                    help="Forward: the equations step by step. Backward: the "
                                         "gradient walking back from the loss.") or FORWARD
    example = views.pick_example(top[2])
    tr, x, y = state.run_trace(run)
    batch_id = state.example_batch_id()
    try:
        terms = state.cached(run, f"step-forward-{batch_id}-{layer}-{example}",
                             lambda: forward_terms(run.model, x, tr, layer, example))
        back = state.cached(run, f"step-backward-{batch_id}-{layer}-{example}",
                            lambda: backward_terms(run.model, x, y, tr, layer, example))
    except TraceMismatch as err:  # a bug, not the learner's doing: say so plainly
        st.error(f"The step-by-step numbers did not add up to the model's own ({err}); "
                 "please report this.", icon=":material/error:")
        st.stop()
    if not (np.isfinite(terms.h).all() and np.isfinite(back.grad_norm).all()):
        st.warning("Some activations or gradients of this example overflowed (they show as "
                   "nan or inf): the recurrence multiplied them by a factor above 1 at every "
                   "step. Lower the recurrent spectral radius or the learning rate, or use "
                   "tanh instead of relu.", icon=":material/warning:")
    st.session_state["_st_steps"] = terms.steps
    hidden_size = terms.hidden_size
    strongest = int(np.argmax(np.abs(terms.h).mean(axis=0)))
    unit = top[1].selectbox("Unit", list(range(hidden_size)), index=strongest, key="st_unit",
                            format_func=lambda j: f"unit {j}",
                            help="Whose numbers the equations show. Preselected: the unit "
                                 "with the largest mean |h_t| on this example; it is "
                                 "outlined in the strips.")
    bounded = cfg.cell != "rnn" or cfg.nonlinearity == "tanh"
    input_name = "x_t" if layer == 0 else f"h_t of layer {layer - 1}"

    def forward_view(t: int) -> None:
        views.chart(charts.step_overview(terms.h, t, backward=False, bounded=bounded),
                    "Each column is one copy of the cell, unrolled over time; each row a "
                    "hidden unit. The outlined column is the step below; the veiled steps "
                    "are still to come.", key="st_overview")
        st.markdown(f"**The equations at t = {t}, unit {unit}** (PyTorch's, with the "
                    "trained weights; the bold number is the model's own value"
                    + (f"; here x_t is the hidden state of layer {layer - 1}" if layer else "")
                    + ")")
        for line in forward_equations(terms, t, unit):
            st.latex(line)
        values = terms.unit_values(t, unit)
        table = pd.DataFrame({"term": list(values), "value": list(values.values())})
        with st.expander("All numbers of this unit at this step"):
            st.dataframe(table, hide_index=True, width="stretch",
                         column_config={"value": st.column_config.NumberColumn(format="%.5f")})
        rows = [(f"{input_name}: the input at step {t}", terms.x[t], "input"),
                (f"h_(t−1): the state coming in from step {t - 1}" if t else
                 "h_(t−1): the initial state (zeros)", terms.h_prev[t], "state")]
        words = charts.STEP_GATE_WORDS
        for name, values in terms.gates.items():
            rows.append((f"{name}_t: {words[name]}", values[t],
                         "state" if name in ("g", "n") else "gate"))
        if cfg.cell == "rnn":
            rows.append(("pre-activation W_ih x_t + b_ih + W_hh h_(t−1) + b_hh",
                         terms.pre["h"][t], "state"))
        if terms.c is not None:
            rows.append(("c_(t−1): the memory cell coming in", terms.c_prev[t], "state"))
            rows.append(("c_t: the memory cell going out", terms.c[t], "state"))
        rows.append((f"h_t: the new hidden state at step {t}", terms.h[t], "state"))
        left, right = st.columns([1, 1], gap="medium")
        with left:
            views.chart(charts.step_strips(rows, unit, f"Every vector at step t = {t}"),
                        "Each strip is one vector at this step, one cell per unit (the input "
                        "per component). Red positive, blue negative; gates are white at 0.5. "
                        f"Unit {unit} is outlined.", key="st_strips")
        with right:
            blocks = list(terms.pre)
            block = st.segmented_control("Where does a pre-activation come from?", blocks,
                                         default=blocks[0], key="st_block") or blocks[0]
            views.chart(charts.contributions_chart(
                terms.contributions(t, unit, block, run.model), block, unit, t,
                "x_t" if layer == 0 else "h_below"),
                "Each bar is one weight times one input component (W·x_t) or one unit of the "
                "previous state (W·h_(t−1)), plus the two biases: together they make the "
                "number inside the sigmoid/tanh of the equation above"
                + (" (for n the recurrent terms are already multiplied by r_t)."
                   if block == "n" else "."), key="st_contrib")

    def backward_view(t: int) -> None:
        views.chart(charts.step_overview(terms.h, t, backward=True, bounded=bounded),
                    "The same unrolled network, walked from the end (where the loss is) "
                    "back towards the start. The veiled steps have not been reached yet.",
                    key="st_overview")
        views.chart(charts.backward_chart(back, t),
                    "Top: how much gradient reaches each step (log scale); solid from the "
                    "end back to t, the walk so far. Dotted: the part arriving there "
                    "directly; dashed: the part carried back from the next step. Bottom: the "
                    "spectral norm of each step's Jacobian; the outlined bar is the factor "
                    "that just carried the gradient from t + 1 back to t. Bars below 1 "
                    "shrink the gradient, above 1 they can grow it.", key="st_backward")
        st.markdown(f"**The step back to t = {t}** (norms measured on example {example}; "
                    f"its loss is {back.loss:.4g})")
        for line in backward_equations(back, t):
            st.latex(line)
        bound_words = ("‖J‖ is the most one step can stretch a gradient; the real change is "
                       "usually smaller, because the gradient is rarely lined up with the "
                       "direction J stretches most.")
        if cfg.cell == "lstm":
            st.caption("For the LSTM the step carries the pair (h, c), so its Jacobian is "
                       "2H × 2H, and part of the gradient travels along the memory cell c_t, "
                       "where the forget gate f multiplies it at each step. " + bound_words)
        else:
            st.caption("The carried part is the gradient at t + 1 multiplied by the transposed "
                       "step Jacobian, so it is at most ‖J‖ times as large: a long product of "
                       "factors below 1 vanishes, above 1 it can explode. " + bound_words)
        left, right = st.columns([1, 1], gap="medium")
        with left:
            rows = [(f"∂L/∂h_t at t = {t}", back.grad_h[t], "gradient"),
                    ("arriving directly", back.direct[t], "gradient"),
                    ("carried back from t + 1", back.carried[t], "gradient")]
            if back.grad_c is not None:
                rows.append((f"∂L/∂c_t at t = {t}", back.grad_c[t], "gradient"))
            views.chart(charts.step_strips(rows, unit, "The gradient vector, per unit"),
                        "The gradient that reaches each unit's h_t at this step, and its two "
                        "parts (they add up). One colour scale for all strips.",
                        key="st_grad_strips")
        with right:
            columns = ["step t", "‖∂L/∂h_t‖", "direct part", "carried from t+1",
                       "‖J_t‖ (t → t−1)"]
            table = pd.DataFrame({
                columns[0]: np.arange(back.steps), columns[1]: back.grad_norm,
                columns[2]: np.linalg.norm(back.direct, axis=-1),
                columns[3]: np.linalg.norm(back.carried, axis=-1),
                columns[4]: back.jacobian_norm})
            st.markdown("**Every step's numbers**")
            st.dataframe(table, hide_index=True, width="stretch",
                         column_config={c: st.column_config.NumberColumn(format="%.3e")
                                        for c in columns[1:]})

    def step_view(playing_when_drawn: bool) -> None:
        backward = (st.session_state.get(MODE) or FORWARD) == BACKWARD
        t = controls_row(backward)
        if st.session_state.get(PLAYING, False) != playing_when_drawn:
            st.rerun()  # play/pause changes the timer, which only a full rerun can set
        (backward_view if backward else forward_view)(t)

    playing = st.session_state.get(PLAYING, False)
    st.fragment(step_view, run_every=PLAY_EVERY_S if playing else None)(playing)

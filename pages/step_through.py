"""Step through: the unrolled network one time step at a time, forward and backward."""

from rnnviz.app.entry import via_app

via_app()


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
T_KEY, MODE = "st_t", "st_mode"
PER_SECOND = round(1000 / charts.FRAME_MS)

st.title("Step through time")
st.markdown(
    "The network reads the sequence one step at a time. Press **▶ Play** on the picture to "
    f"watch it walk through every step (about {PER_SECOND} a second, in your browser), or pick "
    "a step and a unit to see every number of the cell's equations at that step, computed "
    "with the trained weights. **Backward** walks the other way: from the loss at the end back "
    "to the first step, the way back-propagation through time does, and shows how much "
    "gradient survives each step.")


def _steps() -> int:
    return st.session_state.get("_st_steps", 1)


def _set_t(value: int) -> None:
    st.session_state[T_KEY] = int(np.clip(value, 0, _steps() - 1))


def _on_mode_change() -> None:
    _set_t(_steps() - 1 if st.session_state.get(MODE) == BACKWARD else 0)


def step_picker(backward: bool) -> int:
    """The step whose equations are shown: a slider and one step along the walk either way."""
    steps = _steps()
    direction = -1 if backward else 1
    if T_KEY not in st.session_state or not 0 <= st.session_state[T_KEY] < steps:
        _set_t(steps - 1 if backward else 0)
    row = st.columns([8, 1, 1], vertical_alignment="bottom")
    t = row[0].slider("Step for the equations below, t", 0, steps - 1, key=T_KEY,
                      help="The picture above shows this step until you play or slide it. "
                           "The walk goes left to right forward, right to left backward.")
    row[1].button("", icon=":material/skip_previous:", key="st_prev", width="stretch",
                  help="One step back along the walk" if not backward else
                       "One step back along the walk (towards the loss, t + 1)",
                  on_click=_set_t, args=(t - direction,))
    row[2].button("", icon=":material/skip_next:", key="st_next", width="stretch",
                  help="One step along the walk" + (" (t − 1)" if backward else " (t + 1)"),
                  on_click=_set_t, args=(t + direction,))
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
    try:  # every step's numbers, once per run, batch, layer and example
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
    strongest = int(np.argmax(np.abs(terms.h).mean(axis=0)))
    unit = top[1].selectbox("Unit", list(range(terms.hidden_size)), index=strongest,
                            key="st_unit", format_func=lambda j: f"unit {j}",
                            help="Whose numbers the equations show. Preselected: the unit "
                                 "with the largest mean $|h_t|$ on this example; it is "
                                 "outlined in the strips.")
    bounded = cfg.cell != "rnn" or cfg.nonlinearity == "tanh"
    backward = mode == BACKWARD
    player = (f"**▶ Play** walks through all {terms.steps} steps in your browser, about "
              f"{PER_SECOND} a second (the numbers of every step came with the picture); the "
              "slider beside it jumps to any step.")

    def forward_view(t: int) -> None:
        input_name = "x<sub>t</sub>" if layer == 0 else f"h<sub>t</sub> of layer {layer - 1}"
        with picture:
            views.chart(charts.forward_animation(terms, unit, t, bounded, input_name),
                        f"{player} Left: each column is one copy of the cell, unrolled over "
                        "time; each row a hidden unit; the outlined column is step $t$, the "
                        "veiled steps are still to come. Right: every vector at that step, one "
                        "cell per unit (the input per component). Red positive, blue negative; "
                        f"gates are white at 0.5. Unit {unit} is outlined.", key="st_forward")
        st.markdown(f"**The equations at $t = {t}$, unit {unit}** (PyTorch's, with the "
                    "trained weights; the bold number is the model's own value"
                    + (f"; here $x_t$ is the hidden state of layer {layer - 1}" if layer
                       else "") + ")")
        for line in forward_equations(terms, t, unit):
            st.latex(line)
        values = terms.unit_values(t, unit)
        table = pd.DataFrame({"term": list(values), "value": list(values.values())})
        with st.expander("All numbers of this unit at this step"):
            st.dataframe(table, hide_index=True, width="stretch",
                         column_config={"value": st.column_config.NumberColumn(format="%.5f")})
        blocks = list(terms.pre)
        block = st.segmented_control("Where does a pre-activation come from?", blocks,
                                     default=blocks[0], key="st_block") or blocks[0]
        views.chart(charts.contributions_chart(
            terms.contributions(t, unit, block, run.model), block, unit, t,
            "x_t" if layer == 0 else "h_below"),
            r"Each bar is one weight times one input component ($W \cdot x_t$) or one unit "
            r"of the previous state ($W \cdot h_{t-1}$), plus the two biases: together they "
            "make the number inside the sigmoid/tanh of the equation above"
            + (r" (for $n$ the recurrent terms are already multiplied by $r_t$)."
               if block == "n" else "."), key="st_contrib")

    def backward_view(t: int) -> None:
        with picture:
            views.chart(
                charts.backward_animation(back, t),
                f"{player} It starts at the end, where the loss is. Top left: how much "
                "gradient reaches each step (log scale), solid from the end back to $t$, the "
                "walk so far; dotted: the part arriving there directly; dashed: the part "
                "carried back from the next step. Bottom left: the spectral norm of each "
                "step's Jacobian; the outlined bar is the factor that carries the gradient "
                "from $t + 1$ back to $t$. Bars below 1 shrink the gradient, above 1 they can "
                "grow it. Right: the gradient that reaches each unit at step $t$, and its two "
                "parts (they add up).", key="st_backward")
        st.markdown(f"**The step back to $t = {t}$** (norms measured on example {example}; "
                    f"its loss is {back.loss:.4g})")
        for line in backward_equations(back, t):
            st.latex(line)
        bound_words = (r"$\|J\|$ is the most one step can stretch a gradient; the real change "
                       "is usually smaller, because the gradient is rarely lined up with the "
                       "direction $J$ stretches most.")
        if cfg.cell == "lstm":
            st.caption(r"For the LSTM the step carries the pair $(h, c)$, so its Jacobian is "
                       r"$2H \times 2H$, and part of the gradient travels along the memory "
                       "cell $c_t$, where the forget gate $f$ multiplies it at each step. "
                       + bound_words)
        else:
            st.caption("The carried part is the gradient at $t + 1$ multiplied by the "
                       r"transposed step Jacobian, so it is at most $\|J\|$ times as large: a "
                       "long product of factors below 1 vanishes, above 1 it can explode. "
                       + bound_words)
        columns = ["step t", "‖∂L/∂h_t‖", "direct part", "carried from t+1",
                   "‖J_t‖ (t → t−1)"]
        table = pd.DataFrame({
            columns[0]: np.arange(back.steps), columns[1]: back.grad_norm,
            columns[2]: np.linalg.norm(back.direct, axis=-1),
            columns[3]: np.linalg.norm(back.carried, axis=-1),
            columns[4]: back.jacobian_norm})
        with st.expander("Every step's numbers"):
            st.dataframe(table, hide_index=True, width="stretch",
                         column_config={c: st.column_config.NumberColumn(format="%.3e")
                                        for c in columns[1:]})

    picture = st.container()  # the animated picture, above the step picker, at its step
    t = step_picker(backward)
    (backward_view if backward else forward_view)(t)

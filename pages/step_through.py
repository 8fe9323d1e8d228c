"""Step through: the unrolled network one time step at a time, forward and backward."""

from rnnviz.app.entry import via_app

via_app()


import numpy as np
import pandas as pd
import streamlit as st

from rnnviz import charts
from rnnviz.app import rewind, state, views
from rnnviz.studies.stepthrough import TraceMismatch, backward_terms, forward_terms

FORWARD, BACKWARD = "Forward", "Backward"
MODE = "st_mode"
PER_SECOND = round(1000 / charts.FRAME_MS)

st.title("Step through time")
st.markdown(
    "The network reads the sequence one step at a time. Press **▶ Play** on the picture to "
    f"watch it walk through every step (about {PER_SECOND} a second, in your browser), or drag "
    "its slider to any step: the title, the pictures and the cell's equations with every "
    "number (computed with the trained weights) all move together. **Backward** walks the "
    "other way: from the loss at the end back to the first step, the way back-propagation "
    "through time does, and shows how much gradient survives each step.")


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
                                    key=MODE,
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
    strongest = int(np.argmax(np.abs(terms.h).mean(axis=0)))
    unit = top[1].selectbox("Unit", list(range(terms.hidden_size)), index=strongest,
                            key="st_unit", format_func=lambda j: f"unit {j}",
                            help="Whose numbers the equations show. Preselected: the unit "
                                 "with the largest mean $|h_t|$ on this example; it is "
                                 "outlined in the strips.")
    bounded = cfg.cell != "rnn" or cfg.nonlinearity == "tanh"
    player = (f"**▶ Play** walks through all {terms.steps} steps in your browser, about "
              f"{PER_SECOND} a second (the numbers of every step came with the picture); the "
              "slider under it jumps to any step. The title, the pictures and the equations "
              "always show the same step.")
    # the figures say the training step themselves (in every frame's title), not views.chart
    trained_at = rewind.step_label()

    def forward_view() -> None:
        blocks = list(terms.pre)
        block = st.segmented_control(
            "Where does a pre-activation come from? (the bars at the bottom)", blocks,
            default=blocks[0], key="st_block") or blocks[0]
        input_name = "x<sub>t</sub>" if layer == 0 else f"h<sub>t</sub> of layer {layer - 1}"
        contributions = state.cached(
            run, f"step-contrib-{batch_id}-{layer}-{example}-{unit}-{block}",
            lambda: terms.contributions_at_every_step(unit, block, run.model))
        views.chart(charts.forward_animation(terms, unit, 0, bounded, input_name,
                                             contributions=contributions, block=block,
                                             subtitle=trained_at),
                    f"{player} Top: each column is one copy of the cell, unrolled over "
                    "time; each row a hidden unit; the outlined column is step $t$, the "
                    "veiled steps are still to come. Then the cell's equations (PyTorch's) at "
                    f"$t$ with unit {unit}'s numbers, and every vector at that step, one cell "
                    "per unit (the input per component). Red positive, blue negative; gates "
                    f"are white at 0.5. Unit {unit} is outlined. At the bottom each bar is one "
                    r"weight times one input component ($W \cdot x_t$) or one unit of the "
                    r"previous state ($W \cdot h_{t-1}$), plus the two biases: together they "
                    f"make the number inside the sigmoid/tanh of ${block}_t$"
                    + (r" (for $n$ the recurrent terms are already multiplied by $r_t$)."
                       if block == "n" else "."), key="st_forward", of_step=False)
        values = [terms.unit_values(k, unit) for k in range(terms.steps)]
        table = pd.DataFrame({"step t": range(terms.steps),
                              **{name: [v[name] for v in values] for name in values[0]}})
        with st.expander(f"All numbers of unit {unit} at every step"):
            st.dataframe(table, hide_index=True, width="stretch",
                         column_config={name: st.column_config.NumberColumn(format="%.5f")
                                        for name in values[0]})

    def backward_view() -> None:
        views.chart(
            charts.backward_animation(back, subtitle=trained_at),
            f"{player} It starts at the end, where the loss is (example {example}'s loss is "
            f"{back.loss:.4g}). Top: how much gradient reaches each step (log scale), solid "
            "from the end back to $t$, the walk so far; dotted: the part arriving there "
            "directly; dashed: the part carried back from the next step. Then the spectral "
            "norm of each step's Jacobian; the outlined bar is the factor that carries the "
            "gradient from $t + 1$ back to $t$. Bars below 1 shrink the gradient, above 1 "
            "they can grow it. Then the step back as equations with the measured norms, and "
            "the gradient that reaches each unit at step $t$, and its two parts (they add "
            "up).", key="st_backward", of_step=False)
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

    (backward_view if mode == BACKWARD else forward_view)()

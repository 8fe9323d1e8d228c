"""Gates: LSTM input/forget/output gates and candidate, GRU reset/update gates and candidate."""

from rnnviz.app.entry import via_app

via_app()


import functools

import streamlit as st

from rnnviz import charts
from rnnviz.app import rewind, state, views
from rnnviz.core.analysis import gate_saturation

EQUATIONS = {
    "i": r"i_t = \sigma(W_{ii} x_t + b_{ii} + W_{hi} h_{t-1} + b_{hi})",
    "f": r"f_t = \sigma(W_{if} x_t + b_{if} + W_{hf} h_{t-1} + b_{hf})",
    "g": r"g_t = \tanh(W_{ig} x_t + b_{ig} + W_{hg} h_{t-1} + b_{hg})",
    "o": r"o_t = \sigma(W_{io} x_t + b_{io} + W_{ho} h_{t-1} + b_{ho})",
    "r": r"r_t = \sigma(W_{ir} x_t + b_{ir} + W_{hr} h_{t-1} + b_{hr})",
    "z": r"z_t = \sigma(W_{iz} x_t + b_{iz} + W_{hz} h_{t-1} + b_{hz})",
    "n": r"n_t = \tanh(W_{in} x_t + b_{in} + r_t \odot (W_{hn} h_{t-1} + b_{hn}))",
}
STATE_UPDATE = {
    "lstm": r"c_t = f_t \odot c_{t-1} + i_t \odot g_t \qquad h_t = o_t \odot \tanh(c_t)",
    "gru": r"h_t = (1 - z_t) \odot n_t + z_t \odot h_{t-1}",
}
MEANING = {
    "i": "how much of the new candidate $g_t$ is written into the cell",
    "f": "how much of the old cell state $c_{t-1}$ is kept (1 = keep everything)",
    "g": "the candidate value to write (tanh, between -1 and 1)",
    "o": "how much of the cell is shown as the hidden state $h_t$",
    "r": "how much of the old state is used to compute the candidate",
    "z": "how much of the old state is kept (1 = keep $h_{t-1}$ unchanged)",
    "n": "the candidate new state (tanh, between -1 and 1)",
}

st.title("Gates")
run = views.require_run()
if run is not None and run.config.cell == "rnn":
    st.info("A vanilla RNN has no gates: at every step it overwrites its whole state with "
            r"$\tanh(W_{ih} x_t + W_{hh} h_{t-1} + b)$. Nothing decides what to keep, so old "
            "information survives only as long as repeated multiplication by $W_{hh}$ and "
            "squashing by tanh leave it intact. LSTM and GRU add gates, learned switches "
            "between 0 and 1, that let a unit keep its value unchanged for many steps. Train an "
            "LSTM or GRU to see them.", icon=":material/info:")
    st.latex(r"h_t = \tanh(W_{ih} x_t + b_{ih} + W_{hh} h_{t-1} + b_{hh})")
elif run is not None:
    cell = run.config.cell
    st.markdown("Gates are sigmoids: numbers between 0 (closed) and 1 (open), one per unit and "
                "step, computed from the input and the previous hidden state. The equations "
                "are PyTorch's, with the same names.")

    def figures(run, batch_id: int, layer: int, example: int, interrupted=None) -> dict:
        """Every chart of one training step, built once per step, batch, layer and example
        (``state.figures``): ``rewind`` builds the next steps' ahead (``warm``)."""
        tr, _, _ = state.run_trace(run, batch_id, jacobians=False)
        gates = {name: values[example] for name, values in tr.gates[layer].items()}
        builders = {name: functools.partial(charts.gate_heatmap, values, name, cell)
                    for name, values in gates.items()}
        builders["means"] = functools.partial(charts.gate_means, gates, cell)
        builders["saturation"] = lambda: charts.saturation_scatter(
            {name: gate_saturation(values) for name, values in tr.gates[layer].items()
             if name not in charts.TANH_GATES})
        return state.figures(run, f"gates-figures-{batch_id}-{layer}-{example}", builders,
                             interrupted)

    shown_picks: dict = {}  # the layer and example drawn last: what ``warm`` builds ahead

    def warm(run, batch_id: int) -> None:
        if shown_picks:
            figures(run, batch_id, shown_picks["layer"], shown_picks["example"],
                    interrupted=rewind.frame_in_progress)

    def draw(run) -> None:
        """The charts of one training step (the slider reruns only them: ``rewind``)."""
        layer, example, tr, _, _ = views.inspection_controls(run, jacobians=False)
        shown_picks.update(layer=layer, example=example)
        drawn = figures(run, state.example_batch_id(), layer, example)
        # the heatmaps first, right under the slider that drives them; each gate's meaning
        # and equation under its heatmap
        columns = st.columns(2, gap="medium")
        for index, name in enumerate(tr.gates[layer]):
            with columns[index % 2]:
                views.chart(drawn[name], key=f"gate_{name}")
                st.markdown(f"**{name}**: {MEANING[name]}")
                st.latex(EQUATIONS[name])
        st.latex(STATE_UPDATE[cell])
        memory_note(cell, tr.gates[layer])
        views.chart(drawn["means"],
                    "The average over units of each gate at every step: a quick look at when "
                    "the cell reads, keeps and forgets.", key="gate_means")
        views.chart(drawn["saturation"],
                    "Each dot is a unit, or a number of units at one spot (the number on it): "
                    "how often its gate is almost closed (< 0.1, right) or "
                    "almost open (> 0.9, up), over every step of the batch (Karpathy, Johnson & "
                    "Fei-Fei 2015). Dots near the top-left axis are units that almost always "
                    "let information through; near the diagonal, gates that act as binary "
                    "switches.", key="saturation")

    def memory_note(cell: str, layer_gates: dict) -> None:
        """The batch's memory gate in two numbers, and what they mean for the gradient."""
        if cell == "lstm":
            forget = layer_gates["f"]
            st.success(
                f"**Forget gate and memory.** Over this batch the forget gate's mean is "
                f"**{float(forget.mean()):.2f}** and it is above 0.9 on "
                f"**{float((forget > 0.9).mean()):.0%}** of unit-steps. Where $f_t$ "
                "is near 1 the cell state is copied forward almost unchanged, and so is the "
                r"gradient flowing back along it: $c_t = f_t \odot c_{t-1} + \dots$ has Jacobian "
                "$f_t$. That "
                "is how an LSTM remembers across long gaps (look for the red rows in the f "
                "heatmap and compare them with the cell state on the Hidden states page).",
                icon=":material/memory:")
        else:
            z = layer_gates["z"]
            st.success(f"**Update gate and memory.** Mean $z_t$ over this batch is "
                       f"**{float(z.mean()):.2f}**; where $z_t$ is near 1 a unit keeps "
                       "$h_{t-1}$ unchanged and the gradient passes through untouched.",
                       icon=":material/memory:")

    rewind.rewind(run, draw=draw, warm=warm, jacobians=False)

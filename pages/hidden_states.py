"""Hidden states: input, target and prediction over time above the memory h_t of every unit."""

from rnnviz.app.entry import via_app

via_app()


import numpy as np
import streamlit as st

from rnnviz import charts
from rnnviz.app import rewind, state, views
from rnnviz.core.analysis import pca

st.title("Hidden states")
st.markdown("The hidden state $h_t$ is everything the network remembers after reading step t. "
            "Each row below is one unit; each column one time step.")


def draw(run) -> None:
    """Everything of one training step (the slider reruns only this: ``rewind``)."""
    cfg = run.config
    layer, example, tr, x, y = views.inspection_controls(run, jacobians=False)
    views.chart(charts.sequence_panel(run.task, x[example].numpy(), y[example].numpy(),
                                      tr.prediction[example]),
                "What the network saw, what it should answer and what it answered, on the "
                "same time axis as the heatmap below.", key="sequence")
    hidden = tr.hidden[layer][example]
    bounded = cfg.cell != "rnn" or cfg.nonlinearity == "tanh"
    views.chart(charts.state_heatmap(hidden, f"Hidden state h_t, layer {layer}",
                                     (-1, 1) if bounded else None),
                "Red is positive, blue negative, white zero. Look for units that switch when "
                "something important arrives and then hold their value: that is memory."
                + ("" if bounded else " (relu units are unbounded, so the colour range is "
                   "fitted to the data.)"), key="hidden_heatmap")

    st.subheader("Selected units over time")
    strongest = np.argsort(-np.abs(hidden).mean(axis=0))[:4].tolist()
    units = st.multiselect("Units", list(range(cfg.hidden_size)), default=sorted(strongest),
                           key="units", help="Preselected: the four most active units.")
    if units:
        views.chart(charts.hidden_brush_chart(hidden, units),
                    "Drag across the top strip to zoom the lines below into a time range.",
                    key="unit_brush")

    if tr.cell:
        views.chart(charts.state_heatmap(tr.cell[layer][example],
                                         f"LSTM cell state c_t, layer {layer}", None,
                                         colorbar_title="c_t"),
                    "The LSTM's long-term memory. Unlike $h_t$ it is not squashed into [-1, 1]: "
                    "a unit whose forget gate stays near 1 can carry a value across the whole "
                    "sequence almost unchanged.", key="cell_heatmap")

    if not np.isfinite(tr.hidden[layer]).all():
        st.warning("Some hidden states are not finite numbers (the activations overflowed), so "
                   "there is no state-space picture for this model. Lower the learning rate or "
                   "the recurrent spectral radius.")
        return
    st.subheader("The path through state space")
    dims = st.segmented_control("View", [2, 3], default=2, key="pca_dims",
                                format_func=lambda d: f"{d}D") or 2
    projection = state.cached(run, f"pca-{state.example_batch_id()}-{layer}",
                              lambda: pca(tr.hidden[layer], components=3))
    views.chart(charts.pca_trajectory(projection.projected[example], projection.explained,
                                      dims=dims),
                "Each point is the whole hidden state at one step, projected on the directions "
                "along which the states of this batch vary most (PCA). Colour is time: follow "
                "how the memory moves as the sequence is read.", key="pca")


run = views.require_run()
if run is not None:
    rewind.rewind(run, draw=draw, jacobians=False)

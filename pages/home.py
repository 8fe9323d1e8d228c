"""Home: a model trained on this server, one-click experiments, and the recurrent loop drawn
folded and unrolled."""

from rnnviz.app.entry import via_app

via_app()


import streamlit as st

from rnnviz.app import home_ui, state
from rnnviz.core.config import RunConfig
from rnnviz.studies.lessons import LESSONS
from rnnviz.studies.recipes import EXPLODE, LONG_LSTM, RESCUE, THINGS_TO_TRY

home_ui.follow_click()
things = {thing.key: thing for thing in THINGS_TO_TRY}

st.title("rnnviz: look inside a recurrent network while it learns")
st.markdown(
    "A recurrent network reads a sequence one step at a time and carries a **hidden state** "
    "$h_t$ from each step to the next: its memory. Here you train real vanilla RNNs, LSTMs and "
    "GRUs on small sequence tasks, on this server, and look at what happens inside them. "
    "Every number is measured from the model you trained.")
home_ui.working_model()

left, right = st.columns(2, gap="large")
with right:
    st.subheader("Things to try")
    st.markdown(f"Adding problem at {LONG_LSTM.seq_len} steps: a vanilla RNN stays near "
                "chance, an LSTM solves it. The Gradients page shows why.")
    with st.container(horizontal=True):
        home_ui.try_button(things["long_rnn"])
        home_ui.try_button(things["long_lstm"])
    st.markdown(
        f"A vanilla RNN forecasting a wave, its recurrent spectral radius set to "
        f"{EXPLODE.recurrent_scale:g}, SGD with momentum at learning rate {EXPLODE.lr:g} and "
        f"clipping off: the run explodes. With clipping at {RESCUE.clip:g} the same network "
        "trains.")
    with st.container(horizontal=True):
        home_ui.try_button(things["explode"])
        home_ui.try_button(things["rescue"])
    st.markdown("Copy task: raise the lag until a cell can no longer remember. Text task: "
                "give the network a fixed small training set and watch it overfit.")
    with st.container(horizontal=True):
        home_ui.try_button(things["copy_lag"])
        home_ui.try_button(things["overfit"])
with left:
    st.subheader("Start here")
    took = state.takes(RunConfig())  # measured here, or nothing promised
    st.markdown(
        "1. **Playground**: pick a task and a cell and press Train, and watch the defaults (an "
        f"LSTM on the adding problem) learn{f' ({took})' if took else ''}.\n"
        "2. **Hidden states**: the memory $h_t$ of every unit at every step, and its path "
        "through state space.\n"
        "3. **Gates**: how an LSTM or GRU opens and closes its gates.\n"
        "4. **Gradients**: how much learning signal reaches each time step; where it vanishes "
        "or explodes.\n"
        "5. **Compare** and **Step through**: the three cells side by side, and one time step "
        "at a time with the equations' numbers.\n"
        f"6. **Lessons**: {len(LESSONS)} ready-made experiments for a class, one click each.")
    st.page_link("pages/playground.py", label="Open the Playground", icon=":material/play_arrow:")

home_ui.diagram(
    "Left: the network as a loop, one cell applied again and again. Right: the same network "
    "*unrolled* over time. Every copy shares the same weights; the arrow from $h_{t-1}$ to "
    "$h_t$ is the recurrent matrix $W_{hh}$, and back-propagation walks these arrows "
    "backwards, multiplying by one Jacobian per step.")
st.latex(r"h_t = \tanh(W_{ih} x_t + b_{ih} + W_{hh} h_{t-1} + b_{hh}) \qquad "
         r"\hat y_t = W_{out} h_t + b_{out}")

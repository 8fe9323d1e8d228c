"""Home: what the app shows, and the recurrent loop drawn folded and unrolled."""

from rnnviz.app.entry import via_app

via_app()


import streamlit as st

from rnnviz import charts
from rnnviz.app import views, widgets
from rnnviz.studies.lessons import LESSONS
from rnnviz.studies.recipes import EXPLODE, LONG_LSTM, LONG_RNN, RESCUE

st.title("rnnviz: look inside a recurrent network while it learns")
st.markdown(
    "A recurrent network reads a sequence one step at a time and carries a **hidden state** "
    "$h_t$ from each step to the next: its memory. Here you train real vanilla RNNs, LSTMs and "
    "GRUs on small sequence tasks, on this server, and look at what happens inside them: the "
    "hidden states, the gates that decide what to keep, and the gradient that "
    "back-propagation through time sends to every step. Every number is measured from the "
    "model you trained.")

views.chart(charts.unrolled_diagram(steps=4),
            "Left: the network as a loop, one cell applied again and again. Right: the same "
            "network *unrolled* over time. Every copy shares the same weights; the arrow "
            "h_{t-1} → h_t is the recurrent matrix W_hh, and back-propagation walks these "
            "arrows backwards, multiplying by one Jacobian per step.", key="diagram")
st.latex(r"h_t = \tanh(W_{ih} x_t + b_{ih} + W_{hh} h_{t-1} + b_{hh}) \qquad "
         r"\hat y_t = W_{out} h_t + b_{out}")

left, right = st.columns(2)
with left:
    st.subheader("Start here")
    st.markdown(
        "1. **Playground**: pick a task and a cell and press Train. The defaults (an LSTM on "
        "the adding problem) learn in a few seconds.\n"
        "2. **Hidden states**: the memory $h_t$ of every unit at every step, and its path "
        "through state space.\n"
        "3. **Gates**: how an LSTM or GRU opens and closes its gates.\n"
        "4. **Gradients**: how much learning signal reaches each time step; where it vanishes "
        "or explodes.\n"
        "5. **Compare** and **Step through**: the three cells side by side, and one time step "
        "at a time with the equations' numbers.\n"
        f"6. **Lessons**: {len(LESSONS)} ready-made experiments for a class, one click each.")
    st.page_link("pages/playground.py", label="Open the Playground", icon=":material/play_arrow:")
with right:
    st.subheader("Things to try")
    st.markdown(
        f"- Adding problem at {LONG_LSTM.seq_len} steps: [a vanilla RNN]"
        f"({widgets.link_for(LONG_RNN)}) stays near chance, [an LSTM]"
        f"({widgets.link_for(LONG_LSTM)}) solves it. The Gradients page shows why.\n"
        f"- [A vanilla RNN]({widgets.link_for(EXPLODE)}) with the recurrent spectral radius "
        f"set to {EXPLODE.recurrent_scale:g}, SGD with momentum at learning rate "
        f"{EXPLODE.lr:g} and clipping off: the run explodes. [With clipping at "
        f"{RESCUE.clip:g} and the learning rate to {RESCUE.lr:g}]({widgets.link_for(RESCUE)}) "
        "the same network trains; either change alone is not enough.\n"
        "- Copy task: raise the lag until a cell can no longer remember.\n"
        "- Text task: give the network a fixed small training set and watch it overfit.")

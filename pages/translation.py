"""Translation: an encoder-decoder learning live, the attention it forms against the true
alignment, the bottleneck a model without attention hits, and the gradient reaching each
source step."""

from rnnviz.app.entry import via_app

via_app()


import streamlit as st

from rnnviz.app import translation_ui

st.title("Translation: the bottleneck and the attention that fixes it")
st.markdown(
    "An *encoder* reads the source one token per step; a *decoder* writes the output one token "
    "per step, starting from the encoder's last state. Without attention that one vector is "
    "all the decoder knows of the source; with attention every output step looks back at "
    "every source step. Dates are read day first: 07/03/21 is 7 March 2021.")

cfg = translation_ui.controls()
job, run = translation_ui.current()
if job is not None:
    translation_ui.live(job)
elif run is not None:
    st.subheader("Attention on a validation example")
    translation_ui.finished(run)
    st.subheader("Translate your own")
    translation_ui.typed(run)
    st.subheader("The gradient through the encoder")
    translation_ui.gradients(run)
else:
    st.info("Press Train: the attention of a validation example appears while it learns.",
            icon=":material/info:")
st.subheader("The bottleneck: longer sources, no attention against attention")
translation_ui.bottleneck(cfg)

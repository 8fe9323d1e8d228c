"""Speech: real spoken digits heard frame by frame; P(digit) after every frame, the frames that
mattered, the confusion matrix with precision and recall, and the learner's own voice."""

from rnnviz.app.entry import via_app

via_app()


import streamlit as st

from rnnviz.app import speech_ui

st.title("Speech: a network hearing spoken digits")
st.markdown(
    "Real recordings of the digits 0-9 by six speakers (the Free Spoken Digit Dataset, "
    "CC BY-SA 4.0). Each becomes a log-mel spectrogram, one frame every 16 ms, and a recurrent "
    "network reads the frames one per step and names the digit after the last one. Apply its "
    "readout after *every* frame and you see when it decides; the saliency shows which frames "
    "its answer depends on.")

run = speech_ui.digits_run()
if run is not None:
    speech_ui.recording_section(run)
    speech_ui.voice_section(run)
    speech_ui.test_split_section(run)

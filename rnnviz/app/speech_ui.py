"""The Speech page's glue: a recording picked from FSDD or said into the microphone, heard by
the session's digits run (``rnnviz.core.hear``), drawn by ``rnnviz.charts.speech``.

The microphone's recording goes through ``rnnviz.hear``, the same door as a WAV file in Python,
so every refusal (silence, too long, not WAV) is that function's ValueError, shown as a
warning. A recording of the data set goes through ``listen``, the same frames and model.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from rnnviz.app import classroom, state, views
from rnnviz.charts.speech import confusion_figure, listening_figure
from rnnviz.core import speech
from rnnviz.core.config import RunConfig
from rnnviz.core.hear import DIGIT_TASKS, Heard, hear, listen
from rnnviz.core.tasks import TASKS
from rnnviz.studies.speech import confusion, precision_recall

PRESET = RunConfig(task="digits", seq_len=speech.SEQ_LEN, device="cpu")
DIGIT, SPEAKER, TAKE = "speech_digit", "speech_speaker", "speech_take"


def digits_run():
    """The session's digits run (either split), or the offer to train the preset."""
    run = state.current_run()
    if state.current_job() is None and run is not None and run.config.task in DIGIT_TASKS:
        return run
    return classroom.require_task_run("digits", PRESET, "a digits model (an LSTM)")


def _test_speakers(run) -> list[str]:
    held = TASKS[run.config.task].held_out
    return [held] if held else speech.speakers()


def _surprise(run) -> None:
    """A random recording of the run's test split (one it never trained on)."""
    rng = np.random.default_rng()
    st.session_state[DIGIT] = int(rng.integers(10))
    st.session_state[SPEAKER] = str(rng.choice(_test_speakers(run)))
    # a held-out speaker's every take is a test recording; otherwise takes 0-4 are
    st.session_state[TAKE] = int(rng.integers(50 if TASKS[run.config.task].held_out else 5))


def _answer(heard: Heard, said: int | None, key: str) -> None:
    p = float(heard.probs[-1, heard.digit])
    with st.container(horizontal=True, key=f"{key}_answer"):
        if said is not None:
            st.metric("Digit said", said, width="content")
        st.metric("The model says", heard.digit, width="content")
        st.metric("P(its answer) after the last frame", f"{p:.1%}", width="content")
        decided = _decided_at(heard)
        st.metric("Decided from frame", decided, width="content",
                  help="The first frame after which the answer stays the model's final one.")


def _decided_at(heard: Heard) -> int:
    answers = heard.probs.argmax(dim=1).numpy()
    wrong = np.nonzero(answers != heard.digit)[0]
    return int(wrong[-1] + 1) if len(wrong) else 0


def _listening(run, heard: Heard, what: str, key: str) -> None:
    views.chart(listening_figure(heard.frames.numpy(), heard.hidden.numpy(),
                                 heard.probs.numpy(), heard.saliency.numpy(),
                                 f"{what}: what the {run.config.cell.upper()} hears, frame by "
                                 "frame"),
                "Read down a column: one 16 ms frame. Top, the sound's log-mel spectrogram "
                "(low pitches at the bottom); then the hidden state $h_t$ after that frame "
                "(red positive, blue negative); then P(digit) if the recording stopped there "
                r"(the readout $\operatorname{softmax}(W_{hy} h_t + b_y)$ after every frame); "
                r"last, how much each frame moved the final answer's loss, $\|\partial L / "
                r"\partial x_t\|$.", key=key)


def recording_section(run) -> None:
    st.subheader("A recording")
    st.session_state.setdefault(DIGIT, 7)
    st.session_state.setdefault(SPEAKER, _test_speakers(run)[0])
    st.session_state.setdefault(TAKE, 0)
    with st.container(horizontal=True, key="speech_pick"):
        st.selectbox("Digit", list(range(10)), key=DIGIT)
        st.selectbox("Speaker", speech.speakers(), key=SPEAKER)
        st.number_input("Take", min_value=0, max_value=49, step=1, key=TAKE,
                        help="Each speaker said each digit 50 times.")
    st.button("Surprise me", icon=":material/shuffle:", on_click=_surprise, args=(run,),
              key="speech_surprise", help="A random recording the model never trained on.")
    digit, speaker, take = (st.session_state[DIGIT], st.session_state[SPEAKER],
                            int(st.session_state[TAKE]))
    index = speech.find(digit, speaker, take)
    trained = index in set(speech.split_indices("train", TASKS[run.config.task].held_out))
    # not cached on the run: one forward and one backward pass over a few dozen frames take
    # milliseconds, while a cache per recording could grow to every one of the 3,000
    heard = listen(run, speech.recording(index), target=digit)
    st.audio(heard.samples, sample_rate=speech.RATE)
    st.caption(f"{speaker} saying {digit}, take {take}: "
               + ("**in the training set** (the model has heard it)." if trained else
                  "in the test set (the model never heard it)."))
    _answer(heard, digit, "speech_recording")
    _listening(run, heard, f"{speaker} says {digit}", "speech_recording_chart")


def voice_section(run) -> None:
    st.subheader("Your own voice")
    st.markdown("Say one digit, zero to nine, in English. The recording is resampled to "
                "8 kHz, trimmed of silence and goes through the same frames and the same "
                "model. Six speakers are not many: a new voice is harder than the test set.")
    recorded = st.audio_input("Say a digit", key="speech_voice")
    if recorded is None:
        return
    try:
        heard = hear(run, recorded.getvalue())
    except ValueError as error:
        st.warning(f"This recording can't be used: {error}.", icon=":material/mic_off:")
        return
    _answer(heard, None, "speech_voice")
    _listening(run, heard, "Your recording", "speech_voice_chart")


def test_split_section(run) -> None:
    st.subheader("On the whole test split")
    matrix = state.cached(run, "speech-confusion", lambda: confusion(run))
    precision, recall = precision_recall(matrix)
    task = TASKS[run.config.task]
    where = (f"all {matrix.sum()} recordings of {task.held_out}, a voice it never heard"
             if task.held_out else f"FSDD's test takes, {matrix.sum()} recordings")
    st.metric("Accuracy", f"{np.trace(matrix) / matrix.sum():.1%}")
    views.chart(confusion_figure(matrix, f"Confusion matrix on {where}"),
                "Row: the digit said; column: the model's answer. The diagonal is right; a "
                "bright cell off it is a pair the model mixes up.", key="speech_confusion")
    st.markdown("**Precision** of a digit: of the recordings the model called that digit, the "
                "share that were it. **Recall**: of the recordings of that digit, the share the "
                "model found. A digit can have a high recall and a low precision when the "
                "model names it too often.")
    st.dataframe({"digit": list(range(10)),
                  "precision": [_percent(p) for p in precision],
                  "recall": [_percent(r) for r in recall],
                  "recordings": matrix.sum(axis=1).tolist()},
                 hide_index=True, key="speech_precision_recall")


def _percent(value: float) -> str:
    return "never predicted" if np.isnan(value) else f"{value:.1%}"

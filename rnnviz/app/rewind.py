"""Rewind: the "Training step" slider of the inside pages (Hidden states, Gates, Gradients, Step
through). Moving it redraws every chart of the page from ``run.model_at(step)`` on the same
example; a play button walks through training, one snapshot at a time.

The run at a step is a ``Run`` that shares the config and history and holds that snapshot's
model, with a cache of its own (its traces), so the pages need no other change: they draw the
run they are given. The chosen step is shared by the four pages, so a learner who sets it on
Gates finds the same moment on Gradients. Streamlit keeps a widget's value only while the page
that drew it is shown (a widget on another page is another widget, even under the same key),
so the choice lives in a key of its own (``CHOSEN``), copied in by the slider's callback and
given back to the slider before it is drawn on every page.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict

import numpy as np
import streamlit as st

from rnnviz.core.train import Run

from . import state

STEP, PLAYING = "train_step", "train_step_playing"
CHOSEN = "train_step_chosen"  # the step the learner chose, kept across pages (see above)
NEXT, TICK = "train_step_next", "train_step_tick"  # the play button's next step and last tick
KEPT = "kept"  # the weights the run kept (an early stop's best, an explosion's rollback)
MAX_VIEWS = 8  # runs-at-a-step kept per run (each holds a model and its traces)
PLAY_INTERVAL_S = 0.8
_page = threading.local()  # the label of the step this page run shows (one thread per run)
_lock = threading.Lock()


def run_at(run: Run, step) -> Run:
    """``run`` as it was after ``step`` training steps (``KEPT``: ``run`` itself). Kept per run,
    least recently used out, so every session looking at the same step shares its traces."""
    if step == KEPT or (step == run.history.steps_done and run.history.weights_step is None):
        return run  # its model is the last snapshot's weights, and it already has the traces
    with _lock:
        views = run.cache.setdefault("rewind", OrderedDict())
    return state.bounded(views, step, lambda: run.at(step), MAX_VIEWS, _lock)


def options(run: Run) -> list:
    steps = list(run.snapshot_steps)
    return steps + [KEPT] if run.history.weights_step is not None else steps


def _label(run: Run, step) -> str:
    """The slider's words for ``step``. Its number is the validation loss of the weights shown,
    where training measured one at that step; the training loss recorded at a step was computed
    before that step's update, so it describes other weights (issue 19: "step 450, training
    loss 0.0313" while the weights at step 450 score 0.0202 on that batch)."""
    history = run.history
    if step == KEPT:
        kept = history.weights_val
        loss = f", validation loss {kept[0]:.3g}" if kept is not None else ""
        return f"weights kept (step {history.weights_step}{loss})"
    if step == 0:
        return "step 0, before training"
    measured = np.flatnonzero(history.val_step == step)
    if len(measured) and np.isfinite(history.val_loss[measured[-1]]):
        return f"step {step}, validation loss {float(history.val_loss[measured[-1]]):.3g}"
    return f"step {step}"


def _advance(choices: list) -> None:
    """One tick of the play button: the next snapshot, or stop at the end. A fragment also runs
    inside every full run of the page; only a tick at least an interval after the last one
    moves on (the slider's value is set through ``NEXT`` before the slider is drawn)."""
    now = time.monotonic()
    if not st.session_state.get(PLAYING) or \
            now - st.session_state.get(TICK, -math.inf) < 0.9 * PLAY_INTERVAL_S:
        return
    st.session_state[TICK] = now
    current = st.session_state.get(CHOSEN)
    index = choices.index(current) if current in choices else -1
    if index + 1 >= len(choices):
        st.session_state[PLAYING] = False
    else:
        st.session_state[NEXT] = choices[index + 1]
    st.rerun()


def _chosen() -> None:
    """The slider moved: remember the step for every inside page."""
    st.session_state[CHOSEN] = st.session_state[STEP]


def _toggle_play(choices: list) -> None:
    playing = not st.session_state.get(PLAYING)
    st.session_state[PLAYING] = playing
    st.session_state[TICK] = time.monotonic()  # the first step shows for a whole interval
    if playing and st.session_state.get(CHOSEN) == choices[-1]:
        st.session_state[CHOSEN] = choices[0]  # play from the start when at the end


def rewind(run: Run, container=st) -> Run:
    """The slider over ``run.snapshot_steps`` (default: the weights the run ended with) and the
    play button; returns the run at the chosen step."""
    choices = options(run)
    if len(choices) < 2:  # a run file from before snapshots: nothing to rewind
        _page.label = ""
        return run
    if NEXT in st.session_state:  # the play button's tick
        st.session_state[CHOSEN] = st.session_state.pop(NEXT)
    if st.session_state.get(CHOSEN) not in choices:  # another run's step, or none yet
        st.session_state[CHOSEN] = choices[-1]
    st.session_state[STEP] = st.session_state[CHOSEN]
    left, right = container.columns([5, 1], vertical_alignment="bottom")
    labels = {choice: _label(run, choice) for choice in choices}
    step = left.select_slider(
        "Training step", choices, key=STEP, format_func=labels.__getitem__,
        on_change=_chosen,
        help="Rewind training: every chart on this page shows the model as it was after this "
             "many training steps (the snapshots taken every "
             f"{run.config.probe_every} steps), on the same example. The loss in its label "
             "is those weights' loss on the validation set, at the steps where training "
             "measured one.")
    playing = bool(st.session_state.get(PLAYING))
    right.button("Pause" if playing else "Replay", icon=":material/pause:" if playing else
                 ":material/play_arrow:", key="train_step_play", width="stretch",
                 on_click=_toggle_play, args=(choices,),
                 help="Replay training: walk through the snapshots, one every "
                      f"{PLAY_INTERVAL_S:g} s.")
    if playing:
        st.fragment(lambda: _advance(choices), run_every=PLAY_INTERVAL_S)()
    # at the run's end the charts are the run's as always; anywhere else they say when they are
    _page.label = "" if step == choices[-1] else labels[step]
    return run_at(run, step)


def step_label() -> str:
    """What the charts of this page run show ("" when the page has no training-step slider)."""
    return getattr(_page, "label", "")


def reset() -> None:
    """At the start of every page run: no slider drawn yet."""
    _page.label = ""

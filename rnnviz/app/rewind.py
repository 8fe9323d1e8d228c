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

import contextlib
import math
import threading
import time
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor

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


def label(run: Run, step) -> str:
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
    """One tick of the play button of a page that draws its charts itself (``rewind`` without
    ``draw``): the next snapshot, or stop at the end. A fragment also runs inside every full
    run of the page; only a tick at least an interval after the last one moves on (the
    slider's value is set through ``NEXT`` before the slider is drawn)."""
    if not st.session_state.get(PLAYING) or not _due():
        return
    current = st.session_state.get(CHOSEN)
    index = choices.index(current) if current in choices else -1
    if index + 1 >= len(choices):
        st.session_state[PLAYING] = False
    else:
        st.session_state[NEXT] = choices[index + 1]
    st.rerun()


def _due() -> bool:
    """Whether a Replay tick may move on: at least (nearly) an interval since the last move."""
    now = time.monotonic()
    if now - st.session_state.get(TICK, -math.inf) < 0.9 * PLAY_INTERVAL_S:
        return False
    st.session_state[TICK] = now
    return True


def _chosen() -> None:
    """The slider moved: remember the step for every inside page. Not while Replay plays:
    then the value the browser sends can be the one it showed before the last tick (a timer
    rerun asked for while the tick's run was under way carries it), and taking it would walk
    Replay back a snapshot; the slider follows Replay until Pause."""
    if not st.session_state.get(PLAYING):
        st.session_state[CHOSEN] = st.session_state[STEP]


def _toggle_play(choices: list, fragment: str | None = None) -> None:
    """Replay or Pause (``fragment``: the key of the rewind fragment the button is in, whose
    first Replay frame shows the step it starts from).

    The press reruns the whole page, not the rewind fragment alone: the still frame and the
    Replay frames are two fragments inside it, and after a rerun of the rewind fragment alone
    the browser now and then kept the still frame's slider on screen beside the Replay frames
    (measured: "step 0" under charts of steps 50 to 400, 1 run in 4). A whole page run ends
    by removing every element it did not draw."""
    playing = not st.session_state.get(PLAYING)
    st.session_state[PLAYING] = playing
    st.session_state[TICK] = time.monotonic()  # the first step shows for a whole interval
    if playing and st.session_state.get(CHOSEN) == choices[-1]:
        st.session_state[CHOSEN] = choices[0]  # play from the start when at the end
    if fragment is not None:
        st.session_state[START] = playing
        st.rerun()  # from a callback: the whole page (see above)


def _sync(choices: list):
    """The step to show: the play button's next one, else the learner's, else the run's end;
    given to the slider before it is drawn."""
    if NEXT in st.session_state:  # the play button's tick
        st.session_state[CHOSEN] = st.session_state.pop(NEXT)
    if st.session_state.get(CHOSEN) not in choices:  # another run's step, or none yet
        st.session_state[CHOSEN] = choices[-1]
    st.session_state[STEP] = st.session_state[CHOSEN]
    return st.session_state[CHOSEN]


def _controls(run: Run, choices: list, labels: dict, playing: bool, container=st,
              fragment: str | None = None):
    """The slider and the Replay/Pause button; returns the slider's step."""
    left, right = container.columns([5, 1], vertical_alignment="bottom")
    words = ("Rewind training: every chart on this page shows the model as it was after this "
             "many training steps (the snapshots taken every "
             f"{run.config.probe_every} steps), on the same example. The loss in its label "
             "is those weights' loss on the validation set, at the steps where training "
             "measured one.")
    if playing and fragment is not None:
        # Replay's frames follow each other with a rerun always asked for, and then the browser
        # shows a widget's new value only after the frame behind it (measured: the slider
        # steps behind the charts): while it plays, a bar that is drawn like the charts says
        # the step; the slider is back on Pause
        step = st.session_state[CHOSEN]
        left.progress(choices.index(step) / (len(choices) - 1),
                      text=f"Training step (replaying): {labels[step]}")
    else:
        step = left.select_slider("Training step", choices, key=STEP,
                                  format_func=labels.__getitem__, on_change=_chosen, help=words)
    right.button("Pause" if playing else "Replay", icon=":material/pause:" if playing else
                 ":material/play_arrow:", key="train_step_play", width="stretch",
                 on_click=_toggle_play, args=(choices, fragment),
                 help="Replay training: walk through the snapshots, one every "
                      f"{PLAY_INTERVAL_S:g} s, or as fast as this server draws them.")
    return step, right


def rewind(run: Run, container=st, draw=None, warm=None, jacobians: bool = True) -> Run:
    """The slider over ``run.snapshot_steps`` (default: the weights the run ended with) and the
    play button; returns the run at the chosen step.

    With ``draw`` (a function of the run at a step that draws the charts of that step), the
    slider and ``draw`` run together in one fragment (see "The rewind fragment" below): a notch,
    a Replay tick or a widget drawn by ``draw`` reruns only them, never the page; ``warm``
    (a function of a run at a step and an example batch id) is run ahead, in the background,
    for the snapshots next to the one shown, with the trace ``draw`` asks for
    (``jacobians``: see ``state.run_trace``). ``run`` itself is returned then."""
    choices = options(run)
    if len(choices) < 2:  # a run file from before snapshots: nothing to rewind
        _page.label = ""
        if draw is not None:
            draw(run)
        return run
    if draw is not None:
        _view(run, choices, container, draw, warm, jacobians)
        return run
    step = _sync(choices)
    labels = {choice: label(run, choice) for choice in choices}
    playing = bool(st.session_state.get(PLAYING))
    step, right = _controls(run, choices, labels, playing, container)
    if playing:  # inside the button's column: nothing after the slider moves while it plays
        with right:
            st.fragment(lambda: _advance(choices), run_every=PLAY_INTERVAL_S)()
    # at the run's end the charts are the run's as always; anywhere else they say when they are
    _page.label = "" if step == choices[-1] else labels[step]
    return run_at(run, step)


def chart_drawn() -> None:
    """A chart of the rewind area has been drawn: the slider waiting for it is drawn now, once
    (see ``_frame``)."""
    after, _page.after_chart = getattr(_page, "after_chart", None), None
    if after is not None:
        after()


def step_label() -> str:
    """What the charts of this page run show ("" when the page has no training-step slider)."""
    return getattr(_page, "label", "")


def reset() -> None:
    """At the start of every page run: no slider drawn yet."""
    _page.label = ""
    _page.after_chart = None


# ---- The rewind fragment: the slider and the charts it drives (rewind(run, draw=...)) ----
# The Training step slider and the charts it drives, as one fragment (``rewind.rewind(run,
# draw=...)``; issue 20, item 5: "Rewind is slow and stale").
#
# Why it is built this way, measured on the Gates page of the default LSTM (1400x900, Chromium,
# this 2-core machine; ``tests/e2e/test_rewind_speed.py`` and ``python -m
# rnnviz.measure.rewind_timing``):
#
# - **A notch reran the whole page** (the sidebar, the equations, every chart) and the page faded
#   while it did. Here a notch reruns one fragment: the slider, the controls and the charts of
#   the step (``st.fragment``; the rest of the page stays as it is).
# - **Most of a notch's server time was the trace**: its Jacobian norms (a 2-norm of every step's
#   Jacobian, an SVD each) took 0.1-0.3 s on a quiet machine and seconds beside a busy browser.
#   The snapshots next to the one shown (the next two during Replay) are traced ahead in one
#   background thread, so a notch or a Replay tick finds its trace ready; a page may warm its own
#   derived numbers there too (``warm``).
# - **Replay reran the page from a timer fragment inserted before the controls** only while it
#   played: every element after it moved one place down, so for the length of a run the page
#   showed the Example controls twice (the old ones stale in their old place), and the charts,
#   redrawn after the slider, were one snapshot behind it. Here the Replay timer is the fragment
#   that draws the charts (``run_every``), swapped in and out inside the rewind fragment, so no
#   element moves; each tick advances one snapshot and draws its charts first and the slider last
#   (into a place kept above them), so the slider never names a step the charts do not show yet.
# - **Streamlit fades stale elements** (``[data-stale="true"]``: opacity 0.33 after 0.5 s, a
#   design its maintainers discuss in https://github.com/streamlit/streamlit/issues/6063 "Clean-
#   slate rendering" and #2820). The fade says "this may change"; inside the rewind area what
#   is on screen is a whole consistent snapshot until the next one replaces it (charts first,
#   label last), so the fade is switched off there alone, with CSS scoped to the rewind
#   container's key (``st.container(key=...)`` gives it the class ``st-key-<key>``, the
#   documented way to style one container).

FRAGMENT = "rewind"  # the rewind fragment's key (the Replay button reruns it alone)
AREA = "rewind_area"  # its container's key: the class the no-fade CSS is scoped to
START = "train_step_start"  # set by Replay: its first frame shows the step it starts from
PENDING = "rewind-pending"  # a run's cache: (PENDING, batch id) -> the background trace's future
# See the module docstring: the stale fade of Streamlit's element containers, off in this area.
NO_FADE = (f"<style>.st-key-{AREA} [data-stale='true'] "
           "{ opacity: 1 !important; transition: none !important; }</style>")
# One thread for every session of this server: traces ahead never take more than one core.
_AHEAD = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rnnviz-rewind-ahead")
AHEAD_QUEUED = "rewind-ahead-queued"  # session state: the work ahead this session asked for
_frames_drawing = 0  # rewind frames of any session being drawn now (``drawing``)


def _view(run: Run, choices: list, container, draw, warm, jacobians: bool) -> None:
    """The rewind area: its style, then the fragment (see the module docstring)."""
    area = container.container(key=AREA)
    area.html(NO_FADE)
    with area:
        st.fragment(_area, key=FRAGMENT)(run, choices, draw, warm, jacobians)


def _area(run: Run, choices: list, draw, warm, jacobians: bool) -> None:
    """The rewind fragment: the frame, still or replaying. Two functions, so that Streamlit
    sees two fragments and stops the Replay timer with the fragment that had it (a
    fragment's ``run_every`` is fixed when it is drawn; the Replay button reruns this one)."""
    if st.session_state.get(PLAYING):
        st.fragment(_replaying, run_every=PLAY_INTERVAL_S)(run, choices, draw, warm, jacobians)
    else:
        st.fragment(_still)(run, choices, draw, warm, jacobians)


def _still(run: Run, choices: list, draw, warm, jacobians: bool) -> None:
    _frame(run, choices, draw, warm, jacobians, playing=False)


def _replaying(run: Run, choices: list, draw, warm, jacobians: bool) -> None:
    """A Replay frame: one snapshot on (none on the frame Replay starts with), an interval
    after the last one moved on. Every frame moves on exactly once: a timer tick that comes
    early (a tick queued behind a slow frame) waits out the rest of the interval rather than
    drawing the same snapshot again or, on the next tick, skipping one. At the end Replay stops
    on the last snapshot, and the page reruns once to drop the timer.

    The interval is counted from the end of the last frame, when all its elements have been
    sent, not from its start: a frame that waited for its trace and the quick one after it
    would otherwise reach the browser a few milliseconds apart, and the browser, still drawing
    the first, never showed it (measured: Replay walked 0, 100, 150, ... in 3 of 5 runs)."""
    if not st.session_state.pop(START, False):
        wait = st.session_state.get(TICK, 0.0) + PLAY_INTERVAL_S - time.monotonic()
        if wait > 0:
            time.sleep(min(wait, PLAY_INTERVAL_S))
        current = st.session_state.get(CHOSEN)
        index = choices.index(current) if current in choices else -1
        if index + 1 >= len(choices):
            st.session_state[PLAYING] = False
            st.rerun()
        st.session_state[CHOSEN] = choices[index + 1]
    _frame(run, choices, draw, warm, jacobians, playing=True)
    st.session_state[TICK] = time.monotonic()


def _frame(run: Run, choices: list, draw, warm, jacobians: bool, playing: bool) -> None:
    """The slider's place, the charts of the chosen step, and the slider drawn into its place
    right after the first chart (``chart_drawn``), or after them all when no chart says so.

    Streamlit sends a run's elements one by one and the browser draws each as it comes, so the
    charts of a frame turn to the new step one after the other. The slider turns once the
    first of them shows the new step: at every moment the step it names is on a chart in
    view. Drawn after them all, it named the old step for a moment after every chart had
    turned (bar 150, charts 200); drawn first, it would name a step no chart shows yet."""
    step = _sync(choices)
    labels = {choice: label(run, choice) for choice in choices}
    for queued in st.session_state.pop(AHEAD_QUEUED, []):  # for a step this one replaced
        queued.cancel()  # only if it has not started
    with drawing():
        shown = ready(run, step, state.example_batch_id())
        _page.label = "" if step == choices[-1] else labels[step]
        place = st.container()
        _page.after_chart = lambda: _controls(run, choices, labels, playing, place,
                                              fragment=FRAGMENT)
        try:
            draw(shown)
        finally:
            chart_drawn()
    index = choices.index(step)
    near = (index + 1, index + 2) if playing else (index + 1, index - 1)
    queued = [ahead(run, choices[other], state.example_batch_id(), warm, jacobians)
              for other in near if 0 <= other < len(choices)]
    st.session_state[AHEAD_QUEUED] = [future for future in queued if future is not None]


def frame_in_progress() -> bool:
    """Whether a frame of some session is being drawn now: work ahead (``warm``) stops."""
    return _frames_drawing > 0


@contextlib.contextmanager
def drawing():
    """A rewind frame is being drawn (counted over every session of the server): work ahead
    does not start, and a page's ``warm`` stops (``frame_in_progress``)."""
    global _frames_drawing
    with _lock:
        _frames_drawing += 1
    try:
        yield
    finally:
        with _lock:
            _frames_drawing -= 1


def ready(run: Run, step, batch_id: int) -> Run:
    """The run at ``step``, with the work ahead for it waited for when it is under way
    (computing it twice at once would only slow both); queued and not started, it is
    cancelled, and the page computes what it needs itself."""
    shown = run_at(run, step)
    pending = shown.cache.get((PENDING, batch_id))
    if pending is not None and not pending.cancel():  # under way (or done): wait for it
        with contextlib.suppress(Exception):  # a failure is met again, and shown, by the page
            pending.result()
    return shown


def ahead(run: Run, step, batch_id: int, warm=None, jacobians: bool = True):
    """Trace ``run`` at ``step`` on the batch in the background, and ``warm`` it, unless that
    is under way, or there is no ``warm`` and the trace is done; returns the future, or None.
    ``warm`` runs every time (what it computes may depend on the page's pickers, which the
    trace does not): it is to find what it computed before, kept on the run."""
    shown = run_at(run, step)
    pending = shown.cache.get((PENDING, batch_id))
    if (pending is not None and not pending.done()) or (
            warm is None and state.has_trace(shown, batch_id, jacobians)):
        return None
    future = _AHEAD.submit(_prepare, shown, batch_id, warm, jacobians)
    shown.cache[(PENDING, batch_id)] = future
    return future


def _prepare(shown: Run, batch_id: int, warm, jacobians: bool) -> None:
    """The work ahead for one snapshot, unless a rewind frame is being drawn now: Python runs
    one thread at a time, and a frame drawn beside it took up to twice as long (``python -m
    rnnviz.app.bench_views``: a change right after another). A ``warm`` stops when one starts
    (``frame_in_progress``). Skipped, it is asked for again by the next frame that has the
    snapshot next to its step. It never waits for a frame: a frame may be waiting for it
    (``ready``)."""
    if frame_in_progress():
        return
    state.run_trace(shown, batch_id, jacobians)
    if warm is not None:
        warm(shown, batch_id)

"""The Recorded runs page: the runs of the log folder (``rnnviz app --logdir runs/``, or
``RNNVIZ_LOGDIR`` in a checkout), each with its step count, snapshots and whether its loop is
still writing it; picking one makes it the session's run, and a run still being written is
followed.

Why it is built this way:

* **Everything read goes through ``rnnviz.serve.logdir``** (its direct children only, plain
  names, no link followed, every file checked by ``rnnviz.core.recorded``). A run that does not
  open is listed with its message and cannot be picked; a run that stops opening later (a
  doctored file) says so where it was shown. Never a traceback.
* **The picked run is the session's run** (``state.RUN``), as an opened run file is, so Hidden
  states, Gates, Gradients and Step through draw it with no change of their own: a
  ``RecordedRun`` is an own-model ``Run`` whose ``snapshot_steps`` and ``model_at`` give the
  Training step slider (``rewind.options``) its stops, one per kept snapshot.
* **Following a live run** is a fragment that reruns every ``FOLLOW_S`` and re-opens the run
  through the server's one ``LogDir``, which hands back the same object while the run's
  ``index.json`` is unchanged (a ``stat``) and loads it again only when the writer wrote. The
  newer reading replaces the session's run while that run is still this recording, so the
  inside pages' slider gains the new snapshots. The list is a fragment of its own, slower
  (``LIST_S``): it reads two small JSON files per run.
"""

from __future__ import annotations

import os
import time

import streamlit as st

from rnnviz.charts.recorded import recorded_loss
from rnnviz.core.recorded import RecordedRun
from rnnviz.serve.logdir import LogDir, RunEntry, check_logdir

from . import classroom, state
from .launch import LOGDIR_ENV

PICKED = "logdir_picked"  # the name of the run this session picked
_ERROR = "logdir_open_error"
FOLLOW_S = 1.0  # the picked run's step count and loss chart, re-read this often
LIST_S = 2.0  # the list of runs, re-read this often
INSIDE_PAGES = (("pages/hidden_states.py", "Hidden states", ":material/memory:"),
                ("pages/gates.py", "Gates", ":material/door_open:"),
                ("pages/gradients.py", "Gradients", ":material/trending_down:"),
                ("pages/step_through.py", "Step through", ":material/footprint:"))
RECORD_SNIPPET = """rec = rnnviz.record(model.lstm, probe_x, loss_fn, to="{folder}/my-lstm",
                    model=model)
for x, y in batches:
    ...; loss.backward(); optimizer.step()
    rec.step(loss)
rec.close()"""


@st.cache_resource(show_spinner=False)
def _logdir(path: str) -> LogDir:
    """One LogDir per folder for the whole server: every session shares its loaded runs."""
    return LogDir(path)


def logdir() -> LogDir | None:
    """The server's log folder, None when none was given; ValueError when it is gone."""
    path = os.environ.get(LOGDIR_ENV)
    if not path:
        return None
    return _logdir(str(check_logdir(path).resolve()))


def _ago(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds < 90:
        return f"{seconds} s ago"
    if seconds < 5400:
        return f"{seconds // 60} min ago"
    return f"{seconds // 3600} h ago" if seconds < 172800 else f"{seconds // 86400} days ago"


def entry_words(run: RunEntry, now: float | None = None) -> str:
    """The list's line for a run that opens: its step, its snapshots, when it was written."""
    now = time.time() if now is None else now
    snapshots = f"{run.snapshots} snapshot{'s' if run.snapshots != 1 else ''}"
    return f"step {run.steps:,} · {snapshots} · written {_ago(now - run.updated)}"


def open_recorded(folder: LogDir, name: str) -> None:
    """Make the recording ``name`` the session's run (a training this session was watching is
    left; the example batch starts again at the first)."""
    st.session_state.pop(_ERROR, None)
    try:
        run = folder.open(name)
    except ValueError as err:
        st.session_state[_ERROR] = f"**{name}** can't be opened: {err}"
        return
    state.stop_training(keep=False)
    st.session_state.pop("example_batch", None)
    st.session_state[state.RUN] = run
    st.session_state[PICKED] = name


def _run_row(folder: LogDir, run: RunEntry, picked: str | None) -> None:
    with st.container(border=True, key=f"logdir_run_{run.name}"):
        left, right = st.columns([4, 1], vertical_alignment="center")
        # the theme's accent (no colour is spelled outside the palette)
        badge = (" :primary-badge[:material/fiber_manual_record: recording]" if run.live else
                 " · finished" if run.status == "closed" else
                 " · not written for a while" if run.status else "")
        left.markdown(f"**{run.name}**{badge}")
        if run.error:
            left.error(run.error, icon=":material/error:")
            return
        left.caption(entry_words(run))
        if right.button("Shown" if run.name == picked else "Open", key=f"logdir_open_{run.name}",
                        icon=":material/visibility:", disabled=run.name == picked,
                        help="Make it the run that Hidden states, Gates, Gradients and Step "
                             "through show"):
            open_recorded(folder, run.name)
            st.rerun()  # the whole page: the sidebar's summary and the picked run's section


@st.fragment(run_every=LIST_S)
def _run_list(folder: LogDir) -> None:
    try:
        runs = folder.runs()
    except ValueError as err:  # the folder went away while the app ran
        st.error(str(err), icon=":material/error:")
        return
    if not runs:
        st.info(f"No recorded runs in `{folder.path}` yet. A run appears here as soon as your "
                "loop's first `rec.step(loss)` is written:", icon=":material/hourglass_empty:")
        st.code(RECORD_SNIPPET.format(folder=folder.path), language="python")
        return
    picked = st.session_state.get(PICKED)
    for run in runs:
        _run_row(folder, run, picked)


@st.fragment(run_every=FOLLOW_S)
def _picked_run(folder: LogDir) -> None:
    """The picked run: its step, its snapshots and its loss, re-read while it is written."""
    name = st.session_state.get(PICKED)
    if name is None:
        return
    try:
        run = folder.open(name)
    except ValueError as err:
        st.error(f"**{name}** can't be read any more: {err}", icon=":material/error:")
        return
    current = state.current_run()
    followed = isinstance(current, RecordedRun) and current.path == run.path
    if followed and current is not run:
        st.session_state[state.RUN] = run  # the newer reading: its snapshots on the slider
    st.subheader(f"{name}: {'recording' if run.status == 'recording' else 'finished'}")
    steps = run.snapshot_steps
    st.markdown(f"**Step {run.history.steps_done:,}** of your loop, "
                f"{len(steps)} snapshot{'s' if len(steps) != 1 else ''} "
                f"(steps {steps[0]:,} to {steps[-1]:,}) for the Training step slider.",
                help="The recorder keeps the weights at step 0, every `every` steps and the "
                     "last step, thinning old ones so the folder stays small.")
    st.plotly_chart(classroom.projector_figure(recorded_loss(run.history, name)),
                    width="stretch", key="logdir_loss")
    if not followed:
        st.caption("Another run is the current one now; press **Open** above to show this one "
                   "on the inside pages.")
        return
    st.caption(f"Look inside it at any snapshot, on {run.task.inputs}:")
    for column, (page, label, icon) in zip(st.columns(len(INSIDE_PAGES)), INSIDE_PAGES):
        column.page_link(page, label=label, icon=icon)


def recorded_page() -> None:
    """The Recorded runs page."""
    try:
        folder = logdir()
    except ValueError as err:
        st.error(str(err), icon=":material/error:")
        return
    if folder is None:
        st.info("No log folder is open. Start the app with `rnnviz app --logdir runs/` (or set "
                f"`{LOGDIR_ENV}`) to see the runs your own training loop records.",
                icon=":material/folder_off:")
        return
    st.markdown(f"Runs your own training loop recorded with `rnnviz.record` into "
                f"`{folder.path}`. A run still being written is followed as it goes.")
    error = st.session_state.get(_ERROR)
    if error:
        st.error(error, icon=":material/error:")
    _run_list(folder)
    _picked_run(folder)

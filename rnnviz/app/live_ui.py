"""The Playground's inside grid: hidden states, the memory gate, ||dL/dh_t|| over t and the
gradient over training, side by side with the loss curve, while a run trains and after.

Every panel, title and caption of one redraw comes from one snapshot (``Snapshot``), read once:
the live view used to read the job's newest inside view once for the figures and again for the
caption, and show two steps at once. Before the first snapshot arrives from the worker, the
picture is the network at step 0, computed here from the config (``initial_inside``): the same
weights the run starts from, so the learner sees the inside the moment Train is pressed.

Figures are built once per snapshot and shared by every session watching the same job.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from rnnviz import charts
from rnnviz.core.config import RunConfig
from rnnviz.core.tasks import probe_batch
from rnnviz.core.train import Run
from rnnviz.serve.jobs import Job
from rnnviz.studies.inside import InsideView, initial_inside, inside_view

from . import classroom, rewind, state

_FIGURES: OrderedDict[tuple, list] = OrderedDict()  # (source, step, rows) -> figures
_PANELS: OrderedDict[tuple, list] = OrderedDict()  # the same as plain dicts
_FIRST: OrderedDict[str, tuple[InsideView, np.ndarray]] = OrderedDict()  # cfg key -> step 0
_LOCK = threading.Lock()
MAX_CACHED = 64  # figure sets kept: a few per job being watched

# Streamlit fades every element of a fragment while the fragment reruns (its "stale" state,
# data-stale="true" on the element's container: the behaviour streamlit/streamlit#6063
# describes and asks to control). A live view reruns every second, so on a busy server its
# panels spent most of their time at a third of their opacity. Each panel here says which
# snapshot it shows, and a redraw replaces all of them from one snapshot, so a panel waiting
# for its replacement is not stale in that sense: inside the containers keyed below (a key
# gives a container the class st-key-<key>, per st.container's documentation) the fade is off.
NO_FADE = ("<style>{} {{ opacity: 1 !important; transition: none !important; }}</style>")
FADE_FREE = ("live_view", "inside_grid")


def no_fade() -> None:
    """Switch the stale fade off inside the live view's containers (once per page)."""
    selectors = ", ".join(f".st-key-{key} [data-stale='true']" for key in FADE_FREE)
    st.html(NO_FADE.format(selectors))


@dataclass(frozen=True)
class Snapshot:
    """One moment of training as the grid draws it: the inside at ``view.step`` and the rows
    of the gradient over training up to that step (``probe_step [rows]``, ``probe_grad [rows,
    time]``)."""

    view: InsideView
    probe_step: np.ndarray
    probe_grad: np.ndarray
    source: object  # what the figures are cached under (a job, a run)

    @property
    def step(self) -> int:
        return self.view.step


def first_picture(cfg: RunConfig) -> tuple[InsideView, np.ndarray]:
    """The network of ``cfg`` at step 0 (computed once per config on this server)."""
    return state.bounded(_FIRST, cfg.key, lambda: initial_inside(cfg), MAX_CACHED, _LOCK)


def first_snapshot(cfg: RunConfig) -> Snapshot:
    """``cfg``'s network at step 0, with its one row of the gradient over training."""
    first, row = first_picture(cfg)
    return Snapshot(first, np.zeros(1, dtype=np.int64), row[None, :], cfg.key)


def _rows_up_to(probe_step: np.ndarray, probe_grad: np.ndarray, step: int):
    keep = probe_step <= step  # rows newer than the inside shown belong to a later picture
    return probe_step[keep].copy(), probe_grad[keep].copy()


def job_snapshot(job: Job) -> Snapshot:
    """The newest snapshot of a training job, read once; step 0 from the config before the
    worker has sent one."""
    view, history = job.inside, job.history
    if view is None or history is None or not history.probes_kept:
        return first_snapshot(job.cfg)
    steps, grads = _rows_up_to(history.probe_step, history.probe_grad, view.step)
    return Snapshot(view, steps, grads, id(job))


def run_snapshot(run: Run, step: int) -> Snapshot:
    """A finished run's inside at one of its snapshots (``run`` as ``rewind.run_at`` gave it:
    the model at ``step``), on probe example 0, with the gradient rows up to that step."""
    def compute() -> InsideView:
        x, y = probe_batch(run.config)
        return inside_view(run.model, x, y, step)
    view = state.cached(run, f"inside_view_{step}", compute)
    steps, grads = _rows_up_to(run.history.probe_step, run.history.probe_grad, step)
    return Snapshot(view, steps, grads, run.config.key)


def chosen_step(run: Run) -> int:
    """The step of the model ``rewind.rewind(run)`` returned: the slider's snapshot, or the
    weights the run kept (its last step's, or an early stop's best, or an explosion's
    rollback)."""
    chosen = st.session_state.get(rewind.CHOSEN)
    if chosen in rewind.options(run) and chosen != rewind.KEPT:
        return int(chosen)
    kept = run.history.weights_step
    return int(kept) if kept is not None else int(run.history.steps_done)


# On a phone the columns stack and the live view starts a screen or two below Train: after a
# press the page scrolls to it once it exists (a wide screen shows it beside the button).
_SCROLL = """<script>
(() => {
  if (!window.matchMedia("(max-width: 640px)").matches) return;
  const started = Date.now();
  const go = () => {
    const target = document.querySelector(".st-key-KEY");
    if (target) target.scrollIntoView({block: "start", behavior: "instant"});
    else if (Date.now() - started < 10000) setTimeout(go, 100);
  };
  go();
})();
</script>"""


def scroll_into_view(key: str) -> None:
    """On a phone, scroll the page to the container keyed ``key`` (once, when it appears)."""
    st.html(_SCROLL.replace("KEY", key), unsafe_allow_javascript=True)


def _figures(snapshot: Snapshot) -> list[tuple[str, go.Figure]]:
    """The panels of one snapshot, built once (a few hundred milliseconds: plotly validates
    every property) and shared by every session."""
    return state.bounded(
        _FIGURES, (snapshot.source, snapshot.step, len(snapshot.probe_step)),
        lambda: charts.live_figures(snapshot.view, snapshot.probe_step, snapshot.probe_grad),
        MAX_CACHED, _LOCK)


def _panels(snapshot: Snapshot) -> list[tuple[str, dict]]:
    return state.bounded(
        _PANELS, (snapshot.source, snapshot.step, len(snapshot.probe_step)),
        lambda: [(name, figure.to_plotly_json()) for name, figure in _figures(snapshot)],
        MAX_CACHED, _LOCK)


def board_columns() -> int:
    """Two columns of panels, one on a phone (whose browser says "Mobi" in its user agent, as
    every phone browser does; a figure cannot reflow its subplots by itself)."""
    agent = st.context.headers.get("User-Agent") or ""
    return 1 if "Mobi" in agent else 2


def board(snapshot: Snapshot, loss: dict | None, title: str, key: str) -> None:
    """One figure: the loss (if given) and the panels of ``snapshot`` (``charts.live_board``),
    so that the browser draws them together."""
    figure = charts.live_board(_panels(snapshot), loss, snapshot.step, title, board_columns(),
                               panel_title_px=18 if classroom.is_on() else 13)
    st.plotly_chart(charts.assembled_figure(classroom.projector_figure(figure)),
                    width="stretch", key=key)


def inside_grid(snapshot: Snapshot, caption: str, key: str = "inside_grid") -> None:
    """The panels of one snapshot as one figure, and ``caption``."""
    with st.container(key=key):
        board(snapshot, None, f"Inside the network at step {snapshot.step}, probe example 0",
              f"{key}_board")
        st.caption(caption)


def before_training(cfg: RunConfig | None) -> None:
    """The network of ``cfg`` before training, before Train is pressed: what a playground
    shows first (and, built now, the first live picture is ready the moment Train is)."""
    if cfg is None:
        return
    try:
        snapshot = first_snapshot(cfg)
    except Exception:  # e.g. an uploaded series no longer on this server: Train says why
        return
    with st.container(key="before_training"):
        board(snapshot, None, "Before training: the network at step 0, probe example 0",
              "before_board")
        st.caption("The weights these settings start from (the form's changes show once you "
                   "press Train). Train, and these pictures follow the network as it learns.")


def live_inside(job: Job, snapshot: Snapshot, loss: dict | None) -> None:
    """The live board of a training job at ``snapshot``, with the loss curve (or, in shared
    mode, why training has not started)."""
    if job.progress.state == "waiting":
        st.warning(f"{(job.progress.error or 'waiting').capitalize()}. Training starts by "
                   "itself as soon as it can; you may leave this page meanwhile.",
                   icon=":material/hourglass_top:")
        return
    if snapshot.step == 0 and job.inside is None:
        title = "Before training: the network at step 0, probe example 0"
        words = ("The weights the run starts from. The pictures follow training as snapshots "
                 f"arrive (every {job.cfg.probe_every} steps).")
    else:
        title = f"Training live: the network inside at step {snapshot.step}, probe example 0"
        words = ("The inside panels show the newest snapshot (the dotted line on the loss). "
                 "Rows of the last panel are the snapshots so far, step 0 at the top.")
    with st.container(key="live_grid"):
        board(snapshot, loss, title, "live_board")
        st.caption(words)

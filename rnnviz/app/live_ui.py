"""The Playground's live inside view: while a run trains, the figures of its newest snapshot,
side by side under the loss curve. The job computed the snapshot's inside once (in the worker
or the job thread); the figures are built once per snapshot and shared by every session that
watches the same job."""

from __future__ import annotations

import threading
from collections import OrderedDict

import streamlit as st

from rnnviz import charts
from rnnviz.serve.jobs import Job

from . import classroom, state

_FIGURES: OrderedDict[tuple[int, int, int], list] = OrderedDict()  # (job, step, rows) -> figures
_LOCK = threading.Lock()
MAX_CACHED = 64  # figure sets kept: a few per job being watched


def _figures(job: Job) -> list | None:
    view, history = job.inside, job.history
    if view is None or history is None:
        return None
    return state.bounded(
        _FIGURES, (id(job), view.step, history.probes_kept),
        lambda: charts.live_figures(view, history.probe_step.copy(), history.probe_grad.copy()),
        MAX_CACHED, _LOCK)


def live_inside(job: Job) -> None:
    """Two columns of live figures, or a line saying the first snapshot is on its way (or, in
    shared mode, why training has not started)."""
    if job.progress.state == "waiting":
        st.warning(f"{(job.progress.error or 'waiting').capitalize()}. Training starts by "
                   "itself as soon as it can; you may leave this page meanwhile.",
                   icon=":material/hourglass_top:")
        return
    figures = _figures(job)
    if figures is None:
        st.caption("The inside view appears with the first snapshot of the weights "
                   f"(every {job.cfg.probe_every} steps).")
        return
    columns = st.columns(2, gap="small")
    for index, (key, figure) in enumerate(figures):
        with columns[index % 2]:
            if classroom.is_on():  # on a copy: the cached figures are every watcher's
                figure = classroom.projector_figure(
                    figure.to_plotly_json() if hasattr(figure, "to_plotly_json") else figure)
            st.plotly_chart(figure, width="stretch", key=key)
    st.caption(f"The network inside, live: probe example 0 at the newest snapshot (step "
               f"{job.inside.step}), redrawn as training goes on. Rows of the last chart are the "
               "snapshots so far, step 0 at the top.")

"""Session state of the app: the applied config, the current run or training job, and the
server-wide job registry shared by every session."""

from __future__ import annotations

import threading
from collections import OrderedDict

import streamlit as st
import torch

from rnnviz import charts
from rnnviz.core.config import RunConfig
from rnnviz.core.own_model import OwnModelRun
from rnnviz.core.tasks import PROBE_SIZE, TASKS, probe_batch, seeded_generator, task_params
from rnnviz.core.trace import Trace, trace
from rnnviz.core.train import Run
from rnnviz.serve import limits, shared, speed
from rnnviz.serve.jobs import Job, JobRegistry
from rnnviz.serve.shared_jobs import SharedJobRegistry

CONFIG, RUN, JOB, NOTICE = "config", "run", "job", "notice"


@st.cache_resource(show_spinner=False)
def registry() -> JobRegistry | SharedJobRegistry:
    """One per server process: the limit on simultaneous jobs and the cache of finished runs;
    with ``RNNVIZ_REDIS_URL`` set, the shared registry of every server and worker (shared
    mode, ``rnnviz.serve.shared_jobs``)."""
    # The first optimizer ever built imports torch._dynamo (~1.3 s, holding the import lock):
    # pay it here, once, rather than inside the first training jobs of a class.
    torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))])
    url = shared.redis_url()
    return SharedJobRegistry.from_url(url) if url else JobRegistry()


def shared_mode() -> bool:
    """Whether this server shares jobs and runs with others through Redis."""
    return shared.redis_url() is not None


def paused_banner() -> str | None:
    """The page's banner while training cannot go on ("training is paused: the shared store
    is unreachable"), or None; always None in embedded mode."""
    paused = getattr(registry(), "paused_message", None)
    return paused() if paused is not None else None


def config() -> RunConfig:
    if CONFIG not in st.session_state:
        st.session_state[CONFIG] = RunConfig()
    return st.session_state[CONFIG]


def current_run() -> Run | None:
    """The session's run; collects a finished job's result first."""
    job: Job | None = st.session_state.get(JOB)
    if job is not None and job.done:
        del st.session_state[JOB]
        if job.result is not None:
            st.session_state[RUN] = job.result
        elif job.progress.error:
            st.session_state[NOTICE] = ("error", f"Training failed: {job.progress.error}")
    return st.session_state.get(RUN)


def current_job() -> Job | None:
    """The session's training job, if one is running; reading it tells the server that a page
    still looks at it (a job no page looks at any more is stopped: ``JobRegistry``)."""
    current_run()
    job = st.session_state.get(JOB)
    if job is not None:
        job.touch()
    return job


QUEUED_WORDS = "queued: waiting for a free training slot"


def time_left(job: Job) -> str:
    """What the wait for ``job`` is, in this server's measured numbers: the time its steps
    left take at its own speed so far (or, before its first steps, at the speed of this
    server's recent runs); while queued, how many runs hold the slots and how soon the first
    of them ends. Never a fixed phrase: with nothing measured yet it says so."""
    p, reg = job.progress, registry()
    if p.state == "queued":
        running = [other for other in reg.jobs() if other.progress.state == "running"]
        ends = [speed.seconds_left(other.cfg, other.progress.step, other.progress.started,
                                   reg.speed)[0] for other in running]
        ends = [seconds for seconds in ends if seconds is not None]
        soonest = f"; the first ends in {speed.duration_words(min(ends))}" if ends else ""
        return (f"{len(running)} run{'s' if len(running) != 1 else ''} hold this server's "
                f"{reg.max_jobs} training slot{'s' if reg.max_jobs != 1 else ''}{soonest}")
    seconds, basis = speed.seconds_left(job.cfg, p.step, p.started, reg.speed)
    if seconds is None:
        return "time left: measuring this server's speed"
    return f"{speed.duration_words(seconds)} left {basis}"


def takes(cfg: RunConfig) -> str:
    """How long training ``cfg`` takes here, at the speed of this server's recent runs
    ("about 4 s on this server"), or "" before this server has measured any."""
    seconds = registry().speed.seconds_for(cfg)
    return "" if seconds is None else f"{speed.duration_words(seconds)} on this server"


def progress_bar(job: Job, what: str) -> None:
    """A bar of ``job``'s progress: "<what>: step s of n · time left", or that it is queued."""
    p = job.progress
    words = QUEUED_WORDS if p.state == "queued" else f"step {p.step} of {p.total}"
    st.progress(p.step / max(p.total, 1), text=f"{what}: {words} · {time_left(job)}")


def start_training(cfg: RunConfig) -> None:
    """Use a cached run of the same config at once, join a job already training it, or start
    one. Any job this session was watching is left first. A new job larger than the server's
    limit is refused with a notice (a finished run of it still opens)."""
    if registry().lookup(cfg) is None:
        try:
            limits.check_job(cfg)
        except limits.JobTooLarge as err:
            st.session_state[NOTICE] = ("error", str(err))
            return
    st.session_state[CONFIG] = cfg
    stop_training(keep=False)
    result = registry().submit(cfg)
    if isinstance(result, Run):
        st.session_state[RUN] = result
        where = {"runs folder": "was trained ahead of time (runs folder)",
                 "shared store": "was already trained (shared store)"}.get(
            result.meta.get("source"), "was already trained on this server")
        st.session_state[NOTICE] = ("info", f"This exact configuration {where}: its run was "
                                    "reused instantly.")
    else:
        st.session_state.pop(RUN, None)
        st.session_state[JOB] = result


def stop_training(keep: bool = True) -> None:
    job: Job | None = st.session_state.pop(JOB, None)
    if job is None:
        return
    run = job.detach()
    if keep and run is not None:
        st.session_state[RUN] = run


def reset() -> None:
    stop_training(keep=False)
    st.session_state.pop(RUN, None)
    st.session_state.pop("example_batch", None)


def take_notice():
    return st.session_state.pop(NOTICE, None)


# ---- traces: computed once per (run, batch) and kept on the run, shared by all pages ----
def example_batch_id() -> int:
    """0 is the run's fixed probe batch; the "New examples" button moves to fresh batches."""
    return st.session_state.get("example_batch", 0)


def new_example_batch() -> None:
    st.session_state["example_batch"] = example_batch_id() + 1


def batch(run: Run, batch_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    if isinstance(run, OwnModelRun):  # a model from outside brings its inputs and targets
        return run.example_batch(batch_id)
    cfg = run.config
    if batch_id == 0:
        return probe_batch(cfg)
    generator = seeded_generator(cfg.seed * 7919 + batch_id)
    return TASKS[cfg.task].sample(16, cfg.seq_len, generator, split="val", **task_params(cfg))


def batch_shape(run: Run | None) -> tuple[int, bool]:
    """``(examples per batch, whether "New examples" can give others)`` for ``run``."""
    if isinstance(run, OwnModelRun):
        return run.examples, run.batches is None or run.batches > 1
    return PROBE_SIZE, True


def run_trace(run: Run, batch_id: int | None = None, jacobians: bool = True
              ) -> tuple[Trace, torch.Tensor, torch.Tensor]:
    """The trace of ``run`` on an example batch, with that batch's inputs and targets.

    ``jacobians=False``: a page that draws no Jacobian norm (Gates, Hidden states) takes the
    trace without them, unless the whole one is already there. Their SVD per step was most of
    a trace (the default LSTM: 69 ms of 73 on a quiet core), paid on every rewind notch."""
    batch_id = example_batch_id() if batch_id is None else batch_id
    key = ("trace", batch_id) if jacobians or ("trace", batch_id) in run.cache else (
        "trace-light", batch_id)
    if key not in run.cache:
        x, y = batch(run, batch_id)
        run.cache[key] = (trace(run.model, x, y, jacobians=jacobians), x, y)
    return run.cache[key]


def has_trace(run: Run, batch_id: int, jacobians: bool = True) -> bool:
    """Whether ``run_trace(run, batch_id, jacobians)`` would find its trace computed."""
    return ("trace", batch_id) in run.cache or (
        not jacobians and ("trace-light", batch_id) in run.cache)


def bounded(store: OrderedDict, key, compute, limit: int, lock: threading.Lock):
    """``store[key]``, computed once and kept among the ``limit`` most recently used (the
    caches every session shares: rewound runs, live figures). ``compute`` runs outside the
    lock, so a slow one does not hold up other sessions."""
    with lock:
        if key in store:
            store.move_to_end(key)
            return store[key]
    value = compute()
    with lock:
        store[key] = value
        store.move_to_end(key)
        while len(store) > limit:
            store.popitem(last=False)
    return value


def cached(run: Run, key: str, compute):
    """A derived view of a run, computed once (e.g. spectra, parameter gradient norms)."""
    if key not in run.cache:
        run.cache[key] = compute()
    return run.cache[key]


def figures(run: Run, key: str, builders: dict, interrupted=None) -> dict | None:
    """The plotly figures of ``builders`` (name -> a function that builds one), built once per
    run and key and kept on the run like ``cached``: each call hands out copies
    (``charts.copy_figure``), which a page changes (the step in a title, a lesson's marks,
    projector sizes) without changing what other sessions are given. Building is most of a
    chart's server time (plotly validates every property: a gate heatmap 20 ms, a copy 2 ms),
    and ``rewind`` builds the figures of the snapshots next to the one shown ahead, in its
    background thread; there ``interrupted()`` is asked before each figure, and once it is
    true nothing is kept and None is returned (a page's frame is waiting for the one thread
    Python runs at a time)."""
    kept = run.cache.get(key)
    if kept is None:
        kept = {}
        for name, build in builders.items():
            if interrupted is not None and interrupted():
                return None
            kept[name] = build()
        run.cache[key] = kept
    return {name: charts.copy_figure(figure) for name, figure in kept.items()}

"""Training jobs for a server shared by many sessions: a process-wide limit on simultaneous
jobs, a bounded cache of finished runs, and de-duplication so that thirty students pressing
Train on the same configuration share one job.

A job trains in one of the shared worker processes of ``rnnviz.serve.pool`` (a training step of
these tiny networks is mostly Python holding the GIL: two jobs as threads of the server would
share one core, and slow down every page the server draws meanwhile). The worker streams the
history a few times a second, so a page draws the live curves from ``Job.history`` here. A run
the workers cannot train (an uploaded data set lives in this process only; a GPU is not shared
between processes) trains in the job's own thread instead.

Nothing here knows about Streamlit; the app's glue (``rnnviz.app.state``) holds one
``JobRegistry`` per server process.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import queue
import threading
import time
from collections import OrderedDict
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field

from rnnviz.core.config import RunConfig
from rnnviz.core.history import History
from rnnviz.core.runs import run_from_bytes
from rnnviz.core.tasks import Chance, chance_for, probe_batch
from rnnviz.core.train import Run, stopped_copy, train
from rnnviz.serve import pool
from rnnviz.serve.limits import max_concurrent_jobs
from rnnviz.serve.speed import Speed
from rnnviz.serve.store import RunStore
from rnnviz.studies.inside import InsideView, inside_view

DEFAULT_CACHE_ENTRIES = 32
DEFAULT_CACHE_BYTES = 256 * 1024 * 1024
RELAY_POLL_S = 0.1  # how often a job thread looks at its worker's messages and its stop flag
# A job that a page watches is stopped when no page has looked at it for this long (a closed
# tab never says goodbye). Pages look every second or so; a browser tab in the background
# slows its timers to once a minute, so the default leaves two of those.
ABANDONED_ENV = "RNNVIZ_ABANDONED_AFTER_S"
DEFAULT_ABANDONED_S = 150.0

log = logging.getLogger(__name__)


def abandoned_after_s() -> float:
    """``RNNVIZ_ABANDONED_AFTER_S`` (default 150 s; a value that is not a positive number falls
    back to the default)."""
    try:
        value = float(os.environ.get(ABANDONED_ENV, DEFAULT_ABANDONED_S))
    except ValueError:
        return DEFAULT_ABANDONED_S
    return value if value > 0 else DEFAULT_ABANDONED_S


def run_nbytes(run: Run) -> int:
    """Approximate memory of a run: weights plus history arrays."""
    weights = sum(p.numel() * p.element_size() for p in run.model.parameters())
    return weights + run.history.nbytes


class RunCache:
    """Finished runs by config key, least recently used evicted first; bounded in entries and in
    bytes. Thread-safe."""

    def __init__(self, max_entries: int = DEFAULT_CACHE_ENTRIES,
                 max_bytes: int = DEFAULT_CACHE_BYTES):
        self.max_entries, self.max_bytes = max_entries, max_bytes
        self._runs: OrderedDict[str, Run] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> Run | None:
        with self._lock:
            run = self._runs.get(key)
            if run is not None:
                self._runs.move_to_end(key)
            return run

    def put(self, run: Run) -> None:
        with self._lock:
            self._runs[run.config.key] = run
            self._runs.move_to_end(run.config.key)
            while len(self._runs) > self.max_entries or (
                    len(self._runs) > 1 and self.nbytes > self.max_bytes):
                self._runs.popitem(last=False)

    @property
    def nbytes(self) -> int:
        return sum(run_nbytes(r) for r in self._runs.values())

    def __len__(self) -> int:
        return len(self._runs)


@dataclass
class Progress:
    """What a page shows while a job runs (written by the worker, read by any session)."""

    state: str = "queued"  # queued | starting | running | done | failed
    step: int = 0
    total: int = 0
    metrics: dict = field(default_factory=dict)
    error: str = ""
    started: float = 0.0


class Job:
    """One training run, trained by a worker process (or this process's job thread, see the
    module docstring) and watched by one or more sessions. Each can leave (``detach``) with a
    copy of what has been learned so far; the run itself stops only when nobody is watching any
    more. ``history`` fills while it trains (None until it starts)."""

    def __init__(self, cfg: RunConfig, slots: threading.Semaphore, on_finish):
        self.cfg = cfg
        self.progress = Progress(total=cfg.steps)
        self.history: History | None = None
        # the inside of the newest snapshot, probe example 0 (None until the first one arrives)
        self.inside: InsideView | None = None
        self.in_worker = pool.can_use_worker(cfg)
        self._slots = slots
        self._on_finish = on_finish
        self._watchers = 1
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._snapshot_wanted = threading.Event()
        self._snapshot_ready = threading.Event()
        self._snapshot: Run | None = None
        self._partial: Run | None = None  # the run being trained here (thread mode)
        self._inside_sent = -math.inf
        self._probe = None  # the probe batch of the live view (thread mode), made once
        # when a page last looked at the job (time.monotonic); None for a job that no page
        # watches (a script's, a pretraining's), which is never stopped for want of a look
        self.seen: float | None = None
        self.abandoned_after: float | None = None  # set when stopped for that reason
        self.trained_s = 0.0  # seconds of training, from the first step's message to the end
        self.result: Run | None = None
        self.thread = threading.Thread(target=self._work, name=f"rnnviz-train-{id(self)}",
                                       daemon=True)

    def start(self) -> Job:
        self.thread.start()
        return self

    @property
    def done(self) -> bool:
        return self.progress.state in ("done", "failed")

    @property
    def chance(self) -> Chance:
        return chance_for(self.cfg)

    def watch(self) -> Job:
        with self._lock:
            self._watchers += 1
        return self

    def touch(self) -> None:
        """A page is looking at this job now (see ``JobRegistry.stop_abandoned``)."""
        self.seen = time.monotonic()

    def abandon(self, unseen_s: float) -> None:
        """Stop training: no page has looked at the job for ``unseen_s`` seconds."""
        self.abandoned_after = unseen_s
        self._stop.set()

    def detach(self, timeout: float = 5.0) -> Run | None:
        """Leave the job and get the model as trained so far. The last watcher to leave stops
        training at once (keeping what was learned); otherwise the job goes on for the others
        and this watcher receives a copy taken between two steps."""
        with self._lock:
            self._watchers -= 1
            last = self._watchers <= 0
        if self.done:
            return self.result
        if last:
            self._stop.set()
            if self.progress.state == "queued":  # nothing learned yet; it leaves the queue
                return None                       # when a slot frees, without training
            self.thread.join(timeout)
            return self.result
        if self.progress.state == "queued":
            return None
        self._snapshot_ready.clear()
        self._snapshot_wanted.set()
        self._snapshot_ready.wait(timeout)
        return self._snapshot or self.result

    def wait(self, timeout: float | None = None) -> Run | None:
        self.thread.join(timeout)
        return self.result

    def _work(self) -> None:
        # the digest is the one in the config's run file name (``store.RunStore.path_for``)
        digest = hashlib.sha256(self.cfg.key.encode("utf-8")).hexdigest()[:16]
        name = f"{self.cfg.cell} on {self.cfg.task}, {self.cfg.steps} steps, {digest}"
        started, finished = time.perf_counter(), False
        try:
            with self._slots:  # wait for a free slot: the job shows as "queued" meanwhile
                self.progress.state = "starting"  # until the first step's message
                if not self._stop.is_set():
                    log.info("job started: %s (%s)", name,
                             "worker process" if self.in_worker else "server thread")
                    started = time.perf_counter()
                    self.result = (self._train_in_worker() if self.in_worker
                                   else self._train_here())
                    if self.progress.started:
                        self.trained_s = time.time() - self.progress.started
            if self.result is not None and self.abandoned_after is not None and \
                    self.result.history.stop_reason.startswith("stopped"):
                self.result.history.stop_reason = (
                    f"stopped at step {self.result.history.steps_done}: no page had looked at "
                    f"it for {self.abandoned_after:.0f} s (its tabs were closed)")
            # the registry keeps the run (its cache) before anyone can see the job done: a
            # lesson page that saw its run's job done and the cache without the run took the
            # run for never started, and said the lesson had failed (seen in CI)
            finished = True
            self._on_finish(self)
            self.progress.state = "done"
            if self.result is not None:
                reason = self.result.history.stop_reason
                if pool.shutting_down() and reason.startswith("stopped"):  # by us, not a user
                    reason = (f"stopped at step {self.result.history.steps_done}: the server "
                              "is shutting down")
                log.info("job finished: %s in %.1f s (%s)", name, time.perf_counter() - started,
                         reason)
        except Exception as err:  # a failing job must never take the server down
            self.progress.error = f"{type(err).__name__}: {err}"
            self.progress.state = "failed"
            # one line, no stack: the reason is the message (a worker that died, a shutdown)
            (log.info if pool.shutting_down() else log.warning)(
                "job failed: %s: %s", name, self.progress.error)
        finally:
            self._snapshot_ready.set()
            if not finished:
                self._on_finish(self)

    def _started(self, history: History) -> None:
        self.history = history
        self.progress.started = time.time()
        self.progress.state = "running"

    # ---- in a worker process ----
    def _train_in_worker(self) -> Run:
        worker = pool.WorkerRun(self.cfg)
        try:
            while not worker.future.done():
                self._relay(worker, timeout=RELAY_POLL_S)
                if self._stop.is_set():
                    worker.stop()
                if self._snapshot_wanted.is_set():
                    self._snapshot_wanted.clear()
                    worker.request_snapshot()
            data = worker.future.result()
        except BrokenProcessPool:  # the worker died (killed, out of memory): say so plainly
            raise RuntimeError("the process training this run stopped unexpectedly (the "
                               "server may be short of memory); press Train to try "
                               "again") from None
        finally:
            worker.close()
        return run_from_bytes(data)

    def _relay(self, worker: pool.WorkerRun, timeout: float) -> None:
        """Apply the worker's messages to this job: progress, history rows, snapshots."""
        try:
            message = worker.messages.get(timeout=timeout)
        except queue.Empty:
            return
        while True:
            _, kind, payload = message
            if kind == "started":
                self._started(History(self.cfg.steps, self.cfg.eval_every, self.cfg.seq_len))
            elif kind == "progress":
                step, _, metrics, delta = payload
                if delta is not None and self.history is not None:
                    self.history.extend(delta)
                self.progress.step, self.progress.metrics = step, metrics
            elif kind == "inside":
                self.inside = payload
            elif kind == "snapshot":
                self._snapshot = run_from_bytes(payload)
                self._snapshot_ready.set()
            try:
                message = worker.messages.get_nowait()
            except queue.Empty:
                return

    # ---- in this process ----
    def _train_here(self) -> Run:
        def on_start(run: Run) -> None:
            self._partial = run
            self._started(run.history)

        return train(self.cfg, on_step=self._on_step, on_start=on_start)

    def _on_step(self, step: int, metrics: dict) -> bool:
        self.progress.step = step
        self.progress.metrics = metrics
        history, now = self._partial.history, time.monotonic()
        if history.probes_kept and history.probe_step[-1] == step and \
                now - self._inside_sent >= pool.INSIDE_INTERVAL_S:  # as a worker does
            self._inside_sent = now
            if self._probe is None:
                self._probe = probe_batch(self.cfg)
            self.inside = inside_view(self._partial.model, *self._probe, step)
        if self._snapshot_wanted.is_set():  # between two steps the model is consistent
            self._snapshot = stopped_copy(self._partial, step)
            self._snapshot_wanted.clear()
            self._snapshot_ready.set()
        return not self._stop.is_set()


class JobRegistry:
    """The server's jobs and finished runs. ``submit`` returns a finished run at once (from the
    memory cache, else from the runs folder), joins a job already training the same config, or
    starts a new one (queued behind the limit). Shared mode (``shared_jobs``) is this registry
    with other jobs: it overrides ``_new_job``, ``_joinable`` and ``_keep``."""

    QUEUED_STATES: tuple[str, ...] = ("queued",)  # the progress states ``queued()`` counts
    # whether jobs no page looks at are stopped here (shared mode has its watcher entries)
    STOPS_ABANDONED = True

    def __init__(self, max_jobs: int | None = None, cache: RunCache | None = None,
                 store: RunStore | None = None):
        self.max_jobs = max_jobs or max_concurrent_jobs()
        self.slots = threading.BoundedSemaphore(self.max_jobs)  # runs trained in this process
        self.cache = cache if cache is not None else RunCache()  # (an empty one is falsy)
        self.store = store if store is not None else RunStore.from_env()  # pre-trained runs
        self._active: dict[str, Job] = {}
        self._lock = threading.Lock()
        self.speed = Speed()  # how fast this server trained its recent jobs
        self._reaper: threading.Thread | None = None

    def lookup(self, cfg: RunConfig) -> Run | None:
        """A finished run of ``cfg`` without training: the memory cache, then the runs folder
        (a run found there joins the cache)."""
        cached = self.cache.get(cfg.key)
        if cached is None:
            cached = self.store.load(cfg)
            if cached is not None:
                self.cache.put(cached)
        return cached

    def submit(self, cfg: RunConfig) -> Run | Job:
        cached = self.lookup(cfg)
        if cached is not None:
            return cached
        with self._lock:
            job = self._active.get(cfg.key)
            if job is not None and self._joinable(job):
                return job.watch()
            job = self._new_job(cfg)
            self._active[cfg.key] = job
            if self.STOPS_ABANDONED and self._reaper is None:
                self._reaper = threading.Thread(target=self._reap, name="rnnviz-abandoned-jobs",
                                                daemon=True)
                self._reaper.start()
        return job.start()

    def _reap(self) -> None:
        limit = abandoned_after_s()
        while True:
            time.sleep(min(5.0, limit / 4))
            self.stop_abandoned(limit)

    def stop_abandoned(self, limit: float | None = None) -> list[Job]:
        """Stop every job that pages watch but none has looked at for ``limit`` seconds
        (default ``abandoned_after_s()``); the jobs stopped. A job another session joined is
        looked at by that session, so it goes on; a job no page watches (``seen`` None) is
        left alone."""
        limit = abandoned_after_s() if limit is None else limit
        now = time.monotonic()
        with self._lock:
            stale = [job for job in self._active.values() if not job.done and
                     job.seen is not None and now - job.seen > limit and
                     job.abandoned_after is None]
        for job in stale:
            log.info("job stopped: no page has looked at %s on %s for %.0f s", job.cfg.cell,
                     job.cfg.task, now - job.seen)
            job.abandon(now - job.seen)
        return stale

    def _new_job(self, cfg: RunConfig) -> Job:
        return Job(cfg, self.slots, self._finished)

    def _joinable(self, job: Job) -> bool:
        return not job.done

    def _finished(self, job: Job) -> None:
        # kept before it leaves the active jobs: a submit of its config in between finds one
        # or the other, never neither (which trained the config again)
        if pool.is_complete(job.result):
            self._keep(job)
        with self._lock:
            if self._active.get(job.cfg.key) is job:
                del self._active[job.cfg.key]
        if job.result is not None and job.trained_s > 0:
            self.speed.record(job.cfg, job.result.history.steps_done, job.trained_s)

    def _keep(self, job: Job) -> None:
        """A finished job's complete run joins the cache."""
        self.cache.put(job.result)

    def jobs(self) -> list[Job]:
        """The jobs training or queued now."""
        with self._lock:
            return list(self._active.values())

    @property
    def active(self) -> int:
        with self._lock:
            return sum(1 for j in self._active.values() if not j.done)

    def queued(self) -> int:
        with self._lock:
            return sum(1 for j in self._active.values()
                       if j.progress.state in self.QUEUED_STATES)

"""The job registry of shared mode: the same interface as ``jobs.JobRegistry`` (``submit``,
``lookup``, ``active``, ``queued``, ``cache``), for many app servers and training workers that
share one Redis. ``rnnviz.app.state`` picks it when ``RNNVIZ_REDIS_URL`` is set.

``submit(cfg)`` returns a finished run at once when this server's cache, the shared store
(``redis_store``) or the runs folder has one. Otherwise it returns a ``SharedJob``: the server
that wins the claim on the config (``SET NX`` with an expiry) queues it for the workers
(``rnnviz.serve.worker``), and every other server pressing Train on it joins that job; a claim
whose owner died frees itself. A ``SharedJob`` is a ``jobs.Job`` whose thread, instead of
relaying a local worker process, reads the job's state, its history deltas and its newest inside
view from Redis a few times a second, so a session on any server draws the live view of a job
any other server started. Stop and leave behave as in embedded mode: the last watcher anywhere
leaving raises the job's stop flag, which the worker reads between two steps. Each server that
watches a job keeps an entry in the job's watcher set, renewed every ``HEARTBEAT_S`` while its
sessions watch; an entry not renewed for ``WATCHER_TTL_S`` (its server died) stops counting, and
a worker whose job nobody watches any more stops it as if the last watcher had left.

Faults end plainly: with no worker the job says "waiting for a training worker"; when its
worker dies and no other takes it over within ``ORPHAN_GRACE_S`` after the claim expired, it
fails with a message; when Redis is unreachable the job (and the page's banner) says "training
is paused: the shared store is unreachable", and the job carries on by itself once Redis answers
again, re-queueing itself if Redis lost it. Runs the workers cannot train (an uploaded data set,
a GPU) train in this server as in embedded mode, and are written through to the shared store.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
import uuid

import redis

from rnnviz.core.config import RunConfig
from rnnviz.core.history import History
from rnnviz.core.models import GATE_NAMES
from rnnviz.core.train import Run
from rnnviz.serve import shared
from rnnviz.serve.jobs import Job, JobRegistry, RunCache
from rnnviz.serve.pool import can_use_worker, is_complete
from rnnviz.serve.redis_store import RedisRunStore
from rnnviz.serve.shared import UNREACHABLE, decoded, text
from rnnviz.serve.store import RunStore, load_run_bytes
from rnnviz.studies.inside import InsideView
from rnnviz.studies.translation import AttentionView

RELAY_POLL_S = 0.25  # how often a watching server reads a job's state from Redis
LOST = ("the training worker stopped unexpectedly and no other worker took the run over; "
        "press Train to try again")
log = logging.getLogger("rnnviz.shared")


class SharedRunCache:
    """This server's ``RunCache`` in front of the shared store: ``get`` looks in both, ``put``
    writes through (what the Compare page's ``train_many`` uses)."""

    def __init__(self, registry: SharedJobRegistry, local: RunCache):
        self.registry, self.local = registry, local

    def get(self, key: str) -> Run | None:
        run = self.local.get(key)
        if run is None:
            run = self.registry.shared_call(
                lambda: self.registry.runs.load(RunConfig.from_dict(json.loads(key))))
            if run is not None:
                self.local.put(run)
        return run

    def put(self, run: Run) -> None:
        self.local.put(run)
        if is_complete(run):
            self.registry.shared_call(lambda: self.registry.runs.save(run))

    def __len__(self) -> int:
        return len(self.local)


class SharedJob(Job):
    """A job of the shared queue, watched from this server (see the module docstring)."""

    def __init__(self, cfg: RunConfig, registry: SharedJobRegistry):
        super().__init__(cfg, registry.slots, registry._finished)
        self.in_worker = True
        self.registry, self.client, self.health = registry, registry.client, registry.health
        self.job_id = shared.config_id(cfg.key)
        self._job = shared.job_key(self.job_id)
        self._token: str | None = None
        self._entered = False
        self._last_event = "0-0"
        self._inside_raw = ""
        self._orphan_since: float | None = None
        self._marked = -float("inf")  # when this server last renewed its watcher entry
        self._left_here = False
        self._gone = threading.Event()  # no session of this server watches any more

    @property
    def abandoned(self) -> bool:
        """No session of this server watches it any more (its relay thread is ending)."""
        return self._gone.is_set()

    def start(self) -> SharedJob:
        """Claim or join at once, so that the first page drawn already says the right state
        (queued, waiting for a worker, paused); the thread then follows the job."""
        try:
            self._enter()
            if self._entered:
                self._poll()
            self.health.ok()
        except UNREACHABLE as err:
            self.health.failed(err)
            self._show("waiting", shared.PAUSED)
        except redis.RedisError as err:  # the thread tries again, and fails the job plainly
            log.warning("job %s: %s: %s", self.job_id, type(err).__name__, err)
        return super().start()

    # ---- the sessions' side ----
    def watch(self) -> SharedJob:
        with self._lock:
            self._watchers += 1
            self._left_here = False
            if self._entered:
                self.registry.shared_call(self._mark_watching)
        return self

    def _mark_watching(self) -> None:
        """Renew this server's entry in the job's watcher set (see the module docstring)."""
        key = shared.watchers_key(self.job_id)
        now = shared.server_time(self.client)
        with self.client.pipeline() as pipe:
            pipe.zadd(key, {self.registry.server_id: now})
            pipe.expire(key, shared.JOB_TTL_S)
            pipe.execute()
        self._marked = time.monotonic()

    def _unwatch(self) -> int:
        """Take this server's entry out; the servers that still watch (fresh entries)."""
        now = shared.server_time(self.client)
        with self.client.pipeline() as pipe:  # MULTI: of two servers leaving at once, the
            pipe.zrem(shared.watchers_key(self.job_id), self.registry.server_id)  # later
            shared.fresh_watchers(pipe, self.job_id, now)  # one sees nobody left
            return int(pipe.execute()[-1])

    def detach(self, timeout: float = 5.0) -> Run | None:
        """Leave the job with the model trained so far; the last watcher on any server stops
        it (see ``jobs.Job.detach``)."""
        with self._lock:
            self._watchers -= 1
            nobody_here = self._watchers <= 0
            self._left_here = nobody_here  # the relay thread renews this server's entry no more
            entered = self._entered
        if self.done:
            return self.result
        try:
            if not nobody_here:  # another session of this server still watches
                return self._snapshot_so_far(timeout)
            left = self._unwatch() if entered else 0
            if left <= 0:
                if self._stop_job():
                    self._gone.set()
                    return None
                self.thread.join(timeout)
                return self.result
            return self._snapshot_so_far(timeout)
        except UNREACHABLE as err:
            self.health.failed(err)
            return None
        finally:
            if nobody_here:
                self._gone.set()

    def _stop_job(self) -> bool:
        """Raise the stop flag; a job still in the queue ends there (True) without training."""
        def stop(pipe) -> bool:
            state = text(pipe.hget(self._job, "state"))
            pipe.multi()
            if state == "queued":
                pipe.hset(self._job, mapping={"state": "done", "outcome": "left"})
                pipe.delete(shared.claim_key(self.job_id))
                return True
            pipe.hset(self._job, "stop", "1")
            return False
        return self.client.transaction(stop, self._job, value_from_callable=True)

    def _snapshot_so_far(self, timeout: float) -> Run | None:
        wanted = self.client.hincrby(self._job, "snapshot_req", 1)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not self.done:
            if int(text(self.client.hget(self._job, "snapshot_served")) or 0) >= wanted:
                data = self.client.get(shared.snapshot_key(self.job_id))
                return self._run_from(data, "snapshot") if data else None
            time.sleep(0.05)
        return self.result

    # ---- the relay thread ----
    def _work(self) -> None:
        try:
            while not self.done and not self._gone.is_set():
                try:
                    if not self._entered:
                        self._enter()
                    if self._entered:  # at once: a page never sees a state between the two
                        self._poll()
                    self.health.ok()
                except UNREACHABLE as err:
                    self.health.failed(err)
                    self._show("waiting", shared.PAUSED)
                self._gone.wait(RELAY_POLL_S)
        except Exception as err:  # a broken job must never take the server down
            log.warning("job %s: %s: %s", self.job_id, type(err).__name__, err)
            self.progress.error = f"{type(err).__name__}: {err}"
            self.progress.state = "failed"
        finally:
            self._snapshot_ready.set()
            self._on_finish(self)

    def _show(self, state: str, error: str = "") -> None:
        if state == "waiting" and self.history is None:  # the Playground's live view (and its
            self.history = History(self.cfg.steps, self.cfg.eval_every,  # waiting line) draws
                                   self.cfg.seq_len)                     # once a history is
        self.progress.state, self.progress.error = state, error          # there

    def _enter(self) -> None:
        """Claim the config and queue the job, or join the job that holds the claim."""
        claim = shared.claim_key(self.job_id)
        watchers, me = shared.watchers_key(self.job_id), self.registry.server_id
        now = shared.server_time(self.client)
        with self._lock:
            if self.client.set(claim, self.registry.server_id, nx=True, ex=shared.CLAIM_TTL_S):
                token = uuid.uuid4().hex
                with self.client.pipeline() as pipe:  # MULTI: joiners see all of it or nothing
                    pipe.delete(self._job, shared.events_key(self.job_id), watchers,
                                shared.result_key(self.job_id), shared.snapshot_key(self.job_id))
                    pipe.hset(self._job, mapping={
                        "config": self.cfg.to_json(), "state": "queued", "token": token,
                        "total": self.cfg.steps, "step": 0, "attempts": 0})
                    pipe.expire(self._job, shared.JOB_TTL_S)
                    pipe.zadd(watchers, {me: now})
                    pipe.expire(watchers, shared.JOB_TTL_S)
                    pipe.xadd(shared.STREAM, {"id": self.job_id, "config": self.cfg.to_json(),
                                              "token": token})
                    entry = pipe.execute()[-1]
                self.client.hset(self._job, "entry", entry)
            else:
                def join(pipe):
                    found = pipe.hget(self._job, "token")
                    if found is None:  # the owner is between its claim and its job
                        return None
                    pipe.multi()
                    pipe.zadd(watchers, {me: now})
                    pipe.expire(watchers, shared.JOB_TTL_S)
                    return text(found)
                token = self.client.transaction(join, self._job, value_from_callable=True)
                if token is None:
                    return
            self._token, self._entered, self._last_event = token, True, "0-0"
            self._marked = time.monotonic()

    def _poll(self) -> None:
        with self.client.pipeline(transaction=False) as pipe:
            pipe.hgetall(self._job)
            pipe.xread({shared.events_key(self.job_id): self._last_event}, count=500)
            pipe.exists(shared.claim_key(self.job_id))
            state, events, claimed = pipe.execute()
        state = decoded(state)
        if state.get("token") != self._token:  # Redis lost the job, or a newer one replaced it
            self._entered = False               # after its end went unseen: claim or join again
            return
        for _, entries in events or ():
            for event_id, fields in entries:
                self._last_event = text(event_id)
                self._apply(decoded(fields))
        self._progress_from(state)
        kind = state.get("state", "queued")
        if kind in ("queued", "starting", "running") and \
                time.monotonic() - self._marked >= shared.HEARTBEAT_S:
            with self._lock:
                if not self._left_here:
                    self._mark_watching()
        if kind == "queued":  # nobody else renews a waiting job: its watchers do
            with self.client.pipeline(transaction=False) as pipe:
                pipe.expire(shared.claim_key(self.job_id), shared.CLAIM_TTL_S)
                pipe.expire(self._job, shared.JOB_TTL_S)
                pipe.execute()
            if shared.workers_alive(self.client):
                self._show("queued")
            else:
                self._show("waiting", shared.WAITING)
        elif kind in ("starting", "running"):
            self._orphan_check(bool(claimed), state)
            self.progress.state, self.progress.error = kind, ""
        elif kind == "done":
            self.result = self._fetch_result(state.get("outcome", ""))
            self.progress.state = "done"
        elif kind == "failed":
            self.progress.error = state.get("error") or "the training failed"
            self.progress.state = "failed"

    def _apply(self, event: dict) -> None:
        if event.get("kind") == "started":  # a first start, or a retry: the history restarts
            self._started(History(self.cfg.steps, self.cfg.eval_every, self.cfg.seq_len))
        elif event.get("kind") == "delta" and self.history is not None:
            try:
                self.history.extend(shared.decode_delta(event.get("data", "")))
            except (ValueError, TypeError, IndexError) as err:
                log.warning("job %s: ignoring a history delta: %s", self.job_id, err)

    def _progress_from(self, state: dict) -> None:
        try:
            self.progress.step = int(state.get("step") or 0)
            self.progress.total = int(state.get("total") or self.cfg.steps)
            metrics = json.loads(state["metrics"]) if state.get("metrics") else {}
            if isinstance(metrics, dict):
                self.progress.metrics = metrics
            if state.get("started"):
                self.progress.started = float(state["started"])
        except ValueError as err:
            log.warning("job %s: ignoring unreadable progress: %s", self.job_id, err)
        raw = state.get("inside", "")
        if raw and raw != self._inside_raw:
            self._inside_raw = raw
            try:
                self.inside = self._fitting(shared.decode_inside(raw))
            except ValueError as err:
                log.warning("job %s: ignoring an inside view: %s", self.job_id, err)

    def _fitting(self, view: InsideView) -> InsideView:
        """The view, when its arrays have the shapes this config's live charts draw."""
        cfg = self.cfg
        if isinstance(view, AttentionView):  # a translation run's: its matrix fits its example
            if view.weights is not None and (view.weights.ndim != 2 or view.weights.shape[1]
                                             != len(view.source)) or \
                    not 0 <= view.step <= cfg.steps:
                raise ValueError("its arrays do not fit the job's config")
            return view
        shape = (cfg.seq_len, cfg.hidden_size)
        if view.cell != cfg.cell or view.hidden.shape != shape or \
                view.grad_h.shape != (cfg.seq_len,) or \
                set(view.gates) != set(GATE_NAMES[cfg.cell] or ()) or \
                any(g.shape != shape for g in view.gates.values()) or \
                not 0 <= view.step <= cfg.steps:
            raise ValueError("its arrays do not fit the job's config")
        return view

    def _orphan_check(self, claimed: bool, state: dict) -> None:
        """A job training without a live claim lost its worker: another one takes it over
        (XAUTOCLAIM) or, after ``ORPHAN_GRACE_S``, its watchers end it with a message."""
        if claimed:
            self._orphan_since = None
            return
        now = time.monotonic()
        self._orphan_since = self._orphan_since or now
        if now - self._orphan_since < shared.ORPHAN_GRACE_S:
            return
        entry = state.get("entry", "")

        def give_up(pipe) -> None:
            current = decoded(pipe.hgetall(self._job))
            if current.get("token") != self._token or pipe.exists(
                    shared.claim_key(self.job_id)) or current.get("state") not in (
                    "starting", "running"):
                return
            pipe.multi()
            pipe.hset(self._job, mapping={"state": "failed", "error": LOST})
            pipe.expire(shared.events_key(self.job_id), shared.JOB_TTL_S)
            if entry:
                pipe.xack(shared.STREAM, shared.GROUP, entry)
                pipe.xdel(shared.STREAM, entry)

        self.client.transaction(give_up, self._job, shared.claim_key(self.job_id))
        log.warning("job %s ended: %s", self.job_id, LOST)

    def _fetch_result(self, outcome: str) -> Run | None:
        data = self.client.get(shared.result_key(self.job_id))
        if data:
            run = self._run_from(data, "result")
            if run is not None:
                return run
        return self.registry.runs.load(self.cfg) if outcome == "stored" else None

    def _run_from(self, data: bytes, what: str) -> Run | None:
        try:
            run = load_run_bytes(data)
        except ValueError as err:
            log.warning("job %s: refusing its %s from the shared store: %s", self.job_id,
                        what, err)
            return None
        if run.config.key != self.cfg.key:
            log.warning("job %s: refusing its %s: it holds another config", self.job_id, what)
            return None
        return run


class SharedJobRegistry(JobRegistry):
    """The server's view of the shared jobs and runs (see the module docstring). A
    ``JobRegistry`` whose jobs are ``SharedJob``s (a run the workers cannot train is a plain
    ``Job`` of this server) and whose cache writes through to the shared store."""

    QUEUED_STATES = ("queued", "waiting")  # "waiting": for a training worker to connect
    STOPS_ABANDONED = False  # the watcher entries (renewed while sessions watch) do it here

    def __init__(self, client: redis.Redis, max_jobs: int | None = None,
                 cache: RunCache | None = None, store: RunStore | None = None,
                 runs: RedisRunStore | None = None):
        self.client = client
        self.health = shared.Health(client)
        self.server_id = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.runs = runs or RedisRunStore(client)
        local = cache if cache is not None else RunCache()
        # lookup reads this cache, then the runs folder, whose pre-trained runs join the
        # shared store through it
        super().__init__(max_jobs, SharedRunCache(self, local), store)

    @classmethod
    def from_url(cls, url: str, **kwargs) -> SharedJobRegistry:
        registry = cls(shared.connect(url), **kwargs)
        log.info("server %s in shared mode: jobs and runs through Redis at %s",
                 registry.server_id, shared.where(registry.client))
        return registry

    def shared_call(self, call, default=None):
        """``call()`` against Redis, or ``default`` while Redis is unreachable (logged once)."""
        if not self.health.check():
            return default
        try:
            value = call()
        except UNREACHABLE as err:
            self.health.failed(err)
            return default
        self.health.ok()
        return value

    def paused_message(self) -> str | None:
        """The banner a page shows while Redis is unreachable; None when all is well."""
        return None if self.health.check() else shared.PAUSED

    def _new_job(self, cfg: RunConfig) -> Job:
        return SharedJob(cfg, self) if can_use_worker(cfg) else super()._new_job(cfg)

    def _joinable(self, job: Job) -> bool:
        # a job whose worker and claim are gone is started afresh, not joined
        return super()._joinable(job) and not (isinstance(job, SharedJob) and job.abandoned)

    def _keep(self, job: Job) -> None:
        if isinstance(job, SharedJob):
            self.cache.local.put(job.result)  # its worker wrote it to the shared store
        else:
            super()._keep(job)  # through the cache into the shared store

    def close(self) -> None:
        """Stop following the shared jobs, as when this server shuts down: their relay threads
        end and this server's watcher entries go (a job other servers watch goes on for them;
        one nobody else watches is stopped by its worker)."""
        with self._lock:
            jobs = list(self._active.values())
        for job in jobs:
            if isinstance(job, SharedJob):
                job._gone.set()
                self.shared_call(lambda job=job: self.client.zrem(
                    shared.watchers_key(job.job_id), self.server_id))

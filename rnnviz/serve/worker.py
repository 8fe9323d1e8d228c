"""``rnnviz worker``: a training worker of shared mode. It takes jobs from the Redis stream
``rnnviz:jobs`` as a member of the consumer group ``rnnviz-workers``, trains each one with
``core.train.train``, writes its progress, history deltas and newest inside view into Redis for
every server watching, and writes the finished run through to the durable store.

Why Redis Streams with a consumer group, and not RQ or Celery. Measured on this 2-core machine
(``redis-server`` 7.0, local; 20 trivial jobs each; then a job holding its worker for 20 s, the
whole worker SIGKILLed, a fresh worker started at once; scripts in docs/queue_measurement)::

    engine                                  enqueue->start       killed worker's job
                                            median     p90       runs again after
    Redis Streams: XREADGROUP, XAUTOCLAIM     0.3 ms    0.4 ms    7.2 s
      (idle > 8 s), XCLAIM heartbeat 2 s
    RQ 3.0, Worker (forks per job), Retry    43.1 ms   43.6 ms    not within 90 s
    RQ 3.0, SimpleWorker, Retry               1.4 ms    3.0 ms    not within 90 s
    RQ 3.0, --maintenance-interval 10       207.8 ms  320.0 ms    not within 200 s
    Celery 5.7 prefork, acks_late,            1.9 ms    2.4 ms    not within 90 s
      reject_on_worker_lost
    Celery 5.7, visibility_timeout 10 s       1.9 ms    3.5 ms    90.4 s

Live progress needs the same few Redis writes with every engine (RQ's ``job.meta``, Celery's
``update_state``, or plain keys), so it does not separate them. What does is the killed worker:
a stream entry stays pending for its consumer until it is acknowledged, and ``XAUTOCLAIM`` with
a minimum idle time hands it to another worker as soon as its owner stops renewing it (the owner
renews it with ``XCLAIM ... JUSTID`` every heartbeat), which keeps the issue's 30 s bound with
room to spare. RQ retries an abandoned job only from its periodic registry cleanup (every 10 min by
default), and even every 10 s the job had not run again 200 s after its worker died;
Celery's Redis transport redelivers an unacknowledged task only after its visibility timeout
(an hour by default) and, even at 10 s, when it next restores unacknowledged messages (90 s
here). Streams also need no extra package and no pickle
(RQ and Celery serialise call arguments, and workers import the task's code by name; here an
entry is a config's JSON), and enqueueing is fastest.

Protocol: Streams' own commands for the queue, plain keys for the rest (``rnnviz.serve.shared``
names them all). The server
that claims a config (``SET NX EX``) writes the job's hash and ``XADD``s an entry carrying the
config's JSON and a token; a worker reads it with ``XREADGROUP``, checks in a ``WATCH``/``MULTI``
transaction that the job still wants training (same token, not stopped), and trains; every
``HEARTBEAT_S`` it renews the claim, its entry's idle time and its presence in
``rnnviz:workers``; at the end it ``XACK``s and ``XDEL``s the entry. An entry whose worker went
silent is taken over by ``XAUTOCLAIM``; a job started ``MAX_ATTEMPTS`` times ends failed with a
plain message. SIGTERM or SIGINT: the worker stops taking jobs, hands the running one back to the
queue (a new entry with the same token, so another worker starts it at once) and leaves.

Each start of a job writes a fresh ``lease`` into its hash, and everything the worker writes
about the job afterwards is conditional on still holding it (a Lua script for the progress, a
``WATCH`` transaction for the heartbeat and the end). So a worker cut off from Redis for longer
than ``RETRY_IDLE_MS`` while another took its job over learns it has lost the job at its next
write, stops training, and writes nothing: only the holder counts the training in
``rnnviz:trained``, saves the run and acknowledges the entry. A job whose watcher set has no
fresh entry (every server watching it died) is stopped as if its last watcher had left, or not
started at all; the worker judges that only once it has reached Redis for ``WATCHER_TTL_S`` (after
an outage the servers need a moment to renew their entries).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import signal
import socket
import sys
import threading
import time
import uuid
from dataclasses import dataclass

import redis
import torch

from rnnviz.core.config import RunConfig
from rnnviz.core.tasks import probe_batch
from rnnviz.core.train import Run, stopped_copy, train
from rnnviz.serve import shared
from rnnviz.serve.pool import INSIDE_INTERVAL_S, PROGRESS_INTERVAL_S, can_use_worker
from rnnviz.serve.redis_store import RedisRunStore
from rnnviz.serve.shared import UNREACHABLE, decoded, text
from rnnviz.serve.store import run_file_bytes
from rnnviz.studies.inside import inside_view

log = logging.getLogger("rnnviz.worker")
FAILED_TWICE = ("the training worker stopped unexpectedly twice while training this run; press "
                "Train to try again")
DEPARTED_IDLE_MS = 3600_000  # a consumer silent this long, holding nothing, is forgotten
READ_BLOCK_MS = 1000  # how long one read of the queue waits (SIGTERM is noticed after it)
LOST_LEASE = ("no longer this worker's (another worker took it over, or its watchers ended it, "
              "while this one could not reach Redis); stopped at step %d, nothing written")
# the progress write, only while the lease is this worker's: KEYS job, events, watchers;
# ARGV lease, delta, step, metrics, WATCHER_TTL_S -> nil (lease lost) or [stop, wanted, watched]
PROGRESS_SCRIPT = """
if redis.call('HGET', KEYS[1], 'lease') ~= ARGV[1] then return false end
redis.call('XADD', KEYS[2], '*', 'kind', 'delta', 'data', ARGV[2])
redis.call('HSET', KEYS[1], 'step', ARGV[3], 'metrics', ARGV[4])
local now = redis.call('TIME')
local since = tonumber(now[1]) + tonumber(now[2]) / 1e6 - tonumber(ARGV[5])
local asked = redis.call('HMGET', KEYS[1], 'stop', 'snapshot_req')
return {asked[1] or '', asked[2] or '0', redis.call('ZCOUNT', KEYS[3], since, '+inf')}
"""


@dataclass
class _Current:
    """The job being trained: what the heartbeat renews."""

    job_id: str
    entry_id: str
    lease: str  # this start's mark in the job's hash; another start replaces it
    lost: bool = False  # another worker holds the job now


def describe(cfg: RunConfig) -> str:
    return f"{cfg.cell} {cfg.task} T={cfg.seq_len} {cfg.steps} steps seed {cfg.seed}"


class Worker:
    """One training worker: ``run()`` until SIGTERM/SIGINT (or ``leave()``)."""

    def __init__(self, client: redis.Redis, store: RedisRunStore | None = None,
                 name: str | None = None):
        self.client = client
        self.store = store or RedisRunStore(client)
        self.id = name or f"{socket.gethostname()}-{os.getpid()}"
        self.health = shared.Health(client)
        self.leaving = threading.Event()
        self.current: _Current | None = None
        self.trained = 0
        self._announced = False
        self._refused = ""  # the last refusal logged
        self.progress_script = client.register_script(PROGRESS_SCRIPT)

    def leave(self, *_) -> None:
        if not self.leaving.is_set():
            log.info("worker %s leaving: takes no more jobs", self.id)
        self.leaving.set()

    # ---- the loop ----
    def run(self) -> int:
        torch.set_num_threads(1)  # a worker trains tiny networks: one thread is fastest
        torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))])  # pay torch._dynamo's import now
        threading.Thread(target=self._heartbeat, name="rnnviz-heartbeat", daemon=True).start()
        joined = False
        while not self.leaving.is_set():
            try:
                if not joined:
                    self._join()
                    joined = True
                entry = self._next()
                if entry is not None:
                    self._handle(*entry)
                self.health.ok()
            except UNREACHABLE as err:
                self.health.failed(err)
                self.leaving.wait(1.0)
            except redis.ResponseError as err:
                if "NOGROUP" in str(err):
                    joined = False  # Redis came back empty (no persistence): join it again
                    continue
                if str(err) != self._refused:  # e.g. out of memory: said once, not per retry
                    self._refused = str(err)
                    log.warning("Redis refused a command (%s); retrying", err)
                self.leaving.wait(1.0)
        try:
            self.client.zrem(shared.WORKERS, self.id)
        except UNREACHABLE:
            pass
        log.info("worker %s left after %d training(s)", self.id, self.trained)
        return 0

    def _join(self) -> None:
        try:
            self.client.xgroup_create(shared.STREAM, shared.GROUP, id="0", mkstream=True)
        except redis.ResponseError as err:
            if "BUSYGROUP" not in str(err):
                raise
        self.client.zadd(shared.WORKERS, {self.id: shared.server_time(self.client)})
        self._forget_departed()
        if not self._announced:
            self._announced = True
            log.info("worker %s joined %s", self.id, shared.where(self.client))

    def _forget_departed(self) -> None:
        """Drop the group's consumers that are long gone and hold nothing (every worker that
        ever ran is one; a dead one's pending entries are left for XAUTOCLAIM)."""
        for consumer in self.client.xinfo_consumers(shared.STREAM, shared.GROUP):
            name = text(consumer.get("name"))
            if name != self.id and not consumer.get("pending") and \
                    int(consumer.get("idle") or 0) > DEPARTED_IDLE_MS:
                self.client.xgroup_delconsumer(shared.STREAM, shared.GROUP, name)
        self.client.zremrangebyscore(shared.WORKERS, "-inf",
                                     shared.server_time(self.client) - DEPARTED_IDLE_MS / 1000)

    def _next(self):
        """``(entry_id, fields, retried)``: first an entry a silent worker left behind, else the
        next new one (waiting up to ``READ_BLOCK_MS``); None when there is none."""
        _, claimed, _ = self.client.xautoclaim(shared.STREAM, shared.GROUP, self.id,
                                               shared.RETRY_IDLE_MS, "0-0", count=1)
        if claimed:
            return text(claimed[0][0]), claimed[0][1], True
        answer = self.client.xreadgroup(shared.GROUP, self.id, {shared.STREAM: ">"}, count=1,
                                        block=READ_BLOCK_MS)
        for _, entries in answer or ():
            for entry_id, fields in entries:
                return text(entry_id), fields, False
        return None

    def _heartbeat(self) -> None:
        while not self.leaving.wait(shared.HEARTBEAT_S):
            self.beat()

    def beat(self) -> None:
        """Renew this worker's presence and, while it trains, its claim and its entry."""
        try:
            self.client.zadd(shared.WORKERS, {self.id: shared.server_time(self.client)})
            current = self.current
            if current is not None and not current.lost and not self._guarded(
                    current, lambda pipe: (
                        pipe.set(shared.claim_key(current.job_id), self.id,
                                 ex=shared.CLAIM_TTL_S),
                        pipe.xclaim(shared.STREAM, shared.GROUP, self.id, 0,
                                    [current.entry_id], justid=True),
                        pipe.expire(shared.job_key(current.job_id), shared.JOB_TTL_S))):
                current.lost = True
            self.health.ok()
        except UNREACHABLE as err:
            self.health.failed(err)

    # ---- one job ----
    def _handle(self, entry_id: str, fields: dict, retried: bool) -> None:
        fields = decoded(fields)
        job_id, token = fields.get("id", ""), fields.get("token", "")
        try:
            cfg = RunConfig.from_dict(json.loads(fields.get("config", "")))
            if shared.config_id(cfg.key) != job_id or not can_use_worker(cfg):
                raise ValueError("it is not a config this worker can train")
        except (ValueError, TypeError, json.JSONDecodeError) as err:
            log.warning("refusing queue entry %s: %s", entry_id, err)
            self._ack(entry_id)
            return
        decision, lease = self._take(job_id, entry_id, token, cfg)
        if decision != "take":
            self._ack(entry_id)
            if decision == "failed":
                log.warning("job %s failed: %s", describe(cfg), FAILED_TWICE)
            return
        if retried:
            log.info("job %s taken over from a worker that went silent", describe(cfg))
        self.current = _Current(job_id, entry_id, lease)
        try:
            self._train(cfg, self.current, token)
        finally:
            self.current = None

    def _take(self, job_id: str, entry_id: str, token: str,
              cfg: RunConfig) -> tuple[str, str]:
        """In one transaction: whether the job still wants training and, if so, this worker's
        name and a new lease on it. ``take``, ``stale`` (another entry or an ended job),
        ``left`` (its last watcher left, or every server watching it died, before it started),
        ``stored`` (the run is in the store already) or ``failed`` (started too often); with
        the lease."""
        job, claim = shared.job_key(job_id), shared.claim_key(job_id)
        stored = self.store.has(cfg)
        now, lease = shared.server_time(self.client), uuid.uuid4().hex

        def decide(pipe) -> str:
            state = decoded(pipe.hgetall(job))
            if state.get("token") != token or state.get("state") not in (
                    "queued", "starting", "running"):
                return "stale"
            unwatched = not shared.fresh_watchers(pipe, job_id, now) and self.may_judge()
            pipe.multi()
            if stored:
                pipe.hset(job, mapping={"state": "done", "outcome": "stored"})
                pipe.delete(claim)
                return "stored"
            if state.get("stop") == "1" or unwatched:
                pipe.hset(job, mapping={"state": "done", "outcome": "left"})
                pipe.delete(claim)
                return "left"
            attempts = int(state.get("attempts") or 0) + 1
            if attempts > shared.MAX_ATTEMPTS:
                pipe.hset(job, mapping={"state": "failed", "error": FAILED_TWICE})
                pipe.delete(claim)
                return "failed"
            pipe.hset(job, mapping={"state": "starting", "worker": self.id, "lease": lease,
                                    "attempts": attempts, "step": 0, "entry": entry_id})
            pipe.set(claim, self.id, ex=shared.CLAIM_TTL_S)
            return "take"

        return self.client.transaction(decide, job, value_from_callable=True), lease

    def may_judge(self) -> bool:
        """Whether an empty watcher set means what it says: Redis has answered this worker
        for ``WATCHER_TTL_S`` (long enough for every live server to have renewed its entry)."""
        return not self.health.down and \
            time.monotonic() - self.health.up_since >= shared.WATCHER_TTL_S

    def _guarded(self, current: _Current, writes) -> bool:
        """``writes(pipe)`` in one transaction if this worker still holds the job's lease and
        the job is still training; False (nothing written) when it does not."""
        job = shared.job_key(current.job_id)

        def check(pipe) -> bool:
            lease, state = (text(v) for v in pipe.hmget(job, ["lease", "state"]))
            if lease != current.lease or state not in ("starting", "running"):
                return False
            pipe.multi()
            writes(pipe)
            return True

        return self.client.transaction(check, job, value_from_callable=True)

    def _train(self, cfg: RunConfig, current: _Current, token: str) -> None:
        live = _LiveReport(self, cfg, current)
        started = time.perf_counter()
        log.info("job %s started on worker %s", describe(cfg), self.id)
        try:
            run = train(cfg, on_step=live.on_step, on_start=live.on_start)
        except Exception as err:  # a failing job must never take the worker down
            message = f"{type(err).__name__}: {err}"
            log.warning("job %s failed: %s", describe(cfg), message)
            self._until_written(lambda: self._guarded(current, lambda pipe: self._end(
                pipe, current, {"state": "failed", "error": message})))
            return
        steps = run.history.steps_done
        complete = not run.history.stop_reason.startswith("stopped")
        if current.lost:
            log.info("job %s: " + LOST_LEASE, describe(cfg), steps)
            return
        if self.leaving.is_set() and not live.stop_asked and not complete:
            if self._until_written(lambda: self._guarded(
                    current, lambda pipe: self._hand_back(pipe, cfg, current, token))):
                log.info("job %s handed back to the queue at step %d", describe(cfg), steps)
            return
        data = run_file_bytes(run)

        def finish(pipe) -> None:
            if complete:
                pipe.hincrby(shared.TRAINED, cfg.key, 1)
            pipe.set(shared.result_key(current.job_id), data, ex=shared.JOB_TTL_S)
            self._end(pipe, current, {"state": "done", "step": steps,
                                      "outcome": "stored" if complete else "stopped"})

        if not self._until_written(lambda: self._guarded(current, finish)):
            log.info("job %s: " + LOST_LEASE, describe(cfg), steps)
            return
        if complete:  # the job is over: nobody else can start it while this is written
            self._until_written(lambda: self.store.save(run) >= 0)
            self.trained += 1
        log.info("job %s %s in %.1f s", describe(cfg), "finished" if complete else
                 f"stopped {live.stop_why} at step {steps}", time.perf_counter() - started)

    @staticmethod
    def _end(pipe, current: _Current, fields: dict) -> None:
        job_id, entry_id = current.job_id, current.entry_id
        pipe.hset(shared.job_key(job_id), mapping=fields)
        pipe.delete(shared.claim_key(job_id))
        pipe.expire(shared.job_key(job_id), shared.JOB_TTL_S)
        pipe.expire(shared.events_key(job_id), shared.JOB_TTL_S)
        pipe.xack(shared.STREAM, shared.GROUP, entry_id)
        pipe.xdel(shared.STREAM, entry_id)

    @staticmethod
    def _hand_back(pipe, cfg: RunConfig, current: _Current, token: str) -> None:
        """Leave the job to another worker at once: its state goes back to queued (this start
        does not count as an attempt), a new entry with the same token joins the queue, and
        this worker's entry is acknowledged."""
        job_id = current.job_id
        pipe.hset(shared.job_key(job_id), mapping={"state": "queued", "step": 0})
        pipe.hincrby(shared.job_key(job_id), "attempts", -1)
        pipe.xadd(shared.STREAM, {"id": job_id, "config": cfg.to_json(), "token": token})
        pipe.xack(shared.STREAM, shared.GROUP, current.entry_id)
        pipe.xdel(shared.STREAM, current.entry_id)

    def _ack(self, entry_id: str) -> None:
        self.client.xack(shared.STREAM, shared.GROUP, entry_id)
        self.client.xdel(shared.STREAM, entry_id)

    def _until_written(self, write) -> bool:
        """Retry a job's last write until Redis takes it (the run is worth waiting for); give up
        only when the worker is asked to leave. ``write()``'s answer, False when given up."""
        while True:
            try:
                done = write()
                self.health.ok()
                return bool(done)
            except UNREACHABLE as err:
                self.health.failed(err)
                if self.leaving.wait(1.0):
                    return False


class _LiveReport:
    """What one training sends while it runs: progress and history deltas every
    ``PROGRESS_INTERVAL_S``, the inside of the newest snapshot every ``INSIDE_INTERVAL_S``, a
    copy of the run so far when a leaving watcher asks; it reads the stop flag, the watcher set
    and the lease at the same moments."""

    def __init__(self, worker: Worker, cfg: RunConfig, current: _Current):
        self.worker, self.cfg, self.current = worker, cfg, current
        self.job_id = current.job_id
        self.client = worker.client
        self.job = shared.job_key(self.job_id)
        self.run: Run | None = None
        self.sent = [0, 0, -1]  # steps, validations and probes seen already sent
        self.last_progress, self.last_inside = 0.0, -math.inf
        self.snapshots_served = 0
        self.stop_asked, self.stop_why = False, ""
        self.probe = probe_batch(cfg)

    def on_start(self, run: Run) -> None:
        self.run = run
        try:
            with self.client.pipeline() as pipe:
                pipe.delete(shared.snapshot_key(self.job_id))
                pipe.xadd(shared.events_key(self.job_id), {"kind": "started"})
                pipe.hset(self.job, mapping={"state": "running", "total": self.cfg.steps,
                                             "started": shared.server_time(self.client)})
                pipe.execute()
        except UNREACHABLE as err:  # training goes on; the watchers catch up when Redis is back
            self.worker.health.failed(err)

    def on_step(self, step: int, metrics: dict) -> bool:
        now = time.monotonic()
        history = self.run.history
        try:
            if history.probes_kept and history.probe_step[-1] == step and \
                    now - self.last_inside >= INSIDE_INTERVAL_S and \
                    not self.current.lost:  # a snapshot was just taken
                self.last_inside = now
                view = inside_view(self.run.model, *self.probe, step)
                self.client.hset(self.job, "inside", shared.encode_inside(view))
            if now - self.last_progress >= PROGRESS_INTERVAL_S or step == self.cfg.steps:
                self.last_progress = now
                self._progress(step, metrics)
        except UNREACHABLE as err:  # training goes on; the next report catches up
            self.worker.health.failed(err)
        return not (self.stop_asked or self.current.lost or self.worker.leaving.is_set())

    def _progress(self, step: int, metrics: dict) -> None:
        if self.current.lost:
            return
        history = self.run.history
        delta = shared.encode_delta(history.delta(*self.sent))
        answer = self.worker.progress_script(
            keys=[self.job, shared.events_key(self.job_id), shared.watchers_key(self.job_id)],
            args=[self.current.lease, delta, step, json.dumps(metrics), shared.WATCHER_TTL_S])
        self.worker.health.ok()
        if answer is None:  # another worker holds the job now
            self.current.lost = True
            return
        stop, wanted, watched = answer
        self.sent[:] = history.steps_done, history.evals_done, history.probes_seen
        if text(stop) == "1":
            self.stop_asked, self.stop_why = True, "by its watchers"
        elif not int(watched) and self.worker.may_judge():
            self.stop_asked, self.stop_why = True, "as no server watches it any more"
        wanted = int(text(wanted) or 0)
        if wanted > self.snapshots_served and not self.stop_asked:
            data = run_file_bytes(stopped_copy(self.run, step))
            with self.client.pipeline() as pipe:
                pipe.set(shared.snapshot_key(self.job_id), data, ex=60)
                pipe.hset(self.job, "snapshot_served", wanted)
                pipe.execute()
            self.snapshots_served = wanted


# ---------------------------------------------------------------- the command


def add_worker_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--name", default=None,
                        help="this worker's name in Redis (default: host name and process id)")
    return parser


def command_worker(args: argparse.Namespace) -> int:
    """Run one worker until SIGTERM or SIGINT; logs one line per event to stderr."""
    url = shared.redis_url()
    if not url:
        raise ValueError(f"worker: set {shared.REDIS_URL_ENV} (e.g. redis://localhost:6379/0); "
                         "a worker trains the jobs of shared mode")
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    worker = Worker(shared.connect(url), name=args.name)
    signal.signal(signal.SIGTERM, worker.leave)
    signal.signal(signal.SIGINT, worker.leave)
    return worker.run()

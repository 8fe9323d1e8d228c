"""The worker pool: warm processes that train runs for every session of this server (the
Playground's jobs, a comparison's three cells, a dependency sweep's grid).

Why worker processes and not threads: these networks are tiny, so a training step is mostly
Python (the optimizer, the autograd bookkeeping) holding the GIL. Measured on 2 cores, three
runs in three threads took 1.2-1.3x the time of the same runs one after another; in worker
processes (one torch thread each) they take well under that (``python -m rnnviz bench
--compare`` prints the table for this machine). The workers are shared by every
caller in the process, the Playground's training jobs (``rnnviz.serve.jobs``) included, and stay
warm between calls; there are ``RNNVIZ_MAX_CONCURRENT_JOBS`` of them (``rnnviz.serve.limits``), so
they also bound how many trainings a server runs at once. They are forked from a ``forkserver``
that has already imported torch and warmed up ``torch._dynamo`` (the first optimizer otherwise
costs ~1.5 s in every fresh process); forking from that clean, single-threaded server is safe in
a multi-threaded web server, where a plain ``fork`` is not. Nor do they re-import the parent's
``__main__``, which in a Streamlit server is a page script (``rnnviz.serve._forkserver``). Each
finished run comes back as the bytes of a run file (``rnnviz.core.runs``), so no tensor memory is
shared between processes.

``rnnviz.serve.many`` trains a comparison's or a sweep's configs on these workers, longest
first. A run whose task lives only in this process's memory (an uploaded data set) or that asks
for a GPU is never sent to a worker (``can_use_worker``).

Shutdown is in order (``_stop_at_exit``, run when the server process exits, e.g. on SIGTERM):
no new pool and no new call is taken, running trainings stop after their current step, and the
workers are joined before the process exits. A worker that is still being started when its
parent exits would find the parent's locks gone (the queues' named semaphores are unlinked at
the parent's exit) and die unpickling them with a ``FileNotFoundError`` traceback in the log.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import math
import multiprocessing
import os
import queue as queue_module
import signal
import threading
import time
from concurrent.futures import ProcessPoolExecutor

import torch

from rnnviz.core.config import FIELDS, RunConfig
from rnnviz.core.runs import run_to_bytes
from rnnviz.core.tasks import probe_batch
from rnnviz.core.train import Run, resolve_device, stopped_copy, train
from rnnviz.serve.limits import max_concurrent_jobs
from rnnviz.studies.inside import inside_view

PROGRESS_INTERVAL_S = 0.2  # a worker reports its step at most this often
INSIDE_INTERVAL_S = 0.4  # and the inside of its newest snapshot at most this often


log = logging.getLogger(__name__)

_METHOD = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
_CONTEXT = multiprocessing.get_context(_METHOD)
if _METHOD == "forkserver":
    # imported once in the fork server, inherited by every worker forked from it
    _CONTEXT.set_forkserver_preload([
        "torch._dynamo", "rnnviz.serve.pool", "rnnviz.serve._forkserver"])


def usable_cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def can_use_worker(cfg: RunConfig) -> bool:
    """A worker process knows the built-in tasks only, and shares no GPU. (A device this machine
    lacks is not for a worker either: training it here fails with the plain message.)"""
    try:
        on_cpu = resolve_device(cfg.device).type == "cpu"
    except ValueError:
        return False
    return cfg.task in (FIELDS["task"].choices or ()) and on_cpu


def is_complete(run: Run | None) -> bool:
    """Whether ``run`` may be shared with every session (cached, stored): only complete,
    deterministic runs are; a run someone stopped is theirs alone."""
    return run is not None and not run.history.stop_reason.startswith("stopped")


# ---------------------------------------------------------------- worker side

_progress_queue = None
_stop_flags = None
_snapshot_flags = None


def _worker_init(progress_queue, stop_flags, snapshot_flags) -> None:
    global _progress_queue, _stop_flags, _snapshot_flags
    _progress_queue, _stop_flags, _snapshot_flags = progress_queue, stop_flags, snapshot_flags
    # Ctrl-C in a terminal reaches the whole process group: the server stops its workers in
    # order (``_stop_at_exit``), so a worker must not die of it with a KeyboardInterrupt trace
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    torch.set_num_threads(1)  # a worker only trains; see rnnviz.core.train on one thread per job


def _train_in_worker(call: int, slot: int, index: int, cfg: RunConfig,
                     live: bool = False) -> bytes:
    """Train ``cfg`` and return the run file's bytes; ``slot`` is the call's stop and snapshot
    flag (``_Call``). Messages ``(call, index, kind, payload)``
    go to the pool's queue: ``("started", None)`` before the first step, then a few times a
    second ``("progress", (step, total, metrics, delta))`` where ``delta`` is the history
    recorded since the last message when ``live`` (else None); when ``live``, also
    ``("inside", InsideView)`` of the newest snapshot, at most every ``INSIDE_INTERVAL_S``;
    and ``("snapshot", bytes)`` of the model trained so far whenever the call's snapshot flag
    is raised."""
    last = [0.0, -math.inf]  # when progress and the inside view were last sent
    sent = [0, 0, -1]  # steps, validations and probes seen already sent
    current: list[Run] = []
    probe = probe_batch(cfg) if live else None

    def report(kind: str, payload) -> None:
        _progress_queue.put((call, index, kind, payload))

    def on_start(run: Run) -> None:
        current.append(run)
        report("started", None)

    def on_step(step: int, metrics: dict) -> bool:
        now = time.monotonic()
        history = current[0].history if current else None
        if live and history.probes_kept and history.probe_step[-1] == step and \
                now - last[1] >= INSIDE_INTERVAL_S:  # a snapshot was just taken: show it
            last[1] = now
            report("inside", inside_view(current[0].model, *probe, step))
        if now - last[0] >= PROGRESS_INTERVAL_S or step == cfg.steps:
            last[0] = now
            delta = None
            if live:
                delta = history.delta(*sent)
                sent[:] = history.steps_done, history.evals_done, history.probes_seen
            report("progress", (step, cfg.steps, metrics, delta))
        if _snapshot_flags[slot]:
            _snapshot_flags[slot] = 0
            report("snapshot", run_to_bytes(stopped_copy(current[0], step)))
        return not _stop_flags[slot]

    return run_to_bytes(train(cfg, on_step=on_step, on_start=on_start))


# ---------------------------------------------------------------- the shared pool

_STOP_SLOTS = 256  # calls in flight at once, at most (a stop flag and a snapshot flag each)


class PoolBusy(RuntimeError):
    """Every flag slot is held by a call in flight: no further call can be told to stop."""


@dataclasses.dataclass(eq=False)
class _Call:
    """One caller's trainings in the pool. ``id`` routes the workers' messages to ``listener``
    and is never reused. ``slot`` indexes the shared stop and snapshot flags; it goes back to
    the pool only when the call is closed *and* every training it submitted has ended, so a
    worker still finishing its step never reads (or a late ``stop`` never writes) the flag of
    a newer call. (Slots given round-robin by call number did: two calls 256 apart shared
    one flag, so opening the newer one cleared a stop meant for the older, and stopping either
    stopped both.)"""

    id: int
    slot: int
    listener: queue_module.SimpleQueue
    pending: int = 0
    closed: bool = False


class _Pool:
    """Warm worker processes shared by every caller in this process (every session of a
    server): started once, so a comparison pays no process start-up, and the number of
    trainings running at once on the server stays at the number of workers.

    Workers report progress on one queue; a dispatcher thread hands each message to the
    queue of the call it belongs to, so each caller reads its own progress in its own thread.
    """

    def __init__(self, workers: int):
        self.workers = workers
        self.progress = _CONTEXT.Queue()
        self.stop_flags = _CONTEXT.Array("b", _STOP_SLOTS, lock=False)
        self.snapshot_flags = _CONTEXT.Array("b", _STOP_SLOTS, lock=False)
        self.executor = ProcessPoolExecutor(workers, mp_context=_CONTEXT,
                                            initializer=_worker_init,
                                            initargs=(self.progress, self.stop_flags,
                                                      self.snapshot_flags))
        self._listeners: dict[int, queue_module.SimpleQueue] = {}
        self._lock = threading.Lock()
        self._calls = itertools.count()
        self._free_slots = list(range(_STOP_SLOTS))
        self._closed = False
        self._dispatcher = threading.Thread(target=self._dispatch, name="rnnviz-compare-progress",
                                            daemon=True)
        self._dispatcher.start()

    def _dispatch(self) -> None:
        while not self._closed:
            try:
                message = self.progress.get(timeout=1.0)
            except queue_module.Empty:
                continue
            except (EOFError, OSError, ValueError):  # the queue was closed: the pool is gone
                return
            with self._lock:
                listener = self._listeners.get(message[0])
            if listener is not None:
                listener.put(message[1:])

    def open_call(self) -> _Call:
        with self._lock:
            if not self._free_slots:
                raise PoolBusy(f"{_STOP_SLOTS} trainings are already waiting for this server's "
                               "workers; press Train again in a minute")
            call = _Call(next(self._calls), self._free_slots.pop(), queue_module.SimpleQueue())
            self.stop_flags[call.slot] = 0
            self.snapshot_flags[call.slot] = 0
            self._listeners[call.id] = call.listener
        return call

    def submit(self, call: _Call, index: int, cfg: RunConfig, live: bool = False):
        """Queue one training of ``call`` on the workers; its future."""
        with self._lock:
            call.pending += 1
        try:
            future = self.executor.submit(_train_in_worker, call.id, call.slot, index, cfg, live)
        except BaseException:
            self._ended(call)
            raise
        # outside the lock: a future that has already ended runs the callback right here
        future.add_done_callback(lambda _: self._ended(call))
        return future

    def _ended(self, call: _Call) -> None:
        with self._lock:
            call.pending -= 1
            self._release(call)

    def close_call(self, call: _Call) -> None:
        with self._lock:
            self._listeners.pop(call.id, None)
            call.closed = True
            self._release(call)

    def _release(self, call: _Call) -> None:  # under self._lock
        if call.closed and call.pending == 0 and call.slot >= 0:
            self._free_slots.append(call.slot)
            call.slot = -1

    def stop(self, call: _Call) -> None:
        """Every training of ``call`` stops after its current step (a no-op once it has
        ended: its slot may belong to another call by then)."""
        with self._lock:
            if call.slot >= 0:
                self.stop_flags[call.slot] = 1

    def request_snapshot(self, call: _Call) -> None:
        with self._lock:
            if call.slot >= 0:
                self.snapshot_flags[call.slot] = 1

    @property
    def broken(self) -> bool:
        return bool(getattr(self.executor, "_broken", False))

    def shutdown(self) -> None:
        """Stop every running training after its current step, cancel the calls not started,
        and join the workers. The dispatcher drains the queue meanwhile: a worker whose last
        messages found the pipe full could not exit."""
        self.stop_flags[:] = [1] * _STOP_SLOTS
        self.executor.shutdown(wait=True, cancel_futures=True)
        self._closed = True
        self._dispatcher.join(timeout=5)
        self.progress.close()
        self.progress.join_thread()


class PoolClosed(RuntimeError):
    """The server is shutting down: no training starts any more."""


_pool: _Pool | None = None
_pool_lock = threading.Lock()
_closing = False  # set once, when this process exits


def shared_pool() -> _Pool:
    global _pool
    with _pool_lock:
        if _closing:
            raise PoolClosed("the server is shutting down; press Train again in a moment")
        if _pool is not None and _pool.broken:  # a worker that died (e.g. killed) breaks a pool
            log.warning("a training worker process died; starting new worker processes")
        if _pool is None or _pool.broken:
            _register_exit_once()
            _pool = _Pool(max_concurrent_jobs())
            log.info("training workers: starting %d worker processes (%s)", _pool.workers,
                     _METHOD)
        return _pool


_exit_registered = False


def _register_exit_once() -> None:
    """Stop the workers when this process exits, before Python joins its threads: the same
    hook ``concurrent.futures`` uses for its own pools, registered after it and so run before
    it (its own would wait for every running training to finish)."""
    global _exit_registered
    if not _exit_registered:
        register = getattr(threading, "_register_atexit", None)
        if register is None:  # not CPython: at exit, a little later
            import atexit
            register = atexit.register
        try:
            register(_stop_at_exit)
        except RuntimeError:  # the interpreter is already shutting down
            raise PoolClosed("the server is shutting down") from None
        _exit_registered = True


def shutting_down() -> bool:
    """Whether this process is stopping its workers for good (no training starts any more)."""
    return _closing


def close() -> None:
    """Stop the workers for good, as the server stops: a running job ends with "the server is
    shutting down", and no training starts any more in this process."""
    global _closing
    with _pool_lock:
        _closing = True
    shutdown_workers()


_stop_at_exit = close


def _ping() -> int:
    return os.getpid()


def warm_up() -> None:
    """Start the shared workers in the background (the first start imports torch: seconds),
    so that a page can call this when it opens and the first comparison starts at once."""
    def start() -> None:
        started = time.perf_counter()
        try:
            pool = shared_pool()
            for future in [pool.executor.submit(_ping) for _ in range(pool.workers)]:
                future.result()
            log.info("training workers ready in %.1f s", time.perf_counter() - started)
        except Exception:  # a failed warm-up only means the first real call starts them
            pass
    if _pool is None:
        threading.Thread(target=start, name="rnnviz-compare-warm-up", daemon=True).start()


def shutdown_workers() -> None:
    """Stop the shared worker processes (the next ``train_many`` starts new ones)."""
    global _pool
    with _pool_lock:
        if _pool is not None:
            _pool.shutdown()
            _pool = None
            log.info("training workers stopped")


class WorkerRun:
    """One run trained in the shared pool and watched from this process (a Playground job):
    ``messages`` receives the worker's ``(index, kind, payload)`` messages (see
    ``_train_in_worker``; the history deltas are on), ``future`` its run file's bytes."""

    def __init__(self, cfg: RunConfig):
        self._pool = shared_pool()
        self._call = self._pool.open_call()
        self.messages = self._call.listener
        try:
            self.future = self._pool.submit(self._call, 0, cfg, live=True)
        except RuntimeError:  # the pool shut down between the two lines: the process exits
            self._pool.close_call(self._call)
            if _closing:
                raise PoolClosed("the server is shutting down; press Train again in a "
                                 "moment") from None
            raise

    def stop(self) -> None:
        """The worker stops after its current step and returns what was learned."""
        self._pool.stop(self._call)

    def request_snapshot(self) -> None:
        """The worker sends a copy of the model as trained so far after its current step."""
        self._pool.request_snapshot(self._call)

    def close(self) -> None:
        self.stop()  # a no-op for a finished run; a job that fails here must not train on
        self._pool.close_call(self._call)

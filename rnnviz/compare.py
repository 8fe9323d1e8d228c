"""Train several runs at once (a vanilla RNN, an LSTM and a GRU on the same task, seed and
budget), and the *dependency sweep*: train each cell at a list of sequence lengths or copy lags
and read where each one stops learning.

Why worker processes and not threads: these networks are tiny, so a training step is mostly
Python (the optimizer, the autograd bookkeeping) holding the GIL. Measured on 2 cores, three
runs in three threads took 1.2-1.3x the time of the same runs one after another; in worker
processes (one torch thread each) they take well under that (``python -m rnnviz bench
--compare`` prints the table for this machine). The workers are shared by every
caller in the process, the Playground's training jobs (``rnnviz.jobs``) included, and stay
warm between calls; there are ``RNNVIZ_MAX_CONCURRENT_JOBS`` of them (``rnnviz.limits``), so
they also bound how many trainings a server runs at once. They are forked from a ``forkserver``
that has already imported torch and warmed up ``torch._dynamo`` (the first optimizer otherwise
costs ~1.5 s in every fresh process); forking from that clean, single-threaded server is safe in
a multi-threaded web server, where a plain ``fork`` is not. Nor do they re-import the parent's
``__main__``, which in a Streamlit server is a page script (``rnnviz._forkserver``). Each
finished run comes back as the bytes of a run file (``rnnviz.runs``), so no tensor memory is
shared between processes.

The configs are started longest first (a rough cost estimate), which packs three runs on two
workers well. A run whose task lives only in this process's memory (an uploaded data set) or
that asks for a GPU is trained here, one after another.
"""

from __future__ import annotations

import itertools
import math
import multiprocessing
import os
import queue as queue_module
import re
import statistics
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Callable, Iterable

import torch

from .config import FIELDS, RunConfig
from .limits import max_concurrent_jobs
from .runs import run_from_bytes, run_to_bytes
from .tasks import TASKS, chance_for
from .train import Run, resolve_device, stopped_copy, train

CELLS = ("rnn", "lstm", "gru")
SWEEP_PARAMS = ("seq_len", "lag")
PROGRESS_INTERVAL_S = 0.2  # a worker reports its step at most this often
# relative cost of one step per cell, measured on CPU at the default sizes (only used to start
# the longest runs first; a wrong guess costs a little packing, never a wrong result)
CELL_COST = {"rnn": 1.0, "lstm": 1.6, "gru": 2.0}

OnProgress = Callable[[int, int, int], "bool | None"]  # (config index, step, total steps)

_METHOD = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
_CONTEXT = multiprocessing.get_context(_METHOD)
if _METHOD == "forkserver":
    # imported once in the fork server, inherited by every worker forked from it
    _CONTEXT.set_forkserver_preload(["torch._dynamo", "rnnviz.compare", "rnnviz._forkserver"])


def usable_cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def estimated_cost(cfg: RunConfig) -> float:
    """Relative training time of a config (for ordering only)."""
    return CELL_COST.get(cfg.cell, 1.5) * cfg.steps * cfg.seq_len * cfg.num_layers * (
        1 + cfg.hidden_size / 64)


def can_use_worker(cfg: RunConfig) -> bool:
    """A worker process knows the built-in tasks only, and shares no GPU. (A device this machine
    lacks is not for a worker either: training it here fails with the plain message.)"""
    try:
        on_cpu = resolve_device(cfg.device).type == "cpu"
    except ValueError:
        return False
    return cfg.task in (FIELDS["task"].choices or ()) and on_cpu


def _complete(run: Run) -> bool:
    """Only complete, deterministic runs are shared through the cache (as in JobRegistry)."""
    return not run.history.stop_reason.startswith("stopped")


# ---------------------------------------------------------------- worker side

_progress_queue = None
_stop_flags = None
_snapshot_flags = None


def _worker_init(progress_queue, stop_flags, snapshot_flags) -> None:
    global _progress_queue, _stop_flags, _snapshot_flags
    _progress_queue, _stop_flags, _snapshot_flags = progress_queue, stop_flags, snapshot_flags
    torch.set_num_threads(1)  # a worker only trains; see rnnviz.train on one thread per job


def _train_in_worker(call: int, index: int, cfg: RunConfig, live: bool = False) -> bytes:
    """Train ``cfg`` and return the run file's bytes. Messages ``(call, index, kind, payload)``
    go to the pool's queue: ``("started", None)`` before the first step, then a few times a
    second ``("progress", (step, total, metrics, delta))`` where ``delta`` is the history
    recorded since the last message when ``live`` (else None), and ``("snapshot", bytes)`` of
    the model trained so far whenever the call's snapshot flag is raised."""
    slot = call % _STOP_SLOTS
    last = [0.0]
    sent = [0, 0]  # steps and validations already sent
    current: list[Run] = []

    def report(kind: str, payload) -> None:
        _progress_queue.put((call, index, kind, payload))

    def on_start(run: Run) -> None:
        current.append(run)
        report("started", None)

    def on_step(step: int, metrics: dict) -> bool:
        now = time.monotonic()
        if now - last[0] >= PROGRESS_INTERVAL_S or step == cfg.steps:
            last[0] = now
            delta = None
            if live:
                history = current[0].history
                delta = history.delta(*sent)
                sent[:] = history.steps_done, history.evals_done
            report("progress", (step, cfg.steps, metrics, delta))
        if _snapshot_flags[slot]:
            _snapshot_flags[slot] = 0
            report("snapshot", run_to_bytes(stopped_copy(current[0], step)))
        return not _stop_flags[slot]

    return run_to_bytes(train(cfg, on_step=on_step, on_start=on_start))


# ---------------------------------------------------------------- the shared pool

_STOP_SLOTS = 256  # calls in flight at once, at most (a stop flag each, reused round-robin)


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
        self._closed = False
        threading.Thread(target=self._dispatch, name="rnnviz-compare-progress",
                         daemon=True).start()

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

    def open_call(self) -> tuple[int, queue_module.SimpleQueue]:
        call = next(self._calls)
        listener = queue_module.SimpleQueue()
        self.stop_flags[call % _STOP_SLOTS] = 0
        self.snapshot_flags[call % _STOP_SLOTS] = 0
        with self._lock:
            self._listeners[call] = listener
        return call, listener

    def close_call(self, call: int) -> None:
        with self._lock:
            self._listeners.pop(call, None)

    @property
    def broken(self) -> bool:
        return bool(getattr(self.executor, "_broken", False))

    def shutdown(self) -> None:
        self._closed = True
        self.executor.shutdown(wait=True, cancel_futures=True)
        self.progress.close()


_pool: _Pool | None = None
_pool_lock = threading.Lock()


def _shared_pool() -> _Pool:
    global _pool
    with _pool_lock:
        if _pool is None or _pool.broken:  # a worker that died (e.g. killed) breaks a pool
            _pool = _Pool(max_concurrent_jobs())
        return _pool


def _ping() -> int:
    return os.getpid()


def warm_up() -> None:
    """Start the shared workers in the background (the first start imports torch: seconds),
    so that a page can call this when it opens and the first comparison starts at once."""
    def start() -> None:
        try:
            pool = _shared_pool()
            for future in [pool.executor.submit(_ping) for _ in range(pool.workers)]:
                future.result()
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


class WorkerRun:
    """One run trained in the shared pool and watched from this process (a Playground job):
    ``messages`` receives the worker's ``(index, kind, payload)`` messages (see
    ``_train_in_worker``; the history deltas are on), ``future`` its run file's bytes."""

    def __init__(self, cfg: RunConfig):
        self._pool = _shared_pool()
        self._call, self.messages = self._pool.open_call()
        self.future = self._pool.executor.submit(_train_in_worker, self._call, 0, cfg, True)

    def stop(self) -> None:
        """The worker stops after its current step and returns what was learned."""
        self._pool.stop_flags[self._call % _STOP_SLOTS] = 1

    def request_snapshot(self) -> None:
        """The worker sends a copy of the model as trained so far after its current step."""
        self._pool.snapshot_flags[self._call % _STOP_SLOTS] = 1

    def close(self) -> None:
        self.stop()  # a no-op for a finished run; a job that fails here must not train on
        self._pool.close_call(self._call)


# ---------------------------------------------------------------- caller side


def train_many(configs: Iterable[RunConfig], on_progress: OnProgress | None = None, *,
               workers: int | None = None, cache=None) -> list[Run]:
    """Train every config, concurrently where possible; returns the runs in the given order.

    Args:
        configs: the runs to train (equal configs are trained once and share one Run).
        on_progress: ``on_progress(index, step, total)`` is called *in the calling thread* a few
            times a second per run (and once at the end of each); returning ``False`` stops
            every run of this call at once, keeping what was learned. An exception raised in it
            stops them too and propagates.
        workers: at most this many of these runs train at once (default: one per usable core;
            the shared pool never runs more than that).
        cache: an object with ``get(key) -> Run | None`` and ``put(run)`` (the app passes the
            server's ``RunCache``): runs found there are not retrained; complete new runs are
            put there.
    """
    configs = list(configs)
    runs: list[Run | None] = [None] * len(configs)
    first_index: dict[str, int] = {}  # config key -> the index that trains it
    todo: list[int] = []
    for index, cfg in enumerate(configs):
        if cfg.key in first_index:
            continue
        first_index[cfg.key] = index
        hit = cache.get(cfg.key) if cache is not None else None
        if hit is not None:
            runs[index] = hit
            if on_progress is not None:
                on_progress(index, hit.history.steps_done, cfg.steps)
        else:
            todo.append(index)
    todo.sort(key=lambda i: estimated_cost(configs[i]), reverse=True)
    in_workers = [i for i in todo if can_use_worker(configs[i])]
    here = [i for i in todo if i not in in_workers]
    workers = min(workers or usable_cores(), usable_cores(), len(in_workers))
    if workers < 2:  # one run (or one core) gains nothing from a worker: train here
        here, in_workers = todo, []
    stopped = False
    if in_workers:
        stopped = _train_in_processes(configs, in_workers, runs, on_progress, workers)
    for index in here:
        if stopped:
            break
        runs[index], stopped = _train_here(configs[index], index, on_progress)
    for index in todo:
        if runs[index] is not None and cache is not None and _complete(runs[index]):
            cache.put(runs[index])
    for index, cfg in enumerate(configs):
        runs[index] = runs[first_index[cfg.key]]
    return runs


def _train_here(cfg: RunConfig, index: int, on_progress: OnProgress | None):
    stop = [False]
    last = [0.0]

    def on_step(step: int, metrics: dict) -> bool:
        now = time.monotonic()
        if on_progress is not None and (now - last[0] >= PROGRESS_INTERVAL_S
                                        or step == cfg.steps):
            last[0] = now
            stop[0] = on_progress(index, step, cfg.steps) is False
        return not stop[0]

    return train(cfg, on_step=on_step), stop[0]


def _train_in_processes(configs, indices, runs, on_progress, workers) -> bool:
    """Train ``configs[i]`` for i in ``indices`` in the shared pool, at most ``workers`` at a
    time, longest first; fills ``runs``. True if ``on_progress`` asked to stop."""
    pool = _shared_pool()
    call, listener = pool.open_call()
    stopped = False

    def drain() -> None:
        nonlocal stopped
        while True:
            try:
                index, kind, payload = listener.get_nowait()
            except queue_module.Empty:
                return
            if kind != "progress":
                continue
            step, total = payload[:2]
            if on_progress is not None and on_progress(index, step, total) is False:
                stopped = True
                pool.stop_flags[call % _STOP_SLOTS] = 1

    waiting = list(indices)
    running: dict = {}
    try:
        while waiting or running:
            while waiting and len(running) < workers:
                index = waiting.pop(0)
                running[pool.executor.submit(_train_in_worker, call, index,
                                             configs[index])] = index
            done, _ = wait(running, timeout=0.1, return_when=FIRST_COMPLETED)
            drain()
            for future in done:
                runs[running.pop(future)] = run_from_bytes(future.result())
        drain()
    except BaseException:
        pool.stop_flags[call % _STOP_SLOTS] = 1  # running workers stop after their step
        for future in running:
            future.cancel()
        raise
    finally:
        pool.close_call(call)
    return stopped


# ---------------------------------------------------------------- the dependency sweep


@dataclass
class SweepResult:
    """Final validation metric of each cell at each length: the "where does it break" chart.

    ``metric[cell][k]`` belongs to ``lengths[k]`` (NaN if the run has no validation);
    ``chance[k]`` is the task's chance metric at that length.
    """

    param: str  # "seq_len" or "lag"
    lengths: list[int]
    cells: list[str]
    task: str
    metric_name: str
    higher_is_better: bool
    chance: list[float]
    metric: dict[str, list[float]]
    loss: dict[str, list[float]]
    stop_reasons: dict[str, list[str]]
    configs: dict[str, list[RunConfig]]
    elapsed_s: float = 0.0
    base: RunConfig | None = field(default=None, repr=False)

    @property
    def param_label(self) -> str:
        return "copy lag" if self.param == "lag" else "sequence length T"

    def breaking_point(self, cell: str, margin: float = 0.5) -> int | None:
        """The first length at which ``cell`` keeps less than ``margin`` of the way from chance
        to perfect (accuracy 1 / MSE 0); None if it never does."""
        for length, value, chance in zip(self.lengths, self.metric[cell], self.chance):
            if not math.isfinite(value):
                return length
            progress = (value - chance) / (1 - chance) if self.higher_is_better else \
                (chance - value) / chance if chance > 0 else 0.0
            if progress < margin:
                return length
        return None


def parse_lengths(text: str) -> list[int]:
    """``"5, 10 20"`` -> ``[5, 10, 20]`` (sorted, without repeats). ValueError in plain words."""
    words = [w for w in re.split(r"[,;\s]+", text.strip()) if w]
    if not words:
        raise ValueError("no lengths given: type whole numbers separated by commas, e.g. "
                         "5, 10, 20, 40")
    lengths = []
    for word in words:
        try:
            number = float(word)
        except ValueError:
            raise ValueError(f"“{word}” is not a number: type whole numbers separated by "
                             "commas, e.g. 5, 10, 20, 40") from None
        if not math.isfinite(number) or number != int(number):
            raise ValueError(f"“{word}” is not a whole number")
        lengths.append(int(number))
    return sorted(set(lengths))


def sweep_configs(base_cfg: RunConfig, cells: Iterable[str], lengths: Iterable[int],
                  param: str = "seq_len") -> dict[str, list[RunConfig]]:
    """The grid of a sweep, ``{cell: [config per length]}`` (lengths ascending, without
    repeats); ValueError in plain words when a choice cannot be trained (no cells, a length
    out of range, a lag not below the length)."""
    cells, lengths = list(dict.fromkeys(cells)), sorted(set(int(n) for n in lengths))
    if not cells:
        raise ValueError("choose at least one cell")
    unknown = [c for c in cells if c not in CELLS]
    if unknown:
        raise ValueError(f"unknown cell {unknown[0]!r}; choose from {', '.join(CELLS)}")
    if param not in SWEEP_PARAMS:
        raise ValueError(f"the sweep varies seq_len or lag, not {param!r}")
    if param == "lag" and base_cfg.task != "copy":
        raise ValueError("the copy lag only exists in the copy task; sweep the sequence "
                         "length instead, or choose the copy task")
    if not lengths:
        raise ValueError("give at least one length")
    spec = FIELDS[param]
    for length in lengths:
        if not spec.low <= length <= spec.high:
            raise ValueError(f"{spec.label.lower()} {length} is out of range: allowed "
                             f"{spec.describe()}")
        if param == "lag" and length >= base_cfg.seq_len:
            raise ValueError(f"a copy lag of {length} needs sequences longer than {length} "
                             f"steps, but the sequence length is {base_cfg.seq_len}: raise the "
                             "sequence length or drop that lag")
        if param == "seq_len" and base_cfg.task == "copy" and base_cfg.lag >= length:
            raise ValueError(f"the copy lag is {base_cfg.lag}, so every sequence length must "
                             f"be larger than {base_cfg.lag} (got {length})")
    return {cell: [base_cfg.replace(cell=cell, **{param: length}) for length in lengths]
            for cell in cells}


def _final_validation(run: Run) -> tuple[float, float]:
    history = run.history
    if not len(history.val_metric):
        return float("nan"), float("nan")
    return float(history.val_metric[-1]), float(history.val_loss[-1])


def dependency_sweep(base_cfg: RunConfig, cells: Iterable[str], lengths: Iterable[int],
                     param: str = "seq_len", on_progress: OnProgress | None = None, *,
                     workers: int | None = None, cache=None) -> SweepResult:
    """Train every cell at every length (``param`` = "seq_len" or "lag"; everything else from
    ``base_cfg``) with ``train_many`` and collect each run's final validation metric.

    ``on_progress(index, step, total)`` numbers the runs cell by cell, length by length.
    """
    grid = sweep_configs(base_cfg, cells, lengths, param)
    lengths = [getattr(c, param) for c in next(iter(grid.values()))]
    flat = [cfg for configs in grid.values() for cfg in configs]
    started = time.perf_counter()
    runs = train_many(flat, on_progress, workers=workers, cache=cache)
    elapsed = time.perf_counter() - started
    task = TASKS[base_cfg.task]
    result = SweepResult(
        param=param, lengths=lengths, cells=list(grid), task=base_cfg.task,
        metric_name=task.metric_name, higher_is_better=task.higher_is_better,
        chance=[chance_for(c).metric for c in grid[next(iter(grid))]],
        metric={}, loss={}, stop_reasons={}, configs=grid, elapsed_s=elapsed, base=base_cfg)
    for position, cell in enumerate(grid):
        cell_runs = runs[position * len(lengths): (position + 1) * len(lengths)]
        finals = [_final_validation(r) for r in cell_runs]
        result.metric[cell] = [m for m, _ in finals]
        result.loss[cell] = [l for _, l in finals]
        result.stop_reasons[cell] = [r.history.stop_reason for r in cell_runs]
    return result


# ---------------------------------------------------------------- benchmark


def _idle_cores(sample_s: float = 1.0) -> float:
    """How many cores sat idle over the next ``sample_s`` seconds (Linux /proc/stat; NaN
    elsewhere): the machine's spare capacity just before a timing."""
    def read() -> tuple[int, int]:
        with open("/proc/stat") as stat:
            fields = [int(v) for v in stat.readline().split()[1:]]
        return fields[3] + fields[4], sum(fields)  # idle + iowait, total
    try:
        idle0, total0 = read()
        time.sleep(sample_s)
        idle1, total1 = read()
    except (OSError, ValueError, IndexError):
        return float("nan")
    cores = os.cpu_count() or 1
    return cores * (idle1 - idle0) / max(total1 - total0, 1)


def bench_compare(steps: int = 300, repeats: int = 3, base: RunConfig | None = None,
                  cells: Iterable[str] = CELLS, print_fn=print) -> dict:
    """Time a comparison trained together (``train_many``) against the same runs trained one
    after another in this process (``train``), interleaved ``repeats`` times; prints a table and
    returns the timings. The fork server's one-time start is timed separately (a server pays it
    once, at its first comparison)."""
    if steps < 10 or repeats < 1:
        raise ValueError("bench: --steps must be at least 10 and --repeats at least 1")
    base = base or RunConfig(steps=steps, device="cpu")
    base = base.replace(steps=steps, device="cpu")
    configs = [base.replace(cell=c) for c in cells]
    started = time.perf_counter()
    warm = [base.replace(cell=c, steps=2) for c in ("rnn", "gru")]
    train_many(warm)  # starts the fork server and its workers' imports
    startup = time.perf_counter() - started
    train(warm[0])  # this process's own first-optimizer import, out of the timings
    together, one_by_one, loads = [], [], []
    for repeat in range(repeats):  # interleaved, alternating which goes first
        loads.append(_idle_cores())
        for variant in (("seq", "par") if repeat % 2 == 0 else ("par", "seq")):
            started = time.perf_counter()
            if variant == "seq":
                for cfg in configs:
                    train(cfg)
                one_by_one.append(time.perf_counter() - started)
            else:
                train_many(configs)
                together.append(time.perf_counter() - started)
    ratios = [p / s for p, s in zip(together, one_by_one)]
    median_ratio = statistics.median(together) / statistics.median(one_by_one)
    print_fn(f"{len(configs)} cells ({', '.join(c.cell for c in configs)}) on {base.task}, "
             f"seq_len {base.seq_len}, hidden {base.hidden_size}, batch {base.batch_size}, "
             f"{steps} steps each; {usable_cores()} usable cores; workers: "
             f"{min(max_concurrent_jobs(), len(configs))} processes ({_METHOD})")
    print_fn(f"one-time worker start-up (fork server import): {startup:.2f} s")
    print_fn(f"{'repeat':<8}{'one after another (s)':>24}{'together (s)':>15}{'ratio':>8}"
             f"{'idle cores before':>19}")
    for k, (s, p, r, load) in enumerate(zip(one_by_one, together, ratios, loads), start=1):
        print_fn(f"{k:<8}{s:>24.2f}{p:>15.2f}{r:>8.2f}{load:>19.2f}")
    print_fn(f"{'median':<8}{statistics.median(one_by_one):>24.2f}"
             f"{statistics.median(together):>15.2f}{median_ratio:>8.2f}")
    print_fn("(idle cores before: spare CPU measured over 1 s before each repeat; when other "
             "programs keep the cores busy, the runs trained together have no second core to "
             "use and the ratio tends to 1)")
    return {"one_after_another_s": one_by_one, "together_s": together, "ratios": ratios,
            "median_ratio": median_ratio, "startup_s": startup, "idle_cores": loads}

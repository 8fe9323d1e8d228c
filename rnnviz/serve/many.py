"""Many runs at once: a comparison's cells and a dependency sweep's grid, trained on the
shared worker pool (``rnnviz.serve.pool``), longest first (a rough cost estimate, which packs
three runs on two workers well), at most one per worker at a time.
A run the workers cannot train (an uploaded data set, a GPU) is trained in this process, one
after another; so is everything when there is only one run or one usable core.

With ``on_history`` each run's history streams back while it trains (the workers' history
deltas, ``History.delta``), so a page can draw every curve as it grows: the Compare page
showed nothing until all three cells had finished (45 s on a busy server, issue 20)."""

from __future__ import annotations

import queue as queue_module
import time
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, wait

from rnnviz.core.config import RunConfig
from rnnviz.core.history import History
from rnnviz.core.runs import run_from_bytes
from rnnviz.core.train import Run, train
from rnnviz.serve.pool import (
    PROGRESS_INTERVAL_S,
    can_use_worker,
    is_complete,
    shared_pool,
    usable_cores,
)
from rnnviz.studies.compare import SweepResult, collect_sweep, sweep_configs

OnProgress = Callable[[int, int, int], "bool | None"]  # (config index, step, total steps)
OnHistory = Callable[[int, History], None]  # (config index, its history so far)
# relative cost of one step per cell, measured on CPU at the default sizes (only used to start
# the longest runs first; a wrong guess costs a little packing, never a wrong result)
CELL_COST = {"rnn": 1.0, "lstm": 1.6, "gru": 2.0}


def estimated_cost(cfg: RunConfig) -> float:
    """Relative training time of a config (for ordering only)."""
    return CELL_COST.get(cfg.cell, 1.5) * cfg.steps * cfg.seq_len * cfg.num_layers * (
        1 + cfg.hidden_size / 64)


def train_many(configs: Iterable[RunConfig], on_progress: OnProgress | None = None, *,
               workers: int | None = None, cache=None,
               on_history: OnHistory | None = None) -> list[Run]:
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
        on_history: ``on_history(index, history)`` is called *in the calling thread*, just
            before ``on_progress``, with the run's history so far (the same object, growing, on
            every call; a run found in ``cache`` gives its finished one). Only the first index of
            equal configs is reported.
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
            if on_history is not None:
                on_history(index, hit.history)
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
        stopped = _train_in_processes(configs, in_workers, runs, on_progress, workers,
                                      on_history)
    for index in here:
        if stopped:
            break
        runs[index], stopped = _train_here(configs[index], index, on_progress, on_history)
    for index in todo:
        if runs[index] is not None and cache is not None and is_complete(runs[index]):
            cache.put(runs[index])
    for index, cfg in enumerate(configs):
        runs[index] = runs[first_index[cfg.key]]
    return runs


def _train_here(cfg: RunConfig, index: int, on_progress: OnProgress | None,
                on_history: OnHistory | None = None):
    stop = [False]
    last = [0.0]
    current: list[Run] = []

    def on_step(step: int, metrics: dict) -> bool:
        now = time.monotonic()
        if now - last[0] >= PROGRESS_INTERVAL_S or step == cfg.steps:
            last[0] = now
            if on_history is not None and current:
                on_history(index, current[0].history)
            if on_progress is not None:
                stop[0] = on_progress(index, step, cfg.steps) is False
        return not stop[0]

    return train(cfg, on_step=on_step, on_start=current.append), stop[0]


def _train_in_processes(configs, indices, runs, on_progress, workers,
                        on_history: OnHistory | None = None) -> bool:
    """Train ``configs[i]`` for i in ``indices`` in the shared pool, at most ``workers`` at a
    time, longest first; fills ``runs``. True if ``on_progress`` asked to stop. With
    ``on_history`` the workers send their history deltas (``live``), rebuilt here as each run's
    ``History``; the inside views a live worker also sends are not needed and dropped."""
    pool = shared_pool()
    call = pool.open_call()
    stopped = False
    live = on_history is not None
    histories: dict[int, History] = {}

    def drain() -> None:
        nonlocal stopped
        while True:
            try:
                index, kind, payload = call.listener.get_nowait()
            except queue_module.Empty:
                return
            if kind != "progress":
                continue
            step, total = payload[:2]
            delta = payload[3] if len(payload) > 3 else None
            if live and delta is not None:
                cfg = configs[index]
                history = histories.get(index)
                if history is None:
                    history = histories[index] = History(cfg.steps, cfg.eval_every,
                                                         cfg.seq_len)
                history.extend(delta)
                on_history(index, history)
            if on_progress is not None and on_progress(index, step, total) is False:
                stopped = True
                pool.stop(call)

    waiting = list(indices)
    running: dict = {}
    try:
        while waiting or running:
            while waiting and len(running) < workers:
                index = waiting.pop(0)
                running[pool.submit(call, index, configs[index], live=live)] = index
            done, _ = wait(running, timeout=0.1, return_when=FIRST_COMPLETED)
            drain()
            for future in done:
                runs[running.pop(future)] = run_from_bytes(future.result())
        drain()
    except BaseException:
        pool.stop(call)  # running workers stop after their step
        for future in running:
            future.cancel()
        raise
    finally:
        pool.close_call(call)
    return stopped


# ---------------------------------------------------------------- a grid of runs


def dependency_sweep(base_cfg: RunConfig, cells: Iterable[str], lengths: Iterable[int],
                     param: str = "seq_len", on_progress: OnProgress | None = None, *,
                     workers: int | None = None, cache=None) -> SweepResult:
    """Train every cell at every length (``param`` = "seq_len" or "lag"; everything else from
    ``base_cfg``) with ``train_many`` and collect each run's final validation metric.

    ``on_progress(index, step, total)`` numbers the runs cell by cell, length by length.
    """
    grid = sweep_configs(base_cfg, cells, lengths, param)
    flat = [cfg for configs in grid.values() for cfg in configs]
    started = time.perf_counter()
    runs = train_many(flat, on_progress, workers=workers, cache=cache)
    elapsed = time.perf_counter() - started
    return collect_sweep(base_cfg, grid, param, runs, elapsed)

"""Playground jobs in worker processes: the live history a page draws is the worker's history
row for row, the result is the run ``train`` gives in this process, and stopping, leaving a
shared job and failing all behave as they did with jobs in threads."""

import os
import signal
import time

import numpy as np
import pytest
import torch

from rnnviz.core import csvdata
from rnnviz.core.config import RunConfig
from rnnviz.core.history import History
from rnnviz.core.runs import run_from_bytes
from rnnviz.core.tasks import ASSETS
from rnnviz.core.train import train
from rnnviz.serve import pool as worker_pool
from rnnviz.serve import uploads
from tests.jobhelpers import registry_in, wait_until

SMALL = dict(seq_len=8, hidden_size=8, steps=400, eval_every=20, probe_every=20, device="cpu")


def test_history_deltas_rebuild_the_history_exactly():
    source = train(RunConfig(**{**SMALL, "steps": 60, "eval_every": 7})).history
    mirror = History(60, 7, SMALL["seq_len"])
    sent = (0, 0)
    for steps, evals in [(1, 0), (13, 1), (14, 2), (40, 5), (60, source.evals_done)]:
        source_view = History.from_state(*source.state())
        source_view.steps_done, source_view.evals_done = steps, evals  # as it was mid-run
        mirror.extend(source_view.delta(*sent))
        sent = (steps, evals)
        assert mirror.steps_done == steps and mirror.evals_done == evals
    np.testing.assert_array_equal(mirror.loss, source.loss)
    np.testing.assert_array_equal(mirror.grad_norm, source.grad_norm)
    np.testing.assert_array_equal(mirror.clipped, source.clipped)
    np.testing.assert_array_equal(mirror.val_step, source.val_step)
    np.testing.assert_array_equal(mirror.val_metric, source.val_metric)


def test_a_worker_job_streams_its_history_and_ends_with_the_run_train_gives(tmp_path):
    cfg = RunConfig(**SMALL, seed=8101)
    registry = registry_in(tmp_path, max_jobs=1)
    job = registry.submit(cfg)
    assert job.in_worker
    seen = []
    while not job.done:  # what a page sees while the run trains
        if job.history is not None:
            seen.append(job.history.steps_done)
        time.sleep(0.01)
    assert job.progress.state == "done", job.progress.error
    run = job.result
    assert any(0 < n < cfg.steps for n in seen), "no partial history was ever visible"
    assert seen == sorted(seen)
    reference = train(cfg)  # the same config trained here, in this process
    np.testing.assert_array_equal(run.history.loss, reference.history.loss)
    np.testing.assert_array_equal(run.history.probe_grad, reference.history.probe_grad)
    for name, tensor in reference.model.state_dict().items():
        assert torch.equal(run.model.state_dict()[name], tensor), name
    # the mirrored live history agrees with the finished run on every row it received
    live = job.history
    np.testing.assert_array_equal(live.loss, run.history.loss[: live.steps_done])
    np.testing.assert_array_equal(live.val_loss, run.history.val_loss[: live.evals_done])


def _config(where: str, **changes) -> RunConfig:
    """A config trained in a worker process, or (an uploaded series) in the job's thread."""
    if where == "thread":
        changes["task"] = uploads.register(csvdata.load_csv_file(ASSETS / "predator_prey.csv")).name
    return RunConfig(**{**SMALL, **changes})


@pytest.mark.parametrize("where", ["worker", "thread"])
def test_the_last_watcher_stops_a_job_and_keeps_what_was_learned(tmp_path, where):
    cfg = _config(where, steps=100_000, seed=8102)
    job = registry_in(tmp_path, max_jobs=1).submit(cfg)
    assert job.in_worker == (where == "worker")
    wait_until(lambda: job.history is not None and job.history.steps_done >= 30)
    started = time.time()
    run = job.detach()
    assert time.time() - started < 5
    assert run is not None and 30 <= run.history.steps_done < cfg.steps
    assert run.history.stop_reason == f"stopped by the user at step {run.history.steps_done}"
    assert np.isfinite(run.history.loss).all()


@pytest.mark.parametrize("where", ["worker", "thread"])
def test_a_watcher_leaving_a_shared_job_gets_a_copy_and_the_job_goes_on(tmp_path, where):
    cfg = _config(where, steps=2000, seed=8103)
    registry = registry_in(tmp_path, max_jobs=1)
    job, same = registry.submit(cfg), registry.submit(cfg)
    assert same is job
    wait_until(lambda: job.history is not None and job.history.steps_done >= 20)
    copy = job.detach()
    assert copy is not None and copy.history.stop_reason.startswith("stopped by the user")
    assert 20 <= copy.history.steps_done < cfg.steps
    assert not job.done or job.result.history.steps_done == cfg.steps
    final = job.wait(120)
    assert final.history.steps_done == cfg.steps and final.history.stop_reason == "finished"
    # the copy is the shared run at the step it was taken, not a different run
    n = copy.history.steps_done
    np.testing.assert_array_equal(copy.history.loss, final.history.loss[:n])


def test_an_uploaded_data_set_trains_in_this_process(tmp_path):
    cfg = _config("thread", steps=30)
    job = registry_in(tmp_path, max_jobs=1).submit(cfg)
    assert not job.in_worker  # a worker process does not know this process's uploads
    run = job.wait(60)
    assert job.progress.state == "done" and run.history.steps_done == 30


def test_a_worker_killed_mid_run_fails_the_job_with_a_message_and_the_next_job_trains(tmp_path):
    registry = registry_in(tmp_path, max_jobs=1)
    job = registry.submit(RunConfig(**{**SMALL, "steps": 100_000}, seed=8104))
    wait_until(lambda: job.history is not None and job.history.steps_done >= 10)
    pool = worker_pool.shared_pool()
    for process in list(pool.executor._processes.values()):  # as the kernel's OOM killer would
        os.kill(process.pid, signal.SIGKILL)
    job.wait(60)
    assert job.progress.state == "failed" and "stopped unexpectedly" in job.progress.error
    assert registry.active == 0
    after = registry.submit(RunConfig(**{**SMALL, "steps": 30}, seed=8105))
    assert after.wait(120) is not None and after.progress.state == "done"


def test_stopping_one_call_never_stops_another_however_many_calls_came_between():
    """The pool's stop flags are shared memory, one per call in flight. A run that trains for
    minutes sees hundreds of other calls open and close (every comparison is one); stopping
    the newest must leave it training."""
    pool = worker_pool.shared_pool()
    if pool.workers < 2:
        pytest.skip("needs two workers: both runs train at once")
    long_run = worker_pool.WorkerRun(RunConfig(**{**SMALL, "steps": 100_000}, seed=8106))
    try:
        for _ in range(worker_pool._STOP_SLOTS - 1):
            pool.close_call(pool.open_call())
        newest = worker_pool.WorkerRun(RunConfig(**{**SMALL, "steps": 100_000}, seed=8107))
        newest.stop()
        stopped = run_from_bytes(newest.future.result(timeout=120))
        newest.close()
        assert stopped.history.stop_reason.startswith("stopped by the user")
        with pytest.raises(TimeoutError):  # 100,000 steps: minutes, unless it was stopped too
            long_run.future.result(timeout=3)
    finally:
        long_run.close()
    assert run_from_bytes(long_run.future.result(timeout=120)).history.steps_done < 100_000


def test_a_job_is_seen_done_only_once_its_run_is_in_the_cache(tmp_path, monkeypatch):
    """A page that sees a job done finds its run in the registry: the lesson page took a done
    job whose run was not cached yet for a run never started, and called the lesson failed
    (CI, a loaded machine). The registry's keeping is slowed here to widen that moment."""
    from rnnviz.serve.jobs import JobRegistry
    keep = JobRegistry._keep

    def slow_keep(self, job):
        time.sleep(0.5)
        keep(self, job)

    monkeypatch.setattr(JobRegistry, "_keep", slow_keep)
    registry = registry_in(tmp_path, max_jobs=1)
    cfg = RunConfig(seq_len=6, hidden_size=4, steps=10, eval_every=5, probe_every=5,
                    seed=727272, device="cpu")
    job = registry.submit(cfg)
    wait_until(lambda: job.done, timeout=120)
    assert registry.lookup(cfg) is job.result is not None

"""What a server logs about its trainings: one INFO line when a job starts and one when it
finishes; a job that fails is one WARNING line with the reason and no stack trace (real worker
processes; tests/e2e/test_clean_logs.py reads a real server's whole log)."""

import logging
import os
import signal

from rnnviz.core.config import RunConfig
from rnnviz.serve import pool as worker_pool
from rnnviz.serve.store import RunStore
from tests.jobhelpers import registry_in, wait_until

SMALL = dict(seq_len=8, hidden_size=8, eval_every=20, probe_every=20, device="cpu")


def _lines(caplog, level=logging.INFO):
    return [(r.levelname, r.getMessage(), r.exc_info, r.stack_info) for r in caplog.records
            if r.name.startswith("rnnviz") and r.levelno >= level]


def test_a_job_logs_its_start_and_its_end(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="rnnviz")
    cfg = RunConfig(**SMALL, steps=40, seed=8201)
    run = registry_in(tmp_path, max_jobs=1).submit(cfg).wait(120)
    assert run is not None
    digest = RunStore(tmp_path).path_for(cfg).stem.rsplit("-", 1)[1]  # as in the file name
    jobs = [(level, text) for level, text, *_ in _lines(caplog) if text.startswith("job ")]
    assert [level for level, _ in jobs] == ["INFO", "INFO"], jobs
    started, finished = (text for _, text in jobs)
    assert started == f"job started: lstm on adding, 40 steps, {digest} (worker process)"
    assert finished.startswith(f"job finished: lstm on adding, 40 steps, {digest} in ")
    assert finished.endswith(" s (finished)")


def test_a_failed_job_is_one_warning_line_without_a_stack(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="rnnviz")
    registry = registry_in(tmp_path, max_jobs=1)
    job = registry.submit(RunConfig(**SMALL, steps=100_000, seed=8202))
    wait_until(lambda: job.history is not None and job.history.steps_done >= 10)
    for process in list(worker_pool.shared_pool().executor._processes.values()):
        os.kill(process.pid, signal.SIGKILL)  # as the kernel's out-of-memory killer would
    job.wait(60)
    assert job.progress.state == "failed"
    # this job's lines: the kill also fails any job an earlier test left in the shared pool
    failed = [line for line in _lines(caplog, logging.WARNING)
              if line[1].startswith("job ") and "100000 steps" in line[1]]
    assert len(failed) == 1, failed
    level, text, exc_info, stack_info = failed[0]
    assert level == "WARNING" and "stopped unexpectedly" in text
    assert exc_info is None and stack_info is None
    # the next job gets new worker processes, and the log says so
    after = registry.submit(RunConfig(**SMALL, steps=30, seed=8203))
    assert after.wait(120) is not None
    assert any("training worker process died" in text
               for _, text, *_ in _lines(caplog, logging.WARNING))

"""``rnnviz worker`` processes under faults, against a real redis-server: one killed mid-job
(SIGKILL: its job is retried by another worker, or ends for its watchers with a plain message,
within 30 s), one asked to stop (SIGTERM: it hands its job back and leaves, with one log line per
event and no traceback), and the command without Redis configured."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from rnnviz.serve import shared
from rnnviz.serve.shared_jobs import LOST, SharedJobRegistry
from rnnviz.serve.store import RunStore
from tests.conftest import ROOT
from tests.redishelpers import (
    job_state,
    long_run,
    needs_redis,
    wait_until,
)

pytestmark = [needs_redis, pytest.mark.timeout(240)]
FAULT_BOUND_S = 30  # the bound for a killed worker's job


def submit(server, cfg, tmp_path):
    registry = SharedJobRegistry.from_url(server.url, store=RunStore(tmp_path / "no-runs"))
    return registry.submit(cfg)


def test_a_worker_killed_mid_job_is_retried_by_another_within_30s(redis_server, workers,
                                                                   tmp_path):
    workers.start("w1")
    workers.start("w2")
    cfg = long_run(seed=31, steps=3000)
    job = submit(redis_server, cfg, tmp_path)
    wait_until(lambda: job.progress.state == "running" and job.progress.step > 20, 60)
    first = job_state(redis_server, cfg)["worker"]
    other = "w2" if first == "w1" else "w1"
    workers.processes[first].send_signal(signal.SIGKILL)
    retried_after = wait_until(lambda: job_state(redis_server, cfg).get("worker") == other,
                               FAULT_BOUND_S + 5, "nobody took the job over")
    assert retried_after < FAULT_BOUND_S
    assert job_state(redis_server, cfg)["attempts"] == "2"
    assert job.wait(120) is not None, job.progress.error
    assert job.progress.state == "done" and job.result.history.steps_done == cfg.steps
    assert job.history.steps_done == cfg.steps  # the live history restarted with the retry
    assert int(redis_server.client().hget(shared.TRAINED, cfg.key)) == 1
    log = workers.log(other).read_text()
    assert "taken over from a worker that went silent" in log and "Traceback" not in log


def test_a_job_whose_only_worker_dies_ends_with_a_message_within_30s(redis_server, workers,
                                                                     tmp_path):
    workers.start("w1")
    cfg = long_run(seed=32, steps=100_000)
    job = submit(redis_server, cfg, tmp_path)
    wait_until(lambda: job.progress.state == "running" and job.progress.step > 20, 60)
    workers.processes["w1"].send_signal(signal.SIGKILL)
    ended_after = wait_until(lambda: job.done, FAULT_BOUND_S + 5, "the page would wait forever")
    assert ended_after < FAULT_BOUND_S
    assert job.progress.state == "failed" and job.progress.error == LOST
    assert "press Train to try again" in job.progress.error
    assert job_state(redis_server, cfg)["state"] == "failed"  # every server's watchers see it
    assert redis_server.client().xlen(shared.STREAM) == 0  # and no worker retries it later


def test_sigterm_hands_the_running_job_back_and_the_worker_leaves(redis_server, workers,
                                                                  tmp_path):
    workers.start("w1")
    cfg = long_run(seed=33, steps=3000)
    job = submit(redis_server, cfg, tmp_path)
    wait_until(lambda: job.progress.state == "running" and job.progress.step > 20, 60)
    workers.start("w2")
    owner = job_state(redis_server, cfg)["worker"]
    other = "w2" if owner == "w1" else "w1"
    workers.processes[owner].send_signal(signal.SIGTERM)
    assert workers.processes[owner].wait(30) == 0
    taken_after = wait_until(lambda: job_state(redis_server, cfg).get("worker") == other, 15)
    assert taken_after < 5  # handed back: no waiting for a silent worker's timeout
    assert job.wait(120) is not None, job.progress.error
    assert job.result.history.steps_done == cfg.steps
    assert job_state(redis_server, cfg)["attempts"] == "1"  # a hand-back is not a failure
    assert redis_server.client().zscore(shared.WORKERS, owner) is None  # it said goodbye
    log = workers.log(owner).read_text()
    assert "Traceback" not in log
    lines = [line for line in log.splitlines() if line.strip()]
    events = ["joined", "started on worker", "leaving", "handed back", "left after 0"]
    where = [next(i for i, line in enumerate(lines) if event in line) for event in events]
    assert where == sorted(where), log  # in the order they happened
    for event in events:
        assert sum(event in line for line in lines) == 1, (event, log)


def test_the_worker_command_needs_redis_configured():
    env = {k: v for k, v in os.environ.items() if k != shared.REDIS_URL_ENV}
    done = subprocess.run([sys.executable, "-m", "rnnviz", "worker"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "rnnviz: error: worker: set RNNVIZ_REDIS_URL (e.g. redis://localhost:6379/0); a worker "
        "trains the jobs of shared mode"]

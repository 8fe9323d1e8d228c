"""Shared mode against a real redis-server: the claim on a config, one training however many
servers ask, live progress read by another server, durable runs with their budget, payloads
checked on the way in, and a Redis outage that pauses training and heals by itself.

The second server is a process of its own (``tests.registry_process``); the workers are
``python -m rnnviz worker`` processes, started as an operator starts them."""

from __future__ import annotations

import json
import logging
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from rnnviz.core.config import RunConfig
from rnnviz.core.runs import run_to_bytes
from rnnviz.core.train import Run, train
from rnnviz.serve import redis_store, shared
from rnnviz.serve.shared_jobs import SharedJob, SharedJobRegistry
from rnnviz.serve.store import RunStore
from rnnviz.studies.inside import InsideView
from tests.conftest import ROOT
from tests.redishelpers import (
    RedisServer,
    ServerProcess,
    env_for,
    job_state,
    needs_redis,
    wait_until,
)

pytestmark = [needs_redis, pytest.mark.timeout(180)]
TINY = dict(seq_len=10, hidden_size=8, eval_every=10, probe_every=10, device="cpu")


def tiny(steps: int = 40, seed: int = 1) -> RunConfig:
    return RunConfig(**TINY, steps=steps, seed=seed)


def registry_for(server, tmp_path) -> SharedJobRegistry:
    """A server's registry with an empty runs folder of its own (nothing pre-trained)."""
    folder = tmp_path / f"runs-{time.monotonic_ns()}"
    return SharedJobRegistry.from_url(server.url, store=RunStore(folder))


def same_run(a: Run, b: Run) -> bool:
    """Same weights and the same history, bit for bit (the training time may differ)."""
    weights_a, weights_b = a.model.state_dict(), b.model.state_dict()
    return (a.config == b.config and weights_a.keys() == weights_b.keys()
            and all(torch.equal(weights_a[k], weights_b[k]) for k in weights_a)
            and np.array_equal(a.history.loss, b.history.loss)
            and np.array_equal(a.history.val_metric, b.history.val_metric))


def trained_count(server, cfg: RunConfig) -> int:
    return int(server.client().hget(shared.TRAINED, cfg.key) or 0)


def watching(server, cfg: RunConfig) -> int:
    """Servers in the job's watcher set with a fresh entry."""
    client = server.client()
    return int(shared.fresh_watchers(client, shared.config_id(cfg.key),
                                     shared.server_time(client)))


def test_a_claim_is_exclusive_and_frees_itself_when_its_owner_dies(redis_server, tmp_path):
    cfg = tiny(seed=11)
    claim = shared.claim_key(shared.config_id(cfg.key))
    owner = ServerProcess(redis_server.url, cfg, tmp_path)
    lines = owner.lines()
    assert next(line for line in lines if line["kind"] == "job")  # no worker: it waits
    wait_until(lambda: job_state(redis_server, cfg).get("token"), 10)
    client = redis_server.client()
    first_token = job_state(redis_server, cfg)["token"]
    assert client.set(claim, "someone else", nx=True) is None  # exclusive

    other = registry_for(redis_server, tmp_path)
    joined = other.submit(cfg)
    assert isinstance(joined, SharedJob)
    wait_until(lambda: joined._entered, 10)
    assert joined._token == first_token  # joined the owner's job, queued nothing new
    assert watching(redis_server, cfg) == 2
    assert client.xlen(shared.STREAM) == 1
    joined.detach()
    assert watching(redis_server, cfg) == 1

    owner.kill()  # dies without a word: nobody renews its claim any more
    freed_after = wait_until(lambda: not client.exists(claim), shared.CLAIM_TTL_S + 5)
    assert freed_after <= shared.CLAIM_TTL_S + 1

    newcomer = registry_for(redis_server, tmp_path)
    job = newcomer.submit(cfg)
    wait_until(lambda: job._entered, 10)
    assert client.get(claim).decode() == newcomer.server_id
    assert job._token != first_token
    job.detach()


def test_waiting_for_a_worker_then_trained_once_and_reused_by_another_server(
        redis_server, workers, tmp_path):
    cfg = tiny(steps=60, seed=12)
    here = registry_for(redis_server, tmp_path)
    job = here.submit(cfg)
    wait_until(lambda: job.progress.state == "waiting", 10, "no 'waiting' state")
    assert job.progress.error == "waiting for a training worker"
    assert here.queued() == 1

    workers.start("w1")
    assert job.wait(60) is not None, job.progress.error
    assert job.progress.state == "done" and job.result.history.steps_done == 60
    np.testing.assert_array_equal(job.history.loss, job.result.history.loss)
    reference = train(cfg)  # training is deterministic: the worker's run is this one
    assert same_run(job.result, reference)

    # another server process, fresh memory: the run opens at once from the shared store
    elsewhere = list(ServerProcess(redis_server.url, cfg, tmp_path).lines())
    assert elsewhere[0]["kind"] == "run" and elsewhere[0]["source"] == "shared store"
    assert elsewhere[0]["steps"] == 60
    assert trained_count(redis_server, cfg) == 1

    # a restarted worker and a restarted server still find it: nothing trains again
    workers.processes["w1"].send_signal(signal.SIGTERM)
    assert workers.processes["w1"].wait(30) == 0
    workers.start("w2")
    again = registry_for(redis_server, tmp_path).submit(cfg)
    assert isinstance(again, Run) and again.meta["source"] == "shared store"
    assert trained_count(redis_server, cfg) == 1
    log = workers.log("w1").read_text()
    assert "Traceback" not in log
    assert "joined" in log and "finished" in log and "left after 1 training" in log


def test_live_progress_of_a_job_another_server_started(redis_server, workers, tmp_path):
    cfg = tiny(steps=2000, seed=13)
    starter = ServerProcess(redis_server.url, cfg, tmp_path)  # server A presses Train
    lines = starter.lines()
    next(lines)
    wait_until(lambda: job_state(redis_server, cfg).get("token"), 10)
    watcher = registry_for(redis_server, tmp_path)  # a session on server B presses Train too
    job = watcher.submit(cfg)
    assert isinstance(job, SharedJob)
    workers.start("w1")
    seen_mid_run = []

    def mid_run() -> bool:
        history = job.history
        if history is not None and 0 < history.steps_done < cfg.steps and job.inside is not None:
            seen_mid_run.append((history.steps_done, job.progress.step, job.inside.step))
        return job.done

    wait_until(mid_run, 120, "the job did not finish")
    assert seen_mid_run, "B never saw the job between its first and last step"
    steps_seen = [s for s, _, _ in seen_mid_run]
    assert steps_seen == sorted(steps_seen) and len(set(steps_seen)) > 1  # it moved
    assert all(view % cfg.probe_every == 0 for _, _, view in seen_mid_run)  # real snapshots
    assert job.progress.state == "done"
    np.testing.assert_array_equal(job.history.loss, job.result.history.loss)
    np.testing.assert_array_equal(job.history.val_metric, job.result.history.val_metric)
    final = [line for line in lines if line["kind"] == "done"][0]
    assert final["state"] == "done" and final["steps"] == cfg.steps
    assert final["live_history_exact"]
    assert trained_count(redis_server, cfg) == 1  # both servers, one training


def test_the_last_watcher_leaving_stops_the_job_and_keeps_what_was_learned(
        redis_server, workers, tmp_path):
    cfg = tiny(steps=100_000, seed=14)
    workers.start("w1")
    first, second = registry_for(redis_server, tmp_path), registry_for(redis_server, tmp_path)
    job_a = first.submit(cfg)
    wait_until(lambda: job_a.progress.step > 20, 60)
    job_b = second.submit(cfg)
    wait_until(lambda: job_b._entered, 10)
    copy = job_b.detach()  # not the last: a copy of the run so far, the job goes on
    assert copy is not None and 0 < copy.history.steps_done < cfg.steps
    assert copy.history.stop_reason.startswith("stopped by the user")
    assert not job_a.done
    run = job_a.detach()  # the last one anywhere: the worker stops between two steps
    assert run is not None and run.history.stop_reason.startswith("stopped by the user")
    assert copy.history.steps_done <= run.history.steps_done < cfg.steps
    wait_until(lambda: job_state(redis_server, cfg).get("state") == "done", 10)
    assert trained_count(redis_server, cfg) == 0  # a stopped run is nobody's shared run
    assert not redis_server.client().exists(redis_store.run_key(shared.config_id(cfg.key)))


def test_redis_stopped_pauses_training_and_it_recovers_by_itself(
        redis_server, workers, tmp_path, caplog):
    workers.start("w1")
    here = registry_for(redis_server, tmp_path)
    assert here.paused_message() is None
    cfg = tiny(steps=40, seed=15)
    with caplog.at_level(logging.INFO, logger="rnnviz.shared"):
        redis_server.stop()  # with nothing going on, the banner's own check notices
        wait_until(lambda: here.paused_message() == shared.PAUSED, 8, "no banner")
        assert here.lookup(cfg) is None  # no exception reaches a page
        job = here.submit(cfg)
        wait_until(lambda: job.progress.error == shared.PAUSED, 10)
        assert job.progress.state == "waiting" and not job.done
        assert here.paused_message() == "training is paused: the shared store is unreachable"
        time.sleep(1.0)  # many failing calls meanwhile ...
        down_lines = [r for r in caplog.records if "unreachable" in r.getMessage()]
        assert len(down_lines) == 1  # ... one log line
        assert down_lines[0].levelno == logging.ERROR and not down_lines[0].exc_info

        redis_server.start()  # comes back empty: the job queues itself again
        wait_until(lambda: here.paused_message() is None, 10, "the banner stayed")
        assert job.wait(60) is not None, job.progress.error
    assert job.progress.state == "done" and job.result.history.steps_done == 40
    assert any("reachable again" in r.getMessage() for r in caplog.records)
    log = workers.log("w1").read_text()
    assert "Traceback" not in log and "unreachable" in log


def test_a_blob_that_is_not_a_run_is_refused_with_a_log_line(redis_server, tmp_path, caplog):
    cfg, other = tiny(steps=30, seed=16), tiny(steps=30, seed=17)
    client = redis_server.client()
    key = redis_store.run_key(shared.config_id(cfg.key))
    here = registry_for(redis_server, tmp_path)
    with caplog.at_level(logging.WARNING, logger="rnnviz.shared"):
        client.set(key, b"\x80\x04 not a run: a pickle would start like this")
        assert here.lookup(cfg) is None
        client.set(key, run_to_bytes(train(other)))  # a real run, of another config
        assert here.lookup(cfg) is None
    refusals = [r.getMessage() for r in caplog.records if "refusing shared run" in r.getMessage()]
    assert len(refusals) == 2 and "different config" in refusals[1]
    assert not client.exists(key)  # refused blobs are deleted: one log line, then a retrain
    with pytest.raises(ValueError):
        shared.decode_delta('{"steps": [0, {"dtype": "object", "shape": [1], "data": ""}]}')
    with pytest.raises(ValueError):
        shared.decode_inside("[1, 2, 3]")


def test_the_store_keeps_its_byte_budget_evicting_the_least_recently_used(
        redis_server, tmp_path):
    runs = [train(tiny(steps=30, seed=seed)) for seed in (21, 22, 23)]
    size = len(run_to_bytes(runs[0]))
    store = redis_store.RedisRunStore(redis_server.client(), budget_bytes=int(2.5 * size))
    store.save(runs[0])
    store.save(runs[1])
    assert store.load(runs[0].config) is not None  # used: now the second is the oldest
    store.save(runs[2])
    assert store.nbytes <= store.budget_bytes
    assert store.load(runs[1].config) is None
    kept = store.load(runs[0].config)
    assert kept is not None and same_run(kept, runs[0])
    assert store.load(runs[2].config) is not None


def test_pretrain_writes_its_runs_to_the_shared_store_too(redis_server, tmp_path):
    cfg = tiny(steps=30, seed=18)
    configs = tmp_path / "runs.json"
    configs.write_text(json.dumps([cfg.to_dict()]))
    command = [sys.executable, "-m", "rnnviz", "pretrain", "--config-file", str(configs),
               "--runs-dir", str(tmp_path / "folder")]
    first = subprocess.run(command, cwd=ROOT, env=env_for(redis_server.url),
                           capture_output=True, text=True, timeout=120)
    assert first.returncode == 0, first.stderr
    assert "trained 1, already there 0" in first.stdout
    assert "the shared store at 127.0.0.1" in first.stdout
    run = registry_for(redis_server, tmp_path).lookup(cfg)  # an empty folder of its own
    assert run is not None and run.meta["source"] == "shared store"
    assert same_run(run, train(cfg))

    redis_server.client().flushdb()  # Redis lost it: the folder's copy goes back in
    again = subprocess.run(command, cwd=ROOT, env=env_for(redis_server.url),
                           capture_output=True, text=True, timeout=120)
    assert again.returncode == 0 and "trained 0, already there 1" in again.stdout
    assert redis_store.RedisRunStore(redis_server.client()).has(cfg)


def test_runs_outlive_a_restart_of_a_persistent_redis(tmp_path):
    server = RedisServer(tmp_path, persistent=True).start()
    try:
        cfg = tiny(steps=30, seed=19)
        run = train(cfg)
        redis_store.RedisRunStore(server.client()).save(run)
        server.stop()  # SIGTERM: Redis writes its append-only file and exits
        server.start()
        found = registry_for(server, tmp_path).lookup(cfg)
        assert found is not None and found.meta["source"] == "shared store"
        assert same_run(found, run)
    finally:
        server.stop()


def test_live_payloads_that_do_not_fit_are_ignored_with_a_log_line(redis_server, tmp_path,
                                                                   caplog):
    cfg = tiny(steps=40, seed=20)
    source = train(cfg).history  # what a worker would have sent
    job = registry_for(redis_server, tmp_path).submit(cfg)
    wait_until(lambda: job.progress.state == "waiting", 10)
    client, job_id = redis_server.client(), shared.config_id(cfg.key)
    events = shared.events_key(job_id)
    wrong_view = shared.encode_inside(InsideView(step=10, cell=cfg.cell,
                                                 hidden=np.zeros((3, 3), np.float32),
                                                 grad_h=np.zeros(3, np.float32), loss=0.0))
    with caplog.at_level(logging.WARNING, logger="rnnviz.shared"):
        client.xadd(events, {"kind": "started"})
        client.xadd(events, {"kind": "delta", "data": "{not json"})
        client.xadd(events, {"kind": "delta", "data": shared.encode_delta(
            {**source.delta(0, 0), "steps": (35, *source.delta(0, 0)["steps"][1:])})})  # too long
        client.xadd(events, {"kind": "delta", "data": shared.encode_delta(source.delta(0, 0))})
        client.hset(shared.job_key(job_id), mapping={"inside": wrong_view, "metrics": "[1, 2]"})
        wait_until(lambda: job.history is not None and job.history.steps_done == 40, 10)
        time.sleep(3 * 0.25)
    messages = [r.getMessage() for r in caplog.records]
    assert sum("ignoring a history delta" in m for m in messages) == 2
    assert any("ignoring an inside view" in m and "do not fit" in m for m in messages)
    assert job.inside is None and job.progress.metrics == {}
    np.testing.assert_array_equal(job.history.loss, source.loss)  # the good delta applied
    assert not job.done  # a bad payload costs a log line, never the job
    job.detach()


def test_a_password_in_the_url_is_used_and_a_wrong_one_pauses_plainly(tmp_path, caplog):
    server = RedisServer(tmp_path, password="s3cret").start()
    try:
        cfg = tiny(steps=30, seed=24)
        redis_store.RedisRunStore(server.client()).save(train(cfg))
        right = SharedJobRegistry.from_url(server.url, store=RunStore(tmp_path / "none"))
        assert right.paused_message() is None
        assert right.lookup(cfg) is not None
        wrong = SharedJobRegistry.from_url(server.url.replace("s3cret", "guess"),
                                           store=RunStore(tmp_path / "none"))
        with caplog.at_level(logging.ERROR, logger="rnnviz.shared"):
            assert wrong.lookup(cfg) is None
            assert wrong.paused_message() == shared.PAUSED
        line = next(r.getMessage() for r in caplog.records if "unreachable" in r.getMessage())
        assert "AuthenticationError" in line and "s3cret" not in line and "guess" not in line
    finally:
        server.stop()
    with pytest.raises(ValueError, match="RNNVIZ_REDIS_URL is not a Redis URL"):
        shared.connect("http://localhost:6379")

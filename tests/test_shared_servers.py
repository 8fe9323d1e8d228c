"""Two real app servers (``streamlit run app.py``, as ``rnnviz.app.server.local_server``
starts them) and an ``rnnviz worker`` process against one real redis-server, driven over
Streamlit's websocket protocol like two students' browsers: a config that a student trains on
server A and another presses Train on server B is trained once, B's page shows its live progress,
and B restarted opens the run at once."""

from __future__ import annotations

import asyncio
import re
import time

import pytest

from rnnviz.app.server import local_server
from rnnviz.serve import shared
from tests.conftest import ROOT
from tests.redishelpers import (
    needs_redis,
)
from tests.stclient import PlaygroundTab

pytestmark = [needs_redis, pytest.mark.timeout(420)]
STEPS = 3000
QUERY = f"seed=51&steps={STEPS}&seq_len=10&hidden_size=8&eval_every=10&probe_every=10"
LIVE = re.compile(r"Training: step (\d+) of (\d+)")


def server_env(redis_server, folder) -> dict:
    return {shared.REDIS_URL_ENV: redis_server.url, "RNNVIZ_RUNS_DIR": str(folder)}


def a_job_running(client) -> bool:
    """Whether a job's hash (not its watcher set or its events) says it is running."""
    return any(shared.text(client.hget(key, "state")) == "running"
               for key in client.scan_iter("rnnviz:job:*", _type="HASH"))


async def a_then_b(url_a: str, url_b: str, client) -> tuple[PlaygroundTab, PlaygroundTab]:
    tab_a, tab_b = PlaygroundTab(url_a, QUERY), PlaygroundTab(url_b, QUERY)
    on_a = asyncio.create_task(tab_a.train(240))
    deadline = time.time() + 120
    while not a_job_running(client):  # A's job trains on the worker
        assert time.time() < deadline, "server A's job never started"
        await asyncio.sleep(0.1)
    on_b = asyncio.create_task(tab_b.train(240))
    await asyncio.gather(on_a, on_b)
    return tab_a, tab_b


def test_two_servers_train_a_config_once_and_both_show_it_live(redis_server, workers, tmp_path):
    workers.start("w1")
    client = redis_server.client()
    with local_server(ROOT, server_env(redis_server, tmp_path / "runs-a")) as (url_a, _), \
            local_server(ROOT, server_env(redis_server, tmp_path / "runs-b")) as (url_b, _):
        tab_a, tab_b = asyncio.run(a_then_b(url_a, url_b, client))
    assert not tab_a.exceptions and not tab_b.exceptions
    trained = {shared.text(k): int(v) for k, v in client.hgetall(shared.TRAINED).items()}
    assert list(trained.values()) == [1], trained  # two servers, one training
    live_b = [(int(m[1]), int(m[2])) for _, text in tab_b.texts if (m := LIVE.search(text))]
    assert any(0 < step < total == STEPS for step, total in live_b), live_b[:5]
    steps_b = [step for step, _ in live_b]
    assert steps_b == sorted(steps_b)  # B's live view moved forward with the worker

    # server B restarted: its students reload and the run opens at once, trained by nobody
    with local_server(ROOT, server_env(redis_server, tmp_path / "runs-b")) as (url_b, _):
        again = PlaygroundTab(url_b, QUERY)
        asyncio.run(again.train(120, until="was already trained (shared store)"))
    assert not again.exceptions
    assert {shared.text(k): int(v) for k, v in client.hgetall(shared.TRAINED).items()} == trained

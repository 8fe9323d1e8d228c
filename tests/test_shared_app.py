"""The app in shared mode, through Streamlit's AppTest with ``RNNVIZ_REDIS_URL`` set: a Train
press with no worker says "waiting for a training worker", the worker process trains it, a
second server process opens the same run from the shared store, and a Redis outage shows the
page's banner and clears by itself. Nothing here reaches a page as a traceback."""

from __future__ import annotations

import pytest

from rnnviz.app import state
from rnnviz.core.config import RunConfig
from rnnviz.serve import shared
from rnnviz.serve.shared_jobs import SharedJobRegistry
from rnnviz.serve.store import RunStore
from tests.apptest import TINY, open_app, press, set_widgets, wait_for_run, wait_until
from tests.redishelpers import (
    ServerProcess,
    needs_redis,
)
from tests.redishelpers import wait_until as wait_until_state

pytestmark = [needs_redis, pytest.mark.timeout(240)]
BANNER = "Training is paused: the shared store is unreachable"


@pytest.fixture
def shared_mode(redis_server, monkeypatch, tmp_path):
    """This process's app in shared mode, with a registry of its own (and embedded mode back
    for every other test afterwards)."""
    monkeypatch.setenv(shared.REDIS_URL_ENV, redis_server.url)
    monkeypatch.setenv("RNNVIZ_RUNS_DIR", str(tmp_path / "runs"))
    state.registry.clear()
    yield redis_server
    state.registry().close()  # its jobs' threads stop following a Redis that is going away
    state.registry.clear()


def texts(elements) -> str:
    return " ".join(e.value for e in elements)


def test_a_train_press_waits_for_a_worker_then_every_server_shares_the_run(
        shared_mode, workers, tmp_path):
    at = open_app(timeout=60)
    at.switch_page("pages/playground.py").run()
    set_widgets(at, **{**TINY, "seed": 41})
    press(at, "Train")
    assert not at.exception
    wait_until(at, lambda a: "Waiting for a training worker." in texts(a.warning), 20,
               "the page did not say it waits for a worker")
    assert "Queued" not in texts(at.info)

    workers.start("w1")
    run = wait_for_run(at, timeout=90)
    assert run.history.steps_done == TINY["steps"]
    assert not at.exception and "waiting" not in texts(at.warning)
    cfg = run.config
    assert int(shared_mode.client().hget(shared.TRAINED, cfg.key)) == 1

    opened = list(ServerProcess(shared_mode.url, cfg, tmp_path / "runs-b").lines())
    assert opened[0]["kind"] == "run" and opened[0]["source"] == "shared store"
    assert int(shared_mode.client().hget(shared.TRAINED, cfg.key)) == 1  # not trained again


def test_a_redis_outage_shows_the_banner_and_it_clears_by_itself(shared_mode):
    at = open_app(timeout=60)
    assert BANNER not in texts(at.warning)
    shared_mode.stop()
    at.switch_page("pages/playground.py").run()
    set_widgets(at, **{**TINY, "seed": 42})
    press(at, "Train")  # a press during the outage: accepted, paused, no traceback
    wait_until(at, lambda a: BANNER in texts(a.warning), 20, "no banner")
    assert not at.exception
    warnings = texts(at.warning)
    assert f"{BANNER}. It resumes by itself" in warnings  # the page's banner
    assert f"{BANNER}. Your run starts by itself" in warnings  # the job's line in the sidebar

    shared_mode.start()
    wait_until(at, lambda a: BANNER not in texts(a.warning), 20, "the banner stayed")
    assert not at.exception
    assert "Waiting for a training worker." in texts(at.warning)  # no worker in this test
    assert "Queued" not in texts(at.info)


def test_a_press_while_every_worker_is_busy_says_it_is_queued_for_the_shared_workers(
        shared_mode, workers, tmp_path):
    workers.start("w1")
    other = SharedJobRegistry.from_url(shared_mode.url, store=RunStore(tmp_path / "none"))
    busy = other.submit(RunConfig(**{**TINY, "steps": 100_000}, seed=43))  # the only worker's
    wait_until_state(lambda: busy.progress.state == "running", 60)
    try:
        at = open_app(timeout=60)
        at.switch_page("pages/playground.py").run()
        set_widgets(at, **{**TINY, "seed": 44})
        press(at, "Train")
        wait_until(at, lambda a: "Queued for the shared training workers" in texts(a.info), 20,
                   "the page did not say it is queued for the shared workers")
        assert "this server's slots" not in texts(at.info)
        assert "every training worker is busy" in texts(at.info)  # the sidebar's line
        assert not at.exception
    finally:
        busy.detach()
        other.close()


"""Shared mode in a real browser (issue 12's "Done when"): Debian's Chromium against two real app
servers (``streamlit run app.py`` with ``RNNVIZ_REDIS_URL``) and a separate ``rnnviz worker``
process, all on a redis-server of the test's own.

A student opens a link to a small config on server A and presses Train; another opens the same
link on server B and presses Train: B joins A's job (its page shows the step moving on) instead
of training it again, and both pages end on the run, trained once (``rnnviz:trained``). With no
worker running the page says it waits for one, and a worker started then trains it. After each
session every process is stopped with SIGTERM, as Docker and Kubernetes stop them, and the
servers' and the worker's logs hold no stack trace and no warning."""

from __future__ import annotations

import re
import signal
import time

import pytest

from rnnviz.app.server import ROOT, local_server
from rnnviz.core.config import RunConfig
from rnnviz.serve import shared
from tests.redishelpers import RedisServer, Workers, job_state, needs_redis, wait_until

from .harness import EXCEPTION, SIDEBAR_HAS_RUN, settle, train_button, wait_for_run

pytestmark = [needs_redis, pytest.mark.timeout(600)]
STEPS = 8000  # long enough for B to join while it trains and see its step move on
PARAMS = dict(seq_len=10, hidden_size=8, eval_every=50, probe_every=50, device="cpu")
LIVE = re.compile(r"Training: step (\d+) of (\d+)")
# a stack (a traceback, or the one Streamlit prints with a warning), a line at WARNING or above
# (Streamlit's lines and ours carry their level), Python's warnings
BAD = re.compile(r"Traceback|Stack \(most recent call last\)|\b(WARNING|ERROR|CRITICAL)\b|"
                 r"\w+Warning\b|\w+Error\b", re.I)
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d[.,]\d{3} ")


def link(**values) -> str:
    return "/playground?" + "&".join(f"{k}={v}" for k, v in {**PARAMS, **values}.items())


@pytest.fixture(scope="module")
def chromium(browser):
    """The session's Chromium (conftest): Playwright's sync API runs one event loop in this
    thread, so a second ``sync_playwright()`` in the same test session fails."""
    return browser


@pytest.fixture
def redis_server(tmp_path):
    server = RedisServer(tmp_path).start()
    yield server
    server.stop()


@pytest.fixture
def workers(redis_server, tmp_path):
    pool = Workers(redis_server.url, tmp_path)
    yield pool
    pool.stop_all()  # whatever a failed test left running


def server_env(redis_server, tmp_path, name: str) -> dict:
    return {shared.REDIS_URL_ENV: redis_server.url, "RNNVIZ_RUNS_DIR": str(tmp_path / name)}


def new_tab(chromium):
    context = chromium.new_context(viewport={"width": 1400, "height": 1000})
    tab = context.new_page()
    tab.problems = []
    tab.on("pageerror", lambda err: tab.problems.append(f"page error: {err}"))
    return tab


def main_text(tab) -> str:
    return tab.locator("[data-testid='stMain']").inner_text()


def record_live_steps(tab) -> None:
    """From now on the page keeps, in ``window.__liveSteps``, every step its visible live
    progress bar ("Training: step N of M") shows, each change once."""
    tab.evaluate("""(pattern) => {
        const live = new RegExp(pattern), main = document.querySelector("[data-testid='stMain']");
        window.__liveSteps = [];
        new MutationObserver(() => {
            for (const bar of main.querySelectorAll("[data-testid='stProgress']")) {
                const found = bar.checkVisibility() && live.exec(bar.textContent);
                const steps = window.__liveSteps;
                if (found && steps[steps.length - 1] !== +found[1]) steps.push(+found[1]);
            }
        }).observe(main, {subtree: true, childList: true, characterData: true});
    }""", LIVE.pattern)


def wait_while_it_trains(tab, redis_server, cfg, grace_s: float = 60, stall_s: float = 60) -> None:
    """Until the page's sidebar names the run. However long the worker takes (a busy machine
    trains slower), as long as it trains: its step in Redis moves on at least every ``stall_s``;
    once the job is done in Redis the page has ``grace_s`` to show its run."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    step, moved, ended = None, time.perf_counter(), None
    while True:
        try:
            tab.wait_for_function(SIDEBAR_HAS_RUN, timeout=2000, polling=250)
            return
        except PlaywrightTimeout:
            pass
        job = {k: v for k, v in job_state(redis_server, cfg).items()
               if k in ("state", "step", "total", "outcome", "error", "attempts", "worker")}
        now = time.perf_counter()
        assert job.get("state") != "failed", job
        if job.get("step") != step:
            step, moved = job.get("step"), now
        if job.get("state") == "done":
            ended = ended or now
            assert now - ended < grace_s, f"B's page never showed the run ({grace_s:.0f} s " \
                f"after its job was done in Redis: {job})"
        else:
            assert now - moved < stall_s, f"the worker's step stayed at {step} for " \
                f"{stall_s:.0f} s: {job}"


def stop_worker(workers: Workers, name: str) -> None:
    process = workers.processes[name]
    process.send_signal(signal.SIGTERM)
    assert process.wait(60) == 0


def assert_clean(log: str, what: str) -> None:
    bad = [line for line in log.splitlines() if BAD.search(line)]
    assert not bad, f"{what}:\n" + "\n".join(bad) + "\n\nthe whole log:\n" + log


def watch_renewed(redis_server, cfg, times: int) -> None:
    """Wait until a server renewed its entry in the job's watcher set ``times`` more times."""
    client = redis_server.client()
    key = shared.watchers_key(shared.config_id(cfg.key))
    seen: set[float] = set()

    def renewals() -> int:
        seen.update(score for _, score in client.zrange(key, 0, -1, withscores=True))
        return len(seen)

    first = renewals()
    wait_until(lambda: renewals() >= first + times, timeout=60,
               message=f"the server did not renew its watch of the job ({sorted(seen)})")


def trained(redis_server) -> dict[str, int]:
    client = redis_server.client()
    return {shared.text(k): int(v) for k, v in client.hgetall(shared.TRAINED).items()}


def test_two_servers_and_a_worker_train_a_config_once_for_both_pages(
        chromium, redis_server, workers, tmp_path):
    cfg = RunConfig(**PARAMS, steps=STEPS, seed=71)
    workers.start("w1")
    started = time.perf_counter()
    with local_server(ROOT, server_env(redis_server, tmp_path, "runs-a"),
                      log_path=tmp_path / "server-a.log") as (url_a, server_a), \
            local_server(ROOT, server_env(redis_server, tmp_path, "runs-b"),
                         log_path=tmp_path / "server-b.log") as (url_b, server_b):
        servers_up = time.perf_counter() - started
        tab_a, tab_b = new_tab(chromium), new_tab(chromium)
        tab_a.goto(url_a + link(steps=STEPS, seed=71))
        settle(tab_a)
        train_button(tab_a).click()
        tab_a.get_by_text(LIVE).first.wait_for(timeout=60_000)  # A's job trains on w1

        tab_b.goto(url_b + link(steps=STEPS, seed=71))  # the same link, on the other server
        settle(tab_b)
        record_live_steps(tab_b)
        job = job_state(redis_server, cfg)
        assert job["state"] in ("starting", "running"), f"A's job is not training as B " \
            f"joins: {job['state']}, step {job.get('step')} of {STEPS} (too short a run here)"
        train_button(tab_b).click()
        pressed_b = time.perf_counter()
        wait_while_it_trains(tab_b, redis_server, cfg)
        b_done = time.perf_counter() - pressed_b
        steps_b = tab_b.evaluate("() => window.__liveSteps")
        wait_for_run(tab_b)
        wait_for_run(tab_a, timeout=60)
        for tab in (tab_a, tab_b):
            assert tab.locator(EXCEPTION).count() == 0
            assert "Validation" in main_text(tab), main_text(tab)[:500]  # the run's result
            assert tab.problems == []
        assert "This exact configuration was already trained" not in main_text(tab_b)
        tab_a.context.close()
        tab_b.context.close()
    assert server_a.returncode == 0 and server_b.returncode == 0
    stop_worker(workers, "w1")

    # B joined A's job: its page followed the worker's steps; the config was trained once
    assert len(set(steps_b)) >= 2 and steps_b == sorted(steps_b), str(steps_b)
    # (the last reading may be the final step's, "step 8000 of 8000", shown for a moment
    # before the page draws the run)
    assert all(0 <= s <= STEPS for s in steps_b) and max(steps_b) > 0, str(steps_b)
    assert trained(redis_server) == {cfg.key: 1}
    job = shared.decoded(redis_server.client().hgetall(shared.job_key(shared.config_id(cfg.key))))
    assert job["attempts"] == "1" and job["outcome"] == "stored"
    worker_log = workers.log("w1").read_text()
    assert worker_log.count("started on worker") == 1, worker_log
    for name in ("server-a", "server-b"):
        log = (tmp_path / f"{name}.log").read_text()
        assert_clean(log, name)
        mode_lines = [line for line in log.splitlines() if "in shared mode" in line]
        assert len(mode_lines) == 1 and LOG_LINE.match(mode_lines[0]), log  # one, timed
    assert_clean(worker_log, "worker")
    print(f"servers up in {servers_up:.1f} s; B's page: {len(steps_b)} live readings, "
          f"steps {steps_b[0]}..{steps_b[-1]}, run shown {b_done:.1f} s after B's press")


def test_with_no_worker_the_page_waits_visibly_and_a_worker_started_then_trains_it(
        chromium, redis_server, workers, tmp_path):
    cfg = RunConfig(**PARAMS, steps=300, seed=72)
    with local_server(ROOT, server_env(redis_server, tmp_path, "runs"),
                      log_path=tmp_path / "server.log") as (url, server):
        tab = new_tab(chromium)
        tab.goto(url + link(steps=300, seed=72))
        settle(tab)
        train_button(tab).click()
        waiting = tab.locator("[data-testid='stMain']").get_by_text(
            "Waiting for a training worker")
        waiting.first.wait_for(state="visible", timeout=30_000)
        assert waiting.first.is_visible()
        # it stays so while no worker runs: the server renews its watch of the waiting job
        # (every 2 s) twice more, and the page still waits
        watch_renewed(redis_server, cfg, times=2)
        assert waiting.first.is_visible() and not trained(redis_server)

        workers.start("w1")
        started = time.perf_counter()
        wait_for_run(tab, timeout=120)
        shown_after = time.perf_counter() - started
        assert tab.locator(EXCEPTION).count() == 0 and tab.problems == []
        assert "Waiting for a training worker" not in main_text(tab)
        tab.context.close()
    assert server.returncode == 0
    stop_worker(workers, "w1")
    assert trained(redis_server) == {cfg.key: 1}
    assert_clean((tmp_path / "server.log").read_text(), "server")
    assert_clean(workers.log("w1").read_text(), "worker")
    print(f"run shown {shown_after:.1f} s after the worker was started")

"""A server's log after normal use holds no stack trace and no warning (issue 12, "Clean logs").

Each test starts its own real server (embedded mode, as ``streamlit run app.py``), stdout and
stderr in one file, uses it, and stops it with SIGTERM to the server alone, as ``docker stop``
and Kubernetes do; the log is read after the process has exited. Two faults used to show up:
Streamlit's widget-policy warning with a stack on every deep link that carries a config value,
and, in some stops, a ``FileNotFoundError`` traceback from a worker process unpickling a lock of
its parent that had already exited (a worker still being started when the server stopped).

``RNNVIZ_LOG_CYCLES`` sets how many start/use/stop cycles each test runs (default 3, 2 and 6).
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from rnnviz.app.loadtest import warm_up
from rnnviz.app.server import ROOT, local_server

from .harness import open_page, settle, train_button, wait_for_run

# what must not be in a log: a stack (a traceback, or the stack Streamlit prints with a warning),
# a line at WARNING or above (Streamlit's lines and ours carry their level, .streamlit/
# config.toml), Python's warnings (UserWarning: ..., the resource tracker's leaked semaphores)
BAD = re.compile(r"Traceback|Stack \(most recent call last\)|\b(WARNING|ERROR|CRITICAL)\b|"
                 r"\w+Warning\b|\w+Error\b", re.I)
TINY = "steps=40&seq_len=8&hidden_size=6&eval_every=10&probe_every=10"


def _cycles(default: int) -> int:
    return int(os.environ.get("RNNVIZ_LOG_CYCLES", default))


def _bad_lines(log: str) -> list[str]:
    return [line for line in log.splitlines() if BAD.search(line)]


def _stopped_cleanly(process, log: str) -> None:
    assert process.returncode == 0, f"the server exited with {process.returncode}:\n{log}"
    assert not _bad_lines(log), "\n".join(_bad_lines(log)) + "\n\nthe whole log:\n" + log


def _view_a_page(url: str) -> None:
    """One page view over Streamlit's own websocket protocol (the load test's client), in a
    thread of its own: Playwright's sync API holds an event loop in this one."""
    with ThreadPoolExecutor(1) as thread:
        thread.submit(asyncio.run, warm_up(url)).result(timeout=120)


@pytest.fixture(scope="module")
def chromium(browser):
    """The session's Chromium (conftest): Playwright's sync API runs one event loop in this
    thread, so a second ``sync_playwright()`` in the same test session fails."""
    return browser


@pytest.mark.timeout(600)
def test_a_normal_session_and_a_stop_leave_a_clean_log(chromium, tmp_path):
    """Open pages, a deep link with config values, train, look inside, stop: repeatedly."""
    for cycle in range(_cycles(3)):
        log_path = tmp_path / f"server-{cycle}.log"
        runs = tmp_path / f"runs-{cycle}"
        runs.mkdir()
        with local_server(ROOT, {"RNNVIZ_RUNS_DIR": str(runs)}, log_path=log_path) as (
                url, process):
            context = chromium.new_context(viewport={"width": 1400, "height": 1000})
            page = context.new_page()
            try:
                page.goto(url)
                settle(page)
                open_page(page, "Lessons")
                # a seed of the cycle's own: the run is trained, not found in a cache
                page.goto(f"{url}/playground?seed={cycle + 1}&{TINY}")
                settle(page)
                train_button(page).click()
                wait_for_run(page)
                for title in ("Hidden states", "Gradients"):
                    open_page(page, title)
                assert page.locator("[data-testid='stException']").count() == 0
            finally:
                context.close()
        log = log_path.read_text()
        _stopped_cleanly(process, log)
        # the events are there, one line each: the log is not clean because it is empty
        # (two jobs: the run Home trains on its first visit, and the Playground's)
        assert len(re.findall(r"INFO .*job started: ", log)) == 2, log
        # Home's may still be training at the stop: it then ends "stopped at step N"
        assert len(re.findall(r"INFO .*job finished: ", log)) == 2, log
        assert len(re.findall(r"INFO .*job finished: .* \(finished\)", log)) >= 1, log
        assert "training workers stopped" in log, log


@pytest.mark.timeout(600)
def test_a_stop_during_a_training_leaves_a_clean_log(chromium, tmp_path):
    """A rollout while a class trains: SIGTERM with a browser connected and its job training
    in a worker process. The job stops after its step (said in one INFO line), the workers are
    joined, the server exits 0."""
    for cycle in range(_cycles(2)):
        log_path = tmp_path / f"server-{cycle}.log"
        runs = tmp_path / f"runs-{cycle}"
        runs.mkdir()
        context = chromium.new_context(viewport={"width": 1400, "height": 1000})
        try:
            with local_server(ROOT, {"RNNVIZ_RUNS_DIR": str(runs)}, log_path=log_path) as (
                    url, process):
                page = context.new_page()
                page.goto(f"{url}/playground?seed={cycle + 50}&steps=20000&seq_len=10"
                          "&hidden_size=8")
                settle(page)
                train_button(page).click()
                # a step above 0: the worker is training (not still starting)
                page.get_by_text(re.compile(r"Training: step [1-9]")).first.wait_for(
                    timeout=120_000)
                # the live view redraws meanwhile: a later step than the first one seen
                step = int(re.search(r"Training: step (\d+)", page.locator(
                    "[data-testid='stMain']").inner_text())[1])
                page.wait_for_function("""(step) => {
                    const main = document.querySelector("[data-testid='stMain']").innerText;
                    const found = /Training: step (\\d+)/.exec(main);
                    return found !== null && +found[1] > step;
                }""", arg=step, timeout=60_000, polling=250)
        finally:
            context.close()
        log = log_path.read_text()
        _stopped_cleanly(process, log)
        assert re.search(r"INFO .*job finished: .*\(stopped at step \d+: the server is "
                         r"shutting down\)", log), log
        assert "training workers stopped" in log, log


@pytest.mark.timeout(600)
def test_a_stop_while_the_workers_start_leaves_a_clean_log(tmp_path):
    """The server's first page view starts its training workers (seconds: a fork server that
    imports torch, then the workers); a stop at any moment of that must not leave a worker
    without its parent. Stops are spread over the first 3 s after that page view, the window
    in which 2 of 8 such stops logged the FileNotFoundError traceback before the fix."""
    delays = [3.0 * (cycle + random.random()) / _cycles(6) for cycle in range(_cycles(6))]
    for cycle, delay in enumerate(delays):
        log_path = tmp_path / f"server-{cycle}.log"
        runs = tmp_path / f"runs-{cycle}"
        runs.mkdir()
        with local_server(ROOT, {"RNNVIZ_RUNS_DIR": str(runs)}, log_path=log_path) as (
                url, process):
            _view_a_page(url)
            time.sleep(delay)
        log = log_path.read_text()
        _stopped_cleanly(process, log)
        assert "training workers: starting 2 worker processes" in log, log

"""``rnnviz app --logdir`` from the installed wheel, in Chromium (issue 23): the wheel built
from this checkout is installed into a fresh virtual environment (its dependencies from the
dev environment through a .pth file, nothing from the network), started from a folder outside
the checkout, while a learner's recording loop writes beside it. The Recorded runs page shows
the run's step count and its loss chart advancing; the Gates page then rewinds the Training
step slider to the first snapshot. axe-core finds nothing on the Recorded runs page."""

from __future__ import annotations

import contextlib
import os
import re
import site
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rnnviz.app.server import free_port, stop, wait_until_healthy
from tests.conftest import ROOT

from .harness import CHART, EXCEPTION, open_page, settle, sized_tab
from .test_accessibility import _violations

SLIDER = "input[type=range][aria-label='Training step']"
LOOP = """
import sys, time
import torch
from torch import nn
import rnnviz

torch.set_num_threads(1)
torch.manual_seed(0)
lstm, head = nn.LSTM(1, 8), nn.Linear(8, 1)
opt = torch.optim.Adam([*lstm.parameters(), *head.parameters()], lr=0.01)
rec = rnnviz.record(lstm, torch.randn(20, 4, 1), lambda out: head(out[-1]).pow(2).sum(1),
                    to=sys.argv[1], every=10)
while True:  # until the test stops it, as a learner's Ctrl-C would
    x = torch.randn(20, 16, 1)
    out, _ = lstm(x)
    loss = (head(out[-1]) - x.sum(0)).pow(2).mean()
    opt.zero_grad()
    loss.backward()
    opt.step()
    rec.step(loss)
    time.sleep(0.05)
"""
# the step the Recorded runs page says the loop reached, and the one its loss chart's title says
STEP_TEXT = re.compile(r"Step ([\d,]+) of your loop")
CHART_STEP = """() => { const plot = Array.from(document.querySelectorAll('.js-plotly-plot'))
    .find(p => ((p._fullLayout || {}).title || {}).text?.includes('Loss of my-lstm'));
    const m = plot && /up to step (\\d+)/.exec(plot._fullLayout.title.text);
    return m ? +m[1] : -1; }"""


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """A fresh venv holding the wheel, and the dev environment's packages through a .pth."""
    where = tmp_path_factory.mktemp("installed")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "--quiet", "--wheel-dir", str(where), str(ROOT)],
                   check=True, capture_output=True, timeout=240, cwd=where)
    (wheel,) = where.glob("rnnviz-*.whl")
    venv = where / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True,
                   timeout=120)
    python = venv / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; "
                              "print(sysconfig.get_paths()['purelib'])"], check=True,
                             capture_output=True, text=True).stdout.strip()
    (Path(purelib) / "dev_environment.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install",
                    "--no-deps", "--no-index", "--quiet", str(wheel)],
                   check=True, capture_output=True, timeout=240)
    return venv


@contextlib.contextmanager
def _process(command, cwd, log_path):
    """A process in a session of its own, stopped with SIGTERM and then its whole group."""
    with open(log_path, "w") as log:
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "RNNVIZ_LOGDIR")}
        process = subprocess.Popen(command, cwd=cwd, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True, env=env)
        try:
            yield process
        finally:
            stop(process)


def _healthy(url: str, process, log: Path, timeout: float = 120) -> None:
    try:
        wait_until_healthy(url, process, str(log), timeout)
    except RuntimeError:
        raise AssertionError(log.read_text()[-3000:]) from None


def _step_shown(tab) -> int:
    text = tab.locator("[data-testid='stMain']").inner_text()
    found = STEP_TEXT.search(text)
    return int(found.group(1).replace(",", "")) if found else -1


def _advances(tab, read, timeout_s: float = 60) -> tuple[int, int]:
    """Wait until ``read(tab)`` shows a step, then until it shows a later one."""
    deadline = time.time() + timeout_s
    first = read(tab)
    while first < 0:
        assert time.time() < deadline, "no step shown"
        tab.wait_for_timeout(250)
        first = read(tab)
    later = first
    while later <= first:
        assert time.time() < deadline, f"still at step {first}"
        tab.wait_for_timeout(250)
        later = read(tab)
    return first, later


def test_installed_app_follows_a_recording_and_rewinds_it(installed, browser, tmp_path):
    elsewhere = tmp_path / "elsewhere"  # no checkout here: only the installed package
    runs = elsewhere / "runs"
    runs.mkdir(parents=True)
    where = subprocess.run([str(installed / "bin" / "python"), "-c",
                            "import rnnviz; print(rnnviz.__file__)"], cwd=elsewhere,
                           capture_output=True, text=True, check=True, env={
                               k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    assert where.stdout.startswith(str(installed)), where.stdout
    port = free_port()
    url = f"http://localhost:{port}"
    server_log, loop_log = tmp_path / "server.log", tmp_path / "loop.log"
    (elsewhere / "loop.py").write_text(LOOP)
    with _process([str(installed / "bin" / "rnnviz"), "app", "--logdir", str(runs),
                   "--port", str(port)], elsewhere, server_log) as server, \
            _process([str(installed / "bin" / "python"), "loop.py", str(runs / "my-lstm")],
                     elsewhere, loop_log) as loop:
        _healthy(url, server, server_log)
        with sized_tab(browser, "desktop") as tab:
            tab.goto(url)
            settle(tab)
            open_page(tab, "Recorded runs")
            tab.get_by_text("my-lstm").first.wait_for(timeout=60_000)
            tab.get_by_role("button", name="Open").first.click()
            first, later = _advances(tab, _step_shown)
            print(f"\nRecorded runs: the step shown went from {first} to {later}")
            _advances(tab, lambda t: t.evaluate(CHART_STEP))
            # the page is listed only with a log folder, so test_accessibility never opens it
            found = _violations(tab)
            assert not found, found
            open_page(tab, "Gates")
            slider = tab.locator(SLIDER)
            slider.wait_for(timeout=60_000)
            slider.focus()
            slider.press("Home")
            tab.wait_for_function(
                "(s) => document.querySelector(s)?.getAttribute('aria-valuetext')"
                "?.startsWith('step 0')", arg=SLIDER, timeout=60_000)
            settle(tab)
            assert tab.locator(CHART).count() > 0
            assert tab.locator(EXCEPTION).count() == 0
            assert not tab.problems, tab.problems
        assert loop.poll() is None, loop_log.read_text()[-2000:]  # it recorded all along
    assert "Traceback" not in server_log.read_text(), server_log.read_text()[-3000:]

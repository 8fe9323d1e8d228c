"""Holding up under a class: the job size limit, the process-wide job limit with its queue, shared
jobs for identical configs, and the bounded run cache, in the engine and on the page."""

import time

import pytest
from streamlit.testing.v1 import AppTest

from rnnviz.core.config import RunConfig
from rnnviz.core.train import train
from rnnviz.serve import limits
from rnnviz.serve.jobs import Job, RunCache, run_nbytes
from tests.conftest import ROOT
from tests.jobhelpers import registry_in, wait_until

TINY = dict(seq_len=6, hidden_size=4, steps=10, eval_every=5, probe_every=5, device="cpu")


def test_job_size_and_message(monkeypatch):
    monkeypatch.delenv(limits.ENV, raising=False)
    assert limits.job_size(RunConfig()) == 20 * 32 * 1 * 64 * 1000
    limits.check_job(RunConfig())  # the default lesson fits with room to spare
    big = RunConfig(seq_len=200, hidden_size=128, steps=5000)
    with pytest.raises(limits.JobTooLarge) as err:
        limits.check_job(big)
    text = str(err.value)
    assert "sequence length 200 × hidden units 128 × layers 1 × batch size 64 × training " \
           "steps 5,000 = 8,192,000,000" in text
    assert "at most 305 training steps" in text and limits.ENV in text
    limits.check_job(big.replace(steps=305))
    with pytest.raises(limits.JobTooLarge, match="shorter sequence"):  # not even one step fits
        limits.check_job(RunConfig(seq_len=400, hidden_size=256, batch_size=512), limit=10**6)


@pytest.mark.parametrize("raw,expected", [
    ("", limits.DEFAULT_MAX_JOB_SIZE), ("2e9", 2_000_000_000), ("1_000_000", 1_000_000),
    ("off", None), ("0", None), ("lots", limits.DEFAULT_MAX_JOB_SIZE),
    ("-5", limits.DEFAULT_MAX_JOB_SIZE),
])
def test_limit_from_environment(monkeypatch, raw, expected):
    monkeypatch.setenv(limits.ENV, raw)
    assert limits.max_job_size() == expected


def test_jobs_beyond_the_limit_wait_in_a_visible_queue(tmp_path):
    registry = registry_in(tmp_path, max_jobs=1)
    first = registry.submit(RunConfig(**{**TINY, "steps": 100_000}))  # runs until stopped
    wait_until(lambda: first.progress.state == "running")
    second = registry.submit(RunConfig(**TINY))
    time.sleep(0.2)
    assert isinstance(second, Job) and second.progress.state == "queued"
    assert registry.queued() == 1 and registry.active == 2
    first.detach()  # the only watcher leaves: the job stops and frees its slot
    result = second.wait(60)
    assert second.progress.state == "done" and result.history.steps_done == 10
    assert registry.active == 0 and registry.queued() == 0


def test_leaving_a_queued_job_is_immediate_and_it_never_trains(tmp_path):
    registry = registry_in(tmp_path, max_jobs=1)
    first = registry.submit(RunConfig(**{**TINY, "steps": 100_000, "seed": 31}))
    wait_until(lambda: first.progress.state == "running")
    queued = registry.submit(RunConfig(**{**TINY, "seed": 32}))
    time.sleep(0.2)
    assert queued.progress.state == "queued"
    started = time.time()
    assert queued.detach() is None  # nothing was learned, so nothing to keep
    assert time.time() - started < 1.0  # no waiting for the slot it never got
    first.detach()
    queued.wait(60)
    assert queued.done and queued.result is None and queued.history is None
    assert registry.active == 0


def test_identical_configs_share_one_job_and_then_the_cache(tmp_path):
    registry = registry_in(tmp_path, max_jobs=2)
    cfg = RunConfig(**{**TINY, "steps": 300})
    jobs = [registry.submit(cfg) for _ in range(5)]
    assert all(job is jobs[0] for job in jobs) and registry.active == 1
    run = jobs[0].wait(60)
    wait_until(lambda: len(registry.cache) == 1)
    assert registry.submit(cfg) is run


def test_run_cache_is_bounded_in_entries_and_bytes():
    runs = [train(RunConfig(**{**TINY, "seed": seed})) for seed in range(4)]
    cache = RunCache(max_entries=2, max_bytes=10**9)
    for run in runs:
        cache.put(run)
    assert len(cache) == 2 and cache.get(runs[0].config.key) is None
    assert cache.get(runs[3].config.key) is runs[3]
    small = RunCache(max_entries=100, max_bytes=int(run_nbytes(runs[0]) * 2.5))
    for run in runs:
        small.put(run)
    assert len(small) == 2 and small.nbytes <= small.max_bytes
    cache.get(runs[2].config.key)  # used recently: survives the next insertion
    cache.put(runs[0])
    assert cache.get(runs[2].config.key) is runs[2] and cache.get(runs[3].config.key) is None


def _playground(**config) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    at.switch_page("pages/playground.py").run()
    for key, value in config.items():
        next(w for kind in ("slider", "number_input", "selectbox") for w in at.get(kind)
             if w.key == key).set_value(value)
    return at


def _press_train(at: AppTest) -> None:
    next(b for b in at.button if b.label == "Train").click().run()


def test_page_explains_a_run_over_the_limit(monkeypatch):
    monkeypatch.setenv(limits.ENV, "4000")  # the tiny run: 6 × 4 × 1 × 64 × 10 = 15,360
    at = _playground(**{**TINY, "seed": 424242})
    assert any("unit updates" in c.value for c in at.caption), "the limit is stated up front"
    _press_train(at)
    assert not at.exception
    assert any("too large for this server" in e.value and "at most 2 training steps" in e.value
               for e in at.error)
    assert "job" not in at.session_state


def test_page_shows_the_queue_when_the_server_is_busy():
    at = _playground(**{**TINY, "seed": 515151})
    from rnnviz.app import state  # the same process-wide registry the page uses
    registry = state.registry()
    taken = 0
    while registry.slots.acquire(blocking=False):  # every slot busy, as under a class
        taken += 1
    try:
        _press_train(at)
        assert not at.exception
        assert any("Queued" in i.value for i in at.info)
        assert at.session_state["job"].progress.state == "queued"
    finally:
        for _ in range(taken):
            registry.slots.release()
    job = at.session_state["job"]
    job.wait(60)
    assert job.progress.state == "done"


def test_an_inside_page_opened_while_its_run_trains_follows_it_and_fills_in():
    """Gates opened while the session's run trains says it fills in when the run finishes:
    it shows the training's progress, and once the run ends the page (rerun by that progress
    fragment, as the browser's timer does) draws the run's charts."""
    at = _playground(**{**TINY, "seed": 616161, "steps": 1500})
    _press_train(at)
    job = at.session_state["job"]
    at.switch_page("pages/gates.py").run()
    assert not at.exception
    assert any("fills in when it finishes" in i.value for i in at.info)
    assert any("Training: step" in (p.text or "") for p in at.get("progress")), \
        "the page follows the training it waits for"
    job.wait(120)
    at.run()  # the fragment's rerun of the whole page once the job is done
    assert not at.exception
    assert not any("fills in when it finishes" in i.value for i in at.info)
    assert len(at.get("plotly_chart")) > 0

"""Training several runs at once and the dependency sweep (rnnviz.studies.compare)."""

import math

import numpy as np
import pytest
import torch

from rnnviz.core.config import RunConfig
from rnnviz.core.tasks import validation_set
from rnnviz.core.train import train
from rnnviz.serve.bench import bench_compare
from rnnviz.serve.jobs import RunCache
from rnnviz.serve.many import dependency_sweep, train_many
from rnnviz.studies.compare import SweepResult, parse_lengths, sweep_configs

TINY = dict(seq_len=6, hidden_size=4, steps=20, eval_every=5, probe_every=5, batch_size=16,
            device="cpu")


def _same_run(a, b) -> None:
    assert a.config == b.config
    np.testing.assert_array_equal(a.history.loss, b.history.loss)
    np.testing.assert_array_equal(a.history.val_metric, b.history.val_metric)
    np.testing.assert_array_equal(a.history.probe_grad, b.history.probe_grad)
    for (name, x), (_, y) in zip(a.model.state_dict().items(), b.model.state_dict().items()):
        assert torch.equal(x, y), name


def test_train_many_gives_the_runs_train_gives_and_reports_progress():
    configs = [RunConfig(cell=cell, **TINY) for cell in ("rnn", "gru")]
    seen = []
    runs = train_many(configs, lambda i, step, total: seen.append((i, step, total)))
    assert [r.config.cell for r in runs] == ["rnn", "gru"]  # the order asked for
    for run, cfg in zip(runs, configs):
        # trained in a worker process, returned as run-file bytes: bit for bit what train()
        # gives in this process
        _same_run(run, train(cfg))
        assert run.history.steps_done == 20 and run.history.stop_reason == "finished"
    for index in (0, 1):  # each run reported its last step
        assert (index, 20, 20) in seen
        steps = [s for i, s, _ in seen if i == index]
        assert steps == sorted(steps)


def test_train_many_reuses_the_cache_and_trains_equal_configs_once():
    cache = RunCache()
    lstm = RunConfig(cell="lstm", **TINY)
    cached = train(lstm)
    cache.put(cached)
    gru = RunConfig(cell="gru", **TINY)
    runs = train_many([lstm, gru, gru], cache=cache)
    assert runs[0] is cached  # not retrained
    assert runs[1] is runs[2]  # equal configs: one run
    assert cache.get(gru.key) is runs[1]  # a complete new run joins the cache
    _same_run(runs[1], train(gru))


def test_returning_false_from_on_progress_stops_every_run_and_keeps_them_out_of_the_cache():
    cache = RunCache()
    configs = [RunConfig(cell=cell, **{**TINY, "steps": 5000}) for cell in ("rnn", "gru")]
    runs = train_many(configs, lambda i, step, total: False, cache=cache)
    for run in runs:
        assert 0 < run.history.steps_done < 5000
        assert run.history.stop_reason.startswith("stopped")
    assert len(cache) == 0  # a stopped run is not the config's run


def test_dependency_sweep_on_a_tiny_grid():
    base = RunConfig(task="copy", lag=2, **{**TINY, "seq_len": 8})
    result = dependency_sweep(base, ["rnn", "lstm"], [4, 6, 2], param="lag")
    assert result.lengths == [2, 4, 6] and result.cells == ["rnn", "lstm"]
    assert result.metric_name == "accuracy" and result.higher_is_better
    # chance: the best constant guess on each run's validation set (a share near 1/8)
    expected = []
    for lag in (2, 4, 6):
        y = validation_set(base.replace(lag=lag))[1].reshape(-1)
        counts = np.bincount(y[y >= 0].long().numpy(), minlength=8)
        expected.append(counts.max() / counts.sum())
    assert result.chance == pytest.approx(expected)
    for cell in result.cells:
        assert [c.lag for c in result.configs[cell]] == [2, 4, 6]
        assert all(c.cell == cell and c.seq_len == 8 for c in result.configs[cell])
        assert len(result.metric[cell]) == 3 and all(0 <= m <= 1 for m in result.metric[cell])
    # each point is the final validation accuracy of exactly that config
    lone = train(result.configs["lstm"][1])
    assert result.metric["lstm"][1] == pytest.approx(float(lone.history.val_metric[-1]))
    assert result.loss["lstm"][1] == pytest.approx(float(lone.history.val_loss[-1]))


def test_breaking_point_is_the_first_length_below_halfway_from_chance():
    result = SweepResult(param="seq_len", lengths=[5, 10, 20], cells=["rnn", "lstm"],
                         task="adding", metric_name="MSE", higher_is_better=False,
                         chance=[1 / 6] * 3, metric={"rnn": [0.01, 0.05, 0.15],
                                                     "lstm": [0.001, 0.002, 0.003]},
                         loss={}, stop_reasons={}, configs={})
    # MSE 0.05 is 70% of the way from chance (1/6) to 0; 0.15 only 10%
    assert result.breaking_point("rnn") == 20
    assert result.breaking_point("rnn", margin=0.8) == 10
    assert result.breaking_point("lstm") is None
    accuracy = SweepResult(param="lag", lengths=[2, 4], cells=["gru"], task="copy",
                           metric_name="accuracy", higher_is_better=True, chance=[0.125] * 2,
                           metric={"gru": [1.0, float("nan")]}, loss={}, stop_reasons={},
                           configs={})
    assert accuracy.breaking_point("gru") == 4  # no validation counts as broken


@pytest.mark.parametrize("text, words", [("", "no lengths"), ("5, x", "“x” is not a number"),
                                         ("5, 2.5", "not a whole number")])
def test_lengths_that_do_not_parse_say_why(text, words):
    with pytest.raises(ValueError, match=words):
        parse_lengths(text)


def test_lengths_parse_sorted_without_repeats():
    assert parse_lengths(" 40, 5;10 20 10 ") == [5, 10, 20, 40]


@pytest.mark.parametrize("change, cells, lengths, param, words", [
    ({}, [], [5], "seq_len", "at least one cell"),
    ({}, ["rnn", "transformer"], [5], "seq_len", "unknown cell"),
    ({}, ["rnn"], [5], "lag", "only exists in the copy task"),
    ({"task": "copy", "seq_len": 10, "lag": 2}, ["rnn"], [3, 10], "lag",
     "raise the sequence length"),
    ({"task": "copy", "seq_len": 10, "lag": 4}, ["rnn"], [3, 10], "seq_len",
     "larger than 4"),
    ({}, ["rnn"], [1, 10], "seq_len", "out of range"),
    ({}, ["rnn"], [], "seq_len", "at least one length"),
])
def test_a_sweep_that_cannot_train_says_why(change, cells, lengths, param, words):
    base = RunConfig(**{**TINY, **change})
    with pytest.raises(ValueError, match=words):
        sweep_configs(base, cells, lengths, param)


def test_bench_compare_prints_the_table():
    lines = []
    timings = bench_compare(steps=10, repeats=1, base=RunConfig(**TINY), print_fn=lines.append)
    assert len(timings["together_s"]) == len(timings["one_after_another_s"]) == 1
    assert timings["median_ratio"] == pytest.approx(
        timings["together_s"][0] / timings["one_after_another_s"][0])
    assert any(line.startswith("median") for line in lines)
    assert math.isfinite(timings["startup_s"])


def _worker_modules() -> tuple:
    """Run in a worker: what it imported besides what training needs."""
    import sys
    main = sys.modules.get("__mp_main__")
    return getattr(main, "__file__", None), "streamlit" in sys.modules, "pandas" in sys.modules


def test_workers_started_during_a_page_script_do_not_run_that_script(tmp_path, monkeypatch):
    # While Streamlit runs a page, sys.modules["__main__"] is that page's module; a worker
    # started then must neither execute the page nor import Streamlit.
    import sys
    import types

    from rnnviz.serve import pool as worker_pool

    marker = tmp_path / "page-was-executed"
    page = tmp_path / "page.py"
    page.write_text(f"open({str(marker)!r}, 'w').close()\nimport streamlit\n")
    fake_main = types.ModuleType("__main__")
    fake_main.__file__ = str(page)
    worker_pool.shutdown_workers()  # the next call starts fresh workers
    try:
        with monkeypatch.context() as patch:
            patch.setitem(sys.modules, "__main__", fake_main)
            pool = worker_pool.shared_pool()
            futures = [pool.executor.submit(_worker_modules) for _ in range(pool.workers)]
        assert [f.result(timeout=120) for f in futures] == [(None, False, False)] * pool.workers
        assert not marker.exists()
    finally:
        worker_pool.shutdown_workers()


@pytest.mark.parametrize("workers", [2, 1])  # the worker pool, and training in this process
def test_train_many_streams_each_runs_history_while_it_trains(workers):
    """The Compare page draws every cell's curve as it grows (issue 20, item 3): the history
    each call hands over is the run's own, part-way through, and at the end bit for bit the
    finished run's."""
    import threading

    configs = [RunConfig(cell=cell, **{**TINY, "steps": 800, "seq_len": 20})
               for cell in ("rnn", "gru")]
    caller = threading.get_ident()
    seen: dict[int, list[int]] = {0: [], 1: []}
    streamed = {}

    def on_history(index, history):
        assert threading.get_ident() == caller
        seen[index].append(history.steps_done)
        streamed[index] = history

    runs = train_many(configs, workers=workers, on_history=on_history)
    for index, run in enumerate(runs):
        counts = seen[index]
        assert counts == sorted(counts) and len(counts) >= 2, counts
        assert any(0 < n < run.config.steps for n in counts), counts  # part-way through
        history = streamed[index]
        assert history.steps_done == run.config.steps
        np.testing.assert_array_equal(history.loss, run.history.loss)
        np.testing.assert_array_equal(history.val_loss, run.history.val_loss)

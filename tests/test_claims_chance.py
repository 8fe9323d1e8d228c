"""Chance levels are measured on the set a run is scored on (audit item 6).

``chance_for(cfg)`` must be what the best constant prediction scores on the config's fixed
validation set (``validation_set(cfg)``, the set ``train()`` evaluates on), with the run's own
loss and metric. Every expected value here is recomputed independently with numpy from the
validation targets, never through ``chance_for``.
"""

import math

import numpy as np
import pytest
import torch

from rnnviz import TASKS, RunConfig, build_model
from rnnviz.core import csvdata
from rnnviz.core.tasks import chance_for, validation_set
from rnnviz.core.train import evaluate
from rnnviz.studies import lessons

CONFIGS = {
    "sine": RunConfig(task="sine"),
    "adding": RunConfig(task="adding"),
    "copy": RunConfig(task="copy"),
    "parity": RunConfig(task="parity"),
    "text": RunConfig(task="text"),
    "copy lag 9": RunConfig(task="copy", seq_len=30, lag=9, seed=3),
    "parity 3 bits": RunConfig(task="parity", marked_bits=3, seq_len=15, seed=2),
    "sine noisy": RunConfig(task="sine", seq_len=30, noise=0.3, seed=7),
    # the lessons' runs, whose facts speak of "% of chance"
    "lesson sine": lessons.SINE,
    "lesson adding 20": lessons.ADDING_RNN_20,
    "lesson adding 50": lessons.ADDING_RNN_50,
    "lesson exploding": lessons.EXPLODING,
    "lesson adding 30": lessons.SHORT_LSTM,
    "lesson overfit": lessons.OVERFIT,
    "lesson writer": lessons.WRITER,
}


def best_constant(cfg) -> tuple[float, float, np.ndarray]:
    """(loss, metric, constant) of the best constant prediction on the validation set, by numpy.

    Regression: the constant is the targets' mean (per output column); its MSE is both loss and
    metric. Classification: the constant distribution is the targets' class frequencies (steps
    without a target, -1, left out); its cross-entropy is their entropy, and always naming the
    most frequent class scores that class's share."""
    task = TASKS[cfg.task]
    y = validation_set(cfg)[1].numpy().astype(np.float64)
    if not task.classification:
        columns = y.reshape(-1, task.output_size())
        mean = columns.mean(axis=0)
        mse = float(((columns - mean) ** 2).mean())
        return mse, mse, mean
    targets = y.ravel()
    targets = targets[targets >= 0].astype(int)
    freq = np.bincount(targets, minlength=task.output_size()) / len(targets)
    present = freq[freq > 0]
    return float(-(present * np.log(present)).sum()), float(freq.max()), freq


@pytest.mark.parametrize("label", sorted(CONFIGS))
def test_chance_is_the_best_constant_on_the_validation_set(label):
    cfg = CONFIGS[label]
    loss, metric, _ = best_constant(cfg)
    chance = chance_for(cfg)
    assert chance.metric == pytest.approx(metric, rel=1e-5, abs=1e-7)
    assert chance.loss == pytest.approx(loss, rel=1e-5)


@pytest.mark.parametrize("label", ["sine", "adding", "copy", "parity", "text", "lesson overfit"])
def test_chance_is_what_a_constant_model_scores_in_the_runs_own_validation(label):
    """A network whose readout ignores its hidden state and outputs the best constant, scored by
    ``train.evaluate`` on ``validation_set`` exactly as ``train()`` scores a run: chance."""
    cfg = CONFIGS[label]
    task = TASKS[cfg.task]
    _, _, constant = best_constant(cfg)
    model = build_model(cfg)
    with torch.no_grad():
        model.head.weight.zero_()
        bias = np.log(np.maximum(constant, 1e-30)) if task.classification else constant
        model.head.bias.copy_(torch.tensor(bias, dtype=torch.float32))
    loss, metric = evaluate(model, *validation_set(cfg))
    chance = chance_for(cfg)
    assert chance.loss == pytest.approx(loss, rel=1e-5)
    assert chance.metric == pytest.approx(metric, rel=1e-5, abs=1e-7)


def test_no_constant_beats_chance():
    """Nudging the constant either way only makes the validation score worse."""
    for cfg in (CONFIGS["adding"], CONFIGS["sine"], lessons.ADDING_RNN_50):
        y = validation_set(cfg)[1].numpy().astype(np.float64)
        chance = chance_for(cfg).metric
        for shift in (-0.02, 0.02):
            assert float(((y - y.mean() - shift) ** 2).mean()) > chance


def test_the_audits_adding_numbers():
    # the default seed and validation size: 0.150 at 20 steps, 0.152 at 50, not 1/6 = 0.167
    assert chance_for(lessons.ADDING_RNN_20).metric == pytest.approx(0.150, abs=5e-4)
    assert chance_for(lessons.ADDING_RNN_50).metric == pytest.approx(0.152, abs=5e-4)
    assert chance_for(RunConfig(task="adding", seq_len=20)).metric < 1 / 6 - 0.01


def test_the_audits_text_numbers():
    text = TASKS["text"]
    for cfg in (lessons.OVERFIT, lessons.WRITER):
        chance = chance_for(cfg)
        # the most common character (a space) on the validation text: 18.5-18.6%, not the
        # training text's 18.1%
        assert round(chance.metric, 3) in (0.185, 0.186)
        assert chance.metric > 0.1835
    # the audit's 3.076 is the cross-entropy, on the overfitting lesson's validation set, of
    # the training text's letter frequencies; the best constant on that set (its own
    # frequencies) does better still, and that is the chance loss
    y = validation_set(lessons.OVERFIT)[1].numpy().ravel().astype(int)
    train = text.encode(text.split_text("train")).numpy()
    train_freq = np.bincount(train, minlength=len(text.vocab)) / len(train)
    audit = float(-np.log(train_freq[y]).mean())
    assert audit == pytest.approx(3.076, abs=5e-4)
    chance = chance_for(lessons.OVERFIT)
    assert chance.loss < audit
    assert chance.loss == pytest.approx(best_constant(lessons.OVERFIT)[0], rel=1e-5)


def test_population_values_stay_in_the_words():
    adding = chance_for(RunConfig(task="adding"))
    assert adding.population_metric == pytest.approx(1 / 6)
    assert "1/6" in adding.how and "0.167" in adding.how and "validation" in adding.how
    sine = chance_for(RunConfig(task="sine"))
    assert sine.population_metric == pytest.approx(7 / 48)
    assert "validation" in sine.how and "0.146" in sine.how
    copy = chance_for(RunConfig(task="copy"))
    assert copy.population_metric == pytest.approx(1 / 8) and "12.5%" in copy.how
    parity = chance_for(RunConfig(task="parity"))
    assert parity.population_metric == 0.5 and "50%" in parity.how
    text = chance_for(RunConfig(task="text"))
    assert text.population_metric == pytest.approx(TASKS["text"].chance(20).metric)
    assert "validation" in text.how and "18.1%" in text.how


def test_chance_is_cached_per_validation_set():
    cfg = RunConfig(task="text", seq_len=40)
    assert chance_for(cfg) is chance_for(cfg.replace(cell="gru", lr=0.003, steps=7))
    assert chance_for(cfg) is not chance_for(cfg.replace(seed=1))


def test_csv_chance_is_the_validation_sets_mean(monkeypatch):
    rows = np.arange(200, dtype=float)
    values = np.stack([np.sin(rows / 7) + rows / 50, np.cos(rows / 5)], axis=1)
    task = csvdata.CsvTask(csvdata.make_dataset(("a", "b"), values))
    monkeypatch.setitem(TASKS, task.name, task)
    cfg = RunConfig(task=task.name, seq_len=12)
    loss, metric, mean = best_constant(cfg)
    chance = chance_for(cfg)
    assert chance.metric == pytest.approx(metric, rel=1e-5)
    assert chance.loss == pytest.approx(loss, rel=1e-5)
    # the trend leaves the validation part far from the training mean (0 after z-scoring),
    # the old chance; the best constant on the validation set is the lower bar
    assert mean[0] > 1 and chance.metric < task.chance(12).metric
    assert chance.population_metric == pytest.approx(task.chance(12).metric)
    assert "validation" in chance.how and math.isfinite(chance.loss)

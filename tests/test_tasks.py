import math

import pytest
import torch

from rnnviz import TASKS, RunConfig
from rnnviz.core.tasks import COPY_SYMBOLS, probe_batch, seeded_generator, validation_set

SHAPES = {  # task -> (input_size, y shape for batch 3 and seq_len 10)
    "sine": (1, (3, 10, 1)), "adding": (2, (3, 1)), "copy": (COPY_SYMBOLS, (3, 10)),
    "parity": (2, (3, 1)), "text": (len(TASKS["text"].vocab), (3, 10)),
}


@pytest.mark.parametrize("name", sorted(SHAPES))  # sentiment's token ids: test_sentiment.py
def test_shapes_and_determinism(name):
    task = TASKS[name]
    x, y = task.sample(3, 10, seeded_generator(5), lag=4)
    size, y_shape = SHAPES[name]
    assert x.shape == (3, 10, size) and x.dtype == torch.float32
    assert tuple(y.shape) == y_shape and y.dtype == torch.float32
    x2, y2 = task.sample(3, 10, seeded_generator(5), lag=4)
    assert torch.equal(x, x2) and torch.equal(y, y2)
    x3, _ = task.sample(3, 10, seeded_generator(6), lag=4)
    assert not torch.equal(x, x3)
    assert len(task.description) > 200 and task.metric_name in ("MSE", "accuracy")


def test_adding_targets_and_chance():
    x, y = TASKS["adding"].sample(20000, 30, seeded_generator(0))
    markers = x[..., 1]
    assert torch.all(markers.sum(dim=1) == 2)
    assert torch.all(markers[:, :15].sum(dim=1) == 1)  # one marker in each half
    torch.testing.assert_close(y[:, 0], (x[..., 0] * markers).sum(dim=1))
    chance = TASKS["adding"].chance(30)
    # the MSE of always predicting the mean sum is the variance of the sum of two U(0,1)
    assert chance.metric == pytest.approx(1 / 6)
    assert float((y - 1.0).pow(2).mean()) == pytest.approx(chance.metric, rel=0.03)


def test_sine_chance_is_mean_square_of_target():
    _, y = TASKS["sine"].sample(4000, 50, seeded_generator(0))
    chance = TASKS["sine"].chance(50)
    assert float(y.pow(2).mean()) == pytest.approx(chance.metric, rel=0.05)
    assert abs(float(y.mean())) < 0.01


def test_copy_targets_lag_and_chance():
    x, y = TASKS["copy"].sample(8, 12, seeded_generator(1), lag=4)
    symbols = x.argmax(dim=-1)
    assert torch.all(y[:, :4] == -1)
    assert torch.equal(y[:, 4:].long(), symbols[:, :-4])
    random_logits = torch.randn(5000, 12, COPY_SYMBOLS, generator=seeded_generator(2))
    _, y_big = TASKS["copy"].sample(5000, 12, seeded_generator(3), lag=4)
    accuracy = TASKS["copy"].metric(random_logits, y_big)
    assert accuracy == pytest.approx(TASKS["copy"].chance(12, lag=4).metric, abs=0.01)
    # the loss ignores steps without a target: a perfect prediction costs ~0
    perfect = 50 * torch.nn.functional.one_hot(y.clamp(min=0).long(), COPY_SYMBOLS).float()
    assert float(TASKS["copy"].loss(perfect, y)) < 1e-6
    assert TASKS["copy"].metric(perfect, y) == 1.0


def test_parity_is_xor_of_marked_bits():
    x, y = TASKS["parity"].sample(500, 15, seeded_generator(4), marked_bits=3)
    assert torch.all(x[..., 1].sum(dim=1) == 3)
    expected = ((x[..., 0] * x[..., 1]).sum(dim=1) % 2)
    assert torch.equal(y[:, 0], expected)
    assert 0.4 < float(y.mean()) < 0.6
    assert TASKS["parity"].chance(15).metric == 0.5


def test_text_targets_are_next_characters_and_split_is_held_out():
    task = TASKS["text"]
    x, y = task.sample(4, 20, seeded_generator(0))
    inputs = x.argmax(dim=-1)
    assert torch.equal(inputs[:, 1:], y[:, :-1].long())  # y is x shifted by one character
    text = task.decode(inputs[0])
    assert text in task.split_text("train")
    val_x, _ = task.sample(4, 20, seeded_generator(0), split="val")
    assert task.decode(val_x.argmax(dim=-1)[0]) in task.split_text("val")
    chance = task.chance(20)
    counts = {c: task.split_text("train").count(c) for c in task.vocab}
    assert chance.metric == pytest.approx(max(counts.values()) / len(task.split_text("train")))
    assert 0 < chance.loss < math.log(len(task.vocab))


def test_validation_set_is_fixed_per_seed():
    cfg = RunConfig(task="copy", seq_len=10, lag=2)
    a, b = validation_set(cfg), validation_set(cfg)
    assert torch.equal(a[0], b[0])
    px, py = probe_batch(cfg)
    assert torch.equal(px, a[0][:16]) and torch.equal(py, a[1][:16])
    other = validation_set(cfg.replace(seed=1))
    assert not torch.equal(a[0], other[0])

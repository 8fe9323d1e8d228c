import numpy as np
import pytest
import torch

from rnnviz import RunConfig, trace, train
from rnnviz.core.history import MAX_SNAPSHOTS, History
from rnnviz.core.tasks import probe_batch
from rnnviz.core.train import resolve_device

TINY = dict(seq_len=10, hidden_size=8, steps=40, eval_every=10, probe_every=10)
EXPLODING = dict(cell="rnn", nonlinearity="relu", init="identity", recurrent_scale=1.5,
                 clip=None, optimizer="sgd", lr=0.1, task="adding", seq_len=50, steps=200)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_same_config_gives_same_loss_curve(cell):
    cfg = RunConfig(cell=cell, task="copy", lag=2, **TINY)
    a, b = train(cfg), train(cfg)
    np.testing.assert_array_equal(a.history.loss, b.history.loss)
    np.testing.assert_array_equal(a.history.probe_grad, b.history.probe_grad)
    c = train(cfg.replace(seed=1))
    assert not np.array_equal(a.history.loss, c.history.loss)


def test_history_contents_and_learning():
    cfg = RunConfig(task="adding", **{**TINY, "steps": 300, "probe_every": 50, "eval_every": 50,
                                      "hidden_size": 32})
    run = train(cfg)
    h = run.history
    assert h.steps_done == 300 and len(h.loss) == 300 and np.isfinite(h.loss).all()
    assert list(h.val_step) == [50, 100, 150, 200, 250, 300]
    assert list(h.probe_step) == [0, 50, 100, 150, 200, 250, 300]
    assert h.probe_grad.shape == (7, 10) and (h.probe_grad > 0).all()
    assert (h.grad_norm > 0).all()
    assert np.array_equal(h.clipped, h.grad_norm > cfg.clip)
    assert h.val_loss[-1] < 0.5 * run.chance.loss  # it learns the 10-step adding problem
    assert run.summary()["stop_reason"] == "finished"


def test_callback_receives_metrics_and_can_stop():
    seen = []

    def on_step(step, metrics):
        seen.append((step, metrics))
        return step < 7

    run = train(RunConfig(**TINY), on_step=on_step)
    assert [s for s, _ in seen] == list(range(1, 8))
    assert run.history.steps_done == 7
    assert "stopped by the user at step 7" == run.history.stop_reason
    assert {"loss", "metric", "grad_norm", "clipped"} <= set(seen[0][1])
    # what was learned is kept: the model is the one after 7 updates, not a fresh one
    fresh = train(RunConfig(**{**TINY, "steps": 7}))
    for p, q in zip(run.model.parameters(), fresh.model.parameters()):
        torch.testing.assert_close(p, q)


def test_exploding_run_ends_cleanly_with_reason():
    run = train(RunConfig(**EXPLODING))
    assert "exploded" in run.history.stop_reason
    assert run.history.steps_done < 200
    assert all(torch.isfinite(p).all() for p in run.model.parameters())
    # rolled back to weights whose outputs are finite, so every view can still be drawn
    x, y = probe_batch(run.config)
    tr = trace(run.model, x, y)
    assert np.isfinite(tr.hidden[0]).all() and np.isfinite(tr.grad_h[0]).all()
    assert "rolled back to step" in run.history.stop_reason


def test_clipping_rescues_the_exploding_run():
    run = train(RunConfig(**{**EXPLODING, "clip": 1.0, "lr": 0.01}))
    assert run.history.stop_reason == "finished"
    assert run.history.clipped.any()


def test_early_stopping_keeps_best_weights_on_a_small_training_set():
    cfg = RunConfig(task="adding", train_size=16, early_stopping=3, steps=2000, eval_every=10,
                    seq_len=10, hidden_size=32, lr=0.02)
    run = train(cfg)
    h = run.history
    assert h.stop_reason.startswith("early stopping")
    assert h.steps_done < 2000
    best = int(np.argmin(h.val_loss))
    assert h.best_step == h.val_step[best]
    # overfitting is visible: the training loss ends far below the validation loss
    assert h.loss[-20:].mean() < 0.5 * h.val_loss.min()


def test_history_stays_bounded_for_100k_steps():
    history = History(steps=100_000, eval_every=1, seq_len=400)
    rng = np.random.default_rng(0)
    for step in range(1, 100_001):
        history.record_step(1.0, 0.5, 2.0, step % 3 == 0)
        history.record_validation(step, 1.0, 0.5)
        history.record_probe(step, rng.random(400, dtype=np.float32))
    assert history.nbytes < 20e6
    assert history.probes_kept <= MAX_SNAPSHOTS
    steps = history.probe_step
    assert steps[0] == 1 and steps[-1] > 99_000  # old and new training stay covered
    gaps = np.diff(steps)
    assert gaps.min() == gaps.max()  # evenly spaced after thinning


def test_device_resolution():
    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA GPU"):
            resolve_device("cuda")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_run_matches_cpu_closely():
    cfg = RunConfig(**TINY)
    cpu, gpu = train(cfg.replace(device="cpu")), train(cfg.replace(device="cuda"))
    assert gpu.device == "cuda"
    np.testing.assert_allclose(cpu.history.loss, gpu.history.loss, rtol=1e-3, atol=1e-5)

"""Snapshots: the weights a run keeps over training, checked against the oracle of training the
same config again for exactly that many steps."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load as load_tensors
from safetensors.torch import save as save_tensors

from rnnviz import RunConfig, train
from rnnviz.core.history import MAX_SNAPSHOTS, SNAPSHOT_BUDGET_BYTES, snapshot_capacity
from rnnviz.core.runs import run_from_bytes, run_to_bytes

SMALL = dict(seq_len=6, hidden_size=5, steps=60, eval_every=10, probe_every=10, device="cpu")


def same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_model_at_is_the_model_trained_for_that_many_steps(cell):
    cfg = RunConfig(cell=cell, task="adding", **SMALL)
    run = train(cfg)
    assert run.snapshot_steps == [0, 10, 20, 30, 40, 50, 60]
    for step in (0, 30, 60):
        oracle = train(cfg.replace(steps=step)) if step else None
        held = run.model_at(step)
        assert not held.training
        if oracle is None:  # step 0: a fresh model of the config, before any update
            from rnnviz import build_model
            assert same_weights(held, build_model(cfg))
        else:
            assert same_weights(held, oracle.model), (cell, step)
    assert same_weights(run.model_at(60), run.model)  # the last snapshot is the final model


def test_a_step_that_was_not_kept_names_the_nearest_ones():
    run = train(RunConfig(**SMALL))
    with pytest.raises(ValueError, match="no snapshot at step 34; the nearest kept are 30 and 40"):
        run.model_at(34)


def test_the_default_run_keeps_at_least_20_snapshots_aligned_with_the_heatmap():
    run = train(RunConfig(device="cpu"))
    steps = run.snapshot_steps
    assert len(steps) >= 20 and steps[0] == 0 and steps[-1] == run.history.steps_done == 1000
    assert steps == run.history.probe_step.tolist()  # row k of "over training" is snapshot k
    assert steps == sorted(steps)


def test_thinning_keeps_snapshots_and_heatmap_rows_together():
    cfg = RunConfig(task="parity", seq_len=5, hidden_size=3, steps=450, eval_every=50,
                    probe_every=1, device="cpu")
    run = train(cfg)
    steps = run.snapshot_steps
    assert len(steps) <= MAX_SNAPSHOTS and steps[0] == 0 and steps[-1] == 450
    assert steps == run.history.probe_step.tolist()
    middle = steps[len(steps) // 2]
    assert same_weights(run.model_at(middle), train(cfg.replace(steps=middle)).model)


def test_snapshot_memory_stays_within_16_mb_for_the_largest_model():
    cfg = RunConfig(task="text", cell="lstm", hidden_size=256, num_layers=3, seq_len=8,
                    batch_size=4, steps=4, eval_every=2, probe_every=1, device="cpu")
    run = train(cfg)
    n_params = sum(p.numel() for p in run.model.parameters())
    assert snapshot_capacity(n_params) >= 2
    assert run.history.snapshot_nbytes <= SNAPSHOT_BUDGET_BYTES
    steps = run.snapshot_steps
    assert steps[0] == 0 and steps[-1] == 4 and len(steps) >= 2
    assert same_weights(run.model_at(4), run.model)
    # and the default model keeps the full 200 probes within the budget
    assert snapshot_capacity(4641) == MAX_SNAPSHOTS


def test_snapshots_travel_in_run_files():
    cfg = RunConfig(cell="gru", **SMALL)
    run = train(cfg)
    back = run_from_bytes(run_to_bytes(run))
    assert back.snapshot_steps == run.snapshot_steps
    for step in run.snapshot_steps:
        assert same_weights(back.model_at(step), run.model_at(step))


def test_an_older_run_file_without_snapshots_still_opens():
    run = train(RunConfig(**SMALL))
    data = run_to_bytes(run)
    tensors = load_tensors(data)
    tensors.pop("history.snapshots")
    header_length = int.from_bytes(data[:8], "little")
    metadata = json.loads(data[8:8 + header_length])["__metadata__"]
    old = run_from_bytes(save_tensors(tensors, metadata=metadata))
    assert old.snapshot_steps == [60]  # its only snapshot is its final model
    assert old.model_at(60) is old.model


def test_doctored_snapshots_are_refused_with_a_reason():
    run = train(RunConfig(**SMALL))
    data = run_to_bytes(run)
    header_length = int.from_bytes(data[:8], "little")
    metadata = json.loads(data[8:8 + header_length])["__metadata__"]
    for doctor in (lambda t: t[:-1], lambda t: t[:, :-1], lambda t: t.reshape(-1),
                   lambda t: t.double()):
        tensors = load_tensors(data)
        tensors["history.snapshots"] = doctor(tensors["history.snapshots"]).contiguous()
        with pytest.raises(ValueError, match="snapshots"):
            run_from_bytes(save_tensors(tensors, metadata=metadata))


def test_early_stopped_and_exploded_runs_keep_their_snapshots_as_trained():
    from rnnviz.studies.lessons import EXPLODING, OVERFIT
    early = train(OVERFIT.replace(early_stopping=5))
    last = early.snapshot_steps[-1]
    assert last == early.history.steps_done > early.history.best_step
    assert not same_weights(early.model_at(last), early.model)  # model: the best weights
    assert same_weights(early.model_at(last), train(OVERFIT.replace(steps=last)).model)
    wild = train(EXPLODING)
    assert "exploded" in wild.history.stop_reason
    assert wild.snapshot_steps[-1] == wild.history.steps_done
    assert same_weights(wild.model_at(wild.snapshot_steps[1]),
                        train(EXPLODING.replace(steps=wild.snapshot_steps[1])).model)

"""rnnviz.show: the pages' figures for a notebook, from a recorded run, a trained run and a
Trace, with the numbers of the run itself (the oracle: the trace and the recording)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import rnnviz
from rnnviz.core.trace import trace


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    torch.manual_seed(0)
    lstm = nn.LSTM(2, 6, batch_first=True)
    opt = torch.optim.Adam(lstm.parameters(), lr=0.05)
    probe = torch.randn(3, 9, 2)
    path = tmp_path_factory.mktemp("runs") / "lstm"
    with rnnviz.record(lstm, probe, lambda o: (o[:, -1] ** 2).sum(1), to=path, every=4) as rec:
        for _ in range(10):
            opt.zero_grad()
            loss = (lstm(torch.randn(4, 9, 2))[0] ** 2).mean()
            loss.backward()
            opt.step()
            rec.step(loss)
    return rnnviz.load_run(path), lstm, probe


def test_each_view_of_a_recording_draws_its_numbers(recorded):
    run, lstm, probe = recorded
    assert run.snapshot_steps == [0, 4, 8, 10]
    hidden = rnnviz.show(run, "hidden", step=4)
    expected = trace(run.model_at(4), probe).hidden[0][0]  # [T, H] of example 0
    assert "step 4" in hidden.layout.title.text
    np.testing.assert_allclose(np.asarray(hidden.data[0].z, dtype=float), expected.T,
                               rtol=1e-6)
    gates = rnnviz.show(run, "gates")
    assert {t.name.split(" ")[0] for t in gates.data if t.name} == {"i", "f", "g", "o"}
    forget = rnnviz.show(run, "gates", gate="f", step=0)
    assert np.asarray(forget.data[0].z).shape == (6, 9)
    grads = rnnviz.show(run, "gradients", step=8)
    line = next(t for t in grads.data if len(t.y) == 9)
    np.testing.assert_allclose(np.asarray(line.y, dtype=float), run.profile_at(8), rtol=1e-6)
    over = rnnviz.show(run, "over_training")
    assert list(over.data[0].y) == [0, 4, 8, 10]


def test_a_trace_and_a_trained_run(recorded):
    _, lstm, probe = recorded
    tr = rnnviz.inspect(lstm, probe, lambda o: (o[:, -1] ** 2).sum(1))
    fig = rnnviz.show(tr, "gradients")
    assert any(len(t.y) == 9 for t in fig.data)
    run = rnnviz.train(rnnviz.RunConfig(cell="gru", steps=4, eval_every=2, probe_every=2,
                                        hidden_size=4, seq_len=8))
    assert rnnviz.show(run, "gates", step=2).data
    assert rnnviz.show(run, "gradients").data


def test_bad_views_and_steps_name_the_allowed_ones(recorded):
    run, lstm, probe = recorded
    with pytest.raises(ValueError, match="'gates', 'hidden', 'gradients', 'over_training'"):
        rnnviz.show(run, "gate")
    with pytest.raises(ValueError, match=r"snapshot steps \(0, 4, 8, 10\); got 5"):
        rnnviz.show(run, "hidden", step=5)
    with pytest.raises(ValueError, match="gate must be one of i, f, g, o"):
        rnnviz.show(run, "gates", gate="z")
    tr = rnnviz.inspect(lstm, probe)
    with pytest.raises(ValueError, match="no gradients: pass loss_fn"):
        rnnviz.show(tr, "gradients")
    with pytest.raises(ValueError, match="needs a Run"):
        rnnviz.show(tr, "over_training")
    with pytest.raises(ValueError, match="a vanilla RNN has no gates"):
        rnnviz.show(rnnviz.inspect(nn.RNN(2, 3), torch.randn(5, 2)), "gates")
    with pytest.raises(TypeError, match="a Run .* or a Trace"):
        rnnviz.show(lstm, "hidden")

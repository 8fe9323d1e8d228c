"""rnnviz.record on the learner's own loop, against real oracles: the module's own weights at
each step, ``rnnviz.inspect``'s gradient profile on the same weights, the same loop without the
recorder (bit for bit), a writer killed by SIGKILL, and the thinning bounds."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from torch import nn

import rnnviz
from rnnviz.core.history import MAX_SNAPSHOTS
from rnnviz.core.record import Series, record
from rnnviz.core.recorded import load_recording
from tests.conftest import ROOT


class Net(nn.Module):
    """The learner's model: a recurrent module inside, a readout with dropout after it."""

    def __init__(self, cell=nn.LSTM, batch_first=True):
        super().__init__()
        self.rnn = cell(3, 8, batch_first=batch_first)
        self.drop = nn.Dropout(0.3)
        self.head = nn.Linear(8, 1)

    def forward(self, x):
        return self.head(self.drop(self.rnn(x)[0]))


def loss_of(net):
    """A per-example loss through the learner's readout, dropout included (in train mode)."""
    return lambda out: (net.head(net.drop(out[:, -1])) ** 2).mean(1)


def own_loss(out):
    """A loss of the module's output alone (so the oracle needs no head of that step)."""
    return (out ** 2).mean((1, 2))


def train_loop(steps, recorder_dir=None, every=5, seed=0, loss_fn=None):
    """The learner's loop: (weights after each step, the net); the recorder on when asked,
    with ``loss_fn`` (default: through the net's readout and its dropout)."""
    torch.manual_seed(seed)
    net = Net()
    opt = torch.optim.Adam(net.parameters(), lr=0.02)
    probe = torch.randn(4, 12, 3)
    data = torch.Generator().manual_seed(1)
    rec = (record(net.rnn, probe, loss_fn or loss_of(net), to=recorder_dir, every=every, model=net)
           if recorder_dir else None)
    weights = [{k: v.clone() for k, v in net.rnn.state_dict().items()}]
    for step in range(steps):
        x = torch.randn(8, 12, 3, generator=data)
        y = torch.randn(8, 12, 1, generator=data)
        opt.zero_grad()
        loss = ((net(x) - y) ** 2).mean()
        loss.backward()
        opt.step()
        if rec:
            rec.step(loss, val_loss=loss.item() * 2 if step % 4 == 0 else None)
        weights.append({k: v.clone() for k, v in net.rnn.state_dict().items()})
    if rec:
        rec.close()
    return weights, net, probe


def test_training_is_unchanged_bit_for_bit(tmp_path):
    """Dropout in the model and in loss_fn, Adam's state, the RNG: all as without the recorder."""
    _, plain, _ = train_loop(23)
    _, recorded, _ = train_loop(23, tmp_path / "run", every=3)
    for (name, a), b in zip(plain.state_dict().items(), recorded.state_dict().values()):
        assert torch.equal(a, b), name


def test_probe_leaves_grads_mode_and_rng_alone(tmp_path):
    torch.manual_seed(3)
    net = Net()
    net.train()
    ((net(torch.randn(2, 12, 3)) ** 2).mean()).backward()
    grads = [p.grad.clone() for p in net.parameters()]
    rec = record(net.rnn, torch.randn(4, 12, 3), loss_of(net), to=tmp_path / "r", every=1,
                 model=net)
    state = torch.get_rng_state()
    rec.step(0.5)  # a probe step
    assert torch.equal(torch.get_rng_state(), state)
    assert all(torch.equal(p.grad, g) for p, g in zip(net.parameters(), grads))
    assert net.training and net.drop.training and net.rnn.training
    rec.close()


def test_snapshots_hold_the_weights_and_inspects_profile(tmp_path):
    weights, net, probe = train_loop(23, tmp_path / "run", every=5, loss_fn=own_loss)
    run = rnnviz.load_run(tmp_path / "run")
    assert run.snapshot_steps == [0, 5, 10, 15, 20, 23]
    for step in run.snapshot_steps:
        snap = load_file(tmp_path / "run" / f"snap-{step:09d}.safetensors")
        for name, value in weights[step].items():
            assert torch.equal(snap[f"weights.{name}"], value), (step, name)
        # model_at gives the same weights, inside the replay's model
        model = run.model_at(step)
        for name, value in weights[step].items():
            assert torch.equal(model.rnn.state_dict()[name], value)
        # the oracle: inspect on a module holding these weights, the same probe and loss
        module = nn.LSTM(3, 8, batch_first=True)
        module.load_state_dict(weights[step])
        expected = rnnviz.inspect(module, probe, own_loss, jacobians=False).grad_h[-1]
        np.testing.assert_array_equal(snap["grad_h"].numpy(), expected.mean(0))
        np.testing.assert_allclose(run.profile_at(step), expected.mean(0), rtol=1e-6)


def test_losses_and_validation_are_recorded(tmp_path):
    train_loop(9, tmp_path / "run", every=5)
    run = load_recording(tmp_path / "run")
    assert list(run.history.step) == list(range(1, 10))
    assert np.isfinite(run.history.loss).all() and len(run.history.loss) == 9
    assert list(run.history.val_step) == [1, 5, 9]
    assert run.status == "closed" and run.history.last_step == 9


def test_gru_in_time_first_layout_with_an_unbatched_probe(tmp_path):
    gru = nn.GRU(2, 5)
    probe = torch.randn(7, 2)  # [T, in]
    loss_fn = lambda out: (out[-1] ** 2).sum()  # noqa: E731  (one sequence: a scalar)
    with record(gru, probe, loss_fn, to=tmp_path / "gru", every=2) as rec:
        for _ in range(4):
            with torch.no_grad():
                gru.weight_hh_l0.mul_(0.9)
            rec.step(torch.tensor(1.0))
    run = rnnviz.load_run(tmp_path / "gru")
    assert run.snapshot_steps == [0, 2, 4] and run.config.cell == "gru"
    expected = rnnviz.inspect(gru, probe, loss_fn, jacobians=False).grad_h[-1].mean(0)
    np.testing.assert_allclose(run.profile_at(4), expected, rtol=1e-6)


def test_snapshots_and_losses_stay_bounded(tmp_path):
    rnn = nn.RNN(1, 2)
    probe = torch.randn(3, 1, 1)
    rec = record(rnn, probe, lambda out: out[-1].sum(1), to=tmp_path / "long", every=1)
    for _ in range(450):
        rec.step(1.0)
    rec.close()
    files = sorted(p.name for p in (tmp_path / "long").glob("snap-*"))
    index = json.loads((tmp_path / "long" / "index.json").read_text())
    assert len(files) <= MAX_SNAPSHOTS + 1
    assert files == [s["file"] for s in index["snapshots"]]  # nothing left behind
    assert index["probe_stride"] > 1 and index["snapshots"][-1]["step"] == 450
    assert not list((tmp_path / "long").glob(".tmp-*"))
    series = Series(8)
    for step in range(1, 101):
        series.add(step, float(step))
    assert series.kept <= 8 and series.steps[0] == 1
    assert np.all(np.diff(series.steps[:series.kept]) == series.stride)


WRITER = textwrap.dedent("""
    import sys, torch
    from torch import nn
    sys.path.insert(0, {root!r})
    import rnnviz
    torch.set_num_threads(1)
    lstm = nn.LSTM(2, 4, batch_first=True)
    opt = torch.optim.SGD(lstm.parameters(), lr=0.01)
    rec = rnnviz.record(lstm, torch.randn(2, 6, 2), lambda o: o[:, -1].pow(2).sum(1),
                        to={to!r}, every=2)
    step = 0
    while True:
        opt.zero_grad()
        loss = lstm(torch.randn(4, 6, 2))[0].pow(2).mean()
        loss.backward(); opt.step(); rec.step(loss); step += 1
        if step == 40:
            print("ready", flush=True)
""")


def test_a_killed_writer_leaves_a_readable_folder(tmp_path):
    to = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-c", WRITER.format(root=str(ROOT), to=str(to))],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        # read it while it is written (the losses reach the disk at least once a second),
        # then kill it mid-write
        deadline = time.monotonic() + 60
        while len(load_recording(to).history.loss) < 40:
            assert time.monotonic() < deadline, "the losses never reached the disk"
            time.sleep(0.05)  # polling the condition above, not a fixed wait
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait(30)
    run = load_recording(to)
    steps = run.snapshot_steps
    assert steps[0] == 0 and steps[-1] >= 40 and run.status == "recording"
    run.model_at(steps[-1])
    assert len(run.history.loss) >= 40


# ---------------------------------------------------------------- bad input


def test_bad_calls_get_clear_messages(tmp_path):
    lstm = nn.LSTM(3, 4)
    probe = torch.randn(5, 2, 3)
    loss_fn = lambda out: out[-1].sum(1)  # noqa: E731
    with pytest.raises(ValueError, match="nn.RNN, nn.LSTM or nn.GRU; got Linear"):
        record(nn.Linear(3, 4), probe, loss_fn, to=tmp_path / "a")
    with pytest.raises(ValueError, match=r"probe_x must be a float tensor \[T, B, 3\]"):
        record(lstm, torch.randn(5, 2, 4), loss_fn, to=tmp_path / "b")
    with pytest.raises(ValueError, match=r"\[T, B, 3\] .*got list"):
        record(lstm, [[1.0, 2.0, 3.0]], loss_fn, to=tmp_path / "b")
    with record(lstm, probe.numpy(), loss_fn, to=tmp_path / "numpy"):
        pass  # a numpy probe, as inspect takes one
    with pytest.raises(ValueError, match="time steps"):
        record(lstm, torch.randn(1, 2, 3), loss_fn, to=tmp_path / "c")
    (tmp_path / "file.txt").write_text("mine")
    with pytest.raises(ValueError, match="is a file"):
        record(lstm, probe, loss_fn, to=tmp_path / "file.txt")
    with pytest.raises(ValueError, match="one loss per example"):
        record(lstm, probe, lambda out: out.sum(), to=tmp_path / "d")
    assert not (tmp_path / "d").exists()  # nothing written for a call that failed
    with record(lstm, probe, loss_fn, to=tmp_path / "e") as rec:
        with pytest.raises(TypeError, match="one number"):
            rec.step(torch.ones(3))
    with pytest.raises(ValueError, match="already holds a recording"):
        record(lstm, probe, loss_fn, to=tmp_path / "e")
    assert (tmp_path / "file.txt").read_text() == "mine"


@pytest.fixture
def folder(tmp_path):
    gru = nn.GRU(2, 3, batch_first=True)
    with record(gru, torch.randn(2, 5, 2), lambda o: o[:, -1].sum(1), to=tmp_path / "ok",
                every=1) as rec:
        rec.step(1.0)
        rec.step(0.5)
    return tmp_path / "ok"


def _edit_json(path, **changes):
    value = json.loads(path.read_text())
    value.update(changes)
    path.write_text(json.dumps(value))


@pytest.mark.parametrize("doctor, message", [
    (lambda f: (f / "losses.safetensors").unlink(), "losses.safetensors: missing"),
    (lambda f: (f / "snap-000000001.safetensors").unlink(), "missing"),
    (lambda f: (f / "run.json").write_text("{not json"), "run.json: not valid JSON"),
    (lambda f: (f / "index.json").write_text("[1, 2]"), "not a JSON object"),
    (lambda f: _edit_json(f / "run.json", hidden_size=4), "do not fit|must be a float tensor"),
    (lambda f: _edit_json(f / "run.json", hidden_size=10**6), "hidden units"),
    (lambda f: _edit_json(f / "run.json", probe_shape=[2, 6, 2]), "tensor 'x' must be"),
    (lambda f: _edit_json(f / "index.json", snapshots=[
        {"step": 0, "file": "../../etc/passwd"}]), "no '/', no '..'"),
    (lambda f: _edit_json(f / "index.json", snapshots=[
        {"step": 0, "file": "snap-000000000.safetensors"},
        {"step": 1, "file": "sub/snap.safetensors"}]), "no '/'"),
    (lambda f: _edit_json(f / "index.json", snapshots=[
        {"step": 0, "file": "snap-000000002.safetensors"}]), "must be in"),
    (lambda f: (f / "snap-000000002.safetensors").write_bytes(b"\x80\x04junk"),
     "not a readable safetensors file"),
    (lambda f: _edit_json(f / "index.json", status="done"), "status must be"),
])
def test_a_doctored_folder_gets_a_plain_message(folder, doctor, message):
    doctor(folder)
    with pytest.raises(ValueError, match=message):
        rnnviz.load_run(folder)


def test_a_symlink_out_of_the_folder_is_refused(folder, tmp_path):
    outside = tmp_path / "secret.safetensors"
    (folder / "probe.safetensors").rename(outside)
    (folder / "probe.safetensors").symlink_to(outside)
    with pytest.raises(ValueError, match="symbolic link"):
        rnnviz.load_run(folder)


def test_load_run_still_opens_run_files_and_refuses_a_missing_path(tmp_path):
    run = rnnviz.train(rnnviz.RunConfig(steps=2, eval_every=1, probe_every=1, hidden_size=4))
    rnnviz.save_run(run, tmp_path / "a.rnnviz")
    assert rnnviz.load_run(tmp_path / "a.rnnviz").history.steps_done == 2
    with pytest.raises(ValueError, match="no such file"):
        rnnviz.load_run(tmp_path / "nothing")


def test_two_layers_without_biases_and_a_relu_rnn(tmp_path):
    """The architectures inspect accepts beyond the default: stacked, bias-free, relu."""
    for name, module in (("relu", nn.RNN(2, 4, num_layers=2, nonlinearity="relu", bias=False)),
                         ("lstm2", nn.LSTM(2, 3, num_layers=2, batch_first=True))):
        probe = torch.randn(3, 6, 2) if module.batch_first else torch.randn(6, 3, 2)
        loss_fn = (lambda out: (out[:, -1] ** 2).sum(1)) if module.batch_first else \
            (lambda out: (out[-1] ** 2).sum(1))
        with record(module, probe, loss_fn, to=tmp_path / name, every=1) as rec:
            with torch.no_grad():
                for p in module.parameters():
                    p.mul_(1.1)
            rec.step(1.0)
        run = rnnviz.load_run(tmp_path / name)
        expected = rnnviz.inspect(module, probe, loss_fn, jacobians=False).grad_h[-1].mean(0)
        np.testing.assert_allclose(run.profile_at(1), expected, rtol=1e-6)
        for key, value in module.state_dict().items():
            assert torch.equal(run.model_at(1).rnn.state_dict()[key], value), (name, key)
        assert run.config.num_layers == 2 and run.config.nonlinearity == (
            "relu" if name == "relu" else "tanh")


def test_a_thinned_loss_series_keeps_its_true_steps(tmp_path, monkeypatch):
    """Beyond the loss buffer the series keeps every other step; the Run says the real steps."""
    monkeypatch.setattr("rnnviz.core.record.MAX_LOSS_POINTS", 16)
    rnn = nn.RNN(1, 2)
    with record(rnn, torch.randn(3, 1, 1), lambda o: o[-1].sum(1), to=tmp_path / "t",
                every=100) as rec:
        for step in range(1, 41):
            rec.step(float(step))
    run = rnnviz.load_run(tmp_path / "t")
    assert run.history.steps_done == 40 and run.summary()["steps"] == 40
    assert len(run.history.loss) <= 16
    np.testing.assert_array_equal(run.history.loss, run.history.step)  # loss k at step k


THINNING_WRITER = textwrap.dedent("""
    import sys, torch
    from torch import nn
    sys.path.insert(0, {root!r})
    import rnnviz
    torch.set_num_threads(1)
    rnn = nn.RNN(1, 2)
    rec = rnnviz.record(rnn, torch.randn(3, 1, 1), lambda o: o[-1].sum(1), to={to!r}, every=1)
    while True:
        with torch.no_grad():
            rnn.weight_hh_l0.mul_(0.999)
        rec.step(1.0)
""")


def test_reading_while_the_writer_thins_its_snapshots(tmp_path):
    """Every read of a folder whose writer is deleting thinned snapshots opens, in order."""
    to = tmp_path / "thinning"
    proc = subprocess.Popen([sys.executable, "-c",
                             THINNING_WRITER.format(root=str(ROOT), to=str(to))])
    try:
        deadline, reads, strides = time.monotonic() + 120, 0, set()
        while reads < 10 or max(strides) < 4:
            assert time.monotonic() < deadline and proc.poll() is None
            if not (to / "index.json").exists():
                time.sleep(0.05)  # polling: the writer has not written its first index yet
                continue
            run = load_recording(to)
            steps = run.snapshot_steps
            assert steps[0] == 0 and steps == sorted(steps) and len(steps) <= MAX_SNAPSHOTS + 1
            strides.add(json.loads((to / "index.json").read_text())["probe_stride"])
            reads += 1
    finally:
        proc.kill()
        proc.wait(30)


@pytest.mark.parametrize("call", [1, 2, 3, 4])
def test_a_snapshot_thinned_at_any_of_the_readers_looks_at_it(tmp_path, monkeypatch, call):
    """The writer's order when it thins (new index, then delete), landing just before the
    reader's ``call``-th look at a snapshot's file (a stat of any kind, or the read), after the
    reader read the old index: it reads the index again and returns the snapshots the index
    names afterwards, never a FileNotFoundError (CI met one between a stat that saw the file
    and the next that did not)."""
    gru = nn.GRU(1, 2)
    with record(gru, torch.randn(3, 1, 1), lambda o: o[-1].sum(1), to=tmp_path / "r",
                every=1) as rec:
        rec.step(1.0)
        rec.step(1.0)
    folder = tmp_path / "r"
    victim = folder / "snap-000000001.safetensors"
    path_type = type(victim)
    stat, read_bytes, looks = path_type.stat, path_type.read_bytes, [0]

    def thin_on_the_chosen_look(path):
        if path.name == victim.name and os.path.lexists(victim):
            looks[0] += 1
            if looks[0] == call:
                index = json.loads((folder / "index.json").read_text())
                index["snapshots"] = [s for s in index["snapshots"] if s["step"] != 1]
                (folder / "index.json").write_text(json.dumps(index))
                os.unlink(victim)

    def watched_stat(path, *args, **kwargs):
        thin_on_the_chosen_look(path)
        return stat(path, *args, **kwargs)

    def watched_read(path):
        thin_on_the_chosen_look(path)
        return read_bytes(path)

    monkeypatch.setattr(path_type, "stat", watched_stat)
    monkeypatch.setattr(path_type, "read_bytes", watched_read)
    steps = load_recording(folder).snapshot_steps
    on_disk = [s["step"] for s in json.loads((folder / "index.json").read_text())["snapshots"]]
    assert steps == on_disk
    assert call > 1 or on_disk == [0, 2]  # the reader looks at least once: the thinning landed



"""``rnnviz.inspect`` and "Your own model", against oracles that share no code with the replay:
the user's own fused ``nn.RNN/LSTM/GRU`` (its outputs, its final states, each layer run as a
module of its own) and autograd through those fused modules for ||dL/dh_t||. Then the doors for
untrusted files (a state dict, a CSV of sequences) with good and hostile files, and the AppTest
path: upload, open, and the four inside pages on the uploaded model."""

from __future__ import annotations

import io
import json
import pickle
import re

import numpy as np
import pytest
import torch
from safetensors.torch import save
from streamlit.testing.v1 import AppTest

import rnnviz
from rnnviz.core import inspect as inspect_module
from rnnviz.core.inspect import Architecture, infer_architecture, load_model_file
from rnnviz.core.own_model import OwnModelRun, own_model_run, parse_sequences
from rnnviz.core.trace import trace
from tests.apptest import decode_plotly, plain
from tests.conftest import ROOT

FUSED = {"rnn": torch.nn.RNN, "relu": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}
KINDS = ["rnn", "relu", "lstm", "gru"]  # "relu": nn.RNN(nonlinearity="relu")
INPUTS, HIDDEN, STEPS, BATCH = 3, 5, 7, 4  # odd sizes: no two alike


def _module(kind: str, layers: int = 1, batch_first: bool = True, seed: int = 0, **extra):
    torch.manual_seed(seed)
    if kind == "relu":
        extra["nonlinearity"] = "relu"
    return FUSED[kind](INPUTS, HIDDEN, num_layers=layers, batch_first=batch_first, **extra)


def _input(batch_first: bool, seed: int = 1) -> torch.Tensor:
    x = torch.randn(BATCH, STEPS, INPUTS, generator=torch.Generator().manual_seed(seed))
    return x if batch_first else x.transpose(0, 1).contiguous()


def _batch_first(value: torch.Tensor, batch_first: bool) -> np.ndarray:
    return (value if batch_first else value.transpose(0, 1)).detach().numpy()


def _single_layers(module) -> list:
    """Each layer of ``module`` as a 1-layer fused module of its own (batch first)."""
    singles = []
    for layer in range(module.num_layers):
        weight = getattr(module, f"weight_ih_l{layer}")
        kwargs = dict(input_size=weight.shape[1], hidden_size=module.hidden_size,
                      batch_first=True, bias=module.bias)
        if isinstance(module, torch.nn.RNN):
            kwargs["nonlinearity"] = module.nonlinearity
        single = type(module)(**kwargs).to(weight.dtype)
        with torch.no_grad():
            for name, value in single.named_parameters():
                value.copy_(getattr(module, name.replace("_l0", f"_l{layer}")))
        singles.append(single)
    return singles


def _readout_loss(batch_first: bool, dtype=torch.float32):
    """A loss on the module's output that reads every step: sum_t (w . h_t)^2 / T per example."""
    w = torch.linspace(-1, 1, HIDDEN, dtype=dtype)
    time_dim = 1 if batch_first else 0
    return lambda out: (out @ w).pow(2).mean(dim=time_dim)


def _oracle_grad_h(module, x: torch.Tensor, loss_fn, batch_first: bool) -> list[np.ndarray]:
    """||dL_b/dh_t|| of every layer from the fused modules alone: run layer l up to t, make h_t
    a leaf, run the rest of layer l from it and every layer above on top, apply ``loss_fn``."""
    singles = _single_layers(module)
    lstm = isinstance(module, torch.nn.LSTM)
    x_bf = x if batch_first else x.transpose(0, 1)
    with torch.no_grad():
        inputs, outs = [x_bf], []
        for single in singles:
            outs.append(single(inputs[-1])[0])
            inputs.append(outs[-1])
    result = []
    for layer, single in enumerate(singles):
        norms = np.zeros((x_bf.shape[0], x_bf.shape[1]))
        for t in range(x_bf.shape[1]):
            with torch.no_grad():
                _, state = single(inputs[layer][:, : t + 1])
            leaf = outs[layer][:, t].clone().requires_grad_(True)
            start = (leaf[None], state[1]) if lstm else leaf[None]
            rest = single(inputs[layer][:, t + 1:], start)[0] if t + 1 < x_bf.shape[1] else \
                leaf.new_zeros(x_bf.shape[0], 0, module.hidden_size)
            h = torch.cat([outs[layer][:, :t], leaf[:, None], rest], dim=1)
            for above in singles[layer + 1:]:
                h = above(h)[0]
            loss = loss_fn(h if batch_first else h.transpose(0, 1)).sum()
            (grad,) = torch.autograd.grad(loss, leaf)
            norms[:, t] = grad.norm(dim=-1).numpy()
        result.append(norms)
    return result


# ---------------------------------------------------------------- inspect(module, x, loss_fn)


@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("batch_first", [True, False])
@pytest.mark.parametrize("kind", KINDS)
def test_hidden_states_equal_the_modules_own(kind, batch_first, layers):
    module = _module(kind, layers, batch_first)
    x = _input(batch_first)
    tr = rnnviz.inspect(module, x, jacobians=False)
    with torch.no_grad():
        out, state = module(x)
    h_n = state[0] if kind == "lstm" else state
    assert tr.cell_type == ("rnn" if kind == "relu" else kind) and tr.num_layers == layers
    assert tr.hidden[-1].shape == (BATCH, STEPS, HIDDEN)  # batch first whatever the layout
    assert np.abs(tr.hidden[-1] - _batch_first(out, batch_first)).max() < 1e-5
    assert np.abs(tr.prediction - _batch_first(out, batch_first)).max() < 1e-5
    layer_input = x if batch_first else x.transpose(0, 1)
    for layer, single in enumerate(_single_layers(module)):
        assert np.abs(tr.hidden[layer][:, -1] - h_n[layer].numpy()).max() < 1e-5
        with torch.no_grad():
            single_out, single_state = single(layer_input)
        assert np.abs(tr.hidden[layer] - single_out.numpy()).max() < 1e-5
        if kind == "lstm":
            assert np.abs(tr.cell[layer][:, -1] - state[1][layer].numpy()).max() < 1e-5
            assert np.abs(tr.cell[layer][:, -1] - single_state[1][0].numpy()).max() < 1e-5
        layer_input = torch.from_numpy(tr.hidden[layer])


@pytest.mark.parametrize("batch_first", [True, False])
@pytest.mark.parametrize("kind", KINDS)
def test_gradients_equal_autograd_through_the_fused_module(kind, batch_first):
    module = _module(kind, 2, batch_first, seed=2).double()
    x = _input(batch_first, seed=3).double()
    loss_fn = _readout_loss(batch_first, torch.float64)
    tr = rnnviz.inspect(module, x, loss_fn)
    expected = _oracle_grad_h(module, x, loss_fn, batch_first)
    for layer in range(2):
        np.testing.assert_allclose(tr.grad_h[layer], expected[layer], rtol=1e-9, atol=1e-12)
    assert tr.grad_h[0][:, 0].min() > 0  # the first step of the first layer gets a gradient
    x_leaf = x.clone().requires_grad_(True)
    losses = loss_fn(module(x_leaf)[0])
    losses.sum().backward()
    np.testing.assert_allclose(tr.loss, losses.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(tr.grad_x, _batch_first(x_leaf.grad.norm(dim=-1), batch_first),
                               rtol=1e-9, atol=1e-12)
    assert [j.shape for j in tr.jacobian_norm] == [(BATCH, STEPS)] * 2


def test_module_without_biases_and_an_unbatched_sequence():
    module = _module("lstm", 2, batch_first=False, bias=False)
    x = _input(False)
    loss_fn = _readout_loss(False)
    tr = rnnviz.inspect(module, x, loss_fn)
    assert np.abs(tr.hidden[-1] - _batch_first(module(x)[0], False)).max() < 1e-5
    one = rnnviz.inspect(module, x[:, 1], lambda out: (out @ torch.linspace(-1, 1, HIDDEN))
                         .pow(2).mean())  # [T, in]: one sequence, a scalar loss
    assert one.hidden[-1].shape == (1, STEPS, HIDDEN)
    np.testing.assert_allclose(one.hidden[-1][0], tr.hidden[-1][1], atol=1e-6)
    np.testing.assert_allclose(one.grad_h[0][0], tr.grad_h[0][1], rtol=1e-4, atol=1e-7)


def test_the_module_is_left_as_it_was():
    module = _module("gru", 2).train()
    before = {k: v.clone() for k, v in module.state_dict().items()}
    rnnviz.inspect(module, _input(True), _readout_loss(True))
    assert module.training and all(p.grad is None for p in module.parameters())
    assert all(torch.equal(before[k], v) for k, v in module.state_dict().items())


def test_what_cannot_be_traced_is_refused_with_the_reason():
    x = _input(True)
    with pytest.raises(ValueError, match="proj_size > 0 are not supported.*proj_size=2"):
        rnnviz.inspect(torch.nn.LSTM(INPUTS, HIDDEN, proj_size=2, batch_first=True), x)
    with pytest.raises(ValueError, match="bidirectional modules are not supported"):
        rnnviz.inspect(torch.nn.GRU(INPUTS, HIDDEN, bidirectional=True, batch_first=True), x)
    with pytest.raises(ValueError, match="reads a torch.nn.RNN, nn.LSTM or nn.GRU; got Linear"):
        rnnviz.inspect(torch.nn.Linear(INPUTS, HIDDEN), x)
    module = _module("lstm")
    with pytest.raises(ValueError, match=r"x must be a float tensor \[T, B, 3\]"):
        rnnviz.inspect(module, torch.randn(BATCH, STEPS, 4))
    packed = torch.nn.utils.rnn.pack_padded_sequence(x, [STEPS] * BATCH, batch_first=True)
    with pytest.raises(ValueError, match="PackedSequence"):
        rnnviz.inspect(module, packed)
    with pytest.raises(ValueError, match=r"one loss per example, shape \[4\]; got \[\]"):
        rnnviz.inspect(module, x, lambda out: out.sum())
    with pytest.raises(ValueError, match="does not depend on it"):
        rnnviz.inspect(module, x, lambda out: torch.zeros(BATCH))


# ---------------------------------------------------------------- a state dict's architecture


class _Wrapped(torch.nn.Module):
    """A learner's model: a recurrent module and a linear readout under their own names."""

    def __init__(self, kind="lstm", layers=2, bias=True, head=INPUTS, head_bias=True):
        super().__init__()
        self.encoder = _module(kind, layers, bias=bias)
        self.fc = torch.nn.Linear(HIDDEN, head, bias=head_bias) if head else None


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_architecture_from_names_and_shapes(kind):
    assert infer_architecture(_module(kind, 3).state_dict()) == Architecture(
        kind, INPUTS, HIDDEN, 3, bias=True)
    assert infer_architecture(_Wrapped(kind, 2, bias=False, head=2, head_bias=False)
                              .state_dict()) == Architecture(
        kind, INPUTS, HIDDEN, 2, bias=False, output_size=2, head_bias=False,
        prefix="encoder.", head_prefix="fc.")
    words = infer_architecture(_Wrapped(kind).state_dict()).words()
    assert f"nn.{ {'rnn': 'RNN', 'lstm': 'LSTM', 'gru': 'GRU'}[kind] }" in words
    assert "2 stacked layers of **5** hidden units" in words and "to 3 outputs" in words


def _shapes(kind="lstm", **changes):
    shapes = {k: tuple(v.shape) for k, v in _Wrapped(kind).state_dict().items()}
    shapes.update(changes)
    return {k: v for k, v in shapes.items() if v is not None}


@pytest.mark.parametrize("shapes,words", [
    ({"conv.weight": (3, 3)}, "no recurrent weights found"),
    (_shapes(**{"encoder.weight_hh_l1": (20, 4)}), r"weight_hh_l1 has shape \[20, 4\]; with "
                                                   r"encoder.weight_hh_l0 \[20, 5\] it must be "
                                                   r"\[20, 5\]"),
    (_shapes(**{"encoder.weight_ih_l1": (20, 6)}), r"weight_ih_l1 has shape \[20, 6\]"),
    (_shapes(**{"encoder.weight_hh_l0": (10, 5)}), "1 \\(RNN\\), 3 \\(GRU\\) or 4 \\(LSTM\\)"),
    (_shapes(**{"encoder.bias_hh_l1": None}), "some biases are missing"),
    (_shapes(**{"encoder.weight_ih_l1": None, "encoder.weight_hh_l1": None,
                "encoder.bias_ih_l1": None, "encoder.bias_hh_l1": None,
                "encoder.weight_ih_l2": (20, 5), "encoder.weight_hh_l2": (20, 5)}),
     r"not numbered 0, 1, ... \(found layers \[0, 2\]\)"),
    (_shapes(**{"fc.weight": (3, 6)}), r"fc.weight has shape \[3, 6\]"),
    (_shapes(**{"fc.bias": (4,)}), r"fc.bias has shape \[4\]"),
    (_shapes(**{"extra.weight": (3, 5)}), "unexpected tensors"),
    (_shapes(**{"embedding.table": (3, 5)}), "unexpected tensors: embedding.table"),
    (_shapes(**{"other.weight_ih_l0": (20, 3), "other.weight_hh_l0": (20, 5)}),
     "more than one recurrent module"),
    (torch.nn.GRU(3, 5, bidirectional=True).state_dict(), "bidirectional"),
    (torch.nn.LSTM(3, 5, proj_size=2).state_dict(), "proj_size"),
])
def test_names_and_shapes_that_do_not_fit_are_refused(shapes, words):
    with pytest.raises(ValueError, match=words):
        infer_architecture(shapes)


# ---------------------------------------------------------------- hostile files

_EXECUTED = []


def _mark_executed(*args):
    _EXECUTED.append(args)
    return {}


class _Payload:
    """Unpickling this calls a function: what a hostile pickle does (harmlessly here)."""

    def __reduce__(self):
        return _mark_executed, ("the pickle ran",)


def _file(tensors: dict) -> bytes:
    return save({k: v.contiguous() for k, v in tensors.items()})


def _good_file(kind="lstm", **kwargs) -> bytes:
    return _file(_Wrapped(kind, **kwargs).state_dict())


def _torch_save(obj) -> bytes:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


def _bad_value(name: str, value: float) -> bytes:
    state = _Wrapped().state_dict()
    state[name] = state[name].clone()
    state[name][0, 0] = value
    return _file(state)


HOSTILE = {
    "a pickle renamed .safetensors": (pickle.dumps(_Payload()), "Python pickle"),
    "torch.save renamed .safetensors": (_torch_save({"w": _Payload()}), "ZIP archive"),
    "random bytes": (b"not a model at all, just some text", "not a safetensors file"),
    "too short": (b"\x01\x02", "too short"),
    "wrong names": (_file({"conv.weight": torch.ones(2, 2)}), "no recurrent weights found"),
    "shapes that do not fit": (_file({**_Wrapped().state_dict(),
                                      "encoder.weight_hh_l1": torch.ones(20, 4)}),
                               r"weight_hh_l1 has shape \[20, 4\]"),
    "NaN weights": (_bad_value("encoder.weight_hh_l0", float("nan")), "NaN or infinite"),
    "infinite weights": (_bad_value("fc.weight", float("inf")), "NaN or infinite"),
    "integer weights": (_file({k: v.long() for k, v in _Wrapped().state_dict().items()}),
                        "floating point"),
    "too many hidden units": (_file(torch.nn.GRU(2, 300).state_dict()),
                              "300 hidden units; this app shows at most 256"),
    "too many layers": (_file(torch.nn.RNN(2, 4, num_layers=4).state_dict()),
                        "4 layers; this app shows at most 3"),
    "truncated": (_good_file()[:-40], "damaged or truncated"),
}


@pytest.mark.parametrize("what", sorted(HOSTILE))
def test_hostile_model_files_get_a_plain_message_and_nothing_runs(what):
    data, words = HOSTILE[what]
    with pytest.raises(ValueError, match=words):
        load_model_file(data)
    assert not _EXECUTED


def test_the_refused_pickles_would_really_run():
    """The payloads above are live: the bare pickle, unpickled, calls a function (so a loader
    that opened it would have run code), and torch's own safe loader refuses the torch.save
    file as more than tensors. Nothing here opens that file the unsafe way."""
    try:
        pickle.loads(HOSTILE["a pickle renamed .safetensors"][0])
        assert len(_EXECUTED) == 1
        with pytest.raises(pickle.UnpicklingError):
            torch.load(io.BytesIO(HOSTILE["torch.save renamed .safetensors"][0]),
                       weights_only=True)
        assert len(_EXECUTED) == 1
    finally:
        _EXECUTED.clear()


def test_an_oversized_file_is_refused_before_it_is_read(monkeypatch):
    monkeypatch.setattr(inspect_module, "MAX_MODEL_BYTES", 1000)
    with pytest.raises(ValueError, match="MB; at most"):
        load_model_file(_good_file())


def test_a_good_file_loads_with_its_architecture():
    data = _good_file("gru", head=2, bias=False)
    model_file = load_model_file(data, "mine.safetensors")
    arch = model_file.architecture
    assert (arch.cell, arch.num_layers, arch.bias, arch.output_size) == ("gru", 2, False, 2)
    assert model_file.source == "mine.safetensors"


# ---------------------------------------------------------------- a CSV of input sequences


def _rows(count: int, seed: int = 0, features: int = INPUTS, sep: str = ",") -> str:
    values = np.random.default_rng(seed).normal(size=(count, features))
    return "\n".join(sep.join(f"{v:.4f}" for v in row) for row in values)


def test_csv_sequences_header_blank_lines_and_separators():
    text = "a,b,c\n" + _rows(9, 1) + "\n\n\n" + _rows(9, 2) + "\n,,\n" + _rows(9, 3) + "\n"
    sequences = parse_sequences(text.encode(), INPUTS)
    assert sequences.values.shape == (3, 9, INPUTS)
    np.testing.assert_allclose(sequences.values[1, 0],
                               [float(v) for v in _rows(9, 2).splitlines()[0].split(",")],
                               rtol=1e-6)
    semicolons = parse_sequences(_rows(5, 4, sep=";").encode(), INPUTS)
    assert semicolons.values.shape == (1, 5, INPUTS)
    assert sequences.words() == "3 sequences of 9 rows × 3 features"


@pytest.mark.parametrize("text,words", [
    ("", "the file is empty"),
    ("1,2\n3,4\n", "line 1 has 2 value\\(s\\); the model reads 3"),
    ("1,2,3\n4,abc,6\n", "line 2: 'abc' is not a finite number"),
    ("1,2,3\n4,,6\n", "line 2, column 2 is empty"),
    ("1,2,3\n4,nan,6\n", "'nan' is not a finite number"),
    ("1,2,3\n4,5,6\n\n1,2,3\n", "different lengths \\(1, 2 rows\\)"),
    ("a,b,c\n", "a header but no rows"),
    ("\x00\x01binary", "binary file"),
])
def test_bad_csv_inputs_get_a_plain_message(text, words):
    with pytest.raises(ValueError, match=words):
        parse_sequences(text.encode(), INPUTS)


def test_too_long_or_too_many_sequences_are_refused():
    with pytest.raises(ValueError, match="402 rows; at most 401"):
        parse_sequences(_rows(402).encode(), INPUTS)
    with pytest.raises(ValueError, match="more than 256 sequences"):
        parse_sequences("\n\n".join(_rows(2, s) for s in range(257)).encode(), INPUTS)


# ---------------------------------------------------------------- the uploaded model as a run


@pytest.mark.parametrize("kind,loss", [("lstm", "last_state"), ("gru", "next_input"),
                                       ("relu", "last_state"), ("rnn", "next_input")])
def test_the_pages_trace_is_the_stated_loss_of_the_uploaded_module(kind, loss):
    """What the pages draw (``trace`` of the run's model on its batch, with ``TASKS["own"]``'s
    loss) equals the uploaded module run by torch, differentiated with the loss as written."""
    wrapped = _Wrapped(kind)
    model_file = load_model_file(_file(wrapped.state_dict()), "m.safetensors")
    sequences = parse_sequences(("\n\n".join(_rows(11, s) for s in range(3))).encode(), INPUTS)
    run = own_model_run(model_file, loss=loss, sequences=sequences,
                        nonlinearity="relu" if kind == "relu" else "tanh")
    x, y = run.example_batch(0)
    tr = trace(run.model, x, y)
    module = wrapped.encoder
    assert run.config.seq_len == x.shape[1] == (11 if loss == "last_state" else 10)
    assert np.abs(tr.hidden[-1] - module(x)[0].detach().numpy()).max() < 1e-5
    if loss == "last_state":
        def written_out(out):  # (1/H) sum_j h_{T-1,j}^2
            return out[:, -1].pow(2).mean(dim=-1)
    else:
        def written_out(out):  # 1/(T C) sum_t ||head(h_t) - x_{t+1}||^2
            return (wrapped.fc(out) - y).pow(2).mean(dim=(1, 2))
    np.testing.assert_allclose(tr.loss, written_out(module(x)[0]).detach().numpy(), rtol=1e-5)
    expected = _oracle_grad_h(module, x, written_out, batch_first=True)
    for layer in range(2):
        np.testing.assert_allclose(tr.grad_h[layer], expected[layer], rtol=1e-4, atol=1e-7)


def test_built_in_inputs_and_what_does_not_fit():
    model_file = load_model_file(_file(_module("gru", 1).state_dict()))  # 3 inputs, no readout
    two = load_model_file(_file(torch.nn.LSTM(2, 4).state_dict()))
    run = own_model_run(two, input_task="adding", steps=12)
    x, y = run.example_batch(0)
    assert x.shape == (16, 12, 2) and y.shape == (16, 4)
    assert not torch.equal(x, run.example_batch(1)[0]) and run.batches is None
    assert "Adding problem" in run.task.inputs
    with pytest.raises(ValueError, match="needs a readout with one output per input feature"):
        own_model_run(model_file, loss="next_input", input_task="adding")
    with pytest.raises(ValueError, match="do not fit this model"):
        own_model_run(model_file, input_task="adding")
    with pytest.raises(ValueError, match="between 2 and 400"):
        own_model_run(model_file, sequences=parse_sequences(b"1,2,3\n", INPUTS))
    many = parse_sequences("\n\n".join(_rows(4, s) for s in range(20)).encode(), INPUTS)
    run = own_model_run(model_file, sequences=many)
    assert (run.examples, run.batches) == (16, 2)
    first, second = run.example_batch(0)[0], run.example_batch(1)[0]
    np.testing.assert_array_equal(second[:4].numpy(), many.values[16:])  # then wraps around
    np.testing.assert_array_equal(second[4:].numpy(), many.values[:12])
    assert torch.equal(first, run.example_batch(2)[0])
    assert run.config != rnnviz.RunConfig() and run.config.task == "own"


# ---------------------------------------------------------------- the app

PAGE = str(ROOT / "tests" / "pages_own_model.py")


def _section() -> AppTest:
    return AppTest.from_file(PAGE, default_timeout=60).run()


def _upload(at: AppTest, key: str, name: str, data: bytes) -> None:
    at.file_uploader(key=key).set_value((name, data, "application/octet-stream")).run()
    assert not at.exception


def test_upload_a_model_and_a_csv_and_open_it():
    at = _section()
    assert not at.exception and not at.error
    _upload(at, "own_model_upload", "lstm.safetensors", _good_file("lstm"))
    assert not at.error
    assert any("**lstm.safetensors** holds an **nn.LSTM** with 2 stacked layers" in m.value
               for m in at.markdown)
    assert at.button(key="own_model_open").disabled  # no inputs yet
    text = "\n\n".join(_rows(12, s) for s in range(3))
    _upload(at, "own_model_csv_upload", "walks.csv", text.encode())
    assert any("Read 3 sequences of 12 rows × 3 features" in c.value for c in at.caption)
    at.radio(key="own_model_loss").set_value("next_input").run()
    at.button(key="own_model_open").click().run()
    assert not at.exception and not at.error
    run = at.session_state["run"]
    assert isinstance(run, OwnModelRun) and run.loss == "next_input"
    assert run.config.seq_len == 11 and ("trace", 0) in run.cache  # replayed once, cached
    assert any("Opened **Your own model (lstm.safetensors)**" in s.value for s in at.success)


def test_another_model_file_replaces_the_first_and_its_choices():
    at = _section()
    _upload(at, "own_model_upload", "lstm.safetensors", _good_file("lstm"))
    at.radio(key="own_model_loss").set_value("next_input").run()
    _upload(at, "own_model_upload", "gru.safetensors", _file(torch.nn.GRU(2, 4).state_dict()))
    assert not at.error
    assert any("**gru.safetensors** holds an **nn.GRU**" in m.value for m in at.markdown)
    assert at.radio(key="own_model_loss").value == "last_state"  # no readout: the only loss
    assert "Adding problem inputs" in at.radio(key="own_model_inputs").options
    at.file_uploader(key="own_model_upload").set_value(None).run()
    assert not at.exception and "own_model_file" not in at.session_state


def test_a_plain_rnn_asks_for_its_nonlinearity_and_offers_built_in_inputs():
    at = _section()
    _upload(at, "own_model_upload", "rnn.safetensors", _file(torch.nn.RNN(2, 6).state_dict()))
    at.radio(key="own_model_nonlinearity").set_value("relu").run()
    at.radio(key="own_model_inputs").set_value("parity").run()
    assert at.radio(key="own_model_loss").options == ["Mean square of the last hidden state"]
    at.slider(key="own_model_steps").set_value(9).run()
    at.button(key="own_model_open").click().run()
    assert not at.exception and not at.error
    run = at.session_state["run"]
    assert run.model.nonlinearity == "relu" and run.config.seq_len == 9


@pytest.mark.parametrize("what", ["a pickle renamed .safetensors", "wrong names",
                                  "shapes that do not fit", "NaN weights",
                                  "too many hidden units"])
def test_hostile_model_uploads_get_a_plain_error(what):
    data, words = HOSTILE[what]
    at = _section()
    _upload(at, "own_model_upload", "model.safetensors", data)
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and "**model.safetensors** can't be used" in errors[0]
    assert re.search(words, errors[0])
    assert "own_model_file" not in at.session_state and not at.get("radio")
    assert not _EXECUTED


@pytest.mark.parametrize("text,words", [("1,2\n3,4\n", "has 2 value"),
                                        ("1,2,3\n4,x,6\n", "'x' is not a finite number")])
def test_bad_csv_uploads_get_a_plain_error(text, words):
    at = _section()
    _upload(at, "own_model_upload", "lstm.safetensors", _good_file("lstm"))
    _upload(at, "own_model_csv_upload", "in.csv", text.encode())
    assert any("**in.csv** can't be used" in e.value and words in e.value for e in at.error)
    assert at.button(key="own_model_open").disabled


def _figure(at: AppTest, title_start: str) -> dict:
    for chart in at.get("plotly_chart"):
        spec = decode_plotly(json.loads(chart.proto.spec))
        if plain(spec["layout"].get("title", {}).get("text", "")).startswith(title_start):
            return spec
    raise AssertionError(f"no chart titled {title_start!r}")


@pytest.mark.parametrize("kind,loss,count", [("lstm", "next_input", 3), ("gru", "last_state", 1)])
def test_the_four_inside_pages_show_the_uploaded_model(kind, loss, count):
    from rnnviz.app import (
        own_model_ui,  # registers the panel, as the Playground's import does
        state,
    )

    model_file = load_model_file(_good_file(kind), "mine.safetensors")
    text = "\n\n".join(_rows(10, s) for s in range(count))
    run = own_model_run(model_file, loss=loss, sequences=parse_sequences(text.encode(), INPUTS))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=90).run()
    if count > 1:  # first a batch of 16 with example 12 picked, then this smaller one
        many = parse_sequences("\n\n".join(_rows(10, s) for s in range(20)).encode(), INPUTS)
        at.session_state["run"] = own_model_run(model_file, loss=loss, sequences=many)
        at.switch_page("pages/hidden_states.py").run()
        at.slider(key="example").set_value(12).run()
        assert not at.exception and not at.button(key="new_examples").disabled
    at.session_state["run"] = run
    at.switch_page("pages/hidden_states.py").run()
    assert not at.exception
    assert any("not trained here" in i.value for i in at.info)
    assert any("Your own model (mine.safetensors)" in m.value for m in at.sidebar.markdown)
    # the trace the page drew (Hidden states draws no Jacobian norm: the light one)
    tr, x, _ = state.run_trace(run, 0, jacobians=False)
    example = count - 1  # the example picker was moved into this batch's range
    heatmap = _figure(at, "Hidden state h_t, layer 1")["data"][0]
    np.testing.assert_allclose(np.asarray(heatmap["z"], dtype=float), tr.hidden[1][example].T,
                               rtol=1e-5, atol=1e-6)
    panel = _figure(at, "Your model's readout" if loss == "next_input" else "The input")
    assert panel["data"][0]["name"] == "input x_t[0]"
    if count == 1:
        assert not [s for s in at.slider if s.key == "example"]
    else:
        assert at.slider(key="example").value == count - 1 and at.slider(key="example").max \
            == count - 1
    assert at.button(key="new_examples").disabled  # fewer than 16 sequences: all are shown
    for page in ("pages/gates.py", "pages/gradients.py", "pages/step_through.py"):
        at.switch_page(page).run()
        assert not at.exception, page
        assert not at.error, page
    profile = _figure(at.switch_page("pages/gradients.py").run(),
                      "Gradient reaching each time step")
    measured = next(t for t in profile["data"] if t["name"].startswith("measured"))
    np.testing.assert_allclose(np.asarray(measured["y"], dtype=float),
                               tr.grad_h[1].mean(axis=0), rtol=1e-5)
    assert own_model_ui.is_own_model(at.session_state["run"])

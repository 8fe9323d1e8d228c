r"""Look inside a recurrent module trained somewhere else: ``inspect(module, x, loss_fn)``.

``inspect`` takes any ``torch.nn.RNN``, ``nn.LSTM`` or ``nn.GRU`` (any sizes, any number of
layers, ``batch_first`` either way, with or without biases, ``nonlinearity="relu"`` for the RNN)
and returns the same ``Trace`` as ``rnnviz.trace``: it copies the module's weights into a
``RecurrentModel`` and replays them step by step with ``rnnviz.core.trace.replay``, so every
number is computed with PyTorch's own equations (see ``rnnviz.core.trace``) and the module
itself is left untouched (its ``.grad`` fields and its training mode included)::

    x             [T, B, in]  (batch_first=False)  or  [B, T, in]  (batch_first=True)
                  or [T, in] (one sequence, unbatched)
    loss_fn(out)  out exactly as ``module(x)[0]`` returns it (same layout); must return one
                  loss per example, ``[B]`` (a scalar for an unbatched x)
    Trace         always batch first: hidden[l] [B, T, H], grad_h[l] [B, T], ...

With ``loss_fn``, ``grad_h[l][b, t] = ||dL_b/dh_t||`` is the total BPTT gradient that example
b's loss sends to step t of layer l, ``grad_x`` the input saliency and ``loss`` the losses.
The replay starts from zero states (the module's default ``h_0``) and applies no inter-layer
dropout, as the module does in eval mode.

What it cannot replay honestly it refuses with a ValueError that says so: a bidirectional
module (its second direction reads time backwards, the pages draw one direction), an LSTM with
``proj_size`` (h_t is then ``W_hr (o_t * tanh(c_t))``, an equation the replay does not have),
a PackedSequence, or anything that is not one of the three modules.

The other door is a file: ``load_model_file(bytes)`` reads an untrusted ``.safetensors`` state
dict (never a pickle: safetensors parses a JSON header and raw numbers, nothing in it can run),
``infer_architecture`` reads the cell, layers and sizes from the tensor names and shapes
(``weight_ih_l0 [gates * H, in]``, ``weight_hh_l0 [gates * H, H]``: 1, 3 or 4 gate blocks for
the RNN, GRU or LSTM), and ``model_from_file`` puts the weights into a ``RecurrentModel``. Every
name, dtype, shape, value and size is checked before anything is built; a file that fails gets
a ValueError saying what is wrong.
"""

from __future__ import annotations

import json
import re
import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import torch
from safetensors.torch import load as load_tensors
from torch import nn

from rnnviz.core.config import FIELDS
from rnnviz.core.models import _INIT_LOCK, RecurrentModel
from rnnviz.core.trace import (
    Trace,
    _grad_norm,
    _norm64,
    replay,
    step_jacobian_norms,
    trace_of_replay,
)

CELL_OF_GATES = {1: "rnn", 3: "gru", 4: "lstm"}  # gate blocks stacked in W_ih / W_hh
GATES_OF_CELL = {cell: gates for gates, cell in CELL_OF_GATES.items()}
MODULE_NAMES = {"rnn": "nn.RNN", "lstm": "nn.LSTM", "gru": "nn.GRU"}
OWN_TASK = "own"  # the key of the loss a model from outside is traced with (rnnviz.core.own_model)
# Limits on an uploaded file: the sizes the app can train itself (FIELDS), a few more inputs.
MAX_HIDDEN = int(FIELDS["hidden_size"].high)
MAX_LAYERS = int(FIELDS["num_layers"].high)
MAX_INPUTS = 64
MAX_OUTPUTS = 64
MAX_TENSORS = 32  # a 3-layer LSTM with biases and a readout has 14
MAX_MODEL_BYTES = 32 * 1024 * 1024  # the largest model the limits allow is about 7 MB (float32)
FLOAT_DTYPES = {"F16": "float16", "BF16": "bfloat16", "F32": "float32", "F64": "float64"}

_RECURRENT = re.compile(r"(?P<prefix>.*?)(?P<kind>weight|bias)_(?P<part>ih|hh|hr)_l(?P<layer>\d+)"
                        r"(?P<reverse>_reverse)?")


@dataclass(frozen=True)
class Architecture:
    """What a state dict holds: one recurrent module and at most one linear readout of it.

    ``prefix`` is what the file puts before ``weight_ih_l0`` ("" for a module's own state dict,
    "rnn." for an ``nn.Module`` whose recurrent part is ``self.rnn``); ``head_prefix`` the same
    for the readout's ``weight [out, H]`` and ``bias [out]`` (None without a readout).
    """

    cell: str  # "rnn" | "lstm" | "gru"
    input_size: int
    hidden_size: int
    num_layers: int
    bias: bool = True
    output_size: int | None = None  # the readout's outputs; None without a readout
    head_bias: bool = False
    prefix: str = ""
    head_prefix: str | None = None

    @property
    def gates(self) -> int:
        return GATES_OF_CELL[self.cell]

    def words(self) -> str:
        """The architecture in plain words, for the page."""
        layers = "one layer" if self.num_layers == 1 else f"{self.num_layers} stacked layers"
        module = MODULE_NAMES[self.cell]
        text = (f"an **{module}** with {layers} of **{self.hidden_size}** hidden units, reading "
                f"**{self.input_size}** input feature{'s' if self.input_size != 1 else ''} per "
                f"step, {'with' if self.bias else 'without'} biases")
        if self.output_size is None:
            return text + ", and no readout (only the recurrent module's weights)."
        return (text + f", and a linear readout `{self.head_prefix}weight` from the "
                f"{self.hidden_size} units of the top layer to {self.output_size} "
                f"output{'s' if self.output_size != 1 else ''}"
                f"{'' if self.head_bias else ' (no bias)'}.")


def _shape(value) -> tuple[int, ...]:
    return tuple(int(n) for n in (value.shape if hasattr(value, "shape") else value))


def _fmt(shape: tuple[int, ...]) -> str:
    return "[" + ", ".join(str(n) for n in shape) + "]"


def infer_architecture(state: Mapping[str, object]) -> Architecture:
    """The architecture a state dict describes, from its names and shapes alone.

    ``state`` maps names to tensors or to shapes. Raises ValueError naming the tensor when the
    names are not those of one ``nn.RNN/LSTM/GRU`` (plus an optional ``nn.Linear`` readout of
    its top layer) or the shapes do not fit each other.
    """
    shapes = {str(name): _shape(value) for name, value in state.items()}
    recurrent, others = {}, {}
    for name, shape in shapes.items():
        match = _RECURRENT.fullmatch(name)
        (recurrent if match else others)[name] = (match, shape)
    if not recurrent:
        listed = ", ".join(sorted(shapes)[:6]) or "nothing"
        raise ValueError("no recurrent weights found: a state dict of an nn.RNN, nn.LSTM or "
                         f"nn.GRU has names like weight_ih_l0 and weight_hh_l0 (found {listed})")
    if any(m["reverse"] for m, _ in recurrent.values()):
        raise ValueError("the module is bidirectional (names ending in _reverse): its second "
                         "direction reads the sequence backwards, and this app replays and draws "
                         "one direction only. Upload a unidirectional module")
    if any(m["part"] == "hr" for m, _ in recurrent.values()):
        raise ValueError("the LSTM has proj_size > 0 (weight_hr_l0): its h_t is a projection "
                         "W_hr (o_t * tanh(c_t)), which this app does not replay. Upload an "
                         "LSTM without proj_size")
    prefixes = sorted({m["prefix"] for m, _ in recurrent.values()})
    if len(prefixes) > 1:
        raise ValueError("the file holds more than one recurrent module (prefixes "
                         f"{', '.join(repr(p) for p in prefixes)}); upload one module's weights")
    prefix = prefixes[0]
    by_key = {(m["kind"], m["part"], int(m["layer"])): shape for m, shape in recurrent.values()}
    layers = sorted({layer for _, _, layer in by_key})
    if layers != list(range(len(layers))):
        raise ValueError(f"the layers are not numbered 0, 1, ... (found layers {layers})")
    num_layers = len(layers)
    for layer in layers:
        for part in ("ih", "hh"):
            if ("weight", part, layer) not in by_key:
                raise ValueError(f"{prefix}weight_{part}_l{layer} is missing")
    biases = {key for key in by_key if key[0] == "bias"}
    bias = bool(biases)
    if bias and biases != {("bias", p, layer) for p in ("ih", "hh") for layer in layers}:
        have = ", ".join(f"{prefix}bias_{p}_l{la}" for _, p, la in sorted(biases))
        raise ValueError(f"some biases are missing: a module has bias_ih and bias_hh in every "
                         f"layer or none (found {have})")
    hh = by_key[("weight", "hh", 0)]
    if len(hh) != 2 or hh[1] < 1 or hh[0] % hh[1] or hh[0] // hh[1] not in CELL_OF_GATES:
        raise ValueError(f"{prefix}weight_hh_l0 has shape {_fmt(hh)}; it must be [gates x H, H] "
                         "with 1 (RNN), 3 (GRU) or 4 (LSTM) gate blocks")
    hidden, gates = hh[1], hh[0] // hh[1]
    ih0 = by_key[("weight", "ih", 0)]
    if len(ih0) != 2 or ih0[0] != gates * hidden or ih0[1] < 1:
        raise ValueError(f"{prefix}weight_ih_l0 has shape {_fmt(ih0)}; with "
                         f"{prefix}weight_hh_l0 {_fmt(hh)} it must be [{gates * hidden}, inputs]")
    expected = {}
    for layer in layers:
        expected[("weight", "ih", layer)] = (gates * hidden, ih0[1] if layer == 0 else hidden)
        expected[("weight", "hh", layer)] = (gates * hidden, hidden)
        if bias:
            expected[("bias", "ih", layer)] = expected[("bias", "hh", layer)] = (gates * hidden,)
    for key, want in expected.items():
        if by_key[key] != want:
            kind, part, layer = key
            raise ValueError(f"{prefix}{kind}_{part}_l{layer} has shape {_fmt(by_key[key])}; "
                             f"with {prefix}weight_hh_l0 {_fmt(hh)} it must be {_fmt(want)}")
    head = _infer_head(others, hidden)
    return Architecture(CELL_OF_GATES[gates], ih0[1], hidden, num_layers, bias,
                        output_size=None if head is None else head[1],
                        head_bias=head is not None and head[2], prefix=prefix,
                        head_prefix=None if head is None else head[0])


def _infer_head(others: dict, hidden: int) -> tuple[str, int, bool] | None:
    """``(prefix, outputs, has_bias)`` of the one linear readout among the other names."""
    if not others:
        return None
    groups: dict[str, dict[str, tuple]] = {}
    for name, (_, shape) in others.items():
        stem, dot, last = name.rpartition(".")
        if last not in ("weight", "bias"):
            unexpected = ", ".join(sorted(others)[:5])
            raise ValueError(f"unexpected tensors: {unexpected}. The file may hold one nn.RNN, "
                             "nn.LSTM or nn.GRU and at most one nn.Linear readout of it")
        groups.setdefault(stem + dot, {})[last] = shape
    if len(groups) > 1 or "weight" not in next(iter(groups.values())):
        unexpected = ", ".join(sorted(others)[:5])
        raise ValueError(f"unexpected tensors: {unexpected}. Besides the recurrent weights the "
                         "file may hold one nn.Linear readout (a weight and an optional bias)")
    (head_prefix, parts), = groups.items()
    weight = parts["weight"]
    if len(weight) != 2 or weight[1] != hidden or weight[0] < 1:
        raise ValueError(f"{head_prefix}weight has shape {_fmt(weight)}; a linear readout of "
                         f"the top layer's {hidden} units must be [outputs, {hidden}]")
    if "bias" in parts and parts["bias"] != (weight[0],):
        raise ValueError(f"{head_prefix}bias has shape {_fmt(parts['bias'])}; with "
                         f"{head_prefix}weight {_fmt(weight)} it must be [{weight[0]}]")
    return head_prefix, weight[0], "bias" in parts


def check_limits(arch: Architecture) -> None:
    """The sizes an uploaded model may have (what the pages can draw in reasonable time)."""
    for what, value, limit in (("hidden units", arch.hidden_size, MAX_HIDDEN),
                               ("layers", arch.num_layers, MAX_LAYERS),
                               ("input features", arch.input_size, MAX_INPUTS),
                               ("readout outputs", arch.output_size or 0, MAX_OUTPUTS)):
        if value > limit:
            raise ValueError(f"the model has {value} {what}; this app shows at most {limit}")


# ---------------------------------------------------------------- an untrusted file


@dataclass(frozen=True)
class ModelFile:
    """A checked state dict: its architecture and its weights (float32, the file's names)."""

    architecture: Architecture
    tensors: dict[str, torch.Tensor]
    source: str = ""


def _sniff(data: bytes) -> dict:
    """The safetensors header (8-byte little-endian length, then JSON), or a plain refusal."""
    if data[:1] == b"\x80" and data[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        raise ValueError("this is a Python pickle (torch.save), not a safetensors file. A pickle "
                         "can run code when it is opened, so it is never loaded here. Save the "
                         "weights with safetensors.torch.save_file(module.state_dict(), "
                         "'model.safetensors')")
    if data.startswith(b"PK\x03\x04"):
        raise ValueError("this is a ZIP archive, which is what torch.save writes (a pickle "
                         "inside): it can run code when opened, so it is never loaded here. Save "
                         "the weights with safetensors.torch.save_file(module.state_dict(), "
                         "'model.safetensors')")
    if len(data) < 8:
        raise ValueError("the file is too short to be a safetensors file")
    (length,) = struct.unpack("<Q", data[:8])
    if length > len(data) - 8 or length > 1_000_000:
        raise ValueError("the file is not a safetensors file (its header length does not fit)")
    try:
        header = json.loads(data[8: 8 + length])
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ValueError("the file is not a safetensors file (unreadable header)") from None
    if not isinstance(header, dict):
        raise ValueError("the file is not a safetensors file (its header is not a mapping)")
    header.pop("__metadata__", None)
    if len(header) > MAX_TENSORS:
        raise ValueError(f"the file holds {len(header)} tensors; a recurrent module with a "
                         f"readout has at most {4 * MAX_LAYERS + 2}")
    for name, entry in header.items():
        if len(name) > 200:
            raise ValueError(f"tensor name {name[:40]!r}... is {len(name)} characters long; "
                             "a state dict's names are short")
        if not isinstance(entry, dict) or not isinstance(entry.get("shape"), list) or not all(
                isinstance(n, int) and not isinstance(n, bool) and 0 <= n for n in entry["shape"]):
            raise ValueError(f"the file is damaged: tensor {name[:80]!r} has no valid shape")
        if entry.get("dtype") not in FLOAT_DTYPES:
            raise ValueError(f"{name[:80]} holds {entry.get('dtype')!r} numbers; weights must "
                             "be floating point (float16, bfloat16, float32 or float64)")
    return header


def load_model_file(data: bytes, source: str = "model.safetensors") -> ModelFile:
    """Read and check an untrusted ``.safetensors`` state dict; ValueError says what is wrong.

    Order: size, file type (a pickle or a ZIP is refused by its first bytes), header, names and
    shapes (``infer_architecture``), the size limits (``check_limits``), and only then the
    numbers, which must all be finite.
    """
    if len(data) > MAX_MODEL_BYTES:
        raise ValueError(f"the file is {len(data) / 1e6:.1f} MB; at most "
                         f"{MAX_MODEL_BYTES / 1e6:.0f} MB")
    header = _sniff(data)
    arch = infer_architecture({name: entry["shape"] for name, entry in header.items()})
    check_limits(arch)
    try:
        tensors = load_tensors(data)
    except Exception as err:  # safetensors raises several kinds for a damaged body
        raise ValueError(f"the file is damaged or truncated ({str(err)[:200]})") from None
    checked = {}
    for name, tensor in tensors.items():
        tensor = tensor.to(torch.float32)
        if not torch.isfinite(tensor).all():
            raise ValueError(f"{name} contains NaN or infinite values; a model with them has "
                             "nothing to show")
        checked[name] = tensor
    return ModelFile(arch, checked, source)


# ---------------------------------------------------------------- the model


class InspectedModel(RecurrentModel):
    """A ``RecurrentModel`` holding weights from outside (``.rnn`` the fused module, batch
    first; ``.head`` the file's linear readout, or None).

    ``readout`` says what ``replay``'s prediction is, and so what ``trace`` differentiates:

    ``"output"``      the top layer's h_t, ``[B, T, H]`` (what the module itself returns)
    ``"last_state"``  the top layer's last state h_{T-1}, ``[B, H]`` (many-to-one)
    ``"head"``        the readout at every step, ``head(h_t)`` ``[B, T, out]``
    """

    def __init__(self, arch: Architecture, nonlinearity: str = "tanh",
                 readout: str = "output"):
        super().__init__(arch.cell, arch.input_size, arch.hidden_size, 1,
                         num_layers=arch.num_layers, nonlinearity=nonlinearity,
                         many_to_one=readout == "last_state", task=OWN_TASK)
        self.architecture = arch
        self.readout_mode = readout
        self.head = (nn.Linear(arch.hidden_size, arch.output_size, bias=arch.head_bias)
                     if arch.output_size is not None else None)
        if readout == "head" and self.head is None:
            raise ValueError("this model has no readout to read the prediction from")

    def readout(self, top_hidden: torch.Tensor) -> torch.Tensor:
        if self.readout_mode == "last_state":
            return top_hidden[:, -1]
        if self.readout_mode == "head":
            return self.head(top_hidden)
        return top_hidden


@torch.no_grad()
def inspected_model(arch: Architecture, tensors: Mapping[str, torch.Tensor],
                    nonlinearity: str = "tanh", readout: str = "output",
                    dtype: torch.dtype = torch.float32) -> InspectedModel:
    """An ``InspectedModel`` holding ``tensors`` (named as ``arch`` says), on the CPU in eval
    mode, in ``dtype``. A module without biases gets zero biases: the same function."""
    if arch.cell == "rnn" and nonlinearity not in ("tanh", "relu"):
        raise ValueError(f"nonlinearity: {nonlinearity!r}; an nn.RNN uses tanh or relu")
    # building a module draws its initial weights from torch's global RNG, which training
    # threads seed under this lock: take it, and give the RNG back as it was
    with _INIT_LOCK, torch.random.fork_rng(devices=[]):
        model = InspectedModel(arch, nonlinearity, readout).to(dtype)
    state = {}
    for name, value in model.rnn.state_dict().items():
        key = arch.prefix + name
        state[f"rnn.{name}"] = tensors[key] if key in tensors else torch.zeros_like(value)
    if model.head is not None:
        state["head.weight"] = tensors[f"{arch.head_prefix}weight"]
        if arch.head_bias:
            state["head.bias"] = tensors[f"{arch.head_prefix}bias"]
    model.load_state_dict(state, strict=True)  # copies into the parameters, in their dtype
    return model.eval()


def model_from_file(model_file: ModelFile, nonlinearity: str = "tanh",
                    readout: str = "output") -> InspectedModel:
    """The checked file's weights as an ``InspectedModel`` (float32, CPU)."""
    return inspected_model(model_file.architecture, model_file.tensors, nonlinearity, readout)


# ---------------------------------------------------------------- inspect


def architecture_of(module: nn.Module) -> Architecture:
    """The architecture of a live module; ValueError for what ``inspect`` cannot replay."""
    modes = {"RNN_TANH": "rnn", "RNN_RELU": "rnn", "LSTM": "lstm", "GRU": "gru"}
    if not isinstance(module, nn.RNNBase) or getattr(module, "mode", None) not in modes:
        raise ValueError(f"inspect() reads a torch.nn.RNN, nn.LSTM or nn.GRU; got "
                         f"{type(module).__name__}. For a model with more parts, pass its "
                         "recurrent module and write the rest into loss_fn")
    if module.bidirectional:
        raise ValueError("bidirectional modules are not supported: the second direction reads "
                         "the sequence backwards, and the replay follows one direction")
    if getattr(module, "proj_size", 0):
        raise ValueError(f"LSTMs with proj_size > 0 are not supported (this one has proj_size="
                         f"{module.proj_size}): h_t is then W_hr (o_t * tanh(c_t)), an equation "
                         "the replay does not have")
    return infer_architecture(module.state_dict())


def model_from_module(module: nn.Module) -> InspectedModel:
    """A copy of ``module`` as an ``InspectedModel`` (readout: its own output), on the module's
    device and dtype, its parameters not requiring gradients (nothing flows into them)."""
    arch = architecture_of(module)
    weight = module.weight_ih_l0
    nonlinearity = "relu" if module.mode == "RNN_RELU" else "tanh"
    state = {name: value.detach().cpu() for name, value in module.state_dict().items()}
    model = inspected_model(arch, state, nonlinearity, "output", dtype=weight.dtype)
    return model.to(weight.device).requires_grad_(False)


def inspect(module: nn.Module, x, loss_fn: Callable[[torch.Tensor], torch.Tensor] | None = None,
            jacobians: bool = True) -> Trace:
    """The ``Trace`` of ``module`` (an ``nn.RNN/LSTM/GRU``) on the batch ``x``.

    Args:
        module: the module, unchanged by the call.
        x: the input in the module's own layout, ``[T, B, in]`` or with ``batch_first``
            ``[B, T, in]``; or one unbatched sequence ``[T, in]``.
        loss_fn: maps the module's output (exactly ``module(x)[0]``: ``[T, B, H]``,
            ``[B, T, H]`` or ``[T, H]``) to one loss per example ``[B]`` (a scalar when
            unbatched); when given, ``grad_h``, ``grad_x`` and ``loss`` are filled.
        jacobians: compute ``jacobian_norm`` (the costliest part for big hidden sizes).

    Returns:
        A ``Trace`` whose arrays are batch first, ``hidden[l] [B, T, H]`` whatever the layout
        of ``x``; ``prediction`` is the module's output, batch first ``[B, T, H]``.
    """
    if isinstance(x, nn.utils.rnn.PackedSequence):
        raise ValueError("x is a PackedSequence; pass a padded tensor (the replay reads every "
                         "step of every sequence)")
    model = model_from_module(module)
    weight = module.weight_ih_l0
    x = torch.as_tensor(x)
    if not (x.is_floating_point() and x.dim() in (2, 3)) or x.shape[-1] != module.input_size:
        raise ValueError(f"x must be a float tensor [T, B, {module.input_size}] (or "
                         f"[B, T, {module.input_size}] with batch_first, or "
                         f"[T, {module.input_size}] unbatched); got {list(x.shape)} "
                         f"{x.dtype}")
    unbatched = x.dim() == 2
    x = x.detach().to(device=weight.device, dtype=weight.dtype)
    x = x[None] if unbatched else (x if module.batch_first else x.transpose(0, 1))
    wants_grad = loss_fn is not None
    with torch.enable_grad() if wants_grad else torch.no_grad():
        x_leaf = x.clone().requires_grad_(wants_grad)
        rep = replay(model, x_leaf, keep_grad=wants_grad)
        result = trace_of_replay(model.cell, rep)
        if wants_grad:
            output = rep.prediction  # [B, T, H]
            output = output[0] if unbatched else (
                output if module.batch_first else output.transpose(0, 1))
            losses = _per_example(loss_fn(output), 1 if unbatched else x.shape[0])
            losses.sum().backward()
            result.loss = losses.detach().cpu().numpy()
            result.grad_h = [torch.stack([_grad_norm(h) for h in hs], dim=1).cpu().numpy()
                             for hs in rep.hidden]
            result.grad_x = _norm64(x_leaf.grad).cpu().numpy()
    if jacobians:
        result.jacobian_norm = [step_jacobian_norms(model, rep, layer)
                                for layer in range(model.rnn.num_layers)]
    return result


def _per_example(losses, batch: int) -> torch.Tensor:
    """``loss_fn``'s result as ``[batch]``, or a ValueError saying why it cannot be one."""
    if not isinstance(losses, torch.Tensor) or not losses.requires_grad:
        raise ValueError("loss_fn must compute its result with torch from the output it is "
                         "given (the result does not depend on it, so there is no gradient)")
    if losses.dim() == 0 and batch == 1:
        return losses.reshape(1)
    if tuple(losses.shape) != (batch,):
        raise ValueError(f"loss_fn must return one loss per example, shape [{batch}]; got "
                         f"{list(losses.shape)} (a sum over the batch would mix the examples' "
                         "gradients)")
    return losses

r"""Record the learner's own training loop: ``rec = record(module, probe_x, loss_fn, to=...)``.

A student's notebook or an engineer's script trains its own model; two calls let rnnviz watch
it learn::

    rec = rnnviz.record(model.lstm, probe_x, loss_fn, to="runs/my-lstm", model=model)
    for x, y in batches:
        ...; loss.backward(); optimizer.step()
        rec.step(loss, val_loss=None)       # after optimizer.step()
    rec.close()                             # or: with rnnviz.record(...) as rec:

``module`` is the recurrent part (an ``nn.RNN/LSTM/GRU`` that ``rnnviz.inspect`` accepts),
named, not the whole model; ``probe_x`` a fixed batch in the module's own layout and
``loss_fn(output) -> [B]`` the learner's loss on the module's output, as for ``inspect``.

What is recorded, and when:

* **every step** the loss (and a validation loss when one is passed), in a bounded series that
  keeps every ``stride``-th point and doubles the stride when full (``Series``);
* **on the probe schedule** (step 0, every ``every`` steps, and the last step at ``close``),
  thinned exactly as the app's runs are: the probes go through a ``History``, whose buffer
  keeps every other probe and doubles its stride when full and sizes itself so the stored
  weights stay within 16 MB. A kept probe writes one snapshot file: the module's weights
  (its state dict, its own dtype) and the gradient profile ``||dL/dh_t||`` of the top layer
  on the probe (batch mean), computed with ``inspect``'s copy and replay of the module
  (``model_from_module``, ``replay``), so it equals ``inspect(module, probe_x,
  loss_fn).grad_h[-1].mean(0)``. A snapshot the thinning drops is deleted from the folder.

The training is not changed, bit for bit: the probe works on a copy of the module, takes its
gradients with ``torch.autograd.grad`` (nothing accumulates into any ``.grad``, of the module
or of what ``loss_fn`` uses), runs inside ``torch.random.fork_rng`` (a dropout in ``loss_fn``
draws nothing from the training's RNG), and puts ``model`` (when given) in eval mode for the
probe and back in its own mode after.

The folder is safe to read while it is written and after the writer is killed: every file is
written under a temporary name in the folder and renamed into place (``os.replace``), so a
reader sees the old file or the new one, never half of one. ``index.json`` is written last and
names only files that exist; a dropped snapshot is deleted after the index stops naming it.
The index is rewritten at every kept probe (a killed writer's folder opens up to its last
snapshot), the loss series at most once every ``FLUSH_S`` (1 s) and at the end: file writes
were about two fifths of the recorder's time in a profile of ``rnnviz bench-record``, and the
losses at every probe were one write in three.
A module whose loss_fn uses parts with state of their own (batch norm) must be passed as
``model=`` too: only then are they in eval mode, and their running statistics untouched,
during the probe.
Only safetensors and JSON, never pickle (``rnnviz.core.recorded`` reads it back, checking
everything). Disk and memory are bounded however long the loop runs: at most ``MAX_LOSS_POINTS``
losses and ``MAX_VAL_POINTS`` validation losses, and the History's snapshot budget.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save as save_tensors
from torch import nn

from rnnviz.core.config import FIELDS, RunConfig
from rnnviz.core.history import History, model_weights
from rnnviz.core.inspect import (
    _per_example,
    architecture_of,
    check_limits,
    model_from_module,
)
from rnnviz.core.trace import _norm64, replay

FORMAT = "rnnviz-record"
VERSION = 1
RUN_FILE = "run.json"  # what was recorded: the module's architecture, the probe's shape
INDEX_FILE = "index.json"  # status, last step, kept snapshots (written last, atomically)
PROBE_FILE = "probe.safetensors"  # the probe batch, batch first [B, T, in]
LOSS_FILE = "losses.safetensors"  # the loss and validation series
SNAPSHOT_PREFIX, SNAPSHOT_SUFFIX = "snap-", ".safetensors"  # snap-000000050.safetensors
WEIGHT_PREFIX = "weights."  # tensor names in a snapshot file: weights.<state dict name>
PROFILE_NAME = "grad_h"  # the snapshot's gradient profile [T] (float64)
MAX_LOSS_POINTS = 100_000  # as many steps as the app itself trains (FIELDS["steps"].high)
MAX_VAL_POINTS = 10_000
MAX_PROBE_EXAMPLES = 256
MIN_T, MAX_T = int(FIELDS["seq_len"].low), int(FIELDS["seq_len"].high)
FLUSH_S = 1.0  # the losses and the index reach the disk at least this often while training
DEFAULT_EVERY = RunConfig().probe_every


def snapshot_name(step: int) -> str:
    return f"{SNAPSHOT_PREFIX}{step:09d}{SNAPSHOT_SUFFIX}"


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that a reader sees the old file or the new, never half:
    a temporary file in the same folder, renamed over ``path`` (atomic on POSIX and Windows).
    No fsync: a killed process loses nothing the kernel already holds; a power cut is not
    what this guards against, and an fsync per snapshot would cost the training time."""
    tmp = path.with_name(f".tmp-{os.getpid()}-{path.name}")
    with open(tmp, "wb") as handle:
        handle.write(data)
    os.replace(tmp, path)


class Series:
    """A bounded series of ``(step, value)``: every ``stride``-th point offered is kept; when
    ``capacity`` are kept, every other one is dropped and the stride doubles (the History's
    scheme for probes, applied to a series too long for it), so the whole run stays evenly
    covered in bounded memory."""

    def __init__(self, capacity: int):
        self.steps = np.zeros(capacity, dtype=np.int64)
        self.values = np.zeros(capacity, dtype=np.float32)
        self.kept = 0
        self.stride = 1
        self.seen = 0

    def add(self, step: int, value: float) -> None:
        seen = self.seen
        self.seen += 1
        if seen % self.stride:
            return
        if self.kept == len(self.steps):
            half = (self.kept + 1) // 2
            self.steps[:half] = self.steps[0:self.kept:2].copy()
            self.values[:half] = self.values[0:self.kept:2].copy()
            self.kept, self.stride = half, self.stride * 2
            if seen % self.stride:
                return
        self.steps[self.kept], self.values[self.kept] = step, value
        self.kept += 1


def _number(value, what: str) -> float:
    """A loss as a float: a Python number or a one-element tensor (``loss``, not the batch)."""
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            raise TypeError(f"{what} must be one number (a scalar tensor); got a tensor of "
                            f"shape {list(value.shape)}. Pass the mean loss, e.g. loss.mean()")
        return float(value.detach())
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise TypeError(f"{what} must be a number or a scalar tensor; got "
                        f"{type(value).__name__}")
    return float(value)


def _folder(to) -> Path:
    """The run folder, created; a ValueError when ``to`` is a file or a non-empty folder that
    is not a recording (nothing of the learner's is overwritten)."""
    if not isinstance(to, (str, os.PathLike)) or not str(to):
        raise TypeError(f"to= must be a folder path (str or Path); got {type(to).__name__}")
    path = Path(to)
    if path.exists() and not path.is_dir():
        raise ValueError(f"to={str(to)!r} is a file; rnnviz.record writes a folder of files. "
                         "Choose a folder path, e.g. to='runs/my-lstm'")
    if path.is_dir() and any(path.iterdir()):
        if (path / RUN_FILE).is_file():
            raise ValueError(f"{path} already holds a recording; choose a new folder (e.g. "
                             f"runs/my-lstm-2) or delete that one first")
        raise ValueError(f"{path} is a folder with other files in it; rnnviz.record writes "
                         "into a new or empty folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ValueError(f"cannot create the folder {path}: {err.strerror}") from None
    return path


def refresh(copy: nn.Module, module: nn.Module) -> nn.Module:
    """``copy`` (a ``model_from_module(module)`` made earlier) holding ``module``'s weights
    now, bit for bit: building the copy anew costs more than the replay of a small probe."""
    with torch.no_grad():
        state = copy.rnn.state_dict()
        for name, value in module.state_dict().items():
            state[name].copy_(value)
    return copy


def probe_profile(module: nn.Module, x_batch_first: torch.Tensor, unbatched: bool,
                  loss_fn: Callable, model: nn.Module | None = None) -> np.ndarray:
    """``||dL_b/dh_t||`` of the top layer, mean over the batch, ``[T]`` float64: what
    ``inspect(module, x, loss_fn).grad_h[-1].mean(0)`` gives, computed on ``inspect``'s copy
    of the module (``model``, refreshed, or a new one) with ``torch.autograd.grad`` so no
    ``.grad`` anywhere is touched."""
    model = model_from_module(module) if model is None else refresh(model, module)
    with torch.enable_grad():
        # the input as a leaf, as inspect has it: the copy's weights need no gradient
        rep = replay(model, x_batch_first.clone().requires_grad_(True))
        output = rep.prediction  # [B, T, H]
        output = output[0] if unbatched else (
            output if module.batch_first else output.transpose(0, 1))
        losses = _per_example(loss_fn(output), 1 if unbatched else x_batch_first.shape[0])
        hs = rep.hidden[-1]
        grads = torch.autograd.grad(losses.sum(), hs, allow_unused=True)
    return torch.stack([_norm64(g) if g is not None else
                        h.new_zeros(h.shape[0], dtype=torch.float64)
                        for g, h in zip(grads, hs)], dim=1).mean(dim=0).cpu().numpy()


class Recorder:
    """A recording in progress (see the module docstring). Made by ``record``."""

    def __init__(self, module: nn.Module, probe_x, loss_fn: Callable, to, *,
                 every: int = DEFAULT_EVERY, model: nn.Module | None = None, name: str = ""):
        arch = architecture_of(module)  # a ValueError for anything inspect cannot replay
        check_limits(arch)
        if not callable(loss_fn):
            raise TypeError(f"loss_fn must be a function of the module's output; got "
                            f"{type(loss_fn).__name__}")
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise ValueError(f"every= must be a whole number of steps >= 1; got {every!r}")
        if model is not None and not isinstance(model, nn.Module):
            raise TypeError(f"model= must be the nn.Module that holds the recurrent module; "
                            f"got {type(model).__name__}")
        self.module, self.loss_fn, self.every, self.model = module, loss_fn, every, model
        self._copy: nn.Module | None = None  # inspect's copy of the module, for the probes
        self.architecture = arch
        self.x, self.unbatched = self._probe(module, probe_x)
        self._measure()  # a loss_fn that gives no per-example loss fails before any file
        self.path = _folder(to)
        self.step_count = 0
        self.closed = False
        self.losses = Series(MAX_LOSS_POINTS)
        self.val = Series(MAX_VAL_POINTS)
        n_params = sum(t.numel() for t in module.state_dict().values())
        # the probes, thinned and bounded as a run of the app's are (History's own scheme)
        self.history = History(1, 1, self.x.shape[1], n_params=n_params)
        self._files: dict[int, str] = {}
        self._last_flush = 0.0
        # wall and CPU seconds spent in the recorder's calls (the overhead benchmark)
        self.own_s = self.own_cpu_s = 0.0
        started, cpu = time.perf_counter(), time.process_time()
        run = {"format": FORMAT, "version": VERSION, "name": str(name or self.path.name),
               "cell": arch.cell, "input_size": arch.input_size,
               "hidden_size": arch.hidden_size, "num_layers": arch.num_layers,
               "bias": arch.bias, "nonlinearity": "relu" if module.mode == "RNN_RELU"
               else "tanh", "batch_first": bool(module.batch_first),
               "dtype": str(module.weight_ih_l0.dtype).removeprefix("torch."),
               "probe_shape": list(self.x.shape), "every": every, "created": time.time()}
        atomic_write(self.path / RUN_FILE, json.dumps(run, indent=1).encode())
        atomic_write(self.path / PROBE_FILE,
                     save_tensors({"x": self.x.detach().to("cpu", torch.float32).contiguous()}))
        self._probe_now(force=True)  # step 0: the initial weights, before any training
        self._count(started, cpu)

    @staticmethod
    def _probe(module: nn.Module, probe_x) -> tuple[torch.Tensor, bool]:
        """The probe batch, batch first ``[B, T, in]`` on the module's device and dtype,
        checked against the module and the limits the pages draw within."""
        size = module.input_size
        layout = "[B, T, in]" if module.batch_first else "[T, B, in]"
        if isinstance(probe_x, np.ndarray) and probe_x.dtype.kind == "f":
            probe_x = torch.from_numpy(probe_x)  # as inspect takes it
        if not isinstance(probe_x, torch.Tensor) or not probe_x.is_floating_point() or \
                probe_x.dim() not in (2, 3) or probe_x.shape[-1] != size:
            got = (f"{list(probe_x.shape)} {probe_x.dtype}" if isinstance(probe_x, torch.Tensor)
                   else type(probe_x).__name__)
            raise ValueError(f"probe_x must be a float tensor {layout.replace('in', str(size))}"
                             f" in the module's layout (batch_first={module.batch_first}), or "
                             f"[T, {size}] for one sequence; got {got}")
        unbatched = probe_x.dim() == 2
        x = probe_x.detach()
        x = x[None] if unbatched else (x if module.batch_first else x.transpose(0, 1))
        batch, steps = int(x.shape[0]), int(x.shape[1])
        if not MIN_T <= steps <= MAX_T:
            raise ValueError(f"probe_x has {steps} time steps; the views draw between {MIN_T} "
                             f"and {MAX_T}. Cut the probe to at most {MAX_T} steps")
        if not 1 <= batch <= MAX_PROBE_EXAMPLES:
            raise ValueError(f"probe_x has {batch} examples; use between 1 and "
                             f"{MAX_PROBE_EXAMPLES} (a few are enough to look at)")
        if not torch.isfinite(x).all():
            raise ValueError("probe_x contains NaN or infinite values")
        weight = module.weight_ih_l0
        return x.to(device=weight.device, dtype=weight.dtype).contiguous().clone(), unbatched

    # ---- the loop's side ----
    def step(self, loss, val_loss=None) -> None:
        """One optimizer step done (call it after ``optimizer.step()``): record its loss,
        and the validation loss when given; probe on the schedule."""
        started, cpu = time.perf_counter(), time.process_time()
        if self.closed:
            raise ValueError("this recording is closed; start a new one with rnnviz.record")
        value = _number(loss, "loss")
        val = None if val_loss is None else _number(val_loss, "val_loss")
        self.step_count += 1
        self.losses.add(self.step_count, value)
        if val is not None:
            self.val.add(self.step_count, val)
        if self.step_count % self.every == 0:
            self._probe_now()
        elif time.monotonic() - self._last_flush >= FLUSH_S:
            self._flush("recording")
        self._count(started, cpu)

    def close(self) -> None:
        """Probe the last step (kept whatever the stride) and mark the recording finished."""
        if self.closed:
            return
        started, cpu = time.perf_counter(), time.process_time()
        steps = self.history.probe_step
        if not len(steps) or int(steps[-1]) != self.step_count:
            self._probe_now(force=True, flush=False)
        self.closed = True
        self._flush("closed")
        self._count(started, cpu)

    def _count(self, started: float, cpu: float) -> None:
        self.own_s += time.perf_counter() - started
        self.own_cpu_s += time.process_time() - cpu

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ---- inside ----
    def _would_keep(self, force: bool) -> bool:
        """Whether ``History.record_probe`` keeps the next probe (so a dropped one costs no
        replay): it keeps every ``probe_stride``-th, or, when the buffer is full, every
        ``2 * probe_stride``-th after thinning."""
        h = self.history
        seen = h.probes_seen
        if force:
            return True
        if seen % h.probe_stride:
            return False
        return h.probes_kept < h.capacity or seen % (2 * h.probe_stride) == 0

    def _probe_now(self, force: bool = False, flush: bool = True) -> None:
        step = self.step_count
        keep = self._would_keep(force)
        if keep:
            profile, weights = self._measure()
            state = {WEIGHT_PREFIX + k: v.detach().to("cpu").contiguous().clone()
                     for k, v in self.module.state_dict().items()}
            state[PROFILE_NAME] = torch.from_numpy(np.ascontiguousarray(profile))
            name = snapshot_name(step)
            atomic_write(self.path / name, save_tensors(state, metadata={"step": str(step)}))
            self._files[step] = name
        else:
            profile, weights = np.zeros(self.x.shape[1]), None
        kept = self.history.record_probe(step, profile, weights, force=force)
        assert kept == keep, "the probe schedule and History disagree"
        if flush:  # the index names the new snapshot at once; the losses when due
            self._flush("recording", time.monotonic() - self._last_flush >= FLUSH_S)

    def _measure(self) -> tuple[np.ndarray, np.ndarray]:
        """The gradient profile and the weights, leaving the training as it was."""
        model = self.model
        modes = None if model is None else [m.training for m in model.modules()]
        device = self.x.device
        devices = [device.index or 0] if device.type == "cuda" else []
        try:
            if model is not None:
                model.eval()
            with torch.random.fork_rng(devices=devices):
                if self._copy is None:
                    self._copy = model_from_module(self.module)
                profile = probe_profile(self.module, self.x, self.unbatched, self.loss_fn,
                                        self._copy)
        finally:
            if model is not None:
                for m, mode in zip(model.modules(), modes):
                    m.training = mode
        return profile, model_weights(self.module)

    def _flush(self, status: str, losses: bool = True) -> None:
        """The losses (unless ``losses`` is False: at a probe within ``FLUSH_S`` of the last
        flush, they wait for the next), then the index that names only snapshot files on
        disk, then the snapshot files the thinning dropped (a reader of the old index may
        still open them for a moment; ``recorded`` reads the new index again)."""
        s, v = self.losses, self.val
        if losses or not (self.path / LOSS_FILE).exists():
            atomic_write(self.path / LOSS_FILE, save_tensors({
                "loss_step": torch.from_numpy(s.steps[:s.kept].copy()),
                "loss": torch.from_numpy(s.values[:s.kept].copy()),
                "val_step": torch.from_numpy(v.steps[:v.kept].copy()),
                "val_loss": torch.from_numpy(v.values[:v.kept].copy())}))
            self._last_flush = time.monotonic()
        kept = [int(step) for step in self.history.probe_step]
        index = {"format": FORMAT, "version": VERSION, "status": status,
                 "updated": time.time(), "last_step": self.step_count,
                 "snapshots": [{"step": step, "file": self._files[step]} for step in kept],
                 "probes_seen": self.history.probes_seen,
                 "probe_stride": self.history.probe_stride,
                 "loss_stride": s.stride}
        atomic_write(self.path / INDEX_FILE, json.dumps(index).encode())
        for step in set(self._files) - set(kept):
            (self.path / self._files.pop(step)).unlink(missing_ok=True)


def record(module: nn.Module, probe_x, loss_fn: Callable, to="runs/my-run", *,
           every: int = DEFAULT_EVERY, model: nn.Module | None = None,
           name: str = "") -> Recorder:
    """Start recording a training loop of ``module`` (an ``nn.RNN/LSTM/GRU``) into the folder
    ``to`` (new or empty): the loss every step, and on the probe schedule (step 0, every
    ``every`` steps, thinned) the weights and the gradient profile on ``probe_x``.

    Args:
        module: the recurrent module, the one ``optimizer.step()`` updates (inside any model).
        probe_x: a fixed batch in the module's own layout (``[T, B, in]``, ``[B, T, in]`` with
            ``batch_first``, or ``[T, in]``); 2 to 400 steps, up to 256 examples.
        loss_fn: the module's output (as ``module(x)[0]`` returns it) to one loss per example
            ``[B]``, exactly as for ``rnnviz.inspect``.
        to: the run folder (``rnnviz.load_run`` opens it; ``rnnviz app --logdir`` lists it).
        every: steps between probes (the app's default, 50).
        model: the model around ``module`` whose parts ``loss_fn`` uses (a readout with
            dropout or batch norm): it is put in eval mode for each probe and back after.
        name: a name for the run (default: the folder's name).

    Returns a ``Recorder``: call ``.step(loss, val_loss=None)`` after every
    ``optimizer.step()`` and ``.close()`` at the end (or use it in a ``with`` block).
    Raises ValueError/TypeError with what to fix for a module that is not recurrent, a probe
    of the wrong shape, ``to`` pointing at a file, a loss_fn that gives no per-example loss.
    """
    return Recorder(module, probe_x, loss_fn, to, every=every, model=model, name=name)

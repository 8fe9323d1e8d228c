"""Open a recorded folder (``rnnviz.core.record``) as a ``Run``: ``load_recording(path)``.

The folder may come from a stranger or be half written, so nothing in it is trusted: the files
are named by ``index.json`` and each name must be the one the recorder writes (no ``..``, no
``/``, no other name), no file may be a symbolic link (it could point out of the folder), every
file has a size limit, the JSON files must have the fields and types the recorder writes, and
every tensor's name, dtype and shape must fit the architecture in ``run.json``. Anything else
is a ValueError that names the file and says what is wrong. Only JSON and safetensors are read
(safetensors parses a JSON header and raw numbers: nothing in it can run).

A folder being written can be read at any moment (the writer renames whole files into place);
a snapshot the writer thins out between this reader's reading the index and opening the file
makes it read the index once more.

The result is a ``RecordedRun``, the own-model ``Run`` of ``rnnviz.core.own_model`` with a
history: the loss series, the validation losses, the probe steps with their recorded gradient
profiles (``history.probe_grad``, the learner's own loss) and a snapshot of the module's
weights at every probe step, so ``snapshot_steps`` and ``model_at(step)`` work as for a run
trained in the app (``model_at(0)`` included: the recorder keeps the initial weights). Its
pages' replay differentiates the own-model loss "mean square of the last hidden state"; the
learner's ``loss_fn`` is code, which a folder never carries.
"""

from __future__ import annotations

import json
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load as load_tensors

from rnnviz.core.history import MAX_SNAPSHOTS, History
from rnnviz.core.inspect import (
    OWN_TASK,
    Architecture,
    check_limits,
    infer_architecture,
    inspected_model,
)
from rnnviz.core.own_model import OwnModelConfig, OwnModelRun, OwnModelTask
from rnnviz.core.record import (
    FORMAT,
    INDEX_FILE,
    LOSS_FILE,
    MAX_LOSS_POINTS,
    MAX_PROBE_EXAMPLES,
    MAX_T,
    MAX_VAL_POINTS,
    MIN_T,
    PROBE_FILE,
    PROFILE_NAME,
    RUN_FILE,
    VERSION,
    WEIGHT_PREFIX,
    snapshot_name,
)
from rnnviz.core.runs import load_run as load_run_file
from rnnviz.core.tasks import TASKS
from rnnviz.core.train import Run

MAX_JSON_BYTES = 256 * 1024  # an index of 200 snapshots is about 12 kB
MAX_FILE_BYTES = 64 * 1024 * 1024  # the largest module the limits allow is about 7 MB
# A writer thins its snapshots at each doubling of its stride; a read that meets a deleted
# file reads the new index again. Early on (stride 1, 2, 4) doublings come close together, and
# a slow reader can meet more than one, so a few tries, not one.
THINNED_READS = 4
SNAPSHOT_NAME = re.compile(r"snap-(\d{9})\.safetensors")
STATUSES = ("recording", "closed")
DTYPES = {"float16": torch.float16, "bfloat16": torch.bfloat16, "float32": torch.float32,
          "float64": torch.float64}


class MissingFile(ValueError):
    """A file the folder should hold is not there (for a snapshot: maybe just thinned)."""


def _file(folder: Path, name: str) -> Path:
    """``folder/name``, refused unless it is a regular file inside the folder (not a link)."""
    if not isinstance(name, str) or "/" in name or "\\" in name or name in ("", ".", "..") \
            or ".." in name:
        raise ValueError(f"{folder}: the index names a file {str(name)[:60]!r}; only the "
                         "recorder's own file names are allowed (no '/', no '..')")
    path = folder / name
    missing = MissingFile(f"{path}: missing; the folder is incomplete (was it copied in part?)")
    try:
        # One lstat, not is_symlink/is_file/stat in turn: a writer thinning its snapshots
        # can delete the file between two of those calls.
        info = path.lstat()
    except FileNotFoundError:
        raise missing from None
    if stat.S_ISLNK(info.st_mode):
        raise ValueError(f"{path}: is a symbolic link; a run folder's files must be plain "
                         "files inside it (delete the link)")
    if not stat.S_ISREG(info.st_mode):
        raise missing
    if info.st_size > MAX_FILE_BYTES:
        raise ValueError(f"{path}: larger than {MAX_FILE_BYTES // 2**20} MB, not a "
                         "recorder's file")
    return path


def _json(folder: Path, name: str) -> dict:
    path = _file(folder, name)
    if path.stat().st_size > MAX_JSON_BYTES:
        raise ValueError(f"{path}: larger than {MAX_JSON_BYTES // 1024} kB, not a recorder's "
                         "file")
    try:
        value = json.loads(path.read_bytes())
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"{path}: not valid JSON ({err}); the file is damaged") from None
    if not isinstance(value, dict):
        raise ValueError(f"{path}: not a JSON object; the file is damaged")
    if value.get("format") != FORMAT or value.get("version") != VERSION:
        raise ValueError(f"{path}: not an rnnviz recording of version {VERSION} (format "
                         f"{value.get('format')!r}, version {value.get('version')!r})")
    return value


def _tensors(folder: Path, name: str) -> dict[str, torch.Tensor]:
    path = _file(folder, name)
    try:
        data = path.read_bytes()
    except FileNotFoundError:  # deleted between the check and the read
        raise MissingFile(f"{path}: missing; the folder is incomplete") from None
    try:
        return load_tensors(data)
    except Exception as err:  # safetensors raises several kinds for a damaged file
        raise ValueError(f"{path}: not a readable safetensors file ({str(err)[:120]}); the "
                         "file is damaged or truncated") from None


def _int(value, what: str, low: int = 0, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low or (
            high is not None and value > high):
        limits = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise ValueError(f"{what} must be a whole number {limits}; found {value!r}")
    return value


def _shaped(tensors: dict, name: str, dtype: torch.dtype, shape: tuple, where: Path):
    value = tensors.get(name)
    if value is None or value.dtype != dtype or tuple(value.shape) != tuple(shape):
        found = "nothing" if value is None else f"{value.dtype} {list(value.shape)}"
        raise ValueError(f"{where}: tensor {name!r} must be {dtype} {list(shape)}; found "
                         f"{found}")
    return value


@dataclass(frozen=True)
class Recording:
    """What ``run.json`` says: the module's architecture and the probe's shape."""

    name: str
    architecture: Architecture
    nonlinearity: str
    batch_first: bool
    dtype: str
    probe_shape: tuple[int, int, int]
    every: int


def read_run_file(folder: Path) -> Recording:
    """``run.json``, checked (ValueError naming the field)."""
    run = _json(folder, RUN_FILE)
    where = f"{folder / RUN_FILE}:"
    try:
        cell = run["cell"]
        if cell not in ("rnn", "lstm", "gru"):
            raise ValueError(f"{where} cell must be rnn, lstm or gru; found {cell!r}")
        arch = Architecture(cell, _int(run["input_size"], f"{where} input_size", 1),
                            _int(run["hidden_size"], f"{where} hidden_size", 1),
                            _int(run["num_layers"], f"{where} num_layers", 1),
                            bool(run["bias"]))
        check_limits(arch)
        shape = run["probe_shape"]
        if not isinstance(shape, list) or len(shape) != 3:
            raise ValueError(f"{where} probe_shape must be [examples, steps, inputs]")
        shape = (_int(shape[0], f"{where} probe examples", 1, MAX_PROBE_EXAMPLES),
                 _int(shape[1], f"{where} probe steps", MIN_T, MAX_T),
                 _int(shape[2], f"{where} probe inputs", arch.input_size, arch.input_size))
        nonlinearity = run["nonlinearity"]
        if nonlinearity not in ("tanh", "relu") or (nonlinearity == "relu" and cell != "rnn"):
            raise ValueError(f"{where} nonlinearity {nonlinearity!r} does not fit a {cell}")
        if run["dtype"] not in DTYPES:
            raise ValueError(f"{where} dtype must be one of {', '.join(DTYPES)}")
        name = run.get("name", folder.name)
        if not isinstance(name, str) or len(name) > 200:
            raise ValueError(f"{where} name must be a short text")
        return Recording(name, arch, nonlinearity, bool(run["batch_first"]), run["dtype"],
                         shape, _int(run["every"], f"{where} every", 1))
    except KeyError as err:
        raise ValueError(f"{where} the field {err} is missing; the file is damaged") from None
    except ValueError as err:
        if str(err).startswith(str(folder)):
            raise
        raise ValueError(f"{where} {err}") from None


def read_index(folder: Path) -> dict:
    """``index.json``, checked: status, last step and the kept snapshots, ascending, each
    with the file name the recorder gives its step."""
    index = _json(folder, INDEX_FILE)
    where = f"{folder / INDEX_FILE}:"
    if index.get("status") not in STATUSES:
        raise ValueError(f"{where} status must be one of {', '.join(STATUSES)}")
    last = _int(index.get("last_step"), f"{where} last_step")
    snapshots = index.get("snapshots")
    if not isinstance(snapshots, list) or not 1 <= len(snapshots) <= MAX_SNAPSHOTS + 1:
        raise ValueError(f"{where} snapshots must be a list of 1 to {MAX_SNAPSHOTS + 1} entries")
    steps = []
    for entry in snapshots:
        if not isinstance(entry, dict):
            raise ValueError(f"{where} every snapshot entry must be an object")
        step = _int(entry.get("step"), f"{where} a snapshot's step", 0, last)
        file = entry.get("file")
        if not isinstance(file, str) or file != snapshot_name(step):
            _file(folder, file)  # a '..' or '/' gets its own message first
            raise ValueError(f"{where} the snapshot of step {step} must be in "
                             f"{snapshot_name(step)!r}; found {str(file)[:60]!r}")
        steps.append(step)
    if steps != sorted(set(steps)) or steps[0] != 0:
        raise ValueError(f"{where} snapshot steps must start at 0 and ascend")
    updated = index.get("updated")
    if isinstance(updated, bool) or not isinstance(updated, (int, float)):
        raise ValueError(f"{where} updated must be a time")
    return {"status": index["status"], "last_step": last, "steps": steps,
            "updated": float(updated)}


def _snapshot(folder: Path, step: int, expected: dict[str, tuple], steps: int):
    """The weights (float32, the module's names) and the gradient profile of one snapshot."""
    path = folder / snapshot_name(step)
    tensors = _tensors(folder, snapshot_name(step))
    names = {k[len(WEIGHT_PREFIX):] for k in tensors if k.startswith(WEIGHT_PREFIX)}
    others = set(tensors) - {WEIGHT_PREFIX + n for n in names} - {PROFILE_NAME}
    if names != set(expected) or others:
        odd = sorted((names ^ set(expected)) | others)[:4]
        raise ValueError(f"{path}: the tensors do not fit the module in run.json (unexpected "
                         f"or missing: {', '.join(odd)})")
    weights = {}
    for name, shape in expected.items():
        value = tensors[WEIGHT_PREFIX + name]
        if tuple(value.shape) != shape or value.dtype not in DTYPES.values():
            raise ValueError(f"{path}: {name} must be a float tensor {list(shape)}; found "
                             f"{value.dtype} {list(value.shape)}")
        weights[name] = value.to(torch.float32)
    profile = _shaped(tensors, PROFILE_NAME, torch.float64, (steps,), path)
    return weights, profile.numpy()


def expected_shapes(arch: Architecture) -> dict[str, tuple]:
    """The module's state dict names and shapes (``weight_ih_l0 [gates * H, in]`` ...)."""
    shapes = {}
    rows = arch.gates * arch.hidden_size
    for layer in range(arch.num_layers):
        shapes[f"weight_ih_l{layer}"] = (rows, arch.input_size if layer == 0 else
                                         arch.hidden_size)
        shapes[f"weight_hh_l{layer}"] = (rows, arch.hidden_size)
        if arch.bias:
            shapes[f"bias_ih_l{layer}"] = shapes[f"bias_hh_l{layer}"] = (rows,)
    return shapes


class RecordedHistory(History):
    """A History read from a recording. Its loss series may be thinned (every stride-th step
    kept), so the per-step arrays hold ``kept`` points and ``step`` is their recorded step
    numbers, not 1..n; ``steps_done`` (and ``last_step``) is the last step the loop reported,
    as in a run trained here. A recording has no metric, gradient norm or clipping: NaN."""

    last_step: int = 0
    kept: int = 0
    _recorded_steps: np.ndarray

    @property
    def step(self) -> np.ndarray:
        return self._recorded_steps[: self.kept]

    @property
    def loss(self) -> np.ndarray:
        return self._loss[: self.kept]

    @property
    def metric(self) -> np.ndarray:
        return self._metric[: self.kept]

    @property
    def grad_norm(self) -> np.ndarray:
        return self._grad_norm[: self.kept]

    @property
    def clipped(self) -> np.ndarray:
        return self._clipped[: self.kept]


@dataclass
class RecordedRun(OwnModelRun):
    """A recorded folder as a ``Run`` (see the module docstring)."""

    recording: Recording | None = None
    snapshots: list[dict[str, torch.Tensor]] = field(default_factory=list, repr=False)
    status: str = "closed"
    path: str = ""

    @property
    def snapshot_steps(self) -> list[int]:
        return [int(s) for s in self.history.probe_step]

    def model_at(self, step: int):
        steps = self.snapshot_steps
        if step not in steps:
            nearest = sorted(steps, key=lambda s: (abs(s - step), s))[:2]
            raise ValueError(f"no snapshot at step {step}; the nearest kept are "
                             f"{' and '.join(str(s) for s in sorted(nearest))}")
        rec = self.recording
        return inspected_model(rec.architecture, self.snapshots[steps.index(step)],
                               rec.nonlinearity, "last_state")

    def profile_at(self, step: int) -> np.ndarray:
        """The recorded ``||dL/dh_t||`` (top layer, batch mean, the learner's loss) at a
        snapshot step."""
        self.model_at(step)  # the same message for a step that was not kept
        return self.history.probe_grad[self.snapshot_steps.index(step)].astype(np.float64)


def load_recording(path) -> RecordedRun:
    """Open a folder written by ``rnnviz.record`` (finished, still being written, or left by
    a killed writer) as a ``RecordedRun``; ValueError with what to fix otherwise."""
    folder = Path(path)
    if not folder.is_dir():
        raise ValueError(f"{folder}: no such folder")
    for attempt in range(THINNED_READS):
        try:
            return _load(folder)
        except _Thinned:
            if attempt == THINNED_READS - 1:
                raise ValueError(f"{folder}: a snapshot named in index.json is missing; the "
                                 "folder is incomplete") from None
    raise AssertionError  # unreachable


class _Thinned(Exception):
    """A snapshot file named in the index vanished (the writer thinned it meanwhile)."""


def _load(folder: Path) -> RecordedRun:
    rec = read_run_file(folder)
    index = read_index(folder)
    arch = rec.architecture
    batch, steps, inputs = rec.probe_shape
    probe = _shaped(_tensors(folder, PROBE_FILE), "x", torch.float32, rec.probe_shape,
                    folder / PROBE_FILE)
    if not torch.isfinite(probe).all():
        raise ValueError(f"{folder / PROBE_FILE}: the probe holds NaN or infinite values")
    losses = _tensors(folder, LOSS_FILE)
    where = folder / LOSS_FILE
    n, m = (losses[k].shape[0] if k in losses and losses[k].dim() == 1 else -1
            for k in ("loss_step", "val_step"))
    if not 0 <= n <= MAX_LOSS_POINTS or not 0 <= m <= MAX_VAL_POINTS:
        raise ValueError(f"{where}: loss_step and val_step must hold at most "
                         f"{MAX_LOSS_POINTS} and {MAX_VAL_POINTS} steps")
    loss_step = _shaped(losses, "loss_step", torch.int64, (n,), where).numpy()
    loss = _shaped(losses, "loss", torch.float32, (n,), where).numpy()
    val_step = _shaped(losses, "val_step", torch.int64, (m,), where).numpy()
    val_loss = _shaped(losses, "val_loss", torch.float32, (m,), where).numpy()
    expected = expected_shapes(arch)
    snapshots, profiles = [], []
    for step in index["steps"]:
        try:
            weights, profile = _snapshot(folder, step, expected, steps)
        except MissingFile:
            raise _Thinned from None
        snapshots.append(weights)
        profiles.append(profile)
    infer_architecture(snapshots[0])  # the names and shapes describe one module
    history = _history(index, loss_step, loss, val_step, val_loss, index["steps"],
                       np.stack(profiles), snapshots, steps)
    config = OwnModelConfig(cell=arch.cell, nonlinearity=rec.nonlinearity,
                            hidden_size=arch.hidden_size, num_layers=arch.num_layers,
                            seq_len=steps, steps=1, eval_every=1, probe_every=1, clip=None,
                            device="cpu")
    TASKS.setdefault(OWN_TASK, OwnModelTask())  # the loss trace() looks up by model.task
    own_task = OwnModelTask(f"{rec.name} (recorded)", "last_state",
                            f"the recorded probe, {batch} sequence{'s' if batch != 1 else ''} "
                            f"of {steps} steps x {inputs} input feature"
                            f"{'s' if inputs != 1 else ''}")
    model = inspected_model(arch, snapshots[-1], rec.nonlinearity, "last_state")
    return RecordedRun(config, model, history,
                       meta={"source": "recording", "path": str(folder),
                             "status": index["status"], "last_step": index["last_step"],
                             "updated": index["updated"]},
                       own_task=own_task, loss="last_state", sequences=probe.clone(),
                       recording=rec, snapshots=snapshots, status=index["status"],
                       path=str(folder))


def _history(index, loss_step, loss, val_step, val_loss, probe_steps, profiles, snapshots,
             seq_len) -> RecordedHistory:
    history = RecordedHistory(max(len(loss), 1), 1, seq_len)
    n = len(loss)
    history._loss[:n] = loss
    history._recorded_steps = np.zeros(max(n, 1), dtype=np.int64)
    history._recorded_steps[:n] = loss_step
    history.kept = n
    history.steps_done = index["last_step"]
    history._val = np.full((len(val_step), 3), np.nan)
    history._val[:, 0], history._val[:, 1] = val_step, val_loss
    history.evals_done = len(val_step)
    history._probe_step = np.asarray(probe_steps, dtype=np.int64)
    history._probe_grad = profiles.astype(np.float32)
    history.probes_kept = history._probes_seen = len(probe_steps)
    history._weights = [torch.cat([w.reshape(-1) for w in s.values()]).numpy()
                        for s in snapshots[1:]]
    history.n_params = sum(w.numel() for w in snapshots[0].values())
    history.last_step = index["last_step"]
    history.stop_reason = ("still being recorded" if index["status"] == "recording"
                           else "finished")
    return history


def load_run(path) -> Run:
    """A run file (``save_run``, ``.rnnviz``) or a recorded folder (``rnnviz.record``) as a
    ``Run``; ValueError with a plain message for anything else."""
    if Path(path).is_dir():
        return load_recording(path)
    return load_run_file(path)


def probe_trace(run: Run, step: int | None = None, gradients: bool = False):
    """The trace of ``run`` at snapshot ``step`` (default: its last) on the batch its pages
    show first (a recording's own probe; a trained run's probe batch), without Jacobians;
    with ``gradients``, differentiated with the run's task loss. ``(step, trace)``; a step
    that was not kept is a ValueError naming the nearest kept ones."""
    from rnnviz.core.tasks import probe_batch
    from rnnviz.core.trace import trace

    steps = run.snapshot_steps
    step = steps[-1] if step is None else step
    if isinstance(step, bool) or not isinstance(step, (int, np.integer)):
        raise ValueError(f"step must be a whole number, one of run.snapshot_steps; got {step!r}")
    model = run.model_at(int(step))
    x, y = (run.example_batch(0) if isinstance(run, OwnModelRun)
            else probe_batch(run.config.replace(device="cpu")))
    return int(step), trace(model, x, y if gradients else None, jacobians=False)

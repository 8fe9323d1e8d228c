r"""A model trained elsewhere as a ``Run`` the inside pages can show.

The pages read a ``Run``: its config (cell, sizes, sequence length), its model (replayed by
``trace`` with the loss ``TASKS[model.task]`` gives), an example batch ``(x, y)`` and its
history. A model from outside has weights (``rnnviz.core.inspect.load_model_file``) but no task,
no loss and no history, so ``own_model_run`` supplies each part honestly:

* **Inputs** the learner chooses: sequences from their own CSV (``parse_sequences``), or fresh
  inputs drawn from a built-in task whose input size fits the model (the task's *inputs* only:
  its targets are not what this model was trained on).
* **A loss** the learner chooses, always a mean squared error between what the model reads out
  and a target, written out on the page (``LOSSES``)::

    last_state   L_b = (1/H) sum_j h_{T-1,j}^2           the top layer's last state against 0:
                                                        how much each earlier step moves the
                                                        final memory (any model)
    next_input   L_b = 1/(T C) sum_t ||head(h_t) - x_{t+1}||^2
                                                        the file's readout against the next
                                                        input (a readout with C outputs, C the
                                                        input size); a sequence of T + 1 rows
                                                        gives T steps and T targets

  The model's readout (``InspectedModel.readout``) and the batch's targets make that MSE, and
  ``TASKS["own"]`` (registered by ``own_model_run``) is the regression loss that computes it, so
  ``trace``, the Gradients page and the Step-through page differentiate exactly this loss.
* **No history**: the run's ``History`` is empty (nothing was trained here), its ``chance`` says
  there is none, and its config is an ``OwnModelConfig`` (task ``"own"``), a config no training
  can have, so no lesson, cache or comparison ever takes it for one of its runs.
"""

from __future__ import annotations

import csv
import dataclasses
import math
from dataclasses import dataclass

import numpy as np
import torch

from rnnviz.core.config import FIELDS, RunConfig
from rnnviz.core.history import History
from rnnviz.core.inspect import OWN_TASK, ModelFile, model_from_file
from rnnviz.core.tasks import (
    PROBE_SIZE,
    TASKS,
    Chance,
    Task,
    seeded_generator,
    task_params,
)
from rnnviz.core.train import Run

MAX_CSV_BYTES = 2 * 1024 * 1024
MAX_SEQUENCES = 256
MIN_STEPS, MAX_STEPS = int(FIELDS["seq_len"].low), int(FIELDS["seq_len"].high)
BUILT_IN = ("sine", "adding", "parity", "copy", "text")  # tasks whose inputs a model may read


@dataclass(frozen=True)
class Loss:
    """A loss to differentiate a model from outside with: its name, formula and meaning."""

    key: str
    label: str  # for a choice: "Mean square of the last hidden state"
    phrase: str  # inside a sentence: "the mean square of the last hidden state"
    latex: str
    words: str


LOSSES = {
    "last_state": Loss(
        "last_state", "Mean square of the last hidden state",
        "the mean square of the last hidden state",
        r"L = \frac{1}{H}\sum_{j} h_{T-1,j}^{2}",
        "the top layer's last hidden state h_{T−1} against zero. Its gradient ∂L/∂h_t is "
        "how strongly the state at step t still moves the final memory: the product of "
        "the step Jacobians from t to the end, the quantity behind vanishing and exploding "
        "gradients. It needs no readout and no targets."),
    "next_input": Loss(
        "next_input", "MSE of the readout to the next input",
        "the MSE of the readout to the next input",
        r"L = \frac{1}{T\,C}\sum_{t=0}^{T-1} \lVert \mathrm{head}(h_t) - x_{t+1} \rVert^{2}",
        "the file's linear readout at every step against the next row of the input: "
        "next-step forecasting, as if the model had been trained for it. A sequence of "
        "T + 1 rows is read for T steps, and every step has a target."),
}


def losses_for(model_file: ModelFile) -> list[str]:
    """The losses this model can be differentiated with (``next_input`` needs a readout with
    one output per input feature)."""
    arch = model_file.architecture
    return ["last_state"] + (["next_input"] if arch.output_size == arch.input_size else [])


def tasks_for(model_file: ModelFile) -> list[str]:
    """Built-in tasks whose inputs have as many features as the model reads."""
    size = model_file.architecture.input_size
    return [name for name in BUILT_IN if TASKS[name].input_size() == size]


# ---------------------------------------------------------------- a CSV of input sequences


@dataclass(frozen=True, eq=False)
class Sequences:
    """Checked input sequences ``values [sequences, rows, features]`` (float32)."""

    values: np.ndarray
    source: str = ""

    @property
    def count(self) -> int:
        return self.values.shape[0]

    @property
    def rows(self) -> int:
        return self.values.shape[1]

    def words(self) -> str:
        n = self.count
        return (f"{n} sequence{'s' if n != 1 else ''} of {self.rows} rows × "
                f"{self.values.shape[2]} feature{'s' if self.values.shape[2] != 1 else ''}")


def _number(cell: str) -> float | None:
    try:
        value = float(cell.replace("_", "x"))  # Python reads 1_000; a CSV should not
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def parse_sequences(data: bytes, input_size: int, source: str = "inputs.csv") -> Sequences:
    """Input sequences from an untrusted CSV; ValueError says what to fix.

    The format: one row per time step, one column per input feature (``input_size`` numbers
    per row, separated by commas, semicolons or tabs); an optional header line of names;
    several sequences separated by a blank line (or a row of empty cells, which is what a
    spreadsheet writes for an empty row), all with the same number of rows.
    """
    if not data.strip():
        raise ValueError("the file is empty: write one row per time step with "
                         f"{input_size} number(s) per row")
    if len(data) > MAX_CSV_BYTES:
        raise ValueError(f"the file is {len(data) / 1e6:.1f} MB; at most "
                         f"{MAX_CSV_BYTES / 1e6:.0f} MB")
    if b"\x00" in data or data.startswith(b"PK\x03\x04"):
        raise ValueError("this is a binary file (a spreadsheet, an archive, a program), not a "
                         "CSV text file; save it as CSV UTF-8")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValueError("the file is not UTF-8 text; save it as CSV UTF-8") from None
    lines = text.splitlines()
    first = next(line for line in lines if line.strip())
    delimiter = next((d for d in (";", "\t") if d in first and "," not in first), ",")
    blocks, current, header_seen = [], [], False
    for number, line in enumerate(lines, start=1):
        try:
            cells = [c.strip() for c in next(csv.reader([line], delimiter=delimiter,
                                                          strict=True))] if line.strip() else []
        except csv.Error as err:
            raise ValueError(f"line {number} is not well-formed CSV ({err})") from None
        if not any(cells):  # a separator between sequences
            if current:
                blocks.append(current)
            current = []
            continue
        values = [_number(c) for c in cells]
        if not header_seen and not blocks and not current and all(v is None for v in values):
            header_seen = True  # a header line of names
            continue
        if len(cells) != input_size:
            raise ValueError(f"line {number} has {len(cells)} value(s); the model reads "
                             f"{input_size} input feature(s) per step, so every row needs "
                             f"{input_size} number(s)")
        for column, (cell, value) in enumerate(zip(cells, values), start=1):
            if not cell:
                raise ValueError(f"line {number}, column {column} is empty; every cell must be "
                                 "a number")
            if value is None:
                raise ValueError(f"line {number}: {cell[:40]!r} is not a finite number; every "
                                 "cell must be a number (a dot as the decimal separator)")
        current.append(values)
        if len(blocks) >= MAX_SEQUENCES:
            raise ValueError(f"the file has more than {MAX_SEQUENCES} sequences")
    if current:
        blocks.append(current)
    if not blocks:
        raise ValueError("the file has a header but no rows of numbers")
    lengths = sorted({len(block) for block in blocks})
    if len(lengths) > 1:
        raise ValueError(f"the sequences have different lengths ({', '.join(map(str, lengths))}"
                         " rows); every sequence needs the same number of rows")
    if lengths[0] > MAX_STEPS + 1:
        raise ValueError(f"the sequences have {lengths[0]} rows; at most {MAX_STEPS + 1}")
    return Sequences(np.asarray(blocks, dtype=np.float32), source)


# ---------------------------------------------------------------- the run


class OwnModelTask(Task):
    """The loss of a model from outside (``TASKS["own"]``): the regression MSE between the
    model's readout and the batch's target (``Task.loss_per_example``). It draws no data: the
    inputs come with the run (``OwnModelRun.example_batch``)."""

    name = OWN_TASK
    many_to_one = False
    classification = False
    metric_name = "MSE"

    def __init__(self, title: str = "Your own model", loss: str = "last_state",
                 inputs: str = ""):
        self.title = title
        self.loss_choice = LOSSES[loss]  # not ``loss``: that is Task's loss function
        self.inputs = inputs
        self.description = (
            "Not a task to train: a model trained elsewhere (Playground, Your own model), shown "
            "on the inside pages with the inputs and the loss chosen there.")

    def sample(self, *args, **kwargs):
        raise ValueError("a model from outside has no data generator: its inputs come with it")

    def chance(self, seq_len, **params) -> Chance:
        return NO_CHANCE


NO_CHANCE = Chance(loss=math.nan, metric=math.nan,
                   how="no chance level: this model was not trained here, so there is no task "
                       "to compare it with")


@dataclass(frozen=True)
class OwnModelConfig(RunConfig):
    """The config of a model from outside: its architecture and sequence length, task
    ``"own"``. Every other field is checked as for a run trained here; no training config can
    equal it (the task and the class differ)."""

    task: str = OWN_TASK

    def validate(self) -> None:
        if self.task != OWN_TASK:
            raise ValueError(f"task: a model from outside has task {OWN_TASK!r}")
        RunConfig(**{**dataclasses.asdict(self), "task": "sine"})  # the other fields


@dataclass
class OwnModelRun(Run):
    """A model from outside with its inputs and loss (see the module docstring).

    ``sequences [N, rows, C]`` (from a CSV) or ``input_task`` (a built-in task's inputs) give
    the batches; ``steps`` is T, the steps the model reads."""

    own_task: OwnModelTask | None = None
    sequences: torch.Tensor | None = None
    input_task: str | None = None
    loss: str = "last_state"

    @property
    def task(self) -> OwnModelTask:
        return self.own_task

    @property
    def chance(self) -> Chance:
        return NO_CHANCE

    @property
    def steps(self) -> int:
        return self.config.seq_len

    @property
    def examples(self) -> int:
        """Examples in each batch."""
        return PROBE_SIZE if self.sequences is None else min(PROBE_SIZE, len(self.sequences))

    @property
    def batches(self) -> int | None:
        """Distinct batches (None: as many as asked for, drawn from a task)."""
        return None if self.sequences is None else math.ceil(len(self.sequences) / PROBE_SIZE)

    def example_batch(self, batch_id: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``(x [n, T, C], y)``: batch ``batch_id`` of the inputs, with the loss's targets
        (zeros ``[n, H]`` for ``last_state``; the next inputs ``[n, T, C]`` for
        ``next_input``). CSV sequences are taken 16 at a time, wrapping around."""
        rows = self.steps + (self.loss == "next_input")
        if self.sequences is None:
            generator = seeded_generator(1_000_003 + int(batch_id))
            params = {**task_params(RunConfig()), "lag": min(5, rows - 1)}
            chunk, _ = TASKS[self.input_task].sample(PROBE_SIZE, rows, generator, split="val",
                                                     **params)
        else:
            count = len(self.sequences)
            index = (PROBE_SIZE * (int(batch_id) % self.batches) + torch.arange(self.examples))
            chunk = self.sequences[index % count]
        if self.loss == "next_input":
            return chunk[:, :-1].clone(), chunk[:, 1:].clone()
        return chunk.clone(), torch.zeros(len(chunk), self.config.hidden_size)

    def words(self) -> str:
        """What is shown, in one line: the model, the inputs and the loss."""
        return (f"{self.own_task.title}; inputs: {self.own_task.inputs}; loss: "
                f"{LOSSES[self.loss].phrase}.")


def own_model_run(model_file: ModelFile, *, loss: str = "last_state",
                  sequences: Sequences | None = None, input_task: str | None = None,
                  steps: int = 40, nonlinearity: str = "tanh") -> OwnModelRun:
    """The run the inside pages show for ``model_file`` on CSV ``sequences`` or on a built-in
    ``input_task``'s inputs (``steps`` long), differentiated with ``loss`` (a key of
    ``LOSSES``). ValueError when they do not fit the model."""
    arch = model_file.architecture
    if loss not in losses_for(model_file):
        raise ValueError("MSE to the next input needs a readout with one output per input "
                         f"feature ({arch.input_size}); this model has "
                         + ("no readout" if arch.output_size is None
                            else f"{arch.output_size} outputs"))
    if (sequences is None) == (input_task is None):
        raise ValueError("choose the inputs: a CSV of sequences or a built-in task")
    if sequences is not None:
        if sequences.values.shape[2] != arch.input_size:
            raise ValueError(f"the sequences have {sequences.values.shape[2]} features; the model "
                             f"reads {arch.input_size}")
        steps = sequences.rows - (loss == "next_input")
        inputs = f"{sequences.words()} from {sequences.source}"
    else:
        if input_task not in tasks_for(model_file):
            raise ValueError(f"the {input_task!r} task's inputs do not fit this model "
                             f"({arch.input_size} input features)")
        inputs = (f"the {TASKS[input_task].title} task's inputs (its targets are not used), "
                  f"{steps} steps")
    if not MIN_STEPS <= steps <= MAX_STEPS:
        raise ValueError(f"the model would read {steps} steps; between {MIN_STEPS} and "
                         f"{MAX_STEPS} are needed" + (" (MSE to the next input reads one row "
                                                      "less than the sequence has)"
                                                      if loss == "next_input" else ""))
    readout = "head" if loss == "next_input" else "last_state"
    model = model_from_file(model_file, nonlinearity if arch.cell == "rnn" else "tanh", readout)
    config = OwnModelConfig(cell=arch.cell, nonlinearity=model.nonlinearity,
                            hidden_size=arch.hidden_size, num_layers=arch.num_layers,
                            seq_len=steps, steps=1, eval_every=1, probe_every=1, clip=None,
                            device="cpu")
    TASKS.setdefault(OWN_TASK, OwnModelTask())  # the loss trace() looks up by model.task
    title = f"Your own model ({model_file.source})" if model_file.source else "Your own model"
    own_task = OwnModelTask(title, loss, inputs)
    return OwnModelRun(config, model, History(1, 1, steps), meta={"source": "own model"},
                       own_task=own_task, loss=loss, input_task=input_task,
                       sequences=None if sequences is None else torch.from_numpy(
                           sequences.values.copy()))


def is_own_model(run) -> bool:
    return isinstance(run, OwnModelRun)


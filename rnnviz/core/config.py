"""RunConfig: everything that defines one training run, and the one table of allowed values.

The table ``FIELDS`` is the single source of truth for each field's range, its label and its
help text: ``RunConfig.validate`` checks against it, the command line builds its flags from it and
the app builds its widgets from it. Change a range here and every door follows.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from dataclasses import dataclass
from typing import Any

# A task made from a user's own data (rnnviz.core.csvdata) is named "csv:" + 12 hex digits of a hash
# of that data, so the name (and with it the config's cache key) differs for different data and
# two uploads never share a run. Such names are not in the table's choices: a link or a flag
# cannot carry a data set, so ``check_field`` refuses them with that explanation, while
# ``RunConfig`` accepts them (the app, a run file or the runs folder registers the data first).
DATA_TASK = re.compile(r"csv:[0-9a-f]{12}")


def is_data_task(name: Any) -> bool:
    return isinstance(name, str) and DATA_TASK.fullmatch(name) is not None


@dataclass(frozen=True)
class Field:
    """Allowed values and words for one RunConfig field."""

    group: str  # "Task", "Model" or "Training": how the app groups its controls
    label: str
    help: str
    choices: tuple | None = None  # a categorical field
    low: float | None = None  # numeric range, inclusive
    high: float | None = None
    optional: bool = False  # None is allowed ("off")
    log: bool = False  # a slider on a log scale reads better (learning rate, weight decay)

    def describe(self) -> str:
        """The allowed values in words, for error messages."""
        if self.choices is not None:
            allowed = " | ".join(str(c) for c in self.choices)
        else:
            allowed = f"{self.low:g} to {self.high:g}"
        return allowed + (" (or off)" if self.optional else "")


FIELDS: dict[str, Field] = {
    # Task
    "task": Field("Task", "Task", "Which sequence problem to learn: a toy task made up on the "
                  "fly, or real data (the spoken digits of FSDD).",
                  choices=("sine", "adding", "copy", "parity", "text", "sentiment", "digits",
                           "digits_speaker", "reverse", "dates", "en_fr")),
    "seq_len": Field("Task", "Sequence length", "Time steps per example: the distance gradients "
                     "must travel back through time.", low=2, high=400),
    "lag": Field("Task", "Copy lag", "Copy task: the target at step t is the symbol seen "
                 "`lag` steps earlier. Must be smaller than the sequence length.", low=1, high=200),
    "noise": Field("Task", "Sine noise", "Sine task: standard deviation of the noise added to "
                   "the input wave.", low=0.0, high=1.0),
    "marked_bits": Field("Task", "Marked bits", "Parity task: how many marked bits are XOR-ed "
                         "(2 is XOR).", low=1, high=8),
    "train_size": Field("Task", "Training examples", "A fixed training set of this many "
                        "examples (small sets overfit); off draws fresh examples every step.",
                        low=8, high=100_000, optional=True),
    # Model
    "cell": Field("Model", "Cell", "Vanilla RNN, LSTM (input/forget/output gates and a memory "
                  "cell) or GRU (reset and update gates).", choices=("rnn", "lstm", "gru")),
    "nonlinearity": Field("Model", "Nonlinearity", "Vanilla RNN only: tanh squashes to [-1, 1]; "
                          "relu (with identity init: IRNN) does not.", choices=("tanh", "relu")),
    "hidden_size": Field("Model", "Hidden units", "Size of the hidden state h_t.", low=1, high=256),
    "num_layers": Field("Model", "Layers", "Stacked recurrent layers.", low=1, high=3),
    "dropout": Field("Model", "Dropout", "Dropout between stacked layers (needs 2+ layers).",
                     low=0.0, high=0.9),
    "init": Field("Model", "Initialization", "Recurrent weights: PyTorch's default uniform, "
                  "orthogonal, or identity (IRNN, Le et al. 2015).",
                  choices=("default", "orthogonal", "identity")),
    # "below 1 gradients vanish" was said of every cell (issue 19), but an LSTM or GRU at 0.2
    # still learns the 50-step adding problem (tests/test_recurrent_scale_help.py)
    "recurrent_scale": Field("Model", "Recurrent spectral radius", "Rescale each recurrent "
                             "matrix W_hh to this spectral radius. In a vanilla RNN every step "
                             "back multiplies the gradient by W_hh and the activation's slope "
                             "(at most 1): below 1 it fades over long sequences, above 1 it can "
                             "explode. An LSTM or GRU carries its "
                             "memory through its gates, so a radius below 1 does not stop it "
                             "learning long dependencies.", low=0.05, high=3.0, optional=True),
    "forget_bias": Field("Model", "Forget-gate bias", "LSTM only: initial bias of the forget "
                         "gate (1 keeps memory from the start; Jozefowicz et al. 2015).",
                         low=-5.0, high=5.0),
    # Model of the seq2seq tasks only (SEQ2SEQ_FIELDS)
    "attention": Field("Model", "Attention", "Translation tasks: none gives the decoder only the "
                       "encoder's last state; dot (Luong) and additive (Bahdanau) let every "
                       "output step look back at every source step.",
                       choices=("none", "dot", "additive")),
    "teacher_forcing": Field("Training", "Teacher forcing", "Translation tasks: the share of "
                             "training steps at which the decoder reads the true previous "
                             "token instead of its own guess.", low=0.0, high=1.0),
    "beam": Field("Training", "Beam width", "Translation tasks: how many partial translations "
                  "decoding keeps at each step (1 is greedy).", low=1, high=10),
    # Training
    "optimizer": Field("Training", "Optimizer", "SGD with momentum 0.9, Adam or RMSprop.",
                       choices=("sgd", "adam", "rmsprop")),
    "lr": Field("Training", "Learning rate", "Step size of the optimizer.", low=1e-5, high=1.0,
                log=True),
    "batch_size": Field("Training", "Batch size", "Examples per training step.", low=1, high=512),
    "steps": Field("Training", "Training steps", "Number of optimizer steps.", low=1, high=100_000),
    "clip": Field("Training", "Gradient clipping", "Rescale the gradient when its total norm "
                  "exceeds this threshold; off lets it explode.", low=0.01, high=100.0,
                  optional=True),
    "weight_decay": Field("Training", "Weight decay", "PyTorch's weight_decay λ: adds λ·w to "
                          "every gradient, an L2 penalty (λ/2)·‖w‖² on the weights (a remedy "
                          "for overfitting; with Adam it is not AdamW's decoupled decay).",
                          low=0.0, high=0.1),
    "early_stopping": Field("Training", "Early stopping patience", "Stop after this many "
                            "validations without improvement and keep the best weights; off "
                            "trains every step.", low=1, high=1000, optional=True),
    "eval_every": Field("Training", "Validate every", "Steps between validation measurements.",
                        low=1, high=10_000),
    "probe_every": Field("Training", "Probe every", "Steps between snapshots of the per-time-step "
                         "gradient norms on a fixed probe batch.", low=1, high=10_000),
    "seed": Field("Training", "Seed", "Fixes initial weights and data: the same seed gives the "
                  "same run.", low=0, high=2**31 - 1),
    "device": Field("Training", "Device", "auto uses CUDA when this machine has it.",
                    choices=("auto", "cpu", "cuda")),
}


@dataclass(frozen=True)
class RunConfig:
    """One training run. The defaults are a good first experiment: an LSTM on the adding problem.

    Every field's allowed range lives in ``FIELDS``; ``validate()`` raises ``ValueError`` naming
    the field and its range.
    """

    task: str = "adding"  # key of rnnviz.TASKS
    seq_len: int = 20  # time steps per example
    lag: int = 5  # copy task: dependency distance
    noise: float = 0.05  # sine task: input noise std
    marked_bits: int = 2  # parity task: bits XOR-ed
    train_size: int | None = None  # fixed training set size; None = fresh data every step
    cell: str = "lstm"  # "rnn" | "lstm" | "gru"
    nonlinearity: str = "tanh"  # vanilla RNN only
    hidden_size: int = 32
    num_layers: int = 1
    dropout: float = 0.0  # between layers
    init: str = "default"  # "default" | "orthogonal" | "identity"
    recurrent_scale: float | None = None  # target spectral radius of each W_hh block
    forget_bias: float = 1.0  # LSTM forget-gate bias at init
    optimizer: str = "adam"
    lr: float = 0.01
    batch_size: int = 64
    steps: int = 1000
    clip: float | None = 1.0  # max total gradient norm; None = no clipping
    weight_decay: float = 0.0
    early_stopping: int | None = None  # patience in validations
    eval_every: int = 50
    probe_every: int = 50
    seed: int = 0
    device: str = "auto"
    attention: str = "none"  # seq2seq tasks: "none" | "dot" | "additive"
    teacher_forcing: float = 1.0  # seq2seq tasks: share of steps fed the true previous token
    beam: int = 1  # seq2seq tasks: beam width of the validation's decoding (1 = greedy)

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        for name in FIELDS:
            if name == "task" and is_data_task(self.task):
                continue  # named by its data's hash; see DATA_TASK
            check_field(name, getattr(self, name))
        if self.task == "copy" and self.lag >= self.seq_len:
            raise ValueError(f"lag: {self.lag} must be smaller than seq_len ({self.seq_len}) "
                             "for the copy task")
        if self.task == "sentiment":
            # imported here: the grammar module imports torch, which this table does not need
            from rnnviz.core.sentiment import check_seq_len
            check_seq_len(self.seq_len)
        if self.task in ("digits", "digits_speaker"):
            from rnnviz.core.speech import check_seq_len as check_frames
            check_frames(self.seq_len)
        if self.task in SEQ2SEQ_TASKS:
            from rnnviz.core.tasks import TASKS
            TASKS[self.task].check_seq_len(self.seq_len)

    def replace(self, **changes: Any) -> RunConfig:
        """A copy with some fields changed (validated)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunConfig:
        """Build from a mapping, coercing ints; unknown keys are an error (a typo must not
        vanish)."""
        unknown = set(data) - set(FIELDS)
        if unknown:
            raise ValueError(f"unknown config field(s): {', '.join(sorted(unknown))}")
        return cls(**{k: coerce(k, v) for k, v in data.items()})

    @property
    def key(self) -> str:
        """A stable key for caching runs: equal configs give equal keys. The seq2seq fields are
        left out at their defaults, so that adding them (issue 21) kept every earlier run's key,
        its file name in the runs folder and its Redis entry."""
        data = self.to_dict()
        for name in SEQ2SEQ_FIELDS:
            if data[name] == _SEQ2SEQ_DEFAULTS[name]:
                del data[name]
        return json.dumps(data, sort_keys=True)


SEQ2SEQ_TASKS = ("reverse", "dates", "en_fr")
SEQ2SEQ_FIELDS = ("attention", "teacher_forcing", "beam")  # shown for SEQ2SEQ_TASKS only
_SEQ2SEQ_DEFAULTS = {f.name: f.default for f in dataclasses.fields(RunConfig)
                     if f.name in SEQ2SEQ_FIELDS}
_INT_FIELDS = {f.name for f in dataclasses.fields(RunConfig) if "int" in str(f.type)}


def _is_integer_field(name: str) -> bool:
    return name in _INT_FIELDS


def check_field(name: str, value: Any) -> None:
    """Raise ValueError naming the field and its allowed values when ``value`` is not allowed."""
    spec = FIELDS[name]
    if value is None:
        if not spec.optional:
            raise ValueError(f"{name}: a value is required; allowed {spec.describe()}")
        return
    if name == "task" and is_data_task(value):
        raise ValueError(f"task: {value} is a data set uploaded to one server; a link or a "
                         "command-line flag cannot carry it. Upload the CSV file again "
                         "(Playground, Your own data)")
    if spec.choices is not None:
        if value not in spec.choices:
            raise ValueError(f"{name}: {value!r} is not allowed; choose {spec.describe()}")
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name}: {value!r} is not a number; allowed {spec.describe()}")
    if not math.isfinite(value) or not spec.low <= value <= spec.high:
        raise ValueError(f"{name}: {value!r} is out of range; allowed {spec.describe()}")
    if _is_integer_field(name) and value != int(value):
        raise ValueError(f"{name}: {value!r} must be a whole number")


def coerce(name: str, value: Any) -> Any:
    """Convert a raw value (e.g. text from a URL or the command line) to the field's type.

    Raises ValueError naming the field when the text is not a number.
    """
    spec = FIELDS[name]
    if value is None or (spec.optional and isinstance(value, str)
                         and value.strip().lower() in ("", "none", "off")):
        return None
    if spec.choices is not None:
        return str(value).strip().lower() if isinstance(value, str) else value
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: {value!r} is not a number; allowed {spec.describe()}") from None
    if _is_integer_field(name) and math.isfinite(number) and number == int(number):
        return int(number)
    return number


def clamp(name: str, value: Any) -> Any:
    """The nearest allowed value (used to repair a bad link instead of refusing it)."""
    spec = FIELDS[name]
    if spec.choices is not None:
        return value if value in spec.choices else getattr(RunConfig(), name)
    if value is None:
        return None if spec.optional else getattr(RunConfig(), name)
    number = float(value)
    if not math.isfinite(number):
        return getattr(RunConfig(), name)
    number = min(max(number, spec.low), spec.high)
    return int(round(number)) if _is_integer_field(name) else number

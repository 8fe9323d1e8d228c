"""Comparisons of cells, and the *dependency sweep*: the grid of runs that trains each cell at a
list of sequence lengths or copy lags, and the result that reads where each one stops learning.

What is trained where is the server's business (``rnnviz.serve.many.train_many`` trains a grid
in worker processes); this module only builds the grid and reads the trained runs.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from rnnviz.core.config import FIELDS, RunConfig
from rnnviz.core.tasks import TASKS, chance_for
from rnnviz.core.train import Run

CELLS = ("rnn", "lstm", "gru")
SWEEP_PARAMS = ("seq_len", "lag")




@dataclass
class SweepResult:
    """Final validation metric of each cell at each length: the "where does it break" chart.

    ``metric[cell][k]`` belongs to ``lengths[k]`` (NaN if the run has no validation);
    ``chance[k]`` is the task's chance metric at that length.
    """

    param: str  # "seq_len" or "lag"
    lengths: list[int]
    cells: list[str]
    task: str
    metric_name: str
    higher_is_better: bool
    chance: list[float]
    metric: dict[str, list[float]]
    loss: dict[str, list[float]]
    stop_reasons: dict[str, list[str]]
    configs: dict[str, list[RunConfig]]
    elapsed_s: float = 0.0
    base: RunConfig | None = field(default=None, repr=False)

    @property
    def param_label(self) -> str:
        return "copy lag" if self.param == "lag" else "sequence length T"

    def breaking_point(self, cell: str, margin: float = 0.5) -> int | None:
        """The first length at which ``cell`` keeps less than ``margin`` of the way from chance
        to perfect (accuracy 1 / MSE 0); None if it never does."""
        for length, value, chance in zip(self.lengths, self.metric[cell], self.chance):
            if not math.isfinite(value):
                return length
            progress = (value - chance) / (1 - chance) if self.higher_is_better else \
                (chance - value) / chance if chance > 0 else 0.0
            if progress < margin:
                return length
        return None


def parse_lengths(text: str) -> list[int]:
    """``"5, 10 20"`` -> ``[5, 10, 20]`` (sorted, without repeats). ValueError in plain words."""
    words = [w for w in re.split(r"[,;\s]+", text.strip()) if w]
    if not words:
        raise ValueError("no lengths given: type whole numbers separated by commas, e.g. "
                         "5, 10, 20, 40")
    lengths = []
    for word in words:
        try:
            number = float(word)
        except ValueError:
            raise ValueError(f"“{word}” is not a number: type whole numbers separated by "
                             "commas, e.g. 5, 10, 20, 40") from None
        if not math.isfinite(number) or number != int(number):
            raise ValueError(f"“{word}” is not a whole number")
        lengths.append(int(number))
    return sorted(set(lengths))


def sweep_configs(base_cfg: RunConfig, cells: Iterable[str], lengths: Iterable[int],
                  param: str = "seq_len") -> dict[str, list[RunConfig]]:
    """The grid of a sweep, ``{cell: [config per length]}`` (lengths ascending, without
    repeats); ValueError in plain words when a choice cannot be trained (no cells, a length
    out of range, a lag not below the length)."""
    cells, lengths = list(dict.fromkeys(cells)), sorted(set(int(n) for n in lengths))
    if not cells:
        raise ValueError("choose at least one cell")
    unknown = [c for c in cells if c not in CELLS]
    if unknown:
        raise ValueError(f"unknown cell {unknown[0]!r}; choose from {', '.join(CELLS)}")
    if param not in SWEEP_PARAMS:
        raise ValueError(f"the sweep varies seq_len or lag, not {param!r}")
    if param == "lag" and base_cfg.task != "copy":
        raise ValueError("the copy lag only exists in the copy task; sweep the sequence "
                         "length instead, or choose the copy task")
    if not lengths:
        raise ValueError("give at least one length")
    spec = FIELDS[param]
    for length in lengths:
        if not spec.low <= length <= spec.high:
            raise ValueError(f"{spec.label.lower()} {length} is out of range: allowed "
                             f"{spec.describe()}")
        if param == "lag" and length >= base_cfg.seq_len:
            raise ValueError(f"a copy lag of {length} needs sequences longer than {length} "
                             f"steps, but the sequence length is {base_cfg.seq_len}: raise the "
                             "sequence length or drop that lag")
        if param == "seq_len" and base_cfg.task == "copy" and base_cfg.lag >= length:
            raise ValueError(f"the copy lag is {base_cfg.lag}, so every sequence length must "
                             f"be larger than {base_cfg.lag} (got {length})")
    return {cell: [base_cfg.replace(cell=cell, **{param: length}) for length in lengths]
            for cell in cells}


def _final_validation(run: Run) -> tuple[float, float]:
    """(metric, loss) on the validation set of the weights the run ended with (an early-stopped
    run's best, an exploded run's rollback); NaN without a validation."""
    kept = run.history.kept_validation()
    if kept is None:
        return float("nan"), float("nan")
    return float(kept[1]), float(kept[0])


def collect_sweep(base_cfg: RunConfig, grid: dict[str, list[RunConfig]], param: str,
                  runs: list[Run], elapsed_s: float = 0.0) -> SweepResult:
    """The SweepResult of a trained grid: ``runs`` in ``grid``'s order, cell by cell, length by
    length (as ``sweep_configs`` made it), each read at its final validation."""
    lengths = [getattr(c, param) for c in next(iter(grid.values()))]
    task = TASKS[base_cfg.task]
    result = SweepResult(
        param=param, lengths=lengths, cells=list(grid), task=base_cfg.task,
        metric_name=task.metric_name, higher_is_better=task.higher_is_better,
        chance=[chance_for(c).metric for c in grid[next(iter(grid))]],
        metric={}, loss={}, stop_reasons={}, configs=grid, elapsed_s=elapsed_s, base=base_cfg)
    for position, cell in enumerate(grid):
        cell_runs = runs[position * len(lengths): (position + 1) * len(lengths)]
        finals = [_final_validation(r) for r in cell_runs]
        result.metric[cell] = [m for m, _ in finals]
        result.loss[cell] = [loss for _, loss in finals]
        result.stop_reasons[cell] = [r.history.stop_reason for r in cell_runs]
    return result

"""Your own data: a CSV time series becomes a forecasting task.

``read_series(bytes, name)`` (``rnnviz.core.csvread``) reads and checks an untrusted file and
returns a ``Dataset`` (``rnnviz.core.dataset``); anything it cannot use raises ``CsvError`` (a
``ValueError``) whose message says what to fix. ``CsvTask`` makes a dataset a task named
``"csv:" + 12 hex digits of a hash of the data`` (see ``rnnviz.core.config.DATA_TASK``); the
server's registry (``rnnviz.serve.uploads``) adds it to ``TASKS``, so every other part of the
engine (training, traces, run files) handles it like a built-in task. This module also
re-exports the names of those two, the one place the rest of rnnviz imports them from; the
readers (which need pandas) are imported on first use, so that importing the run store, as
every server and worker does, does not load pandas.

The task (many-to-many regression, like the sine task)::

    series   z [rows, C]    every numeric column, z-scored with the mean and standard deviation
                            of the training part only (the model must not peek at the future)
    split    the first 80% of the rows train, the last 20% validate (``VALIDATION_SHARE``)
    windows  seq_len + 1 consecutive rows drawn inside one part
    x        [batch, seq_len, C]   rows t .. t+T-1
    y        [batch, seq_len, C]   rows t+1 .. t+T: the next value of every column
    metric   MSE in z units; chance is the best constant on the run's validation windows
             (their mean; ``rnnviz.core.tasks.chance_for``)
"""

from __future__ import annotations

import numpy as np
import torch

from rnnviz.core.dataset import (
    MAX_COLUMNS,
    MAX_CSV_BYTES,
    MAX_FIELDS,
    MAX_ROWS,
    MIN_ROWS,
    VALIDATION_SHARE,
    CsvError,
    Dataset,
    data_hash,
    dataset_from_meta,
    make_dataset,
)
from rnnviz.core.tasks import Chance, Task

__all__ = ["MAX_COLUMNS", "MAX_CSV_BYTES", "MAX_FIELDS", "MAX_ROWS", "MIN_ROWS",
           "VALIDATION_SHARE", "CsvError", "CsvTask", "FORECAST_SETTINGS", "forecast_settings",
           "Dataset", "data_hash", "dataset_from_meta",
           "make_dataset"]  # and, on first use, load_csv_file, parse_csv, read_series


_READERS = ("load_csv_file", "parse_csv", "read_series")


def __getattr__(name: str):
    if name in _READERS:
        from rnnviz.core import csvread
        return getattr(csvread, name)
    raise AttributeError(f"module 'rnnviz.core.csvdata' has no attribute {name!r}")


# ---------------------------------------------------------------- the settings it trains with

# What a series trains with unless the learner changes it: a one-layer network of 32 units on
# windows of 32 rows, Adam at 0.01 with clipping, fresh windows every step, 400 steps (about
# 2 s on one core). Without it a series took over whatever the form held, and the overfitting
# lesson's (16 training examples) scored 0.888 against chance 0.637 (issue 20). Measured on both
# shipped examples, seeds 0-4, every cell: validation MSE 0.06 (temperature) and 0.01 (hares
# and lynx) against chance near 1 and repeating the last value 0.066 and 0.138
# (tests/test_csv_preset.py trains it). The cell and the seed stay the learner's.
FORECAST_SETTINGS = dict(seq_len=32, hidden_size=32, num_layers=1, dropout=0.0,
                         train_size=None, init="default", recurrent_scale=None,
                         optimizer="adam", lr=0.01, batch_size=64, steps=400, clip=1.0,
                         weight_decay=0.0, early_stopping=None, eval_every=50, probe_every=50)


def forecast_settings(dataset: Dataset) -> dict:
    """``FORECAST_SETTINGS`` for ``dataset``: its windows no longer than the data allows."""
    return {**FORECAST_SETTINGS,
            "seq_len": max(2, min(FORECAST_SETTINGS["seq_len"], dataset.max_seq_len))}


# ---------------------------------------------------------------- the task


class CsvTask(Task):
    """Forecast the next row of a user's series at every step (see the module docstring)."""

    many_to_one = False
    classification = False
    metric_name = "MSE"

    def __init__(self, dataset: Dataset):
        self.dataset = dataset
        self.name = dataset.name
        self.title = f"Your data: {', '.join(dataset.columns)}"
        self.mean, self.std = dataset.mean, dataset.std
        z = (dataset.values - self.mean) / self.std
        self.series = torch.tensor(z, dtype=torch.float32)
        split = dataset.split
        val = z[split:]
        self.chance_mse = float((val[1:] ** 2).mean())
        self.persistence_mse = float(((val[1:] - val[:-1]) ** 2).mean())
        self.description = (
            f"Your series ({dataset.rows:,} rows, columns {', '.join(dataset.columns)}"
            f"{', from ' + dataset.source if dataset.source else ''}). At every time step the "
            "network sees the current value of every column and must predict the next one: a "
            "many-to-many regression, like the sine task. Each column is z-scored with the mean "
            "and standard deviation of the training part; the first "
            f"{1 - VALIDATION_SHARE:.0%} of the rows ({split:,}) train, the last "
            f"{VALIDATION_SHARE:.0%} ({dataset.rows - split:,}) validate, so the score measures "
            "forecasting the future, not remembering the past. Chance is the best constant "
            "forecast on the validation windows (their mean); the training mean, 0 after "
            f"z-scoring, scores MSE {self.chance_mse:.3f} over the validation part. Simply "
            "repeating the last value "
            "scores "
            f"{self.persistence_mse:.3f}, a bar a useful model should also clear.")

    def input_size(self) -> int:
        return len(self.dataset.columns)

    def output_size(self) -> int:
        return len(self.dataset.columns)

    def part(self, split: str) -> torch.Tensor:
        cut = self.dataset.split
        return self.series[:cut] if split == "train" else self.series[cut:]

    def sample(self, batch, seq_len, generator, *, split="train", **_):
        part = self.part(split)
        if seq_len > self.dataset.max_seq_len:
            raise ValueError(f"seq_len: at most {self.dataset.max_seq_len} for this data "
                             f"({self.dataset.rows} rows, of which the last "
                             f"{self.dataset.rows - self.dataset.split} validate)")
        starts = torch.randint(0, len(part) - seq_len, (batch,), generator=generator)
        windows = part[starts[:, None] + torch.arange(seq_len + 1)]
        return windows[:, :-1].clone(), windows[:, 1:].clone()

    def chance(self, seq_len, **params):
        """Over the whole validation part, always predicting the training mean (0 after
        z-scoring); ``chance_for`` gives the best constant on a run's validation set, the
        validation windows' own mean, which is what a run is compared with."""
        return Chance(loss=self.chance_mse, metric=self.chance_mse,
                      how=f"the training mean, 0 after z-scoring, scores {self.chance_mse:.3f} "
                          "over the whole validation part")

    def to_units(self, values: np.ndarray) -> np.ndarray:
        """z-scored ``[..., C]`` back to the file's units."""
        return np.asarray(values) * self.std + self.mean

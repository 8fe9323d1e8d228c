"""How well a digits run classifies: its confusion matrix on the test split, and precision and
recall per digit.

Accuracy alone hides which digits are confused with which ("five" and "nine" share a vowel) and
whether a digit is missed (low recall) or a favourite wrong answer (low precision). Precision of
digit d: of the recordings the model called d, the share that were d (column d of the matrix).
Recall: of the recordings of d, the share the model called d (row d). A digit never predicted
has no precision (NaN, not 0: nothing was claimed), a digit absent from the test set no recall.
"""

from __future__ import annotations

import numpy as np
import torch

from rnnviz.core.hear import DIGIT_TASKS
from rnnviz.core.tasks import validation_set


def confusion(run) -> np.ndarray:
    """``[10, 10]`` counts on the run's test split (its validation set, every recording):
    row = digit said, column = digit predicted. Cached on the run."""
    if run.config.task not in DIGIT_TASKS:
        raise ValueError(f"a confusion matrix of digits needs a digits run, not {run.config.task}")
    key = ("digits_confusion",)
    if key not in run.cache:
        x, y = validation_set(run.config)
        model = run.model
        was_training = model.training
        model.eval()
        with torch.no_grad():
            predicted = model(x.to(next(model.parameters()).device)).argmax(dim=-1).cpu()
        model.train(was_training)
        run.cache[key] = confusion_matrix(y[:, 0].long().numpy(), predicted.numpy())
    return run.cache[key]


def confusion_matrix(said: np.ndarray, predicted: np.ndarray, classes: int = 10) -> np.ndarray:
    matrix = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(matrix, (np.asarray(said), np.asarray(predicted)), 1)
    return matrix


def precision_recall(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-class precision (diagonal over column sums) and recall (diagonal over row sums);
    NaN where the class was never predicted or never said."""
    matrix = np.asarray(matrix, dtype=np.float64)
    right = np.diag(matrix)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(matrix.sum(axis=0) > 0, right / matrix.sum(axis=0), np.nan)
        recall = np.where(matrix.sum(axis=1) > 0, right / matrix.sum(axis=1), np.nan)
    return precision, recall

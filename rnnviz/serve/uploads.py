"""The uploaded-data registry: data sets live in the server's memory, shared by every session
(identical uploads share one entry), each as a ``CsvTask`` in ``TASKS`` while it is here.

A session that uses one holds a ``Pin``; the registry forgets the least recently used unpinned
data sets beyond ``max_datasets()`` (``RNNVIZ_MAX_DATASETS``, default 32).
"""

from __future__ import annotations

import os
import threading
import weakref
from collections import OrderedDict

from rnnviz.core.config import DATA_TASK, is_data_task
from rnnviz.core.csvdata import CsvTask, Dataset
from rnnviz.core.tasks import TASKS

DEFAULT_MAX_DATASETS = 32


def max_datasets() -> int:
    """Unpinned data sets kept in memory (``RNNVIZ_MAX_DATASETS``, default 32)."""
    try:
        return max(1, int(os.environ.get("RNNVIZ_MAX_DATASETS", DEFAULT_MAX_DATASETS)))
    except ValueError:
        return DEFAULT_MAX_DATASETS


class Pin:
    """Held by a session while it uses a data set; the registry keeps pinned data sets."""

    def __init__(self, name: str):
        self.name = name


_lock = threading.Lock()
_recent: OrderedDict[str, CsvTask] = OrderedDict()  # least recently used first
_pins: dict[str, weakref.WeakSet] = {}


def register(dataset: Dataset) -> CsvTask:
    """Make ``dataset`` a task in ``TASKS`` (or refresh the one already there) and return it."""
    with _lock:
        task = _recent.get(dataset.name)
        if task is None:
            task = CsvTask(dataset)
            _recent[dataset.name] = task
            TASKS[dataset.name] = task
        _recent.move_to_end(dataset.name)
        _evict(keep=dataset.name)
    return task


def register_series(dataset: Dataset) -> str:
    """The task name to train ``dataset`` on, ``RunConfig(task=register_series(dataset))``: the
    data set joins the registry like an upload (unpinned: it stays while it is among the
    ``max_datasets()`` most recently used). Public as ``rnnviz.register_series``."""
    return register(dataset).name


def pin(dataset: Dataset) -> Pin:
    """Register ``dataset`` and return a Pin: while the Pin lives, the data set stays."""
    task = register(dataset)
    token = Pin(task.name)
    with _lock:
        _pins.setdefault(task.name, weakref.WeakSet()).add(token)
    return token


def registered(name: str) -> bool:
    return is_data_task(name) and name in _recent


def _evict(keep: str) -> None:
    unpinned = [name for name in _recent if name != keep and not _pins.get(name)]
    for name in unpinned[: max(0, len(unpinned) + 1 - max_datasets())]:
        del _recent[name]
        TASKS.pop(name, None)
        _pins.pop(name, None)


def datasets_in_memory() -> int:
    return len(_recent)


def task_for(name: str) -> CsvTask:
    """The registered task ``name``, or a ValueError saying the data must be uploaded again."""
    if not DATA_TASK.fullmatch(name or ""):
        raise ValueError(f"{name!r} is not a data task name")
    task = _recent.get(name)
    if task is None:
        raise ValueError(f"the data set {name} is not on this server any more; upload the CSV "
                         "file again")
    return task

"""A log folder of recordings (``rnnviz app --logdir runs/``): list them, open one, follow it.

``rnnviz.record(..., to="runs/my-lstm")`` writes one folder per run; the app is pointed at the
folder above them, as ``tensorboard --logdir`` is. This module is all the app reads of it, and
it reads nothing else:

* only the log folder's **direct children** are runs; nothing deeper is looked at;
* a child's name must be a plain name (letters, digits, ``. _ -``, not starting with a dot,
  at most 100 characters): no ``..``, no ``/``, nothing hidden;
* a symbolic link is never followed (a child that is a link is skipped; a file inside a run
  that is a link is refused by ``rnnviz.core.recorded``);
* a run that does not open gets its message in the list (``RunEntry.error``), never an
  exception that would take the page down.

``list_runs`` reads two small JSON files per run (cheap enough to poll every second);
``LogDir.open`` loads a run and keeps it until its ``index.json`` changes, so a page that
follows a run being written reloads it only when the writer has written something new.
"""

from __future__ import annotations

import re
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from rnnviz.core.record import INDEX_FILE, RUN_FILE
from rnnviz.core.recorded import RecordedRun, load_recording, read_index, read_run_file

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
MAX_RUNS = 500  # children listed at most (a page lists them; a bigger folder is cut)
LIVE_S = 30.0  # a run whose writer wrote within this many seconds counts as being written
OPEN_RUNS = 8  # loaded runs kept by a LogDir


@dataclass(frozen=True)
class RunEntry:
    """One run of the log folder, as a list shows it."""

    name: str
    path: Path
    steps: int = 0  # the last step the loop reported
    snapshots: int = 0
    status: str = ""  # "recording" | "closed" | "" (unreadable)
    updated: float = 0.0  # when the writer last wrote (time.time())
    live: bool = False  # still being written: not closed, written within LIVE_S
    error: str = ""  # why it does not open ("" when it does)


def check_logdir(logdir) -> Path:
    """The log folder as a Path; ValueError saying what to fix when it is not a folder."""
    path = Path(logdir)
    if not path.exists():
        raise ValueError(f"--logdir {logdir}: no such folder. Record a run into it first "
                         "(rnnviz.record(..., to='runs/my-run')) or give the folder that holds "
                         "your recorded runs")
    if not path.is_dir():
        raise ValueError(f"--logdir {logdir}: is a file; give the folder that holds the "
                         "recorded run folders")
    return path


def _child(logdir: Path, name: str) -> Path:
    if not isinstance(name, str) or not NAME.fullmatch(name) or ".." in name:
        raise ValueError(f"{str(name)[:60]!r} is not a run name in the log folder (letters, "
                         "digits, '.', '_' and '-' only)")
    path = logdir / name
    if path.is_symlink() or not path.is_dir():
        raise ValueError(f"{name!r}: no recorded run of that name in {logdir}")
    return path


def entry(logdir: Path, name: str, now: float | None = None) -> RunEntry:
    """What the list shows of the run ``name``, from its ``run.json`` and ``index.json``."""
    path = _child(logdir, name)
    now = time.time() if now is None else now
    try:
        read_run_file(path)
        index = read_index(path)
    except ValueError as err:
        return RunEntry(name, path, error=str(err))
    live = index["status"] == "recording" and now - index["updated"] <= LIVE_S
    return RunEntry(name, path, index["last_step"], len(index["steps"]), index["status"],
                    index["updated"], live)


def list_runs(logdir) -> list[RunEntry]:
    """The recorded runs directly in ``logdir``, newest first (sorted by the writer's last
    write). A child folder without ``run.json`` is not a run and is left out; one with it
    that does not read is listed with its error."""
    folder = check_logdir(logdir)
    now = time.time()
    entries = []
    for child in sorted(folder.iterdir(), key=lambda p: p.name)[: 4 * MAX_RUNS]:
        if not NAME.fullmatch(child.name) or child.is_symlink() or not child.is_dir():
            continue
        if not (child / RUN_FILE).exists() and not (child / INDEX_FILE).exists():
            continue
        entries.append(entry(folder, child.name, now))
        if len(entries) == MAX_RUNS:
            break
    return sorted(entries, key=lambda e: (-e.updated, e.name))


class LogDir:
    """The app's view of one log folder: ``runs()`` to list, ``open(name)`` to load a run
    (kept until its writer writes again; at most ``OPEN_RUNS``, least recently used out)."""

    def __init__(self, logdir):
        self.path = check_logdir(logdir)
        self._open: OrderedDict[str, tuple[tuple, RecordedRun]] = OrderedDict()
        self._lock = threading.Lock()

    def runs(self) -> list[RunEntry]:
        return list_runs(self.path)

    def open(self, name: str) -> RecordedRun:
        """The run ``name`` as a ``RecordedRun``; ValueError with what is wrong."""
        path = _child(self.path, name)
        try:
            stat = (path / INDEX_FILE).stat()
            version = (stat.st_ino, stat.st_mtime_ns, stat.st_size)  # a rename: a new inode
        except OSError:
            version = None
        with self._lock:
            kept = self._open.get(name)
            if kept is not None and version is not None and kept[0] == version:
                self._open.move_to_end(name)
                return kept[1]
        run = load_recording(path)
        with self._lock:
            self._open[name] = (version, run)
            self._open.move_to_end(name)
            while len(self._open) > OPEN_RUNS:
                self._open.popitem(last=False)
        return run

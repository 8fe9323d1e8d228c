"""Runs kept on disk: the runs folder the app looks in before training, and safe loading of run
files from anywhere (uploads included). ``rnnviz.serve.pretrain`` fills the folder before a class.

The runs folder is ``RNNVIZ_RUNS_DIR`` (default ``./runs``; ``/data/runs`` in the container).
A run's file name is readable and unique for its config::

    lstm-adding-T20-<first 16 hex digits of sha256(cfg.key)>.rnnviz

Files in the folder are trusted no more than uploads: each goes through ``load_run_bytes`` and
must carry exactly the config it is looked up for.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from rnnviz.core import csvdata
from rnnviz.core.config import RunConfig, is_data_task
from rnnviz.core.runs import MAX_RUN_BYTES, SUFFIX, _header_metadata, run_from_bytes, run_to_bytes
from rnnviz.core.train import Run
from rnnviz.serve import uploads

RUNS_DIR_ENV = "RNNVIZ_RUNS_DIR"
DEFAULT_RUNS_DIR = "runs"
log = logging.getLogger(__name__)


# ---------------------------------------------------------------- run files


def file_stem(cfg: RunConfig) -> str:
    """``lstm-adding-T20``: what a person sees in a file name (no ``:`` for Windows)."""
    return f"{cfg.cell}-{cfg.task.replace(':', '-')}-T{cfg.seq_len}"


def download_name(cfg: RunConfig) -> str:
    return file_stem(cfg) + SUFFIX


def run_file_bytes(run: Run) -> bytes:
    """``run_to_bytes`` plus, for a run on uploaded data, the data set itself (in the file's
    metadata), so that the file opens on any server."""
    if not is_data_task(run.config.task):
        return run_to_bytes(run)
    dataset = uploads.task_for(run.config.task).dataset
    return run_to_bytes(dataclasses.replace(run, meta={**run.meta,
                                                       "dataset": dataset.to_meta()}))


def load_run_bytes(data: bytes) -> Run:
    """Open an untrusted run file: ``run_from_bytes`` (which checks weights, history shapes and
    counters) plus the data set that a run trained on an uploaded CSV carries with it. Anything
    wrong is a ValueError with a plain message; nothing else escapes."""
    metadata = _header_metadata(data)  # ValueError: not a run file
    try:
        task = json.loads(metadata.get("config", "{}")).get("task")
    except (json.JSONDecodeError, AttributeError, TypeError):
        task = None  # run_from_bytes says what is wrong with the config
    if is_data_task(task):
        try:
            meta = json.loads(metadata.get("meta", "{}"))
            stored = meta["dataset"]
        except (json.JSONDecodeError, KeyError, TypeError):
            raise ValueError("the run was trained on uploaded data, but the file does not "
                             "contain that data set") from None
        try:
            uploads.register(csvdata.dataset_from_meta(stored, task))
        except csvdata.CsvError as err:
            raise ValueError(f"the run's data set is invalid: {err}") from None
    try:
        run = run_from_bytes(data)
    except ValueError:
        raise
    except Exception as err:  # a hostile file must not reach the user as a traceback
        raise ValueError(f"the file is not a valid run ({type(err).__name__}: {err})") from None
    run.meta.pop("dataset", None)  # it lives in the registry now, not twice in memory
    return run


# ---------------------------------------------------------------- the runs folder


@dataclass(frozen=True)
class StoredRun:
    """One file of the runs folder, read from its header only."""

    path: Path
    config: RunConfig | None
    steps_done: int | None
    stop_reason: str
    error: str = ""  # why the file is unusable ("" when it is fine)


class RunStore:
    """The runs folder: ``path_for(cfg)``, ``save(run)``, ``load(cfg)``, ``list()``."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    @classmethod
    def from_env(cls) -> RunStore:
        return cls(os.environ.get(RUNS_DIR_ENV) or DEFAULT_RUNS_DIR)

    def path_for(self, cfg: RunConfig) -> Path:
        digest = hashlib.sha256(cfg.key.encode("utf-8")).hexdigest()[:16]
        return self.root / f"{file_stem(cfg)}-{digest}{SUFFIX}"

    def save(self, run: Run) -> Path:
        """Write atomically (a reader never sees half a file)."""
        path = self.path_for(run.config)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
        partial.write_bytes(run_file_bytes(run))
        os.replace(partial, path)
        return path

    def load(self, cfg: RunConfig) -> Run | None:
        """The stored run of exactly ``cfg``, or None (no file, or a file that is damaged or
        belongs to another config: logged, never raised, so a bad file only costs a retrain)."""
        path = self.path_for(cfg)
        try:
            if not path.is_file():
                return None
            if path.stat().st_size > MAX_RUN_BYTES:
                raise ValueError(f"larger than {MAX_RUN_BYTES / 1e6:.0f} MB")
            run = load_run_bytes(path.read_bytes())
        except (OSError, ValueError) as err:
            log.warning("ignoring %s: %s", path, err)
            return None
        if run.config.key != cfg.key:
            log.warning("ignoring %s: it holds a different config", path)
            return None
        run.meta["source"] = "runs folder"
        return run

    def list(self) -> list[StoredRun]:
        found = []
        for path in sorted(self.root.glob(f"*{SUFFIX}")):
            try:
                if path.stat().st_size > MAX_RUN_BYTES:
                    raise ValueError(f"larger than {MAX_RUN_BYTES / 1e6:.0f} MB")
                with path.open("rb") as handle:
                    head = handle.read(8)
                    length = int.from_bytes(head, "little") if len(head) == 8 else 0
                    metadata = _header_metadata(head + handle.read(min(length, 10_000_000)))
                config = RunConfig.from_dict(json.loads(metadata["config"]))
                counters = json.loads(metadata["history"])
                found.append(StoredRun(path, config, int(counters["steps_done"]),
                                       str(counters["stop_reason"])))
            except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
                found.append(StoredRun(path, None, None, "", error=str(err)))
        return found

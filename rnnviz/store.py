"""Runs kept on disk: the runs folder the app looks in before training, safe loading of run files
from anywhere (uploads included), and the ``pretrain`` command that fills the folder before a
class so that its lessons open instantly.

The runs folder is ``RNNVIZ_RUNS_DIR`` (default ``./runs``; ``/data/runs`` in the container).
A run's file name is readable and unique for its config::

    lstm-adding-T20-<first 16 hex digits of sha256(cfg.key)>.rnnviz

Files in the folder are trusted no more than uploads: each goes through ``load_run_bytes`` and
must carry exactly the config it is looked up for.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import logging
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path


from . import csvdata
from .config import RunConfig, is_data_task
from .lessons import lesson_configs
from .runs import MAX_RUN_BYTES, SUFFIX, _header_metadata, run_from_bytes, run_to_bytes
from .tasks import ASSETS, TASKS
from .train import Run, train

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
    dataset = csvdata.task_for(run.config.task).dataset
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
            csvdata.register(csvdata.dataset_from_meta(stored, task))
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
    def from_env(cls) -> "RunStore":
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


# ---------------------------------------------------------------- pretrain command

PRESETS: dict[str, list[dict]] = {
    "default": [{}],
    "cells": [{"cell": cell} for cell in ("rnn", "lstm", "gru")],
    "tasks": [{"task": task} for task in ("sine", "adding", "copy", "parity", "text")],
    "examples": [{"data": str(ASSETS / "daily_temperature.csv"), "cell": "gru", "seq_len": 30},
                 {"data": str(ASSETS / "predator_prey.csv"), "cell": "gru", "seq_len": 30}],
}
# every lesson's runs and the Forecasting/Text pages' models: a class opens them instantly
PRESETS["lessons"] = [cfg.to_dict() for cfg in lesson_configs(applications=True)]
PRESETS["all"] = [entry for name in ("default", "cells", "tasks", "examples", "lessons")
                  for entry in PRESETS[name]]


def config_from_entry(entry, where: str, base: Path) -> RunConfig:
    """A RunConfig from one entry of a config file or preset. ``"data": "file.csv"`` (relative
    to the config file) trains on that CSV."""
    if not isinstance(entry, dict):
        raise ValueError(f"{where}: expected an object of config fields, got {entry!r:.60}")
    values = dict(entry)
    data = values.pop("data", None)
    if data is not None:
        if not isinstance(data, str):
            raise ValueError(f"{where}: \"data\" must be the path of a CSV file")
        dataset = csvdata.load_csv_file(base / data)
        csvdata.register(dataset)
        values["task"] = dataset.name
    elif is_data_task(values.get("task")):
        raise ValueError(f"{where}: task {values['task']} names uploaded data, which a config "
                         'file cannot carry; give the CSV instead: "data": "file.csv"')
    try:
        return RunConfig.from_dict(values)
    except ValueError as err:
        raise ValueError(f"{where}: {err}") from None


def read_config_file(path: str | Path) -> list[RunConfig]:
    """A JSON list of config objects (or ``{"runs": [...]}``); every entry is checked before
    anything trains."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ValueError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ValueError(f"{path}: cannot be read as UTF-8 text ({err})") from None
    try:
        content = json.loads(text)
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: not valid JSON (line {err.lineno}, column {err.colno}: "
                         f"{err.msg})") from None
    if isinstance(content, dict) and set(content) == {"runs"}:
        content = content["runs"]
    if not isinstance(content, list) or not content:
        raise ValueError(f"{path}: expected a non-empty JSON list of config objects, e.g. "
                         '[{"cell": "gru", "task": "copy", "lag": 10}]')
    return [config_from_entry(entry, f"{path}: run {i + 1}", path.parent)
            for i, entry in enumerate(content)]


def add_pretrain_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--preset", action="append", choices=sorted(PRESETS), default=[],
                        help="a built-in list of runs (repeatable): default = the app's default "
                             "config; cells = rnn, lstm, gru on the adding problem; tasks = "
                             "every task with the default LSTM; examples = the example CSVs; "
                             "lessons = every lesson's runs; all = everything")
    parser.add_argument("--config-file", action="append", default=[], metavar="FILE",
                        help='JSON list of configs (fields as in `train`, plus "data": "x.csv" '
                             "for a CSV series); repeatable")
    parser.add_argument("--runs-dir", default=None,
                        help=f"folder to write to (default: ${RUNS_DIR_ENV} or ./{DEFAULT_RUNS_DIR})")
    parser.add_argument("--force", action="store_true",
                        help="train again even when the folder already has the run")
    parser.add_argument("--list", action="store_true", help="list the folder's runs and exit")
    return parser


def _describe(cfg: RunConfig) -> str:
    task = TASKS[cfg.task].title if cfg.task in TASKS else cfg.task
    return f"{cfg.cell} · {task} · T={cfg.seq_len} · {cfg.steps} steps · seed {cfg.seed}"


def command_pretrain(args: argparse.Namespace) -> int:
    """Train every config of the presets and config files into the runs folder (skipping runs
    already there unless --force); print one line per run. Bad input raises ValueError."""
    store = RunStore(args.runs_dir) if args.runs_dir else RunStore.from_env()
    if args.list:
        entries = store.list()
        for entry in entries:
            what = _describe(entry.config) if entry.config else f"UNUSABLE: {entry.error}"
            print(f"{entry.path.name}  {what}")
        print(f"{len(entries)} file(s) in {store.root}")
        return 0
    if not args.preset and not args.config_file:
        raise ValueError("pretrain: give --preset NAME or --config-file FILE (or --list)")
    configs = [config_from_entry(entry, f"preset {name}: run {i + 1}", Path.cwd())
               for name in args.preset for i, entry in enumerate(PRESETS[name])]
    for path in args.config_file:
        configs += read_config_file(path)
    unique = list({cfg.key: cfg for cfg in configs}.values())
    print(f"{len(unique)} run(s) for {store.root}")
    trained = skipped = 0
    for index, cfg in enumerate(unique, 1):
        path = store.path_for(cfg)
        prefix = f"[{index}/{len(unique)}] {_describe(cfg)}"
        if path.is_file() and not args.force and store.load(cfg) is not None:
            print(f"{prefix}: already there ({path.name})")
            skipped += 1
            continue
        started = time.perf_counter()
        run = train(cfg)
        summary = run.summary()
        try:
            store.save(run)
        except OSError as err:
            raise ValueError(f"cannot write to the runs folder {store.root}: "
                             f"{err.strerror or err}") from None
        trained += 1
        score = summary["val_metric"]
        score = "–" if score is None else f"{score:.4g}"
        print(f"{prefix}: {time.perf_counter() - started:.1f} s, validation "
              f"{summary['metric_name']} {score}, {summary['stop_reason']} -> {path.name}")
    print(f"trained {trained}, already there {skipped}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m rnnviz.store pretrain ...`` until ``python -m rnnviz pretrain`` is wired."""
    parser = argparse.ArgumentParser(prog="python -m rnnviz.store")
    commands = parser.add_subparsers(dest="command", required=True)
    add_pretrain_arguments(commands.add_parser("pretrain", help=command_pretrain.__doc__))
    args = parser.parse_args(argv)
    try:
        return command_pretrain(args)
    except ValueError as err:
        sys.stderr.write(f"rnnviz: error: {err}\n")
        return 2


if __name__ == "__main__":
    sys.exit(main())

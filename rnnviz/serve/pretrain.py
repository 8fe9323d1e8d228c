"""``rnnviz pretrain``: train runs into the runs folder before a class, so that its lessons open
instantly. Runs come from built-in presets (``PRESETS``) and JSON config files; every entry is
checked before anything trains, and bad input is a ValueError that says what to fix. In shared
mode (``RNNVIZ_REDIS_URL`` set) every run is written to the shared store too, so every server
opens it, and a run already there is not trained again.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from rnnviz.core import csvdata
from rnnviz.core.config import RunConfig, is_data_task
from rnnviz.core.tasks import ASSETS, TASKS
from rnnviz.core.train import train
from rnnviz.serve import redis_store, shared, uploads
from rnnviz.serve.store import DEFAULT_RUNS_DIR, RUNS_DIR_ENV, RunStore
from rnnviz.studies.lessons import lesson_configs

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
        uploads.register(dataset)
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
                        help=f"folder to write to (default: ${RUNS_DIR_ENV} or "
                             f"./{DEFAULT_RUNS_DIR})")
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
    shared_runs = redis_store.from_env()
    also = f" and the shared store at {shared.where(shared_runs.client)}" if shared_runs else ""
    print(f"{len(unique)} run(s) for {store.root}{also}")
    trained = skipped = 0
    for index, cfg in enumerate(unique, 1):
        path = store.path_for(cfg)
        prefix = f"[{index}/{len(unique)}] {_describe(cfg)}"
        if not args.force and _already_there(store, shared_runs, cfg):
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
        _save_shared(shared_runs, run)
        trained += 1
        score = summary["val_metric"]
        score = "–" if score is None else f"{score:.4g}"
        print(f"{prefix}: {time.perf_counter() - started:.1f} s, validation "
              f"{summary['metric_name']} {score}, {summary['stop_reason']} -> {path.name}")
    print(f"trained {trained}, already there {skipped}")
    return 0


def _already_there(store: RunStore, shared_runs, cfg: RunConfig) -> bool:
    """In the folder, and in the shared store when there is one (a run missing from either is
    trained, or copied from the folder into the shared store)."""
    in_folder = store.path_for(cfg).is_file() and store.load(cfg) is not None
    if shared_runs is None or not in_folder:
        return in_folder
    try:
        if not shared_runs.has(cfg):
            shared_runs.save(store.load(cfg))
    except shared.UNREACHABLE as err:
        raise ValueError(f"cannot reach the shared store ({err})") from None
    return True


def _save_shared(shared_runs, run) -> None:
    if shared_runs is None:
        return
    try:
        shared_runs.save(run)
    except shared.UNREACHABLE as err:
        raise ValueError(f"cannot write to the shared store ({err})") from None

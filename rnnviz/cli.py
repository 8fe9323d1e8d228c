"""rnnviz: train small recurrent networks and look inside them.

The command line: ``rnnviz train ...``, ``bench``, ``pretrain``, ``lessons``, ``claims`` (every
claim on several seeds and both kernel sets, ``rnnviz.measure.robustness``) and ``worker`` (a
training worker of shared mode, ``rnnviz.serve.worker``); ``app`` starts the web app from an
installed package (``--logdir runs/``: the runs a loop recorded, ``rnnviz.app.launch``); the
same as ``python -m rnnviz ...``.

Flags of ``train`` are generated from the config table (``--seq-len``, ``--cell`` ...), so the
command line accepts exactly what the app accepts. Bad arguments exit with status 2 and one line.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time

import torch

from rnnviz.app.launch import add_app_arguments, command_app
from rnnviz.core.config import FIELDS, RunConfig, coerce
from rnnviz.core.models import build_model
from rnnviz.core.runs import save_run
from rnnviz.core.tasks import TASKS
from rnnviz.core.train import BatchStream, Run, make_optimizer, single_thread, train
from rnnviz.measure import robustness
from rnnviz.serve.jobs import JobRegistry
from rnnviz.serve.pretrain import add_pretrain_arguments, command_pretrain
from rnnviz.serve.store import RunStore
from rnnviz.serve.worker import add_worker_arguments, command_worker
from rnnviz.studies.claims import CLAIMS
from rnnviz.studies.lessons import LESSONS, train_lesson


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, no usage dump, exit status 2
        self.exit(2, f"rnnviz: error: {message}\n")


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="rnnviz", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    train_cmd = commands.add_parser("train", help="train one model and print a summary")
    defaults = RunConfig()
    for name, spec in FIELDS.items():
        kwargs = {"help": f"{spec.help} Allowed: {spec.describe()}. "
                          f"Default: {getattr(defaults, name)}."}
        if spec.choices is not None:
            kwargs["choices"] = spec.choices
        train_cmd.add_argument(_flag(name), dest=name, default=None, **kwargs)
    train_cmd.add_argument("--json", action="store_true", help="print one JSON object")
    train_cmd.add_argument("--out", help="save the run to this file (.rnnviz)")
    add_pretrain_arguments(commands.add_parser(
        "pretrain", help="train runs into the runs folder so a class opens them instantly"))
    bench_cmd = commands.add_parser("bench", help="engine vs bare PyTorch training throughput")
    bench_cmd.add_argument("--steps", type=int, default=300, help="steps per timing")
    bench_cmd.add_argument("--repeats", type=int, default=3, help="timings per variant")
    bench_cmd.add_argument("--compare", action="store_true",
                           help="time RNN, LSTM and GRU trained together against one after "
                                "another (the Compare page's training)")
    bench_cmd.add_argument("--seq2seq", action="store_true",
                           help="the translation loop (the dates run, snapshots and live "
                                "attention view on) against a bare PyTorch seq2seq loop, in "
                                "lockstep (rnnviz.measure.translation)")
    record_cmd = commands.add_parser(
        "bench-record", help="rnnviz.record's overhead on a training loop of the app's "
                             "default size (rnnviz.measure.record_overhead)")
    record_cmd.add_argument("--steps", type=int, default=1000, help="steps per timing")
    record_cmd.add_argument("--repeats", type=int, default=3, help="timings per variant")
    record_cmd.add_argument("--every", type=int, default=50, help="steps between probes")
    lessons_cmd = commands.add_parser(
        "lessons", help="train every lesson, check its claim and print a table")
    lessons_cmd.add_argument("keys", nargs="*", metavar="LESSON",
                             help=f"only these lessons ({', '.join(LESSONS)})")
    lessons_cmd.add_argument("--through-jobs", action="store_true",
                             help="time each lesson as the Lessons page trains it (all its runs "
                                  "at once in a job registry's worker processes)")
    claims_cmd = commands.add_parser(
        "claims", help="train every claim the app makes on several seeds, under the native "
                       "and the portable CPU kernels, and print on how many it held")
    claims_cmd.add_argument("keys", nargs="*", metavar="CLAIM",
                            help=f"only these claims ({', '.join(CLAIMS)})")
    claims_cmd.add_argument("--seeds", type=int, default=5, help="seeds 0 .. N-1 (default 5)")
    claims_cmd.add_argument("--markdown", action="store_true", help="print a markdown table")
    add_worker_arguments(commands.add_parser(
        "worker", help="train the jobs of shared mode (needs RNNVIZ_REDIS_URL) until SIGTERM"))
    add_app_arguments(commands.add_parser(
        "app", help="start the web app (with --logdir: your recorded runs, followed live)"))
    return parser


def _progress(total: int):
    started = time.perf_counter()
    last = [0.0]

    def on_step(step: int, metrics: dict) -> None:
        now = time.perf_counter()
        if now - last[0] < 0.1 and step != total:
            return
        last[0] = now
        width = 30
        filled = int(width * step / total)
        rate = step / max(now - started, 1e-9)
        sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {step}/{total} "
                         f"loss {metrics['loss']:.4f} {rate:.0f} steps/s")
        if step == total:
            sys.stderr.write("\n")
        sys.stderr.flush()
    return on_step


def command_train(args: argparse.Namespace) -> int:
    values = {name: coerce(name, getattr(args, name)) for name in FIELDS
              if getattr(args, name) is not None}
    cfg = RunConfig.from_dict(values)
    run = train(cfg, on_step=None if args.json else _progress(cfg.steps))
    summary = run.summary()
    if args.out:
        save_run(run, args.out)
        summary["saved_to"] = args.out
    if args.json:
        print(json.dumps(summary))
        return 0
    name = summary["metric_name"]
    chance = run.chance
    print(f"{cfg.cell} on {TASKS[cfg.task].title}, seq_len {cfg.seq_len}: "
          f"{summary['steps']} steps in {summary['elapsed_s']:.1f} s "
          f"({summary['steps_per_s']:.0f} steps/s, {summary['device']})")
    print(f"  validation {name}: {summary['val_metric']:.4f}   chance {name}: "
          f"{chance.metric:.4f} ({chance.how})")
    print(f"  validation loss: {summary['val_loss']:.4f}   chance loss: {chance.loss:.4f}")
    print(f"  ended: {summary['stop_reason']}")
    if args.out:
        print(f"  saved to {args.out}")
    return 0


def _bare_loop(cfg: RunConfig) -> float:
    """Seconds for cfg.steps steps of a plain PyTorch loop over the same model and batches."""
    model = build_model(cfg)
    task = TASKS[cfg.task]
    optimizer = make_optimizer(cfg, model.parameters())
    batches = BatchStream(cfg, torch.device("cpu"))
    started = time.perf_counter()
    for _ in range(cfg.steps):
        x, y = batches.next()
        loss = task.loss(model(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.clip)
        optimizer.step()
    return time.perf_counter() - started


BULK_BATCHES = 50  # batches the bulk-drawing bare loop draws at once


def _bare_loop_bulk(cfg: RunConfig) -> float:
    """Seconds for cfg.steps steps of a plain PyTorch loop that draws its batches
    ``BULK_BATCHES`` at a time (one call to the task's generator for many steps) and does no
    recording: the fastest honest loop over the same model, batch size and clipping."""
    model = build_model(cfg)
    task = TASKS[cfg.task]
    optimizer = make_optimizer(cfg, model.parameters())
    generator = torch.Generator().manual_seed(cfg.seed)
    started = time.perf_counter()
    done = 0
    while done < cfg.steps:
        chunk = min(BULK_BATCHES, cfg.steps - done)
        xs, ys = task.sample(cfg.batch_size * chunk, cfg.seq_len, generator)
        for x, y in zip(xs.split(cfg.batch_size), ys.split(cfg.batch_size)):
            loss = task.loss(model(x), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.clip is not None:
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.clip)
            optimizer.step()
        done += chunk
    return time.perf_counter() - started


def _engine(cfg: RunConfig) -> float:
    return train(cfg).elapsed_s


def command_bench(args: argparse.Namespace) -> int:
    if args.compare:
        from rnnviz.serve.bench import bench_compare  # starts worker processes: only here
        bench_compare(steps=args.steps, repeats=args.repeats)
        return 0
    if args.seq2seq:
        if args.steps < 10 or args.repeats < 1:
            raise ValueError("bench: --steps must be at least 10 and --repeats at least 1")
        from rnnviz.measure.translation import bench_seq2seq
        from rnnviz.studies.translation import DEFAULTS
        dates = DEFAULTS["dates"]
        cfg = dates.replace(steps=args.steps, eval_every=min(dates.eval_every, args.steps),
                            probe_every=min(dates.probe_every, args.steps), device="cpu")
        with single_thread():
            bench_seq2seq(cfg, rounds=args.repeats)
        return 0
    if args.steps < 10 or args.repeats < 1:
        raise ValueError("bench: --steps must be at least 10 and --repeats at least 1")
    cfg = RunConfig(steps=args.steps, device="cpu")
    threads_default = torch.get_num_threads()
    timings: dict[str, list[float]] = {"bare-1": [], "bulk-1": [], "bare-default": [],
                                       "engine": []}
    for _ in range(args.repeats):  # interleaved, so a burst of load hits every variant alike
        with single_thread():
            timings["bare-1"].append(_bare_loop(cfg))
            timings["bulk-1"].append(_bare_loop_bulk(cfg))
        timings["bare-default"].append(_bare_loop(cfg))
        timings["engine"].append(_engine(cfg))
    ms = {k: 1000 * statistics.median(v) / cfg.steps for k, v in timings.items()}
    print(f"default config: {cfg.cell}, {cfg.task}, seq_len {cfg.seq_len}, hidden "
          f"{cfg.hidden_size}, batch {cfg.batch_size}; {cfg.steps} steps x {args.repeats} "
          f"(median); probe every {cfg.probe_every}, validate every {cfg.eval_every}")
    rows = [
        ("bare PyTorch loop", "1", ms["bare-1"]),
        (f"bare loop, {BULK_BATCHES} batches per draw", "1", ms["bulk-1"]),
        ("bare PyTorch loop", f"{threads_default} (torch default)", ms["bare-default"]),
        ("rnnviz train() (recording on)", "1 (engine policy)", ms["engine"]),
    ]
    print(f"{'loop':<32}{'threads':<22}{'ms/step':>9}{'steps/s':>10}")
    for name, threads, value in rows:
        print(f"{name:<32}{threads:<22}{value:>9.2f}{1000 / value:>10.0f}")
    ratio = ms["bare-1"] / ms["engine"]
    print(f"engine throughput / bare loop (same model, batch, 1 thread): {ratio:.2f}x")
    print(f"engine throughput / bulk-drawing bare loop: {ms['bulk-1'] / ms['engine']:.2f}x "
          "(the engine also records every step, validates, probes and keeps snapshots)")
    return 0


def lessons_table(keys: list[str] | None = None) -> None:
    """Train every lesson (or those named) and print its outcome and its training time: wall
    seconds, and CPU seconds (one torch thread: what the wall time is on an idle core)."""
    torch.set_num_threads(1)
    trained, timings = {}, {}
    print(f"{'lesson':<36} {'holds':<6} {'wall s':>7} {'CPU s':>6}  runs (wall / CPU s)")
    for lesson in LESSONS.values():
        if keys and lesson.key not in keys:
            continue
        runs = train_lesson(lesson, trained, timings)
        outcome = lesson.outcome(runs)
        spent = [timings.get(cfg.key, (0.0, 0.0)) for cfg in lesson.configs]
        each = ", ".join(f"{label} {w:.1f}/{c:.1f}" for (label, _), (w, c) in
                         zip(lesson.runs, spent))
        print(f"{lesson.number}. {lesson.title:<33} {outcome.holds!s:<6} "
              f"{sum(w for w, _ in spent):>7.1f} {sum(c for _, c in spent):>6.1f}  {each}")
        for fact in outcome.facts:
            print("     -", fact.replace("**", ""))


def lessons_through_jobs(keys: list[str] | None = None) -> None:
    """Time every lesson (or those named) as the Lessons page trains it: all of its runs
    submitted at once to a server's job registry, which trains them in its worker processes,
    with nothing cached beforehand. Prints the wall time from the press to the last run done."""
    with tempfile.TemporaryDirectory(prefix="rnnviz-lessons-") as empty:
        registry = JobRegistry(store=RunStore(empty))
        warm = registry.submit(RunConfig(steps=2, device="cpu", seed=123456))  # start workers
        if not isinstance(warm, Run):
            warm.wait()
        print(f"{'lesson':<36} {'holds':<6} {'runs':>4} {'wall s':>7}  "
              f"(all runs at once, {registry.max_jobs} workers)")
        for lesson in LESSONS.values():
            if keys and lesson.key not in keys:
                continue
            started = time.perf_counter()
            submitted = {label: registry.submit(cfg) for label, cfg in lesson.runs}
            runs = {label: job if isinstance(job, Run) else job.wait()
                    for label, job in submitted.items()}
            wall = time.perf_counter() - started
            holds = all(r is not None for r in runs.values()) and lesson.outcome(runs).holds
            print(f"{lesson.number}. {lesson.title:<33} {holds!s:<6} {len(runs):>4} "
                  f"{wall:>7.1f}")


def command_lessons(args: argparse.Namespace) -> int:
    unknown = [key for key in args.keys if key not in LESSONS]
    if unknown:
        raise ValueError(f"lessons: no lesson {unknown[0]!r}; choose from {', '.join(LESSONS)}")
    (lessons_through_jobs if args.through_jobs else lessons_table)(args.keys)
    return 0


def command_claims(args: argparse.Namespace) -> int:
    unknown = [key for key in args.keys if key not in CLAIMS]
    if unknown:
        raise ValueError(f"claims: no claim {unknown[0]!r}; choose from {', '.join(CLAIMS)}")
    if not 1 <= args.seeds <= 20:
        raise ValueError(f"claims: --seeds {args.seeds} is outside 1..20")
    every = robustness.table(args.keys or list(CLAIMS), list(range(args.seeds)),
                             markdown=args.markdown)
    return 0 if every else 1


def command_bench_record(args: argparse.Namespace) -> int:
    from rnnviz.measure import record_overhead
    if args.steps < 10 or args.repeats < 1 or args.every < 1:
        raise ValueError("bench-record: --steps must be at least 10, --repeats and --every at "
                         "least 1")
    print(record_overhead.table(record_overhead.measure(args.steps, args.repeats, args.every)))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        commands = {"train": command_train, "bench": command_bench,
                    "pretrain": command_pretrain, "lessons": command_lessons,
                    "claims": command_claims, "bench-record": command_bench_record,
                    "worker": command_worker, "app": command_app}
        return commands[args.command](args)
    except ValueError as err:  # a bad value that passed argparse: the config says what is wrong
        sys.stderr.write(f"rnnviz: error: {err}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write("\nrnnviz: interrupted\n")
        return 130


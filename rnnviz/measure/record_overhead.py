"""What ``rnnviz.record`` costs a training loop: the same loop timed with and without it.

    rnnviz bench-record [--steps 1000] [--repeats 3] [--every 50]
    python -m rnnviz.measure.record_overhead ...

The loop is a learner's own loop at the app's default size (``RunConfig()``: an LSTM of 32
units on the adding problem, T = 20, batches of 64, Adam, gradient clipping at 1.0), written
as a learner writes it, not ``core.train``: forward, loss, backward, clip, ``optimizer.step()``,
then ``rec.step(loss)`` when recording, probing every ``--every`` steps (the app's 50) on the
app's probe batch (16 examples). The two variants run one after the other ``--repeats`` times,
each from the same seed, on one torch thread; the table gives each variant's median
wall-clock and CPU seconds (``time.process_time``: one torch thread, so the process's CPU
time is the loop's own work, steady on a machine other people share, where the wall clock is
not), the seconds spent inside the recorder's own calls (``Recorder.own_s``: the loss, the
probes, the files) and the overhead three ways. The issue's target, at most 10 % slower,
is checked on the recorder's calls (wall time, I/O waits included) over the plain loop's CPU
time: the one ratio that another process's load cannot move by more than the cost itself.
Why measure at all: the probe replays the module step by step in Python, which is slower per
step than the fused module; the schedule (and its thinning) is what keeps it a small share.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch

from rnnviz.core.config import RunConfig
from rnnviz.core.models import build_model
from rnnviz.core.record import record
from rnnviz.core.tasks import TASKS, probe_batch
from rnnviz.core.train import BatchStream

TARGET = 0.10


def loop(cfg: RunConfig, steps: int, folder: Path | None,
         every: int) -> tuple[float, float, float]:
    """Wall-clock and CPU seconds of ``steps`` steps of the learner's loop (with the recorder
    writing into ``folder`` when given), and the wall seconds inside the recorder's calls."""
    torch.manual_seed(cfg.seed)
    model = build_model(cfg)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    task = TASKS[cfg.task]
    batches = BatchStream(cfg, torch.device("cpu"))
    probe_x, probe_y = probe_batch(cfg)
    started, cpu = time.perf_counter(), time.process_time()
    rec = None
    if folder is not None:
        rec = record(model.rnn, probe_x, lambda out: task.loss_per_example(
            model.readout(out), probe_y), to=folder, every=every, model=model)
    for _ in range(steps):
        x, y = batches.next()
        optimizer.zero_grad()
        loss = task.loss(model(x), y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.clip)
        optimizer.step()
        if rec is not None:
            rec.step(loss)
    if rec is not None:
        rec.close()
    return (time.perf_counter() - started, time.process_time() - cpu,
            rec.own_s if rec is not None else 0.0)


def measure(steps: int = 1000, repeats: int = 3, every: int = RunConfig().probe_every) -> dict:
    cfg = RunConfig()
    torch.set_num_threads(1)
    plain, recorded = [], []
    with tempfile.TemporaryDirectory(prefix="rnnviz-bench-record-") as tmp:
        loop(cfg, 20, None, every)  # warm up torch's kernels
        for repeat in range(repeats):
            plain.append(loop(cfg, steps, None, every))
            recorded.append(loop(cfg, steps, Path(tmp) / f"run-{repeat}", every))
    med = {name: [statistics.median(t[i] for t in runs) for i in range(3)]
           for name, runs in (("plain", plain), ("recorded", recorded))}
    return {"config": cfg, "steps": steps, "every": every, "repeats": repeats,
            "plain_s": med["plain"][0], "recorded_s": med["recorded"][0],
            "plain_cpu_s": med["plain"][1], "recorded_cpu_s": med["recorded"][1],
            "recorder_s": med["recorded"][2],
            "overhead": med["recorded"][0] / med["plain"][0] - 1.0,
            "cpu_overhead": med["recorded"][1] / med["plain"][1] - 1.0}


def table(result: dict) -> str:
    cfg = result["config"]
    lines = [f"{cfg.cell} {cfg.hidden_size} units on {cfg.task}, T={cfg.seq_len}, batch "
             f"{cfg.batch_size}, {result['steps']} steps, probe every {result['every']}, "
             f"median of {result['repeats']}, torch threads {torch.get_num_threads()}",
             f"{'loop':<32}{'wall s':>9}{'CPU s':>9}{'CPU ms/step':>13}"]
    for name, wall, cpu in (("without the recorder", "plain_s", "plain_cpu_s"),
                            ("with rnnviz.record", "recorded_s", "recorded_cpu_s")):
        lines.append(f"{name:<32}{result[wall]:>9.3f}{result[cpu]:>9.3f}"
                     f"{1000 * result[cpu] / result['steps']:>13.3f}")
    lines.append(f"{'  inside the recorder (wall)':<32}{result['recorder_s']:>9.3f}")
    own = result["recorder_s"] / result["plain_cpu_s"]
    verdict = "within" if own <= TARGET else "OVER"
    lines.append(f"overhead: the recorder's calls take {100 * own:.1f} % of the plain loop's "
                 f"CPU time ({verdict} the {100 * TARGET:.0f} % target); CPU time "
                 f"{100 * result['cpu_overhead']:+.1f} %, wall clock "
                 f"{100 * result['overhead']:+.1f} % (on a busy machine these two also "
                 "carry the other processes' noise)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="rnnviz bench-record",
                                     description="the recorder's overhead on a training loop")
    parser.add_argument("--steps", type=int, default=RunConfig().steps)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--every", type=int, default=RunConfig().probe_every)
    args = parser.parse_args(argv)
    if args.steps < 10 or args.repeats < 1 or args.every < 1:
        parser.error("--steps must be at least 10, --repeats and --every at least 1")
    print(table(measure(args.steps, args.repeats, args.every)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

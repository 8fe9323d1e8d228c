"""What one notch of the Training step slider costs the server, without Streamlit or a browser.

    python -m rnnviz.measure.rewind_timing [--steps 400] [--probe-every 50]

Trains the default configuration (an LSTM on the adding problem) for ``--steps`` and, for every
snapshot, times what a notch computed before the charts: ``Run.model_at(step)`` and the trace
of the probe batch (states, gates, gradients and the Jacobian norms, ``core.trace``). Prints the
median and the worst. Figure building and the browser's drawing are measured in Chromium by
``tests/e2e/test_rewind_speed.py`` (this room imports only core and studies). Why it matters:
the trace was most of a notch's server time, which is why ``app.rewind_view`` traces the
neighbouring snapshots ahead.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from rnnviz.core.config import RunConfig
from rnnviz.core.tasks import probe_batch
from rnnviz.core.trace import trace
from rnnviz.core.train import train


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rnnviz.measure.rewind_timing")
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--probe-every", type=int, default=50)
    args = parser.parse_args(argv)
    cfg = RunConfig(steps=args.steps, probe_every=args.probe_every, eval_every=args.probe_every)
    run = train(cfg)
    x, y = probe_batch(cfg)
    rows = {"model_at": [], "trace": [], "notch (both)": []}
    for step in run.snapshot_steps:
        started = time.perf_counter()
        model = run.model_at(step)
        built = time.perf_counter()
        trace(model, x, y)
        done = time.perf_counter()
        rows["model_at"].append(built - started)
        rows["trace"].append(done - built)
        rows["notch (both)"].append(done - started)
    print(f"{cfg.cell} on {cfg.task}, hidden {cfg.hidden_size}, T={cfg.seq_len}, "
          f"{len(run.snapshot_steps)} snapshots, torch threads {torch.get_num_threads()}")
    print(f"{'part of a notch':<16}{'median s':>10}{'worst s':>10}")
    for name, times in rows.items():
        print(f"{name:<16}{statistics.median(times):>10.3f}{max(times):>10.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

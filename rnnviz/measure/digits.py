"""How well each cell learns the spoken digits, and how long it takes: a table.

    nice -n 19 python -m rnnviz.measure.digits [--steps 1000] [--seq-len 48] [--seeds 1]

For every cell, the default config of the ``digits`` task (``RunConfig(task="digits",
seq_len=48)``: everything else is RunConfig's default, hidden 32, Adam 0.01, batch 64, 1,000
steps) is trained twice on one CPU thread: on FSDD's own split (test: takes 0-4 of every
speaker, 300 recordings) and with one speaker held out (``digits_speaker``: test on all 500 of
theo's recordings, train on the other five speakers). It prints the test accuracy of each, their
gap (what learning voices instead of digits costs), and the training time measured around
``train`` (the features are computed once before, about a second, and not counted). Also the
log-mel statistics ``rnnviz.core.speech`` scales by, measured again over FSDD's training takes.

Run it under ``nice -n 19`` on a shared machine; each line is two trainings, whose times it
prints.
"""

from __future__ import annotations

import argparse
import time

import torch

from rnnviz.core import speech
from rnnviz.core.config import RunConfig
from rnnviz.core.train import train


def log_mel_stats() -> tuple[float, float]:
    """Mean and standard deviation of the unscaled log-mel power over FSDD's training takes."""
    train_ids = speech.split_indices("train", None)
    raw = torch.cat([speech.all_frames()[i] for i in train_ids])
    raw = raw * speech.LOG_SCALE + speech.LOG_SHIFT
    return float(raw.mean()), float(raw.std())


def final_accuracy(run) -> float:
    history = run.history
    return float(history._val[history.evals_done - 1][2])


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=RunConfig().steps)
    parser.add_argument("--seq-len", type=int, default=speech.SEQ_LEN)
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--cells", default="lstm,gru,rnn")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    started = time.perf_counter()
    speech.padded_rows(torch.arange(3000), args.seq_len)
    print(f"features of 3,000 recordings: {time.perf_counter() - started:.1f} s; log-mel mean "
          "{:.2f}, std {:.2f} (scaled by {}, {})".format(*log_mel_stats(), speech.LOG_SHIFT,
                                                        speech.LOG_SCALE))
    print(f"\n{'cell':5} {'seed':>4} {'FSDD test':>10} {'time s':>7} {'held-out theo':>14} "
          f"{'time s':>7} {'gap':>6}")
    for cell in args.cells.split(","):
        for seed in range(args.seeds):
            row = []
            for task in ("digits", "digits_speaker"):
                cfg = RunConfig(task=task, cell=cell, seq_len=args.seq_len, steps=args.steps,
                                seed=seed, device="cpu")
                run = train(cfg)
                row.append((final_accuracy(run), run.elapsed_s))
            (own, own_s), (held, held_s) = row
            print(f"{cell:5} {seed:4d} {own:10.1%} {own_s:7.1f} {held:14.1%} {held_s:7.1f} "
                  f"{own - held:6.1%}", flush=True)


if __name__ == "__main__":
    main()

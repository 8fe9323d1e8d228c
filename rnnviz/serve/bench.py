"""``rnnviz bench --compare``: a comparison trained together in the worker pool against the same
runs trained one after another in this process, with the spare CPU measured before each repeat."""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Iterable

from rnnviz.core.config import RunConfig
from rnnviz.core.train import train
from rnnviz.serve.limits import max_concurrent_jobs
from rnnviz.serve.many import train_many
from rnnviz.serve.pool import _METHOD, usable_cores
from rnnviz.studies.compare import CELLS


def _idle_cores(sample_s: float = 1.0) -> float:
    """How many cores sat idle over the next ``sample_s`` seconds (Linux /proc/stat; NaN
    elsewhere): the machine's spare capacity just before a timing."""
    def read() -> tuple[int, int]:
        with open("/proc/stat") as stat:
            fields = [int(v) for v in stat.readline().split()[1:]]
        return fields[3] + fields[4], sum(fields)  # idle + iowait, total
    try:
        idle0, total0 = read()
        time.sleep(sample_s)
        idle1, total1 = read()
    except (OSError, ValueError, IndexError):
        return float("nan")
    cores = os.cpu_count() or 1
    return cores * (idle1 - idle0) / max(total1 - total0, 1)


def bench_compare(steps: int = 300, repeats: int = 3, base: RunConfig | None = None,
                  cells: Iterable[str] = CELLS, print_fn=print) -> dict:
    """Time a comparison trained together (``train_many``) against the same runs trained one
    after another in this process (``train``), interleaved ``repeats`` times; prints a table and
    returns the timings. The fork server's one-time start is timed separately (a server pays it
    once, at its first comparison)."""
    if steps < 10 or repeats < 1:
        raise ValueError("bench: --steps must be at least 10 and --repeats at least 1")
    base = base or RunConfig(steps=steps, device="cpu")
    base = base.replace(steps=steps, device="cpu")
    configs = [base.replace(cell=c) for c in cells]
    started = time.perf_counter()
    warm = [base.replace(cell=c, steps=2) for c in ("rnn", "gru")]
    train_many(warm)  # starts the fork server and its workers' imports
    startup = time.perf_counter() - started
    train(warm[0])  # this process's own first-optimizer import, out of the timings
    together, one_by_one, loads = [], [], []
    for repeat in range(repeats):  # interleaved, alternating which goes first
        loads.append(_idle_cores())
        for variant in (("seq", "par") if repeat % 2 == 0 else ("par", "seq")):
            started = time.perf_counter()
            if variant == "seq":
                for cfg in configs:
                    train(cfg)
                one_by_one.append(time.perf_counter() - started)
            else:
                train_many(configs)
                together.append(time.perf_counter() - started)
    ratios = [p / s for p, s in zip(together, one_by_one)]
    median_ratio = statistics.median(together) / statistics.median(one_by_one)
    print_fn(f"{len(configs)} cells ({', '.join(c.cell for c in configs)}) on {base.task}, "
             f"seq_len {base.seq_len}, hidden {base.hidden_size}, batch {base.batch_size}, "
             f"{steps} steps each; {usable_cores()} usable cores; workers: "
             f"{min(max_concurrent_jobs(), len(configs))} processes ({_METHOD})")
    print_fn(f"one-time worker start-up (fork server import): {startup:.2f} s")
    print_fn(f"{'repeat':<8}{'one after another (s)':>24}{'together (s)':>15}{'ratio':>8}"
             f"{'idle cores before':>19}")
    for k, (s, p, r, load) in enumerate(zip(one_by_one, together, ratios, loads), start=1):
        print_fn(f"{k:<8}{s:>24.2f}{p:>15.2f}{r:>8.2f}{load:>19.2f}")
    print_fn(f"{'median':<8}{statistics.median(one_by_one):>24.2f}"
             f"{statistics.median(together):>15.2f}{median_ratio:>8.2f}")
    print_fn("(idle cores before: spare CPU measured over 1 s before each repeat; when other "
             "programs keep the cores busy, the runs trained together have no second core to "
             "use and the ratio tends to 1)")
    return {"one_after_another_s": one_by_one, "together_s": together, "ratios": ratios,
            "median_ratio": median_ratio, "startup_s": startup, "idle_cores": loads}

"""How robust is every claim: trained on several seeds, under two sets of CPU kernels.

``rnnviz claims --seeds 5`` trains the runs of every claim in ``rnnviz.studies.claims`` with the
seed replaced by 0, 1, ..., N-1, once with the machine's native kernels and once with
``ATEN_CPU_CAPABILITY=default`` (PyTorch's portable kernels: what a CPU without AVX2 runs), and
prints, for every claim, on how many (seed, kernel) pairs it held and the range of its headline
numbers. The capability is read when torch starts, so each kernel set trains in a child process
of its own; the two run side by side, one torch thread each.

A claim is meant to hold on at least 4 of 5 seeds under both kernels; the table says where it
does not. This is a measurement, not a test: the tests check the shipped seed under both kernels.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time

KERNELS = ("native", "default")
BAR = 4  # of 5 seeds: what "holds on most seeds" means here


def _machine() -> str:
    name = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    name = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{name}, {os.cpu_count()} cores"


def measure(keys: list[str], seeds: list[int]) -> None:
    """In this process (one kernel set): train every claim on every seed and print one JSON line
    per (claim, seed) with whether it held and its headline numbers."""
    import torch

    from rnnviz.core.train import train
    from rnnviz.studies.claims import CLAIMS

    torch.set_num_threads(1)
    capability = torch.backends.cpu.get_cpu_capability()
    trained = {}
    for key in keys:
        claim = CLAIMS[key]
        for seed in seeds:
            started = time.perf_counter()
            runs = {}
            for label, cfg in claim.on_seed(seed):
                if cfg.key not in trained:
                    trained[cfg.key] = train(cfg)
                runs[label] = trained[cfg.key]
            outcome = claim.check(runs)
            # every number the check measured (the table shows the headline ones)
            numbers = {name: float(value) for name, value in outcome.numbers.items()}
            seconds = round(time.perf_counter() - started, 1)
            print(json.dumps({"claim": key, "seed": seed, "capability": capability,
                              "holds": bool(outcome.holds), "numbers": numbers,
                              "seconds": seconds}), flush=True)
            # progress on stderr, which the parent leaves to the terminal
            print(f"  {capability:<8} {key} seed {seed}: "
                  f"{'held' if outcome.holds else 'did not hold'} ({seconds:.0f} s)",
                  file=sys.stderr, flush=True)
        trained.clear()  # a claim's runs are not another claim's: keep memory flat


def _spawn(kernel: str, keys: list[str], seeds: list[int]) -> subprocess.Popen:
    env = dict(os.environ)
    env.pop("ATEN_CPU_CAPABILITY", None)
    if kernel != "native":
        env["ATEN_CPU_CAPABILITY"] = kernel
    command = [sys.executable, "-m", "rnnviz.measure.robustness", "--child",
               "--seeds", str(len(seeds)), *keys]
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True)


def _fmt_range(values: list[float], fmt: str) -> str:
    finite = [v for v in values if v == v]
    if not finite:
        return "–"
    low, high = min(finite), max(finite)
    return fmt.format(low) if fmt.format(low) == fmt.format(high) else \
        f"{fmt.format(low)}–{fmt.format(high)}"


def table(keys: list[str], seeds: list[int], kernels: tuple[str, ...] = KERNELS,
          markdown: bool = False) -> bool:
    """Train every claim on ``seeds`` under each kernel set (side by side), print the table;
    True when every claim held on at least BAR of the seeds under every kernel set."""
    from rnnviz.studies.claims import CLAIMS

    started = time.perf_counter()
    children = {kernel: _spawn(kernel, keys, seeds) for kernel in kernels}
    rows: dict[tuple[str, str], list[dict]] = {}
    capability = {}
    for kernel, child in children.items():
        out, _ = child.communicate()
        if child.returncode:
            raise RuntimeError(f"the {kernel} kernels' child failed (exit {child.returncode})")
        for line in out.splitlines():
            row = json.loads(line)
            rows.setdefault((row["claim"], kernel), []).append(row)
            capability[kernel] = row["capability"]
    wall = time.perf_counter() - started
    bar = max(1, round(BAR * len(seeds) / 5))
    every = True
    names = " and ".join(f"{k} ({capability.get(k, '?')})" for k in kernels)
    print(f"{len(seeds)} seeds ({seeds[0]}–{seeds[-1]}) under {names} kernels; "
          f"{_machine()}; torch {_torch_version()}; {wall:.0f} s")
    head = ["claim", "where"] + [f"{k} holds" for k in kernels] + ["failed on", "numbers"]
    lines = []
    for key in keys:
        claim = CLAIMS[key]
        counts, failed, numbers = [], [], []
        for kernel in kernels:
            found = rows.get((key, kernel), [])
            held = sum(r["holds"] for r in found)
            counts.append(f"{held}/{len(found)}")
            every &= held >= bar
            failed += [f"{kernel} seed {r['seed']}" for r in found if not r["holds"]]
        for name, fmt in claim.headline:
            values = [r["numbers"].get(name, float("nan"))
                      for k in kernels for r in rows.get((key, k), [])]
            numbers.append(f"{name} {_fmt_range(values, fmt)}")
        lines.append([key, claim.where, *counts, ", ".join(failed) or "–",
                      "; ".join(numbers)])
    if markdown:
        print("| " + " | ".join(head) + " |")
        print("|" + "---|" * len(head))
        for line in lines:
            print("| " + " | ".join(line) + " |")
    else:
        widths = [max(len(str(r[i])) for r in [head, *lines]) for i in range(len(head) - 1)]
        for line in [head, *lines]:
            print("  ".join(str(c).ljust(w) for c, w in zip(line, widths)) + "  " + line[-1])
    print(f"every claim held on at least {bar} of {len(seeds)} seeds under every kernel set: "
          f"{every}")
    return every


def _torch_version() -> str:
    import torch
    return torch.__version__


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rnnviz.measure.robustness",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("keys", nargs="*")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args(argv)
    from rnnviz.studies.claims import CLAIMS
    keys = args.keys or list(CLAIMS)
    seeds = list(range(args.seeds))
    if args.child:
        measure(keys, seeds)
        return 0
    return 0 if table(keys, seeds, markdown=args.markdown) else 1


if __name__ == "__main__":
    sys.exit(main())

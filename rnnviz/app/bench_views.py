"""How long a view change takes on a trained run, measured through Streamlit's AppTest.

    python -m rnnviz.app.bench_views [--repeats 5]

Trains the default configuration once (through the Train button), then on every inspection page
times the first draw (which computes the trace) and each view change (another training step on
the rewind slider, another example, unit, projection): the script's server time, median of the
repeats. A benchmark that prints a table,
not a test.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from streamlit.testing.v1 import AppTest

from rnnviz.app.rewind import CHOSEN

APP = str(Path(__file__).resolve().parents[2] / "app.py")


def _timed(action) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def _widget(at: AppTest, kind: str, key: str):
    return next(w for w in at.get(kind) if w.key == key)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rnnviz.app.bench_views")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    at = AppTest.from_file(APP, default_timeout=120).run()
    at.switch_page("pages/playground.py").run()
    next(b for b in at.button if b.label == "Train").click().run()
    started = time.perf_counter()
    while "run" not in at.session_state:
        if at.exception or time.perf_counter() - started > 300:
            raise SystemExit(f"training did not finish: {at.exception}")
        time.sleep(0.2)
        at.run()
    run = at.session_state["run"]
    print(f"trained the default config ({run.config.cell}, {run.config.task}, T="
          f"{run.config.seq_len}, hidden {run.config.hidden_size}, {run.config.steps} steps) in "
          f"{time.perf_counter() - started:.1f} s")
    rows = []

    def measure(page: str, label: str, change) -> None:
        times = []
        for i in range(args.repeats):
            change(i)
            times.append(_timed(at.run))
            assert not at.exception, at.exception
        rows.append((page, label, statistics.median(times), max(times)))

    steps = run.snapshot_steps
    for page in ("hidden_states", "gates", "gradients", "step_through"):
        at.switch_page(f"pages/{page}.py")
        if CHOSEN in at.session_state:  # every page opens at the run's end
            at.session_state[CHOSEN] = steps[-1]
        rows.append((page, "first draw (computes the trace)", _timed(at.run), float("nan")))
        # a snapshot not seen before each time: model_at, its trace and every chart
        measure(page, "another training step (rewind)", lambda i: _widget(
            at, "select_slider", "train_step").set_value(steps[(7 * i + 3) % (len(steps) - 1)]))
        measure(page, "back to a step seen before", lambda i: _widget(
            at, "select_slider", "train_step").set_value(steps[3]))
        _widget(at, "select_slider", "train_step").set_value(steps[-1])
        at.run()
        if page == "step_through":
            continue
        measure(page, "same view again (rerun)", lambda i: None)
        measure(page, "another example", lambda i: _widget(at, "slider", "example")
                .set_value((i + 1) % 16))
        if page == "hidden_states":
            measure(page, "other units", lambda i: _widget(at, "multiselect", "units")
                    .set_value([i % 8, (i + 3) % 8]))
            measure(page, "PCA 2D <-> 3D", lambda i: at.get("button_group")[0]
                    .set_value(3 if i % 2 == 0 else 2))
    print(f"{'page':<15}{'view change':<34}{'median s':>10}{'worst s':>10}")
    for page, label, median, worst in rows:
        print(f"{page:<15}{label:<34}{median:>10.3f}{worst:>10.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

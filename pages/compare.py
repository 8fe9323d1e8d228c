"""Compare: vanilla RNN, LSTM and GRU trained side by side, and where each one stops learning."""

from rnnviz.app.entry import via_app

via_app()


import math
import time

import pandas as pd
import streamlit as st

from rnnviz import charts
from rnnviz.app import state, views, widgets
from rnnviz.core.config import FIELDS, SEQ2SEQ_TASKS, RunConfig
from rnnviz.core.tasks import TASKS, chance_for
from rnnviz.serve.many import dependency_sweep, train_many
from rnnviz.serve.pool import warm_up
from rnnviz.studies.compare import CELLS, parse_lengths, sweep_configs
from rnnviz.studies.verdict import run_verdict

RESULT, SWEEP = "compare_result", "compare_sweep"
MAX_STEPS = 5000  # per run on this page: a set trains up to three of them
MAX_SWEEP_RUNS = 24
# the translation tasks compare on their own page (its bottleneck sweep)
TASK_NAMES = [t for t in FIELDS["task"].choices if t not in SEQ2SEQ_TASKS]

warm_up()  # start the worker processes while the student reads the settings
st.title("Compare cells")
st.markdown(
    "The same task, the same seed, the same training budget: only the cell changes. A "
    "vanilla RNN overwrites its whole state at every step; an LSTM and a GRU have gates "
    "that can keep a value unchanged. Train them together and see which one learns, and "
    "how far back each one's gradient reaches.")


def _fmt(value: float | None, metric: str) -> str:
    if value is None or not math.isfinite(value):
        return "–"
    return f"{value:.1%}" if metric == "accuracy" else f"{value:.4f}"


def settings_form() -> tuple[RunConfig | None, list[str], bool]:
    """The shared settings (starting from this session's Playground settings) and the cells.
    The task is chosen above the form, so that its own settings (the copy lag) show only for
    the task that has them."""
    base = state.config()
    task = st.selectbox("Task", TASK_NAMES, index=TASK_NAMES.index(base.task)
                        if base.task in TASK_NAMES else 0, key="cmp_task",
                        format_func=lambda name: widgets.choice_label("task", name),
                        help=widgets.field_help("task"))
    copy_task = task == "copy"
    with st.form("compare_form"):
        st.markdown("**Shared settings** (everything else as in the Playground: "
                    f"{widgets.choice_label('optimizer', base.optimizer)}, lr {base.lr:g}, "
                    f"batch {base.batch_size}, "
                    f"clipping {base.clip if base.clip is not None else 'off'})")
        row = st.columns(5 if copy_task else 4)
        seq_len = row[0].number_input("Sequence length", 2, int(FIELDS["seq_len"].high),
                                      base.seq_len, key="cmp_seq_len",
                                      help=widgets.field_help("seq_len"))
        lag = base.lag
        if copy_task:
            lag = row[-1].number_input("Copy lag", 1, int(FIELDS["lag"].high), base.lag,
                                       key="cmp_lag", help=widgets.field_help("lag"))
        hidden = row[1].number_input("Hidden units", 1, int(FIELDS["hidden_size"].high),
                                     base.hidden_size, key="cmp_hidden",
                                     help=widgets.field_help("hidden_size"))
        steps = row[2].number_input("Training steps", 1, MAX_STEPS, min(base.steps, MAX_STEPS),
                                    key="cmp_steps", help="Optimizer steps for every cell "
                                    f"(at most {MAX_STEPS} on this page).")
        seed = row[3].number_input("Seed", 0, int(FIELDS["seed"].high), base.seed,
                                   key="cmp_seed", help=widgets.field_help("seed"))
        cells = st.multiselect("Cells", list(CELLS), default=list(CELLS), key="cmp_cells",
                               format_func=charts.cell_label,
                               help="Any subset: they train at the same time, one per core.")
        pressed = st.form_submit_button("Train the set", icon=":material/play_arrow:",
                                        type="primary")
    try:
        cfg = base.replace(task=task, seq_len=int(seq_len), lag=int(lag),
                           hidden_size=int(hidden), steps=int(steps), seed=int(seed))
    except ValueError as err:
        if pressed:
            st.warning(f"These settings can't be trained: {err}.", icon=":material/block:")
        return None, cells, False
    return cfg, cells, pressed


LIVE_REDRAW_S = 1.0  # the live chart's redraws while the set trains


def _progress_words(label: str, step: int, total: int, rate: float | None) -> str:
    """A cell's progress, with its speed and what is left only once they are measured (no
    fixed promise: 'a few seconds' took 45 s on a busy server)."""
    words = f"{label}: step {step} of {total}"
    if step >= total:
        return words + " · done"
    if rate is None:
        return words
    left = (total - step) / rate
    return words + (f" · {rate:.0f} steps/s · about {left:.0f} s left" if left >= 1 else
                    f" · {rate:.0f} steps/s · under a second left")


def train_set(cfg: RunConfig, cells: list[str]) -> None:
    """Train the cells together (reusing any run this server already has), drawing each cell's
    loss curve as it trains, with each cell's measured progress, and keep the result in the
    session."""
    configs = [cfg.replace(cell=cell) for cell in cells]
    cache = state.registry().cache
    reused = [c.cell for c in configs if cache.get(c.key) is not None]
    labels = [charts.cell_label(c.cell) for c in configs]
    bars = {i: st.progress(0.0, text=f"{labels[i]}: waiting for a free training worker")
            for i in range(len(configs))}
    live = st.empty()
    histories: dict[int, object] = {}
    first_step: dict[int, tuple[float, int]] = {}  # when each run was first seen training
    drawn = [0.0, 0]  # when the chart was last drawn, and how many times
    live_steps: list[dict] = []  # each cell's steps in each live drawing (kept with the result)
    chance = chance_for(cfg)

    def draw(final: bool = False) -> None:
        now = time.perf_counter()
        if not histories or (not final and now - drawn[0] < LIVE_REDRAW_S):
            return
        drawn[0], drawn[1] = now, drawn[1] + 1
        live_steps.append({labels[i]: h.steps_done for i, h in histories.items()})
        figure = charts.live_compare_loss_chart(
            {labels[i]: histories[i] for i in sorted(histories)}, chance, cfg.steps)
        live.plotly_chart(figure, width="stretch", key=f"cmp_live_{drawn[1]}")

    def on_history(index: int, history) -> None:
        histories[index] = history

    def on_progress(index: int, step: int, total: int) -> None:
        now = time.perf_counter()
        start = first_step.setdefault(index, (now, step))
        measured = now - start[0]
        rate = (step - start[1]) / measured if measured >= 0.5 and step > start[1] else None
        bars[index].progress(min(step / max(total, 1), 1.0),
                             text=_progress_words(labels[index], step, total, rate))
        draw()

    started = time.perf_counter()
    try:
        runs = train_many(configs, on_progress, workers=state.registry().max_jobs, cache=cache,
                          on_history=on_history)
    except Exception as err:  # a worker failed: say so, never a traceback
        st.error(f"Training the set failed: {type(err).__name__}: {err}",
                 icon=":material/error:")
        return
    finally:
        for bar in bars.values():
            bar.empty()
        live.empty()
    st.session_state[RESULT] = {"runs": runs, "wall_s": time.perf_counter() - started,
                                "reused": reused, "live_steps": live_steps}


cfg, cells, pressed = settings_form()
if pressed:
    if not cells:
        st.warning("Choose at least one cell to train.", icon=":material/warning:")
    elif cfg is not None:
        train_set(cfg, cells)

result = st.session_state.get(RESULT)
if result is None:
    st.info("Choose the cells and press **Train the set**. They train together, and each "
            "cell's loss curve is drawn as it trains.", icon=":material/arrow_upward:")
else:
    runs = result["runs"]
    first = runs[0]
    task = first.task
    metric = task.metric_name
    chance = first.chance
    labels = {run.config.cell: charts.cell_label(run.config.cell) for run in runs}
    trained = [labels[r.config.cell] for r in runs if r.config.cell not in result["reused"]]
    reused = [labels[c] for c in result["reused"]]
    st.subheader(f"{', '.join(labels.values())} · {task.title} · T = {first.config.seq_len} · "
                 f"{first.config.steps} steps · seed {first.config.seed}")
    note = (f"Trained {', '.join(trained)} together in **{result['wall_s']:.1f} s**"
            if trained else "Nothing needed training")
    if reused:
        note += f"; reused {', '.join(reused)} (already trained on this server)"
    st.caption(note + ".")

    columns = st.columns(len(runs))
    for column, run in zip(columns, runs):
        summary = run.summary()
        value = summary["val_metric"]
        delta = None if value is None else value - chance.metric
        # the Playground's verdict decides whether it beats chance: within the noise of the
        # validation set the badge is grey, as the Playground's for the same run
        verdict = run_verdict(run)
        column.metric(f"{labels[run.config.cell]}: validation {metric}", _fmt(value, metric),
                      delta=None if delta is None else f"{delta:+.3g} vs chance",
                      delta_color="off" if verdict is None or not verdict.beats_chance else
                      "normal" if task.higher_is_better else "inverse",
                      help=(f"{verdict.words} " if verdict else "")
                           + f"Chance: {_fmt(chance.metric, metric)} ({chance.how}). "
                           f"{summary['steps']} steps in {summary['elapsed_s']:.1f} s; "
                           f"{summary['stop_reason']}.")
        if "exploded" in summary["stop_reason"]:
            column.error("This run exploded; its weights were rolled back.",
                         icon=":material/warning:")

    left, right = st.columns([3, 2])
    with left:
        views.chart(charts.compare_loss_chart({labels[r.config.cell]: r.history for r in runs},
                                              chance),
                    "The training loss of every cell at every step, on the same batches. "
                    f"The dashed line is chance: {chance.how}.", key="cmp_loss")
    with right:
        views.chart(charts.final_metric_chart(
            {r.config.cell: r.summary()["val_metric"] for r in runs}, chance.metric,
            chance.how, metric, task.higher_is_better),
            "Each cell's score on the fixed validation set after training"
            + (" (log scale: an error of 0.0003 and one of 0.15 both show)."
               if metric != "accuracy" else "."), key="cmp_final")

    traces = {r.config.cell: state.run_trace(r, 0) for r in runs}
    profiles = {labels[cell]: tr.grad_h[-1].mean(axis=0) for cell, (tr, _, _) in traces.items()}
    views.chart(charts.compare_gradient_chart(profiles),
                r"$\|\partial L/\partial h_t\|$ of the top layer, averaged over the same 16 "
                "probe examples and divided by its value at the last step (log scale): every "
                "line ends at 1, so compare slopes, not heights. A line that drops steeply to "
                "the left means the learning signal fades on its way back: that cell cannot "
                "learn what happened early in the sequence. Hover for the absolute values.",
                key="cmp_gradients")

    st.markdown("**Hidden states of the same example**: each column one cell, each row one "
                "unit, each column of a heatmap one time step.")
    example = st.slider("Example", 0, 15, 0, key="cmp_example",
                        help="One of the 16 probe examples, the same for every cell.")
    columns = st.columns(len(runs))
    for column, (cell, (tr, _, _)) in zip(columns, traces.items()):
        run = next(r for r in runs if r.config.cell == cell)
        bounded = cell != "rnn" or run.config.nonlinearity == "tanh"
        with column:
            st.plotly_chart(charts.hidden_column_heatmap(tr.hidden[-1][example], cell,
                                                                 bounded),
                            width="stretch", key=f"cmp_hidden_{cell}")

# ---------------------------------------------------------------- the dependency sweep

st.divider()
st.subheader("Dependency sweep: where does each cell break?")
st.markdown(
    "Train every chosen cell at several sequence lengths (or, on the copy task, several "
    "lags) with the settings above, and plot the final validation score against the length. "
    "The length at which a cell's line falls to the chance level is how far back it can "
    "carry information with this budget.")
base_cfg = cfg if cfg is not None else state.config()
copy_task = base_cfg.task == "copy"
with st.form("sweep_form"):
    row = st.columns([1, 2, 1])
    param = row[0].radio("Vary", ["seq_len", "lag"] if copy_task else ["seq_len"],
                         format_func=lambda p: "sequence length" if p == "seq_len" else
                         "copy lag", key="sweep_param", horizontal=True,
                         help="The copy lag is the distance the copy task asks the network "
                              "to remember.")
    # sequence lengths that every task accepts (the copy task needs them above its lag)
    first = 5 if not copy_task or base_cfg.lag < 5 else base_cfg.lag + 1
    default_lengths = ", ".join(str(first * k) for k in (1, 2, 4, 8))
    lengths_text = row[1].text_input("Lengths", default_lengths, key="sweep_lengths",
                                     help="Whole numbers separated by commas. A copy "
                                          "lag must be smaller than the sequence length, "
                                          "and a sequence length larger than the lag.")
    sweep_steps = row[2].number_input("Steps per run", 1, MAX_STEPS,
                                      min(base_cfg.steps, 500), key="sweep_steps",
                                      help="Training steps of every run in the sweep.")
    sweep_cells = st.multiselect("Cells", list(CELLS), default=cells or list(CELLS),
                                 key="sweep_cells", format_func=charts.cell_label)
    run_sweep = st.form_submit_button("Run the sweep", icon=":material/ssid_chart:")
st.caption(f"Task {TASKS[base_cfg.task].title}, hidden {base_cfg.hidden_size}, seed "
           f"{base_cfg.seed}" + (f", sequence length {base_cfg.seq_len} (for the lag sweep)"
                                 if copy_task else "") + ": from the settings above.")

if run_sweep:
    try:
        lengths = parse_lengths(lengths_text)
        sweep_base = base_cfg.replace(steps=int(sweep_steps))
        grid = sweep_configs(sweep_base, sweep_cells, lengths, param)
        count = sum(len(v) for v in grid.values())
        if count > MAX_SWEEP_RUNS:
            raise ValueError(f"that is {count} runs; this page trains at most "
                             f"{MAX_SWEEP_RUNS} at once: use fewer lengths or cells")
    except ValueError as err:
        st.warning(f"The sweep can't run: {err}.", icon=":material/warning:")
    else:
        totals: dict[int, tuple[int, int]] = {}
        bar = st.progress(0.0, text=f"Sweep: {count} runs")

        def on_sweep_progress(index: int, step: int, total: int) -> None:
            totals[index] = (step, total)
            done = sum(s for s, _ in totals.values())
            bar.progress(min(done / (count * total), 1.0),
                         text=f"Sweep: {sum(s == t for s, t in totals.values())} of {count} "
                              "runs finished")

        try:
            st.session_state[SWEEP] = dependency_sweep(
                sweep_base, sweep_cells, lengths, param, on_sweep_progress,
                workers=state.registry().max_jobs, cache=state.registry().cache)
        except Exception as err:
            st.error(f"The sweep failed: {type(err).__name__}: {err}", icon=":material/error:")
        bar.empty()

sweep = st.session_state.get(SWEEP)
if sweep is not None:
    views.chart(charts.sweep_chart(sweep),
                f"Each point is one run, trained for {sweep.base.steps} steps; hover for how "
                f"it ended. The dashed line is chance. {len(sweep.cells) * len(sweep.lengths)} "
                f"runs in {sweep.elapsed_s:.1f} s.", key="sweep_chart")
    words = []
    for cell in sweep.cells:
        point = sweep.breaking_point(cell)
        name = charts.cell_label(cell)
        words.append(f"**{name}** " + (f"falls below halfway to perfect at {sweep.param_label} "
                                       f"= {point}" if point is not None else
                                       "stays more than halfway to perfect at every length"))
    st.markdown("; ".join(words) + ".")
    table = pd.DataFrame({charts.cell_label(c): sweep.metric[c] for c in sweep.cells},
                         index=pd.Index(sweep.lengths, name=sweep.param_label))
    table["chance"] = sweep.chance
    st.dataframe(table.style.format("{:.1%}" if sweep.metric_name == "accuracy" else "{:.4f}"))

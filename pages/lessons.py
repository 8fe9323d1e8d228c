"""Lessons: one click sets up a classroom experiment, trains it and opens the page that shows it."""

from rnnviz.app.entry import via_app

via_app()


import streamlit as st

from rnnviz import charts
from rnnviz.app import classroom, views
from rnnviz.core.models import GATE_NAMES
from rnnviz.studies.lesson_attention import LENGTHS
from rnnviz.studies.lessons import LESSONS, Lesson
from rnnviz.studies.sentiment import DISTANCE_BIN

_COUNT_WORDS = {8: "Eight", 9: "Nine", 10: "Ten", 11: "Eleven", 12: "Twelve"}


def _start(lesson: Lesson) -> None:
    classroom.start_lesson(lesson)
    if classroom.lesson_runs(lesson) is not None:
        classroom.open_lesson_page(lesson)  # everything was cached: open at once
    st.query_params["lesson"] = lesson.key
    st.rerun()


def _start_words(lesson: Lesson) -> tuple[bool, str]:
    ready = classroom.lesson_runs(lesson) is not None
    count = len(lesson.runs)
    words = ("Already trained on this server: opens at once." if ready else
             f"Trains {count} small model{'s' if count > 1 else ''}, then opens "
             f"{lesson.page_title}.")
    return ready, words


def start_button(lesson: Lesson, key: str, primary: bool = True) -> None:
    ready, words = _start_words(lesson)
    label = "Start lesson" if not ready else f"Start lesson: open {lesson.page_title}"
    if st.button(label, key=key, icon=":material/play_arrow:",
                 type="primary" if primary else "secondary", help=words):
        _start(lesson)


@st.fragment(run_every=0.5)
def progress(lesson: Lesson) -> None:
    """Each run's progress; when every run is done the whole page reruns and opens the lesson."""
    rows = classroom.lesson_progress(lesson)
    if all(done >= 1.0 for _, done, _ in rows) or classroom.lesson_failed(lesson):
        st.rerun(scope="app")
    for label, done, words in rows:
        st.progress(done, text=f"**{label}**: {words}")


def _history_pairs(runs, labels):
    return {label: runs[label].history for label in labels}


def titled(figure, title: str):
    """A shared chart builder's figure with a title that says what this lesson compares."""
    figure.update_layout(title_text=title)
    return figure


def outcome_charts(lesson: Lesson, runs, outcome) -> None:
    """The charts that show a lesson's measured outcome side by side."""
    key = lesson.key
    chance = next(iter(runs.values())).chance
    if key == "recurrence":
        views.chart(charts.per_step_lines(
            {"with its memory": outcome.arrays["with_memory"],
             "memory wiped before every step": outcome.arrays["without_memory"]},
            "Forecast error at each step of the sequence (validation set)", "mean squared error",
            reference=("chance", chance.loss)),
            "The same trained weights, read two ways. At t = 0 there is no past and both lines "
            "start together; with its memory the RNN's error drops within a few steps, "
            "without it the error stays high for the whole sequence.", key="lesson_chart_1")
    elif key == "vanishing":
        left, right = st.columns(2)
        with left:
            views.chart(titled(charts.compare_loss_chart(
                _history_pairs(runs, ("T = 20", "T = 50")), chance),
                "Training loss at 20 and at 50 steps"),
                        "Same network, same training; only the sequence length differs.",
                        key="lesson_chart_1")
        with right:
            views.chart(titled(charts.compare_gradient_chart(outcome.arrays),
                               "Gradient reaching each step, after training"),
                        r"$\|\partial L/\partial h_t\|$ of the trained networks on the probe "
                        "batch (log scale). "
                        "Read each line from its right end (the last step) to the left.",
                        key="lesson_chart_2")
    elif key == "exploding":
        left, right = st.columns(2)
        for column, label in zip((left, right), ("no clipping", "clipping at 1")):
            with column:
                run = runs[label]
                views.chart(titled(charts.grad_norm_over_training(run.history, run.config.clip),
                                   f"{label}: gradient norm before clipping"),
                            f"**{label}**: the total gradient norm at each step, before "
                            "clipping (log scale).", key=f"lesson_grad_{label}")
        views.chart(titled(charts.compare_loss_chart(
            _history_pairs(runs, ("no clipping", "clipping at 1")), chance),
            "Training loss with and without clipping"),
                    "Training loss of both runs (log scale): the unclipped run ends where the "
                    "loss overflows.", key="lesson_chart_1")
    elif key == "lstm":
        units = outcome.arrays
        carrier = int(outcome.numbers["carrier"])
        left, right = st.columns(2)
        with left:
            views.chart(charts.unit_bars(
                units["correlation"], [carrier], "How well each unit's cell state holds the "
                "first number", "correlation r", f"unit {carrier}: carries it", (-1.05, 1.05)),
                "Correlation, over 256 validation sequences, between $c_t$ halfway through and "
                "the first marked value.", key="lesson_chart_1")
        with right:
            views.chart(charts.unit_bars(
                units["forget"], [carrier], "Mean forget gate while the number must be kept",
                "mean f_t", f"unit {carrier}", (0, 1.05)),
                "$f_t$ averaged over the steps after the first marker. 1 keeps the cell's value "
                "exactly.", key="lesson_chart_2")
    elif key == "gru":
        from rnnviz.studies.lesson_measures import parameter_breakdown
        left, right = st.columns(2)
        with left:
            views.chart(charts.parameter_count_chart(
                {label: parameter_breakdown(runs[label]) for label in ("LSTM", "GRU")}),
                f"LSTM: {len(GATE_NAMES['lstm'])} blocks (i, f, g, o) of input and recurrent "
                f"weights; GRU: {len(GATE_NAMES['gru'])} (r, z, n).", key="lesson_chart_1")
        with right:
            views.chart(charts.compare_loss_chart(_history_pairs(runs, ("LSTM", "GRU")), chance),
                        "Training loss of both cells on the same data.", key="lesson_chart_2")
    elif key == "init":
        left, right = st.columns(2)
        with left:
            views.chart(titled(charts.compare_gradient_chart(outcome.arrays),
                               "Gradient reaching each step at initialization"),
                        r"Before any training: $\|\partial L/\partial h_t\|$ of each start on "
                        "the probe batch.",
                        key="lesson_chart_1")
        with right:
            views.chart(titled(charts.compare_loss_chart(
                _history_pairs(runs, ("identity", "orthogonal", "default")), chance),
                "Training loss from each start"),
                "Training loss from each start.", key="lesson_chart_2")
    elif key == "negation":
        curves = {label: {"start": outcome.arrays[f"{label} start"],
                          "accuracy": outcome.arrays[label],
                          "count": outcome.arrays[f"{label} count"]}
                  for label in ("vanilla RNN", "LSTM")}
        views.chart(charts.distance_accuracy_chart(curves, DISTANCE_BIN),
                    "Each point: the fresh validation sentences whose deciding negation has that "
                    "many words after it, and the share each model got right.",
                    key="lesson_chart_1")
    elif key == "speech":
        views.chart(charts.measured_bars(
            {label: 100 * outcome.numbers[name] for label, name in (
                ("LSTM", "lstm_acc"), ("vanilla RNN", "rnn_acc"),
                ("LSTM, new voice", "new_voice_acc"))},
            "Share of the test recordings named right", "% named right",
            reference=("guessing", 10.0)),
            "FSDD's own test split for the LSTM and the vanilla RNN (voices heard in training); "
            "all recordings of the held-out speaker for the LSTM that never heard that voice.",
            key="lesson_chart_1")
    elif key == "attention":
        n = outcome.numbers
        left, right = st.columns(2)
        with left:
            views.chart(charts.bottleneck_chart(
                [{"length": length, "attention": kind, "exact match": n[f"{name}_{length}"]}
                 for length in LENGTHS for kind, name in (("none", "plain"),
                                                         ("additive", "attention"))]),
                "Exact match of free decoding on each run's validation set, the same budget "
                "at every length.", key="lesson_chart_1", of_step=False)
        with right:
            views.chart(charts.encoder_gradient_chart(
                {label: outcome.arrays[label]
                 for label in ("with attention", "without attention")}, 0),
                f"The initial weights, {LENGTHS[-1]} letters: the gradient on the probe batch "
                "at every source step (log scale).", key="lesson_chart_2", of_step=False)
    elif key == "overfitting":
        left, right = st.columns(2)
        for column, label in zip((left, right), ("16 examples", "weight decay")):
            with column:
                run = runs[label]
                views.chart(titled(charts.loss_curves(run.history, chance, run.task.metric_name,
                                                      run.task.higher_is_better),
                                   f"{label}: training vs validation"),
                            "Training (thin line) and validation (dots) loss and accuracy.",
                            key=f"lesson_loss_{label}")


def detail(lesson: Lesson) -> None:
    st.header(f"{lesson.number} · {lesson.title}")
    st.markdown(lesson.summary)
    if classroom.lesson_starting_key() == lesson.key:
        st.info(f"Training this lesson's runs; {lesson.page_title} opens when they are done.",
                icon=":material/hourglass_top:")
        progress(lesson)
    else:
        start_button(lesson, key=f"start_detail_{lesson.key}")
        st.caption(_start_words(lesson)[1])
    runs = classroom.lesson_runs(lesson)
    left, right = st.columns(2, gap="large")
    with left:
        st.markdown(f"**Look at** ({lesson.page_title}): {lesson.look_at_for(runs)}")
    with right:
        st.markdown(f"**Ask the class:** {lesson.question}")
    st.subheader("What the runs measured")
    if runs is None:
        st.markdown(f"*Not trained on this server yet.* The claim: {lesson.claim}")
    else:
        outcome = lesson.outcome(runs)
        for fact in outcome.facts:
            st.markdown(f"- {fact}")
        if not outcome.holds:
            st.warning("These runs did not show the lesson's claim as clearly as expected "
                       f"({lesson.claim}). Every run is real, so this can happen after a "
                       "change of library version; the numbers above are what happened.",
                       icon=":material/science:")
        outcome_charts(lesson, runs, outcome)
    st.subheader("Explanations")
    classroom.explanations(lesson.topics[:1], expanded=True)
    classroom.explanations(lesson.topics[1:], expanded=classroom.is_on())
    with st.expander("The exact settings", icon=":material/tune:"):
        for label, cfg in lesson.runs:
            changed = {k: v for k, v in cfg.to_dict().items()
                       if v != getattr(type(cfg)(), k)}
            st.markdown(f"**{label}**: " + ", ".join(f"`{k}={v}`" for k, v in changed.items()))


def lesson_list(selected: Lesson | None) -> None:
    if selected is not None:
        st.subheader("All lessons")
    lessons = list(LESSONS.values())
    # a row of two at a time: where a phone stacks the columns, the cards still read 1, 2, 3...
    # (two columns of four stacked into 1, 3, 5, 7, 2, 4, 6, 8)
    for row in range(0, len(lessons), 2):
        columns = st.columns(2, gap="medium")
        for column, lesson in zip(columns, lessons[row:row + 2]):
            _card(column, lesson, selected)


def _card(column, lesson: Lesson, selected: Lesson | None) -> None:
    """One lesson in the list: its title, summary, Start and a link to its notes."""
    with column.container(border=True, key=f"lesson_card_{lesson.key}"):
        st.markdown(f"**{lesson.number} · {lesson.title}**")
        st.markdown(lesson.summary)
        with st.container(horizontal=True, vertical_alignment="center"):
            start_button(lesson, key=f"start_{lesson.key}",
                         primary=selected is None or selected.key == lesson.key)
            st.page_link("pages/lessons.py", label="Notes and results",
                         icon=":material/menu_book:",
                         query_params={"lesson": lesson.key, **classroom.query_params()})
        st.caption(_start_words(lesson)[1])


st.title("Lessons")
selected = LESSONS.get(st.query_params.get("lesson"))
starting = LESSONS.get(classroom.lesson_starting_key())
if starting is not None and classroom.lesson_runs(starting) is not None:
    classroom.open_lesson_page(starting)  # its runs finished: open the page it is about
if starting is not None and classroom.lesson_failed(starting):
    st.error("A run of this lesson could not be trained; press Start lesson to try again.",
             icon=":material/error:")
    classroom.end_lesson()
    starting = None
if selected is None and starting is not None:
    selected = starting
if selected is None:
    st.markdown(
        f"{_COUNT_WORDS.get(len(LESSONS), len(LESSONS))} short experiments, each one click "
        "away: the button sets the configuration, "
        "trains the models (or reuses them at once if this server has already trained them) "
        "and opens the page that shows the effect, with what to look at and a question for the "
        "class. **Notes and results** shows what the runs measured and the explanation.")
else:
    detail(selected)
    st.divider()
lesson_list(selected)

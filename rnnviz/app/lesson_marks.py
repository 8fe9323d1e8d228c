"""What the active lesson's text points at, on the page it opens: the chart it means and the
unit, training step or time steps it names, marked on that chart. When the lesson opens its
page, and when the banner switches the lesson's run, the page scrolls (once) just enough for
that chart to be whole on the screen under the banner, which stays at the top. A marked unit
comes from the lesson's own measurement (``Outcome.numbers`` of
``rnnviz.studies.lesson_checks``), never from the text; marked time steps from the task's rule.
"""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from rnnviz.core.train import Run
from rnnviz.studies.lessons import Lesson

from . import classroom, state

# the chart (its key on the lesson's page) that each lesson's "Look at" starts with
REFERRED_CHART = {"recurrence": "sequence", "vanishing": "profile", "exploding": "loss_curves",
                  "lstm": "gate_f", "gru": "gate_z", "init": "probe",
                  "overfitting": "loss_curves", "negation": "sentiment_decision",
                  "speech": "speech_recording_chart", "attention": "tr_gradients"}
MARK_COLOR = "#111111"
SCROLL = classroom.SCROLL  # set when a lesson's page opens: bring its chart into view, once

# Scrolls the main area just enough that the chart is whole on the screen, never so far that
# its top goes under the lesson banner (sticky at the top, see ``classroom.BANNER_CSS``; where it
# is not sticky, under Streamlit's header), and back up when the chart is above the screen.
# Waits until the chart is drawn and the page above it has stopped moving (fonts, equations,
# the end of the script run).
_SCROLL_JS = """<script>
(() => {
  let last = null, still = 0;
  const bring = (tries) => {
    const chart = document.querySelector(".st-key-CHART .js-plotly-plot");
    const top = chart ? chart.getBoundingClientRect().top : null;
    // still: the same place three times running, with the script done (the rerun that a
    // run switch started removes the other run's elements at its end, moving the chart)
    const done = document.querySelector("[data-testid='stApp']")
      .getAttribute("data-test-script-state") === "notRunning";
    still = chart && done && last !== null && Math.abs(top - last) < 1 ? still + 1 : 0;
    last = top;
    if (still < 3) { if (tries < 80) setTimeout(() => bring(tries + 1), 150); return; }
    const main = document.querySelector("[data-testid='stMain']");
    const banner = document.querySelector(".st-key-lesson_banner");
    const wrapper = banner && banner.closest("[data-testid='stLayoutWrapper']");
    const stuck = wrapper && getComputedStyle(wrapper).position === "sticky";
    const header = document.querySelector("[data-testid='stHeader']");
    const below = (stuck ? banner.getBoundingClientRect().bottom
                   : header ? header.getBoundingClientRect().bottom : 60) + 8;
    const box = chart.closest(".st-key-CHART").getBoundingClientRect();
    const by = box.top < below ? box.top - below
                               : Math.min(box.top - below, box.bottom + 8 - window.innerHeight);
    if (main && by !== 0 && (by < 0 || box.bottom > window.innerHeight))
      main.scrollBy({top: by, behavior: "instant"});
  };
  bring(0);
})();
</script>"""


@dataclass(frozen=True)
class Mark:
    """A row (``axis="y"``) or a column (``axis="x"``) of a chart to outline: ``at`` its centre
    on that axis, ``half`` half its width, ``text`` the label drawn beside it."""

    chart: str
    at: float
    half: float
    text: str
    first_row: bool = False  # the label goes under the row (above it is the chart's title)
    axis: str = "y"
    label_below: bool = False  # a column's label at the plot's foot, not its head


def first_marker_steps(seq_len: int) -> tuple[int, int]:
    """The time steps where the adding problem puts its first marked number: the first half of
    the sequence (``core.tasks.AddingTask.sample``)."""
    return 0, max(seq_len // 2, 1) - 1


def lesson_marks(lesson: Lesson, runs: dict[str, Run], run: Run) -> list[Mark]:
    """The marks of ``lesson`` on the page showing ``run`` (one of ``runs``)."""
    if lesson.key == "recurrence":  # the question compares these two steps
        return [Mark("sequence", 0, 0.5, "t = 0: no past yet", axis="x"),
                Mark("sequence", 2, 0.5, "t = 2", axis="x", label_below=True)]
    if lesson.key == "vanishing":  # where the number the question asks about can be
        first, last = first_marker_steps(run.config.seq_len)
        return [Mark("profile", (first + last) / 2, (last - first + 1) / 2,
                     f"the first marked number: somewhere in steps {first}–{last}", axis="x")]
    if lesson.key == "lstm":
        unit = int(lesson.outcome(runs).numbers["carrier"])
        return [Mark("gate_f", unit, 0.5, f"unit {unit} carries the first number",
                     first_row=unit == 0)]
    if lesson.key == "init":
        steps = run.history.probe_step
        if len(steps) == 0:
            return []
        half = (float(steps[1]) - float(steps[0])) / 2 if len(steps) > 1 else 0.5
        return [Mark("probe", float(steps[0]), half,
                     f"training step {int(steps[0])}: the initial weights", first_row=True)]
    return []


def active_marks() -> list[Mark]:
    """The marks of the session's active lesson, on its page, once its runs are trained."""
    lesson = classroom.active_lesson()
    run = state.current_run()
    if lesson is None or run is None or not classroom.lesson_in_view(lesson):
        return []
    script, _ = classroom.current_page()
    runs = classroom.lesson_runs(lesson)
    if (script is not None and script != lesson.page) or runs is None:
        return []
    return lesson_marks(lesson, runs, run)


def draw(figure, marks: list[Mark]) -> None:
    """Outline each mark's row (or column) across the whole plot, with its label beside it."""
    for m in marks:
        label = dict(showarrow=False, text=f"<b>{m.text}</b>", bgcolor="rgba(255,255,255,0.85)",
                     font=dict(size=13, color=MARK_COLOR))
        if m.axis == "x":  # a column: time steps, read left to right
            figure.add_shape(type="rect", xref="x", x0=m.at - m.half, x1=m.at + m.half,
                             yref="y domain", y0=0, y1=1, layer="above",
                             line=dict(color=MARK_COLOR, width=2, dash="dot"))
            figure.add_annotation(xref="x", x=m.at - m.half, xanchor="left", yref="y domain",
                                  y=0.01 if m.label_below else 0.99,
                                  yanchor="bottom" if m.label_below else "top", **label)
            continue
        # a box around the row, not on it: the row's own colours stay readable
        top, bottom = m.at - 1.8 * m.half, m.at + 1.8 * m.half
        figure.add_shape(type="rect", xref="x domain", x0=-0.01, x1=1.01, yref="y", y0=top,
                         y1=bottom, line=dict(color=MARK_COLOR, width=2), layer="above")
        # the charts draw y downwards (unit 0, step 0 at the top): ``top`` is above the row
        figure.add_annotation(
            xref="x domain", x=0.01, yref="y", y=bottom if m.first_row else top,
            yanchor="top" if m.first_row else "bottom", xanchor="left", **label)


def mark(figure, key: str | None) -> None:
    """``views.chart``'s hook: the active lesson's marks that belong to the chart ``key``;
    on the first drawing of the lesson's page, its chart brought into view."""
    if key is None:
        return
    draw(figure, [m for m in active_marks() if m.chart == key])
    lesson = classroom.active_lesson()
    if lesson is not None and st.session_state.get(SCROLL) == lesson.key \
            and REFERRED_CHART.get(lesson.key) == key:
        del st.session_state[SCROLL]
        st.sidebar.html(_SCROLL_JS.replace("CHART", key), unsafe_allow_javascript=True)

"""Small pieces every page shares: the sidebar run summary, the "train a model first" invitation,
layer and example pickers, and one way to draw a chart with its reading guide."""

from __future__ import annotations

import streamlit as st

# the Hidden states panel of a model from outside (task "own"): registered on import
from rnnviz.charts.style import set_title
from rnnviz.core.own_model import LOSSES, OwnModelRun
from rnnviz.core.recorded import RecordedRun
from rnnviz.core.tasks import TASKS
from rnnviz.core.train import Run
from rnnviz.studies import run_notes

from . import classroom, lesson_marks, rewind, state
from .runs_ui import trace_download

PLAYGROUND = "pages/playground.py"
TRANSLATION = "pages/translation.py"
CELL_NAMES = {"rnn": "Vanilla RNN", "lstm": "LSTM", "gru": "GRU"}


def describe_run(run: Run) -> str:
    cfg = run.config
    return f"{CELL_NAMES[cfg.cell]} · {run.task.title} · T={cfg.seq_len}"


def _format(value: float | None, name: str) -> str:
    if value is None:
        return "–"
    return f"{value:.1%}" if name == "accuracy" else f"{value:.4g}"


SIDEBAR_REFRESH_S = 1.0


def _job_progress() -> None:
    """The sidebar's line about the session's training job; when the job is over, the whole page
    is redrawn so that the sidebar shows the run it produced."""
    job = state.current_job()
    if job is None:
        st.rerun()
    p = job.progress
    if p.state == "queued":
        st.info(":material/hourglass_top: Queued: every training worker is busy; your run "
                "starts when one is free." if state.shared_mode() else
                ":material/hourglass_top: Queued: the server is busy; your run starts "
                "when a slot frees up.")
    elif p.state == "waiting":  # shared mode: no worker yet, or the shared store is away
        st.warning(f":material/hourglass_top: {(p.error or 'waiting').capitalize()}. Your "
                   "run starts by itself as soon as it can.")
    else:
        st.caption(f"Training {CELL_NAMES[job.cfg.cell]} on {TASKS[job.cfg.task].title}")
        if classroom.current_page()[0] == PLAYGROUND:
            # one progress figure on a page: the Playground's own bar, beside its pictures
            # (two bars redrawn a second apart disagreed: step 151 against 201)
            st.caption("Its progress is on the page.")
        else:
            state.progress_bar(job, "Progress")


def sidebar_summary() -> None:
    """Every page: what is trained (or training) now, or an invitation to train."""
    with st.sidebar:
        job = state.current_job()
        run = state.current_run()
        if job is not None:
            # redrawn on its own while the job trains, whatever the page: the page's own live
            # view updates only the main area, and the sidebar must say the same step
            st.fragment(_job_progress, run_every=SIDEBAR_REFRESH_S)()
        elif isinstance(run, RecordedRun):  # the learner's own loop, recorded
            st.markdown(f"**Current model**  \n{describe_run(run)}")
            st.caption(f"Recorded from your own training loop ({len(run.snapshot_steps)} "
                       "snapshots) · the inside pages' gradients are of the mean square of "
                       "the last hidden state on your probe; your own loss's profile is "
                       "`rnnviz.show(run, 'gradients')`")
        elif isinstance(run, OwnModelRun):  # nothing trained here: no scores, no chance
            st.markdown(f"**Current model**  \n{describe_run(run)}")
            st.caption(f"Uploaded, not trained here · loss: {LOSSES[run.loss].phrase}")
        elif run is not None:
            summary = run.summary()
            name = summary["metric_name"]
            st.markdown(f"**Current run**  \n{describe_run(run)}")
            st.markdown(
                f"step **{summary['steps']}** · val {name} "
                f"**{_format(summary['val_metric'], name)}**"
                f" vs chance {_format(summary['chance_metric'], name)}  \n"
                f"loss {_format(summary['loss'], 'loss')} vs chance "
                f"{_format(summary['chance_loss'], 'loss')}")
            if "exploded" in summary["stop_reason"]:
                st.error("This run exploded (see Playground).", icon=":material/warning:")
        else:
            st.caption("No model yet.")
            st.page_link(PLAYGROUND, label="Train one in the Playground",
                         icon=":material/play_arrow:")


def require_run() -> Run | None:
    """The session's run, or an invitation to train one (and None)."""
    run = state.current_run()
    if run is None:
        job = state.current_job()
        if job is not None:
            st.info("A model is training right now; this page fills in when it finishes.",
                    icon=":material/hourglass_top:")
            classroom.training_progress()  # what makes the sentence above true
        else:
            st.info("Nothing to look inside yet: train a model first.",
                    icon=":material/waving_hand:")
        st.page_link(PLAYGROUND, label="Go to the Playground", icon=":material/play_arrow:")
        return None
    if getattr(run.model, "seq2seq", False):
        # lesson 10 makes a translation run the session's run: these pages replay one cell's
        # trace, which an encoder-decoder does not have (they raised AttributeError 'embed')
        st.info(f"The current run is a translation model ({run.task.title}: an encoder and a "
                "decoder), which this page cannot look inside. The Translation page shows its "
                "attention, states and gradients.", icon=":material/translate:")
        st.page_link(TRANSLATION, label="Go to the Translation page",
                     icon=":material/translate:")
        return None
    if isinstance(run, OwnModelRun):
        loss = LOSSES[run.loss]
        st.info(f"**{run.task.title}**: {run.task.inputs}. It was not trained here, so there "
                "is no training history (charts over training stay empty) and no chance "
                "level. Every gradient is that of the loss chosen on the Playground, "
                f"{loss.phrase}: {loss.words}", icon=":material/upload_file:")
    elif run.history.steps_done == 0:
        st.warning("This run stopped before its first training step, so the model is still "
                   "at its initial weights.")
    return run


def pick_layer(run: Run, container=st) -> int:
    layers = run.config.num_layers
    if layers == 1:
        return 0
    return container.segmented_control("Layer", list(range(layers)), default=layers - 1,
                                       format_func=lambda index: f"layer {index}", key="layer") or 0


def pick_example(container=st, button_container=None) -> int:
    """Which example of the current batch to show (16 of them, or fewer for a model from
    outside with fewer sequences), and a button for new ones (in ``button_container``, else
    beside the slider in ``container``)."""
    if button_container is None:
        left, right = container.columns([3, 1], vertical_alignment="bottom")
    else:
        left, right = container, button_container
    run = state.current_run()
    count, more = state.batch_shape(run)
    if st.session_state.get("example", 0) >= count:  # a smaller batch than the last run's
        st.session_state["example"] = count - 1
    index = 0
    if count > 1:
        index = left.slider("Example", 0, count - 1, 0, key="example",
                            help=f"One of the {count} examples of the batch being inspected.")
    else:
        left.caption("One example: the only sequence there is.")
    if not isinstance(run, OwnModelRun):
        new_help = "Draw a fresh batch of 16 examples from the validation distribution."
    elif run.input_task is not None:
        new_help = "Draw 16 fresh inputs from the task."
    else:
        new_help = ("The next 16 of your sequences (after the last, the first again)." if more
                    else "Every one of your sequences is shown already.")
    if right.button("New examples", icon=":material/casino:", key="new_examples", width="stretch",
                    disabled=not more, help=new_help):
        state.new_example_batch()
    return index


def inspection_controls(run: Run, jacobians: bool = True):
    """Layer and example pickers over the run's trace, and the trace as a CSV download:
    ``(layer, example, trace, x, y)``; ``jacobians=False`` for a page that draws no Jacobian
    norm (``state.run_trace``)."""
    layered = run.config.num_layers > 1  # no empty slot for a layer picker with one layer
    controls = st.columns([1.2, 3, 1.1, 1.1] if layered else [3, 1.1, 1.1],
                          vertical_alignment="bottom")
    layer = pick_layer(run, controls[0]) if layered else 0
    example = pick_example(*controls[-3:-1])
    tr, x, y = state.run_trace(run, jacobians=jacobians)
    with controls[-1]:
        trace_download(run, key="download_trace_here")
    return layer, example, tr, x, y


def chart(figure, how_to_read: str = "", key: str | None = None, of_step: bool = True) -> None:
    """A plotly or altair figure with a one- or two-sentence reading guide under it. On a page
    with a "Training step" slider, a figure of the model at that step (``of_step``) says which
    step in its title; figures of the whole training (``of_step=False``) do not."""
    label = rewind.step_label()
    if label and of_step and hasattr(figure, "to_plotly_json"):
        title = figure.layout.title.text or ""
        # on a line of its own: appended, it overflowed the titles of half-width charts
        # wrapped, the top margin grown for the added line (plotly would draw it over the plot)
        set_title(figure, f"{title}<br><sup>{label}</sup>" if title else label)
    if hasattr(figure, "to_plotly_json"):
        lesson_marks.mark(figure, key)  # what the active lesson's text names, on its chart
        st.plotly_chart(classroom.projector_figure(figure), width="stretch", key=key)
    else:
        st.altair_chart(classroom.projector_figure(figure), width="stretch", key=key)
    rewind.chart_drawn()
    if how_to_read:
        st.caption(how_to_read)


def explode_explanation(run: Run) -> None:
    """The red box of an exploded run: what its loss did and which weights it kept, in its own
    numbers (``rnnviz.studies.run_notes``)."""
    reason = run.history.stop_reason.split(":")[0]
    st.error(
        f"**The run exploded:** {reason}. {run_notes.explosion_story(run.history)} This is the "
        "*exploding gradient* problem: back-propagation multiplies by the recurrent Jacobian "
        "once per time step, and where those factors are above 1 the product grows "
        "exponentially with the number of steps.", icon=":material/warning:")
    st.markdown(run_notes.kept_weights_note(run.history))
    st.markdown("**Try:** turn on *gradient clipping* (e.g. 1.0), lower the *learning rate*, "
                "or lower the *recurrent spectral radius* below 1.")

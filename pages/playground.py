"""Playground: configure a run, train it live, stop or reset it, and look inside it.

One screen, as a learner expects of a playground: the controls on the left, and on the right
the loss and the inside of the network, while the run trains and after it (stacked on a
phone, where Train scrolls to the live view). Classroom mode hides the controls and gives the
pictures the whole width.
"""

from rnnviz.app.entry import via_app

via_app()


import streamlit as st

from rnnviz import charts
from rnnviz.app import (
    classroom,
    data_ui,
    live_ui,
    own_model_ui,
    rewind,
    runs_ui,
    state,
    views,
    widgets,
)
from rnnviz.core.config import SEQ2SEQ_TASKS, is_data_task
from rnnviz.core.history import History
from rnnviz.core.inspect import OWN_TASK
from rnnviz.core.tasks import TASKS
from rnnviz.studies import run_notes
from rnnviz.studies.verdict import run_verdict

# how often the live view redraws: the run trains in a worker process, but on a small server the
# browser drawing five charts and the server building them share the cores with it (measured on
# 2 cores: 376 steps/s in the browser at 0.5 s against 488 on the command line; 461 against 516
# at 1 s)
LIVE_REFRESH_S = 1.0
LOSS_HEIGHT = 320  # as the live loss curve: the inside grid's first row stays in view
SCROLL_TO_LIVE = "scroll_to_live"  # set by Train: a phone scrolls to the live view once

st.title("Playground")
widgets.show_link_warnings()
hidden = classroom.controls_hidden()
live_ui.no_fade()
if hidden:  # a projector shows results, not set-up: the pictures take the whole width
    controls, output = None, st.container()
else:
    controls, output = st.columns([1, 2.1], gap="medium")


def _try(cfg) -> None:
    """A next step's button: its settings into the form, and train them."""
    classroom.apply_config(cfg)
    state.start_training(cfg)
    st.session_state[SCROLL_TO_LIVE] = True


def _train(cfg) -> str | None:
    """Train pressed (the form's callback, before the page runs: the sidebar drawn next
    already shows the job); "Your own data" below can swap in the learner's series."""
    problem = data_ui.apply(cfg)
    if problem is None:
        state.start_training(cfg)
        st.session_state[SCROLL_TO_LIVE] = True
    return problem


def control_column() -> None:
    """The finished run's result on top (in view beside its pictures), then the settings,
    Train, Stop, Reset and the link for students."""
    st.caption("Pick a task and a cell, press **Train**, and watch the network learn. Every "
               "setting is in the page's address: copy it to share this exact experiment.")
    finished = state.current_run() if state.current_job() is None else None
    if (finished is not None and not own_model_ui.is_own_model(finished)
            and finished.config.task not in SEQ2SEQ_TASKS):
        with st.container(border=True, key="result"):
            result_summary(finished)
            next_steps(finished)
    widgets.config_form(_train, narrow=True)
    job = state.current_job()
    buttons = st.columns(2)
    if buttons[0].button("Stop", icon=":material/stop:", disabled=job is None,
                         width="stretch", key="stop",
                         help="Stop training now and keep what the model has learned."):
        state.stop_training()
        st.rerun()
    if buttons[1].button("Reset", icon=":material/restart_alt:", width="stretch", key="reset",
                         help="Forget the current model (the settings stay)."):
        state.reset()
        st.rerun()
    with st.popover("Link for students", icon=":material/link:", width="stretch"):
        widgets.share_link(widgets.link_for(state.config()),
                           "This link opens the Playground with the current configuration:",
                           widgets.link_caveat(state.config()))


def live_view() -> None:
    """Redrawn every LIVE_REFRESH_S from one snapshot of the job; hands over when training
    ends (the whole page is redrawn with the result, the sidebar included)."""
    job = state.current_job()
    if job is None:
        st.rerun()
        return
    with st.container(key="live_view"):
        snapshot = live_ui.job_snapshot(job)  # read once: every panel below is this moment
        p = job.progress
        if p.state == "queued" and state.shared_mode():  # other servers' runs: not counted
            st.info(":material/hourglass_top: Queued for the shared training workers: they are "
                    "all busy with other runs. Yours starts as soon as one is free; below is "
                    "its network before training.")
        elif p.state == "queued":
            st.info(f":material/hourglass_top: Queued: {state.time_left(job)}. Your run "
                    "starts as soon as a slot frees up; below is its network before training.")
        else:
            state.progress_bar(job, "Training")
        # before the worker's first step an empty loss panel: the board keeps its layout
        history = job.history or History(job.cfg.steps, job.cfg.eval_every, job.cfg.seq_len)
        loss = charts.live_loss_figure(history, job.chance, TASKS[job.cfg.task].metric_name)
        live_ui.live_inside(job, snapshot, loss)


def result_summary(run) -> None:
    """What the finished run reached, against chance, and the verdict; next steps for a run
    that fell short (below the charts in classroom mode: the class looks at the chart)."""
    task = TASKS[run.config.task]
    summary, chance = run.summary(), run.chance
    st.markdown(f"**{views.describe_run(run)}**")
    reason = summary["stop_reason"]
    if "exploded" in reason:
        views.explode_explanation(run)
    elif reason != "finished":
        st.info(f"Training ended early: {reason}. {run_notes.kept_weights_note(run.history)}")
    name = task.metric_name
    fmt = (lambda v: f"{v:.1%}") if name == "accuracy" else (lambda v: f"{v:.4f}")
    verdict = run_verdict(run)
    top = st.columns(2)
    if summary["val_metric"] is not None:
        delta = summary["val_metric"] - chance.metric
        # percentage points next to a percentage; a run that learned nothing is not green
        top[0].metric(f"Validation {name}", fmt(summary["val_metric"]),
                      delta=(f"{100 * delta:+.1f} pp vs chance" if name == "accuracy"
                             else f"{delta:+.3g} vs chance"),
                      delta_color="off" if verdict is None or not verdict.beats_chance
                      else "normal" if task.higher_is_better else "inverse")
    top[1].metric(f"Chance {name}", fmt(chance.metric), help=chance.how)
    st.caption(f"{summary['steps']} steps in {summary['elapsed_s']:.1f} s "
               f"({summary['steps_per_s']:.0f} steps/s on {summary['device']})")
    if verdict is not None:
        # st.error stays for what went wrong with the app; a run that learned nothing is a
        # result, told plainly, not a failure of the page
        show = st.success if verdict.good else st.warning
        show(verdict.words, icon=":material/fact_check:" if verdict.beats_chance else
             ":material/do_not_disturb_on:")


def next_steps(run) -> None:
    """Fixes for a run that fell short: one that got most of the way (lesson 3's clipped run)
    is not presented as a failure."""
    verdict = run_verdict(run)
    if verdict is None or verdict.good:
        return
    for index, (label, suggestion) in enumerate(
            run_notes.next_steps(run.config, run.summary()["stop_reason"])):
        # a callback: it runs before the widgets are drawn, so it may set them
        st.button(f"Try: {label}", key=f"next_step_{index}", icon=":material/arrow_forward:",
                  on_click=_try, args=(suggestion,))


def finished_view(run) -> None:
    """The loss curves and the inside of the trained network at a snapshot the learner picks
    (the live grid, now with the Training step slider), and links to the pages that go
    deeper."""
    task = TASKS[run.config.task]
    chance = run.chance
    views.chart(charts.loss_curves(run.history, chance, task.metric_name,
                                   task.higher_is_better, height=LOSS_HEIGHT),
                "Thin: the training loss at every step; dots: the fixed validation set. Dashed: "
                f"chance, {chance.how}.", key="loss_curves", of_step=False)
    def draw(shown) -> None:  # the board at the slider's step; a notch reruns only this
        step = live_ui.chosen_step(run)
        live_ui.inside_grid(live_ui.run_snapshot(shown, step),
                            "Move the Training step slider to see the network at any snapshot, "
                            "or Replay training. Rows of the last panel are the snapshots up "
                            "to that step.")

    rewind.rewind(run, draw=draw)
    # one under another: side by side, a third of the column cut the labels short
    st.page_link("pages/hidden_states.py", label="Hidden states: what it remembers",
                 icon=":material/memory:")
    st.page_link("pages/gates.py", icon=":material/door_open:",
                 label="Gates: why a vanilla RNN has none" if run.config.cell == "rnn"
                 else "Gates: what it keeps and forgets")
    st.page_link("pages/gradients.py", icon=":material/trending_down:",
                 label="Gradients: how far back learning reaches")


def translation_elsewhere(cfg) -> bool:
    """A translation run or job (lesson 10 makes one the session's): the Playground's board and
    verdict are one cell's, which an encoder-decoder does not have, so it is shown where it is
    drawn, on the Translation page (it raised TypeError in the verdict's noise)."""
    if cfg is None or cfg.task not in SEQ2SEQ_TASKS:
        return False
    st.info(f"The current {'training' if state.current_job() else 'run'} is a translation "
            "model (an encoder and a decoder): the Translation page shows it. Press **Train** "
            "here to train a recurrent network of your own instead.",
            icon=":material/translate:")
    st.page_link("pages/translation.py", label="Go to the Translation page",
                 icon=":material/translate:")
    return True


def output_column() -> None:
    job = state.current_job()
    current = job.cfg if job is not None else getattr(state.current_run(), "config", None)
    if translation_elsewhere(current):
        return
    if job is not None:
        if st.session_state.pop(SCROLL_TO_LIVE, False):
            live_ui.scroll_into_view("live_view")
        st.fragment(live_view, run_every=LIVE_REFRESH_S)()
        return
    st.session_state.pop(SCROLL_TO_LIVE, None)
    run = state.current_run()
    if own_model_ui.is_own_model(run):
        own_model_ui.current_model_summary(run)
    elif run is not None:
        if hidden:
            result_summary(run)
        finished_view(run)
        if hidden:
            next_steps(run)
    elif hidden:
        st.info("No model yet. Classroom mode hides the settings: start a lesson from the "
                "Lessons page, or switch classroom mode off in the sidebar to train your own.",
                icon=":material/school:")
    else:
        st.info("No model yet: choose settings and press **Train**, and watch the network "
                "learn here.", icon=":material/arrow_back:")
        live_ui.before_training(widgets.form_config())


notice = state.take_notice()
if notice:
    getattr(st, notice[0])(notice[1])
if controls is not None:
    with controls:
        control_column()
with output:
    output_column()

if not hidden:
    runs_ui.server_caption()
    data_ui.own_data_section()
    own_model_ui.own_model_section()
    current = state.current_run() if state.current_job() is None else None
    # a model from outside was not trained here: it has no run file to save
    runs_ui.save_and_open_section(None if own_model_ui.is_own_model(current) else current)
    with st.expander("About the tasks"):
        for task in (t for t in TASKS.values()  # not uploads, not a model from outside
                     if not is_data_task(t.name) and t.name != OWN_TASK):
            st.markdown(f"**{task.title}** (`{task.name}`, {task.metric_name}). "
                        f"{task.description}")

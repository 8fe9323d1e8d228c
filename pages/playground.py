"""Playground: configure a run, train it live, stop or reset it."""

from rnnviz.app.entry import via_app

via_app()


import streamlit as st

from rnnviz import charts
from rnnviz.app import classroom, data_ui, live_ui, own_model_ui, runs_ui, state, views, widgets
from rnnviz.core.config import is_data_task
from rnnviz.core.inspect import OWN_TASK
from rnnviz.core.tasks import TASKS
from rnnviz.studies import run_notes
from rnnviz.studies.verdict import run_verdict

st.title("Playground")
st.markdown("Pick a task and a cell, press **Train**, and watch the network learn. Every "
            "setting is in the page's address: copy it to share this exact experiment.")
widgets.show_link_warnings()

cfg = None if classroom.controls_hidden() else widgets.config_form()
if cfg is not None:
    cfg = data_ui.apply(cfg)  # "Your own data" below can swap in the user's series
if cfg is not None:
    state.start_training(cfg)
    st.rerun()  # the sidebar, drawn before this, must show the run or job just started

notice = state.take_notice()
if notice:
    getattr(st, notice[0])(notice[1])

job = state.current_job()
buttons = st.columns([1, 1, 3])
if buttons[0].button("Stop", icon=":material/stop:", disabled=job is None, width="stretch",
                     key="stop",
                     help="Stop training now and keep what the model has learned."):
    state.stop_training()
    st.rerun()
if buttons[1].button("Reset", icon=":material/restart_alt:", width="stretch", key="reset",
                     help="Forget the current model (the settings stay)."):
    state.reset()
    st.rerun()
with buttons[2].popover("Link for students", icon=":material/link:", width="stretch"):
    widgets.share_link(widgets.link_for(state.config()),
                       "This link opens the Playground with the current configuration:",
                       widgets.link_caveat(state.config()))


# how often the live view redraws: the run trains in a worker process, but on a small server the
# browser drawing five charts and the server building them share the cores with it (measured on
# 2 cores: 376 steps/s in the browser at 0.5 s against 488 on the command line; 461 against 516
# at 1 s)
LIVE_REFRESH_S = 1.0


def live_view() -> None:
    """Redrawn a few times a second from the job's progress; hands over when training ends."""
    job = state.current_job()
    if job is None:
        st.rerun()  # finished: redraw the whole page (and the sidebar) with the result
        return
    p = job.progress
    if p.state == "queued":
        st.info(":material/hourglass_top: Queued for the shared training workers: they are "
                "all busy with other runs. Yours starts as soon as one is free."
                if state.shared_mode() else
                ":material/hourglass_top: Queued: other training jobs are using this "
                "server's slots. Your run starts as soon as one frees up.")
        return
    st.progress(p.step / max(p.total, 1), text=f"Training: step {p.step} of {p.total}")
    if job.history is not None:
        task = TASKS[job.cfg.task]
        st.plotly_chart(classroom.projector_figure(charts.live_loss_figure(
            job.history, job.chance, task.metric_name)), width="stretch", key="live_loss")
        live_ui.live_inside(job)


def _try(cfg) -> None:
    """A next step's button: its settings into the form, and train them."""
    classroom.apply_config(cfg)
    state.start_training(cfg)


if job is not None:
    st.fragment(live_view, run_every=LIVE_REFRESH_S)()
else:
    run = state.current_run()
    if own_model_ui.is_own_model(run):
        own_model_ui.current_model_summary(run)
    elif run is not None:
        task = TASKS[run.config.task]
        summary = run.summary()
        chance = run.chance
        st.subheader(views.describe_run(run))
        reason = summary["stop_reason"]
        if "exploded" in reason:
            views.explode_explanation(run)
        elif reason != "finished":
            st.info(f"Training ended early: {reason}. {run_notes.kept_weights_note(run.history)}")
        columns = st.columns(4)
        name = task.metric_name
        fmt = (lambda v: f"{v:.1%}") if name == "accuracy" else (lambda v: f"{v:.4f}")
        verdict = run_verdict(run)
        if summary["val_metric"] is not None:
            delta = summary["val_metric"] - chance.metric
            # percentage points next to a percentage; a run that learned nothing is not green
            columns[0].metric(f"Validation {name}", fmt(summary["val_metric"]),
                              delta=(f"{100 * delta:+.1f} pp vs chance" if name == "accuracy"
                                     else f"{delta:+.3g} vs chance"),
                              delta_color="off" if verdict is None or not verdict.beats_chance
                              else "normal" if task.higher_is_better else "inverse")
        columns[1].metric(f"Chance {name}", fmt(chance.metric), help=chance.how)
        columns[2].metric("Steps", f"{summary['steps']}")
        columns[3].metric("Speed", f"{summary['steps_per_s']:.0f} steps/s",
                          help=f"{summary['elapsed_s']:.1f} s on {summary['device']}")
        if verdict is not None:
            # st.error stays for what went wrong with the app; a run that learned nothing is a
            # result, told plainly, not a failure of the page
            show = st.success if verdict.good else st.warning
            show(verdict.words, icon=":material/fact_check:" if verdict.beats_chance else
                 ":material/do_not_disturb_on:")
            # fixes only for a run that fell short: one that got most of the way (lesson 3's
            # clipped run) is not presented as a failure
            if not verdict.good:
                tries = run_notes.next_steps(run.config, reason)
                for index, (label, suggestion) in enumerate(tries):
                    # a callback: it runs before the widgets are drawn, so it may set them
                    st.button(f"Try: {label}", key=f"next_step_{index}",
                              icon=":material/arrow_forward:", on_click=_try, args=(suggestion,))
        views.chart(charts.loss_curves(run.history, chance, name, task.higher_is_better),
                    "Left: the training loss at every step (thin) and on the fixed validation set "
                    "(dots); right: the task's score. The dashed line is chance: "
                    f"{chance.how}. A model that learned something sits well below it "
                    f"({'above it for accuracy' if task.higher_is_better else 'lower is better'}).",
                    key="loss_curves")
        gates = ("**Gates** why a vanilla RNN has none to keep anything with"
                 if run.config.cell == "rnn" else
                 f"**Gates** how the {views.CELL_NAMES[run.config.cell]} decides what to keep")
        st.markdown("Now look inside: **Hidden states** shows what the network remembers, "
                    f"{gates}, **Gradients** how far back the learning signal reaches.")
    elif classroom.controls_hidden():
        st.info("No model yet. Classroom mode hides the settings: start a lesson from the "
                "Lessons page, or switch classroom mode off in the sidebar to train your own.",
                icon=":material/school:")
    else:
        st.info("No model yet: choose settings above and press **Train**. The defaults train "
                "an LSTM on the adding problem in a few seconds.", icon=":material/arrow_upward:")

if not classroom.controls_hidden():  # a projector shows results, not set-up
    runs_ui.server_caption()  # under the result: a Train press's result is in the first screen
    data_ui.own_data_section()
    own_model_ui.own_model_section()
    current = state.current_run() if job is None else None
    # a model from outside was not trained here: it has no run file to save
    runs_ui.save_and_open_section(None if own_model_ui.is_own_model(current) else current)
    with st.expander("About the tasks"):
        for task in (t for t in TASKS.values()  # not uploads, not a model from outside
                     if not is_data_task(t.name) and t.name != OWN_TASK):
            st.markdown(f"**{task.title}** (`{task.name}`, {task.metric_name}). "
                        f"{task.description}")

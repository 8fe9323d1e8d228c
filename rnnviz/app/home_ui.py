"""The Home page's working model and its one-click experiments.

The Home page opens on a real run, ``recipes.HOME_RUN``: the first visit to a server submits it
to the server's ``JobRegistry`` (the same job and run cache every Train press uses), a progress
bar shows while it trains, in the background and without holding up the page, and every later
visit finds it in the cache. It is not the session's run until the visitor asks for it ("Look
inside this run"), so opening Home changes nothing for the other pages.

Each "thing to try" is one click: it applies its config (the Playground's widgets included),
starts training it (or reuses this server's run of it), and opens the page that shows the
effect. Streamlit does not switch pages inside a widget callback, so the callback leaves the
page to open in the session and ``follow_click`` switches on the next script run.
"""

from __future__ import annotations

import streamlit as st

from rnnviz import charts
from rnnviz.core.tasks import TASKS
from rnnviz.core.train import Run
from rnnviz.serve import limits
from rnnviz.serve.jobs import Job
from rnnviz.studies.recipes import HOME_RUN, Thing
from rnnviz.studies.verdict import run_verdict

from . import classroom, phone, state, views

HOME_JOB = "home_job"  # the Home run's job, while it trains (one watcher per session)
GO_TO = "home_go_to"  # the page a thing-to-try click opens


def home_run() -> Run | Job | None:
    """The Home run when it is trained; else the job training it (started on first call)."""
    run = state.registry().lookup(HOME_RUN)
    if run is not None:
        st.session_state.pop(HOME_JOB, None)
        return run
    job: Job | None = st.session_state.get(HOME_JOB)
    if job is None or (job.done and job.result is None):
        if job is not None and job.progress.state == "failed":
            return None  # said once, not retried on every rerun
        try:
            limits.check_job(HOME_RUN)  # a server set to train only tiny jobs trains none here
        except limits.JobTooLarge:
            return None
        result = state.registry().submit(HOME_RUN)
        if isinstance(result, Run):
            return result
        st.session_state[HOME_JOB] = job = result
    return job.result if job.done else job


@st.fragment(run_every=0.5)
def _progress() -> None:
    job: Job | None = st.session_state.get(HOME_JOB)
    if job is None or job.done:
        st.rerun(scope="app")
        return
    job.touch()
    state.progress_bar(job, "Training the example model")


def _look_inside() -> None:
    classroom.apply_config(HOME_RUN)
    state.start_training(HOME_RUN)  # finished on this server: taken at once
    state.take_notice()
    st.session_state[GO_TO] = "pages/hidden_states.py"


def working_model() -> None:
    """The Home run: its verdict, its loss curve and its hidden states (or its progress)."""
    found = home_run()
    if found is None:
        st.info("The example model is not trained on this server (its training failed, or "
                "the server's job size limit is below it); the Playground trains one.",
                icon=":material/info:")
        return
    if isinstance(found, Job):
        found.touch()  # this page looks at it (a job nobody looks at is stopped)
        st.caption(f"An {HOME_RUN.cell.upper()} on the {TASKS[HOME_RUN.task].title.lower()} "
                   "is training on this server; its charts appear here when it is done.")
        _progress()
        return
    run = found
    summary = run.summary()
    verdict = run_verdict(run)
    with st.container(horizontal=True, vertical_alignment="center"):
        st.markdown(f"**A network trained on this server:** {views.describe_run(run)}, "
                    f"{summary['steps']} training steps.")
        st.button("Look inside this run", icon=":material/arrow_forward:", key="home_inside",
                  on_click=_look_inside, type="primary",
                  help="Makes this the current run and opens Hidden states.")
    if verdict is not None:
        (st.success if verdict.good else st.warning)(
            verdict.words, icon=":material/fact_check:")
    task = run.task
    left, right = st.columns(2)
    with left:
        views.chart(charts.loss_curves(run.history, run.chance, task.metric_name,
                                       task.higher_is_better),
                    f"Training loss (thin) and validation loss (dots); the dashed line is "
                    f"chance: {run.chance.how}.", key="home_loss")
    with right:
        tr, _, _ = state.run_trace(run, batch_id=0)
        views.chart(charts.state_heatmap(tr.hidden[-1][0], "Hidden state h_t of example 0"),
                    "Each row a unit, each column a time step: what the network remembers "
                    "while it reads the sequence.", key="home_hidden")


def _try(thing: Thing) -> None:
    classroom.apply_config(thing.config)
    state.start_training(thing.config)
    state.take_notice()
    st.session_state[GO_TO] = thing.page


def try_button(thing: Thing) -> None:
    st.button(thing.label, key=f"try_{thing.key}", icon=":material/play_arrow:",
              on_click=_try, args=(thing,),
              help="Sets this configuration (the Playground shows it), trains it (or reuses "
                   "this server's run) and opens the page that shows the effect.")


def follow_click() -> None:
    """Open the page a click on this page asked for (call first on the page)."""
    page = st.session_state.pop(GO_TO, None)
    if page is not None:
        st.switch_page(page, query_params=classroom.query_params())


# the diagram keeps its proportions (one data unit is as wide as it is high), so at a phone's
# width four unrolled steps shrink until their labels overlap: a phone gets two steps, drawn
# larger (CSS picks one of the two figures by the window's width)
DIAGRAM_CSS = """<style>
  .st-key-diagram_phone { display: none; }
  @media PHONE {
    .st-key-diagram { display: none; }
    .st-key-diagram_phone { display: block; }
  }
</style>""".replace("PHONE", phone.NARROW)


def diagram(how_to_read: str) -> None:
    """The recurrent loop folded and unrolled, four steps wide (two on a phone)."""
    st.html(DIAGRAM_CSS)
    views.chart(charts.unrolled_diagram(steps=4), key="diagram")
    views.chart(charts.unrolled_diagram(steps=2), key="diagram_phone")
    st.caption(how_to_read)

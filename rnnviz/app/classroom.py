"""Teaching glue: classroom mode, lessons in a session, links for students, explanations.

* **Classroom mode** (sidebar switch, or ``?classroom=1`` in any link): hides the controls a
  projector audience does not need (the Playground form, the layer/example/unit pickers) and
  enlarges text and charts. All of its CSS is in ``CLASSROOM_CSS``.
* **Lessons**: ``start_lesson`` applies a lesson's configuration (the Playground widgets
  included), trains its runs or reuses them from the server's cache, and ``open_lesson_page``
  switches to the page the lesson is about. While a lesson is active, its page shows a banner
  with what to look at, the question for the class, and a switch between the lesson's runs.
* **Links for students**: the current lesson as ``/lessons?lesson=key``, otherwise the current
  configuration on the current page (``widgets.link_for``), absolute when the browser told us
  the app's address.
"""

from __future__ import annotations

import streamlit as st

from rnnviz.core.config import FIELDS, RunConfig
from rnnviz.core.train import Run
from rnnviz.serve import pool
from rnnviz.serve.jobs import Job
from rnnviz.studies.explain import TOPICS
from rnnviz.studies.lessons import LESSONS, Lesson

from . import projector, state, widgets
from .projector import FIGURE_FONT_PX, TICK_FONT_PX  # noqa: F401  (read by tests)

CLASSROOM = "classroom_mode"  # session flag
_TOGGLE = "classroom_toggle"  # the sidebar switch's widget key
_URL_READ = "classroom_url_read"
ACTIVE = "lesson_active"  # key of the lesson this session is in
STARTING = "lesson_starting"  # key of a lesson whose runs are training before its page opens
JOBS = "lesson_jobs"  # label -> Job for the lesson's runs other than the current one
LESSONS_PAGE = "pages/lessons.py"
SCROLL = "lesson_scroll"  # read by lesson_marks: the lesson page's chart, brought into view
# The banner stays at the top while the page scrolls, so the question and the chart it is about
# are on the screen together: sticky on Streamlit's wrapper of the container (the container
# alone is as tall as its wrapper, so it had nowhere to stick). Compact, since whatever scrolls
# under it is hidden: one line of controls, the question in the text's own size (classroom mode
# makes paragraphs 1.35rem, and at 1280x720 the banner took 190 px). Where a sticky banner would
# hide too much of a small screen (a phone, a short window) it scrolls away with the page.
BANNER_STICKY = "(min-width: 641px) and (min-height: 601px)"
BANNER_CSS = ("<style>@media BANNER_STICKY { [data-testid='stLayoutWrapper']:has(> "
              ".st-key-lesson_banner) { position: sticky; top: 3.75rem; z-index: 10; } }"
              ".st-key-lesson_banner { background: #ffffff; padding: 0.35rem 0.75rem; "
              "row-gap: 0.2rem; }"
              "[data-testid='stMain'] .st-key-lesson_banner [data-testid='stMarkdownContainer'] p"
              " { font-size: 1.05rem; line-height: 1.35; }"
              "[data-testid='stMain'] .st-key-lesson_banner .katex { font-size: 1.1em; }"
              "</style>").replace("BANNER_STICKY", BANNER_STICKY)

# Everything classroom mode changes, in one place. Streamlit gives every keyed widget a
# ``st-key-<key>`` class: the pickers are hidden by their keys.
HIDDEN_KEYS = ("layer", "example", "new_examples", "units", "pca_dims", "config_form",
               "reset", "download_trace_here")
# keys that start so: the verdict's "Try: ..." buttons change the settings, which a projector
# hides, and they sat between the lesson banner and the chart it is about
HIDDEN_KEY_PREFIXES = ("next_step_",)
CLASSROOM_CSS = """
<style>
  /* a projector: bigger text everywhere */
  [data-testid="stMain"] [data-testid="stMarkdownContainer"] p,
  [data-testid="stMain"] [data-testid="stMarkdownContainer"] li { font-size: 1.35rem;
      line-height: 1.55; }
  [data-testid="stMain"] [data-testid="stCaptionContainer"] { font-size: 1.15rem; }
  [data-testid="stMain"] h1 { font-size: 3.1rem; }
  [data-testid="stMain"] h2, [data-testid="stMain"] h3 { font-size: 2.1rem; }
  [data-testid="stMain"] .katex { font-size: 1.45em; }
  [data-testid="stPopoverBody"] [data-testid="stMarkdownContainer"] p { font-size: 1.25rem; }
  /* st.metric draws its label, value and delta as markdown: the paragraph rule above would
     make all three 1.35rem; the number is what the back row must read */
  [data-testid="stMain"] [data-testid="stMetricValue"],
  [data-testid="stMain"] [data-testid="stMetricValue"] [data-testid="stMarkdownContainer"] p {
      font-size: 3rem; line-height: 1.15; }
  [data-testid="stMain"] [data-testid="stMetricLabel"] [data-testid="stMarkdownContainer"] p {
      font-size: 1.2rem; }
  [data-testid="stMain"] [data-testid="stMetricDelta"] [data-testid="stMarkdownContainer"] p {
      font-size: 1.1rem; }
  /* segmented controls: a label that does not fit its column wraps onto a second line
     instead of being cut off ("Forward | Backv") */
  [data-testid="stMain"] [data-testid="stButtonGroup"] [role="radiogroup"] { flex-wrap: wrap;
      row-gap: 0.25rem; }
  [data-testid="stMain"] [data-testid="stButtonGroup"] button
      [data-testid="stMarkdownContainer"] p { font-size: 1.15rem; white-space: nowrap; }
  /* charts: more room (narrower page margins) and bigger titles */
  [data-testid="stMainBlockContainer"] { padding-left: 2.5rem; padding-right: 2.5rem;
      max-width: 100%; }
  /* controls the audience does not need */
  HIDDEN { display: none !important; }
</style>
""".replace("HIDDEN", ", ".join([f"[data-testid='stMain'] .st-key-{key}" for key in HIDDEN_KEYS]
                                 + [f"[data-testid='stMain'] [class*='st-key-{prefix}']"
                                    for prefix in HIDDEN_KEY_PREFIXES]))


# ---------------------------------------------------------------- classroom mode


def is_on() -> bool:
    return bool(st.session_state.get(CLASSROOM, False))


def controls_hidden() -> bool:
    """True in classroom mode: pages skip their configuration controls."""
    return is_on()


def starts_on() -> bool:
    """Whether this script run is in classroom mode, the link's ``?classroom=`` read first (for
    app.py's page config, before anything is drawn)."""
    _read_url()
    return is_on()


def projector_figure(figure):
    """A figure at projector size in classroom mode (``projector.sized``); otherwise the figure
    given, unchanged."""
    return projector.sized(figure) if is_on() else figure


def _read_url() -> None:
    """``?classroom=1`` (or 0) in a link sets the mode, once per session."""
    if st.session_state.get(_URL_READ):
        return
    st.session_state[_URL_READ] = True
    raw = st.query_params.get("classroom")
    if raw is not None:
        st.session_state[CLASSROOM] = str(raw).strip().lower() in ("1", "true", "on", "yes")


def _toggled() -> None:
    st.session_state[CLASSROOM] = bool(st.session_state.get(_TOGGLE))


def apply() -> None:
    """Every page: the classroom switch (sidebar), its CSS when on, the lesson banner and the
    link for students."""
    _read_url()
    st.session_state[_TOGGLE] = is_on()
    with st.sidebar:
        st.toggle("Classroom mode", key=_TOGGLE, on_change=_toggled,
                  help="For a projector: hides the settings and pickers, enlarges text and "
                       "charts. A link with ?classroom=1 opens in this mode.")
        student_link()
        lesson_sidebar()
    if is_on():
        st.markdown(CLASSROOM_CSS, unsafe_allow_html=True)
        if st.query_params.get("classroom") != "1":
            st.query_params["classroom"] = "1"
    elif "classroom" in st.query_params:
        del st.query_params["classroom"]
    lesson_banner()


def query_params() -> dict:
    """Query parameters that must survive a page switch (st.switch_page clears the others)."""
    return {"classroom": "1"} if is_on() else {}


# ---------------------------------------------------------------- links


def current_page() -> tuple[str | None, str | None]:
    """(script path relative to the app, url path) of the page being run, when known."""
    try:
        from streamlit.runtime.scriptrunner import get_script_run_ctx
        ctx = get_script_run_ctx()
        info = ctx.pages_manager.get_pages().get(ctx.page_script_hash, {})
        script = str(info.get("script_path", ""))
        marker = "/pages/"
        relative = "pages/" + script.split(marker, 1)[1] if marker in script else None
        return relative, info.get("url_pathname")
    except Exception:  # internals moved: the banner shows everywhere, links stay relative
        return None, None


def lesson_link(key: str, classroom: bool = False) -> str:
    """The absolute address of a lesson's page (``widgets.app_url``), e.g. for students."""
    return widgets.app_url("lessons") + f"?lesson={key}" + ("&classroom=1" if classroom else "")


def _lesson_for_link() -> Lesson | None:
    """The lesson a student link should open: the one shown on the Lessons page, else the
    session's active lesson."""
    script, _ = current_page()
    shown = LESSONS.get(st.query_params.get("lesson")) if script == LESSONS_PAGE else None
    return shown or active_lesson()


def current_link() -> str:
    """The link for students: the lesson (see ``_lesson_for_link``), else the configuration on
    this page."""
    lesson = _lesson_for_link()
    if lesson is not None:
        return lesson_link(lesson.key)
    script, path = current_page()
    page = path or "playground"
    if script == LESSONS_PAGE:
        page = "playground"
    return widgets.link_for(state.config(), page)


def student_link() -> None:
    lesson = _lesson_for_link()
    with st.popover("Link for students", icon=":material/share:", width="stretch"):
        what = (f"Opens lesson {lesson.number}, “{lesson.title}”; one click on **Start "
                "lesson** trains it or reuses this server's runs." if lesson is not None else
                "Opens this page with the current configuration.")
        widgets.share_link(current_link(), what,
                           None if lesson is not None else widgets.link_caveat(state.config()))


# ---------------------------------------------------------------- lessons in a session


def active_lesson() -> Lesson | None:
    return LESSONS.get(st.session_state.get(ACTIVE))


def lesson_starting_key() -> str | None:
    """The lesson whose runs are training before its page opens, if any."""
    return st.session_state.get(STARTING)


def cached_run(cfg: RunConfig) -> Run | None:
    """A finished run of ``cfg`` on this server: the session's own, the shared cache's, or a
    pre-trained one from the runs folder."""
    run = state.current_run()
    if run is not None and run.config == cfg:
        return run
    registry = state.registry()
    if hasattr(registry, "lookup"):  # memory cache, then the runs folder of pre-trained runs
        return registry.lookup(cfg)
    return registry.cache.get(cfg.key)


def _trained_here(label: str, cfg: RunConfig) -> Run | None:
    """The run a job this session started for the lesson's ``label`` ended with, or the
    session's own run when it is ``cfg``'s, complete (the lesson's first run trains as the
    session's run). The server's cache may not hold it when the page looks (a busy server
    evicts; in shared mode a job is seen done a moment before its run is stored), and a page
    that waited for the cache would wait for ever, or call the lesson failed."""
    job: Job | None = st.session_state.get(JOBS, {}).get(label)
    if job is not None and job.done:
        return job.result
    run = state.current_run()
    return run if run is not None and run.config == cfg and pool.is_complete(run) else None


def lesson_runs(lesson: Lesson) -> dict[str, Run] | None:
    """Every run of the lesson, when all of them are trained; else None."""
    runs = {label: cached_run(cfg) or _trained_here(label, cfg) for label, cfg in lesson.runs}
    return None if any(r is None for r in runs.values()) else runs


def apply_config(cfg: RunConfig) -> None:
    """Make ``cfg`` the session's configuration, the Playground's widgets included."""
    for name in FIELDS:
        st.session_state[name] = getattr(cfg, name)
    st.session_state.pop(widgets.LINK_WARNINGS, None)


def start_lesson(lesson: Lesson) -> None:
    """Apply the lesson's first configuration and train every run (cached runs return at once;
    identical configs already training elsewhere on the server are joined)."""
    st.session_state[ACTIVE] = lesson.key
    st.session_state[STARTING] = lesson.key
    _, cfg = lesson.primary
    apply_config(cfg)
    state.start_training(cfg)
    jobs = {}
    for other_label, other in lesson.runs[1:]:
        if cached_run(other) is None:
            result = state.registry().submit(other)
            if isinstance(result, Job):
                jobs[other_label] = result
    st.session_state[JOBS] = jobs


def lesson_progress(lesson: Lesson) -> list[tuple[str, float, str]]:
    """(label, fraction done, state words) per run of a lesson being started."""
    rows = []
    current_job = state.current_job()
    others: dict[str, Job] = st.session_state.get(JOBS, {})
    for label, cfg in lesson.runs:
        if cached_run(cfg) is not None or _trained_here(label, cfg) is not None:
            rows.append((label, 1.0, "ready"))
            continue
        job = current_job if current_job is not None and current_job.cfg == cfg else \
            others.get(label)
        if job is None:
            rows.append((label, 0.0, "not started"))
        elif job.progress.state == "queued":
            rows.append((label, 0.0, state.QUEUED_WORDS))
        elif job.progress.state == "failed":
            rows.append((label, 0.0, f"failed: {job.progress.error}"))
        elif job.done:  # ended with no run: it was stopped before it trained a step
            rows.append((label, 0.0, "failed: it was stopped before it started"))
        else:
            p = job.progress
            done = 1.0 if job.done else p.step / max(p.total, 1)
            rows.append((label, done, f"step {p.step} of {p.total}"))
    return rows


def lesson_failed(lesson: Lesson) -> bool:
    return any(words.startswith(("failed", "not started"))
               for _, _, words in lesson_progress(lesson))


def open_lesson_page(lesson: Lesson) -> None:
    """Switch to the lesson's page (its first run current); the lesson stays active and its
    chart is brought into view (``lesson_marks``)."""
    st.session_state.pop(STARTING, None)
    st.session_state[ACTIVE] = lesson.key
    st.session_state[SCROLL] = lesson.key
    label, _ = lesson.primary
    if state.current_run() is None or state.current_run().config not in lesson.configs:
        show_run(lesson, label)
    st.switch_page(lesson.page, query_params=query_params())


def show_run(lesson: Lesson, label: str) -> None:
    """Make one of the lesson's runs the session's current run (instant when cached)."""
    cfg = dict(lesson.runs)[label]
    apply_config(cfg)
    state.start_training(cfg)
    state.take_notice()  # "reused from the cache" is not news inside a lesson


def end_lesson() -> None:
    st.session_state.pop(ACTIVE, None)
    st.session_state.pop(STARTING, None)
    st.session_state.pop(JOBS, None)


def _switch_run() -> None:
    lesson = active_lesson()
    label = st.session_state.get("lesson_run")
    if lesson is not None and label:
        show_run(lesson, label)
        # the class was asked about a chart: switching runs brings it back into view (the
        # rerun's page, shorter while it redraws or without the other run's red box, had
        # left it under the banner or off the screen)
        st.session_state[SCROLL] = lesson.key


def run_switcher(lesson: Lesson, container=st, label_visibility: str = "visible") -> None:
    """A segmented control over the lesson's runs (when it has more than one)."""
    if len(lesson.runs) < 2:
        return
    run = state.current_run()
    job = state.current_job()
    cfg = run.config if run is not None else (job.cfg if job is not None else None)
    current = lesson.label_of(cfg) if cfg is not None else None
    st.session_state["lesson_run"] = current
    container.segmented_control("Run shown on the pages", [label for label, _ in lesson.runs],
                                key="lesson_run", on_change=_switch_run,
                                label_visibility=label_visibility,
                                help="Every page shows the current run; switch between this "
                                     "lesson's runs to compare them.")


def lesson_in_view(lesson: Lesson) -> bool:
    """Whether the session's run (or job) is one of the lesson's."""
    run, job = state.current_run(), state.current_job()
    cfg = job.cfg if job is not None else (run.config if run is not None else None)
    return cfg is not None and cfg in lesson.configs


def lesson_banner() -> None:
    """On the active lesson's page, short enough that the chart it is about stays in the first
    screen: the title and the question for the class, the run switch, and what to look at (with
    the explanations) folded away."""
    lesson = active_lesson()
    if lesson is None or not lesson_in_view(lesson):
        return
    script, _ = current_page()
    if script is not None and script != lesson.page:
        return
    st.html(BANNER_CSS)
    with st.container(border=True, key="lesson_banner", gap=None):
        with st.container(horizontal=True, vertical_alignment="center", gap="small"):
            st.markdown(f"**:material/school: Lesson {lesson.number} · {lesson.title}**",
                        width="content")
            run_switcher(lesson, label_visibility="collapsed")
            # an overlay, not an expander: opening it does not push the chart off the screen
            with st.popover("What to look at", icon=":material/visibility:"):
                st.markdown(f"**Look at:** {lesson.look_at_for(lesson_runs(lesson))}")
                for topic in lesson.topics:
                    st.markdown(f"##### :material/menu_book: {TOPICS[topic].title}")
                    explanation(topic)
            st.page_link(LESSONS_PAGE, label="Notes and results", icon=":material/school:",
                         query_params={"lesson": lesson.key, **query_params()})
        st.markdown(f"**Ask the class:** {lesson.question}")


def lesson_sidebar() -> None:
    lesson = active_lesson()
    if lesson is None:
        return
    st.caption(f"In lesson {lesson.number}: {lesson.title}")
    st.page_link(lesson.page, label=f"Back to {lesson.page_title}", icon=":material/school:",
                 query_params=query_params())


# ---------------------------------------------------------------- application pages


@st.fragment(run_every=0.5)
def training_progress() -> None:
    """The session's training, redrawn every half second; when it ends, the whole page reruns
    (and fills in with the run)."""
    job = state.current_job()
    if job is None:
        st.rerun(scope="app")
        return
    state.progress_bar(job, "Training")  # with the time left at its measured speed


def require_task_run(task: str, preset: RunConfig, what: str) -> Run | None:
    """The session's run when it was trained on ``task``; otherwise an offer to train
    ``preset`` (one click; at once when this server has it) and None. While that
    training runs, its progress (the page redraws itself when it ends)."""
    from rnnviz.core.tasks import TASKS

    job = state.current_job()
    if job is not None and job.cfg.task == task:
        st.info(f"Training {what}; this page fills in when it is done.",
                icon=":material/hourglass_top:")
        training_progress()
        return None
    run = state.current_run()
    if job is None and run is not None and run.config.task == task:
        return run
    title = TASKS[task].title
    if job is not None:
        detail = ", and the run being trained now is for another task."
    elif run is not None:
        # said before the press, not in a tooltip: the one run of the session is replaced
        # (issue 20: "Train a forecaster" replaced the Playground's model without a word)
        detail = (f". Training it **replaces your current run**, a {run.config.cell.upper()} "
                  f"on {TASKS[run.config.task].title}, on the Playground and the inside pages "
                  "(download it there first to keep it).")
    else:
        detail = "."
    takes = state.takes(preset)
    duration = f" Training it takes {takes}." if takes else ""
    st.info(f"This page needs a model trained on the **{title}** task{detail}{duration}",
            icon=":material/info:")
    if st.button(f"Train {what}", icon=":material/play_arrow:", type="primary",
                 key=f"train_preset_{task}",
                 help="Sets this configuration (the Playground shows it) and trains it; "
                      "it replaces the session's current run."):
        apply_config(preset)
        state.start_training(preset)
        state.take_notice()
        st.rerun()
    st.caption("Or train your own in the Playground: choose the task "
               f"“{title}” there.")
    return None


# ---------------------------------------------------------------- explanations


def explanation(topic: str, container=st) -> None:
    """Render one topic of ``rnnviz.studies.explain.TOPICS`` (markdown and st.latex blocks)."""
    entry = TOPICS[topic]
    for kind, body in entry.blocks:
        if kind == "latex":
            container.latex(body)
        else:
            container.markdown(body)


def explanations(topics, expanded: bool = False) -> None:
    """Each topic in its own expander titled by the topic."""
    for topic in topics:
        with st.expander(TOPICS[topic].title, expanded=expanded, icon=":material/menu_book:"):
            explanation(topic)

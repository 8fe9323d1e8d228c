"""The Translation page's glue (issue 21): one translation run per session, trained through the
job registry (deduplicated, on the worker pool, live history and attention from the worker as
the Playground's runs), its attention live and then rewindable, a typed source through
``rnnviz.translate``, the gradient reaching each encoder step, and the bottleneck sweep.

The run and job live under keys of their own, not the session's current run: the Playground
and the inside pages draw a cell's trace, which a translation model does not have.
"""

from __future__ import annotations

import streamlit as st

from rnnviz import charts
from rnnviz.app import classroom, lesson_marks, rewind, state, widgets
from rnnviz.core.config import RunConfig
from rnnviz.core.tasks import TASKS
from rnnviz.core.train import Run
from rnnviz.core.translate import translate
from rnnviz.serve import speed
from rnnviz.serve.many import train_many
from rnnviz.studies import translation

JOB, RUN, SWEEP = "translation_job", "translation_run", "translation_sweep"
ADOPTED = "translation_lesson_run"  # the key of the lesson run this page last took
ATTENTION_WORDS = {"additive": "additive (Bahdanau)", "dot": "dot product (Luong)",
                   "none": "none: the last encoder state only"}
LIVE_EVERY_S = 1.0
STEPS_RANGE = (50, 5000)
EXAMPLES = {"dates": "7 March 2021", "reverse": "abcdefghabcd",
            "en_fr": "the red car does not see the black dogs"}


LINKED = "tr_link_read"  # the link's configuration was applied to this page's choosers


def _from_link() -> None:
    """Once per session: the link's task, attention, source length and training steps (read
    and checked by ``widgets.read_link``, which says what was wrong with a bad value) set this
    page's choosers, so ``/translation?task=dates&attention=dot&seq_len=20&steps=800`` opens on
    that configuration; a length or step count outside this page's ranges is clamped."""
    if st.session_state.get(LINKED):
        return
    st.session_state[LINKED] = True
    link = st.query_params.to_dict()
    task = st.session_state.get("task")
    if "task" not in link or task not in translation.DEFAULTS:
        return
    st.session_state["tr_task"] = task
    if "attention" in link and st.session_state.get("attention") in ATTENTION_WORDS:
        st.session_state["tr_attention"] = st.session_state["attention"]
    spec = TASKS[task]
    if "seq_len" in link:
        st.session_state[f"tr_len_{task}"] = min(max(int(st.session_state["seq_len"]),
                                                     spec.min_len), spec.max_len)
    if "steps" in link:
        st.session_state[f"tr_steps_{task}"] = min(max(int(st.session_state["steps"]),
                                                       STEPS_RANGE[0]), STEPS_RANGE[1])


def _to_link(cfg: RunConfig) -> None:
    """The page's configuration in its address, to copy and share (as the Playground's)."""
    for name in ("task", "attention", "seq_len", "steps"):
        text = str(getattr(cfg, name))
        if st.query_params.get(name) != text:
            st.query_params[name] = text


def _initial(key: str, default):
    """A number box's first value: ``default``, unless the link (or the learner) already set
    the box's value (then passing a default besides is Streamlit's widget-policy warning)."""
    return "min" if key in st.session_state else default


def controls() -> RunConfig:
    """The task and attention choosers and the Train button; the config they make, kept in
    the page's address."""
    _from_link()
    widgets.show_link_warnings()  # what was wrong with a shared link's values, as on the Playground
    left, middle, length_column, steps_column, right = st.columns(
        [2, 2, 1, 1, 1], vertical_alignment="bottom")
    task = left.selectbox("Task", list(translation.DEFAULTS), key="tr_task",
                          format_func=lambda name: TASKS[name].title)
    attention = middle.selectbox("Attention", list(ATTENTION_WORDS), key="tr_attention",
                                 format_func=ATTENTION_WORDS.get)
    default = translation.DEFAULTS[task]
    steps = steps_column.number_input("Training steps", min_value=STEPS_RANGE[0],
                                      max_value=STEPS_RANGE[1],
                                      value=_initial(f"tr_steps_{task}", default.steps),
                                      step=100, key=f"tr_steps_{task}",
                                      help="The default is what the measured table reaches "
                                      "its accuracy with.")
    spec = TASKS[task]
    unit = "words" if spec.joiner else ("letters" if task == "reverse" else "characters")
    length = length_column.number_input(
        f"Source length ({unit})", min_value=spec.min_len, max_value=spec.max_len,
        value=_initial(f"tr_len_{task}", default.seq_len), step=1, key=f"tr_len_{task}",
        help=("Every sequence has this length." if task == "reverse" else
              "The longest source; shorter ones are padded in front."))
    cfg = default.replace(attention=attention, steps=int(steps), seq_len=int(length))
    _to_link(cfg)
    estimate = state.takes(cfg)
    right.button("Train", type="primary", key="tr_train", on_click=_start, args=(cfg,),
                 help="Trains this task's model" + (f" ({estimate})" if estimate else ""))
    st.caption(TASKS[task].description + f" {cfg.cell.upper()}, {cfg.hidden_size} units, "
               f"{cfg.steps} steps.")
    return cfg


def _start(cfg: RunConfig) -> None:
    job = st.session_state.pop(JOB, None)
    if job is not None and not job.done:
        job.detach(timeout=0)
    result = state.registry().submit(cfg)
    if isinstance(result, Run):
        st.session_state[RUN] = result
    else:
        st.session_state.pop(RUN, None)
        st.session_state[JOB] = result


def _adopt_lesson_run() -> None:
    """Lesson 10 makes one of its reverse runs the session's current run (or job), as every
    lesson does: when that run is new to this page, it becomes the page's run, so the lesson
    opens on its own model and the banner's run switcher changes what the page draws. A run
    trained here afterwards (Train) stays until the lesson's run changes again."""
    from rnnviz.app import classroom

    lesson = classroom.active_lesson()
    if lesson is None or lesson.page != "pages/translation.py":
        return
    job, run = state.current_job(), state.current_run()
    cfg = job.cfg if job is not None else (run.config if run is not None else None)
    if cfg is None or cfg not in lesson.configs or st.session_state.get(ADOPTED) == cfg.key:
        return
    st.session_state[ADOPTED] = cfg.key
    if job is not None:
        st.session_state.pop(RUN, None)
        st.session_state[JOB] = job
    else:
        st.session_state.pop(JOB, None)
        st.session_state[RUN] = run


def current() -> tuple[object | None, Run | None]:
    """The session's translation job (still training) and run (finished)."""
    _adopt_lesson_run()
    job = st.session_state.get(JOB)
    if job is not None and job.done:
        del st.session_state[JOB]
        if job.result is not None:
            st.session_state[RUN] = job.result
        else:
            st.error(f"Training failed: {job.progress.error}", icon=":material/error:")
        job = None
    if job is not None:
        job.touch()
    return job, st.session_state.get(RUN)


def _attention_figure(cfg: RunConfig, view) -> object:
    positions = translation.true_positions(cfg)
    share = None
    if view.weights is not None:
        share, _ = translation.alignment_share(view.weights, positions)
    return charts.attention_matrix(view.source, view.target, view.weights, view.step,
                                   positions, share)


def _until_eos(tokens: list[str]) -> list[str]:
    return tokens[: tokens.index("<eos>")] if "<eos>" in tokens else tokens


def live(job) -> None:
    """While the job trains: its progress and the attention of probe example 0 at the newest
    snapshot the worker sent, redrawn every second."""

    @st.fragment(run_every=LIVE_EVERY_S)
    def board() -> None:
        current_job, _ = current()
        if current_job is None:
            st.rerun()
        p = current_job.progress
        words = state.QUEUED_WORDS if p.state == "queued" else f"step {p.step} of {p.total}"
        st.progress(p.step / max(p.total, 1),
                    text=f"Training: {words} · {state.time_left(current_job)}")
        view = current_job.inside
        if isinstance(view, translation.AttentionView):
            _chart(_attention_figure(current_job.cfg, view), width="stretch",
                            key="tr_live_attention")
            joiner = TASKS[current_job.cfg.task].joiner
            st.markdown(f"Greedy output now: `{joiner.join(view.output)}`")
        else:
            st.caption("The first snapshot's attention appears here as soon as training "
                       "sends it.")

    board()


def _step_of(run: Run, shown: Run) -> int:
    for step, view in run.cache.get("rewind", {}).items():
        if view is shown and isinstance(step, int):
            return step
    return run.history.steps_done


def finished(run: Run) -> None:
    """The attention at every snapshot, behind the Training step slider."""
    x, y, _ = translation.aligned_probe(run.config)

    def draw(shown: Run) -> None:
        step = _step_of(run, shown)
        view = translation.attention_view(shown.model, x, y, step)
        _chart(_attention_figure(run.config, view), width="stretch",
                        key="tr_rewind_attention")
        rewind.chart_drawn()
        joiner = run.task.joiner
        st.markdown(f"The target: `{joiner.join(view.target)}`  \n"
                    f"Fed its own guesses (free running): `{joiner.join(view.output)}`  \n"
                    f"Fed the true previous tokens (teacher forcing): "
                    f"`{joiner.join(_until_eos(view.forced))}`")
        states = translation.hidden_states(shown.model, x, y)
        _chart(charts.states_chart(states, step), width="stretch", key="tr_states")
        if run.config.attention == "none":
            st.caption("Without attention the outlined column, the encoder's last state (the "
                       "context vector), is all the decoder learns of the source.")

    rewind.rewind(run, draw=draw)
    scores = state.cached(run, "translation_scores", lambda: translation.validation_scores(run))
    bleu = f", BLEU {scores['bleu']:.1f}" if "bleu" in scores else ""
    st.caption(f"On the validation set, decoding freely: {scores['exact']:.1%} exact match, "
               f"{scores['token']:.1%} of tokens right{bleu}; {run.history.steps_done} steps, "
               f"trained in {speed.duration_words(run.elapsed_s)}.")


def typed(run: Run) -> None:
    """A source the learner types, translated token by token with each token's attention."""
    task = run.task
    left, right = st.columns([4, 1], vertical_alignment="bottom")
    source = left.text_input("Your source", value=EXAMPLES.get(run.config.task, ""),
                             key=f"tr_source_{run.config.task}",
                             max_chars=run.config.seq_len * (12 if task.joiner else 1))
    beam = right.number_input("Beam width", min_value=1, max_value=10, value=1, step=1,
                              key="tr_beam")
    try:
        out = translate(run, source, beam=int(beam))
    except ValueError as err:
        st.error(str(err), icon=":material/error:")
        return
    st.markdown(f"**Translation:** `{out.text}` (log-probability {out.log_prob:.2f}, "
                f"{'greedy' if beam == 1 else f'beam of {beam}'})")
    if beam > 1:
        with st.expander("The beam at every step, against greedy decoding"):
            greedy = translate(run, source, beam=1)
            st.markdown(f"Greedy decoding: `{greedy.text}` (log-probability "
                        f"{greedy.log_prob:.2f})")
            _chart(charts.beam_tree(out.tree, out.tokens, out.log_prob, greedy.tokens,
                                             greedy.log_prob, task.joiner),
                            width="stretch", key="tr_beam_tree")
            st.dataframe([{"step": k + 1, "rank": rank + 1,
                           "hypothesis": task.joiner.join(tokens), "log-probability": score}
                          for k, hypotheses in enumerate(out.tree)
                          for rank, (tokens, score) in enumerate(hypotheses)],
                         hide_index=True)
    if out.attention is not None:
        _chart(charts.attention_matrix(out.source_tokens, out.tokens, out.attention,
                                                run.history.steps_done,
                                                title="Attention while translating your source"),
                        width="stretch", key="tr_typed_attention")


def gradients(run: Run) -> None:
    """||dL/dh_t^enc|| at the run's last snapshot, and its twin's with the other attention
    setting when this server has it."""
    other = "none" if run.config.attention != "none" else "additive"
    twin = state.registry().lookup(run.config.replace(attention=other))
    profiles = {f"{ATTENTION_WORDS[run.config.attention].split(':')[0]}":
                run.history.probe_grad[-1]}
    if twin is not None:
        profiles[ATTENTION_WORDS[other].split(":")[0]] = twin.history.probe_grad[-1]
    figure = charts.encoder_gradient_chart(profiles, run.history.steps_done)
    lesson_marks.mark(figure, "tr_gradients")  # lesson 10 points here: brought into view
    _chart(figure, width="stretch", key="tr_gradients")
    if twin is None:
        st.caption(f"Train the same task with attention '{other}' to draw both.")


def bottleneck(cfg: RunConfig) -> None:
    """The sweep: reverse at growing lengths, without and with attention, the same budget."""
    configs = translation.bottleneck_configs(cfg.attention)
    estimate = state.takes(configs[0])
    if st.button(f"Train the sweep ({len(configs)} runs)", key="tr_sweep",
                 help=(f"each about {estimate}" if estimate else None)):
        bar = st.progress(0.0, text="Training the sweep")
        done: dict[int, float] = {}

        def on_progress(index: int, step: int, total: int) -> None:
            done[index] = step / max(total, 1)
            bar.progress(sum(done.values()) / len(configs),
                         text=f"Training the sweep: {len(done)} of {len(configs)} runs started")

        try:
            runs = train_many(configs, on_progress, workers=state.registry().max_jobs,
                              cache=state.registry().cache)
        except Exception as err:  # a worker failed: say so, never a traceback
            st.error(f"Training the sweep failed: {type(err).__name__}: {err}",
                     icon=":material/error:")
            return
        finally:
            bar.empty()
        st.session_state[SWEEP] = translation.bottleneck_table(runs)
    table = st.session_state.get(SWEEP)
    if table:
        _chart(charts.bottleneck_chart(table), width="stretch", key="tr_bottleneck")


def _chart(figure, **kwargs) -> None:
    """A figure of this page, at projector size in classroom mode (as every other page's)."""
    st.plotly_chart(classroom.projector_figure(figure), **kwargs)

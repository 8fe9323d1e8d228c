"""Configuration widgets built from the engine's one table of ranges
(``rnnviz.core.config.FIELDS``), each bound to the URL so that a link reproduces the exact
configuration."""

from __future__ import annotations

import io
import os
import re
import urllib.parse

import segno
import streamlit as st
from streamlit.runtime.state import get_session_state

from rnnviz.core.config import (
    FIELDS,
    SEQ2SEQ_FIELDS,
    SEQ2SEQ_TASKS,
    RunConfig,
    check_field,
    clamp,
    coerce,
    is_data_task,
)
from rnnviz.core.tasks import TASKS
from rnnviz.serve.limits import device_summary

GROUPS = ("Task", "Model", "Training")
LINK_WARNINGS = "link_warnings"
_LINK_READ = "link_read"
_SLIDERS = {"seq_len", "lag", "marked_bits", "hidden_size", "num_layers", "dropout", "noise",
            "forget_bias"}
_STEP = {"dropout": 0.05, "noise": 0.01, "forget_bias": 0.5, "lr": 0.001,
         "weight_decay": 0.0001, "clip": 0.5, "recurrent_scale": 0.05}
_FORMAT = {"lr": "%.5f", "weight_decay": "%.5f", "clip": "%.2f", "recurrent_scale": "%.2f"}
# which task each task-specific knob belongs to (hidden for the other tasks)
_TASK_ONLY = {"lag": "copy", "noise": "sine", "marked_bits": "parity"}
_CELL_ONLY = {"nonlinearity": "rnn", "forget_bias": "lstm"}
# drawn above the form, so that choosing them redraws it with the fields that apply
_CHOOSERS = ("task", "cell")
# the few settings that matter most, in the form's first row; the rest under "Advanced"
_LEADING = ("seq_len", "hidden_size", "steps")
# the words a choice is shown with (the URL and the code keep the names of FIELDS); the tasks'
# are their titles. The Playground showed "adding" and "lstm" where Compare said "Adding
# problem" and "LSTM" (issue 20)
CHOICE_LABELS = {
    "cell": {"rnn": "Vanilla RNN", "lstm": "LSTM", "gru": "GRU"},
    "nonlinearity": {"tanh": "tanh", "relu": "ReLU"},
    "init": {"default": "PyTorch default", "orthogonal": "Orthogonal",
             "identity": "Identity (IRNN)"},
    "optimizer": {"sgd": "SGD with momentum", "adam": "Adam", "rmsprop": "RMSprop"},
    "device": {"auto": "Automatic", "cpu": "CPU", "cuda": "CUDA GPU"},
}
OWN_DATASET = "own_dataset"  # the session's uploaded series (rnnviz.app.data_ui keeps it there)


def choice_label(name: str, value) -> str:
    """How a choice of field ``name`` reads on a page: a task by its title ("Adding problem",
    "Your data: hares, lynx"), a cell by its name ("LSTM"). Session State is not read here:
    Streamlit also formats a value outside the script run (AppTest does)."""
    if name == "task":  # a series is registered (data_ui.keep) before it is a choice
        task = TASKS.get(value)
        return task.title if task is not None else str(value)
    return CHOICE_LABELS.get(name, {}).get(value, str(value))


def choices(name: str) -> list:
    """The options of a categorical field: the table's, and for the task the session's own
    series when one is loaded (it is chosen here, like any task)."""
    options = list(FIELDS[name].choices)
    if name == "task":  # translation runs have a page of their own (a cell's trace: none)
        options = [task for task in options if task not in SEQ2SEQ_TASKS]
    dataset = st.session_state.get(OWN_DATASET)
    if name == "task" and dataset is not None:
        options.append(dataset.name)
    return options


def _code_in_url(name: str, value, default) -> None:
    """Keep a choice's code in the URL (``?cell=gru``), left out at its default. A selectbox
    bound to the URL (``bind="query-params"``) writes its *formatted* option there, so a
    human label would put "Vanilla RNN" in links; these widgets are unbound and written here
    instead (``read_link`` reads them back). An uploaded series cannot travel in a link."""
    text = None if value == default or value is None or is_data_task(value) else str(value)
    if st.query_params.get(name) != text:
        if text is None:
            st.query_params.pop(name, None)
        else:
            st.query_params[name] = text


def applies(name: str, task: str, cell: str) -> bool:
    """Whether a field means anything for this task and cell (the copy lag only for the copy
    task, the nonlinearity only for a vanilla RNN, ...)."""
    return (_TASK_ONLY.get(name, task) == task and _CELL_ONLY.get(name, cell) == cell
            and (name not in SEQ2SEQ_FIELDS or task in SEQ2SEQ_TASKS))


def read_link() -> None:
    """Check the configuration values in the URL once per session: a bad value is repaired
    (clamped, or the default) and explained in a warning; good values are applied so that a
    shared link opens on the sender's configuration, whatever page it points to."""
    if st.session_state.get(_LINK_READ):
        return
    st.session_state[_LINK_READ] = True
    warnings, values = [], {}
    defaults = RunConfig()
    for name, raw in st.query_params.to_dict().items():
        if name not in FIELDS:
            continue
        try:
            value = coerce(name, raw)
            check_field(name, value)
        except ValueError as err:
            try:
                value = clamp(name, coerce(name, raw))
            except ValueError:
                value = getattr(defaults, name)
            shown = "off" if value is None else value
            warnings.append(f"The link's `{name}={raw}` was not usable ({err}); "
                            f"using **{shown}** instead.")
        values[name] = value
    for name, value in values.items():
        st.session_state[name] = value
    if values:
        try:
            st.session_state["config"] = RunConfig(**{**defaults.to_dict(), **values})
        except ValueError as err:  # each value is fine alone but not together (lag vs seq_len)
            warnings.append(f"The link's configuration does not fit together ({err}); "
                            "the defaults are used for now.")
    if warnings:
        st.session_state[LINK_WARNINGS] = warnings


def show_link_warnings() -> None:
    for text in st.session_state.get(LINK_WARNINGS, []):
        st.warning(text, icon=":material/link:")


def _set_by_code(name: str) -> bool:
    """Whether code put this widget's value into Session State (a link read by ``read_link``, a
    lesson's or a suggested next step's ``classroom.apply_config``) and Streamlit has not yet
    taken it in as the widget's own (it does when the browser next sends its widget values,
    not at every rerun). Then Session State holds the widget's value, and a widget given a
    default as well makes Streamlit log its widget-policy warning with a full stack (on every
    deep link such as ``/playground?seed=1``). This is the very test behind that warning."""
    return get_session_state().is_new_state_value(name)


# a one-letter symbol with an ASCII subscript, as the fields' help (shared with the CLI's
# --help) writes it: h_t, W_hh
_ASCII_SUBSCRIPT = re.compile(r"(?<![\w$])([A-Za-z])_([A-Za-z0-9]+)(?![\w$])")


def field_help(name: str) -> str:
    """A config field's help for a tooltip: Streamlit renders its markdown, so the symbols are
    set as mathematics ($h_t$, $W_{hh}$) where the command line shows them as typed."""
    return _ASCII_SUBSCRIPT.sub(lambda m: f"${m[1]}_{{{m[2]}}}$", FIELDS[name].help)


def _widget(name: str, default, container) -> None:
    """One config widget, keyed by its field name and bound to the URL. ``default`` is what
    Streamlit shows until the user changes it, and what it leaves out of the URL, except when
    code has just set the widget's value (``_set_by_code``): then that is its only value."""
    spec = FIELDS[name]
    from_code = _set_by_code(name)
    # the device's help says what this server has, right where the choice is made
    help_text = field_help(name) + (f" {device_summary()}" if name == "device" else "")
    common = dict(key=name, help=help_text, bind="query-params")
    if spec.choices is not None:
        options = choices(name)
        value = st.session_state.get(name, default)
        if value not in options:  # e.g. a series the session no longer holds
            st.session_state[name] = value = default
            from_code = True
        index = None if from_code else options.index(default)
        container.selectbox(spec.label, options, index=index, key=name, help=help_text,
                            format_func=lambda option: choice_label(name, option))
        _code_in_url(name, st.session_state.get(name, value), default)
    elif name in _SLIDERS:
        if isinstance(default, int):
            container.slider(spec.label, int(spec.low), int(spec.high),
                             None if from_code else default, **common)
        else:
            container.slider(spec.label, float(spec.low), float(spec.high),
                             None if from_code else float(default), step=_STEP.get(name),
                             **common)
    elif isinstance(default, int) or (default is None and name in ("train_size",
                                                                    "early_stopping")):
        container.number_input(spec.label, int(spec.low), int(spec.high),
                               None if from_code else default, step=1,
                               placeholder="off" if spec.optional else None, **common)
    else:
        container.number_input(spec.label, float(spec.low), float(spec.high),
                               None if from_code or default is None else float(default),
                               step=_STEP.get(name), format=_FORMAT.get(name),
                               placeholder="off" if spec.optional else None, **common)


def _columns(count: int, narrow: bool) -> list:
    """``count`` side-by-side slots, or, in a narrow place (the Playground's control column),
    one slot below another."""
    return [st.container() for _ in range(count)] if narrow else st.columns(count, gap="medium")


FORM_ERROR = "config_form_error"  # why the last Train press trained nothing, shown by the form


def config_form(on_train, key: str = "config_form", narrow: bool = False) -> None:
    """The grouped configuration form. Train calls ``on_train(cfg)`` with the validated config
    before the page runs again (the button's callback), so the run that follows the press
    already draws the job it started: a press is one script run, not two. ``on_train`` may
    return why the config cannot be trained; that, or why the values do not fit together, is
    shown in plain words under the button. ``narrow``: the widgets one below another, for a
    column beside the charts."""
    defaults = RunConfig()
    choosers = _columns(2, narrow) if narrow else st.columns(3, gap="medium")
    for name, column in zip(_CHOOSERS, choosers):
        _widget(name, getattr(defaults, name), column)
    task = st.session_state.get("task", defaults.task)
    cell = st.session_state.get("cell", defaults.cell)
    with st.form(key, border=True):
        leading = _columns(3, narrow)
        for name, column in zip(_LEADING, leading):
            _widget(name, getattr(defaults, name), column)
        for name in (*_TASK_ONLY, *_CELL_ONLY):  # this task's or cell's own knob, right here
            if applies(name, task, cell) and name != "forget_bias":
                _widget(name, getattr(defaults, name), leading[0 if name in _TASK_ONLY else 1])
        with st.expander("Advanced settings", icon=":material/tune:"):
            columns = _columns(3, narrow)
            for group, column in zip(GROUPS, columns):
                column.markdown(f"**{group}**")
                for name, spec in FIELDS.items():
                    if (spec.group == group and name not in (*_CHOOSERS, *_LEADING)
                            and (name not in _TASK_ONLY and name not in _CELL_ONLY
                                 or name == "forget_bias") and applies(name, task, cell)):
                        _widget(name, getattr(defaults, name), column)
        st.form_submit_button("Train", icon=":material/play_arrow:", type="primary",
                              width="stretch", on_click=_train_pressed, args=(on_train,))
    error = st.session_state.pop(FORM_ERROR, None)
    if error:
        st.error(error, icon=":material/block:")


def _train_pressed(on_train) -> None:
    try:
        cfg = RunConfig(**_form_values())
    except ValueError as err:
        st.session_state[FORM_ERROR] = f"This configuration can't be trained: {err}."
        return
    st.session_state.pop(LINK_WARNINGS, None)
    problem = on_train(cfg)
    if problem:
        st.session_state[FORM_ERROR] = problem


def _form_values() -> dict:
    defaults = RunConfig()
    return {name: st.session_state.get(name, getattr(defaults, name)) for name in FIELDS}


def form_config() -> RunConfig | None:
    """The configuration the form holds as last applied (a form's changes count only when it
    is submitted), or None where those values do not make a valid one."""
    try:
        return RunConfig(**_form_values())
    except ValueError:
        return None


PUBLIC_URL_ENV = "RNNVIZ_PUBLIC_URL"  # e.g. https://rnnviz.example.org: what students reach
LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1", "0.0.0.0", ""}


def app_url(path: str) -> str:
    """Absolute URL of a page of this app for someone else to open: ``RNNVIZ_PUBLIC_URL`` when
    the server sets it, else Streamlit's ``browser.serverAddress`` when it is configured, else
    the address this browser used (relative if unknown)."""
    public = os.environ.get(PUBLIC_URL_ENV, "").strip().rstrip("/")
    if public:
        return f"{public}/{path.lstrip('/')}"
    base = st.get_option("server.baseUrlPath").strip("/")
    prefix = "/" + base if base else ""
    address = st.get_option("browser.serverAddress")
    if address and address not in LOCAL_HOSTS and st.config.is_manually_set(
            "browser.serverAddress"):
        port = st.get_option("browser.serverPort")
        scheme = "https" if port == 443 else "http"
        netloc = address if port in (80, 443) else f"{address}:{port}"
        return f"{scheme}://{netloc}{prefix}/{path.lstrip('/')}"
    here = urllib.parse.urlsplit(st.context.url or "")
    origin = f"{here.scheme}://{here.netloc}" if here.scheme and here.netloc else ""
    return f"{origin}{prefix}/{path.lstrip('/')}"


def is_local_link(url: str) -> bool:
    """Whether a link names this computer (localhost), so that it opens for nobody else."""
    host = urllib.parse.urlsplit(url).hostname or ""
    return host in LOCAL_HOSTS or host.endswith(".localhost")


def share_link(url: str, what: str, caveat: str | None = None) -> None:
    """A link for a class: large enough to read from the back, a QR code for phones, and a
    warning when it names this computer."""
    st.caption(what)
    st.markdown(f"#### {url}")
    st.code(url, language=None)  # the copy button
    if is_local_link(url):
        st.warning("This link names this computer (localhost): it opens for nobody else. Open "
                   "the app by the address students use, or have the server set "
                   f"`{PUBLIC_URL_ENV}` (or Streamlit's `browser.serverAddress`).",
                   icon=":material/wifi_off:")
    elif url.startswith("http"):
        qr = segno.make(url, error="m")
        buffer = io.BytesIO()
        qr.save(buffer, kind="png", scale=6, border=2)
        st.image(buffer.getvalue(), caption="Scan to open the same link", width=220)
    if caveat:
        st.caption(caveat)


def link_caveat(cfg: RunConfig) -> str | None:
    """What a link for ``cfg`` cannot carry, said to whoever shares it (None: everything)."""
    if is_data_task(cfg.task):
        return ("This run trains on your uploaded series, which a link cannot carry: the link "
                "gives every other setting, with the default task. Share the CSV file too (or "
                "the run file, from **Save or open a run**).")
    return None


def link_for(cfg: RunConfig, page: str = "playground") -> str:
    """A link that reproduces ``cfg`` on ``page``: only the non-default fields are in it. An
    uploaded data set cannot travel in a link (see ``link_caveat``), so its task is left out."""
    defaults = RunConfig().to_dict()
    changed = {k: ("off" if v is None else v) for k, v in cfg.to_dict().items()
               if v != defaults[k] and not (k == "task" and is_data_task(v))}
    query = urllib.parse.urlencode(changed)
    return app_url(page) + (f"?{query}" if query else "")

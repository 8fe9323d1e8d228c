"""Your own data in the Playground: upload a CSV time series (or take an example), see what the
reader chose and the series with its training / validation split, pick another series (a
long-format file) or other columns, and train on it.

One flow, one Train: a series read here becomes the **Task** of the form at the top (its
selectbox lists the session's series beside the built-in tasks, ``widgets.choices``) with
settings suited to forecasting (``csvdata.forecast_settings``), and the form's Train trains it.
Before, a toggle at the bottom of the page ("Train on this data") silently swapped the task of
a form whose Task box still said "text", and the run took over whatever that form held (the
overfitting lesson's 16 examples: worse than chance). The settings are put into the form when
the series is chosen, so whatever the learner changes after that is what trains. Choosing a
series happens in callbacks (the uploader's, the examples', the pickers'): they run before the
form is drawn, which is when Streamlit lets code set a widget's value.

The Playground passes the form's config through ``apply(cfg)``, which checks that a series
task fits its data and holds the data set for the run. The file's bytes stay in the session
(one file, at most ``csvdata.MAX_CSV_BYTES``) so that a pick re-reads the same upload.
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from rnnviz import charts
from rnnviz.core import csvdata
from rnnviz.core.config import RunConfig, is_data_task
from rnnviz.core.tasks import ASSETS
from rnnviz.serve import uploads

DATASET, UPLOAD = "own_dataset", "csv_upload"  # DATASET is widgets.OWN_DATASET
SERIES, COLUMNS = "own_data_series", "own_data_columns"  # the pickers' widget keys
_ERROR, _SEEN, _PINS = "own_data_error", "own_data_file", "own_data_pins"
_FILE = "own_data_bytes"  # (file name, bytes) of the file the data set was read from
EXAMPLES = {"daily_temperature.csv": "Daily temperature (1 column)",
            "predator_prey.csv": "Hares and lynx (2 columns)"}
MAX_PINS = 4  # data sets one session keeps alive at once


def keep(dataset: csvdata.Dataset) -> None:
    """Register ``dataset`` and hold it for this session (its runs need it on every page)."""
    pins = st.session_state.setdefault(_PINS, {})
    pins.pop(dataset.name, None)
    pins[dataset.name] = uploads.pin(dataset)
    while len(pins) > MAX_PINS:
        pins.pop(next(iter(pins)))


def _select(dataset: csvdata.Dataset, settings: bool = True) -> None:
    """Make ``dataset`` the form's task (a callback: before the form is drawn), with the
    settings suited to forecasting unless ``settings`` is False (another pick of the same file:
    what the learner set since stays)."""
    keep(dataset)
    st.session_state["task"] = dataset.name
    if settings:
        st.session_state.update(csvdata.forecast_settings(dataset))
    elif st.session_state.get("seq_len", 0) > dataset.max_seq_len:
        st.session_state["seq_len"] = csvdata.forecast_settings(dataset)["seq_len"]


def _md(text: str) -> str:
    """A file's words (names, notes) inside markdown: a "$" would start LaTeX."""
    return text.replace("$", "\\$")


def _read_file(source: str, data: bytes, failed: str) -> None:
    """Read a new file with the default choices; it becomes the section's data set (and its
    bytes are kept for the pickers) and the form's task, or ``failed`` + the reason is shown."""
    was_selected = is_data_task(st.session_state.get("task"))
    for key in (DATASET, _ERROR, _FILE, SERIES, COLUMNS):  # the pickers start afresh
        st.session_state.pop(key, None)
    try:
        dataset = csvdata.read_series(data, source)
    except csvdata.CsvError as err:
        st.session_state[_ERROR] = f"{failed}: {err}"
        if was_selected:  # the old series is gone from the Task box: back to the default
            st.session_state["task"] = RunConfig().task
        return
    st.session_state[DATASET] = dataset
    st.session_state[_FILE] = (source, data)
    _select(dataset)


def _read_upload() -> None:
    """The uploader's callback: read a newly uploaded file once (not on every rerun)."""
    uploaded = st.session_state.get(UPLOAD)
    file_id = getattr(uploaded, "file_id", None)
    if file_id is None or file_id == st.session_state.get(_SEEN):
        return
    st.session_state[_SEEN] = file_id
    _read_file(uploaded.name, uploaded.getvalue(), f"**{_md(uploaded.name)}** can't be used")


def _load_example(file_name: str) -> None:
    path = ASSETS / file_name
    data = path.read_bytes() if path.is_file() else b""
    # a failure is a damaged installation, not the user's fault
    _read_file(file_name, data, "The example could not be read")


def _reread(**choice) -> bool:
    """Read the kept file again with the learner's pick (``series=`` or ``columns=``); False
    (with the reason shown, the data set unchanged) when that pick cannot be used."""
    dataset: csvdata.Dataset | None = st.session_state.get(DATASET)
    kept = st.session_state.get(_FILE)
    if dataset is None or kept is None:
        return False
    source, data = kept
    try:
        picked = csvdata.read_series(data, source, **choice)
    except csvdata.CsvError as err:
        st.session_state[_ERROR] = f"That choice can't be used: {err}"
        return False
    st.session_state[DATASET] = picked
    keep(picked)  # registered: the Task box names it
    st.session_state.pop(_ERROR, None)
    if st.session_state.get("task") == dataset.name:  # the form trained the old pick: now this
        _select(picked, settings=False)
    return True


def _pick_series() -> None:
    """The series picker's callback: the new series starts from its own first columns."""
    dataset: csvdata.Dataset | None = st.session_state.get(DATASET)
    if dataset is None:
        return
    if _reread(series=st.session_state.get(SERIES)):
        st.session_state.pop(COLUMNS, None)
    else:
        st.session_state[SERIES] = dataset.series


def _pick_columns() -> None:
    """The column picker's callback; the columns keep the file's order (the same pick is the
    same data set, and so the same runs, whatever order they were clicked in)."""
    dataset: csvdata.Dataset | None = st.session_state.get(DATASET)
    if dataset is None:
        return
    picked = set(st.session_state.get(COLUMNS) or ())
    columns = [c for c in dataset.column_options if c in picked]
    if not columns:
        st.session_state[_ERROR] = "Keep at least one column to forecast."
    elif _reread(series=dataset.series, columns=columns):
        st.session_state[COLUMNS] = columns
        return
    st.session_state[COLUMNS] = list(dataset.columns)


def _pickers(dataset: csvdata.Dataset) -> None:
    """Which series (a long-format file) and which columns to train on. The widgets' state is
    set from the data set before they are drawn, never passed as a default as well."""
    many_series = len(dataset.series_options) > 1
    many_columns = len(dataset.column_options) > 1
    if not (many_series or many_columns):
        return
    left, right = st.columns([1, 2]) if many_series and many_columns else (st, st)
    if many_series:
        st.session_state.setdefault(SERIES, dataset.series)
        left.selectbox(
            f"Series ({dataset.series_column})", dataset.series_options, key=SERIES,
            on_change=_pick_series,
            help=f"The file holds several series in long format, named in column "
                 f"**{_md(dataset.series_column)}**; the network trains on one of them.")
    if many_columns:
        st.session_state.setdefault(COLUMNS, list(dataset.columns))
        right.multiselect(
            "Columns to forecast", dataset.column_options, key=COLUMNS,
            on_change=_pick_columns, max_selections=csvdata.MAX_COLUMNS,
            help=f"1 to {csvdata.MAX_COLUMNS} numeric columns. The network reads all of them "
                 "at every step and predicts the next value of each.")


def split_figure(dataset: csvdata.Dataset) -> go.Figure:
    """The series, one panel per column (at most four), with the validation part shaded."""
    shown = min(len(dataset.columns), 4)
    x = dataset.time_axis()
    x_title = dataset.time_name or "row"
    fig = make_subplots(rows=shown, cols=1, shared_xaxes=True, vertical_spacing=0.04)
    keep_points = charts.downsample(dataset.rows, charts.MAX_LINE_POINTS)
    for j in range(shown):
        fig.add_trace(go.Scatter(
            x=x[keep_points], y=dataset.values[keep_points, j], mode="lines",
            name=dataset.columns[j], line=dict(color=charts.UNIT_COLORS[j], width=1.5),
            hovertemplate=f"{x_title} %{{x}}<br>{dataset.columns[j]} %{{y:.4g}}<extra></extra>"),
            row=j + 1, col=1)
        fig.update_yaxes(title_text=dataset.columns[j], row=j + 1, col=1)
    split = dataset.split
    # a shape's numpy datetime64[ns] would reach plotly.js as an integer of nanoseconds
    start, end = ((pd.Timestamp(x[split]), pd.Timestamp(x[-1])) if x.dtype.kind == "M"
                  else (x[split], x[-1]))
    fig.add_vrect(x0=start, x1=end, fillcolor=charts.VALIDATION_COLOR, opacity=0.15,
                  line_width=0, row="all", col=1)
    fig.add_vline(x=start, line=dict(color=charts.REFERENCE_COLOR, dash="dash", width=1),
                  row="all", col=1)
    more = f"; showing {shown} of {len(dataset.columns)} columns" if shown < len(dataset.columns) \
        else ""
    title = (f"Training part: first {split:,} rows · validation (shaded): last "
             f"{dataset.rows - split:,} rows{more}")
    fig.update_layout(template=charts.TEMPLATE, height=150 + 150 * shown, showlegend=False,
                      margin=dict(l=70, r=30, t=60, b=50),
                      title=dict(text=title, x=0, xanchor="left"))
    fig.update_xaxes(title_text=x_title, row=shown, col=1)
    return fig


def own_data_section() -> None:
    """Upload or pick a series (it becomes the form's task), see what was read and how it is
    split."""
    dataset: csvdata.Dataset | None = st.session_state.get(DATASET)
    with st.expander("Your own data", icon=":material/upload_file:",
                     expanded=dataset is not None or _ERROR in st.session_state):
        st.markdown(
            "Forecast your own time series: a CSV file with one row per time step and one or "
            "more columns of numbers; a date or time column orders and labels the rows. A file "
            "with several series in long format (e.g. symbol, date, price) trains on one of "
            f"them, at most {csvdata.MAX_COLUMNS} columns train together, and gaps are filled: "
            "what the reader chose is listed below the file. At most "
            f"{csvdata.MAX_ROWS:,} rows and {csvdata.MAX_CSV_BYTES // 2**20} MB; at least "
            f"{csvdata.MIN_ROWS} rows. The network reads the series one row at a time and "
            "predicts the next row.")
        st.file_uploader("CSV file", key=UPLOAD,  # no type filter: the content is checked
                         on_change=_read_upload,
                         max_upload_size=csvdata.MAX_CSV_BYTES // 2**20,
                         help="Comma, semicolon, tab or | separated; UTF-8 or Latin-1 text; "
                              "decimal commas (3,5) are read in files not separated by commas.")
        columns = st.columns(len(EXAMPLES) + 1, vertical_alignment="center")
        columns[0].caption("Or try an example:")
        for column, (file_name, label) in zip(columns[1:], EXAMPLES.items()):
            column.button(label, key=f"example_{file_name}", width="stretch",
                          on_click=_load_example, args=(file_name,))
        error = st.session_state.get(_ERROR)
        if error:
            st.error(error, icon=":material/error:")
        if dataset is None:
            return
        time_words = (f"time column **{_md(dataset.time_name)}**" if dataset.time_name
                      else "no time column (the row number is the time)")
        series_words = (f" of series **{_md(dataset.series)}**" if dataset.series is not None
                        else "")
        st.markdown(f"**{_md(dataset.source)}**: {dataset.rows:,} rows{series_words} × "
                    f"{len(dataset.columns)} numeric column(s) "
                    f"({_md(', '.join(dataset.columns))}); {time_words}.")
        _pickers(dataset)
        st.caption("How the file was read:\n" + "".join(f"\n- {_md(note)}"
                                                        for note in dataset.notes))
        st.plotly_chart(split_figure(dataset), width="stretch", key="own_data_split")
        st.caption("Each column is z-scored with the mean and standard deviation of the training "
                   "part only, so nothing about the future leaks into training. Validation "
                   "windows come from the shaded part: the score measures forecasting ahead.")
        _where_it_trains(dataset)


def _where_it_trains(dataset: csvdata.Dataset) -> None:
    """Where the series is trained: the form's Task and Train at the top, said here."""
    if st.session_state.get("task") != dataset.name:
        st.button("Make this series the task", key="own_data_select", icon=":material/input:",
                  on_click=_select, args=(dataset,),
                  help="Puts your series in the form's Task box at the top, with settings "
                       "suited to forecasting.")
        st.caption(f"Sequence length for this data: at most {dataset.max_seq_len} (a window "
                   "must fit inside the validation part).")
        return
    preset = csvdata.forecast_settings(dataset)
    st.info(f"Your series is the **Task** of the form at the top, with settings suited to "
            f"forecasting ({preset['seq_len']}-step windows, {preset['hidden_size']} hidden "
            f"units, Adam at {preset['lr']:g}, {preset['steps']} steps): press **Train** there. "
            "Change any setting first if you like; a window can be at most "
            f"{dataset.max_seq_len} steps (it must fit inside the validation part).",
            icon=":material/arrow_upward:")


def apply(cfg: RunConfig) -> str | None:
    """Check the form's config against the session's series when its task is one, and hold
    the series for the run; returns what stops it from being trained, in plain words, or None.
    (Called from the Train button's callback: the message is shown by the form.)"""
    if not is_data_task(cfg.task):
        return None
    dataset: csvdata.Dataset | None = st.session_state.get(DATASET)
    if dataset is None or dataset.name != cfg.task:
        return ("That series is no longer loaded: upload the CSV file again (Your own data, "
                "below) or choose another task.")
    if cfg.seq_len > dataset.max_seq_len:
        return (f"The sequence length {cfg.seq_len} is too long for your data: {dataset.rows:,} "
                f"rows leave {dataset.rows - dataset.split:,} for validation, so windows can be "
                f"at most {dataset.max_seq_len} steps. Lower the sequence length.")
    keep(dataset)
    return None

"""Your own data in the Playground: upload a CSV time series (or take an example), see it with
its training / validation split, and train on it with the form's model and training settings.

The Playground calls ``own_data_section()`` to draw the section and passes the form's config
through ``apply(cfg)``, which swaps in the data task when "Train on this data" is on.
"""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from rnnviz import charts
from rnnviz.core import csvdata
from rnnviz.core.config import RunConfig
from rnnviz.core.tasks import ASSETS
from rnnviz.serve import uploads

DATASET, USE, UPLOAD = "own_dataset", "use_own_data", "csv_upload"
_ERROR, _SEEN, _PINS = "own_data_error", "own_data_file", "own_data_pins"
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


def _use(dataset: csvdata.Dataset | None, error: str | None = None) -> None:
    st.session_state.pop(DATASET, None)
    st.session_state.pop(_ERROR, None)
    if dataset is not None:
        st.session_state[DATASET] = dataset
    if error:
        st.session_state[_ERROR] = error


def _read_upload() -> None:
    """Parse a newly uploaded file once (not on every rerun)."""
    uploaded = st.session_state.get(UPLOAD)
    file_id = getattr(uploaded, "file_id", None)
    if file_id is None or file_id == st.session_state.get(_SEEN):
        return
    st.session_state[_SEEN] = file_id
    try:
        _use(csvdata.parse_csv(uploaded.getvalue(), source=uploaded.name))
    except csvdata.CsvError as err:
        _use(None, f"**{uploaded.name}** can't be used: {err}")


def _load_example(file_name: str) -> None:
    try:
        _use(csvdata.load_csv_file(ASSETS / file_name))
    except csvdata.CsvError as err:  # a damaged installation, not the user's fault
        _use(None, f"The example could not be read: {err}")


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
    fig.add_vrect(x0=x[split], x1=x[-1], fillcolor=charts.VALIDATION_COLOR, opacity=0.15,
                  line_width=0, row="all", col=1)
    fig.add_vline(x=x[split], line=dict(color=charts.REFERENCE_COLOR, dash="dash", width=1),
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
    """Upload or pick a series, see what was read and how it is split, switch it on."""
    _read_upload()
    dataset: csvdata.Dataset | None = st.session_state.get(DATASET)
    with st.expander("Your own data", icon=":material/upload_file:",
                     expanded=dataset is not None or _ERROR in st.session_state):
        st.markdown(
            "Forecast your own time series: a CSV file with a header line, one row per time step "
            "and one or more columns of numbers (an optional date or time column labels the "
            f"rows). At most {csvdata.MAX_ROWS:,} rows, {csvdata.MAX_COLUMNS} numeric columns and "
            f"{csvdata.MAX_CSV_BYTES // 2**20} MB; at least {csvdata.MIN_ROWS} rows. The network "
            "reads the series one row at a time and predicts the next row.")
        st.file_uploader("CSV file", key=UPLOAD,  # no type filter: the content is checked
                         max_upload_size=csvdata.MAX_CSV_BYTES // 2**20,
                         help="Comma, semicolon or tab separated; UTF-8 text.")
        columns = st.columns(len(EXAMPLES) + 1, vertical_alignment="center")
        columns[0].caption("Or try an example:")
        for column, (file_name, label) in zip(columns[1:], EXAMPLES.items()):
            if column.button(label, key=f"example_{file_name}", width="stretch"):
                _load_example(file_name)
                st.rerun()
        error = st.session_state.get(_ERROR)
        if error:
            st.error(error, icon=":material/error:")
        if dataset is None:
            return
        time_words = (f"time column **{dataset.time_name}**" if dataset.time_name
                      else "no time column (the row number is the time)")
        st.markdown(f"**{dataset.source}**: {dataset.rows:,} rows × {len(dataset.columns)} "
                    f"numeric column(s) ({', '.join(dataset.columns)}); {time_words}.")
        for note in dataset.notes:
            st.caption(note)
        st.plotly_chart(split_figure(dataset), width="stretch", key="own_data_split")
        st.caption("Each column is z-scored with the mean and standard deviation of the training "
                   "part only, so nothing about the future leaks into training. Validation "
                   "windows come from the shaded part: the score measures forecasting ahead.")
        st.toggle("Train on this data", key=USE,
                  help="When on, **Train** above trains on your series instead of the form's "
                       "task; the model and training settings of the form still apply.")
        st.caption(f"Sequence length for this data: at most {dataset.max_seq_len} (a window "
                   "must fit inside the validation part).")


def apply(cfg: RunConfig) -> RunConfig | None:
    """The form's config, on the user's data when "Train on this data" is on. None (with an
    error shown) when the settings do not fit the data."""
    dataset: csvdata.Dataset | None = st.session_state.get(DATASET)
    if not st.session_state.get(USE) or dataset is None:
        return cfg
    if cfg.seq_len > dataset.max_seq_len:
        st.error(f"The sequence length {cfg.seq_len} is too long for your data: {dataset.rows:,} "
                 f"rows leave {dataset.rows - dataset.split:,} for validation, so windows can be "
                 f"at most {dataset.max_seq_len} steps. Lower the sequence length.",
                 icon=":material/block:")
        return None
    keep(dataset)
    return cfg.replace(task=dataset.name)

"""Runs you can keep: download the current run and its trace, open a saved run again, and a
line on what this server trains on (device and size limit).

A run file from an upload is untrusted: ``rnnviz.serve.store.load_run_bytes`` checks every part and
any problem is shown as a plain error. An opened run stays in this session only; it never
enters the server's shared cache, so a doctored file cannot stand in for other people's runs.
"""

from __future__ import annotations

import streamlit as st

from rnnviz.core import export
from rnnviz.core.config import is_data_task
from rnnviz.core.train import Run
from rnnviz.serve import limits, store, uploads

from . import data_ui, state

UPLOAD = "run_upload"
_SEEN, _ERROR = "run_upload_seen", "run_upload_error"
MAX_UPLOAD_MB = 16  # the largest run the form allows is about 8 MB


def server_caption() -> None:
    """What this server trains on and how large a new run may be (under the config form)."""
    limit = limits.max_job_size()
    size = ("" if limit is None else
            f" New runs may have at most {limit:,} unit updates (sequence length × hidden units "
            "× layers × batch size × training steps).")
    st.caption(f":material/memory: Device: {limits.device_summary()}{size}")


def _trace_csv(run: Run, batch_id: int, example: int) -> bytes:
    """Built when the button is clicked (Streamlit calls it outside the script run)."""
    tr, _, _ = state.run_trace(run, batch_id)
    return export.trace_csv(tr, export.default_examples(tr, example))


def trace_download(run: Run, key: str = "download_trace") -> None:
    """A button that downloads the internals of the current example batch as a long CSV."""
    batch_id = state.example_batch_id()
    example = int(st.session_state.get("example", 0))
    st.download_button(
        "Trace as CSV", data=lambda: _trace_csv(run, batch_id, example),
        file_name=f"{store.file_stem(run.config)}-trace-batch{batch_id}.csv", mime="text/csv",
        on_click="ignore", key=key, icon=":material/table:", width="stretch",
        help="Hidden states, gates, cell states and gradient norms of the 16 examples being "
             "inspected, one number per row: example, layer, t, quantity, unit, value.")


def _open_upload() -> None:
    """Open a newly uploaded run file once; the result (or the error) stays in the session."""
    uploaded = st.session_state.get(UPLOAD)
    file_id = getattr(uploaded, "file_id", None)
    if file_id is None or file_id == st.session_state.get(_SEEN):
        return
    st.session_state[_SEEN] = file_id
    st.session_state.pop(_ERROR, None)
    try:
        run = store.load_run_bytes(uploaded.getvalue())
    except ValueError as err:
        st.session_state[_ERROR] = (f"**{uploaded.name}** can't be opened as a run: {err}.")
        return
    if is_data_task(run.config.task):
        data_ui.keep(uploads.task_for(run.config.task).dataset)
    state.stop_training(keep=False)
    st.session_state[state.RUN] = run
    st.session_state[state.CONFIG] = run.config
    st.session_state.pop("example_batch", None)
    st.session_state[state.NOTICE] = (
        "success", f"Opened **{uploaded.name}**: {run.history.steps_done} training steps, "
                   "nothing retrained. Every page now shows this run.")
    st.rerun()


def save_and_open_section(run: Run | None) -> None:
    """Download the current run and its trace; open a saved run file."""
    _open_upload()
    with st.expander("Save or open a run", icon=":material/save:",
                     expanded=_ERROR in st.session_state):
        if run is not None:
            left, right = st.columns(2)
            left.download_button(
                "Download this run", data=lambda: store.run_file_bytes(run),
                file_name=store.download_name(run.config), mime="application/octet-stream",
                on_click="ignore", key="download_run", icon=":material/download:",
                width="stretch",
                help="The trained weights, the whole training history and the settings in one "
                     "file (safetensors). Open it here later to look inside without retraining.")
            with right:
                trace_download(run)
            st.caption("Each chart also has its own PNG download: hover over it and use the "
                       "camera icon in its toolbar.")
        st.file_uploader("Open a saved run (.rnnviz)", key=UPLOAD,  # content is checked
                         max_upload_size=MAX_UPLOAD_MB,
                         help="A file downloaded from this app. It is checked before use: a "
                              "damaged or foreign file is refused with the reason.")
        error = st.session_state.get(_ERROR)
        if error:
            st.error(error, icon=":material/error:")

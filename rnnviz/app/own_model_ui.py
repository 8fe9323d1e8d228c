"""Your own model in the Playground: upload the safetensors state dict of an ``nn.LSTM``,
``nn.GRU`` or ``nn.RNN`` trained elsewhere, choose its inputs (a CSV of sequences, or a built-in
task's inputs when the sizes fit) and a loss, and open it on the inside pages.

The design (``rnnviz.core.own_model`` has the details): "Open it" builds an ``OwnModelRun``, a
``Run`` whose model holds the uploaded weights, whose batches are the chosen inputs with the
chosen loss's targets, whose history is empty and whose config (task ``"own"``) no training
can have, and makes it the session's current run (``st.session_state[state.RUN]``), the way
opening a saved run file does. Hidden states, Gates, Gradients and Step through then draw it with
no change of their own: ``state.batch`` takes its batches from the run, the example picker
counts its examples, and every page says in its header what the run is and that it was not
trained here (``views.require_run``), so charts over training stay empty for a stated reason.

An uploaded file is untrusted: ``load_model_file`` refuses pickles by their first bytes, reads
safetensors (raw numbers, nothing that can run) and checks every name, dtype, shape, value and
size before anything is built; ``parse_sequences`` checks the CSV. Any problem is one plain
``st.error``.
"""

from __future__ import annotations

import streamlit as st

from rnnviz.core.inspect import MAX_MODEL_BYTES, ModelFile, load_model_file
from rnnviz.core.own_model import (
    LOSSES,
    MAX_SEQUENCES,
    MAX_STEPS,
    MIN_STEPS,
    OwnModelRun,
    Sequences,
    losses_for,
    own_model_run,
    parse_sequences,
    tasks_for,
)
from rnnviz.core.tasks import TASKS

from . import state, views

MODEL_UPLOAD, CSV_UPLOAD = "own_model_upload", "own_model_csv_upload"
INPUTS, STEPS, LOSS, NONLINEARITY = ("own_model_inputs", "own_model_steps", "own_model_loss",
                                     "own_model_nonlinearity")
OPEN = "own_model_open"
_MODEL, _MODEL_ERROR, _MODEL_SEEN = "own_model_file", "own_model_error", "own_model_seen"
_CSV, _CSV_ERROR, _CSV_SEEN = "own_model_sequences", "own_model_csv_error", "own_model_csv_seen"
_OPEN_ERROR = "own_model_open_error"
CSV_INPUTS = "csv"
SAVE_SNIPPET = """from safetensors.torch import save_file
save_file(lstm.state_dict(), "lstm.safetensors")   # or your whole model: model.state_dict()"""


def _read_model() -> None:
    """Check a newly uploaded model file once (not on every rerun); forget it when removed."""
    uploaded = st.session_state.get(MODEL_UPLOAD)
    file_id = getattr(uploaded, "file_id", None)
    if file_id == st.session_state.get(_MODEL_SEEN):
        return
    for key in (_MODEL, _MODEL_ERROR, _CSV_SEEN, _OPEN_ERROR):  # the CSV is read for a model
        st.session_state.pop(key, None)
    st.session_state[_MODEL_SEEN] = file_id
    if file_id is None:
        return
    try:
        st.session_state[_MODEL] = load_model_file(uploaded.getvalue(), source=uploaded.name)
    except ValueError as err:
        st.session_state[_MODEL_ERROR] = f"**{uploaded.name}** can't be used: {err}."


def _read_sequences(model_file: ModelFile) -> None:
    """Check a newly uploaded CSV once for this model's input size."""
    uploaded = st.session_state.get(CSV_UPLOAD)
    seen = (getattr(uploaded, "file_id", None), st.session_state.get(_MODEL_SEEN))
    if seen == st.session_state.get(_CSV_SEEN):
        return
    st.session_state[_CSV_SEEN] = seen
    st.session_state.pop(_CSV, None)
    st.session_state.pop(_CSV_ERROR, None)
    if uploaded is None:
        return
    try:
        st.session_state[_CSV] = parse_sequences(uploaded.getvalue(),
                                                 model_file.architecture.input_size,
                                                 source=uploaded.name)
    except ValueError as err:
        st.session_state[_CSV_ERROR] = f"**{uploaded.name}** can't be used: {err}."


def open_run(run: OwnModelRun) -> None:
    """Make ``run`` the session's current run, as opening a saved run does (any training this
    session was watching is left; the example batch starts again at the first)."""
    state.stop_training(keep=False)
    st.session_state.pop("example_batch", None)
    st.session_state[state.RUN] = run
    st.session_state[state.NOTICE] = (
        "success", f"Opened **{run.task.title}** on {run.task.inputs}. Hidden states, Gates, "
                   "Gradients and Step through now show it; nothing was trained.")


def _open(model_file: ModelFile, sequences: Sequences | None, inputs: str, steps: int,
          loss: str, nonlinearity: str) -> None:
    st.session_state.pop(_OPEN_ERROR, None)
    try:
        run = own_model_run(model_file, loss=loss, sequences=sequences,
                            input_task=None if inputs == CSV_INPUTS else inputs, steps=steps,
                            nonlinearity=nonlinearity)
        with st.spinner("Replaying the model step by step…"):
            state.run_trace(run, 0)  # once now: the pages open at once, a failure shows here
    except ValueError as err:
        st.session_state[_OPEN_ERROR] = f"The model can't be opened on these inputs: {err}."
        return
    open_run(run)
    st.rerun()


def _valid_choice(key: str, options: list) -> None:
    """Forget a radio's value that the current model does not offer (another file's)."""
    if key in st.session_state and st.session_state[key] not in options:
        del st.session_state[key]


def _inputs_choice(model_file: ModelFile) -> tuple[str, Sequences | None, int]:
    """The inputs widgets: ``(choice, sequences or None, steps)``."""
    arch = model_file.architecture
    options = [CSV_INPUTS] + tasks_for(model_file)
    _valid_choice(INPUTS, options)
    inputs = st.radio(
        "Inputs", options, key=INPUTS, horizontal=True,
        format_func=lambda k: "Your CSV of sequences" if k == CSV_INPUTS else
        f"{TASKS[k].title} inputs",
        help="What the model reads. A built-in task's inputs are offered when it has as many "
             f"features per step as the model reads ({arch.input_size}); only its inputs are "
             "used, not its targets, since the model was not trained on it.")
    steps = 40
    if inputs != CSV_INPUTS:
        steps = st.slider("Steps per sequence", MIN_STEPS, MAX_STEPS, 40, key=STEPS)
        return inputs, None, steps
    st.file_uploader("Input sequences (.csv)", key=CSV_UPLOAD,  # no type filter: it is checked
                     help="One row per time step, one column per input feature.")
    st.caption(f"One row per time step with {arch.input_size} number(s) per row (comma, "
               "semicolon or tab separated), an optional header line, and several sequences "
               "separated by a blank line, all with the same number of rows (at most "
               f"{MAX_SEQUENCES} sequences of {MAX_STEPS + 1} rows).")
    _read_sequences(model_file)
    error = st.session_state.get(_CSV_ERROR)
    if error:
        st.error(error, icon=":material/error:")
    sequences = st.session_state.get(_CSV)
    if sequences is not None:
        st.caption(f"Read {sequences.words()}.")
    return inputs, sequences, steps


def is_own_model(run) -> bool:
    """Whether ``run`` is a model from outside (the Playground shows it with
    ``current_model_summary`` instead of training results)."""
    return isinstance(run, OwnModelRun)


def current_model_summary(run: OwnModelRun) -> None:
    """The Playground's result area for a model from outside: what it is, what it reads, which
    loss its gradients are of, and that there is no training to show."""
    loss = LOSSES[run.loss]
    st.subheader(views.describe_run(run))
    st.markdown(f"It is {run.model.architecture.words()}  \nInputs: {run.task.inputs}.  \n"
                f"Loss: {loss.phrase}, ${loss.latex}$.")
    st.info("It was not trained here, so there are no training curves, no validation score and "
            "no chance level to show. Look inside it on **Hidden states**, **Gates**, "
            "**Gradients** and **Step through**.", icon=":material/upload_file:")


def own_model_section() -> None:
    """Upload a model, see what it is, choose inputs and a loss, open it on the inside pages."""
    _read_model()
    model_file: ModelFile | None = st.session_state.get(_MODEL)
    with st.expander("Your own model", icon=":material/upload:",
                     expanded=model_file is not None or _MODEL_ERROR in st.session_state):
        st.markdown(
            "Look inside a recurrent network you trained elsewhere, in a course or a notebook: "
            "upload the state dict of one `torch.nn.LSTM`, `nn.GRU` or `nn.RNN` (any sizes up "
            "to this app's limits, one direction, no `proj_size`), optionally with one "
            "`nn.Linear` readout of its top layer, saved with safetensors:")
        st.code(SAVE_SNIPPET, language="python")
        st.file_uploader("Model weights (.safetensors)", key=MODEL_UPLOAD,  # checked, not typed
                         max_upload_size=MAX_MODEL_BYTES // 2**20,
                         help="Read as safetensors (numbers only, nothing in it can run) and "
                              "checked before use. Pickles (torch.save, .pt, .pth) are refused.")
        error = st.session_state.get(_MODEL_ERROR)
        if error:
            st.error(error, icon=":material/error:")
        if model_file is None:
            return
        arch = model_file.architecture
        st.markdown(f"**{model_file.source}** holds {arch.words()}")
        nonlinearity = "tanh"
        if arch.cell == "rnn":
            nonlinearity = st.radio(
                "Nonlinearity of the nn.RNN", ["tanh", "relu"], key=NONLINEARITY,
                horizontal=True, help="A state dict does not record it: choose the one the "
                                      "module was built with (tanh is PyTorch's default).")
        inputs, sequences, steps = _inputs_choice(model_file)
        choices = losses_for(model_file)
        _valid_choice(LOSS, choices)
        loss = st.radio("Loss: what the gradients are gradients of", choices, key=LOSS,
                        format_func=lambda k: LOSSES[k].label)
        st.latex(LOSSES[loss].latex)
        phrase = LOSSES[loss].phrase
        st.caption(f"{phrase[0].upper()}{phrase[1:]}: {LOSSES[loss].words}")
        if "next_input" not in choices:
            st.caption("MSE to the next input needs a readout with one output per input "
                       f"feature ({arch.input_size}); this model has "
                       + ("none." if arch.output_size is None
                          else f"{arch.output_size} outputs."))
        ready = inputs != CSV_INPUTS or sequences is not None
        if st.button("Open it", key=OPEN, type="primary", icon=":material/visibility:",
                     disabled=not ready,
                     help="Show this model on Hidden states, Gates, Gradients and Step "
                          "through." if ready else "Upload the input sequences first."):
            _open(model_file, sequences, inputs, steps, loss, nonlinearity)
        error = st.session_state.get(_OPEN_ERROR)
        if error:
            st.error(error, icon=":material/error:")
        if isinstance(state.current_run(), OwnModelRun):
            st.caption("The current run is your own model: open **Hidden states**, **Gates**, "
                       "**Gradients** or **Step through** in the sidebar.")

"""Save and load runs as one safetensors file: weights and history arrays as tensors, config and
counters as JSON in the file's metadata. Loading never executes code from the file, so a run file
from a stranger is safe to open; anything that is not a well-formed run gives a ValueError that
says what is wrong.
"""

from __future__ import annotations

import json
import math
import struct
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load as load_tensors
from safetensors.torch import save as save_tensors

from rnnviz.core.config import RunConfig
from rnnviz.core.history import History
from rnnviz.core.models import build_model
from rnnviz.core.train import Run

FORMAT = "rnnviz-run"
VERSION = "1"
MAX_RUN_BYTES = 64 * 1024 * 1024  # a 256-unit, 3-layer LSTM plus history is about 7 MB
SUFFIX = ".rnnviz"
MAX_STOP_REASON = 500


def run_to_bytes(run: Run) -> bytes:
    """The run as the bytes of a safetensors file."""
    arrays, counters = run.history.state()
    tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in
               run.model.state_dict().items()}
    tensors.update({f"history.{k}": torch.from_numpy(np.ascontiguousarray(v))
                    for k, v in arrays.items()})
    metadata = {
        "format": FORMAT, "version": VERSION, "config": run.config.to_json(),
        "history": json.dumps(counters), "device": run.device,
        "elapsed_s": repr(run.elapsed_s), "meta": json.dumps(run.meta),
    }
    return save_tensors(tensors, metadata=metadata)


def save_run(run: Run, path: str | Path) -> Path:
    """Write the run to ``path`` (the conventional suffix is ``.rnnviz``)."""
    path = Path(path)
    path.write_bytes(run_to_bytes(run))
    return path


def _header_metadata(data: bytes) -> dict:
    """The ``__metadata__`` of a safetensors header: 8-byte little-endian length, then JSON."""
    if len(data) < 8:
        raise ValueError("the file is too short to be a run file")
    (length,) = struct.unpack("<Q", data[:8])
    if length > len(data) - 8 or length > 10_000_000:
        raise ValueError("the file is not a safetensors run file (bad header length)")
    try:
        header = json.loads(data[8: 8 + length])
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ValueError("the file is not a safetensors run file (unreadable header)") from None
    metadata = header.get("__metadata__") if isinstance(header, dict) else None
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT:
        raise ValueError("the file is a safetensors file but not an rnnviz run "
                         "(no rnnviz metadata)")
    if metadata.get("version") != VERSION:
        raise ValueError(f"run file version {metadata.get('version')!r} is not supported "
                         f"(this app reads version {VERSION})")
    return metadata


def run_from_bytes(data: bytes) -> Run:
    """Rebuild a run from file bytes, checking every part; ValueError says what is wrong."""
    if len(data) > MAX_RUN_BYTES:
        raise ValueError(f"the file is {len(data) / 1e6:.1f} MB; run files are at most "
                         f"{MAX_RUN_BYTES / 1e6:.0f} MB")
    metadata = _header_metadata(data)
    try:
        tensors = load_tensors(data)
    except Exception as err:  # safetensors raises several kinds for a damaged body
        raise ValueError(f"the run file is damaged or truncated ({err})") from None
    try:
        config = RunConfig.from_dict(json.loads(metadata["config"]))
        counters = json.loads(metadata["history"])
        meta = json.loads(metadata.get("meta", "{}"))
        elapsed = float(metadata.get("elapsed_s", "0"))
    except (KeyError, TypeError, json.JSONDecodeError) as err:
        raise ValueError(f"the run file's metadata is incomplete ({err})") from None
    except ValueError as err:
        raise ValueError(f"the run file's config is invalid: {err}") from None
    # the weights go into a model built from the file's own config: shapes must match exactly
    model = build_model(config.replace(device="cpu"))
    state = {k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")}
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as err:
        first = str(err).splitlines()[0]
        raise ValueError(f"the weights do not fit the run's config ({first})") from None
    model.eval()
    arrays = {k[len("history."):]: v.numpy() for k, v in tensors.items()
              if k.startswith("history.")}
    try:
        history = History.from_state(arrays, counters)
    except (KeyError, TypeError, AttributeError) as err:
        raise ValueError(f"the run file's history is incomplete (missing {err})") from None
    _check_history(history, config, meta, elapsed,
                   n_params=sum(t.numel() for t in model.state_dict().values()))
    return Run(config, model, history, device="cpu", elapsed_s=elapsed, meta=meta)


def _check_history(history: History, config: RunConfig, meta, elapsed_s: float,
                   n_params: int) -> None:
    """Every history array has the shape and dtype that training would give this config, the
    counters have the right types and ranges, and the extras are what ``run_to_bytes`` writes.
    A file that passes can be drawn by every page without an IndexError. A file written before
    snapshots existed has the probe buffer of a history without them."""
    with_snapshots = history._weights is not None
    fresh = History(config.steps, config.eval_every, config.seq_len,
                    n_params=n_params if with_snapshots else 0)
    for name in History.ARRAYS:
        have, want = getattr(history, name), getattr(fresh, name)
        if not isinstance(have, np.ndarray) or have.shape != want.shape or have.dtype != want.dtype:
            raise ValueError(f"the run file's history array {name.lstrip('_')!r} has the wrong "
                             "shape or type for its config")
    for name in ("steps_done", "evals_done", "probes_kept", "probe_stride", "_probes_seen"):
        value = getattr(history, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"the run file's history counter {name.lstrip('_')!r} is invalid")
    if history.probe_stride < 1:
        raise ValueError("the run file's history counter 'probe_stride' is invalid")
    if history.steps_done > config.steps:
        raise ValueError("the run file's step count is larger than its config allows")
    if history.probes_kept > len(history._probe_grad):
        raise ValueError("the run file's probe count is out of range")
    if history.evals_done > len(history._val):
        raise ValueError("the run file's validation count is out of range")
    if not isinstance(history.stop_reason, str) or len(history.stop_reason) > MAX_STOP_REASON:
        raise ValueError("the run file's stop reason is invalid")
    if history.best_step is not None and (isinstance(history.best_step, bool) or
                                          not isinstance(history.best_step, int)):
        raise ValueError("the run file's best step is invalid")
    if history.weights_step is not None and (
            isinstance(history.weights_step, bool) or not isinstance(history.weights_step, int)
            or not 0 <= history.weights_step <= history.steps_done):
        raise ValueError("the run file's kept-weights step is invalid")
    if history.weights_val is not None and (
            not isinstance(history.weights_val, tuple) or len(history.weights_val) != 2 or
            not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                    for v in history.weights_val)):
        raise ValueError("the run file's kept-weights validation is invalid")
    if not isinstance(meta, dict):
        raise ValueError("the run file's extra metadata is not a mapping")
    if not (math.isfinite(elapsed_s) and elapsed_s >= 0):
        raise ValueError("the run file's training time is invalid")
    if with_snapshots and (history.n_params != n_params or
                           len(history._weights) != max(history.probes_kept - 1, 0)):
        raise ValueError("the run file's snapshots do not fit its model or its probes")


def load_run(path: str | Path) -> Run:
    """Load a run saved by ``save_run`` onto the CPU. A missing file, a file that is not a run,
    or a damaged run raises ValueError with a plain message."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such file")
    if path.stat().st_size > MAX_RUN_BYTES:
        raise ValueError(f"{path}: larger than {MAX_RUN_BYTES / 1e6:.0f} MB, not a run file")
    try:
        return run_from_bytes(path.read_bytes())
    except ValueError as err:
        raise ValueError(f"{path}: {err}") from None

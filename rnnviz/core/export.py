"""A trace as a table: every measured number of one example batch in long format, for a CSV
download (pure pandas/numpy).

One row per number, columns ``example, layer, t, quantity, unit, value``:

================  ==========================================  ======  =====
quantity          what                                        layer   unit
================  ==========================================  ======  =====
``h``             hidden state h_t                            yes     yes
``c``             LSTM cell state c_t                         yes     yes
``gate_<name>``   gate activation (LSTM i f g o, GRU r z n)   yes     yes
``grad_norm_h``   ||dL_b/dh_t||, the gradient BPTT sends back  yes     empty
``grad_norm_x``   ||dL_b/dx_t||, input saliency               empty   empty
``jacobian_norm`` spectral norm of the step Jacobian          yes     empty
================  ==========================================  ======  =====

``example`` is the index in the batch (0-15), ``layer`` and ``unit`` count from 0, ``t`` is the
time step. An empty cell means "not per layer" or "not per unit".
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from rnnviz.core.trace import Trace

COLUMNS = ("example", "layer", "t", "quantity", "unit", "value")
MAX_EXPORT_ROWS = 2_000_000  # about 50 MB of CSV; beyond it, export fewer examples


def _per_unit(array: np.ndarray, quantity: str, layer: int, examples: np.ndarray) -> pd.DataFrame:
    """``array [batch, time, units]`` -> long rows for the chosen examples."""
    values = array[examples]
    ex, t, unit = np.indices(values.shape)
    return pd.DataFrame({"example": examples[ex.ravel()], "layer": layer, "t": t.ravel(),
                         "quantity": quantity, "unit": unit.ravel(),
                         "value": values.ravel()})


def _per_step(array: np.ndarray, quantity: str, layer: int | None,
              examples: np.ndarray) -> pd.DataFrame:
    """``array [batch, time]`` -> long rows (no unit)."""
    values = array[examples]
    ex, t = np.indices(values.shape)
    return pd.DataFrame({"example": examples[ex.ravel()], "layer": layer, "t": t.ravel(),
                         "quantity": quantity, "unit": None, "value": values.ravel()})


def row_count(tr: Trace, examples: int | None = None) -> int:
    """Rows ``trace_frame`` would produce for ``examples`` examples (all by default)."""
    batch, steps, units = tr.hidden[0].shape
    examples = batch if examples is None else examples
    per_layer = units * (1 + (1 if tr.cell else 0) + len(tr.gates[0]))
    per_layer += bool(tr.grad_h) + bool(tr.jacobian_norm)
    return examples * steps * (tr.num_layers * per_layer + (tr.grad_x is not None))


def trace_frame(tr: Trace, examples: Sequence[int] | None = None) -> pd.DataFrame:
    """The trace as a long table (see the module docstring); ``examples`` selects batch rows."""
    batch = tr.hidden[0].shape[0]
    chosen = np.arange(batch) if examples is None else np.asarray(examples, dtype=np.int64)
    if chosen.size and (chosen.min() < 0 or chosen.max() >= batch):
        raise ValueError(f"examples must be between 0 and {batch - 1}")
    parts = []
    for layer in range(tr.num_layers):
        parts.append(_per_unit(tr.hidden[layer], "h", layer, chosen))
        if tr.cell:
            parts.append(_per_unit(tr.cell[layer], "c", layer, chosen))
        for name, values in tr.gates[layer].items():
            parts.append(_per_unit(values, f"gate_{name}", layer, chosen))
        if tr.grad_h:
            parts.append(_per_step(tr.grad_h[layer], "grad_norm_h", layer, chosen))
        if tr.jacobian_norm:
            parts.append(_per_step(tr.jacobian_norm[layer], "jacobian_norm", layer, chosen))
    if tr.grad_x is not None:
        parts.append(_per_step(tr.grad_x, "grad_norm_x", None, chosen))
    frame = pd.concat(parts, ignore_index=True)
    frame["layer"] = frame["layer"].astype("Int64")
    frame["unit"] = frame["unit"].astype("Int64")
    frame["value"] = frame["value"].astype(np.float64)
    return frame[list(COLUMNS)]


def trace_csv(tr: Trace, examples: Sequence[int] | None = None) -> bytes:
    """``trace_frame`` as UTF-8 CSV bytes (values with 7 significant digits: float32 precision).
    Raises ValueError when the table would exceed ``MAX_EXPORT_ROWS``."""
    count = row_count(tr, None if examples is None else len(examples))
    if count > MAX_EXPORT_ROWS:
        raise ValueError(f"the trace has {count:,} numbers; a CSV holds at most "
                         f"{MAX_EXPORT_ROWS:,}: export one example, or use a shorter sequence "
                         "or fewer hidden units")
    return trace_frame(tr, examples).to_csv(index=False, float_format="%.7g").encode("utf-8")


def default_examples(tr: Trace, example: int) -> list[int] | None:
    """All examples when they fit in one CSV, else only ``example`` (None means all)."""
    return None if row_count(tr) <= MAX_EXPORT_ROWS else [example]

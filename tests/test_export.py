"""The trace CSV: long format, every number equal to the trace it came from."""

import io

import numpy as np
import pandas as pd
import pytest

from rnnviz.core import export
from rnnviz.core.config import RunConfig
from rnnviz.core.tasks import probe_batch
from rnnviz.core.trace import trace
from rnnviz.core.train import train


def _trace(cell: str, layers: int = 2):
    cfg = RunConfig(cell=cell, num_layers=layers, hidden_size=5, seq_len=6, steps=3,
                    eval_every=3, probe_every=3, device="cpu")
    x, y = probe_batch(cfg)
    return trace(train(cfg).model, x, y)


@pytest.fixture(scope="module")
def lstm_trace():
    return _trace("lstm")


def test_long_table_matches_the_trace(lstm_trace):
    tr = lstm_trace
    frame = export.trace_frame(tr)
    assert tuple(frame.columns) == export.COLUMNS
    assert len(frame) == export.row_count(tr)
    assert set(frame.quantity) == {"h", "c", "gate_i", "gate_f", "gate_g", "gate_o",
                                   "grad_norm_h", "jacobian_norm", "grad_norm_x"}

    def value(**where):
        rows = frame
        for column, wanted in where.items():
            rows = rows[rows[column].isna()] if wanted is None else rows[rows[column] == wanted]
        assert len(rows) == 1
        return rows.value.iloc[0]

    assert value(quantity="h", example=3, layer=1, t=2, unit=4) == pytest.approx(
        tr.hidden[1][3, 2, 4])
    assert value(quantity="gate_f", example=0, layer=0, t=5, unit=1) == pytest.approx(
        tr.gates[0]["f"][0, 5, 1])
    assert value(quantity="c", example=15, layer=1, t=0, unit=0) == pytest.approx(
        tr.cell[1][15, 0, 0])
    assert value(quantity="grad_norm_h", example=7, layer=0, t=1, unit=None) == pytest.approx(
        tr.grad_h[0][7, 1])
    assert value(quantity="grad_norm_x", example=2, layer=None, t=3, unit=None) == pytest.approx(
        tr.grad_x[2, 3])


def test_csv_round_trip_and_example_selection(lstm_trace):
    data = export.trace_csv(lstm_trace, examples=[4])
    frame = pd.read_csv(io.BytesIO(data))
    assert list(frame.columns) == list(export.COLUMNS)
    assert set(frame.example) == {4}
    assert len(frame) == export.row_count(lstm_trace, examples=1)
    h = frame[(frame.quantity == "h") & (frame.layer == 0)].sort_values(["t", "unit"])
    np.testing.assert_allclose(h.value.to_numpy().reshape(6, 5), lstm_trace.hidden[0][4],
                               rtol=1e-6, atol=1e-7)
    assert frame[frame.quantity == "grad_norm_x"].layer.isna().all()
    with pytest.raises(ValueError, match="between 0 and 15"):
        export.trace_frame(lstm_trace, examples=[16])


@pytest.mark.parametrize("cell,gates", [("gru", {"gate_r", "gate_z", "gate_n"}), ("rnn", set())])
def test_gate_names_follow_pytorch(cell, gates):
    frame = export.trace_frame(_trace(cell, layers=1))
    assert {q for q in frame.quantity.unique() if q.startswith("gate_")} == gates
    assert "c" not in set(frame.quantity)


def test_too_large_exports_one_example_or_refuse(lstm_trace, monkeypatch):
    monkeypatch.setattr(export, "MAX_EXPORT_ROWS", export.row_count(lstm_trace) - 1)
    assert export.default_examples(lstm_trace, example=9) == [9]
    with pytest.raises(ValueError, match="export one example"):
        export.trace_csv(lstm_trace)
    assert export.trace_csv(lstm_trace, examples=[9])

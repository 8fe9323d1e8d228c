import json
import struct

import numpy as np
import pytest
import torch
from safetensors.torch import save as save_tensors

from rnnviz import RunConfig, load_run, save_run, trace, train
from rnnviz.core.runs import run_from_bytes, run_to_bytes
from rnnviz.core.tasks import probe_batch


@pytest.fixture(scope="module")
def run():
    return train(RunConfig(cell="gru", task="copy", seq_len=8, lag=2, hidden_size=6, steps=30,
                           eval_every=10, probe_every=10))


def test_round_trip_keeps_model_config_and_history(run, tmp_path):
    path = save_run(run, tmp_path / "a.rnnviz")
    loaded = load_run(path)
    assert loaded.config == run.config
    x, y = probe_batch(run.config)
    np.testing.assert_array_equal(trace(loaded.model, x, y).grad_h[0],
                                  trace(run.model, x, y).grad_h[0])
    for name in ("loss", "metric", "grad_norm", "clipped", "val_loss", "probe_grad",
                 "probe_step"):
        np.testing.assert_array_equal(getattr(loaded.history, name), getattr(run.history, name))
    assert loaded.history.stop_reason == run.history.stop_reason


def _header(metadata, tensors=None):
    return save_tensors(tensors or {"a": torch.zeros(2)}, metadata=metadata)


@pytest.mark.parametrize("make,words", [
    (lambda good: b"hello, I am a text file", "bad header length"),
    (lambda good: b"", "too short"),
    (lambda good: good[: len(good) // 2], "damaged or truncated"),
    (lambda good: _header({"x": "y"}), "not an rnnviz run"),
    (lambda good: _header({"format": "rnnviz-run", "version": "99"}), "version '99'"),
    (lambda good: _header({"format": "rnnviz-run", "version": "1"}), "metadata is incomplete"),
    (lambda good: _header({"format": "rnnviz-run", "version": "1",
                           "config": json.dumps({"cell": "banana"}), "history": "{}"}),
     "config is invalid"),
    (lambda good: _header({"format": "rnnviz-run", "version": "1",
                           "config": RunConfig().to_json(), "history": "{}"}),
     "weights do not fit"),
    (lambda good: struct.pack("<Q", 5) + b"{]}xx", "unreadable header"),
])
def test_bad_files_give_clear_errors(run, make, words):
    with pytest.raises(ValueError, match=words.replace("(", r"\(")):
        run_from_bytes(make(run_to_bytes(run)))


def test_history_of_the_wrong_shape_is_refused(run):
    from safetensors.torch import load as load_tensors
    from safetensors.torch import save as save
    data = run_to_bytes(run)
    tensors = load_tensors(data)
    tensors["history.probe_grad"] = tensors["history.probe_grad"].flatten()  # 1-D, not 2-D
    from rnnviz.core.runs import _header_metadata
    doctored = save(tensors, metadata=_header_metadata(data))
    with pytest.raises(ValueError, match="'probe_grad' has the wrong shape"):
        run_from_bytes(doctored)


def test_load_run_on_non_run_file(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("not a run")
    with pytest.raises(ValueError, match="notes.txt"):
        load_run(text)
    with pytest.raises(ValueError, match="no such file"):
        load_run(tmp_path / "missing.rnnviz")
    pickle_file = tmp_path / "evil.pt"
    torch.save({"x": 1}, pickle_file)  # a pickle archive is refused, never unpickled
    with pytest.raises(ValueError):
        load_run(pickle_file)

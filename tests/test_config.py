import dataclasses

import pytest

from rnnviz import FIELDS, RunConfig
from rnnviz.core.config import clamp, coerce


def test_every_field_has_a_table_entry_and_defaults_validate():
    names = {f.name for f in dataclasses.fields(RunConfig)}
    assert names == set(FIELDS)
    RunConfig()  # defaults are valid


@pytest.mark.parametrize("field,value,words", [
    ("seq_len", -3, "seq_len: -3 is out of range; allowed 2 to 400"),
    ("cell", "banana", "cell: 'banana' is not allowed; choose rnn | lstm | gru"),
    ("hidden_size", 257, "hidden_size: 257 is out of range; allowed 1 to 256"),
    ("num_layers", 4, "allowed 1 to 3"),
    ("lr", float("nan"), "lr: nan is out of range"),
    ("hidden_size", 3.5, "hidden_size: 3.5 must be a whole number"),
    ("steps", None, "steps: a value is required"),
    ("dropout", "x", "dropout: 'x' is not a number"),
])
def test_out_of_range_names_field_and_range(field, value, words):
    with pytest.raises(ValueError) as err:
        RunConfig(**{field: value})
    assert words in str(err.value)


def test_copy_lag_must_be_shorter_than_sequence():
    with pytest.raises(ValueError, match="lag: 10 must be smaller than seq_len"):
        RunConfig(task="copy", seq_len=10, lag=10)
    RunConfig(task="adding", seq_len=10, lag=10)  # lag only matters for the copy task


def test_from_dict_coerces_text_and_rejects_unknown_keys():
    cfg = RunConfig.from_dict({"seq_len": "30", "clip": "off", "lr": "0.003", "cell": "GRU"})
    assert (cfg.seq_len, cfg.clip, cfg.lr, cfg.cell) == (30, None, 0.003, "gru")
    with pytest.raises(ValueError, match="unknown config field"):
        RunConfig.from_dict({"seq_lenn": 3})
    assert RunConfig.from_dict(RunConfig(seed=4).to_dict()) == RunConfig(seed=4)


def test_coerce_and_clamp_repair_bad_values():
    assert coerce("seq_len", "12") == 12
    with pytest.raises(ValueError, match="seq_len"):
        coerce("seq_len", "twelve")
    assert clamp("seq_len", -3) == 2
    assert clamp("hidden_size", 1e9) == 256
    assert clamp("cell", "banana") == RunConfig().cell
    assert clamp("lr", float("inf")) == RunConfig().lr
    assert clamp("clip", None) is None


def test_key_identifies_config():
    assert RunConfig(seed=1).key == RunConfig(seed=1).key != RunConfig(seed=2).key

"""The runs folder, opening untrusted run files (uploads included), GPU runs on a CPU server, the
registry consulting the folder, and the pretrain command."""

import argparse
import json
import random
import subprocess
import sys

import numpy as np
import pytest
import torch
from safetensors.torch import load as load_tensors
from safetensors.torch import save as save_tensors

from rnnviz.core import csvdata
from rnnviz.core.config import RunConfig
from rnnviz.core.runs import run_to_bytes
from rnnviz.core.tasks import TASKS, probe_batch
from rnnviz.core.trace import trace
from rnnviz.core.train import Run, train
from rnnviz.serve import pretrain, store, uploads
from rnnviz.serve.jobs import JobRegistry
from tests.conftest import ROOT

TINY = dict(seq_len=6, hidden_size=4, steps=12, eval_every=6, probe_every=6, device="cpu")


@pytest.fixture(scope="module")
def run():
    return train(RunConfig(**TINY))


def test_file_names_are_readable_and_unique(tmp_path):
    runs = store.RunStore(tmp_path)
    a, b = RunConfig(**TINY), RunConfig(**{**TINY, "seed": 1})
    assert runs.path_for(a).name.startswith("lstm-adding-T6-")
    assert runs.path_for(a) == runs.path_for(RunConfig(**TINY))
    assert runs.path_for(a) != runs.path_for(b)
    assert store.download_name(RunConfig(cell="gru", task="csv:0123456789ab")) == \
        "gru-csv-0123456789ab-T20.rnnviz"


def test_save_load_list(run, tmp_path):
    runs = store.RunStore(tmp_path / "runs")
    assert runs.load(run.config) is None and runs.list() == []
    path = runs.save(run)
    loaded = runs.load(run.config)
    assert loaded.config == run.config and loaded.meta["source"] == "runs folder"
    for name, value in run.model.state_dict().items():
        torch.testing.assert_close(loaded.model.state_dict()[name], value)
    (tmp_path / "runs" / "junk.rnnviz").write_bytes(b"not a run")
    listed = {entry.path.name: entry for entry in runs.list()}
    assert listed[path.name].config == run.config and listed[path.name].steps_done == 12
    assert "not a safetensors run file" in listed["junk.rnnviz"].error
    # a damaged file or one holding another config only costs a retrain
    path.write_bytes(path.read_bytes()[:-100])
    assert runs.load(run.config) is None
    other = train(RunConfig(**{**TINY, "seed": 5}))
    path.write_bytes(run_to_bytes(other))
    assert runs.load(run.config) is None


def test_registry_opens_pretrained_runs_without_training(run, tmp_path):
    runs = store.RunStore(tmp_path)
    runs.save(run)
    registry = JobRegistry(max_jobs=1, store=runs)
    result = registry.submit(run.config)
    assert isinstance(result, Run) and result.history.steps_done == 12
    assert registry.active == 0 and len(registry.cache) == 1
    assert registry.submit(run.config) is result  # now from memory


def _mutate_header(data: bytes, change) -> bytes:
    tensors = load_tensors(data)
    length = int.from_bytes(data[:8], "little")
    metadata = json.loads(data[8: 8 + length])["__metadata__"]
    change(tensors, metadata)
    return save_tensors(tensors, metadata=metadata)


def _set(key, value):
    def change(tensors, metadata):
        metadata[key] = value
    return change


def _counter(name, value):
    def change(tensors, metadata):
        counters = json.loads(metadata["history"])
        counters[name] = value
        metadata["history"] = json.dumps(counters)
    return change


def _tensor(name, value):
    def change(tensors, metadata):
        tensors[name] = value
    return change


@pytest.mark.parametrize("change,words", [
    (_set("config", json.dumps([1, 2])), "metadata is incomplete"),
    (_set("config", json.dumps({**RunConfig(**TINY).to_dict(), "task": "csv:0123456789ab"})),
     "does not contain that data set"),
    (_set("meta", "[1]"), "not a mapping|metadata"),
    (_set("elapsed_s", "nan"), "training time"),
    (_counter("stop_reason", 7), "stop reason"),
    (_counter("steps_done", "12"), "counter|invalid"),
    (_counter("best_step", [1]), "best step"),
    (_counter("probe_stride", 0), "probe_stride"),
    (_tensor("history.loss", torch.zeros(12, dtype=torch.float64)), "'loss' has the wrong"),
    (_tensor("history.probe_grad", torch.zeros(200)), "'probe_grad' has the wrong"),
    (_tensor("history.clipped", torch.zeros(12)), "'clipped' has the wrong"),
])
def test_doctored_files_are_refused_with_a_reason(run, change, words):
    with pytest.raises(ValueError, match=words):
        store.load_run_bytes(_mutate_header(run_to_bytes(run), change))


def test_random_damage_never_escapes_as_anything_but_valueerror(run):
    good = run_to_bytes(run)
    rng = random.Random(0)
    cuts = [0, 1, 7, 8, 9, 50, len(good) // 3, len(good) - 1]
    for cut in cuts:
        with pytest.raises(ValueError):
            store.load_run_bytes(good[:cut])
    length = int.from_bytes(good[:8], "little")
    for _ in range(150):
        damaged = bytearray(good)
        for _ in range(rng.randint(1, 4)):  # flip bytes inside the JSON header
            damaged[rng.randrange(8, 8 + length)] = rng.randrange(256)
        try:
            store.load_run_bytes(bytes(damaged))
        except ValueError:
            pass


def test_gpu_run_opens_on_the_cpu(run):
    """A run trained on CUDA: run files hold CPU tensors, and loading builds a CPU model."""
    on_gpu = Run(run.config, run.model, run.history, device="cuda", elapsed_s=1.0)
    loaded = store.load_run_bytes(store.run_file_bytes(on_gpu))
    assert loaded.device == "cpu"
    assert all(p.device.type == "cpu" for p in loaded.model.parameters())


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_real_cuda_run_round_trip():
    gpu_run = train(RunConfig(**{**TINY, "device": "cuda"}))
    assert next(gpu_run.model.parameters()).device.type == "cuda"
    loaded = store.load_run_bytes(store.run_file_bytes(gpu_run))
    assert loaded.device == "cpu"
    for name, value in gpu_run.model.state_dict().items():
        torch.testing.assert_close(loaded.model.state_dict()[name], value.cpu())


def test_csv_run_file_carries_its_data_to_a_fresh_server():
    dataset = csvdata.load_csv_file(ROOT / "assets" / "daily_temperature.csv")
    token = uploads.pin(dataset)
    cfg = RunConfig(**{**TINY, "task": dataset.name})
    data = store.run_file_bytes(train(cfg))
    del token
    uploads._recent.pop(dataset.name, None)  # what a different server process looks like
    TASKS.pop(dataset.name, None)
    loaded = store.load_run_bytes(data)
    assert loaded.config == cfg and uploads.registered(dataset.name)
    assert "dataset" not in loaded.meta
    x, y = probe_batch(cfg)
    assert np.isfinite(trace(loaded.model, x, y).hidden[0]).all()


def _pretrain(*argv) -> int:
    parser = pretrain.add_pretrain_arguments(argparse.ArgumentParser())
    return pretrain.command_pretrain(parser.parse_args(list(argv)))


def test_pretrain_fills_the_folder_and_skips_what_is_there(tmp_path, capsys):
    configs = tmp_path / "class.json"
    configs.write_text(json.dumps([
        {**TINY, "cell": "gru"},
        {**TINY, "data": str(ROOT / "assets" / "predator_prey.csv")},
        {**TINY, "cell": "gru"},  # a duplicate trains once
    ]))
    runs_dir = tmp_path / "runs"
    assert _pretrain("--config-file", str(configs), "--runs-dir", str(runs_dir)) == 0
    out = capsys.readouterr().out
    assert "2 run(s)" in out and "trained 2, already there 0" in out
    assert _pretrain("--config-file", str(configs), "--runs-dir", str(runs_dir)) == 0
    assert "trained 0, already there 2" in capsys.readouterr().out
    registry = JobRegistry(max_jobs=1, store=store.RunStore(runs_dir))
    assert isinstance(registry.submit(RunConfig(**{**TINY, "cell": "gru"})), Run)
    assert _pretrain("--list", "--runs-dir", str(runs_dir)) == 0
    assert "2 file(s)" in capsys.readouterr().out


@pytest.mark.parametrize("content,words", [
    ("[{\"cell\": \"lstm\",}]", "not valid JSON \\(line 1"),
    ("{\"cell\": \"lstm\"}", "non-empty JSON list"),
    ("[{\"cel\": \"lstm\"}]", "run 1: unknown config field\\(s\\): cel"),
    ("[{}, {\"hidden_size\": 9999}]", "run 2: hidden_size: 9999 is out of range"),
    ("[{\"data\": \"missing.csv\"}]", "missing.csv: no such file"),
    ("[{\"task\": \"csv:0123456789ab\"}]", "names uploaded data"),
])
def test_pretrain_bad_config_files(tmp_path, content, words):
    path = tmp_path / "c.json"
    path.write_text(content)
    with pytest.raises(ValueError, match=words):
        _pretrain("--config-file", str(path), "--runs-dir", str(tmp_path))
    with pytest.raises(ValueError, match="no such file"):
        _pretrain("--config-file", str(tmp_path / "nope.json"))


def test_pretrain_into_a_folder_it_cannot_write(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    configs = tmp_path / "c.json"
    configs.write_text(json.dumps([TINY]))
    with pytest.raises(ValueError, match="cannot write to the runs folder"):
        _pretrain("--config-file", str(configs), "--runs-dir", str(blocker / "runs"))


def test_pretrain_command_line_exits_2_with_one_line(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("[1]")
    result = subprocess.run([sys.executable, "-m", "rnnviz", "pretrain", "--config-file",
                             str(bad)], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "expected an object" in result.stderr

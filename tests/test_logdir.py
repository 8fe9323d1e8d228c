"""The log folder reader the app will use (rnnviz.serve.logdir): real recordings in real
folders, one still being written, one damaged, and what must never be read."""

from __future__ import annotations

import os

import pytest
import torch
from torch import nn

import rnnviz
from rnnviz.serve.logdir import LogDir, list_runs


def _record(path, steps, close=True):
    gru = nn.GRU(1, 2)
    rec = rnnviz.record(gru, torch.randn(4, 2, 1), lambda o: o[-1].sum(1), to=path, every=2)
    for _ in range(steps):
        rec.step(0.1)
    if close:
        rec.close()
    else:
        rec._flush("recording")  # what the writer leaves between two flushes
    return rec


def test_lists_the_runs_with_steps_and_whether_they_are_written(tmp_path):
    _record(tmp_path / "done", 5)
    writing = _record(tmp_path / "writing", 3, close=False)
    (tmp_path / "notes").mkdir()  # a folder that is not a run: left out
    (tmp_path / "readme.txt").write_text("hi")
    entries = {e.name: e for e in list_runs(tmp_path)}
    assert set(entries) == {"done", "writing"}
    assert (entries["done"].steps, entries["done"].live, entries["done"].status) == \
        (5, False, "closed")
    assert entries["done"].snapshots == 4  # 0, 2, 4 and the last, 5
    assert (entries["writing"].steps, entries["writing"].live) == (3, True)
    logdir = LogDir(tmp_path)
    first = logdir.open("writing")
    assert logdir.open("writing") is first  # nothing new written: the same run
    writing.step(0.1)
    writing.close()
    again = logdir.open("writing")
    assert again is not first and again.history.last_step == 4 and again.status == "closed"


def test_nothing_outside_the_folder_is_read(tmp_path):
    logdir = tmp_path / "logs"
    logdir.mkdir()
    _record(tmp_path / "outside", 2)
    os.symlink(tmp_path / "outside", logdir / "link")  # a link to a run elsewhere
    _record(logdir / "inside", 2)
    assert [e.name for e in list_runs(logdir)] == ["inside"]
    reader = LogDir(logdir)
    for name in ("link", "../outside", "inside/../../outside", "/etc", ".hidden", ""):
        with pytest.raises(ValueError):
            reader.open(name)
    assert reader.open("inside").snapshot_steps == [0, 2]


def test_a_damaged_run_is_listed_with_its_message(tmp_path):
    _record(tmp_path / "broken", 2)
    (tmp_path / "broken" / "index.json").write_text("{")
    (entry,) = list_runs(tmp_path)
    assert "not valid JSON" in entry.error and entry.steps == 0
    with pytest.raises(ValueError, match="not valid JSON"):
        LogDir(tmp_path).open("broken")


def test_a_logdir_that_does_not_exist(tmp_path):
    with pytest.raises(ValueError, match="no such folder"):
        list_runs(tmp_path / "nope")
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="is a file"):
        LogDir(tmp_path / "file")

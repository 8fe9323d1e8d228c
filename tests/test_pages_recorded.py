"""The Recorded runs page (``rnnviz app --logdir``; issue 23) through AppTest, on real
recordings written by ``rnnviz.record`` in a real folder: the list, a damaged run's message,
picking a run for the inside pages (the Training step slider's stops are its snapshots), and a
run still being written followed as it grows."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

import rnnviz
from rnnviz.app import main as app_main
from rnnviz.charts.recorded import recorded_loss
from rnnviz.core.recorded import RecordedRun
from tests.apptest import decode_plotly, open_app
from tests.conftest import ROOT

PAGE = "pages/recorded.py"


class Loop:
    """A learner's tiny loop: an LSTM and a readout trained on a sum, recorded every 2 steps."""

    def __init__(self, path, every=2):
        torch.manual_seed(0)
        self.lstm, self.head = nn.LSTM(1, 3), nn.Linear(3, 1)
        params = list(self.lstm.parameters()) + list(self.head.parameters())
        self.opt = torch.optim.SGD(params, lr=0.05)
        self.x = torch.randn(6, 4, 1)
        self.rec = rnnviz.record(self.lstm, torch.randn(6, 2, 1),
                                 lambda out: self.head(out[-1]).pow(2).sum(1), to=path,
                                 every=every)

    def steps(self, n):
        for _ in range(n):
            out, _ = self.lstm(self.x)
            loss = (self.head(out[-1]) - self.x.sum(0)).pow(2).mean()
            self.opt.zero_grad()
            loss.backward()
            self.opt.step()
            self.rec.step(loss)
        self.rec._flush("recording")  # what the writer has written by its next flush
        return self


@pytest.fixture
def logdir(tmp_path, monkeypatch):
    folder = tmp_path / "runs"
    folder.mkdir()
    monkeypatch.setenv(app_main.LOGDIR_ENV, str(folder))
    return folder


def _page(at):
    return at.switch_page(PAGE).run()


def _texts(at) -> str:
    return "\n".join([m.value for m in at.markdown] + [c.value for c in at.caption]
                     + [e.value for e in at.error] + [s.value for s in at.subheader])


def test_the_page_is_listed_only_with_a_log_folder(monkeypatch):
    monkeypatch.delenv(app_main.LOGDIR_ENV, raising=False)
    assert app_main.RECORDED not in app_main.page_list(ROOT / "pages")
    monkeypatch.setenv(app_main.LOGDIR_ENV, "runs")
    assert app_main.page_list(ROOT / "pages")[1] == app_main.RECORDED


def test_lists_runs_with_steps_snapshots_and_a_damaged_runs_message(logdir):
    Loop(logdir / "done").steps(5).rec.close()
    Loop(logdir / "broken").steps(2).rec.close()
    (logdir / "broken" / "index.json").write_text("{")
    (logdir / ".hidden").mkdir()
    at = _page(open_app())
    assert not at.exception
    text = _texts(at)
    done = rnnviz.load_run(logdir / "done")
    assert "**done** · finished" in text
    assert f"step 5 · {len(done.snapshot_steps)} snapshots" in text
    assert any("broken" in e.value for e in at.error) and "index.json" in text
    assert not any(b.key == "logdir_open_broken" for b in at.button)  # cannot be picked
    assert ".hidden" not in text


def test_picking_a_run_opens_it_on_the_inside_pages_at_its_snapshots(logdir):
    Loop(logdir / "mine").steps(7).rec.close()
    at = _page(open_app())
    at.button(key="logdir_open_mine").click().run()
    run = at.session_state["run"]
    assert isinstance(run, RecordedRun) and run.path == str(logdir / "mine")
    assert run.snapshot_steps == [0, 2, 4, 6, 7]
    assert "**Step 7** of your loop, 5 snapshots (steps 0 to 7)" in _texts(at)
    at.switch_page("pages/gates.py").run()
    assert not at.exception
    (slider,) = [s for s in at.select_slider if s.label == "Training step"]
    assert list(slider.options) == ["step 0, before training", "step 2", "step 4", "step 6",
                                     "step 7"]
    assert slider.value == 7  # the last snapshot, as a finished run opens
    # the sidebar says where the run comes from and which loss the inside pages differentiate
    # (it said "Uploaded, not trained here", and nothing of the stand-in loss)
    sidebar = " ".join(c.value for c in at.sidebar.caption)
    assert "Recorded from your own training loop (5 snapshots)" in sidebar, sidebar
    assert "Uploaded" not in sidebar


def test_a_run_being_written_is_followed(logdir):
    loop = Loop(logdir / "live").steps(3)
    at = _page(open_app())
    assert ":primary-badge[:material/fiber_manual_record: recording]" in _texts(at)
    at.button(key="logdir_open_live").click().run()
    assert "**Step 3** of your loop" in _texts(at)
    first = at.session_state["run"]
    loop.steps(6)
    at.run()
    assert "**Step 9** of your loop" in _texts(at)
    now = at.session_state["run"]
    assert now is not first and now.snapshot_steps == [0, 2, 4, 6, 8]
    chart = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert "up to step 9" in chart["layout"]["title"]["text"]
    assert max(decode_plotly(chart["data"][0]["x"])) == 9


def test_a_log_folder_that_vanished_is_a_message(logdir, monkeypatch):
    at = _page(open_app())
    assert not at.exception and "No recorded runs" in at.info[0].value
    monkeypatch.setenv(app_main.LOGDIR_ENV, str(logdir / "gone"))
    at.run()
    assert not at.exception and "no such folder" in at.error[0].value


def test_the_loss_chart_draws_the_recorded_losses_and_snapshots(tmp_path):
    loop = Loop(tmp_path / "run").steps(5)
    loop.rec.step(0.5, val_loss=0.25)
    loop.rec.close()
    run = rnnviz.load_run(tmp_path / "run")
    fig = recorded_loss(run.history, "run")
    assert fig.layout.title.text.startswith("Loss of run, up to step 6")
    assert fig.layout.xaxis.title.text and fig.layout.yaxis.title.text == "loss"
    train, val, snaps = fig.data
    assert (train.name, val.name) == ("training loss", "validation loss")
    assert list(train.x) == list(run.history.step)
    assert list(train.y) == pytest.approx(list(run.history.loss))
    assert list(val.y) == [0.25] and list(snaps.x) == run.snapshot_steps
    assert all(t.hovertemplate for t in fig.data)

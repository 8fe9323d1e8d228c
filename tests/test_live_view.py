"""The Playground's one screen, server side: the first picture is the run's real step 0, every
panel of a redraw is one snapshot, estimates come from measured speed, and a job no page looks
at any more stops (issue 20)."""

import re
import time
from types import SimpleNamespace

import numpy as np
import pytest

from rnnviz.app import live_ui
from rnnviz.core.config import RunConfig
from rnnviz.core.tasks import probe_batch
from rnnviz.core.train import train
from rnnviz.serve import speed
from rnnviz.studies.inside import initial_inside, inside_view
from tests.jobhelpers import registry_in, wait_until

TINY = dict(seq_len=8, hidden_size=8, steps=60, eval_every=20, probe_every=20, device="cpu")
LONG = dict(TINY, steps=100_000)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_the_first_picture_is_the_runs_own_step_0(cell):
    """Computed from the config before any worker starts, and equal, bit for bit, to the inside
    of the trained run's step-0 snapshot and to the probe row training recorded at step 0."""
    cfg = RunConfig(**TINY, cell=cell)
    view, row = initial_inside(cfg)
    run = train(cfg)
    x, y = probe_batch(cfg)
    oracle = inside_view(run.model_at(0), x, y, 0)
    assert view.step == 0
    np.testing.assert_array_equal(view.hidden, oracle.hidden)
    np.testing.assert_array_equal(view.grad_h, oracle.grad_h)
    assert view.gates.keys() == oracle.gates.keys()
    for name in view.gates:
        np.testing.assert_array_equal(view.gates[name], oracle.gates[name])
    assert run.history.probe_step[0] == 0
    np.testing.assert_array_equal(np.float32(row), run.history.probe_grad[0])  # kept as float32


def test_every_panel_of_a_redraw_is_one_snapshot():
    """The gradient-over-training rows stop at the step the other panels show, even when the
    history already holds newer ones (the worker sends its inside less often than it probes),
    and every figure's title names that step."""
    cfg = RunConfig(**dict(TINY, steps=100, probe_every=10))
    run = train(cfg)
    x, y = probe_batch(cfg)
    view = inside_view(run.model_at(40), x, y, 40)
    job = SimpleNamespace(inside=view, history=run.history, cfg=cfg)
    assert run.history.probe_step.max() == 100  # newer rows exist
    snapshot = live_ui.job_snapshot(job)
    assert snapshot.step == 40
    np.testing.assert_array_equal(snapshot.probe_step, [0, 10, 20, 30, 40])
    np.testing.assert_array_equal(snapshot.probe_grad, run.history.probe_grad[:5])
    figures = live_ui._figures(snapshot)
    titles = [figure.layout.title.text for _, figure in figures]
    assert all("step 40" in title for title in titles[:-1]), titles
    heat = figures[-1][1].data[0]
    assert list(heat.y) == [0, 10, 20, 30, 40]  # the last panel's rows: no later step


def test_before_the_first_snapshot_the_live_view_shows_step_0():
    cfg = RunConfig(**TINY)
    job = SimpleNamespace(inside=None, history=None, cfg=cfg)
    snapshot = live_ui.job_snapshot(job)
    assert snapshot.step == 0
    np.testing.assert_array_equal(snapshot.probe_step, [0])
    np.testing.assert_array_equal(snapshot.view.hidden, initial_inside(cfg)[0].hidden)


def test_estimates_come_from_measured_speed(tmp_path):
    """No estimate before anything was measured; after a job, the server's rate in unit
    updates per second, so a run twice as long is estimated twice as long; a running job is
    estimated from its own steps per second."""
    registry = registry_in(tmp_path, max_jobs=1)
    cfg = RunConfig(**dict(TINY, steps=400))
    assert registry.speed.seconds_for(cfg) is None
    assert speed.seconds_left(cfg, 0, 0.0, registry.speed)[0] is None
    job = registry.submit(cfg)
    run = job.wait(120)
    assert run is not None and job.trained_s > 0
    measured = job.trained_s
    assert registry.speed.seconds_for(cfg) == pytest.approx(measured, rel=1e-6)
    longer = RunConfig(**dict(TINY, steps=800))
    assert registry.speed.seconds_for(longer) == pytest.approx(2 * measured, rel=1e-6)
    # a job 100 steps in, started 2 s ago: 50 steps/s, 300 steps left -> 6 s
    seconds, basis = speed.seconds_left(cfg, 100, 1000.0, registry.speed, now=1002.0)
    assert seconds == pytest.approx(6.0) and basis == "at this run's measured 50 steps/s"
    assert speed.duration_words(6.2) == "about 6 s"
    assert speed.duration_words(200) == "about 3 min"


def test_a_job_no_page_looks_at_stops_and_one_a_page_watches_goes_on(tmp_path):
    """A closed tab never detaches: its job is stopped once no page has looked at it for the
    limit. A job a page keeps looking at trains on (another session joined it), and a job no
    page ever watched (a script's, a pretraining's) is left alone."""
    registry = registry_in(tmp_path, max_jobs=3)
    closed = registry.submit(RunConfig(**LONG, seed=1))
    watched = registry.submit(RunConfig(**LONG, seed=2))
    scripted = registry.submit(RunConfig(**LONG, seed=3))
    # the pool has RNNVIZ_MAX_CONCURRENT_JOBS workers (2 by default): the third may still wait
    # for one, which does not matter here (it is never looked at, whatever its state)
    for job in (closed, watched):
        wait_until(lambda job=job: job.progress.step > 0, 200)
    closed.touch()
    closed.seen -= 60  # its tab was closed a minute ago
    watched.touch()
    assert registry.stop_abandoned(limit=30) == [closed]
    run = closed.wait(60)
    assert run is not None and closed.done
    assert "no page had looked at it for" in run.history.stop_reason
    assert run.history.steps_done < LONG["steps"]
    time.sleep(0.5)
    assert not watched.done and not scripted.done
    assert watched.progress.step > 0 and scripted.abandoned_after is None
    for job in (watched, scripted):
        job.detach()


@pytest.mark.parametrize("columns", [2, 1])
def test_the_board_is_one_figure_of_one_snapshot_with_its_panels_apart(columns):
    """The live board: the loss across the top with the snapshot's step marked, every panel in
    its own region (panels of one row side by side with room for a colour bar between them,
    rows one under another), each colour bar beside its own panel, every panel's title kept,
    and every step the figure names the snapshot's."""
    cfg = RunConfig(**dict(TINY, steps=100, probe_every=10))
    run = train(cfg)
    x, y = probe_batch(cfg)
    view = inside_view(run.model_at(40), x, y, 40)
    snapshot = live_ui.job_snapshot(SimpleNamespace(inside=view, history=run.history, cfg=cfg))
    panels = live_ui._panels(snapshot)
    from rnnviz import charts
    loss = charts.live_loss_figure(run.history, run.chance, "MSE")
    board = charts.live_board(panels, loss, 40, "Training live: the network at step 40", columns)
    layout = board["layout"]
    boxes = []
    for index in range(1, len(panels) + 2):
        suffix = "" if index == 1 else str(index)
        boxes.append((layout[f"xaxis{suffix}"]["domain"], layout[f"yaxis{suffix}"]["domain"]))
    for a in range(len(boxes)):
        for b in range(a + 1, len(boxes)):
            (ax, ay), (bx, by) = boxes[a], boxes[b]
            apart = ax[1] <= bx[0] or bx[1] <= ax[0] or ay[1] <= by[0] or by[1] <= ay[0]
            assert apart, (a, b, boxes[a], boxes[b])
    for trace in board["data"]:
        if "colorbar" in trace:
            index = int(trace["xaxis"][1:] or 1)
            (px, py) = boxes[index - 1]
            bar = trace["colorbar"]
            assert px[1] < bar["x"] < px[1] + 0.05 and py[0] <= bar["y"] <= py[1]
            right = [bx[0] for bx, by in boxes if by == py and bx[0] > px[1]]
            assert all(bar["x"] < edge - 0.15 for edge in right)  # room for its tick labels
    texts = [layout["title"]["text"]] + [a["text"] for a in layout["annotations"]]
    for _, figure in panels:
        assert figure["layout"]["title"]["text"] in texts
    assert {int(m) for text in texts for m in re.findall(r"step (\d+)", text)} == {40}
    assert layout["shapes"][0]["x0"] == 40  # the loss's mark
    if columns == 1:
        assert all(bx == [0, 1] or bx == [0.0, 1.0] for bx, _ in boxes)


@pytest.mark.parametrize("projector", [False, True])
def test_the_board_sent_unvalidated_is_the_board_plotly_validates(projector):
    """The board goes to the browser as ``charts.assembled_figure``, not validated again (it is
    put together from validated figures); the JSON the browser gets is the one plotly's
    validation of the same dict gives, at a desk and at projector size."""
    import json

    import plotly.graph_objects as go
    import plotly.io as pio

    from rnnviz import charts
    from rnnviz.app import projector as projector_size

    cfg = RunConfig(**dict(TINY, steps=100, probe_every=10))
    run = train(cfg)
    x, y = probe_batch(cfg)
    view = inside_view(run.model_at(40), x, y, 40)
    snapshot = live_ui.job_snapshot(SimpleNamespace(inside=view, history=run.history, cfg=cfg))
    loss = charts.live_loss_figure(run.history, run.chance, "MSE")
    board = charts.live_board(live_ui._panels(snapshot), loss, 40, "Training live", 2)
    if projector:
        board = projector_size.sized(board)
    sent = json.loads(pio.to_json(charts.assembled_figure(board)))
    assert sent == json.loads(pio.to_json(go.Figure(board)))

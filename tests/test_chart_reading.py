"""Charts that read at a glance on a projector and a phone: titles that wrap instead of being
clipped, legends that never cover them, one labelled format for every log axis, Compare's
profiles relative to the last step, every unit of the saturation chart visible or counted, and
one time range for a sequence panel and the heatmap under it. Real runs, as the pages draw
them (``tests/test_palette.py`` builds each page's figures)."""

from __future__ import annotations

import functools
import math
import re

import numpy as np
import plotly.graph_objects as go
import pytest

from rnnviz import TASKS, RunConfig, charts, trace, train
from rnnviz.core.analysis import gate_saturation
from rnnviz.core.history import History
from rnnviz.core.tasks import Chance, probe_batch
from rnnviz.studies.stepthrough import backward_terms, forward_terms
from tests.apptest import decode_plotly
from tests.test_palette import SMALL, pages, run_of

LINE_LIMIT = 45  # characters of a title line that fit a 390 px phone at plotly's title size
LINE_PX, SUBTITLE_PX = 19, 13  # the least a 16 px line and a <sup> line take


@functools.cache
def every_figure() -> list:
    figures = [figure for page in pages().values() for figure in page]
    run, x, y, tr = run_of("rnn", "adding")
    history = History(steps=4, eval_every=2, seq_len=4)
    for loss in (0.2, 0.18, 0.17, 0.16):  # less than a decade
        history.record_step(loss, loss, 0.5, False)
    figures += [
        charts.backward_animation(backward_terms(run.model, x, y, tr, 0, 0), 3),
        charts.forward_animation(forward_terms(run.model, x, tr, 0, 0), 0, 3),
        charts.loss_curves(history, Chance(0.19, 0.19, "mean"), "MSE", False),
        charts.live_loss_figure(history, Chance(0.19, 0.19, "mean"), "MSE"),
        charts.saliency_chart(tr.grad_x[0], log_y=True),
        charts.measured_bars({"with memory": 0.003, "without": 0.15}, "Error", "MSE",
                             reference=("chance", 0.17), log_y=True),
        charts.per_step_lines({"a": np.linspace(0.01, 0.2, 8)}, "Error", "MSE", log_y=True),
        charts.final_metric_chart({"rnn": 0.15, "lstm": 0.0003, "gru": 0.00015}, 0.17,
                                  "mean", "MSE", False),
    ]
    return figures


def plotly_figures():
    return [go.Figure(f) if isinstance(f, dict) else f for f in every_figure()
            if isinstance(f, dict | go.Figure)]


def layout_of(fig: go.Figure) -> dict:
    return decode_plotly(fig.to_dict()["layout"])


def visible(text: str) -> str:
    return re.sub(r"<[^>]+>", "", text)


def title_lines(text: str) -> list[str]:
    return re.split(r"<br\s*/?>", text or "", flags=re.IGNORECASE)


# ---------------------------------------------------------------- titles and legends


def test_no_title_line_is_longer_than_a_phone_shows_and_the_top_margin_fits_them():
    for fig in plotly_figures():
        lay = layout_of(fig)
        title = lay["title"]["text"]
        lines = title_lines(title)
        for line in lines:  # a <sup> line is drawn at 70%: a third more characters fit
            small = line.startswith(("<sup>", "<sub>"))
            assert len(visible(line)) <= (LINE_LIMIT * 4 / 3 if small else LINE_LIMIT), line
        needed = sum(SUBTITLE_PX if line.startswith(("<sup>", "<sub>")) else LINE_PX
                     for line in lines)
        assert lay["margin"]["t"] >= needed + 10, (title, lay["margin"]["t"])
        assert lay["title"].get("yref") == "container" and lay["title"]["yanchor"] == "top"


def test_altair_titles_wrap_as_plotly_titles_do():
    charts_of_altair = [f for f in every_figure() if not isinstance(f, dict | go.Figure)]
    assert charts_of_altair
    for chart in charts_of_altair:
        spec = chart.to_dict()
        titles = [spec["title"]] + [view["title"] for view in spec["vconcat"]]
        for title in titles:
            for line in [title] if isinstance(title, str) else title:
                assert len(line) <= LINE_LIMIT, line


def test_long_titles_break_at_word_boundaries_and_keep_every_word():
    run, *_ = run_of("lstm", "sine")
    from rnnviz.core.analysis import recurrent_spectra
    spectra = recurrent_spectra(run.model)
    top = max(spectra, key=lambda s: s.spectral_radius)
    fig = charts.singular_value_chart(spectra)
    title = layout_of(fig)["title"]["text"]
    assert "<br>" in title  # the "Singular values of W_hh (largest spectral rad"
    words = " ".join(visible(line) for line in title_lines(title)).split()
    assert words == (f"Singular values of W_hh (largest spectral radius ρ = "
                     f"{top.spectral_radius:.2f}, layer 0 · {top.gate})").split()
    wrapped = charts.wrap_text("What adds up to g_t's pre-activation, unit 3, t = 5<br>"
                               "<sup>sum 0.123 · 4 terms are 0 (not shown) and a long tail of "
                               "words</sup>")
    lines = title_lines(wrapped)
    assert all(len(visible(line)) <= LINE_LIMIT * 4 / 3 for line in lines)
    assert all(line.startswith("<sup>") and line.endswith("</sup>") for line in lines[2:])
    assert charts.wrap_text("<b>t = 3</b> is bold " * 4).count("<b>") == 4  # tags stay whole


def test_axis_titles_wrap_too():
    for fig in plotly_figures():
        lay = layout_of(fig)
        axes = [v for k, v in lay.items() if k.startswith(("xaxis", "yaxis"))]
        axes += [v for k, v in lay.get("scene", {}).items() if k.endswith("axis")]
        for axis in axes:
            for line in title_lines(axis.get("title", {}).get("text", "")):
                assert len(visible(line)) <= LINE_LIMIT, line


def test_a_legend_sits_below_the_plot_or_beside_it_never_over_the_title():
    for fig in plotly_figures():
        lay = layout_of(fig)
        if not lay.get("showlegend"):
            continue
        legend = lay["legend"]
        below = (legend.get("orientation") == "h" and legend.get("yref") == "container"
                 and legend.get("yanchor") == "bottom" and legend["y"] < 0.1)
        beside = legend.get("orientation") == "v" and legend.get("x", 0) > 1
        assert below or beside, (lay["title"]["text"], legend)
        if below:  # the bottom margin holds the legend under the axis title
            axis = 60 if lay["xaxis"].get("visible", True) else 0
            assert lay["margin"]["b"] >= axis + 22, lay["title"]["text"]


def test_a_title_set_later_is_wrapped_and_fitted_too():
    fig = charts.compare_loss_chart({"lstm": run_of("lstm", "adding")[0].history},
                                    run_of("lstm", "adding")[0].chance)
    charts.set_title(fig, "Gradient reaching each step at initialization, for every start")
    lay = layout_of(fig)
    lines = title_lines(lay["title"]["text"])
    assert len(lines) == 2 and all(len(visible(line)) <= LINE_LIMIT for line in lines)
    assert lay["margin"]["t"] >= 2 * LINE_PX + 10


# ---------------------------------------------------------------- log axes


def _axes(lay: dict):
    for key, axis in lay.items():
        if re.fullmatch(r"[xy]axis\d*", key):
            yield key, axis


def _values_on(fig: go.Figure, key: str) -> np.ndarray:
    """The finite positive values of the traces drawn on axis ``key`` ("yaxis2" ...)."""
    letter, number = key[0], key[5:]
    ref = letter + number
    values = []
    for data in decode_plotly(fig.to_dict()["data"]):
        if data.get(f"{letter}axis", letter) != ref or data["type"] == "heatmap":
            continue
        if data.get("orientation") == "h":
            if letter == "y":
                continue
            column = data.get("x")
        else:
            column = data.get(letter)
        try:
            values.append(np.asarray(column, dtype=float).ravel())
        except (TypeError, ValueError):
            continue
    values = np.concatenate(values) if values else np.zeros(0)
    return values[np.isfinite(values) & (values > 0)]


def test_every_log_axis_labels_powers_of_ten_and_spans_at_least_a_decade():
    seen = 0
    for fig in plotly_figures():
        lay = layout_of(fig)
        step_through = "Walking back through time" in lay["title"]["text"]
        for key, axis in _axes(lay):
            if axis.get("type") != "log":
                continue
            seen += 1
            where = (lay["title"]["text"], key)
            # ticks at powers of ten only: every one, or every k-th when there are too many
            assert isinstance(axis.get("dtick"), int) and axis["dtick"] >= 1, where
            assert axis.get("exponentformat") == "power", where
            assert axis.get("showexponent") == "all", where
            assert not axis.get("minor", {}).get("ticks"), where  # no minor tick (labels)
            if step_through:  # rebuilt by the step-through change; its range is automatic
                continue
            low, high = axis["range"]
            assert math.floor(high) - math.ceil(low) >= 1, where  # two labelled decades
            labels = (math.floor(high) - math.ceil(low)) // axis["dtick"] + 1
            assert 2 <= labels <= 8, where  # few enough to read
            assert axis["dtick"] == 1 or (math.floor(high) - math.ceil(low)) / 1 > 7, where
            values = np.log10(_values_on(fig, key))
            if values.size:
                assert low <= values.min() and values.max() <= high, where
    assert seen >= 20


# ---------------------------------------------------------------- compare


def test_compare_profiles_are_relative_to_the_last_step_and_end_at_one():
    profiles = {cell: run_of(cell, "copy")[3].grad_h[-1].mean(axis=0)
                for cell in ("rnn", "lstm", "gru")}
    fig = charts.compare_gradient_chart({charts.cell_label(c): p for c, p in profiles.items()})
    lines = {t["name"]: t for t in decode_plotly(fig.to_dict()["data"])}
    for cell, profile in profiles.items():
        line = lines[charts.cell_label(cell)]
        y = np.asarray(line["y"], dtype=float)
        assert y[-1] == pytest.approx(1.0)  # every line ends at 1: the slope is what differs
        np.testing.assert_allclose(y, profile / profile[-1], rtol=1e-6)
        assert line["line"]["color"] == charts.CELL_COLORS[cell]
    assert "T−1" in layout_of(fig)["yaxis"]["title"]["text"]


def test_final_scores_are_bars_in_the_cells_colours_on_a_log_axis_for_errors():
    runs = {cell: run_of(cell, "adding")[0] for cell in ("rnn", "lstm", "gru")}
    scores = {cell: run.summary()["val_metric"] for cell, run in runs.items()}
    chance = runs["rnn"].chance
    fig = charts.final_metric_chart(scores, chance.metric, chance.how, "MSE", False)
    bars = decode_plotly(fig.to_dict()["data"])[0]
    assert bars["marker"]["color"] == [charts.CELL_COLORS[c] for c in scores]
    assert layout_of(fig)["yaxis"]["type"] == "log"
    accuracy = charts.final_metric_chart({"rnn": 0.6, "gru": 0.99}, 0.5, "guess", "accuracy",
                                         True)
    assert layout_of(accuracy)["yaxis"].get("type") != "log"  # a share stays linear
    tiny = charts.final_metric_chart({"rnn": 0.15, "lstm": 0.0003, "gru": 0.00015}, 0.17,
                                     "mean", "MSE", False)
    low, high = layout_of(tiny)["yaxis"]["range"]
    assert low <= math.log10(0.00015) and math.log10(0.17) <= high  # every bar shows


# ---------------------------------------------------------------- smaller defects


@pytest.fixture(scope="module")
def wide_lstm():
    """An LSTM with 96 units (the issue's case), trained a few steps on parity."""
    cfg = RunConfig(cell="lstm", task="parity", hidden_size=96, seq_len=12, steps=20,
                    eval_every=10, probe_every=10)
    run = train(cfg)
    x, y = probe_batch(cfg)
    return trace(run.model, x, y)


def test_every_unit_of_the_saturation_chart_is_visible_or_counted(wide_lstm):
    saturation = {n: gate_saturation(v) for n, v in wide_lstm.gates[0].items()
                  if n not in ("g", "n")}
    fig = charts.saturation_scatter(saturation)
    per_axes: dict[str, list[tuple[float, float]]] = {}
    for data in decode_plotly(fig.to_dict()["data"]):
        if not data["name"].startswith(("i ", "f ", "o ")):
            continue
        gate = data["name"][0]
        points = list(zip(data["x"], data["y"]))
        assert len(set(points)) == len(points)  # no marker hides another of its gate
        axes = data.get("xaxis", "x")
        assert axes not in per_axes  # each gate on its own axes: no gate covers another
        per_axes[axes] = points
        counts = [int(c) for c, _ in data["customdata"]]
        units = sorted(int(u) for _, listed in data["customdata"] for u in listed.split(","))
        assert units == list(range(96)) and sum(counts) == 96, gate
        shown = [str(c) if c > 1 else "" for c in counts]
        assert data["text"] == shown  # the count is printed on the marker
        left, right = saturation[gate]
        for (x, y), (_, listed) in zip(points, data["customdata"]):
            members = [int(u) for u in listed.split(",")]
            assert np.all(np.abs(left[members] - x) <= 0.05 + 1e-9)
            assert np.all(np.abs(right[members] - y) <= 0.05 + 1e-9)
    assert len(per_axes) == 3


@pytest.mark.parametrize("steps", [64, 400])
def test_the_text_panel_and_the_heatmap_under_it_share_one_time_range(steps):
    cfg = RunConfig(cell="lstm", task="text", **{**SMALL, "seq_len": steps, "steps": 2})
    run = train(cfg)
    x, y = probe_batch(cfg)
    tr = trace(run.model, x[:2], y[:2])
    panel = charts.sequence_panel(TASKS["text"], x[0].numpy(), y[0].numpy(), tr.prediction[0])
    heatmap = charts.state_heatmap(tr.hidden[0][0], "Hidden state h_t")
    ranges = [layout_of(fig)["xaxis"].get("range") for fig in (panel, heatmap)]
    assert ranges[0] == ranges[1] == [-0.5, min(steps, charts.TIME_WINDOW) - 0.5]
    # the same plot area too: step t sits at the same pixel in both
    margins = [{side: layout_of(fig)["margin"][side] for side in "lr"} for fig in (panel, heatmap)]
    assert margins[0] == margins[1]
    if steps <= charts.TIME_WINDOW:  # every character of the sequence is on the panel
        assert ranges[0] == [-0.5, steps - 0.5]


def test_in_chromium_step_t_sits_at_the_same_pixel_in_the_panel_and_the_heatmaps_under_it():
    """What "the same time axis" promises, measured where it is drawn: the plot areas of the
    sequence panel and of the h_t and c_t heatmaps start and end at the same pixel, at a
    desktop column's width and a phone's."""
    import shutil

    sync_api = pytest.importorskip("playwright.sync_api")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("no chromium")
    from plotly.offline import get_plotlyjs
    cfg = RunConfig(cell="lstm", task="text", **{**SMALL, "seq_len": 64, "steps": 2})
    run = train(cfg)
    x, y = probe_batch(cfg)
    tr = trace(run.model, x[:2], y[:2])
    figures = [charts.sequence_panel(TASKS["text"], x[0].numpy(), y[0].numpy(),
                                     tr.prediction[0]),
               charts.state_heatmap(tr.hidden[0][0], "Hidden state h_t, layer 0"),
               charts.state_heatmap(tr.cell[0][0], "LSTM cell state c_t", None,
                                    colorbar_title="c_t")]
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium,
                                     args=["--no-sandbox", "--disable-gpu"])
        for width in (700, 358):
            divs = "".join(f"<div id='f{i}' style='width:{width}px'></div><script>"
                           f"var f = {fig.to_json()}; Plotly.newPlot('f{i}', f.data, f.layout);"
                           "</script>" for i, fig in enumerate(figures))
            page = browser.new_page(viewport={"width": width + 20, "height": 800})
            page.set_content(f"<html><head><script>{get_plotlyjs()}</script></head>"
                             f"<body>{divs}</body></html>")
            page.wait_for_function("document.querySelectorAll('.nsewdrag').length >= 3")
            areas = page.evaluate("() => [...document.querySelectorAll('.main-svg')]"
                                  ".map(svg => svg.querySelector('.nsewdrag'))"
                                  ".filter(Boolean).map(drag => {"
                                  "const r = drag.getBoundingClientRect();"
                                  "return [Math.round(r.left), Math.round(r.right)]})")
            page.close()
            assert len(areas) == 3 and len(set(map(tuple, areas))) == 1, (width, areas)
        browser.close()

"""One colour language: on every page, one colour means one thing; a cell, a gate and a split
have the same colour on every chart they appear in, and no identity's colour means anything
else anywhere.

The figures are the ones each page draws, built from real (small) runs the way the page builds
them. Each mark's meaning is read from its legend name (or, for bars coloured one by one, from
the category it stands for), so the test sees what a learner sees: the colour next to a name.
"""

from __future__ import annotations

import functools
import re

import numpy as np
import plotly.graph_objects as go
import pytest

from rnnviz import RunConfig, charts, trace, train
from rnnviz.core.analysis import gate_saturation, pca, recurrent_spectra
from rnnviz.core.tasks import TASKS, load_corpus, probe_batch
from rnnviz.core.trace import last_loss_gradient_profile, parameter_gradient_norms
from rnnviz.studies.compare import collect_sweep, sweep_configs
from rnnviz.studies.features import FEATURES, rank_units
from rnnviz.studies.generate import forecast_example, read_text
from rnnviz.studies.inside import inside_view
from rnnviz.studies.lesson_measures import parameter_breakdown
from rnnviz.studies.sentiment import read_sentence, sentiment_units
from tests.apptest import decode_plotly

SMALL = dict(seq_len=8, hidden_size=6, steps=6, eval_every=2, probe_every=2, lag=3)
LABELS = {"rnn": "Vanilla RNN", "lstm": "LSTM", "gru": "GRU"}  # charts.cell_label


@functools.cache
def run_of(cell: str, task: str, **changes):
    cfg = RunConfig(cell=cell, task=task, **{**SMALL, **changes})
    run = train(cfg)
    x, y = probe_batch(cfg)
    return run, x, y, trace(run.model, x, y)


# ---------------------------------------------------------------- what each page draws


def playground_page():
    run, x, y, _ = run_of("lstm", "adding")
    view = inside_view(run.model, x, y, run.config.steps)
    live = [figure for _, figure in charts.live_figures(view, run.history.probe_step,
                                                          run.history.probe_grad)]
    return [charts.live_loss_figure(run.history, run.chance, run.task.metric_name),
            charts.loss_curves(run.history, run.chance, run.task.metric_name,
                               run.task.higher_is_better), *live]


def compare_page(task: str = "copy"):
    runs = [run_of(cell, task)[0] for cell in ("rnn", "lstm", "gru")]
    chance = runs[0].chance
    grid = sweep_configs(runs[0].config, ["rnn", "lstm"], [4, 8, 16, 32], "seq_len")
    sweep = collect_sweep(runs[0].config, grid, "seq_len",
                          [train(cfg) for cells in grid.values() for cfg in cells])
    return [
        charts.compare_loss_chart({LABELS[r.config.cell]: r.history for r in runs}, chance),
        charts.final_metric_chart({r.config.cell: r.summary()["val_metric"] for r in runs},
                                  chance.metric, chance.how, runs[0].task.metric_name,
                                  runs[0].task.higher_is_better),
        charts.compare_gradient_chart({LABELS[r.config.cell]: run_of(r.config.cell, task)[3]
                                       .grad_h[-1].mean(axis=0) for r in runs}),
        charts.sweep_chart(sweep),
    ]


def gates_page(cell: str):
    *_, tr = run_of(cell, "adding")
    gates = {name: values[0] for name, values in tr.gates[0].items()}
    return [*(charts.gate_heatmap(values, name, cell) for name, values in gates.items()),
            charts.gate_means(gates, cell),
            charts.saturation_scatter({n: gate_saturation(v) for n, v in tr.gates[0].items()
                                       if n not in ("g", "n")})]


def gradients_page(cell: str, task: str):
    run, x, y, tr = run_of(cell, task)
    spectra = recurrent_spectra(run.model)
    many_to_one = run.model.many_to_one
    last = None if many_to_one else last_loss_gradient_profile(run.model, x, y, 0).mean(0)
    theory = cell == "rnn"
    return [
        charts.gradient_profile(tr.grad_h[0].mean(0), spectra[0].spectral_radius if theory
                                else None, sigma_max=float(spectra[0].singular_values[0])
                                if theory else None, last_loss=last),
        charts.probe_heatmap(run.history.probe_step, run.history.probe_grad),
        charts.grad_norm_over_training(run.history, 1.0),
        charts.parameter_grad_bars(parameter_gradient_norms(run.model, x, y)),
        charts.singular_value_chart(spectra),
        charts.saliency_chart(tr.grad_x[0]),
    ]


def hidden_states_page(task: str, cell: str = "lstm"):
    run, x, y, tr = run_of(cell, task)
    states = tr.hidden[0][0]
    projection = pca(tr.hidden[0], components=3)
    return [charts.sequence_panel(run.task, x[0].numpy(), y[0].numpy(), tr.prediction[0]),
            charts.state_heatmap(states, "h"),
            charts.hidden_brush_chart(states, [0, 1, 2]),
            charts.state_heatmap(tr.cell[0][0], "c", None, colorbar_title="c_t"),
            charts.pca_trajectory(projection.projected[0], projection.explained, dims=2),
            charts.pca_trajectory(projection.projected[0], projection.explained, dims=3)]


def forecast_page():
    run, *_ = run_of("lstm", "sine")
    return [charts.forecast_chart(forecast_example(run.model, 20_000, 24, 40, tolerance=0.15))]


def text_page():
    run, *_ = run_of("lstm", "text", seq_len=16)
    corpus = load_corpus()[:400]
    reading = read_text(run.model, corpus)
    feature = next(iter(FEATURES.values()))
    values = feature.compute(corpus)
    scores = rank_units(reading.hidden, values, top=6)
    unit = scores[0].unit
    return [charts.text_activation_grid(corpus[:120], reading.hidden[:120, unit],
                                        reading.next_probs[:120], TASKS["text"].vocab,
                                        "text", prompt_length=10),
            charts.unit_ranking_chart(scores, feature.label, chosen=unit),
            charts.feature_and_unit(corpus, values, reading.hidden[:, unit], unit,
                                    feature.label)]


def sentiment_page():
    run, *_ = run_of("lstm", "sentiment", seq_len=24)
    reading = read_sentence(run.model, "the film was not good", run.config.seq_len)
    units = sentiment_units(run)
    best = units.best
    return [charts.sentence_decision_chart(reading.words, reading.p_positive, reading.known,
                                           "decision"),
            charts.unit_meaning_chart(reading.words, reading.hidden[:, best.unit],
                                      reading.meaning, reading.known, best.unit,
                                      best.correlation),
            charts.unit_ranking_chart(units.scores[:6], "sentiment", chosen=best.unit)]


def lesson_pages():
    """Each lesson's notes page with the labels pages/lessons.py gives its runs."""
    rnn20 = run_of("rnn", "adding", seq_len=20)[0]
    rnn50 = run_of("rnn", "adding", seq_len=50)[0]
    chance = rnn20.chance
    lengths = {"T = 20": rnn20, "T = 50": rnn50}
    lstm, gru = run_of("lstm", "adding")[0], run_of("gru", "adding")[0]
    profile = lambda run: run.history.probe_grad[-1]  # noqa: E731
    starts = {"identity": rnn20, "orthogonal": rnn50, "default": lstm}
    carrier = 1
    return {
        "recurrence": [charts.per_step_lines({"with its memory": rnn20.history.probe_grad[-1],
                                              "memory wiped before every step":
                                                  rnn20.history.probe_grad[0]},
                                             "error", "mean squared error",
                                             reference=("chance", chance.loss))],
        "vanishing": [charts.compare_loss_chart({k: r.history for k, r in lengths.items()},
                                                chance),
                      charts.compare_gradient_chart({k: profile(r) for k, r in lengths.items()})],
        "exploding": [charts.grad_norm_over_training(rnn20.history, None),
                      charts.grad_norm_over_training(rnn50.history, 1.0),
                      charts.compare_loss_chart({"no clipping": rnn20.history,
                                                 "clipping at 1": rnn50.history}, chance)],
        "lstm": [charts.unit_bars(np.linspace(-1, 1, 6), [carrier], "r", "r",
                                  f"unit {carrier}: carries it", (-1.05, 1.05)),
                 charts.unit_bars(np.linspace(0, 1, 6), [carrier], "f", "mean f_t",
                                  f"unit {carrier}", (0, 1.05))],
        "gru": [charts.parameter_count_chart({"LSTM": parameter_breakdown(lstm),
                                              "GRU": parameter_breakdown(gru)}),
                charts.compare_loss_chart({"LSTM": lstm.history, "GRU": gru.history}, chance)],
        "init": [charts.compare_gradient_chart({k: r.history.probe_grad[0]
                                                for k, r in starts.items()}),
                 charts.compare_loss_chart({k: r.history for k, r in starts.items()}, chance)],
        "negation": [charts.distance_accuracy_chart(
            {label: {"start": np.array([0, 4, 8]), "accuracy": np.array([0.9, 0.7, 0.6]),
                     "count": np.array([10, 10, 10])} for label in ("vanilla RNN", "LSTM")}, 4)],
        "overfitting": [charts.loss_curves(r.history, r.chance, r.task.metric_name,
                                           r.task.higher_is_better) for r in (lstm, gru)],
    }


@functools.cache
def pages() -> dict[str, list]:
    found = {"playground": playground_page(), "compare": compare_page(),
             "compare (sine)": compare_page("sine"),
             "gates lstm": gates_page("lstm"), "gates gru": gates_page("gru"),
             "gradients rnn adding": gradients_page("rnn", "adding"),
             "gradients lstm copy": gradients_page("lstm", "copy"),
             "gradients gru sine": gradients_page("gru", "sine"),
             "forecasting": forecast_page(), "text": text_page(), "sentiment": sentiment_page()}
    for task in ("sine", "adding", "copy", "parity", "text"):
        found[f"hidden states {task}"] = hidden_states_page(task)
    found.update({f"lesson {key}": figures for key, figures in lesson_pages().items()})
    return found


# ---------------------------------------------------------------- marks and their meanings

CELL_WORDS = {"rnn": "cell rnn", "lstm": "cell lstm", "gru": "cell gru"}
# the gates that keep memory and the candidates: one role each, so one colour each
GATE_ROLE = {"i": "gate i (input)", "f": "memory gate (LSTM f, GRU z)", "z":
             "memory gate (LSTM f, GRU z)", "g": "candidate (LSTM g, GRU n)",
             "n": "candidate (LSTM g, GRU n)", "o": "gate o (output)", "r": "gate r (reset)"}
RULES = [  # (pattern on the lower-cased legend name, meaning), first match wins
    (r"^(x \+ y = 1|chance|upper bound|c·ρ|σ = 1|clipping threshold|undecided|tolerance$)",
     "reference"),
    (r"^clipped|✗ wrong|^drifts out", "alarm"),
    (r"✓ correct", "prediction right"),
    (r"no target", "prediction without a target"),
    (r"^start", "path start"), (r"^end \(", "path end"), (r"^trajectory", "path line"),
    # the run's own measured series: its training loss is one (palette: MEASURED = TRAIN)
    (r"^(training|measured|total gradient norm|‖∂l/∂|overview)", "training / measured"),
    (r"^validation", "split validation"),
    (r"^(value|bit \(not marked\))$", "input that does not count"),
    (r"^(input(?! weights)|prompt|marked|words read)", "input"),
    (r"^(target|truth|label:|sentiment so far)", "target"),
    (r"^(prediction|forecast|one-step|\|forecast|predicted|p\(positive\))", "prediction"),
    (r"^last step's loss alone", "last step's loss alone"),
    (r"^other units", "other units"),
    (r"^(seed prompt|generated text)", "outline"),
]


def meaning_of(name: str) -> str:
    lowered = name.lower()
    if re.search(RULES[0][0], lowered):  # a reference line may name a cell ("a linear RNN")
        return RULES[0][1]
    gate = re.match(r"^([ifgorzn]) — ", lowered) or re.match(r"^layer \d+ · ([ifgorzn])\b",
                                                              lowered)
    if gate:
        return GATE_ROLE[gate.group(1)]
    words = "".join(c if c.isalnum() else " " for c in lowered).split()
    for cell, meaning in CELL_WORDS.items():
        if cell in words:
            return meaning
    length = re.search(r"\bt = (\d+)\b", lowered)
    if length and lowered.startswith("t ="):
        return f"length T = {length.group(1)}"
    for pattern, meaning in RULES:
        if re.search(pattern, lowered):
            return meaning
    unit = re.match(r"^unit (\d+)", lowered)
    if unit:
        return f"unit {unit.group(1)} (this chart)"
    return f"series “{name}” (this chart)"


def _hex(color) -> str | None:
    """'#abcdef' for a colour string (alpha dropped), None for white, transparent or not a
    single colour."""
    if not isinstance(color, str):
        return None
    rgba = re.match(r"rgba?\((\d+),\s*(\d+),\s*(\d+)(?:,\s*([\d.]+))?\)", color)
    if rgba:
        if rgba.group(4) is not None and float(rgba.group(4)) == 0:
            return None
        color = "#" + "".join(f"{int(rgba.group(k)):02X}" for k in (1, 2, 3))
    if not color.startswith("#"):
        return None
    color = color.upper()
    return None if color == "#FFFFFF" else color


def marks(figure) -> list[tuple[str, str]]:
    """``(meaning, colour)`` of every coloured mark: lines, markers and text of each trace
    (heatmaps and colour-scaled markers draw a scale, not a colour); bars coloured one by one
    take the meaning of the category they stand for."""
    if isinstance(figure, dict):
        figure = go.Figure(figure)
    if not isinstance(figure, go.Figure):  # altair: its mark colour and the unit colours
        spec = figure.to_dict()
        top, bottom = spec["vconcat"]
        found = [("training / measured", _hex(top["mark"]["color"]))]
        units = bottom["encoding"]["color"]
        found += [(f"unit {name.split()[-1]} (this chart)", _hex(color))
                  for name, color in zip(units["sort"], units["scale"]["range"])]
        return found
    found = []
    for mark in decode_plotly(figure.to_dict()["data"]):
        if mark["type"] in ("heatmap", "histogram2d"):
            continue
        name = str(mark.get("name") or "")
        meaning = meaning_of(name)
        colors = [mark.get("line", {}).get("color"), mark.get("textfont", {}).get("color")]
        marker = mark.get("marker", {}).get("color")
        if isinstance(marker, list) and mark["type"] == "bar":
            labels = mark["y"] if mark.get("orientation") == "h" else mark["x"]
            values = mark["x"] if mark.get("orientation") == "h" else mark["y"]
            for label, value, color in zip(labels, values, marker):
                if str(label).lower() in {v.lower() for v in LABELS.values()}:
                    found.append((meaning_of(str(label)), _hex(color)))
                else:  # one colour per sign: the diverging scale's ends
                    found.append(("positive" if value >= 0 else "negative", _hex(color)))
            continue
        if mark.get("marker", {}).get("colorscale") is None:
            colors.append(marker)
        found += [(meaning, _hex(c)) for c in colors if _hex(c)]
    return found


def page_colours(figures) -> dict[str, set[str]]:
    """colour -> the meanings it has on one page."""
    colours: dict[str, set[str]] = {}
    for figure in figures:
        for meaning, color in marks(figure):
            colours.setdefault(color, set()).add(meaning)
    return colours


IDENTITY = re.compile(r"^(cell |split |gate |memory gate|candidate|training / measured)")


# ---------------------------------------------------------------- the promises


@pytest.mark.parametrize("page", ["playground", "compare", "compare (sine)", "gates lstm",
                                  "gates gru", "gradients rnn adding", "gradients lstm copy",
                                  "gradients gru sine", "forecasting", "text", "sentiment",
                                  *(f"hidden states {t}" for t in ("sine", "adding", "copy",
                                                                    "parity", "text")),
                                  *(f"lesson {k}" for k in ("recurrence", "vanishing",
                                                            "exploding", "lstm", "gru", "init",
                                                            "negation", "overfitting"))])
def test_on_one_page_no_two_meanings_share_a_colour(page):
    clashes = {color: sorted(meanings) for color, meanings in page_colours(pages()[page]).items()
               if len(meanings) > 1}
    assert not clashes, f"{page}: {clashes}"


def test_an_identity_has_one_colour_everywhere_and_that_colour_means_nothing_else():
    """A cell, a split, a gate: the same colour on every chart of every page, a colour no
    other identity has, and not used for anything else on any page (outlines, never a data
    series, are the one exception: they may be drawn in ink)."""
    colours_of: dict[str, set[str]] = {}
    meanings_of: dict[str, set[str]] = {}
    for figures in pages().values():
        for meaning, color in (m for figure in figures for m in marks(figure)):
            colours_of.setdefault(meaning, set()).add(color)
            if meaning != "outline":
                meanings_of.setdefault(color, set()).add(meaning)
    identities = {m: c for m, c in colours_of.items() if IDENTITY.match(m)}
    expected = {"cell rnn", "cell lstm", "cell gru", "split validation", "training / measured",
                "gate i (input)", "memory gate (LSTM f, GRU z)", "candidate (LSTM g, GRU n)",
                "gate o (output)", "gate r (reset)"}
    assert set(identities) == expected  # every identity is drawn somewhere
    problems = []
    for meaning, colours in sorted(identities.items()):
        if len(colours) > 1:
            problems.append(f"{meaning} is drawn in {sorted(colours)}")
        for color in colours:
            if meanings_of[color] != {meaning}:
                problems.append(f"{color} means {sorted(meanings_of[color])}")
    assert not problems, "\n".join(sorted(set(problems)))


def test_sequence_lengths_keep_their_colour_across_charts():
    colours = {}
    for figures in pages().values():
        for meaning, color in (m for figure in figures for m in marks(figure)):
            if meaning.startswith("length"):
                colours.setdefault(meaning, set()).add(color)
    assert set(colours) == {"length T = 20", "length T = 50"}
    assert all(len(c) == 1 for c in colours.values()), colours
    assert colours["length T = 20"] != colours["length T = 50"]
    assert colours["length T = 50"] == {charts.length_color(50)}


def test_the_palette_table_is_what_the_charts_draw():
    colours_of = {}
    for figures in pages().values():
        for meaning, color in (m for figure in figures for m in marks(figure)):
            colours_of.setdefault(meaning, set()).add(color)
    expected = {
        "cell rnn": charts.CELL_COLORS["rnn"], "cell lstm": charts.CELL_COLORS["lstm"],
        "cell gru": charts.CELL_COLORS["gru"], "split validation": charts.VALIDATION_COLOR,
        "training / measured": charts.TRAIN_COLOR, "gate i (input)": charts.GATE_COLORS["i"],
        "memory gate (LSTM f, GRU z)": charts.GATE_COLORS["f"],
        "candidate (LSTM g, GRU n)": charts.GATE_COLORS["g"],
        "gate o (output)": charts.GATE_COLORS["o"], "gate r (reset)": charts.GATE_COLORS["r"],
        "target": charts.TARGET_COLOR, "prediction": charts.PREDICTION_COLOR,
        "prediction right": charts.RIGHT_COLOR, "alarm": charts.ALARM_COLOR,
        "reference": charts.REFERENCE_COLOR, "input": charts.INPUT_COLOR,
    }
    for meaning, color in expected.items():
        assert colours_of[meaning] == {color.upper()}, meaning
    assert charts.GATE_COLORS["f"] == charts.GATE_COLORS["z"]
    assert charts.GATE_COLORS["g"] == charts.GATE_COLORS["n"]
    # right and wrong are not the ends of the diverging scale (red positive, blue negative)
    from rnnviz.charts import palette
    assert {charts.RIGHT_COLOR, charts.WRONG_COLOR}.isdisjoint(
        {palette.POSITIVE_COLOR, palette.NEGATIVE_COLOR, palette.POSITIVE_SOFT,
         palette.NEGATIVE_SOFT})


def test_line_colours_have_contrast_on_white():
    """WCAG 2.1 non-text contrast (3:1) for every colour that draws a line or a marker's
    meaning; the faint inputs and the other units are meant to recede."""
    from rnnviz.charts import palette
    receding = {palette.INPUT_FAINT_COLOR, palette.OTHER_COLOR, palette.SINGLED_OUT_COLOR,
                palette.END_COLOR}  # the last two are always outlined in ink
    for meaning, color in palette.MEANINGS.items():
        if color not in receding:
            assert palette.contrast_on_white(color) >= 3.0, (meaning, color)
    for length in (5, 20, 50, 100, 200):  # the longest lengths come nearest Viridis' pale end
        assert palette.contrast_on_white(charts.length_color(length)) >= 2.8


def _lab(hex_color: str) -> np.ndarray:
    """CIELAB (D65) of an sRGB colour: distances in it are differences a reader sees."""
    rgb = np.array([int(hex_color[i: i + 2], 16) / 255 for i in (1, 3, 5)])
    rgb = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    xyz = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722],
                    [0.0193, 0.1192, 0.9505]]) @ rgb / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > 0.008856, np.cbrt(xyz), 7.787 * xyz + 16 / 116)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def test_identity_colours_and_compared_lengths_are_told_apart_at_a_glance():
    """Not only different hex codes: every two identity colours differ by a CIE76 ΔE of at
    least 20 (a difference seen at once; 2.3 is the least noticeable), and the two lengths a
    lesson compares by at least 40."""
    import itertools
    identities = {**{f"cell {c}": v for c, v in charts.CELL_COLORS.items()},
                  "training": charts.TRAIN_COLOR, "validation": charts.VALIDATION_COLOR,
                  **{f"gate {g}": v for g, v in charts.GATE_COLORS.items() if g not in "zn"}}
    for (a, first), (b, second) in itertools.combinations(identities.items(), 2):
        assert np.linalg.norm(_lab(first) - _lab(second)) >= 20, (a, b)
    assert np.linalg.norm(_lab(charts.length_color(20)) - _lab(charts.length_color(50))) >= 40
    # a lesson's variants share pages with the identities and the task roles
    from rnnviz.charts import palette
    roles = [palette.TARGET_COLOR, palette.PREDICTION_COLOR, palette.RIGHT_COLOR,
             palette.ALARM_COLOR, palette.REFERENCE_COLOR, palette.INPUT_COLOR,
             palette.POSITIVE_COLOR, palette.NEGATIVE_COLOR]
    for series in charts.SERIES_COLORS:
        for other in [*identities.values(), *roles]:
            assert np.linalg.norm(_lab(series) - _lab(other)) > 23, (series, other)


def test_path_start_and_end_have_the_same_markers_in_2d_and_3d():
    figures = pages()["hidden states sine"]
    two, three = figures[4], figures[5]

    def ends(fig):
        data = decode_plotly(fig.to_dict()["data"])
        return {t["name"].split(" ")[0]: (t["marker"]["symbol"], t["marker"]["color"])
                for t in data if t["name"].startswith(("start", "end"))}

    assert ends(two) == ends(three) == {
        "start": (charts.MARKERS["start"], charts.palette.START_COLOR),
        "end": (charts.MARKERS["end"], charts.palette.END_COLOR)}


def test_no_chart_module_spells_a_colour_outside_the_palette():
    """Every colour comes from rnnviz/charts/palette.py."""
    import ast
    from pathlib import Path
    literal = re.compile(r"^(#[0-9A-Fa-f]{3,8}|rgba?\(.*\))$")
    allowed: set = set()
    for path in Path(charts.__file__).parent.glob("*.py"):
        if path.name == "palette.py":
            continue
        text = path.read_text(encoding="utf-8")
        tree = ast.parse(text)
        spared = [range(f.lineno, f.end_lineno + 1) for f in ast.walk(tree)
                  if isinstance(f, ast.FunctionDef) and (path.name, f.name) in allowed]
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and \
                    literal.match(node.value.strip()):
                assert any(node.lineno in lines for lines in spared), (path.name, node.lineno,
                                                                       node.value)
        assert "px.colors" not in text and "colorway" not in text, path.name


def test_a_labelled_line_takes_the_colour_of_what_its_label_names():
    assert charts.series_color("GRU (seed 1)", 5) == charts.CELL_COLORS["gru"]
    assert charts.series_color("T = 50", 0) == charts.length_color(50)
    assert charts.series_color("anything", 1) == charts.SERIES_COLORS[1]

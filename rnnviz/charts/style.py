"""Figure builders: engine objects and numpy arrays in, plotly (and altair) figures out.

Pure functions, no Streamlit: a page calls ``st.plotly_chart(charts.state_heatmap(...))``.
Every figure speaks one visual language (after poloclub/cnn-explainer):

* colours come from ``rnnviz.charts.palette`` only: one colour per meaning (a cell, a gate, a
  split, a task role), the same on every chart, never two meanings on one page.
* signed quantities use one diverging scale, ``DIVERGING``, centred on zero; tanh states are
  fixed to [-1, 1]; sigmoid gates use the same scale on [0, 1] with its white midpoint at 0.5
  (the colorbar title says so). Unsigned magnitudes (log gradient norms, the time colouring of
  a trajectory) use the one sequential scale, ``SEQUENTIAL``.
* the time axis is always ``TIME_AXIS`` ("time step t") and starts at 0; hidden units are on
  the y axis, titled ``UNIT_AXIS``. A sequence panel and the heatmaps drawn under it span the
  same range (``_time_window``: at most ``TIME_WINDOW`` steps open at once).
* gradient magnitudes are drawn on log scales (log10 colour, log y axis); every log axis has
  the one format ``LOG_AXIS`` (labelled powers of ten at each decade, nothing else) over at
  least one whole decade (``log_axis``); zeros, which a log scale cannot show, are floored to
  the smallest positive value and the hover says so.
* every figure has a title, axis titles, hover text with the numbers, a fixed height and
  ``template="plotly_white"``; a legend under the plot whenever more than one trace is named.
  Plotly wraps neither titles nor legend entries: ``_base_layout`` breaks them at word
  boundaries (``TITLE_CHARS`` fit a 390 px phone) and fits the top margin to the lines
  (``set_title`` for a title changed later).
* long series are strided with ``downsample`` before drawing (true step numbers stay on the
  axis): at most ``MAX_LINE_POINTS`` points per line and ``MAX_HEATMAP_COLUMNS`` x
  ``MAX_HEATMAP_ROWS`` cells per heatmap.
"""

from __future__ import annotations

import functools
import math
import re

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio

from rnnviz.charts.palette import NOTE_COLOR, REFERENCE_COLOR

DIVERGING = "RdBu_r"  # the one scale for signed values: blue < 0 (or 0.5) < red
SEQUENTIAL = "Viridis"  # the one scale for unsigned magnitudes and for time order
TIME_AXIS = "time step t"
UNIT_AXIS = "hidden unit"
STEP_AXIS = "training step"
TEMPLATE = "plotly_white"

GATE_WORDS = {"i": "input gate", "f": "forget gate", "g": "candidate (cell input)",
              "o": "output gate", "r": "reset gate", "z": "update gate",
              "n": "candidate (new state)"}
TANH_GATES = frozenset({"g", "n"})  # the candidates; every other gate is a sigmoid

MAX_LINE_POINTS = 2000
MAX_HEATMAP_COLUMNS = 400
MAX_HEATMAP_ROWS = 256
MAX_BRUSH_UNITS = 12  # altair's default transformer refuses more than 5,000 rows
BRUSH_WIDTH_PX = 540  # vega-lite cannot stretch the views of a vconcat; fits a 700 px column
# steps visible at once on a sequence's time axis: a longer sequence opens on its first
# TIME_WINDOW steps (drag to pan), the sequence panel and the heatmaps under it alike
TIME_WINDOW = 100
# ... and the same plot area: margins that hold the heatmap's colour bar on the right and the
# panel's word ticks on the left, so step t is at the same pixel in both
TIME_MARGIN = dict(l=100, r=95)

HEIGHT = 380
MARGIN = dict(l=70, r=30, t=60, b=60)
# legends sit under the plot, where they never cover a title, however many lines it wraps to
LEGEND_BELOW = dict(orientation="h", yref="container", yanchor="bottom", y=0.01,
                    xanchor="left", x=0, xref="container")
LEGEND_RIGHT = dict(orientation="v", yanchor="top", y=1, xanchor="left", x=1.02)
LEGEND_WIDTH_PX = 520  # plot width assumed when estimating how many rows a legend wraps to
LEGEND_ROW_PX = 22
# titles: plotly never wraps them, so the layout breaks them at word boundaries; a line of
# TITLE_CHARS characters at TITLE_SIZE px fits a 390 px phone screen
TITLE_CHARS = 42
TITLE_SIZE = 16
TITLE_LINE_PX = 21
SUBTITLE_LINE_PX = 15
TITLE_PAD_PX = 12
AXIS_TITLE_CHARS = 40
LEGEND_CHARS = 40
# log axes: one format everywhere, labelled powers of ten (10⁻², 10⁻¹, 1, 10) at every decade
# and no other labels; ``_log_axis`` also spans at least one whole decade so two labels show
LOG_AXIS = dict(type="log", dtick=1, exponentformat="power", showexponent="all",
                minor=dict(ticks="", showgrid=False))
MAX_LOG_LABELS = 8


# ---------------------------------------------------------------- shared helpers


def downsample(n: int, max_points: int) -> np.ndarray:
    """Indices of at most ``max_points`` evenly spaced items out of ``n``, always including the
    first and the last (``np.arange(n)`` when ``n`` already fits)."""
    n, max_points = int(n), max(int(max_points), 1)
    if n <= 0:
        return np.zeros(0, dtype=np.int64)
    if n <= max_points:
        return np.arange(n, dtype=np.int64)
    if max_points == 1:
        return np.array([n - 1], dtype=np.int64)
    return np.unique(np.linspace(0, n - 1, max_points).round().astype(np.int64))


def _finite(values) -> np.ndarray:
    """float64 copy with inf replaced by NaN (drawn as a gap)."""
    values = np.array(values, dtype=np.float64)
    values[~np.isfinite(values)] = np.nan
    return values


def _log_safe(values) -> tuple[np.ndarray, np.ndarray, float]:
    """Values a log scale can draw: ``(drawn, floored, floor)``.

    Zeros and negatives are raised to ``floor``, the smallest positive finite value (1.0 when
    there is none), and flagged in ``floored`` so the hover can say "0"; NaN/inf become NaN.
    """
    values = _finite(values)
    positive = values[values > 0]
    floor = float(positive.min()) if positive.size else 1.0
    floored = values <= 0  # NaN compares False
    return np.where(floored, floor, values), floored, floor


def _log_axis_ok(*arrays) -> bool:
    """True when every finite value is > 0 and there is at least one (log axis possible)."""
    finite = np.concatenate([_finite(a).ravel() for a in arrays] or [np.zeros(0)])
    finite = finite[np.isfinite(finite)]
    return finite.size > 0 and bool((finite > 0).all())


def _legend_names(fig: go.Figure) -> list[str]:
    return [trace.name or "" for trace in fig.data if trace.showlegend is not False]


def _shown_legend_entries(fig: go.Figure) -> int:
    return len(_legend_names(fig))


def _legend_rows(fig: go.Figure) -> int:
    """Text lines a horizontal legend takes: plotly lays entries out in columns as wide as the
    widest entry (about 45 px of symbol and padding + 7 px per character), each row as tall
    as its entry of the most lines (a long entry is wrapped)."""
    names = _legend_names(fig)
    lines = [_BREAK.split(name) for name in names]
    widest = 45 + 7 * max((len(_visible(line)) for entry in lines for line in entry),
                          default=0)
    columns = max(1, LEGEND_WIDTH_PX // widest)
    return sum(max(len(entry) for entry in lines[start: start + columns])
               for start in range(0, len(lines), columns))


# ---------------------------------------------------------------- titles that wrap

_TAG = re.compile(r"<[^>]+>")
_BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)
_WHOLE = re.compile(r"^<(sup|sub|b|i)>(.*)</\1>$", re.DOTALL)


def _visible(text: str) -> str:
    """The characters a reader sees: plotly's pseudo-HTML tags take no room."""
    return _TAG.sub("", text).replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _fill(text: str, limit: int) -> list[str]:
    """Greedy word wrap of one line at ``limit`` visible characters; a word inside an open
    tag (``<b>t = 3</b>``) is never separated from the rest of the tag."""
    words, open_tags = [], 0
    for word in text.split(" "):
        if words and open_tags > 0:
            words[-1] += " " + word
        else:
            words.append(word)
        open_tags += len(re.findall(r"<(?!/|br)[a-z]+[^>]*>", word)) - word.count("</")

    def greedy(width: int) -> list[str]:
        lines: list[str] = []
        for word in words:
            if lines and len(_visible(lines[-1])) + 1 + len(_visible(word)) <= width:
                lines[-1] += " " + word
            else:
                lines.append(word)
        return lines or [""]

    lines = greedy(limit)
    # balanced: the narrowest width that needs no more lines, so that a title does not end
    # on one orphaned word ("Input saliency: ‖∂L/∂x_t‖ / at each time step")
    for width in range(max(1, len(_visible(text)) // len(lines)), limit):
        if len(greedy(width)) == len(lines):
            return greedy(width)
    return lines


def wrap_lines(text: str, limit: int = TITLE_CHARS) -> list[str]:
    """``text`` broken into lines of at most ``limit`` visible characters at word boundaries
    (a longer single word keeps its line), keeping the ``<br>`` already in it. A line that is
    one ``<sup>``…``</sup>`` (a subtitle, drawn smaller) takes a third more characters and
    each of its lines keeps the tag."""
    lines = []
    for segment in _BREAK.split(text or ""):
        whole = _WHOLE.match(segment.strip())
        if whole and "<" not in whole.group(2):
            tag, inner = whole.group(1), whole.group(2)
            small = tag in ("sup", "sub")
            lines += [f"<{tag}>{line}</{tag}>"
                      for line in _fill(inner, int(limit * 4 / 3) if small else limit)]
        else:
            lines += _fill(segment.strip(), limit)
    return lines


def wrap_text(text: str, limit: int = TITLE_CHARS) -> str:
    return "<br>".join(wrap_lines(text, limit))


def _is_subtitle(line: str) -> bool:
    return bool(re.match(r"^<(sup|sub)>", line))


def title_height(text: str) -> int:
    """Pixels the wrapped title takes from the top of the figure, its padding included."""
    lines = wrap_lines(text)
    return TITLE_PAD_PX + sum(SUBTITLE_LINE_PX if _is_subtitle(line) else TITLE_LINE_PX
                              for line in lines) + 10


def copy_figure(fig: go.Figure) -> go.Figure:
    """A copy of a figure a builder made, to change without changing ``fig``: its properties
    were validated when it was built, so they are copied without validating them again (2 ms
    for a gate heatmap, against 10 ms for ``go.Figure(fig)``; what is changed on the copy
    afterwards is not validated either). Used for figures built once and shown many times
    (``rnnviz.app.state.figures``)."""
    return assembled_figure(fig.to_dict())


@functools.cache
def template_dict() -> dict:
    """``TEMPLATE`` as plotly.js reads it: a figure that is not validated (``assembled_figure``)
    keeps a template's name as it is, and the browser knows no template by name. Read only."""
    return pio.templates[TEMPLATE].to_plotly_json()


def assembled_figure(figure: dict) -> go.Figure:
    """A figure of a dict put together from the dicts of figures the builders made (the live
    board), not validated again: Streamlit validates a dict it is given, every property, on
    every redraw (20-50 ms for the live board), and not a figure. Its template must be
    ``template_dict()``, not a name."""
    return go.Figure(figure, _validate=False)


def set_title(fig: go.Figure, text: str, *, min_top: int = 0) -> go.Figure:
    """Give ``fig`` the title ``text``, wrapped, and a top margin that fits its lines. Use it
    for a title changed after a builder made the figure (a lesson's own title)."""
    fig.update_layout(
        title=dict(text=wrap_text(text), x=0, xref="container", xanchor="left", y=1,
                   yref="container", yanchor="top", pad=dict(t=TITLE_PAD_PX, l=8),
                   font=dict(size=TITLE_SIZE)),
        margin=dict(t=max(title_height(text) + 8, min_top)))
    return fig


# ---------------------------------------------------------------- log axes


def _log_range(*arrays) -> list[float] | None:
    """``[low, high]`` in log10 units: whole decades around the finite positive values,
    at least one decade wide, so at least two powers of ten are labelled."""
    values = np.concatenate([_finite(a).ravel() for a in arrays] or [np.zeros(0)])
    values = values[np.isfinite(values) & (values > 0)]
    if not values.size:
        return None
    low = math.floor(math.log10(values.min()) + 1e-9)
    high = math.ceil(math.log10(values.max()) - 1e-9)
    if high <= low:
        high = low + 1
    return [low - 0.04, high + 0.04]  # a marker on a decade is not cut in half


def log_axis(*arrays) -> dict:
    """The one log-axis format (``LOG_AXIS``) with a range of whole decades around the values
    (plain dict: the live figure uses it too)."""
    axis = dict(LOG_AXIS)
    span = _log_range(*arrays)
    if span is not None:
        axis["range"] = span
        # a label at every power of ten, unless that is more than MAX_LOG_LABELS of them (a
        # vanished gradient spans 12 decades): then every second or third, still 10^k
        decades = round(span[1] - span[0])
        axis["dtick"] = max(1, math.ceil(decades / (MAX_LOG_LABELS - 1)))
    return axis


def _log_axis(fig: go.Figure, *arrays, axis: str = "y", **where) -> None:
    """Put ``fig``'s y (or x) axis on the one log format, spanning the given values."""
    update = fig.update_yaxes if axis == "y" else fig.update_xaxes
    update(**log_axis(*arrays), **where)


# ---------------------------------------------------------------- the layout


def colorbar_owners(fig: go.Figure) -> list:
    """The traces and markers of ``fig`` whose colour bar is drawn: a heatmap's unless hidden,
    a marker's only when shown."""
    owners = []
    for trace in fig.data:
        if "colorbar" in trace and trace.showscale is not False:
            owners.append(trace)
        marker = getattr(trace, "marker", None)
        if marker is not None and "colorbar" in marker and marker.showscale:
            owners.append(marker)
    return owners


def _base_layout(fig: go.Figure, title: str, *, x_title: str | None = None,
                 y_title: str | None = None, height: int = HEIGHT, legend: str = "below",
                 **layout) -> go.Figure:
    """The common look: template, a left-aligned title wrapped to fit a phone (the top margin
    grows with its lines), a legend under the plot (shown only when more than one trace has an
    entry; ``legend="right"`` beside it), axis titles wrapped alike, automatic margins."""
    for trace in fig.data:  # plotly never wraps a legend entry either: a long one is cut
        if trace.name and len(_visible(trace.name)) > LEGEND_CHARS and "<br>" not in trace.name:
            trace.name = wrap_text(trace.name, LEGEND_CHARS)
    showlegend = _shown_legend_entries(fig) > 1
    margin = dict(MARGIN)
    margin["t"] = max(title_height(title) + 8, 40)
    margin.update(layout.pop("margin", {}))
    if showlegend and legend == "below":  # under whatever the x axis needs
        margin["b"] += LEGEND_ROW_PX * _legend_rows(fig) + 8
    margin["t"] = max(margin["t"], title_height(title) + 8)  # never less than the title needs
    fig.update_layout(
        template=TEMPLATE, height=height, margin=margin,
        title=dict(text=wrap_text(title), x=0, xref="container", xanchor="left", y=1,
                   yref="container", yanchor="top", pad=dict(t=TITLE_PAD_PX, l=8),
                   font=dict(size=TITLE_SIZE)),
        showlegend=showlegend, legend=LEGEND_BELOW if legend == "below" else LEGEND_RIGHT,
        hoverlabel=dict(namelength=-1), **layout)
    # tick labels never reach past the figure (automargin makes room for the axes', the
    # colour bars sit inside it), so plotly need not measure each label to hide those that
    # would: it measured every label's box, a forced layout of the whole page each, on every
    # draw (issue 20: a rewind notch, the first live picture)
    fig.update_xaxes(automargin=True, ticklabeloverflow="allow")
    fig.update_yaxes(automargin=True, ticklabeloverflow="allow")
    for owner in colorbar_owners(fig):
        owner.colorbar.ticklabeloverflow = "allow"
    if x_title is not None:
        fig.update_xaxes(title_text=x_title)
    if y_title is not None:
        fig.update_yaxes(title_text=y_title)
    _wrap_axis_titles(fig)
    return fig


def _wrap_axis_titles(fig: go.Figure) -> None:
    for axis in [*fig.select_xaxes(), *fig.select_yaxes()]:
        text = axis.title.text
        if text and len(_visible(text)) > AXIS_TITLE_CHARS:
            axis.title.text = wrap_text(text, AXIS_TITLE_CHARS)
    scene = fig.layout.scene
    for axis in (scene.xaxis, scene.yaxis, scene.zaxis):
        if axis.title.text and len(_visible(axis.title.text)) > AXIS_TITLE_CHARS:
            axis.title.text = wrap_text(axis.title.text, AXIS_TITLE_CHARS)


def _integer_ticks(fig: go.Figure, count: int, start: int = 0) -> None:
    """Whole-number x ticks on a short index axis (plotly would otherwise tick at halves)."""
    if 0 < count <= 10:
        fig.update_xaxes(tick0=start, dtick=1)


def _message(fig: go.Figure, text: str, **where) -> None:
    """A grey note in the middle of the plot (or of one subplot's axes via xref/yref)."""
    where = where or dict(xref="paper", yref="paper", x=0.5, y=0.5)
    fig.add_annotation(text=text, showarrow=False, font=dict(size=15, color=NOTE_COLOR), **where)


def _reference_line(x0: float, x1: float, y: float, name: str, hover: str,
                    color: str = REFERENCE_COLOR, **kwargs) -> go.Scatter:
    """A horizontal dashed line as a trace (so it has a legend entry and a hover)."""
    return go.Scatter(x=[x0, x1], y=[y, y], mode="lines", name=name,
                      line=dict(color=color, dash="dash", width=1.5),
                      hovertemplate=hover + "<extra></extra>", **kwargs)


def _heatmap(z: np.ndarray, x: np.ndarray, y: np.ndarray, *, colorscale: str, zmin: float,
             zmax: float, zmid: float | None, colorbar_title: str, hovertemplate: str,
             customdata: np.ndarray | None = None) -> go.Heatmap:
    """A heatmap trace with the house colorbar (titled, beside the plot)."""
    return go.Heatmap(z=z, x=x, y=y, colorscale=colorscale, zmin=zmin, zmax=zmax, zmid=zmid,
                      customdata=customdata, hovertemplate=hovertemplate + "<extra></extra>",
                      colorbar=dict(title=dict(text=colorbar_title, side="top"),
                                    thickness=14, len=0.9))


def _heatmap_height(rows: int) -> int:
    return int(np.clip(150 + 5 * rows, 300, 560))


def _units_by_time(states: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``[T, H]`` -> ``(z [units, steps], t, units)``, strided to the heatmap caps."""
    states = np.asarray(states, dtype=np.float64)
    if states.ndim == 1:
        states = states[:, None]
    t = downsample(states.shape[0], MAX_HEATMAP_COLUMNS)
    units = downsample(states.shape[1], MAX_HEATMAP_ROWS)
    return states[np.ix_(t, units)].T, t, units


def _units_heatmap(states: np.ndarray, title: str, zrange: tuple[float, float] | None,
                   colorbar_title: str, value_name: str) -> go.Figure:
    """Units x time heatmap on the diverging scale, centred on the middle of ``zrange`` (or on
    0 with a symmetric range fitted to the data when ``zrange`` is None)."""
    z, t, units = _units_by_time(states)
    if zrange is None:
        finite = np.abs(z[np.isfinite(z)])
        bound = float(finite.max()) if finite.size and finite.max() > 0 else 1.0
        zmin, zmax = -bound, bound
    else:
        zmin, zmax = float(zrange[0]), float(zrange[1])
    trace = _heatmap(_finite(z), t, units, colorscale=DIVERGING, zmin=zmin, zmax=zmax,
                     zmid=(zmin + zmax) / 2, colorbar_title=colorbar_title,
                     hovertemplate=f"{TIME_AXIS} = %{{x}}<br>unit %{{y}}<br>"
                                   f"{value_name} = %{{z:.3f}}")
    fig = go.Figure(trace)
    _base_layout(fig, title, x_title=TIME_AXIS, y_title=UNIT_AXIS,
                 height=_heatmap_height(len(units)))
    fig.update_yaxes(autorange="reversed")  # unit 0 on top, as in a matrix
    _integer_ticks(fig, len(t))
    _time_window(fig, states.shape[0] if np.ndim(states) > 1 else len(states))
    return fig


def _softmax(logits: np.ndarray) -> np.ndarray:
    logits = np.asarray(logits, dtype=np.float64)
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


def _time_window(fig: go.Figure, steps: int) -> None:
    """One time axis for a sequence: every figure drawn over its ``steps`` (the sequence
    panel, the heatmaps under it) spans the same range, ``-0.5`` to ``steps - 0.5``, in the
    same plot area (``TIME_MARGIN``). A
    sequence longer than TIME_WINDOW opens on its first TIME_WINDOW steps, and dragging pans
    along time (a range slider would redraw every label in miniature, which reads as noise)."""
    visible = min(int(steps), TIME_WINDOW)
    fig.update_xaxes(range=[-0.5, max(visible, 1) - 0.5])
    fig.update_layout(margin=TIME_MARGIN)
    if steps > TIME_WINDOW:
        fig.update_xaxes(title_text=wrap_text(f"{TIME_AXIS} (showing 0–{visible - 1} of "
                                              f"{steps}: drag sideways to scroll)",
                                              AXIS_TITLE_CHARS))
        fig.update_yaxes(fixedrange=True)
        fig.update_layout(dragmode="pan")

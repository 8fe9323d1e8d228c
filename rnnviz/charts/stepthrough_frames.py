"""Where the Step-through figures put things, by pixels, and how their frames play
(``rnnviz.charts.stepthrough`` draws the panels). Plotly places a panel, a button or a slider
by fractions of the plot area; the figures here have a fixed height, so a pixel is a known
fraction and every part gets its own rows: the title (at classroom size), then the player's
buttons, then its slider on a row of its own (beside the buttons they covered the slider on a
phone), then the panels, one under the other, each with its title above it. The equations are
one annotation per frame, broken between their parts at ``EQUATION_UNITS`` characters, which a
390 px phone shows whole.
"""

from __future__ import annotations

import math
import re

import numpy as np
import plotly.graph_objects as go

from rnnviz.charts.palette import ARROW_COLOR, HIGHLIGHT, TRANSPARENT
from rnnviz.charts.style import (
    DIVERGING,
    LEGEND_BELOW,
    UNIT_AXIS,
    _base_layout,
    _finite,
    _legend_rows,
    _visible,
    wrap_text,
)

MAX_STRIP_TEXT = 12  # strips with at most this many cells print their values (half a page)
FRAME_MS = 120  # one time step per 0.12 s when playing: about 8 steps a second
# colour axis of each kind of strip: signed states (tanh range), sigmoid gates, gradients
_STRIP_AXES = {"input": "coloraxis", "state": "coloraxis", "gate": "coloraxis2",
               "gradient": "coloraxis3", "cell": "coloraxis4"}
_STRIP_PX, _TITLE_PX = 30, 26  # a strip, the room for a panel title above it
_AXIS_PX = 44  # under a panel with an x axis: its tick labels and axis title
_EQ_FONT, _EQ_LINE_PX = 13, 19  # the equations' font and the height of one of their lines
EQUATION_UNITS = 40  # characters per equation line (a subscript counts 0.7): fits 390 px
_TITLE_LINE_PX, _SUB_LINE_PX = 27, 19  # a title line at classroom size (20 px), a <sup> line
_BUTTONS_PX, _SLIDER_PX = 34, 62  # the player: Play/Pause, and the slider under them
_MARGIN = dict(l=48, r=24, b=56)
_BAR_PX = 52  # a flat colour bar, its ticks and its title
_SMALL = re.compile(r"<(sub|sup)>(.*?)</\1>")


def _units(text: str) -> float:
    """How wide ``text`` is drawn, in characters of the font: sub- and superscripts are drawn
    at 70%, tags take no room."""
    small = sum(len(_visible(m.group(2))) for m in _SMALL.finditer(text))
    return len(_visible(text)) - 0.3 * small


def equation_lines(parts: list[str], units: float = EQUATION_UNITS) -> list[str]:
    """One equation's parts (the symbolic form, then each "= ..." step) joined into lines of at
    most ``units`` characters; a line after the first is indented."""
    lines = [parts[0]]
    for part in parts[1:]:
        if _units(lines[-1]) + 1 + _units(part) <= units:
            lines[-1] += " " + part
        else:
            lines.append("\u00a0\u00a0\u00a0\u00a0" + part)
    return lines


def _equations(heading: str, equations: list[list[str]], top: float, plot_px: float
               ) -> tuple[dict, float]:
    """The annotation of a block of equations under ``heading`` and the pixels it takes."""
    lines = [heading] + [line for parts in equations
                                     for line in equation_lines(parts)]
    return dict(text="<br>".join(lines), xref="paper", yref="paper", x=0, y=1 - top / plot_px,
                xanchor="left", yanchor="top", align="left", showarrow=False,
                font=dict(size=_EQ_FONT)), len(lines) * _EQ_LINE_PX


def _panel(fig: go.Figure, number: int, top: float, height: float, plot_px: float,
           title: str | None = None) -> dict | None:
    """Axes ``number`` across the whole width, ``height`` px from ``top`` px below the plot's
    top edge; the annotation of its title above it."""
    suffix = "" if number == 1 else str(number)
    fig.update_layout({f"xaxis{suffix}": dict(domain=[0, 1], anchor=f"y{suffix}"),
                       f"yaxis{suffix}": dict(domain=[1 - (top + height) / plot_px,
                                                      1 - top / plot_px],
                                              anchor=f"x{suffix}")})
    if title is None:
        return None
    return dict(text=title, xref="paper", yref="paper", x=0, y=1 - top / plot_px,
                xanchor="left", yanchor="bottom", showarrow=False, font=dict(size=13))


def _strip_traces(fig: go.Figure, rows, first: int, unit: int | None) -> list[int]:
    """One heatmap per strip on axes ``first``, ``first + 1``, ... (values come with each
    step); their trace indices."""
    indices, layout, shapes = [], {}, []
    for position, (label, values, kind) in enumerate(rows):
        suffix = str(first + position)
        size = np.size(values)
        indices.append(len(fig.data))
        fig.add_trace(go.Heatmap(
            z=np.zeros((1, size)), x=np.arange(size), y=[""], coloraxis=_STRIP_AXES[kind],
            xgap=2, showlegend=False, textfont=dict(size=11), xaxis=f"x{suffix}",
            yaxis=f"y{suffix}", texttemplate="%{text}" if size <= MAX_STRIP_TEXT else None,
            hovertemplate=f"{label}<br>index %{{x}}<br>value %{{z:.4g}}<extra></extra>"))
        if unit is not None and kind != "input" and 0 <= unit < size:
            shapes.append(dict(type="rect", x0=unit - 0.5, x1=unit + 0.5, y0=-0.5, y1=0.5,
                               xref=f"x{suffix}", yref=f"y{suffix}",
                               line=dict(color=HIGHLIGHT, width=2)))
        last = position == len(rows) - 1
        layout[f"xaxis{suffix}"] = dict(showticklabels=last, dtick=1 if size <= 16 else 5,
                                        title_text=UNIT_AXIS if last else None)
        layout[f"yaxis{suffix}"] = dict(showticklabels=False, fixedrange=True)
    fig.update_layout(layout, shapes=list(fig.layout.shapes) + shapes)
    return indices


def _strips(fig: go.Figure, rows, first: int, top: float, plot_px: float,
            unit: int | None) -> tuple[list[int], list[dict]]:
    """The strips stacked from ``top``: their trace indices and title annotations."""
    titles = [_panel(fig, first + k, top + _TITLE_PX + k * (_STRIP_PX + _TITLE_PX), _STRIP_PX,
                     plot_px, label) for k, (label, _, _) in enumerate(rows)]
    return _strip_traces(fig, rows, first, unit), titles


def _strips_px(rows, bars: int = 0) -> float:
    """The strips with their titles, the last one's axis, and ``bars`` colour bars under it."""
    return len(rows) * (_STRIP_PX + _TITLE_PX) + _AXIS_PX + bars * _BAR_PX


def _strip_update(values: np.ndarray, exponent: int = 0) -> dict:
    values = _finite(values).reshape(-1)
    text = None
    if values.size <= MAX_STRIP_TEXT:
        text = [[f"{v / 10.0 ** exponent:.2f}" if math.isfinite(v) else "–" for v in values]]
    return dict(type="heatmap", z=values[None, :], text=text)


def _color_axes(state_bound: float, kinds: set[str], top: float, plot_px: float,
                cell_bound: float = 1.0) -> dict:
    """The strips' colour scales, fixed for every step: signed states (and inputs), the
    LSTM's memory cell (not squashed: its own range), sigmoid gates (white at 0.5), gradients.
    The bars of those shown lie flat, one a row from ``top`` px: upright beside the strips they
    took a phone's width from the strips' titles, and covered them."""
    scales = {"state": ("coloraxis", -state_bound, state_bound, "value: white = 0"),
              "cell": ("coloraxis4", -cell_bound, cell_bound, "c<sub>t</sub>: white = 0"),
              "gate": ("coloraxis2", 0.0, 1.0, "gate: white = 0.5"),
              "gradient": ("coloraxis3", -1.0, 1.0, "∂L/∂h: white = 0")}
    shown = [kind for kind in scales if kind in kinds]
    axes = {}
    for kind, (axis, low, high, title) in scales.items():
        place = shown.index(kind) if kind in shown else 0
        axes[axis] = dict(
            colorscale=DIVERGING, cmin=low, cmax=high, cmid=(low + high) / 2,
            showscale=kind in shown, colorbar=dict(
                title=dict(text=title, side="right"), orientation="h", thickness=10, x=0,
                xanchor="left", len=0.55, y=1 - (top + place * _BAR_PX) / plot_px,
                yanchor="top", exponentformat="power", ypad=0))
    return axes


def _bars(kinds: set[str]) -> int:
    return len({"state", "cell", "gate", "gradient"} & kinds)


def _title(text: str, k: int, subtitle: str) -> str:
    """The figure's title at step ``k``: it says the step, so that it moves with Play."""
    title = wrap_text(f"{text}, t = {k}")
    return title + (f"<br><sup>{subtitle}</sup>" if subtitle else "")


def _top_px(title: str) -> float:
    """The top margin: the title at classroom size, then the player (buttons, then slider)."""
    lines = title.split("<br>")
    words = sum(_SUB_LINE_PX if line.startswith("<sup>") else _TITLE_LINE_PX
                for line in lines)
    return 12 + words + 8 + _BUTTONS_PX + _SLIDER_PX + 8


def _animate(fig: go.Figure, steps: int, t: int, at_step, backward: bool, top_px: float,
             plot_px: float) -> None:
    """Frames ``"0"`` … ``"T-1"`` from ``at_step(k) -> (traces, indices, layout)``, the figure
    itself showing step ``t``, and the player under the title: Play walks forward (backward:
    from the last step to the first) at FRAME_MS per step from where it stands; the slider,
    on its own row under the buttons, jumps. The slider prints no value: the title says t."""
    traces, indices, layout = at_step(t)  # validated here, as the figure's own step t
    for index, trace in zip(indices, traces):
        fig.data[index].update({k: v for k, v in trace.items() if k != "type"})
    fig.update_layout(**layout)
    fig.frames = [dict(name=str(k), data=data, traces=indices, layout=layout)  # made once
                  for k in range(steps) for data, _, layout in [at_step(k)]]
    still = dict(frame=dict(duration=0, redraw=True), transition=dict(duration=0),
                 mode="immediate")
    play = dict(still, frame=dict(duration=FRAME_MS, redraw=True), fromcurrent=True,
                direction="reverse" if backward else "forward")
    labels = steps <= 20  # more step labels than that overlap
    above = _BUTTONS_PX + _SLIDER_PX + 8  # from the plot's top edge up to the buttons' top
    fig.update_layout(
        updatemenus=[dict(
            type="buttons", direction="left", showactive=False, x=0, xanchor="left",
            y=1 + above / plot_px, yanchor="top", pad=dict(t=0, b=0, l=0, r=0),
            font=dict(size=13),
            buttons=[dict(label="▶ Play", method="animate", args=[None, play]),
                     dict(label="❚❚ Pause", method="animate", args=[[None], still])])],
        sliders=[dict(
            active=t, x=0, len=1, xanchor="left", y=1 + (_SLIDER_PX + 8) / plot_px,
            yanchor="top", pad=dict(t=0, b=0, l=0, r=0), ticklen=4,
            font=dict(size=11, color=ARROW_COLOR if labels else TRANSPARENT),
            currentvalue=dict(visible=False),
            steps=[dict(label=str(k), method="animate", args=[[str(k)], still])
                   for k in range(steps)])])


def _layout(fig: go.Figure, title: str, plot_px: float, top_px: float) -> go.Figure:
    """The house look, with room above for the title and the player (in view where the figure
    starts) and below for the last axis and the legend."""
    fig.update_xaxes(automargin=False)
    fig.update_yaxes(automargin=False)
    fig = _base_layout(fig, title)
    fig.update_yaxes(automargin=False)  # a grown margin would move every pixel placed here
    legend_px = 22 * _legend_rows(fig) + 10 if fig.layout.showlegend else 0
    return fig.update_layout(
        height=int(top_px + plot_px + _MARGIN["b"] + legend_px),
        margin=dict(_MARGIN, t=top_px, b=_MARGIN["b"] + legend_px), legend=LEGEND_BELOW)

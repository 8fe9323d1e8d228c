"""The live inside view: the figures the Playground redraws while a run trains, from the
newest snapshot's ``InsideView`` and the history's probe rows. Compact (a 2 x 2 grid that fits
a 1280 x 720 projector under the loss curve), built from the same builders as the inside pages,
so a learner sees the same pictures live and afterwards."""

from __future__ import annotations

import plotly.graph_objects as go

from rnnviz.charts.gradients import gradient_profile, probe_heatmap
from rnnviz.charts.inside import gate_heatmap, state_heatmap
from rnnviz.charts.palette import CELL_NAMES, REFERENCE_COLOR
from rnnviz.charts.style import (
    TITLE_PAD_PX,
    TITLE_SIZE,
    set_title,
    template_dict,
    title_height,
    wrap_text,
)
from rnnviz.studies.inside import InsideView

LIVE_HEIGHT = 300
LIVE_MARGIN = dict(l=60, r=20, t=60, b=50)


def _compact(fig: go.Figure, title: str) -> go.Figure:
    """The builder's figure, shorter, with its own title (wrapped, the top margin fitted) and
    the room its legend needs below."""
    bottom = max(LIVE_MARGIN["b"], fig.layout.margin.b or 0) if fig.layout.showlegend else \
        LIVE_MARGIN["b"]
    fig.update_layout(height=LIVE_HEIGHT, margin=dict(LIVE_MARGIN, b=bottom))
    return set_title(fig, title)


def live_figures(view: InsideView, probe_step, probe_grad) -> list[tuple[str, go.Figure]]:
    """``(key, figure)`` pairs: hidden states, the memory gate (LSTM f, GRU z; none for a
    vanilla RNN), ||dL/dh_t|| over t on a log axis, and the gradient over training so far."""
    at = f"step {view.step}"
    figures = [("live_hidden", _compact(state_heatmap(view.hidden, "h_t"),
                                        f"Hidden states h_t, example 0, {at}"))]
    gate = view.memory_gate
    if gate is not None and gate in view.gates:
        figure = gate_heatmap(view.gates[gate], gate, view.cell)
        figures.append(("live_gate", _compact(
            figure, f"{CELL_NAMES.get(view.cell, view.cell)} {gate} gate, {at}")))
    figures.append(("live_profile", _compact(
        gradient_profile(view.grad_h, None), f"‖∂L/∂h_t‖ of example 0, {at} (log)")))
    figures.append(("live_probe", _compact(
        probe_heatmap(probe_step, probe_grad), "Gradient over training, so far")))
    return figures


# ---------------------------------------------------------------- the board: one figure

# heights in pixels of the board's parts (the width is the page's)
BOARD_TOP_PX, BOARD_BOTTOM_PX = 48, 56
BOARD_LOSS_PX, BOARD_PANEL_PX = 210, 240
AFTER_LOSS_PX = 128  # its tick labels and axis title, the legend, the next row's titles
BETWEEN_ROWS_PX = 96  # tick labels and axis title, the next row's titles
PANEL_GAP = 0.27  # of the width between two columns: a colour bar and the next y axis


def _axis_suffix(index: int) -> str:
    return "" if index == 1 else str(index)


def _rows(count: int, columns: int) -> list[list[int]]:
    return [list(range(start, min(start + columns, count)))
            for start in range(0, count, columns)]


def live_board(panels: list[tuple[str, dict]], loss: dict | None, step: int, title: str,
               columns: int = 2, panel_title_px: int = 13) -> dict:
    """The live view as ONE plotly figure (a plain dict): the loss curve across the top (when
    given, ``live_loss_figure``'s dict) and the inside panels (``live_figures``, as
    ``to_plotly_json`` dicts) in ``columns`` columns, under one title that names ``step``.

    One figure because the browser draws one figure at once: drawn as separate charts, a busy
    browser finished some redraws before others and showed hidden states from one snapshot
    beside a gate from an older one. Assembling dicts costs milliseconds, so the board can be
    rebuilt for every redraw from panels built once per snapshot. ``panel_title_px``: the
    panels' titles (larger on a projector)."""
    rows = _rows(len(panels), columns)
    # one column is a phone's: the loss's legend wraps onto a line per entry there
    after_loss = AFTER_LOSS_PX + (40 if columns == 1 else 0)
    parts = ([BOARD_LOSS_PX, after_loss] if loss is not None else []) + [
        px for index in range(len(rows)) for px in
        ([BOARD_PANEL_PX] + ([BETWEEN_ROWS_PX] if index < len(rows) - 1 else []))]
    plot_px = sum(parts)
    # the first row's panel titles sit above its plots: room for them under the board's
    top = max(BOARD_TOP_PX, title_height(title) + 8) + (0 if loss is not None else 26)
    height = top + plot_px + BOARD_BOTTOM_PX

    def band(top_px: float, size_px: float) -> list[float]:  # paper y, from the top
        return [round(1 - (top_px + size_px) / plot_px, 4), round(1 - top_px / plot_px, 4)]

    width = (1 - PANEL_GAP * (columns - 1)) / columns
    layout = {"template": template_dict(), "height": height, "showlegend": loss is not None,
              "margin": {"l": 64, "r": 72, "t": top, "b": BOARD_BOTTOM_PX},
              "title": {"text": wrap_text(title), "x": 0, "xref": "container", "xanchor": "left",
                        "y": 1, "yref": "container", "yanchor": "top",
                        "pad": {"t": TITLE_PAD_PX, "l": 8}, "font": {"size": TITLE_SIZE}},
              "hoverlabel": {"namelength": -1}, "annotations": [], "shapes": []}
    data: list[dict] = []
    top_px, axis = 0.0, 0
    if loss is not None:
        axis = 1
        y_band = band(0, BOARD_LOSS_PX)
        layout["xaxis"] = {**loss["layout"]["xaxis"], "domain": [0, 1], "anchor": "y"}
        layout["yaxis"] = {**loss["layout"]["yaxis"], "domain": y_band, "anchor": "x"}
        data += loss["data"]
        layout["legend"] = {"orientation": "h", "x": 0, "xanchor": "left", "yanchor": "top",
                            "y": y_band[0] - 58 / plot_px}
        layout["shapes"].append({"type": "line", "xref": "x", "yref": "y domain", "x0": step,
                                 "x1": step, "y0": 0, "y1": 1,
                                 "line": {"color": REFERENCE_COLOR, "dash": "dot", "width": 1}})
        layout["annotations"].append({"text": f"inside: step {step}", "xref": "x",
                                      "yref": "y domain", "x": step, "y": 1, "showarrow": False,
                                      "xanchor": "right", "yanchor": "top",
                                      "font": {"size": 11, "color": REFERENCE_COLOR}})
        top_px = BOARD_LOSS_PX + after_loss
    for row in rows:
        y_band = band(top_px, BOARD_PANEL_PX)
        for column, index in enumerate(row):
            name, figure = panels[index]
            axis += 1
            suffix = _axis_suffix(axis)
            left = column * (width + PANEL_GAP)
            x_band = [round(left, 4), round(left + width, 4)]
            source = figure["layout"]
            layout[f"xaxis{suffix}"] = {**source.get("xaxis", {}), "domain": x_band,
                                        "anchor": f"y{suffix}"}
            layout[f"yaxis{suffix}"] = {**source.get("yaxis", {}), "domain": y_band,
                                        "anchor": f"x{suffix}"}
            for trace in figure["data"]:
                trace = {**trace, "xaxis": f"x{suffix}", "yaxis": f"y{suffix}",
                         "showlegend": False}
                if "colorbar" in trace:  # beside its own panel, as tall as it
                    trace["colorbar"] = {**trace["colorbar"], "x": x_band[1] + 0.01,
                                         "xanchor": "left", "y": y_band[0],
                                         "yanchor": "bottom", "len": 0.62 * (
                                             y_band[1] - y_band[0]), "thickness": 10}
                data.append(trace)
            panel_title = ((source.get("title") or {}).get("text") or name)
            layout["annotations"].append({
                "text": panel_title, "xref": "paper", "yref": "paper", "x": x_band[0],
                "y": y_band[1] + 8 / plot_px, "xanchor": "left", "yanchor": "bottom",
                "align": "left", "showarrow": False, "font": {"size": panel_title_px}})
        top_px += BOARD_PANEL_PX + BETWEEN_ROWS_PX
    # The margins above fit the board's axes at every size it is drawn at (its screenshots),
    # so plotly is not asked to grow them: with automargin it drew the whole board again
    # after measuring every label (issue 20: 190-210 ms from the chart's arrival to the
    # drawn board in Chromium, 105-130 ms without).
    for name, axis in layout.items():
        if name.startswith(("xaxis", "yaxis")):
            layout[name] = {**axis, "automargin": False}
    return {"data": data, "layout": layout}

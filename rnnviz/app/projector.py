"""Figures at projector size, for classroom mode (``classroom.projector_figure``).

plotly draws legends, ticks and colour bars in SVG and places them by the sizes it drew, so a
projector's sizes go into the figures themselves, not into CSS. Every text a reader must read
from the back of a room (axis ticks and titles, legends, colour bars) gets one size.
"""

from __future__ import annotations

from rnnviz.charts.style import colorbar_owners

FIGURE_FONT_PX = 17  # titles of axes and colour bars, legends
TICK_FONT_PX = 16  # tick labels of axes and colour bars


def sized(figure):
    """A plotly (or altair) figure with its legend, axis ticks and axis titles, and its colour
    bars' ticks and titles, at projector size.

    A colour bar is read like an axis (the heatmaps' values are only known through it), so it
    gets the axes' sizes (issue 20: its 12 px ticks beside 16 px axes). Its title goes on its
    side: plotly fits a bar's length to the plot after a title on top, and a larger title on
    top squeezed the bar until its tick labels overlapped."""
    if hasattr(figure, "configure_axis"):  # an altair chart (the brushed unit lines)
        return (figure.configure_axis(labelFontSize=TICK_FONT_PX, titleFontSize=FIGURE_FONT_PX)
                .configure_legend(labelFontSize=TICK_FONT_PX, titleFontSize=FIGURE_FONT_PX)
                .configure_title(fontSize=FIGURE_FONT_PX + 1))
    if isinstance(figure, dict):  # a plain figure dict (the live view's): a new one
        return _projector_dict(figure)
    if not hasattr(figure, "to_plotly_json"):
        return figure
    figure.update_layout(legend_font_size=FIGURE_FONT_PX, title_font_size=FIGURE_FONT_PX + 3)
    figure.update_xaxes(tickfont_size=TICK_FONT_PX, title_font_size=FIGURE_FONT_PX)
    figure.update_yaxes(tickfont_size=TICK_FONT_PX, title_font_size=FIGURE_FONT_PX)
    for owner in colorbar_owners(figure):
        owner.colorbar = _projector_colorbar(owner.colorbar.to_plotly_json())
    for name in figure.layout:
        if name.startswith("coloraxis") and figure.layout[name].colorbar is not None:
            figure.layout[name].colorbar = _projector_colorbar(
                figure.layout[name].colorbar.to_plotly_json())
    return figure


def _projector_colorbar(colorbar: dict) -> dict:
    """A colour bar (as a dict) with the axes' tick size and its title, if any, at the axes'
    title size on the bar's right side, reading upwards."""
    sized = {**colorbar, "tickfont": {**colorbar.get("tickfont", {}), "size": TICK_FONT_PX}}
    title = colorbar.get("title")
    if title and (title.get("text") if isinstance(title, dict) else title):
        sized["title"] = {**_sized(title, FIGURE_FONT_PX), "side": "right"}
    return sized


def _sized(part, size: int) -> dict:
    """A title (a string or a dict) or a font holder with its font at ``size``."""
    part = {"text": part} if isinstance(part, str) else dict(part or {})
    return {**part, "font": {**part.get("font", {}), "size": size}}


def _projector_dict(figure: dict) -> dict:
    """``sized`` for a plain figure dict, without touching the one given (the live
    view's figures are cached for every session watching the job)."""
    layout = dict(figure.get("layout", {}))
    layout["legend"] = _sized(layout.get("legend"), FIGURE_FONT_PX)
    if layout.get("title"):
        layout["title"] = _sized(layout["title"], FIGURE_FONT_PX + 3)
    for name, axis in list(layout.items()):
        if name.startswith(("xaxis", "yaxis")) and isinstance(axis, dict):
            layout[name] = {**axis, "tickfont": {**axis.get("tickfont", {}),
                                                 "size": TICK_FONT_PX}}
            if axis.get("title"):
                layout[name]["title"] = _sized(axis["title"], FIGURE_FONT_PX)
        elif name.startswith("coloraxis") and isinstance(axis, dict) and "colorbar" in axis:
            layout[name] = {**axis, "colorbar": _projector_colorbar(axis["colorbar"])}
    data = []
    for trace in figure.get("data", []):
        trace = dict(trace)
        if isinstance(trace.get("colorbar"), dict):
            trace["colorbar"] = _projector_colorbar(trace["colorbar"])
        marker = trace.get("marker")
        if isinstance(marker, dict) and isinstance(marker.get("colorbar"), dict):
            trace["marker"] = {**marker, "colorbar": _projector_colorbar(marker["colorbar"])}
        data.append(trace)
    return {**figure, "layout": layout, "data": data}

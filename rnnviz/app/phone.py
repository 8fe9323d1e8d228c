"""Two small scripts for what a narrow window (or a projector's larger text) does to the page,
added to every page by app.py.

* **The sidebar closes after a page link.** Streamlit 1.67 closes it only when the browser's
  user agent is a phone's (``deviceType === "mobile"``); a narrow window of any browser gets the
  open sidebar over the page, so it is closed there too, once the link's click is handled.
* **Legends go below the plot where they would cover the title.** The figures put a
  horizontal legend above the plot with room for as many rows as it needs at desk width and
  plotly's font size; at 390 px, or with classroom mode's larger legend text in a half-width
  column, it wraps to more rows and runs into the title. Where the drawn legend overlaps the
  drawn title, it moves under the x axis and the margins follow (plotly's own ``relayout``,
  redone after each redraw of the figure); everywhere else the figure is left as it is.
"""

from __future__ import annotations

import streamlit as st

NARROW = "(max-width: 640px)"  # where Streamlit stacks columns: a phone held upright
SIDEBAR_OVERLAYS = "(max-width: 768px)"  # Streamlit's "md" breakpoint

SCRIPTS = """<script>
if (!window.rnnvizPhone) {
  window.rnnvizPhone = true;
  document.addEventListener("click", (event) => {
    if (!event.target.closest("[data-testid='stSidebarNavLink']")
        || !window.matchMedia("SIDEBAR_OVERLAYS").matches) return;
    setTimeout(() => {
      const sidebar = document.querySelector("[data-testid='stSidebar']");
      const close = document.querySelector("[data-testid='stSidebarCollapseButton'] button");
      if (sidebar && sidebar.getAttribute("data-collapsed") !== "true" && close) close.click();
    }, 100);
  }, true);
  const legendBelow = (el) => {
    const full = el._fullLayout, legend = full && full.legend;
    if (!window.Plotly || !legend || !full.showlegend || legend.orientation !== "h"
        || legend.y < 1 || !legend._height) return;
    const title = el.querySelector(".gtitle"), drawn = el.querySelector(".legend");
    if (!title || !drawn
        || drawn.getBoundingClientRect().top >= title.getBoundingClientRect().bottom) return;
    const height = legend._height, margin = full.margin;
    window.Plotly.relayout(el, {"legend.y": -66 / full._size.h, "legend.yanchor": "top",
      "margin.t": Math.max(margin.t - height, 50)});  // plotly widens the bottom margin itself
  };
  const hook = () => document.querySelectorAll(".js-plotly-plot").forEach((el) => {
    if (el.rnnvizHooked || !el.on) return;
    el.rnnvizHooked = true;
    el.on("plotly_afterplot", () => legendBelow(el));
    legendBelow(el);
  });
  new MutationObserver(hook).observe(document.body, {childList: true, subtree: true});
}
</script>""".replace("SIDEBAR_OVERLAYS", SIDEBAR_OVERLAYS)


def scripts() -> None:
    """Both scripts, once per page (in the sidebar: no gap in the page)."""
    st.sidebar.html(SCRIPTS, unsafe_allow_javascript=True)

"""A small script for a narrow window, added to every page by app.py: **the sidebar closes
after a page link.** Streamlit 1.67 closes it only when the browser's user agent is a phone's
(``deviceType === "mobile"``); a narrow window of any browser gets the open sidebar over the
page, so it is closed there too, once the link's click is handled. (Legends need no script:
every figure puts its legend under the plot, ``charts.style.LEGEND_BELOW``.)
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
}
</script>""".replace("SIDEBAR_OVERLAYS", SIDEBAR_OVERLAYS)


def scripts() -> None:
    """The script, once per page (in the sidebar: no gap in the page)."""
    st.sidebar.html(SCRIPTS, unsafe_allow_javascript=True)

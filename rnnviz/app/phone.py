"""A small script for a narrow window, added to every page by app.py.

- **The sidebar closes after a page link.** Streamlit 1.67 closes it only when the browser's
  user agent is a phone's (``deviceType === "mobile"``); a narrow window of any browser gets the
  open sidebar over the page, so it is closed there too, once the link's click is handled.
- **A display equation or a chart too wide for the window can be reached with the keyboard.**
  It scrolls sideways (a phone cannot show Gates' state update, or the Text page's character
  grid, whole; a chart scrolls in a container keyed ``scroll_x_...``), and a scrolling region
  must take the focus (axe's scrollable-region-focusable); one that fits is left alone.

Legends need no script: every figure puts its legend under the plot
(``charts.style.LEGEND_BELOW``).
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
  // a display equation, or a chart in a box keyed scroll_x_..., wider than a phone scrolls
  // sideways: a keyboard must reach it too (axe's scrollable-region-focusable), so one that
  // overflows takes the focus
  let pending = false;
  const mark = () => {
    pending = false;
    document.querySelectorAll(".katex-display, [class*='st-key-scroll_x_']").forEach((el) => {
      const scrolls = el.scrollWidth > el.clientWidth + 1;
      if (scrolls && !el.hasAttribute("tabindex")) {
        el.tabIndex = 0;
        el.setAttribute("role", "region");
        el.setAttribute("aria-label", el.classList.contains("katex-display")
          ? "Equation, scrolls sideways" : "Chart, scrolls sideways");
      } else if (!scrolls && el.getAttribute("role") === "region") {
        el.removeAttribute("tabindex");
        el.removeAttribute("role");
        el.removeAttribute("aria-label");
      }
    });
  };
  const later = () => { if (!pending) { pending = true; requestAnimationFrame(mark); } };
  new MutationObserver(later).observe(document.body, {childList: true, subtree: true});
  window.addEventListener("resize", later);
}
</script>""".replace("SIDEBAR_OVERLAYS", SIDEBAR_OVERLAYS)


def scripts() -> None:
    """The script, once per page (in the sidebar: no gap in the page)."""
    st.sidebar.html(SCRIPTS, unsafe_allow_javascript=True)

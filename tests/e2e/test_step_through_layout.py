"""Step through at a desk (1400×900), on a projector in classroom mode (1280×720) and on a phone
(390×844), in Chromium: one time control. The figure's title, its pictures and the equations
with their numbers are in the same plotly frame, so while ▶ Play runs, and after Pause, they
all say the same t (the equations used to be Streamlit markdown that said t = 0 while the
animation played t = 41). And nothing covers anything: the title, Play, Pause, the slider,
every panel title, the equations and the colour bars have boxes that do not meet, and none is
cut at the window's right edge (the slider's "t = 41" sat on the title, Play and Pause on the
slider, "x_t: the input" on the unit readout, and the equations ran off a phone)."""

from __future__ import annotations

import re

import pytest

from .harness import (
    EXCEPTION,
    open_page,
    settle,
    sidebar_collapsed,
    sized_tab,
    train_at_size,
    wait_until_drawn,
)

QUERY = "cell=lstm&seq_len=40&hidden_size=8&steps=60&eval_every=10&probe_every=10"

# the drawn figure (the one visible, with frames), and the boxes of what it drew, in pixels
PARTS = r"""() => {
    const plot = Array.from(document.querySelectorAll('.js-plotly-plot')).find(
        el => ((el._transitionData || {})._frames || []).length && el.checkVisibility());
    if (!plot) return null;
    const box = el => { const r = el.getBoundingClientRect();
        return {left: r.left, right: r.right, top: r.top, bottom: r.bottom}; };
    const parts = [];
    const add = (name, el) => { const b = box(el);
        if (b.right - b.left > 0 && b.bottom - b.top > 0) parts.push({name, ...b}); };
    plot.querySelectorAll('.gtitle').forEach(el => add('title: ' + el.textContent, el));
    plot.querySelectorAll('.updatemenu-button').forEach(
        el => add('button ' + el.textContent, el));
    plot.querySelectorAll('.slider-container').forEach(el => add('slider', el));
    plot.querySelectorAll('.annotation').forEach(el => add('text: ' + el.textContent, el));
    plot.querySelectorAll('.colorbar').forEach(el => add('colour bar', el));
    const layout = plot._fullLayout;
    // the step the picture shows as drawn (the layout runs ahead of the drawing while a frame
    // redraws): the "now" marker's drawn point (backward, d3's data bound to it), or the
    // outlined column's drawn path mapped back through the time axis (forward)
    let picture = null;
    plot.querySelectorAll('.scatterlayer .trace').forEach(el => {
        const cd = el.__data__;
        if (cd && cd[0] && (cd[0].trace.name || '').startsWith('now')) picture = cd[0].x;
    });
    if (picture === null) {
        const path = Array.from(plot.querySelectorAll('.shapelayer path')).find(
            el => parseFloat(el.style.strokeWidth) === 3);
        if (path) {
            const xs = path.getAttribute('d').match(/[-\d.]+/g).map(Number)
                .filter((_, i) => i % 2 === 0);
            const axis = layout.xaxis;
            const middle = (Math.min(...xs) + Math.max(...xs)) / 2 - axis._offset;
            picture = Math.round(axis.p2d(middle));
        }
    }
    return {parts, figure: box(plot), width: window.innerWidth, picture,
            frame: layout._currentFrame || null, active: layout.sliders[0].active};
}"""


NEXT_FRAME = """(last) => Array.from(document.querySelectorAll('.js-plotly-plot')).some(
    el => ((el._transitionData || {})._frames || []).length && el.checkVisibility()
          && el._fullLayout._currentFrame != null && el._fullLayout._currentFrame !== last)"""


def _overlaps(parts: list[dict]) -> list[str]:
    """Pairs of boxes that share more than a pixel each way."""
    found = []
    for i, a in enumerate(parts):
        for b in parts[i + 1:]:
            width = min(a["right"], b["right"]) - max(a["left"], b["left"])
            height = min(a["bottom"], b["bottom"]) - max(a["top"], b["top"])
            if width > 1 and height > 1:
                found.append(f"{a['name'][:50]!r} over {b['name'][:50]!r}")
    return found


def _steps_said(parts: list[dict]) -> dict[str, int]:
    """The step each part that names one says: the title, the first panel's head, the
    equations' heading."""
    said = {}
    for part in parts:
        for key, pattern in (("title", r"^title: .*through time, t = (\d+)"),
                             ("head", r"^text: t = (\d+):"),
                             ("equations", r"^text: The (?:equations at|step back to) t = (\d+)")):
            match = re.search(pattern, part["name"])
            if match:
                said[key] = int(match.group(1))
    return said


def _open_step_through(page, url: str, size: str) -> None:
    train_at_size(page, url, QUERY, size)
    if sidebar_collapsed(page):
        page.locator("[data-testid='stExpandSidebarButton']").first.click()
        page.wait_for_timeout(400)
    open_page(page, "Step through")
    wait_until_drawn(page, at_least=1, heading="Step through time")


def _check_layout(page, where: str) -> dict:
    page.locator(".js-plotly-plot").first.scroll_into_view_if_needed()
    drawn = page.evaluate(PARTS)
    assert drawn is not None, f"{where}: no animated figure"
    parts = drawn["parts"]
    names = [p["name"] for p in parts]
    assert any(n.startswith("text: The equations at") or n.startswith("text: The step back")
               for n in names), f"{where}: the equations are not in the animated figure"
    assert "slider" in names and any(n.startswith("title: ") for n in names), names
    assert sum(n.startswith("button") for n in names) == 2, names
    assert _overlaps(parts) == [], f"{where}: {_overlaps(parts)}"
    right = min(drawn["figure"]["right"], drawn["width"])
    cut = [p["name"][:50] for p in parts if p["right"] > right + 1 or p["left"] < -1]
    assert cut == [], f"{where}: cut at the edge: {cut}"
    return drawn


def _same_step_while_playing(page, where: str, samples: int = 6) -> list[int]:
    """Play; then, each time the walk has moved on, the title, the panel head, the equations
    and the picture (its outlined step, or the backward walk's marker) say the same t. Pause;
    they still agree, and with the slider."""
    page.locator(".updatemenu-button", has_text="Play").first.click()
    seen, last = [], page.evaluate(PARTS)["frame"]
    for _ in range(samples):  # each time the walk has moved on
        page.wait_for_function(NEXT_FRAME, arg=last, timeout=60_000, polling=50)
        drawn = page.evaluate(PARTS)
        last = drawn["frame"]
        said = _steps_said(drawn["parts"])
        assert set(said) == {"title", "head", "equations"}, f"{where}: {said}"
        seen.append(said["title"])
        # what is drawn agrees: the title, the head and the equations say one t; plotly draws
        # a frame's shapes a tick before its texts, so the picture may be that one step ahead
        assert len(set(said.values())) == 1, f"{where}: {said}"
        assert abs(drawn["picture"] - said["title"]) <= 1, f"{where}: {said}, {drawn}"
    page.locator(".updatemenu-button", has_text="Pause").first.click()
    page.wait_for_function("""() => Array.from(document.querySelectorAll('.js-plotly-plot'))
        .filter(el => ((el._transitionData || {})._frames || []).length)
        .every(el => !el._transitionData._animationRaf)""", timeout=30_000)
    drawn = page.evaluate(PARTS)
    said = _steps_said(drawn["parts"])
    assert set(said.values()) == {drawn["picture"], drawn["active"]}, \
        f"{where}: after Pause {said}, picture at {drawn['picture']}, slider at {drawn['active']}"
    return seen


@pytest.mark.parametrize("size", ["desktop", "classroom", "phone"])
def test_one_time_control_and_no_overlap(browser, server_url, size):
    with sized_tab(browser, size) as page:
        _open_step_through(page, server_url, size)
        _check_layout(page, f"{size} forward")
        seen = _same_step_while_playing(page, f"{size} forward")
        assert len(set(seen)) >= 2 and seen == sorted(seen), seen  # it walked, forward
        _check_layout(page, f"{size} forward, paused")
        page.get_by_role("radio", name="Backward").click()
        settle(page)
        wait_until_drawn(page, at_least=1)
        _check_layout(page, f"{size} backward")
        seen = _same_step_while_playing(page, f"{size} backward")
        assert len(set(seen)) >= 2 and seen == sorted(seen, reverse=True), seen
        _check_layout(page, f"{size} backward, paused")
        assert page.locator(EXCEPTION).count() == 0
        assert [p for p in page.problems if p != "page error: undefined"] == []

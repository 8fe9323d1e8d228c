"""The Gates page while the Training step slider replays training (issue 20, item 5: "the Example
controls appear twice").

Streamlit places an element by its path in the page (its container and its index there). The
browser keeps the element it drew at a path until the run that replaces it ends: when a run puts
something new before the Example controls (the old Replay timer did, only while playing), the
controls move one place down, and for the length of a run the page shows them twice, the old
ones stale in their old place. So the controls, and every chart, must keep their place whether
or not Replay is on; AppTest reads each element's path from the page's tree, as the browser
receives it."""

from __future__ import annotations

from streamlit.testing.v1.element_tree import Block

from rnnviz.app import rewind
from tests.apptest import TINY, open_app, press, set_widgets, wait_for_run


def _paths(node, path=()) -> dict[str, tuple]:
    """Every keyed element's (or a chart's) path in the page: ``key -> (index, index, ...)``."""
    found = {}
    children = getattr(node, "children", {})
    for index, child in children.items():
        here = (*path, index)
        key = getattr(child, "key", None)
        if child.type == "plotly_chart":
            key = child.proto.id.split("-", 2)[-1]
        if key and not isinstance(child, Block):
            found[key] = here
        found.update(_paths(child, here))
    return found


def _open_gates(steps: int = 60):
    """The Gates page of a trained LSTM (``steps``: another config is another run; the server
    shares a trained run with every session that trains the same config)."""
    at = open_app()
    at.switch_page("pages/playground.py").run()
    set_widgets(at, **{**TINY, "cell": "lstm", "steps": steps, "probe_every": 20})
    press(at, "Train")
    wait_for_run(at)
    at.switch_page("pages/gates.py").run()
    assert not at.exception
    return at


def test_the_example_controls_are_drawn_once_and_keep_their_place_during_replay():
    at = _open_gates()
    still = _paths(at.main)
    assert [s.key for s in at.get("slider")].count("example") == 1
    next(b for b in at.button if b.key == "train_step_play").click().run()
    assert not at.exception
    assert at.session_state[rewind.PLAYING]
    playing = _paths(at.main)
    assert [s.key for s in at.get("slider")].count("example") == 1
    # the Example controls and every chart: the same place, played or not (while it plays a
    # bar stands in the slider's place and says the step: see rewind._controls)
    for key in ("example", "new_examples", "gate_i", "gate_f", "gate_means"):
        assert key in still, (key, sorted(still))
        assert playing.get(key) == still[key], (key, still[key], playing.get(key))


def _in_order(node) -> list[tuple[str, str | None]]:
    """Every element of the page, depth first (the order a reader meets them): (type, key)."""
    out = []
    for child in getattr(node, "children", {}).values():
        if isinstance(child, Block):
            out.extend(_in_order(child))
        else:
            key = (child.proto.id.split("-", 2)[-1] if child.type == "plotly_chart"
                   else getattr(child, "key", None))
            out.append((child.type, key))
    return out


def test_the_gate_heatmaps_come_right_after_the_controls():
    """Nothing long between the slider and the heatmaps it drives: the words about the forget
    gate and each gate's equation come after them (the browser test measures the fold)."""
    at = _open_gates()
    order = _in_order(at.main)
    keys = [key for _, key in order]
    slider, heatmap = keys.index(rewind.STEP), keys.index("gate_i")
    assert slider < keys.index("example") < heatmap
    between = [kind for kind, _ in order[slider:heatmap]]
    assert not {"success", "latex", "markdown"} & set(between), between


def test_gates_and_hidden_states_trace_without_jacobians_and_draw_the_same_numbers():
    """Gates and Hidden states draw no Jacobian norm, so their trace skips the SVD per step
    (most of a rewind notch's server time); what they draw must be what the whole trace says."""
    import numpy as np

    from rnnviz.app import state
    from rnnviz.core.trace import trace

    at = _open_gates(steps=80)  # a run no other test's pages have traced
    run = at.session_state[state.RUN]
    batch_id = 0  # the run's probe batch: no "New examples" pressed
    light = run.cache[("trace-light", batch_id)]
    assert ("trace", batch_id) not in run.cache
    assert light[0].jacobian_norm == []
    whole = trace(run.model, light[1], light[2])
    assert whole.jacobian_norm  # the oracle has them: the light trace left them out
    for name, values in whole.gates[0].items():
        np.testing.assert_array_equal(light[0].gates[0][name], values)
    np.testing.assert_array_equal(light[0].hidden[0], whole.hidden[0])
    at.switch_page("pages/hidden_states.py").run()
    assert not at.exception
    assert ("trace", batch_id) not in run.cache
    at.switch_page("pages/gradients.py").run()  # it draws them: the whole trace
    assert not at.exception
    assert run.cache[("trace", batch_id)][0].jacobian_norm

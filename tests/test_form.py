"""The Playground's form shows a field only where it applies: the copy lag for the copy task,
sine noise for the sine task, marked bits for parity, the nonlinearity for a vanilla RNN, the
forget-gate bias for an LSTM (AppTest)."""

from tests.apptest import open_app, set_widgets

SPECIFIC = {"lag", "noise", "marked_bits", "nonlinearity", "forget_bias"}


def _fields(at) -> set[str]:
    return {w.key for kind in ("slider", "number_input", "selectbox") for w in at.get(kind)
            if w.key in SPECIFIC}


def test_the_defaults_show_no_field_of_another_task_or_cell():
    at = open_app()
    at.switch_page("pages/playground.py").run()
    assert _fields(at) == {"forget_bias"}  # adding problem, LSTM


def test_choosing_a_task_or_a_cell_shows_its_fields():
    at = open_app()
    at.switch_page("pages/playground.py").run()
    for task, field in (("copy", "lag"), ("sine", "noise"), ("parity", "marked_bits")):
        set_widgets(at, task=task)
        assert not at.exception
        assert _fields(at) == {field, "forget_bias"}, task
    set_widgets(at, cell="rnn")
    assert _fields(at) == {"marked_bits", "nonlinearity"}
    set_widgets(at, cell="gru")
    assert _fields(at) == {"marked_bits"}


def test_a_link_with_a_task_field_opens_it():
    at = open_app({"task": "copy", "lag": "7"})
    at.switch_page("pages/playground.py").run()
    lag = next(w for w in at.slider if w.key == "lag")
    assert lag.value == 7


def test_choices_read_as_names_and_the_link_keeps_the_codes():
    """The form shows "Adding problem" and "LSTM", as Compare does, not "adding" and "lstm";
    the page's address keeps the codes a link is read back with (issue 20, item 9)."""
    at = open_app()
    at.switch_page("pages/playground.py").run()
    task = next(w for w in at.selectbox if w.key == "task")
    cell = next(w for w in at.selectbox if w.key == "cell")
    assert "Adding problem" in task.options
    assert "adding" not in task.options and task.value == "adding"
    assert cell.options == ["Vanilla RNN", "LSTM", "GRU"]
    set_widgets(at, task="copy", cell="gru")
    assert not at.exception
    assert (at.query_params["task"], at.query_params["cell"]) in (("copy", "gru"),
                                                                  (["copy"], ["gru"]))
    set_widgets(at, cell="lstm")  # back to the default: out of the link
    assert "cell" not in at.query_params

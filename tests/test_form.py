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

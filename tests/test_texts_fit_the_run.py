"""Captions that depend on the run's task and cell (AppTest): the saliency caption speaks of the
adding problem only on the adding problem, and the Playground points a vanilla RNN's learner at
why it has no gates."""

from tests.apptest import TINY, open_app, press, set_widgets, wait_for_run


def _trained(**config):
    at = open_app()
    at.switch_page("pages/playground.py").run()
    set_widgets(at, **{**TINY, **config})
    press(at, "Train")
    wait_for_run(at)
    at.run()
    return at


def test_the_saliency_caption_fits_the_task():
    at = _trained(task="sine")
    at.switch_page("pages/gradients.py").run()
    captions = " ".join(c.value for c in at.caption)
    assert "Input saliency" in captions and "adding problem" not in captions
    at = _trained(task="adding")
    at.switch_page("pages/gradients.py").run()
    assert "For the adding problem" in " ".join(c.value for c in at.caption)


def _link_labels(at) -> str:
    """The labels of the page's links to other pages."""
    return " ".join(link.proto.label for link in at.get("page_link"))


def test_the_playground_speaks_of_gates_the_cell_has():
    # real links to the inside pages, not bold words
    labels = _link_labels(_trained(cell="rnn"))
    assert "Gates: why a vanilla RNN has none" in labels and "keeps" not in labels
    assert "Hidden states" in labels and "Gradients" in labels
    assert "Gates: what it keeps and forgets" in _link_labels(_trained(cell="gru"))
